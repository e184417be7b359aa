//! The settings table: every key target-postgres accepts, with its aliases, JSON type,
//! default, secrecy and one line of description.
//!
//! [`SETTINGS`] is the single source of truth: merging resolves aliases and judges
//! unknown keys with it, `--config ENV` parses variables by its kinds, error messages ask it
//! whether a value may be shown, and `--about` (and so the README's table and meltano.yml)
//! renders it, so the documentation cannot drift from what is parsed.

/// The JSON type a setting takes (strings are accepted for numbers and booleans, since
/// environment variables and some UIs only have strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    String,
    /// A whole number.
    Integer,
    /// `true` / `false`.
    Boolean,
    /// A JSON object.
    Object,
    /// A string or a list of strings.
    StringList,
}

impl Kind {
    /// The name used in `--about` (Meltano's setting kinds).
    pub fn about_name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Integer => "integer",
            Kind::Boolean => "boolean",
            Kind::Object => "object",
            Kind::StringList => "array",
        }
    }
}

/// One accepted setting.
#[derive(Debug)]
pub struct SettingSpec {
    /// Canonical key.
    pub name: &'static str,
    /// Other keys peers use for the same thing.
    pub aliases: &'static [&'static str],
    /// Its JSON type.
    pub kind: Kind,
    /// The default, as shown in `--about` (empty: none).
    pub default: &'static str,
    /// Never printed when true.
    pub sensitive: bool,
    /// One line for `--about` and the README.
    pub description: &'static str,
}

macro_rules! setting {
    ($name:literal, [$($alias:literal),*], $kind:ident, $default:literal, $sensitive:literal, $description:literal) => {
        SettingSpec {
            name: $name,
            aliases: &[$($alias),*],
            kind: Kind::$kind,
            default: $default,
            sensitive: $sensitive,
            description: $description,
        }
    };
}

/// Every setting target-postgres accepts.
pub static SETTINGS: &[SettingSpec] = &[
    setting!("host", ["postgres_host"], String, "localhost", false, "Server host name or Unix socket directory (falls back to PGHOST)."),
    setting!("port", ["postgres_port"], Integer, "5432", false, "Server port; a number or a numeric string (falls back to PGPORT)."),
    setting!("user", ["username", "postgres_username"], String, "", false, "User name (falls back to PGUSER, then the OS user)."),
    setting!("password", ["postgres_password"], String, "", true, "Password; may be empty (falls back to PGPASSWORD, then ~/.pgpass)."),
    setting!("database", ["dbname", "postgres_database"], String, "", false, "Database name (falls back to PGDATABASE, then the user name)."),
    setting!("url", ["sqlalchemy_url", "connection_string"], String, "", true, "postgres:// or postgresql:// URL; wins over the separate connection fields."),
    setting!("ssl_mode", ["sslmode", "postgres_sslmode"], String, "prefer", false, "disable; prefer (TLS when the server offers it); require (always TLS); verify-ca (TLS, certificate signed by a trusted CA); verify-full (verify-ca plus the host name). Falls back to PGSSLMODE."),
    setting!("ssl_enable", [], Boolean, "false", false, "Meltano's switch: true without ssl_mode means require; false turns ssl_mode and the ssl certificate settings off (prefer, or PGSSLMODE), as in MeltanoLabs target-postgres."),
    setting!("ssl_root_cert", ["ssl_certificate_authority", "postgres_sslrootcert"], String, "", false, "CA certificate(s) the server's certificate must chain to: a file path, PEM text, or system (the OS trust store, also used by verify-ca/verify-full when unset). With prefer or require, setting it checks the chain, as libpq does. Falls back to PGSSLROOTCERT."),
    setting!("ssl_client_cert", ["ssl_client_certificate"], String, "", false, "Client certificate (for pg_hba cert authentication): a file path or PEM text. Falls back to PGSSLCERT."),
    setting!("ssl_client_key", ["ssl_client_private_key"], String, "", true, "Unencrypted private key of ssl_client_cert (PKCS#8, PKCS#1 RSA or SEC1 EC): a file path or PEM text. Falls back to PGSSLKEY."),
    setting!("ssh_tunnel", [], Object, "", true, "Connect through an SSH bastion (MeltanoLabs' object): {\"enable\": true, \"host\": bastion, \"port\": 22, \"username\": ..., \"private_key\": PEM text or a file path, \"private_key_password\": its passphrase}; the bastion's host key must be in ~/.ssh/known_hosts unless \"host_key_fingerprint\" (SHA256:..., or a list) or \"known_hosts\" (a file) says which to accept (\"accept_any_host_key\": true accepts any, with a warning). See the README's SSH tunnel section."),
    setting!("application_name", [], String, "target-postgres", false, "application_name reported to the server."),
    setting!("connect_timeout_seconds", [], Integer, "10", false, "How long to keep trying to connect at start."),
    setting!("session_timeouts", [], String, "off", false, "off: every session of the loader sets statement_timeout, lock_timeout, idle_in_transaction_session_timeout and transaction_timeout to 0, whatever the role, database or server sets (a -c of the URL's options still wins); server: keep the server's."),
    setting!("schema", ["default_target_schema", "postgres_schema"], String, "public", false, "Target schema, used verbatim."),
    setting!("schema_mapping", [], Object, "", false, "pipelinewise form {\"<source_schema>\": {\"target_schema\": \"...\"}}: streams named <source_schema>-<table> load into that schema."),
    setting!("table", [], String, "", false, "Mage: every stream of this run goes into this one table (used verbatim)."),
    setting!("skip_schema_creation", [], Boolean, "false", false, "Never run CREATE SCHEMA."),
    setting!("lower_case", [], Boolean, "true", false, "Lower-case column names and table names derived from stream names."),
    setting!("allow_reserved_words", [], Boolean, "false", false, "When false, a column named after a reserved word gets a _ prefix."),
    setting!("load_method", [], String, "upsert", false, "append-only, upsert, or overwrite (the table's rows are replaced by this run's, in one transaction at the end)."),
    setting!("batch_size_rows", [], Integer, "100000", false, "Rows buffered per stream before it flushes."),
    setting!("maximum_batch_size_mb", ["batch_size_mb", "max_batch_size"], Integer, "100", false, "Bound on the rows held in memory, in MB: the encoded rows buffered for all streams plus those queued for or being written by the flushes (the input read ahead adds up to 1.5 MiB). A record too big to fit beside them is loaded alone, after what is buffered is written; a single record needs about twice its size (its line and its row) even beyond this bound."),
    setting!("max_batch_age_seconds", [], Integer, "60", false, "No buffered row (and so no state waiting for it) waits longer than this before a flush."),
    setting!("flush_chunk_mb", [], Integer, "4", false, "A stream's buffer also flushes once it holds this many MB, even below batch_size_rows, so that encoding the next rows overlaps the COPY of these (at least 1; at most a quarter of maximum_batch_size_mb is used)."),
    setting!("max_parallelism", ["parallelism"], Integer, "4", false, "Concurrent flushes = pooled connections; 0 or -1 mean automatic."),
    setting!("lanes", [], Integer, "0", false, "Flushes of one table that may run at once, each on its own connection (at most max_parallelism): rows of a keyed stream go to a lane by a hash of their key, so every version of a key stays in input order; rows without keys take turns by chunk. 1: one flush at a time per table; 0: automatic (max_parallelism, at most this machine's cores, at least 2)."),
    setting!("flush_all_streams", [], Boolean, "false", false, "A full stream flushes every stream."),
    setting!("progress_interval_seconds", [], Integer, "5", false, "Seconds between progress lines during a load (0: a line at every check)."),
    setting!("lock_wait_warning_seconds", [], Integer, "5", false, "A flush or catalog read that has run this long while waiting for a lock held by another session logs one warning naming the table and the blocking sessions."),
    setting!("add_record_metadata", ["add_metadata_columns"], Boolean, "false", false, "Add the columns _sdc_extracted_at, _sdc_received_at, _sdc_batched_at, _sdc_deleted_at, _sdc_sequence and _sdc_table_version."),
    setting!("hard_delete", [], Boolean, "false", false, "Delete the row of a keyed record whose _sdc_deleted_at is set, instead of storing the timestamp."),
    setting!("activate_version", ["process_activate_version_messages"], Boolean, "true", false, "Obey ACTIVATE_VERSION: after a full-table sync, rows of older versions are deleted (hard_delete) or marked in _sdc_deleted_at. Needs add_record_metadata."),
    setting!("validate_records", [], Boolean, "false", false, "Validate every record against its stream's JSON Schema."),
    setting!("invalid_records", [], String, "fail", false, "A record that does not fit: fail (exit 1), skip (count and log it), or dead_letter (store it in _target_postgres_rejects)."),
    setting!("invalid_records_threshold", [], Integer, "0", false, "With skip/dead_letter: fail once more than this many were set aside (0: no limit)."),
    setting!("data_flattening_max_level", ["flattening_max_depth"], Integer, "0", false, "Flatten object properties into parent__child columns, this many levels deep (0: objects are jsonb)."),
    setting!("flattening_enabled", [], Boolean, "", false, "Meltano's switch: false turns flattening off whatever the depth; unset, the depth decides."),
    setting!("sanitize_null_text_characters", [], Boolean, "true", false, "Replace U+0000 in strings with U+FFFD; false makes it an error."),
    setting!("primary_key_required", [], Boolean, "false", false, "Refuse streams without key_properties."),
    setting!("before_run_sql", [], StringList, "", false, "SQL run once after connecting."),
    setting!("after_run_sql", [], StringList, "", false, "SQL run once after the last commit."),
    setting!("stream_name_split", [], Boolean, "true", false, "Stream src-users goes to table users (source schema src)."),
    setting!("citus", [], Object, "", false, "Citus (distributed PostgreSQL): {\"distribute\": true, \"distribution_column\": {\"<stream>\": \"<column>\"}, \"reference_tables\": [\"<stream>\"]}. New keyed tables are created distributed by their first key column (or the named one, which must be in the key), co-located with tables distributed by a column of the same type; listed streams get reference tables; a new table of another stream without a key is an error. Without the citus extension in the database the run stops at start (exit 2). Existing distributed tables load without it (see the README's Citus section)."),
    setting!("stream_maps", [], Object, "", false, "singer-sdk's stream maps: per stream name or glob, `__alias__`, `__source__` (a copy under a new name), `__filter__`, `__key_properties__`, `__else__: null`, and properties removed (null or `__NULL__`) or computed by singer-sdk's expressions (see the README's Stream maps section); a stream mapped to null is not loaded. An expression outside the supported subset stops the run at start (exit 2)."),
    setting!("stream_map_config", [], Object, "", true, "Values stream map expressions read as `config['key']`, such as a hash seed (never printed)."),
    setting!("faker_config", [], Object, "", false, "singer-sdk's Faker settings: accepted so that configurations shared with SDK plugins load, but without effect, since expressions using `fake` (Faker) are refused at start."),
    setting!("_streams", [], Object, "", false, "Mage: {\"columns\": {\"name\": value}} adds these text columns, holding these constant values, to every stream's rows."),
];

/// Keys peers use that mean nothing here: accepted with one info line (what other unknown
/// keys are: `unknown.rs`).
pub(super) const IGNORED_PEER_KEYS: &[&str] = &[
    "use_copy",
    "temp_dir",
    "dialect+driver",
    "dialect",
    "driver_name",
    "batch_wait_limit_seconds",
    "load_via_copy",
    "hook",
    // The SDK's target-side BATCH setting: files are read where the manifest's URLs say.
    "batch_config",
];

/// The spec of a canonical key or an alias; `None` for keys we do not know.
pub(super) fn find_setting(key: &str) -> Option<&'static SettingSpec> {
    SETTINGS
        .iter()
        .find(|spec| spec.name == key || spec.aliases.contains(&key))
}

/// Whether the canonical key `name` holds a secret that no message may repeat.
pub(super) fn is_sensitive(name: &str) -> bool {
    SETTINGS.iter().any(|s| s.name == name && s.sensitive)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_a_description() {
        for spec in SETTINGS {
            assert!(!spec.description.is_empty(), "{}", spec.name);
        }
    }
}
