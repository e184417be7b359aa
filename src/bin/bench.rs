//! The benchmark: target-postgres against a raw binary COPY of the same rows, in the same run.
//!
//! It generates a deterministic Singer input (14 columns: text, integer, number, boolean,
//! date-time, date, a nested object and a string array) and the same rows as CSV, from one
//! generator. The target loads the JSONL (as a separate process, so its peak RSS is its own).
//! The CSV goes, untimed, through PostgreSQL's own parser into a scratch table, is dumped as
//! binary COPY bytes, and those bytes are then COPYed — timed — into a table of the same shape:
//! that is the raw line the target is measured against. Both tables are then compared row by
//! row as text (on the target's columns, since `--set stream_maps=...` may remove some), so a
//! fast wrong answer fails the run.
//!
//! `--upsert` measures a second load of the same input onto the filled table against a raw COPY
//! into a temporary table plus `INSERT ... ON CONFLICT DO UPDATE`, and against the plain raw
//! COPY into an empty table too.
//!
//! On Citus, `--distribute COLUMN` makes the target's tables distributed before the timed load
//! (an untimed run on the SCHEMA lines alone creates them, then `create_distributed_table`), so
//! the target loads an existing, empty distributed table. Whenever the target's table is
//! distributed (by this flag or by the target's `citus` setting), the raw tables are
//! distributed the same way, co-located with it: both sides load the same table shape.

use std::fmt::Write as _;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

const SCHEMA: &str = "target_postgres_bench";

struct Options {
    rows: usize,
    streams: usize,
    runs: usize,
    upsert: bool,
    keep: bool,
    distribute: Option<String>,
    url: String,
    extra_config: Vec<(String, String)>,
}

fn main() {
    if let Err(message) = run() {
        eprintln!("bench: {message}");
        std::process::exit(1);
    }
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        rows: 100_000,
        streams: 1,
        runs: 3,
        upsert: false,
        keep: false,
        distribute: None,
        url: std::env::var("TARGET_POSTGRES_TEST_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string()),
        extra_config: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--rows" => {
                options.rows = value("--rows")?
                    .parse()
                    .map_err(|e| format!("--rows: {e}"))?
            }
            "--streams" => {
                options.streams = value("--streams")?
                    .parse()
                    .map_err(|e| format!("--streams: {e}"))?
            }
            "--runs" => {
                options.runs = value("--runs")?
                    .parse()
                    .map_err(|e| format!("--runs: {e}"))?
            }
            "--upsert" => options.upsert = true,
            "--keep" => options.keep = true,
            "--distribute" => options.distribute = Some(value("--distribute")?),
            "--url" => options.url = value("--url")?,
            "--set" => {
                let pair = value("--set")?;
                let (key, json) = pair.split_once('=').ok_or("--set takes key=json")?;
                options
                    .extra_config
                    .push((key.to_string(), json.to_string()));
            }
            "--help" | "-h" => {
                println!(
                    "bench [--rows N] [--streams K] [--runs R] [--upsert] [--keep] [--distribute COLUMN] [--url URL] [--set key=json]..."
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if options.rows == 0 || options.streams == 0 || options.runs == 0 {
        return Err("--rows, --streams and --runs must be positive".into());
    }
    Ok(options)
}

fn run() -> Result<(), String> {
    let options = parse_args()?;
    let target = target_binary()?;
    let work = std::env::temp_dir().join(format!("target-postgres-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let input = work.join("input.jsonl");
    let schemas = work.join("schemas.jsonl");
    let csv_dir = work.join("csv");
    std::fs::create_dir_all(&csv_dir).map_err(|e| e.to_string())?;
    generate(&options, &input, &csv_dir)?;
    write_schema_lines(&input, &schemas, options.streams)?;
    let config = work.join("config.json");
    write_config(&options, &config)?;

    let mut client = Client::connect(&options.url, NoTls).map_err(|e| e.to_string())?;
    let mode = if options.upsert {
        "upsert re-load"
    } else {
        "load"
    };
    println!(
        "{} rows, {} stream(s), {mode}, {} run(s)",
        options.rows, options.streams, options.runs
    );
    let mut target_rates = Vec::new();
    let mut raw_rates = Vec::new();
    let mut peaks = Vec::new();
    let mut copy_ratios = Vec::new();
    for run in 1..=options.runs {
        reset_schema(&mut client)?;
        if let Some(column) = &options.distribute {
            run_target(&target, &config, &schemas)?;
            distribute_target_tables(&mut client, &options, column)?;
        }
        if options.upsert {
            // The first load fills the tables; the measured one loads the same input again.
            run_target(&target, &config, &input)?;
        }
        let (target_time, peak_kb) = run_target(&target, &config, &input)?;
        let (raw_time, copy_time) = raw_copy(&mut client, &options, &csv_dir)?;
        verify(&mut client, &options)?;
        let target_rate = options.rows as f64 / target_time.as_secs_f64();
        let raw_rate = options.rows as f64 / raw_time.as_secs_f64();
        let against_copy = if options.upsert {
            copy_ratios.push(copy_time.as_secs_f64() / target_time.as_secs_f64());
            format!(
                "  raw COPY {:.2}s, ratio to it {:.2}",
                copy_time.as_secs_f64(),
                copy_time.as_secs_f64() / target_time.as_secs_f64()
            )
        } else {
            String::new()
        };
        println!(
            "run {run}: target {:>9.0} rows/s ({:.2}s)  raw {:>9.0} rows/s ({:.2}s)  ratio {:.2}{against_copy}  peak RSS {:.1} MB  rows equal",
            target_rate,
            target_time.as_secs_f64(),
            raw_rate,
            raw_time.as_secs_f64(),
            target_rate / raw_rate,
            peak_kb as f64 / 1024.0
        );
        target_rates.push(target_rate);
        raw_rates.push(raw_rate);
        peaks.push(peak_kb as f64 / 1024.0);
    }
    let ratios: Vec<f64> = target_rates
        .iter()
        .zip(&raw_rates)
        .map(|(t, r)| t / r)
        .collect();
    println!(
        "median: target {:.0} rows/s, raw {:.0} rows/s, ratio {:.2}, peak RSS {:.1} MB",
        median(&target_rates),
        median(&raw_rates),
        median(&ratios),
        median(&peaks)
    );
    if options.upsert {
        println!(
            "median ratio of the re-load to a raw COPY into an empty table: {:.2}",
            median(&copy_ratios)
        );
    }
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; DROP SCHEMA IF EXISTS {SCHEMA}_raw CASCADE"
        ))
        .map_err(|e| e.to_string())?;
    if options.keep {
        println!("input and config kept in {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(())
}

/// The columns of the target's `table`, quoted, in order: the generator's, less any that
/// stream maps (`--set stream_maps=...`) remove.
fn target_columns(
    client: &mut impl postgres::GenericClient,
    table: &str,
) -> Result<Vec<String>, String> {
    let columns: Vec<String> = client
        .query(
            "SELECT quote_ident(column_name::text) FROM information_schema.columns \
             WHERE table_schema::text = $1 AND table_name::text = $2 ORDER BY ordinal_position",
            &[&SCHEMA, &table],
        )
        .map_err(|e| format!("reading the columns of {table}: {}", db_error(&e)))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if columns.is_empty() {
        return Err(format!(
            "table {SCHEMA}.{table} has no columns (was it loaded?)"
        ));
    }
    Ok(columns)
}

/// A driver error with the server's message, when there is one.
fn db_error(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => error.to_string(),
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

fn target_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let path = exe.with_file_name("target-postgres");
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found: build it first (cargo build --release --bins --features bench)",
            path.display()
        ))
    }
}

fn write_config(options: &Options, path: &Path) -> Result<(), String> {
    // The raw COPY's connection has no TLS; the target's must not either, or the ratio would
    // measure encryption (`prefer`, the default, uses TLS whenever the server offers it).
    let mut config =
        serde_json::json!({ "url": options.url, "schema": SCHEMA, "ssl_mode": "disable" });
    for (key, json) in &options.extra_config {
        let value: serde_json::Value =
            serde_json::from_str(json).unwrap_or(serde_json::Value::String(json.clone()));
        config[key] = value;
    }
    std::fs::write(path, config.to_string()).map_err(|e| e.to_string())
}

fn stream_name(stream: usize) -> String {
    format!("bench-stream_{stream}")
}

fn table_name(stream: usize) -> String {
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
const VALUE_COLUMNS: &[&str] = &[
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

fn generate(options: &Options, input: &Path, csv_dir: &Path) -> Result<(), String> {
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

/// The input's SCHEMA lines alone, for the untimed run that creates the tables `--distribute`
/// distributes.
fn write_schema_lines(input: &Path, schemas: &Path, streams: usize) -> Result<(), String> {
    let text = std::fs::read_to_string(input).map_err(|e| e.to_string())?;
    let mut lines: Vec<&str> = text.lines().take(streams).collect();
    // run_target checks that a state comes out.
    lines.push(r#"{"type":"STATE","value":{"rows":0}}"#);
    std::fs::write(schemas, lines.join("\n") + "\n").map_err(|e| e.to_string())
}

/// `create_distributed_table` on each of the target's (empty) tables.
fn distribute_target_tables(
    client: &mut Client,
    options: &Options,
    column: &str,
) -> Result<(), String> {
    for stream in 0..options.streams {
        let table = table_name(stream);
        client
            .execute(
                "SELECT create_distributed_table($1::text::regclass, $2)",
                &[&format!("{SCHEMA}.{table}"), &column],
            )
            .map_err(|e| format!("distributing {table}: {}", db_error(&e)))?;
    }
    Ok(())
}

/// The distribution column of the target's `table`, when it is a Citus distributed table.
fn distribution_of(client: &mut Client, table: &str) -> Result<Option<String>, String> {
    let has_citus: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')",
            &[],
        )
        .map_err(|e| db_error(&e))?
        .get(0);
    if !has_citus {
        return Ok(None);
    }
    let row = client
        .query_opt(
            "SELECT column_to_column_name(logicalrelid, partkey) FROM pg_dist_partition \
             WHERE logicalrelid = to_regclass($1) AND partmethod = 'h'",
            &[&format!("{SCHEMA}.{table}")],
        )
        .map_err(|e| db_error(&e))?;
    Ok(row.map(|row| row.get(0)))
}

/// Makes a raw table distributed like the target's, co-located with it, when the target's is.
fn distribute_like_target(client: &mut Client, table: &str, raw: &str) -> Result<(), String> {
    if let Some(column) = distribution_of(client, table)? {
        client
            .execute(
                "SELECT create_distributed_table($1::text::regclass, $2, colocate_with => $3)",
                &[&raw, &column, &format!("{SCHEMA}.{table}")],
            )
            .map_err(|e| format!("distributing {raw}: {}", db_error(&e)))?;
    }
    Ok(())
}

fn reset_schema(client: &mut Client) -> Result<(), String> {
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; DROP SCHEMA IF EXISTS {SCHEMA}_raw CASCADE; \
             CREATE SCHEMA {SCHEMA}_raw"
        ))
        .map_err(|e| e.to_string())
}

/// Runs the target on the input; returns wall time and peak RSS in kB (VmHWM, polled).
fn run_target(target: &Path, config: &Path, input: &Path) -> Result<(Duration, u64), String> {
    let started = Instant::now();
    let mut child = Command::new(target)
        .arg("--config")
        .arg(config)
        .arg("--input")
        .arg(input)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    // The peak is sampled on a side thread; the exit is waited for on this one, so the time
    // measured ends when the process does, not at the next sample.
    let status_path = format!("/proc/{}/status", child.id());
    let exited = Arc::new(AtomicBool::new(false));
    let sampler = {
        let exited = Arc::clone(&exited);
        std::thread::spawn(move || {
            let mut peak = 0u64;
            while !exited.load(Ordering::Relaxed) {
                // VmHWM is the process's own high-water mark: a late sample loses nothing.
                if let Some(kb) = std::fs::read_to_string(&status_path).ok().and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("VmHWM:"))
                        .and_then(|l| l.split_whitespace().nth(1))
                        .and_then(|v| v.parse::<u64>().ok())
                }) {
                    peak = peak.max(kb);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let mut state = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut state);
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let elapsed = started.elapsed();
    exited.store(true, Ordering::Relaxed);
    let peak = sampler.join().unwrap_or(0);
    if !status.success() {
        return Err(format!("target-postgres failed: {status}"));
    }
    if !state.contains("\"rows\"") {
        return Err(format!("target-postgres wrote no final state: {state:?}"));
    }
    Ok((elapsed, peak))
}

/// Loads the CSV through PostgreSQL's parser (untimed), dumps it as binary COPY bytes, and
/// times the binary COPY of those bytes into tables shaped like the target's. Returns the raw
/// load's time and, for `--upsert`, that of a plain COPY into empty tables (else the same).
fn raw_copy(
    client: &mut Client,
    options: &Options,
    csv_dir: &Path,
) -> Result<(Duration, Duration), String> {
    let db = |e: postgres::Error| e.to_string();
    let mut payloads = Vec::new();
    for stream in 0..options.streams {
        let table = table_name(stream);
        let columns = target_columns(client, &table)?;
        // The CSV has every generated column; those stream maps removed are read as text and
        // left out of the binary COPY, so the raw load writes what the target writes.
        let mut ddl = format!(
            "CREATE TABLE {SCHEMA}_raw.{table}_csv (LIKE {SCHEMA}.{table}); \
             CREATE TABLE {SCHEMA}_raw.{table} (LIKE {SCHEMA}.{table} INCLUDING ALL);"
        );
        for missing in VALUE_COLUMNS
            .iter()
            .filter(|c| !columns.iter().any(|t| t == *c))
        {
            ddl.push_str(&format!(
                "ALTER TABLE {SCHEMA}_raw.{table}_csv ADD COLUMN {missing} text;"
            ));
        }
        if options.upsert {
            ddl.push_str(&format!(
                "CREATE TABLE {SCHEMA}_raw.{table}_copy (LIKE {SCHEMA}.{table} INCLUDING ALL);"
            ));
        }
        client.batch_execute(&ddl).map_err(db)?;
        distribute_like_target(client, &table, &format!("{SCHEMA}_raw.{table}"))?;
        if options.upsert {
            distribute_like_target(client, &table, &format!("{SCHEMA}_raw.{table}_copy"))?;
        }
        let generated = std::iter::once("id")
            .chain(VALUE_COLUMNS.iter().copied())
            .collect::<Vec<_>>()
            .join(", ");
        let loaded = columns.join(", ");
        let csv =
            std::fs::read(csv_dir.join(format!("{stream}.csv"))).map_err(|e| e.to_string())?;
        let mut writer = client
            .copy_in(&format!(
                "COPY {SCHEMA}_raw.{table}_csv ({generated}) FROM STDIN (FORMAT csv)"
            ))
            .map_err(db)?;
        writer.write_all(&csv).map_err(|e| e.to_string())?;
        writer.finish().map_err(db)?;
        let mut binary = Vec::new();
        client
            .copy_out(&format!(
                "COPY (SELECT {loaded} FROM {SCHEMA}_raw.{table}_csv) TO STDOUT (FORMAT binary)"
            ))
            .map_err(db)?
            .read_to_end(&mut binary)
            .map_err(|e| e.to_string())?;
        payloads.push((table, binary, loaded));
    }
    if options.upsert {
        let mut total = Duration::ZERO;
        for (table, binary, loaded) in &payloads {
            // The rows are already there (untimed); only the stage-and-merge is timed.
            client
                .batch_execute(&format!(
                    "INSERT INTO {SCHEMA}_raw.{table} SELECT {loaded} FROM {SCHEMA}_raw.{table}_csv"
                ))
                .map_err(db)?;
            let started = Instant::now();
            raw_merge(client, table, binary)?;
            total += started.elapsed();
        }
        let copy = copy_payloads(client, &payloads, "_copy")?;
        return Ok((total, copy));
    }
    let copy = copy_payloads(client, &payloads, "")?;
    Ok((copy, copy))
}

/// Times the binary COPY of each payload into its raw table (name + `suffix`), one
/// transaction per table.
fn copy_payloads(
    client: &mut Client,
    payloads: &[(String, Vec<u8>, String)],
    suffix: &str,
) -> Result<Duration, String> {
    let db = |e: postgres::Error| e.to_string();
    let started = Instant::now();
    for (table, binary, _) in payloads {
        let mut transaction = client.transaction().map_err(db)?;
        let mut writer = transaction
            .copy_in(&format!(
                "COPY {SCHEMA}_raw.{table}{suffix} FROM STDIN (FORMAT binary)"
            ))
            .map_err(db)?;
        writer.write_all(binary).map_err(|e| e.to_string())?;
        writer.finish().map_err(db)?;
        transaction.commit().map_err(db)?;
    }
    Ok(started.elapsed())
}

/// The raw upsert: binary COPY into a temporary table, then `INSERT ... ON CONFLICT DO UPDATE`
/// that skips unchanged rows, in one transaction.
fn raw_merge(client: &mut Client, table: &str, binary: &[u8]) -> Result<(), String> {
    let db = |e: postgres::Error| e.to_string();
    let mut transaction = client.transaction().map_err(db)?;
    transaction
        .batch_execute(&format!(
            "CREATE TEMP TABLE stage ON COMMIT DROP AS SELECT * FROM {SCHEMA}_raw.{table} WITH NO DATA"
        ))
        .map_err(db)?;
    let mut writer = transaction
        .copy_in("COPY stage FROM STDIN (FORMAT binary)")
        .map_err(db)?;
    writer.write_all(binary).map_err(|e| e.to_string())?;
    writer.finish().map_err(db)?;
    let columns = target_columns(&mut transaction, table)?;
    let updates = VALUE_COLUMNS
        .iter()
        .filter(|c| columns.iter().any(|t| t == *c))
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    transaction
        .batch_execute(&format!(
            "INSERT INTO {SCHEMA}_raw.{table} AS dst SELECT * FROM stage ON CONFLICT (id) \
             DO UPDATE SET {updates} WHERE ROW(dst.*) IS DISTINCT FROM ROW(EXCLUDED.*)"
        ))
        .map_err(db)?;
    transaction.commit().map_err(db)
}

/// Compares target and raw tables row by row as text (so numeric scale and every digit count).
fn verify(client: &mut Client, options: &Options) -> Result<(), String> {
    for stream in 0..options.streams {
        let table = table_name(stream);
        // The rows must be equal on the target's columns (stream maps may remove some).
        let columns = target_columns(client, &table)?;
        let digest = |client: &mut Client, qualified: &str| -> Result<(i64, String), String> {
            let row = client
                .query_one(
                    &format!(
                        "SELECT count(*), coalesce(md5(string_agg(row({})::text, E'\\n' ORDER BY t.id)), '') FROM {qualified} t",
                        columns.iter().map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ")
                    ),
                    &[],
                )
                .map_err(|e| format!("comparing {qualified}: {}", db_error(&e)))?;
            Ok((row.get(0), row.get(1)))
        };
        let target = digest(client, &format!("{SCHEMA}.{table}"))?;
        let raw = digest(client, &format!("{SCHEMA}_raw.{table}"))?;
        if target != raw {
            return Err(format!(
                "table {table}: target has {} rows (digest {}), raw COPY has {} rows (digest {})",
                target.0, target.1, raw.0, raw.1
            ));
        }
        let expected = (options.rows / options.streams
            + usize::from(stream < options.rows % options.streams)) as i64;
        if target.0 != expected {
            return Err(format!(
                "table {table}: {} rows, expected {expected}",
                target.0
            ));
        }
    }
    Ok(())
}
