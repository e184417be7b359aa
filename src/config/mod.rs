//! Configuration: raw JSON objects from every source, merged, then validated into
//! [`Settings`].
//!
//! One table, [`SETTINGS`], names every key we accept with its aliases, type, default and
//! description. The same table drives alias resolution, unknown-key judgements, type
//! checking and `--about`, so the documentation can never drift from what is parsed.
//! Validation errors name the key and the file it came from and never echo a secret.
//!
//! One file per concept: `spec` (the settings table), `unknown` (what a key that is not a
//! setting is: a typo, a peer's key, a feature we lack), `raw` (merged sources and typed
//! getters), `citus` (the `citus` setting), `connection` (where and how to connect, TLS), `pem` (a file or the text
//! itself), `ssh_tunnel` (the bastion), `validate` (raw → [`Settings`]); this file holds
//! the validated types and [`load`], which runs the layers in order.

mod citus;
mod connection;
mod pem;
mod raw;
mod spec;
mod ssh_tunnel;
mod unknown;
mod validate;

use std::path::Path;
use std::time::Duration;

pub use citus::CitusSettings;
pub use connection::{ConnectionSettings, PemSetting, SessionTimeouts, SslMode};
pub use pem::PemSource;
pub use raw::RawConfig;
pub use spec::{Kind, SettingSpec, SETTINGS};
pub use ssh_tunnel::{normalize_fingerprint, HostKeyPolicy, SshTunnelSettings};

use crate::error::Result;

/// How rows reach a keyed table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadMethod {
    /// COPY straight in; keys are not merged.
    AppendOnly,
    /// Merge by key: last record of a key wins.
    Upsert,
    /// Replace the table's contents with this run's rows, in one transaction at the end.
    Overwrite,
}

/// Validated settings for one run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Connection parameters.
    pub connection: ConnectionSettings,
    /// Target schema (verbatim).
    pub schema: String,
    /// Mage: one table for every stream (verbatim).
    pub table: Option<String>,
    /// Never CREATE SCHEMA.
    pub skip_schema_creation: bool,
    /// Lower-case derived names.
    pub lower_case: bool,
    /// Keep reserved words as column names.
    pub allow_reserved_words: bool,
    /// Append or merge keyed streams.
    pub load_method: LoadMethod,
    /// Rows per stream before a flush.
    pub batch_size_rows: usize,
    /// Bound on all buffered bytes.
    pub max_buffer_bytes: usize,
    /// Longest a buffered row waits for its flush.
    pub max_batch_age: Duration,
    /// A stream's buffer flushes at this many bytes even below `batch_size_rows`, so that
    /// encoding overlaps the COPY (`flush_chunk_mb`).
    pub flush_chunk_bytes: usize,
    /// Flush workers and pooled connections.
    pub max_parallelism: usize,
    /// Flushes of one table at once, each on its own connection (`lanes`, resolved).
    pub lanes: usize,
    /// A full stream flushes every stream.
    pub flush_all_streams: bool,
    /// Time between progress lines (zero: one at every check).
    pub progress_interval: Duration,
    /// How long a flush or catalog read runs, waiting for a lock, before one warning.
    pub lock_wait_warning: Duration,
    /// Obey ACTIVATE_VERSION.
    pub activate_version: bool,
    /// Validate records against their JSON Schema.
    pub validate_records: bool,
    /// Replace U+0000 instead of failing.
    pub sanitize_null_text_characters: bool,
    /// Refuse streams without keys.
    pub primary_key_required: bool,
    /// SQL run once after connecting.
    pub before_run_sql: Vec<String>,
    /// SQL run once after the last commit.
    pub after_run_sql: Vec<String>,
    /// `src-users` → table `users`.
    pub stream_name_split: bool,
    /// Source schema → target schema (pipelinewise's `schema_mapping`).
    pub schema_mapping: Vec<(String, String)>,
    /// Add the `_sdc_*` metadata columns.
    pub add_record_metadata: bool,
    /// Delete rows whose record carries `_sdc_deleted_at`.
    pub hard_delete: bool,
    /// The `citus` setting: the database must have Citus, and new tables are distributed.
    pub citus: Option<CitusSettings>,
    /// Levels of object properties flattened into `parent__child` columns.
    pub flattening_max_level: usize,
    /// What happens to a record that does not fit.
    pub invalid_records: InvalidRecords,
    /// Records set aside before the run fails anyway (0: no limit).
    pub invalid_records_threshold: u64,
    /// `stream_maps` and `stream_map_config`, checked; `None` when no stream is mapped.
    pub stream_maps: Option<std::sync::Arc<crate::maps::StreamMaps>>,
    /// Mage's `_streams.columns`: (property name, JSON text of its constant string value).
    pub constant_columns: Vec<(String, String)>,
    /// Started the way Mage starts destinations (any of its flags): `_mage_created_at` and
    /// `_mage_updated_at` columns, Mage's JSON values in strings, skipped non-JSON lines.
    /// Given to [`load`] from the command line, not a config key.
    pub mage_mode: bool,
}

/// The `invalid_records` policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidRecords {
    /// Stop the run (exit 1).
    Fail,
    /// Count and log the record, load the rest.
    Skip,
    /// Store the record in `_target_postgres_rejects`, load the rest.
    DeadLetter,
}

/// Where settings come from; merged in order, later sources win.
#[derive(Debug, Clone)]
pub enum Source {
    /// A JSON file (`--config FILE`).
    File(String),
    /// `TARGET_POSTGRES_*` variables (`--config ENV`).
    Environment,
    /// A JSON object given as text on the command line (Mage's `--config_json`).
    JsonText(String),
    /// A Mage settings YAML file (`--settings`), config under its `config:` key.
    MageSettings(String),
}

/// Reads every source into validated settings; `mage_mode` says whether the command line
/// started us the way Mage starts destinations.
pub fn load(sources: &[Source], mage_mode: bool) -> Result<Settings> {
    let mut raw = RawConfig::default();
    for source in sources {
        match source {
            Source::File(path) => raw.merge_file(Path::new(path))?,
            Source::Environment => raw.merge_environment(|name| std::env::var(name).ok())?,
            Source::JsonText(text) => raw.merge_json_text(text, "--config_json")?,
            Source::MageSettings(path) => raw.merge_mage_settings(Path::new(path))?,
        }
    }
    raw.validate(mage_mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// A raw config holding one JSON object, as if read from `test.json`.
    pub(super) fn raw(value: Value) -> RawConfig {
        let mut raw = RawConfig::default();
        if let Value::Object(map) = value {
            raw.merge_object(map, "test.json")
                .expect("test configs hold no mistakes");
        }
        raw
    }

    #[test]
    fn load_returns_settings_complete_with_the_command_line_mode() {
        let sources = [Source::JsonText(r#"{"schema": "s"}"#.to_string())];
        let settings = load(&sources, true).unwrap();
        assert!(settings.mage_mode);
        assert_eq!(settings.schema, "s");
        assert!(!load(&sources, false).unwrap().mage_mode);
    }
}
