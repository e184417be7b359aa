//! Configuration: raw JSON objects from every source, merged, then validated into
//! [`Settings`].
//!
//! One table, [`SETTINGS`], names every key we accept with its aliases, type, default and
//! description. The same table drives alias resolution, unknown-key warnings, type
//! checking and `--about`, so the documentation can never drift from what is parsed.
//! Validation errors name the key and the file it came from and never echo a secret.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

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
    setting!("application_name", [], String, "target-postgres", false, "application_name reported to the server."),
    setting!("connect_timeout_seconds", [], Integer, "10", false, "How long to keep trying to connect at start."),
    setting!("schema", ["default_target_schema", "postgres_schema"], String, "public", false, "Target schema, used verbatim."),
    setting!("schema_mapping", [], Object, "", false, "pipelinewise form {\"<source_schema>\": {\"target_schema\": \"...\"}}: streams named <source_schema>-<table> load into that schema."),
    setting!("table", [], String, "", false, "Mage: every stream of this run goes into this one table (used verbatim)."),
    setting!("skip_schema_creation", [], Boolean, "false", false, "Never run CREATE SCHEMA."),
    setting!("lower_case", [], Boolean, "true", false, "Lower-case column names and table names derived from stream names."),
    setting!("allow_reserved_words", [], Boolean, "false", false, "When false, a column named after a reserved word gets a _ prefix."),
    setting!("load_method", [], String, "upsert", false, "append-only, upsert, or overwrite (the table's rows are replaced by this run's, in one transaction at the end)."),
    setting!("batch_size_rows", [], Integer, "100000", false, "Rows buffered per stream before it flushes."),
    setting!("maximum_batch_size_mb", ["batch_size_mb", "max_batch_size"], Integer, "100", false, "Bound on all buffered data together, in MB."),
    setting!("max_batch_age_seconds", [], Integer, "60", false, "No buffered row (and so no state waiting for it) waits longer than this before a flush."),
    setting!("max_parallelism", ["parallelism"], Integer, "4", false, "Concurrent flushes = pooled connections; 0 or -1 mean automatic."),
    setting!("flush_all_streams", [], Boolean, "false", false, "A full stream flushes every stream."),
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
    setting!("_streams", [], Object, "", false, "Mage: {\"columns\": {\"name\": value}} adds these text columns, holding these constant values, to every stream's rows."),
];

/// Keys peers use that mean nothing here: accepted with one info line.
const IGNORED_PEER_KEYS: &[&str] = &[
    "use_copy",
    "temp_dir",
    "dialect+driver",
    "dialect",
    "driver_name",
    "batch_wait_limit_seconds",
    "load_via_copy",
    "hook",
    "stream_maps",
    "stream_map_config",
    "faker_config",
    // The SDK's target-side BATCH setting: files are read where the manifest's URLs say.
    "batch_config",
];

/// Where a setting's value came from, for error messages.
#[derive(Debug, Clone)]
struct Sourced {
    value: Value,
    origin: String,
}

/// Settings from every source, merged by canonical key; later sources win.
#[derive(Debug, Default)]
pub struct RawConfig {
    values: BTreeMap<&'static str, Sourced>,
}

impl RawConfig {
    /// Merges one JSON object read from `origin`, warning about keys we do not know.
    pub fn merge_object(&mut self, object: Map<String, Value>, origin: &str) {
        for (key, value) in object {
            match find_setting(&key) {
                Some(spec) => {
                    self.values.insert(
                        spec.name,
                        Sourced {
                            value,
                            origin: origin.to_string(),
                        },
                    );
                }
                None if IGNORED_PEER_KEYS.contains(&key.as_str()) => {
                    log::info!(
                        "config: \"{key}\" has no meaning for target-postgres; ignored ({origin})"
                    );
                }
                None => log::warn!("config: unknown setting \"{key}\" ignored ({origin})"),
            }
        }
    }

    /// Reads and merges a JSON config file.
    pub fn merge_file(&mut self, path: &Path) -> Result<()> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config(format!("cannot read config file: {e}"), &origin))?;
        self.merge_json_text(&text, &origin)
    }

    /// Parses and merges a JSON object given as text.
    pub fn merge_json_text(&mut self, text: &str, origin: &str) -> Result<()> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::config(format!("not valid JSON: {e}"), origin))?;
        match value {
            Value::Object(object) => {
                self.merge_object(object, origin);
                Ok(())
            }
            other => Err(Error::config(
                format!("must be a JSON object, got {}", json_type_name(&other)),
                origin,
            )),
        }
    }

    /// Reads a Mage settings YAML file and merges the object under its `config:` key.
    pub fn merge_mage_settings(&mut self, path: &Path) -> Result<()> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config(format!("cannot read settings file: {e}"), &origin))?;
        let settings: Value = serde_yaml_ng::from_str(&text)
            .map_err(|e| Error::config(format!("not valid YAML: {e}"), &origin))?;
        match settings.get("config") {
            Some(Value::Object(config)) => {
                self.merge_object(config.clone(), &origin);
                Ok(())
            }
            None | Some(Value::Null) => Err(Error::config(
                "has no \"config:\" section with the destination's settings",
                &origin,
            )),
            Some(other) => Err(Error::config(
                format!(
                    "\"config:\" must be a mapping, got {}",
                    json_type_name(other)
                ),
                &origin,
            )),
        }
    }

    /// Meltano's `--config ENV`: every setting (and alias) from `TARGET_POSTGRES_<KEY>`.
    pub fn merge_environment(&mut self, lookup: impl Fn(&str) -> Option<String>) {
        let mut object = Map::new();
        for spec in SETTINGS {
            for key in std::iter::once(&spec.name).chain(spec.aliases.iter()) {
                let variable = format!("TARGET_POSTGRES_{}", key.to_ascii_uppercase());
                if let Some(text) = lookup(&variable) {
                    let value = match spec.kind {
                        // Objects and lists arrive as JSON text in the environment.
                        Kind::Object | Kind::StringList => {
                            serde_json::from_str(&text).unwrap_or(Value::String(text))
                        }
                        _ => Value::String(text),
                    };
                    object.insert(spec.name.to_string(), value);
                }
            }
        }
        self.merge_object(object, "environment");
    }

    fn get(&self, name: &str) -> Option<&Sourced> {
        self.values
            .get(name)
            .filter(|sourced| !sourced.value.is_null())
    }

    fn string(&self, name: &str) -> Result<Option<String>> {
        let Some(sourced) = self.get(name) else {
            return Ok(None);
        };
        match &sourced.value {
            Value::String(s) => Ok(Some(s.clone())),
            // A numeric password (`"password": 1234`) is common in hand-written configs and
            // its text is what the user meant; anywhere else a number is a mistake.
            Value::Number(n) if name == "password" => Ok(Some(n.to_string())),
            other => Err(type_error(name, "a string", other, &sourced.origin)),
        }
    }

    fn integer(&self, name: &str) -> Result<Option<i64>> {
        let Some(sourced) = self.get(name) else {
            return Ok(None);
        };
        let parsed = match &sourced.value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        parsed
            .map(Some)
            .ok_or_else(|| type_error(name, "a whole number", &sourced.value, &sourced.origin))
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>> {
        let Some(sourced) = self.get(name) else {
            return Ok(None);
        };
        let parsed = match &sourced.value {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Some(true),
                "false" | "0" | "no" | "off" | "" => Some(false),
                _ => None,
            },
            Value::Number(n) => n.as_i64().map(|n| n != 0),
            _ => None,
        };
        parsed
            .map(Some)
            .ok_or_else(|| type_error(name, "true or false", &sourced.value, &sourced.origin))
    }

    fn string_list(&self, name: &str) -> Result<Vec<String>> {
        let Some(sourced) = self.get(name) else {
            return Ok(Vec::new());
        };
        match &sourced.value {
            Value::String(s) => Ok(vec![s.clone()]),
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(type_error(
                        name,
                        "a list of strings",
                        other,
                        &sourced.origin,
                    )),
                })
                .collect(),
            other => Err(type_error(
                name,
                "a string or a list of strings",
                other,
                &sourced.origin,
            )),
        }
    }

    fn origin(&self, name: &str) -> String {
        self.get(name)
            .map(|s| s.origin.clone())
            .unwrap_or_else(|| "default".to_string())
    }

    /// Validates everything into [`Settings`].
    pub fn validate(&self) -> Result<Settings> {
        let connection = self.connection()?;

        let load_method = match self.string("load_method")?.as_deref() {
            None | Some("upsert") => LoadMethod::Upsert,
            Some("append-only") | Some("append_only") | Some("append") => LoadMethod::AppendOnly,
            Some("overwrite") => LoadMethod::Overwrite,
            Some(other) => {
                return Err(Error::config(
                    format!(
                        "\"load_method\" must be append-only, upsert or overwrite, got \"{other}\""
                    ),
                    self.origin("load_method"),
                ))
            }
        };
        let invalid_records = match self.string("invalid_records")?.as_deref() {
            None | Some("fail") => InvalidRecords::Fail,
            Some("skip") => InvalidRecords::Skip,
            Some("dead_letter") | Some("dead-letter") => InvalidRecords::DeadLetter,
            Some(other) => {
                return Err(Error::config(
                    format!(
                        "\"invalid_records\" must be fail, skip or dead_letter, got \"{other}\""
                    ),
                    self.origin("invalid_records"),
                ))
            }
        };

        let batch_size_rows = self.positive("batch_size_rows", 100_000)?;
        // Bounded so that deadlines computed from it cannot overflow a clock (a day is far
        // beyond any useful age).
        let max_batch_age =
            Duration::from_secs(self.positive("max_batch_age_seconds", 60)?.min(86_400) as u64);
        let maximum_batch_size_mb = self.positive("maximum_batch_size_mb", 100)?;
        let parallelism = match self.integer("max_parallelism")?.unwrap_or(4) {
            n if n <= 0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .clamp(2, 16),
            n => usize::try_from(n).unwrap_or(16).min(64),
        };

        Ok(Settings {
            connection,
            schema: self
                .string("schema")?
                .unwrap_or_else(|| "public".to_string()),
            table: self.string("table")?.filter(|t| !t.is_empty()),
            skip_schema_creation: self.boolean("skip_schema_creation")?.unwrap_or(false),
            lower_case: self.boolean("lower_case")?.unwrap_or(true),
            allow_reserved_words: self.boolean("allow_reserved_words")?.unwrap_or(false),
            load_method,
            batch_size_rows,
            max_buffer_bytes: maximum_batch_size_mb.saturating_mul(1024 * 1024),
            max_batch_age,
            max_parallelism: parallelism,
            flush_all_streams: self.boolean("flush_all_streams")?.unwrap_or(false),
            activate_version: self.boolean("activate_version")?.unwrap_or(true),
            validate_records: self.boolean("validate_records")?.unwrap_or(false),
            sanitize_null_text_characters: self
                .boolean("sanitize_null_text_characters")?
                .unwrap_or(true),
            primary_key_required: self.boolean("primary_key_required")?.unwrap_or(false),
            before_run_sql: self.string_list("before_run_sql")?,
            after_run_sql: self.string_list("after_run_sql")?,
            stream_name_split: self.boolean("stream_name_split")?.unwrap_or(true),
            schema_mapping: self.schema_mapping()?,
            add_record_metadata: self.boolean("add_record_metadata")?.unwrap_or(false),
            hard_delete: self.boolean("hard_delete")?.unwrap_or(false),
            invalid_records,
            invalid_records_threshold: self
                .integer("invalid_records_threshold")?
                .map_or(0, |n| u64::try_from(n).unwrap_or(0)),
            flattening_max_level: match self.boolean("flattening_enabled")? {
                Some(false) => 0,
                _ => self
                    .integer("data_flattening_max_level")?
                    .map_or(0, |n| usize::try_from(n.clamp(0, 32)).unwrap_or(0)),
            },
            constant_columns: self.constant_columns()?,
            mage_mode: false,
            catalog: None,
        })
    }

    /// Mage's `_streams`: only its `columns` object means something here (`partition_keys`
    /// is for file destinations). Values are stored as text, as Mage types them.
    fn constant_columns(&self) -> Result<Vec<(String, String)>> {
        let Some(sourced) = self.get("_streams") else {
            return Ok(Vec::new());
        };
        let columns = match &sourced.value {
            Value::Object(streams) => streams.get("columns"),
            other => return Err(type_error("_streams", "an object", other, &sourced.origin)),
        };
        match columns {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Object(columns)) => Ok(columns
                .iter()
                .map(|(name, value)| {
                    let json_text = match value {
                        Value::String(_) | Value::Null => value.to_string(),
                        other => Value::String(other.to_string()).to_string(),
                    };
                    (name.clone(), json_text)
                })
                .collect()),
            Some(other) => Err(type_error(
                "_streams.columns",
                "an object",
                other,
                &sourced.origin,
            )),
        }
    }

    fn schema_mapping(&self) -> Result<Vec<(String, String)>> {
        let Some(sourced) = self.get("schema_mapping") else {
            return Ok(Vec::new());
        };
        let Value::Object(mapping) = &sourced.value else {
            return Err(type_error(
                "schema_mapping",
                "an object",
                &sourced.value,
                &sourced.origin,
            ));
        };
        mapping
            .iter()
            .map(|(source, target)| {
                match target.get("target_schema").and_then(Value::as_str) {
                    Some(schema) => Ok((source.clone(), schema.to_string())),
                    None => Err(Error::config(
                        format!("\"schema_mapping\".\"{source}\" must be an object with a \"target_schema\" string"),
                        &sourced.origin,
                    )),
                }
            })
            .collect()
    }

    fn positive(&self, name: &str, default: usize) -> Result<usize> {
        match self.integer(name)? {
            None => Ok(default),
            Some(n) if n > 0 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
            Some(n) => Err(Error::config(
                format!("\"{name}\" must be a positive number, got {n}"),
                self.origin(name),
            )),
        }
    }

    /// A certificate or key setting, else its libpq environment variable; empty means unset.
    fn pem_setting(
        &self,
        name: &'static str,
        variable: &'static str,
        system_allowed: bool,
    ) -> Result<Option<PemSetting>> {
        let (value, origin) = match self.string(name)?.filter(|v| !v.trim().is_empty()) {
            Some(value) => (value, self.origin(name)),
            None => match std::env::var(variable)
                .ok()
                .filter(|v| !v.trim().is_empty())
            {
                Some(value) => (value, variable.to_string()),
                None => return Ok(None),
            },
        };
        Ok(Some(PemSetting {
            key: name,
            origin,
            source: PemSource::parse(&value, system_allowed),
        }))
    }

    fn connection(&self) -> Result<ConnectionSettings> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let port = match self.integer("port")? {
            Some(port) => u16::try_from(port).map_err(|_| {
                Error::config(
                    format!("\"port\" must be 1-65535, got {port}"),
                    self.origin("port"),
                )
            })?,
            None => env("PGPORT").and_then(|p| p.parse().ok()).unwrap_or(5432),
        };
        // Meltano's `ssl_enable: false` switches its other ssl_* settings off, however they
        // are set (its hub definition fills them with defaults such as verify-full).
        let ssl_disabled_by_meltano = self.boolean("ssl_enable")? == Some(false);
        if ssl_disabled_by_meltano
            && [
                "ssl_mode",
                "ssl_root_cert",
                "ssl_client_cert",
                "ssl_client_key",
            ]
            .iter()
            .any(|key| self.get(key).is_some())
        {
            log::info!(
                "config: ssl_enable is false, so ssl_mode and the ssl certificate settings are ignored ({})",
                self.origin("ssl_enable")
            );
        }
        let ssl_mode_setting = if ssl_disabled_by_meltano {
            None
        } else {
            self.string("ssl_mode")?
        };
        let ssl_mode = match ssl_mode_setting {
            Some(mode) => SslMode::parse(&mode).ok_or_else(|| {
                Error::config(
                    format!("\"ssl_mode\" must be disable, prefer, require, verify-ca or verify-full, got \"{mode}\""),
                    self.origin("ssl_mode"),
                )
            })?,
            None if self.boolean("ssl_enable")?.unwrap_or(false) => SslMode::Require,
            None => env("PGSSLMODE")
                .and_then(|m| SslMode::parse(&m))
                .unwrap_or(SslMode::Prefer),
        };
        let (ssl_root_cert, ssl_client_cert, ssl_client_key) = if ssl_disabled_by_meltano {
            (None, None, None)
        } else {
            (
                self.pem_setting("ssl_root_cert", "PGSSLROOTCERT", true)?,
                self.pem_setting("ssl_client_cert", "PGSSLCERT", false)?,
                self.pem_setting("ssl_client_key", "PGSSLKEY", false)?,
            )
        };
        let user = self
            .string("user")?
            .or_else(|| env("PGUSER"))
            .or_else(|| env("USER"))
            .unwrap_or_else(|| "postgres".to_string());
        let database = self
            .string("database")?
            .or_else(|| env("PGDATABASE"))
            .unwrap_or_else(|| user.clone());
        let host = self
            .string("host")?
            .or_else(|| env("PGHOST"))
            .unwrap_or_else(|| "localhost".to_string());
        let url = self.string("url")?.filter(|u| !u.is_empty());
        if let Some(url) = &url {
            let scheme = url.split("://").next().unwrap_or_default();
            let base = scheme.split('+').next().unwrap_or_default();
            if !url.contains("://") || !(base == "postgres" || base == "postgresql") {
                // The URL may hold a password: name the key, not the value.
                return Err(Error::config(
                    "\"url\" must start with postgres:// or postgresql://",
                    self.origin("url"),
                ));
            }
        }
        let connect_timeout = self.positive("connect_timeout_seconds", 10)?.min(86_400);
        Ok(ConnectionSettings {
            host,
            port,
            user,
            password: self.string("password")?.or_else(|| env("PGPASSWORD")),
            database,
            url,
            ssl_mode,
            ssl_root_cert,
            ssl_client_cert,
            ssl_client_key,
            application_name: self
                .string("application_name")?
                .unwrap_or_else(|| "target-postgres".to_string()),
            connect_timeout: Duration::from_secs(connect_timeout as u64),
        })
    }
}

fn is_sensitive(name: &str) -> bool {
    SETTINGS.iter().any(|s| s.name == name && s.sensitive)
}

fn find_setting(key: &str) -> Option<&'static SettingSpec> {
    SETTINGS
        .iter()
        .find(|spec| spec.name == key || spec.aliases.contains(&key))
}

fn type_error(name: &str, expected: &str, got: &Value, origin: &str) -> Error {
    let shown = if is_sensitive(name) {
        json_type_name(got).to_string()
    } else {
        crate::error::excerpt(&got.to_string())
    };
    Error::config(
        format!("\"{name}\" must be {expected}, got {shown}"),
        origin,
    )
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

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

/// TLS policy, as libpq names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS if the server offers it.
    Prefer,
    /// TLS, no certificate check.
    Require,
    /// TLS, certificate chain checked.
    VerifyCa,
    /// TLS, chain and host name checked.
    VerifyFull,
}

impl SslMode {
    /// libpq's names (and `allow`, taken as prefer); `None` for anything else.
    pub fn parse(text: &str) -> Option<SslMode> {
        match text.trim().to_ascii_lowercase().as_str() {
            "disable" => Some(SslMode::Disable),
            "allow" | "prefer" => Some(SslMode::Prefer),
            "require" => Some(SslMode::Require),
            "verify-ca" | "verify_ca" => Some(SslMode::VerifyCa),
            "verify-full" | "verify_full" => Some(SslMode::VerifyFull),
            _ => None,
        }
    }

    /// The libpq name.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where and how to connect.
#[derive(Clone)]
pub struct ConnectionSettings {
    /// Host name or socket directory.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Role name.
    pub user: String,
    /// Password, when given (else ~/.pgpass is consulted).
    pub password: Option<String>,
    /// Database name.
    pub database: String,
    /// A full URL that wins over the fields above.
    pub url: Option<String>,
    /// TLS policy (a `sslmode` in the URL wins).
    pub ssl_mode: SslMode,
    /// CA certificates to trust (a `sslrootcert` in the URL wins).
    pub ssl_root_cert: Option<PemSetting>,
    /// Client certificate (a `sslcert` in the URL wins).
    pub ssl_client_cert: Option<PemSetting>,
    /// Client certificate's private key (a `sslkey` in the URL wins).
    pub ssl_client_key: Option<PemSetting>,
    /// Reported to the server.
    pub application_name: String,
    /// How long to keep trying at start.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for ConnectionSettings {
    // Hand-written so a password or a URL holding one never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("database", &self.database)
            .field("url", &self.url.as_ref().map(|_| "***"))
            .field("ssl_mode", &self.ssl_mode)
            .field("ssl_root_cert", &self.ssl_root_cert)
            .field("ssl_client_cert", &self.ssl_client_cert)
            .field("ssl_client_key", &self.ssl_client_key)
            .finish()
    }
}

/// A certificate or key setting, with where it came from for error messages.
#[derive(Debug, Clone)]
pub struct PemSetting {
    /// The key it was given under (`ssl_root_cert`, or `sslrootcert` in the URL).
    pub key: &'static str,
    /// The config file, `environment`, a libpq variable or `url`.
    pub origin: String,
    /// The file or the text.
    pub source: PemSource,
}

impl PemSetting {
    /// Whether it holds a private key, which no message may repeat.
    pub fn is_secret(&self) -> bool {
        // The settings table marks secrets; `sslkey` is the same key given in the URL.
        is_sensitive(self.key) || self.key == "sslkey"
    }
}

/// Where PEM data is: SPEC §2 takes a file path or the PEM text itself.
#[derive(Clone)]
pub enum PemSource {
    /// A file to read.
    File(std::path::PathBuf),
    /// The PEM text itself (the value contains `-----BEGIN`).
    Text(String),
    /// libpq's `sslrootcert=system`: the operating system's trust store.
    System,
}

impl PemSource {
    /// Text holding a PEM header is PEM; `system` (where allowed) is the OS trust store;
    /// anything else is a path.
    pub fn parse(value: &str, system_allowed: bool) -> PemSource {
        if value.contains("-----BEGIN") {
            PemSource::Text(value.to_string())
        } else if system_allowed && value.trim() == "system" {
            PemSource::System
        } else {
            PemSource::File(std::path::PathBuf::from(value.trim()))
        }
    }
}

impl std::fmt::Debug for PemSource {
    // Hand-written so that key material never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PemSource::File(path) => write!(f, "File({path:?})"),
            PemSource::Text(_) => f.write_str("Text(***)"),
            PemSource::System => f.write_str("System"),
        }
    }
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
    /// Flush workers and pooled connections.
    pub max_parallelism: usize,
    /// A full stream flushes every stream.
    pub flush_all_streams: bool,
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
    /// Levels of object properties flattened into `parent__child` columns.
    pub flattening_max_level: usize,
    /// What happens to a record that does not fit.
    pub invalid_records: InvalidRecords,
    /// Records set aside before the run fails anyway (0: no limit).
    pub invalid_records_threshold: u64,
    /// Mage's `_streams.columns`: (property name, JSON text of its constant string value).
    pub constant_columns: Vec<(String, String)>,
    /// Started the way Mage starts destinations (any of its flags): `_mage_created_at` and
    /// `_mage_updated_at` columns, Mage's JSON values in strings, skipped non-JSON lines.
    /// Set from the command line, not from a config key.
    pub mage_mode: bool,
    /// Mage's `--catalog_json` (from the command line).
    pub catalog: Option<crate::mage::catalog::Catalog>,
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

/// Reads every source into validated settings.
pub fn load(sources: &[Source]) -> Result<Settings> {
    let mut raw = RawConfig::default();
    for source in sources {
        match source {
            Source::File(path) => raw.merge_file(Path::new(path))?,
            Source::Environment => raw.merge_environment(|name| std::env::var(name).ok()),
            Source::JsonText(text) => raw.merge_json_text(text, "--config_json")?,
            Source::MageSettings(path) => raw.merge_mage_settings(Path::new(path))?,
        }
    }
    raw.validate()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(value: Value) -> RawConfig {
        let mut raw = RawConfig::default();
        if let Value::Object(map) = value {
            raw.merge_object(map, "test.json");
        }
        raw
    }

    #[test]
    fn meltano_ssl_enable_false_turns_the_other_ssl_settings_off() {
        let settings = raw(json!({"ssl_enable": false, "ssl_mode": "verify-full",
                                  "ssl_certificate_authority": "~/.postgresql/root.crl"}))
        .validate()
        .unwrap();
        assert_eq!(settings.connection.ssl_mode.as_str(), "prefer");
        assert!(settings.connection.ssl_root_cert.is_none());
        let settings = raw(json!({"ssl_enable": true})).validate().unwrap();
        assert_eq!(settings.connection.ssl_mode.as_str(), "require");
        let settings = raw(json!({"sslmode": "verify-ca"})).validate().unwrap();
        assert_eq!(settings.connection.ssl_mode.as_str(), "verify-ca");
    }

    #[test]
    fn aliases_resolve_to_canonical_keys() {
        let settings = raw(
            json!({"postgres_host": "db", "username": "u", "dbname": "d",
            "port": "6543", "default_target_schema": "raw"}),
        )
        .validate()
        .unwrap();
        assert_eq!(settings.connection.host, "db");
        assert_eq!(settings.connection.user, "u");
        assert_eq!(settings.connection.database, "d");
        assert_eq!(settings.connection.port, 6543);
        assert_eq!(settings.schema, "raw");
    }

    #[test]
    fn later_sources_win() {
        let mut config = raw(json!({"schema": "a", "batch_size_rows": 5}));
        config.merge_object(
            json!({"postgres_schema": "b"}).as_object().unwrap().clone(),
            "second.json",
        );
        let settings = config.validate().unwrap();
        assert_eq!(settings.schema, "b");
        assert_eq!(settings.batch_size_rows, 5);
    }

    #[test]
    fn wrong_type_names_key_and_file() {
        let err = raw(json!({"schema": 5})).validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "config: \"schema\" must be a string, got 5 (test.json)"
        );
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn sensitive_values_are_never_echoed() {
        let err = raw(json!({"password": {"secret": "hunter2"}}))
            .validate()
            .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = raw(json!({"url": "mysql://u:hunter2@h/d"}))
            .validate()
            .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let settings = raw(json!({"password": "hunter2"})).validate().unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn environment_config_reads_target_postgres_variables() {
        let mut config = RawConfig::default();
        config.merge_environment(|name| match name {
            "TARGET_POSTGRES_HOST" => Some("envhost".into()),
            "TARGET_POSTGRES_PORT" => Some("7777".into()),
            "TARGET_POSTGRES_LOWER_CASE" => Some("false".into()),
            "TARGET_POSTGRES_BEFORE_RUN_SQL" => Some("[\"select 1\"]".into()),
            _ => None,
        });
        let settings = config.validate().unwrap();
        assert_eq!(settings.connection.host, "envhost");
        assert_eq!(settings.connection.port, 7777);
        assert!(!settings.lower_case);
        assert_eq!(settings.before_run_sql, vec!["select 1".to_string()]);
    }

    #[test]
    fn huge_durations_are_capped_not_overflowed() {
        let settings =
            raw(json!({"max_batch_age_seconds": i64::MAX, "connect_timeout_seconds": i64::MAX}))
                .validate()
                .unwrap();
        assert_eq!(settings.max_batch_age, Duration::from_secs(86_400));
        assert_eq!(
            settings.connection.connect_timeout,
            Duration::from_secs(86_400)
        );
    }

    #[test]
    fn bad_load_method_is_a_config_error() {
        let err = raw(json!({"load_method": "merge"})).validate().unwrap_err();
        assert!(err.to_string().contains("load_method"), "{err}");
    }

    #[test]
    fn automatic_parallelism_for_pipelinewise_zero() {
        let settings = raw(json!({"max_parallelism": 0})).validate().unwrap();
        assert!(settings.max_parallelism >= 2);
    }

    #[test]
    fn every_setting_has_a_description() {
        for spec in SETTINGS {
            assert!(!spec.description.is_empty(), "{}", spec.name);
        }
    }

    #[test]
    fn certificate_settings_are_pem_text_system_or_a_path_and_key_text_is_never_shown() {
        let key_text = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----";
        let settings = raw(json!({
            "ssl_mode": "verify-full",
            "ssl_certificate_authority": "system",
            "ssl_client_certificate": " /etc/client.pem ",
            "ssl_client_private_key": key_text,
        }))
        .validate()
        .unwrap();
        let connection = &settings.connection;
        assert_eq!(connection.ssl_mode, SslMode::VerifyFull);
        let root = connection.ssl_root_cert.as_ref().unwrap();
        assert!(matches!(root.source, PemSource::System));
        assert_eq!(root.origin, "test.json");
        let cert = connection.ssl_client_cert.as_ref().unwrap();
        assert!(
            matches!(&cert.source, PemSource::File(p) if p.as_os_str() == "/etc/client.pem"),
            "{cert:?}"
        );
        let key = connection.ssl_client_key.as_ref().unwrap();
        assert!(matches!(&key.source, PemSource::Text(t) if t == key_text));
        assert!(!format!("{settings:?}").contains("c2VjcmV0"));
        // `system` means the trust store only for root certificates.
        assert!(matches!(
            PemSource::parse("system", false),
            PemSource::File(_)
        ));
    }
}
