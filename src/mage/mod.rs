//! Mage mode: what Mage's integration pipelines pass their PostgreSQL destination and what
//! they expect back (SPEC §9).
//!
//! Mage starts a destination with its own flags (`--config_json`, `--settings`, `--state`,
//! `--catalog_json`, ...; see [`crate::cli::Args::is_mage_mode`]), reads its log lines as
//! JSON (see [`crate::logging`]), keeps the state as `{"bookmarks": ...}` in a file
//! ([`state`]), and may hand over a catalog that decides the streams' schemas ([`catalog`]).
//! The loading itself is the same as in any other mode; Mage mode only adds the
//! `_mage_created_at` / `_mage_updated_at` columns and Mage's leniency towards its own input
//! files (non-JSON lines are skipped, JSON arrays sent as strings are parsed).
//!
//! Mage can only start a destination that is a Python package of its own
//! `mage_integrations`: [`install`] writes one that runs this binary (`mage-install`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::excerpt;

pub mod catalog;
pub mod install;
pub mod state;

/// What `--show_templates` prints: the config a Mage user fills in, as Mage's own
/// PostgreSQL destination describes it.
pub const CONFIG_TEMPLATE: &str = r#"{"config": {"database": "", "host": "", "password": "", "port": 5432, "schema": "", "table": "", "username": ""}}"#;

/// Mage mode's leniency with its input files: a line that is not JSON is skipped with a
/// warning, and a log line of Mage's own shape (`level` and `message`, no `type`) is passed
/// on. Errors are passed on as warnings: in Mage's format only a failed run logs one.
pub fn skip_input_noise(text: &str, line: u64) -> bool {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        log::warn!("line {line}: not JSON, skipped: {}", excerpt(text));
        return true;
    };
    if value.get("type").is_some() {
        return false;
    }
    let (Some(level), Some(message)) = (
        value.get("level").and_then(Value::as_str),
        value.get("message").and_then(Value::as_str),
    ) else {
        return false;
    };
    match level.to_ascii_uppercase().as_str() {
        "DEBUG" => log::debug!("{message}"),
        "INFO" => log::info!("{message}"),
        _ => log::warn!("{message}"),
    }
    true
}

/// Writes `contents` to a file beside `path`, then renames it over `path`, so a reader (or a
/// crash) never meets half a file.
fn replace_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".writing");
    let temporary = PathBuf::from(temporary);
    {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
    }
    fs::rename(&temporary, path)
}
