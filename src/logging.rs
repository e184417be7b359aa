//! Logging to stderr (`RUST_LOG` sets the level, `info` by default) in text or JSON lines,
//! and the end-of-run summary.

use std::io::Write;

use crate::cli::LogFormat;
use crate::loader::Summary;

/// Starts the logger.
pub fn init(format: LogFormat) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    builder.target(env_logger::Target::Stderr);
    match format {
        LogFormat::Text => {
            builder.format(|out, record| writeln!(out, "{:<5} {}", record.level(), record.args()));
        }
        LogFormat::Json => {
            builder.format(|out, record| {
                let line = serde_json::json!({
                    "level": record.level().as_str(),
                    "target": record.target(),
                    "message": record.args().to_string(),
                });
                writeln!(out, "{line}")
            });
        }
    }
    // A second init (tests) is harmless.
    let _ = builder.try_init();
}

/// Logs the per-stream summary at the end of a run.
pub fn log_summary(summary: &Summary) {
    log::info!(
        "loaded {} records in {:.1}s ({:.0} records/s)",
        summary.records,
        summary.elapsed.as_secs_f64(),
        summary.records as f64 / summary.elapsed.as_secs_f64().max(1e-9)
    );
    for (stream, totals) in &summary.streams {
        log::info!(
            "stream \"{stream}\" → {}: {} inserted, {} updated, {} deleted, {} set aside, {} batches, {:.1}s in flushes",
            totals.table,
            totals.inserted,
            totals.updated,
            totals.deleted,
            totals.set_aside,
            totals.batches,
            totals.flush_time.as_secs_f64()
        );
    }
    if summary.set_aside > 0 {
        log::info!(
            "{} invalid records set aside (invalid_records)",
            summary.set_aside
        );
    }
    if summary.nul_replaced > 0 {
        log::info!(
            "{} U+0000 characters replaced with U+FFFD",
            summary.nul_replaced
        );
    }
    if summary.ignored_values > 0 {
        log::info!(
            "{} values of properties missing from their schema were ignored",
            summary.ignored_values
        );
    }
}
