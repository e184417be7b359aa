//! Logging (`RUST_LOG` sets the level, `info` by default) as text, JSON or Mage's JSON log
//! lines, on stderr (or stdout for Mage's `--log_to_stdout`).
//!
//! Mage reads its destination's log lines and aborts the pipeline on an ERROR or EXCEPTION
//! line, so in that format only a failed run writes one: the EXCEPTION line of
//! [`log_failure`], which on stderr starts with `ERROR ` (Mage reads a failed connection
//! test there). Structured details travel as `log` key-values and become Mage's `tags`.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::ValueEnum;
use log::kv::{Key, Value as KvValue, VisitSource};
use serde_json::{Map, Value};

use crate::error::Error;

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `LEVEL message`.
    Text,
    /// One JSON object per line.
    Json,
    /// Mage's log lines: `{"caller", "level", "message", "tags", "timestamp", "uuid", "type":
    /// "LOG"}` (the default in Mage mode).
    Mage,
}

/// Whether log lines are Mage's (then each committed flush gets an `Export data
/// completed.` line, and a failure its EXCEPTION line).
static MAGE_FORMAT: AtomicBool = AtomicBool::new(false);

/// What Mage's log lines name as their caller.
const MAGE_CALLER: &str = "target-postgres";

/// Tags whose values are logged as JSON text and written as that JSON: Mage reads the
/// `state` tag of its destination's final-state line as an object.
const JSON_TAGS: &[&str] = &["state"];

/// Starts the logger: `format` on stderr, or on stdout when `to_stdout`; `debug` lowers the
/// default level to debug.
pub fn init(format: LogFormat, to_stdout: bool, debug: bool) {
    let default_level = if debug { "debug" } else { "info" };
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_level));
    builder.target(if to_stdout {
        env_logger::Target::Stdout
    } else {
        env_logger::Target::Stderr
    });
    MAGE_FORMAT.store(format == LogFormat::Mage, Ordering::Relaxed);
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
        LogFormat::Mage => {
            builder.format(move |out, record| {
                let mut tags = Tags::default();
                // A key-value that cannot be read is left out rather than losing the line.
                let _ = record.key_values().visit(&mut tags);
                let line = mage_line(
                    mage_level(record.level()),
                    &record.args().to_string(),
                    tags.0,
                );
                // On stderr, the failure line starts with ERROR, as Python's logging writes
                // Mage's own destinations' lines there: that is how Mage finds the reason
                // of a failed `--test_connection` (the line's `tags.error`).
                if !to_stdout && record.level() == log::Level::Error {
                    writeln!(out, "ERROR {line}")
                } else {
                    writeln!(out, "{line}")
                }
            });
        }
    }
    // A second init (tests) is harmless.
    let _ = builder.try_init();
}

/// Whether log lines are Mage's: flushes then report `Export data completed.`.
pub fn is_mage_format() -> bool {
    MAGE_FORMAT.load(Ordering::Relaxed)
}

/// Logs the error that ends a run: in Mage's format an EXCEPTION line with the error in its
/// `tags.error`, which is what Mage reports as the pipeline's failure.
pub fn log_failure(error: &Error) {
    let text = error.to_string();
    if is_mage_format() {
        log::error!(error = text.as_str(); "target-postgres process failed with error {text}");
    } else {
        log::error!("{text}");
    }
}

/// Mage's level names; an error is only ever logged for a failed run, as EXCEPTION.
fn mage_level(level: log::Level) -> &'static str {
    match level {
        log::Level::Error => "EXCEPTION",
        log::Level::Warn => "WARNING",
        log::Level::Info => "INFO",
        log::Level::Debug | log::Level::Trace => "DEBUG",
    }
}

/// One Mage log line.
fn mage_line(level: &str, message: &str, tags: Map<String, Value>) -> Value {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    serde_json::json!({
        "caller": MAGE_CALLER,
        "level": level,
        "message": message,
        "tags": tags,
        "timestamp": timestamp,
        "uuid": random_hex_id(),
        "type": "LOG",
    })
}

/// 32 hex digits, unique enough to tell log lines apart (Mage's `uuid4().hex`).
fn random_hex_id() -> String {
    // Each RandomState is freshly keyed from the OS's randomness (then incremented per
    // thread), so two hashes give 128 bits that differ from line to line.
    let high = RandomState::new().hash_one(0u8);
    let low = RandomState::new().hash_one(1u8);
    format!("{high:016x}{low:016x}")
}

/// A log record's key-values collected as Mage's `tags`.
#[derive(Default)]
struct Tags(Map<String, Value>);

impl<'kvs> VisitSource<'kvs> for Tags {
    fn visit_pair(&mut self, key: Key<'kvs>, value: KvValue<'kvs>) -> Result<(), log::kv::Error> {
        let value = if let Some(number) = value.to_u64() {
            Value::from(number)
        } else if let Some(number) = value.to_i64() {
            Value::from(number)
        } else if let Some(flag) = value.to_bool() {
            Value::from(flag)
        } else {
            let text = value.to_string();
            if JSON_TAGS.contains(&key.as_str()) {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            } else {
                Value::String(text)
            }
        };
        self.0.insert(key.as_str().to_string(), value);
        Ok(())
    }
}
