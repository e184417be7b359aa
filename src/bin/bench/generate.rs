//! The benchmark's input: a deterministic Singer stream of 14 columns (text, integer, number,
//! boolean, date-time with and without offset, date, a nested object, a string array) and the
//! same rows as CSV for the raw COPY, from one generator.

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
    for i in 0..options.rows {
        let stream = i % options.streams;
        let row = Row::next(&mut rng, i, i / options.streams + 1);
        writeln!(jsonl, "{}", row.json_line(stream)?).map_err(io)?;
        writeln!(csvs[stream], "{}", row.csv_line()).map_err(io)?;
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

/// One generated row, its values as the text both formats write.
struct Row {
    id: usize,
    name: String,
    email: String,
    age: u64,
    score: String,
    active: bool,
    created: String,
    birth: String,
    balance: String,
    tags: Vec<&'static str>,
    address_json: String,
    notes: String,
    rating: String,
    updated: String,
}

impl Row {
    /// Row `i` (key `id`). The generator is drawn from in a fixed order, which fixes the data:
    /// reordering the draws would change every benchmark input.
    fn next(rng: &mut Lcg, i: usize, id: usize) -> Row {
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
        let tags = (0..rng.below(4))
            .map(|_| TAGS[rng.below(TAGS.len() as u64) as usize])
            .collect();
        let city = CITIES[rng.below(CITIES.len() as u64) as usize];
        let street = format!("{} Main St", rng.below(9999));
        let zip = format!("{:05}", rng.below(100_000));
        let rating = format!("{}.{}", rng.below(5), rng.below(10));
        let updated = format!(
            "2024-06-{:02}T{:02}:{:02}:00+02:00",
            1 + rng.below(28),
            rng.below(24),
            rng.below(60)
        );
        Row {
            id,
            name: format!("name-{}", rng.below(1_000_000)),
            email: format!("user{id}@example.com"),
            age,
            score,
            active,
            created,
            birth,
            balance,
            tags,
            address_json: format!(r#"{{"street":"{street}","city":"{city}","zip":"{zip}"}}"#),
            notes: format!("note {i}: \"quoted\" and, comma"),
            rating,
            updated,
        }
    }

    /// The Singer RECORD message, `record` last (scripts/peers/records.py relies on it).
    fn json_line(&self, stream: usize) -> Result<String, String> {
        let tags = serde_json::to_string(&self.tags).map_err(|e| e.to_string())?;
        let notes = serde_json::to_string(&self.notes).map_err(|e| e.to_string())?;
        let Row {
            id,
            name,
            email,
            age,
            score,
            active,
            created,
            birth,
            balance,
            address_json,
            rating,
            updated,
            ..
        } = self;
        Ok(format!(
            r#"{{"type":"RECORD","stream":"{}","record":{{"id":{id},"name":"{name}","email":"{email}","age":{age},"score":{score},"active":{active},"created_at":"{created}","birth_date":"{birth}","balance":{balance},"tags":{tags},"address":{address_json},"notes":{notes},"rating":{rating},"updated_at":"{updated}"}}}}"#,
            stream_name(stream),
        ))
    }

    /// The same values as a CSV line for PostgreSQL's parser, every field quoted.
    fn csv_line(&self) -> String {
        let tags_array = format!(
            "{{{}}}",
            self.tags
                .iter()
                .map(|t| format!("\"{t}\""))
                .collect::<Vec<_>>()
                .join(",")
        );
        let fields = [
            self.id.to_string(),
            self.name.clone(),
            self.email.clone(),
            self.age.to_string(),
            self.score.clone(),
            self.active.to_string(),
            self.created.clone(),
            self.birth.clone(),
            self.balance.clone(),
            tags_array,
            self.address_json.clone(),
            self.notes.clone(),
            self.rating.clone(),
            self.updated.clone(),
        ];
        fields
            .iter()
            .map(|field| format!("\"{}\"", field.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(",")
    }
}
