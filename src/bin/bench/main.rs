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
//! Every timed phase starts right after an untimed CHECKPOINT (see `checkpoint`), so none
//! pays for the WAL of the one before it.
//!
//! It reports, per run and as medians, the target's rows/s against the raw COPY's, its peak RSS
//! and its CPU time (user + system; also per 100k rows), and the `lanes` setting it passed.
//!
//! `--upsert` measures a second load of the same input onto the filled table against a raw COPY
//! into a temporary table plus `INSERT ... ON CONFLICT DO UPDATE`, and against the plain raw
//! COPY into an empty table too (the per-run line and the summary print that ratio as well).
//!
//! `--ceiling` also COPYs the raw bytes over the target's lanes (split by key hash into 4 MiB
//! chunks, one transaction each, one connection per lane): the most any client could reach
//! with lanes on this server, since it parses and encodes nothing (see `ceiling`).
//!
//! On Citus, `--distribute COLUMN` makes the target's tables distributed before each timed load,
//! so the target loads an existing, empty distributed table; whenever the target's table is
//! distributed (by this flag or by the target's `citus` setting), the raw tables are
//! distributed the same way, co-located with it (see `citus`).

mod args;
mod ceiling;
mod checkpoint;
mod child;
mod citus;
mod generate;
mod raw;

use std::path::{Path, PathBuf};

use postgres::{Client, NoTls};

use args::{parse_args, Options};
use child::{run_target, Measured};

const SCHEMA: &str = "target_postgres_bench";

fn main() {
    match parse_args(std::env::args().skip(1)).and_then(|options| options.map(run).transpose()) {
        Ok(_) => {}
        Err(message) => {
            eprintln!("bench: {message}");
            std::process::exit(1);
        }
    }
}

/// One run's figures.
struct Sample {
    target_rate: f64,
    raw_rate: f64,
    peak_mb: f64,
    cpu_seconds: f64,
    /// For `--upsert`: a plain raw COPY into an empty table's time over the re-load's.
    copy_ratio: Option<f64>,
    /// For `--ceiling`: the raw bytes over the target's lanes, in rows/s.
    ceiling_rate: Option<f64>,
}

/// The files one benchmark works with.
struct Files {
    target: PathBuf,
    config: PathBuf,
    input: PathBuf,
    /// The input's SCHEMA lines alone, for `--distribute`.
    schemas: PathBuf,
    csv_dir: PathBuf,
}

fn run(options: Options) -> Result<(), String> {
    let work = std::env::temp_dir().join(format!("target-postgres-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let files = Files {
        target: target_binary()?,
        config: work.join("config.json"),
        input: work.join("input.jsonl"),
        schemas: work.join("schemas.jsonl"),
        csv_dir: work.join("csv"),
    };
    std::fs::create_dir_all(&files.csv_dir).map_err(|e| e.to_string())?;
    generate::generate(&options, &files.input, &files.csv_dir)?;
    citus::write_schema_lines(&files.input, &files.schemas, options.streams)?;
    write_config(&options, &files.config)?;

    let mut client = Client::connect(&options.url, NoTls).map_err(|e| e.to_string())?;
    let mode = if options.upsert {
        "upsert re-load"
    } else {
        "load"
    };
    println!(
        "{} rows, {} stream(s), {mode}, {} run(s), lanes {}",
        options.rows,
        options.streams,
        options.runs,
        options.lanes_label()
    );
    let mut samples = Vec::new();
    for run in 1..=options.runs {
        samples.push(run_once(&mut client, &options, &files, run)?);
    }
    print_summary(&options, &samples);
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

/// One run on a fresh schema: the (untimed) preparation, the timed target load, the raw side,
/// the comparison; prints the run's line.
fn run_once(
    client: &mut Client,
    options: &Options,
    files: &Files,
    run: usize,
) -> Result<Sample, String> {
    reset_schema(client)?;
    if let Some(column) = &options.distribute {
        run_target(&files.target, &files.config, &files.schemas)?;
        citus::distribute_target_tables(client, options.streams, column)?;
    }
    if options.upsert {
        // The first load fills the tables; the measured one loads the same input again.
        run_target(&files.target, &files.config, &files.input)?;
    }
    checkpoint::settle(client);
    let measured = run_target(&files.target, &files.config, &files.input)?;
    let raw = raw::raw_copy(client, options, &files.csv_dir)?;
    raw::verify(client, options)?;
    let target_seconds = measured.elapsed.as_secs_f64();
    let sample = Sample {
        target_rate: options.rows as f64 / target_seconds,
        raw_rate: options.rows as f64 / raw.raw.as_secs_f64(),
        peak_mb: measured.peak_kb as f64 / 1024.0,
        cpu_seconds: measured.cpu.as_secs_f64(),
        copy_ratio: options
            .upsert
            .then(|| raw.copy.as_secs_f64() / target_seconds),
        ceiling_rate: raw
            .ceiling
            .map(|(elapsed, _)| options.rows as f64 / elapsed.as_secs_f64()),
    };
    print_run(run, &sample, &measured, &raw);
    Ok(sample)
}

fn print_run(run: usize, sample: &Sample, measured: &Measured, raw: &raw::RawTimes) {
    let against_copy = match sample.copy_ratio {
        Some(ratio) => format!(
            "  raw COPY {:.2}s, ratio to it {ratio:.2}",
            raw.copy.as_secs_f64()
        ),
        None => String::new(),
    };
    let against_ceiling = match (raw.ceiling, sample.ceiling_rate) {
        (Some((elapsed, lanes)), Some(rate)) => format!(
            "  ceiling ({lanes} lanes) {:.2}s, {:.2}x raw",
            elapsed.as_secs_f64(),
            rate / sample.raw_rate
        ),
        _ => String::new(),
    };
    println!(
        "run {run}: target {:>9.0} rows/s ({:.2}s)  raw {:>9.0} rows/s ({:.2}s)  ratio {:.2}{against_copy}{against_ceiling}  peak RSS {:.1} MB  CPU {:.2}s  rows equal",
        sample.target_rate,
        measured.elapsed.as_secs_f64(),
        sample.raw_rate,
        raw.raw.as_secs_f64(),
        sample.target_rate / sample.raw_rate,
        sample.peak_mb,
        sample.cpu_seconds,
    );
}

fn print_summary(options: &Options, samples: &[Sample]) {
    let column = |f: fn(&Sample) -> f64| median(&samples.iter().map(f).collect::<Vec<_>>());
    let cpu = column(|s| s.cpu_seconds);
    println!(
        "median: target {:.0} rows/s, raw {:.0} rows/s, ratio {:.2}, peak RSS {:.1} MB, \
         CPU {:.2}s ({:.3}s per 100k rows), lanes {}",
        column(|s| s.target_rate),
        column(|s| s.raw_rate),
        column(|s| s.target_rate / s.raw_rate),
        column(|s| s.peak_mb),
        cpu,
        cpu / options.rows as f64 * 100_000.0,
        options.lanes_label()
    );
    let ceiling_ratios: Vec<(f64, f64)> = samples
        .iter()
        .filter_map(|s| s.ceiling_rate.map(|c| (c / s.raw_rate, s.target_rate / c)))
        .collect();
    if !ceiling_ratios.is_empty() {
        println!(
            "median ceiling (the raw bytes over the target's lanes, no client work): {:.2}x the raw COPY; \
             the target reaches {:.2} of it",
            median(&ceiling_ratios.iter().map(|r| r.0).collect::<Vec<_>>()),
            median(&ceiling_ratios.iter().map(|r| r.1).collect::<Vec<_>>())
        );
    }
    let copy_ratios: Vec<f64> = samples.iter().filter_map(|s| s.copy_ratio).collect();
    if !copy_ratios.is_empty() {
        println!(
            "median ratio of the re-load to a raw COPY into an empty table: {:.2}",
            median(&copy_ratios)
        );
    }
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

fn reset_schema(client: &mut Client) -> Result<(), String> {
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; DROP SCHEMA IF EXISTS {SCHEMA}_raw CASCADE; \
             CREATE SCHEMA {SCHEMA}_raw"
        ))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_flag_writes_the_lanes_setting_into_the_target_config() {
        let options = parse_args(["--lanes", "3", "--set", "batch_size_rows=5"].map(String::from))
            .unwrap()
            .unwrap();
        let path = std::env::temp_dir().join(format!("bench-config-{}.json", std::process::id()));
        write_config(&options, &path).unwrap();
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(config["lanes"], 3);
        assert_eq!(config["batch_size_rows"], 5);
        assert_eq!(config["ssl_mode"], "disable");
    }
}
