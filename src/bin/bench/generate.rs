//! The benchmark's input: a deterministic Singer stream of 14 columns (text, integer, number,
//! boolean, date-time with and without offset, date, a nested object, a string array) and the
//! same rows as CSV for the raw COPY, from one generator.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::args::Options;

pub fn stream_name(stream: usize) -> String {
    format!("bench-stream_{stream}")
}

pub fn table_name(stream: usize) -> String {
    format!("stream_{stream}")
}

/// A small deterministic generator (64-bit LCG), so every run loads the same rows.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SCHEMA_PROPERTIES: &str = r#"{"id":{"type":"integer"},"name":{"type":["null","string"]},"email":{"type":["null","string"]},"age":{"type":["null","integer"]},"score":{"type":["null","number"]},"active":{"type":["null","boolean"]},"created_at":{"type":["null","string"],"format":"date-time"},"birth_date":{"type":["null","string"],"format":"date"},"balance":{"type":["null","number"]},"tags":{"type":["null","array"],"items":{"type":"string"}},"address":{"type":["null","object"],"properties":{"street":{"type":"string"},"city":{"type":"string"},"zip":{"type":"string"}}},"notes":{"type":["null","string"]},"rating":{"type":["null","number"]},"updated_at":{"type":["null","string"],"format":"date-time"}}"#;

/// The non-key columns, for the raw merge.
pub const VALUE_COLUMNS: &[&str] = &[
    "name",
    "email",
    "age",
    "score",
    "active",
    "created_at",
    "birth_date",
    "balance",
    "tags",
    "address",
    "notes",
    "rating",
    "updated_at",
];

const CITIES: &[&str] = &["Berlin", "Lisbon", "Osaka", "Quito", "Nairobi", "Oslo"];
const TAGS: &[&str] = &["new", "vip", "churned", "beta", "trial"];

pub fn generate(options: &Options, input: &Path, csv_dir: &Path) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    let mut jsonl = BufWriter::new(std::fs::File::create(input).map_err(io)?);
    let mut csvs = (0..options.streams)
        .map(|s| {
            std::fs::File::create(csv_dir.join(format!("{s}.csv")))
                .map(BufWriter::new)
                .map_err(io)
        })
        .collect::<Result<Vec<_>, _>>()?;
    for stream in 0..options.streams {
        writeln!(
            jsonl,
            r#"{{"type":"SCHEMA","stream":"{}","schema":{{"type":"object","properties":{SCHEMA_PROPERTIES}}},"key_properties":["id"]}}"#,
            stream_name(stream)
        )
        .map_err(io)?;
    }
    let mut rng = Lcg(42);
    let mut json = String::with_capacity(1024);
    let mut csv = String::with_capacity(1024);
    for i in 0..options.rows {
        let stream = i % options.streams;
        let id = i / options.streams + 1;
        let age = 18 + rng.below(70);
        let score = format!("{}.{:04}", rng.below(1000), rng.below(10000));
        let active = rng.below(2) == 1;
        let created = format!(
            "2024-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            1 + rng.below(12),
            1 + rng.below(28),
            rng.below(24),
            rng.below(60),
            rng.below(60),
            rng.below(1_000_000)
        );
        let birth = format!(
            "{}-{:02}-{:02}",
            1950 + rng.below(55),
            1 + rng.below(12),
            1 + rng.below(28)
        );
        let balance = format!("{}.{:02}", rng.below(1_000_000_000), rng.below(100));
        let tags: Vec<&str> = (0..rng.below(4))
            .map(|_| TAGS[rng.below(TAGS.len() as u64) as usize])
            .collect();
        let city = CITIES[rng.below(CITIES.len() as u64) as usize];
        let street = format!("{} Main St", rng.below(9999));
        let zip = format!("{:05}", rng.below(100_000));
        let notes = format!("note {i}: \"quoted\" and, comma");
        let rating = format!("{}.{}", rng.below(5), rng.below(10));
        let updated = format!(
            "2024-06-{:02}T{:02}:{:02}:00+02:00",
            1 + rng.below(28),
            rng.below(24),
            rng.below(60)
        );
        let name = format!("name-{}", rng.below(1_000_000));
        let email = format!("user{id}@example.com");

        json.clear();
        let tags_json = serde_json::to_string(&tags).map_err(|e| e.to_string())?;
        let address_json = format!(r#"{{"street":"{street}","city":"{city}","zip":"{zip}"}}"#);
        let _ = write!(
            json,
            r#"{{"type":"RECORD","stream":"{}","record":{{"id":{id},"name":"{name}","email":"{email}","age":{age},"score":{score},"active":{active},"created_at":"{created}","birth_date":"{birth}","balance":{balance},"tags":{tags_json},"address":{address_json},"notes":{},"rating":{rating},"updated_at":"{updated}"}}}}"#,
            stream_name(stream),
            serde_json::to_string(&notes).map_err(|e| e.to_string())?,
        );
        writeln!(jsonl, "{json}").map_err(io)?;

        csv.clear();
        let tags_array = format!(
            "{{{}}}",
            tags.iter()
                .map(|t| format!("\"{t}\""))
                .collect::<Vec<_>>()
                .join(",")
        );
        let fields = [
            id.to_string(),
            name,
            email,
            age.to_string(),
            score,
            active.to_string(),
            created,
            birth,
            balance,
            tags_array,
            address_json,
            notes,
            rating,
            updated,
        ];
        for (n, field) in fields.iter().enumerate() {
            if n > 0 {
                csv.push(',');
            }
            csv.push('"');
            csv.push_str(&field.replace('"', "\"\""));
            csv.push('"');
        }
        writeln!(csvs[stream], "{csv}").map_err(io)?;
    }
    writeln!(
        jsonl,
        r#"{{"type":"STATE","value":{{"rows":{}}}}}"#,
        options.rows
    )
    .map_err(io)?;
    jsonl.flush().map_err(io)?;
    for mut file in csvs {
        file.flush().map_err(io)?;
    }
    Ok(())
}
