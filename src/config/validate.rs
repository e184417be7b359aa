//! The validated layer: the raw config checked and turned into [`Settings`], with every
//! default applied and every enumeration parsed.
//!
//! Values that would be unsafe as given are bounded here (durations to a day, parallelism to
//! 64, flattening to 32 levels), so the rest of the program can use them without checks.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::raw::{type_error, RawConfig};
use super::{InvalidRecords, LoadMethod, Settings};
use crate::error::{Error, Result};
use crate::maps::StreamMaps;

impl RawConfig {
    /// Validates everything into [`Settings`]; `mage_mode` comes from the command line.
    pub fn validate(&self, mage_mode: bool) -> Result<Settings> {
        let connection = self.connection()?;
        let load_method = self.load_method()?;
        let invalid_records = self.invalid_records()?;
        let batch_size_rows = self.positive("batch_size_rows", 100_000)?;
        // Bounded so that deadlines computed from it cannot overflow a clock (a day is far
        // beyond any useful age).
        let max_batch_age =
            Duration::from_secs(self.positive("max_batch_age_seconds", 60)?.min(86_400) as u64);
        let maximum_batch_size_mb = self.positive("maximum_batch_size_mb", 100)?;
        let flush_chunk_mb = self.positive("flush_chunk_mb", 4)?;
        let max_parallelism = self.max_parallelism()?;
        let lanes = self.lanes(max_parallelism)?;
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
            flush_chunk_bytes: flush_chunk_mb.saturating_mul(1024 * 1024),
            max_parallelism,
            lanes,
            flush_all_streams: self.boolean("flush_all_streams")?.unwrap_or(false),
            progress_interval: Duration::from_secs(
                self.non_negative("progress_interval_seconds", 5)?
                    .min(86_400),
            ),
            lock_wait_warning: Duration::from_secs(
                self.positive("lock_wait_warning_seconds", 5)?.min(86_400) as u64,
            ),
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
            citus: self.citus()?,
            invalid_records,
            invalid_records_threshold: self
                .integer("invalid_records_threshold")?
                .map_or(0, |n| u64::try_from(n).unwrap_or(0)),
            flattening_max_level: self.flattening_max_level()?,
            constant_columns: self.constant_columns()?,
            stream_maps: self.stream_maps()?,
            mage_mode,
        })
    }

    /// `load_method`: upsert unless told otherwise.
    fn load_method(&self) -> Result<LoadMethod> {
        match self.string("load_method")?.as_deref() {
            None | Some("upsert") => Ok(LoadMethod::Upsert),
            Some("append-only") | Some("append_only") | Some("append") => {
                Ok(LoadMethod::AppendOnly)
            }
            Some("overwrite") => Ok(LoadMethod::Overwrite),
            Some(other) => Err(Error::config(
                format!(
                    "\"load_method\" must be append-only, upsert or overwrite, got \"{other}\""
                ),
                self.origin("load_method"),
            )),
        }
    }

    /// `invalid_records`: fail unless told otherwise.
    fn invalid_records(&self) -> Result<InvalidRecords> {
        match self.string("invalid_records")?.as_deref() {
            None | Some("fail") => Ok(InvalidRecords::Fail),
            Some("skip") => Ok(InvalidRecords::Skip),
            Some("dead_letter") | Some("dead-letter") => Ok(InvalidRecords::DeadLetter),
            Some(other) => Err(Error::config(
                format!("\"invalid_records\" must be fail, skip or dead_letter, got \"{other}\""),
                self.origin("invalid_records"),
            )),
        }
    }

    /// `max_parallelism`, with 0 or less meaning the machine's cores (2 to 16), at most 64.
    fn max_parallelism(&self) -> Result<usize> {
        Ok(match self.integer("max_parallelism")?.unwrap_or(4) {
            n if n <= 0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .clamp(2, 16),
            n => usize::try_from(n).unwrap_or(16).min(64),
        })
    }

    /// `lanes`: 0 (the default) means as many as `max_parallelism` allows, but no more than
    /// this machine's cores (and at least 2): each lane keeps a server backend busy, and a
    /// loader on a small machine usually talks to a server no bigger. More lanes than
    /// connections could never run at once, so asking for them is an error.
    fn lanes(&self, max_parallelism: usize) -> Result<usize> {
        match self.integer("lanes")?.unwrap_or(0) {
            0 => Ok(std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .clamp(2, 8)
                .min(max_parallelism)),
            n if n < 0 => Err(Error::config(
                format!("\"lanes\" must be 0 (automatic) or a positive number, got {n}"),
                self.origin("lanes"),
            )),
            n => {
                let lanes = usize::try_from(n).unwrap_or(usize::MAX);
                if lanes > max_parallelism {
                    return Err(Error::config(
                        format!(
                            "\"lanes\" is {lanes} but \"max_parallelism\" is {max_parallelism}: \
                             each lane needs a connection of its own; raise max_parallelism or \
                             lower lanes"
                        ),
                        self.origin("lanes"),
                    ));
                }
                Ok(lanes)
            }
        }
    }

    /// `data_flattening_max_level` (0 to 32), unless Meltano's `flattening_enabled` is false.
    fn flattening_max_level(&self) -> Result<usize> {
        Ok(match self.boolean("flattening_enabled")? {
            Some(false) => 0,
            _ => self
                .integer("data_flattening_max_level")?
                .map_or(0, |n| usize::try_from(n.clamp(0, 32)).unwrap_or(0)),
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

    /// `stream_maps` and `stream_map_config`: every expression parsed and checked now, so
    /// that a refused one stops the run before any input is read.
    fn stream_maps(&self) -> Result<Option<Arc<StreamMaps>>> {
        let stream_maps = self.get("stream_maps");
        let config = self.get("stream_map_config");
        for (name, sourced) in [("stream_maps", stream_maps), ("stream_map_config", config)] {
            if let Some(sourced) = sourced.filter(|s| !s.value.is_object()) {
                return Err(type_error(
                    name,
                    "an object",
                    &sourced.value,
                    &sourced.origin,
                ));
            }
        }
        StreamMaps::from_settings(stream_maps.map(|s| &s.value), config.map(|s| &s.value))
            .map(|maps| maps.map(Arc::new))
            .map_err(|message| Error::config(message, self.origin("stream_maps")))
    }

    /// pipelinewise's `schema_mapping`: (source schema, target schema) pairs.
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::raw;
    use serde_json::json;

    #[test]
    fn huge_durations_are_capped_not_overflowed() {
        let settings = raw(json!({"max_batch_age_seconds": i64::MAX,
                                  "connect_timeout_seconds": i64::MAX,
                                  "progress_interval_seconds": i64::MAX}))
        .validate(false)
        .unwrap();
        assert_eq!(settings.max_batch_age, Duration::from_secs(86_400));
        assert_eq!(
            settings.connection.connect_timeout,
            Duration::from_secs(86_400)
        );
        assert_eq!(settings.progress_interval, Duration::from_secs(86_400));
    }

    #[test]
    fn flush_chunk_and_progress_interval_are_settings() {
        let settings = raw(json!({})).validate(false).unwrap();
        assert_eq!(settings.flush_chunk_bytes, 4 * 1024 * 1024);
        assert_eq!(settings.progress_interval, Duration::from_secs(5));
        let settings = raw(json!({"flush_chunk_mb": "16", "progress_interval_seconds": 0}))
            .validate(false)
            .unwrap();
        assert_eq!(settings.flush_chunk_bytes, 16 * 1024 * 1024);
        assert_eq!(settings.progress_interval, Duration::ZERO);
        let err = raw(json!({"flush_chunk_mb": 0}))
            .validate(false)
            .unwrap_err();
        assert!(err.to_string().contains("\"flush_chunk_mb\""), "{err}");
        let err = raw(json!({"progress_interval_seconds": -1}))
            .validate(false)
            .unwrap_err();
        assert!(
            err.to_string().contains("\"progress_interval_seconds\""),
            "{err}"
        );
    }

    #[test]
    fn lanes_default_to_what_the_connections_and_cores_allow_and_never_exceed_the_connections() {
        let settings = raw(json!({})).validate(false).unwrap();
        assert!((2..=settings.max_parallelism).contains(&settings.lanes));
        let settings = raw(json!({"max_parallelism": 1})).validate(false).unwrap();
        assert_eq!(settings.lanes, 1);
        let settings = raw(json!({"lanes": 1})).validate(false).unwrap();
        assert_eq!(settings.lanes, 1);
        let settings = raw(json!({"lanes": 3, "max_parallelism": 3}))
            .validate(false)
            .unwrap();
        assert_eq!(settings.lanes, 3);
        let err = raw(json!({"lanes": 5, "max_parallelism": 4}))
            .validate(false)
            .unwrap_err();
        assert!(
            err.to_string().contains("\"max_parallelism\" is 4"),
            "{err}"
        );
        let err = raw(json!({"lanes": -1})).validate(false).unwrap_err();
        assert!(err.to_string().contains("\"lanes\""), "{err}");
    }

    #[test]
    fn session_timeouts_and_lock_wait_warning_are_settings() {
        use crate::config::SessionTimeouts;
        let settings = raw(json!({})).validate(false).unwrap();
        assert_eq!(settings.connection.session_timeouts, SessionTimeouts::Off);
        assert_eq!(settings.lock_wait_warning, Duration::from_secs(5));
        let settings =
            raw(json!({"session_timeouts": "server", "lock_wait_warning_seconds": "30"}))
                .validate(false)
                .unwrap();
        assert_eq!(
            settings.connection.session_timeouts,
            SessionTimeouts::Server
        );
        assert_eq!(settings.lock_wait_warning, Duration::from_secs(30));
        let err = raw(json!({"lock_wait_warning_seconds": 0}))
            .validate(false)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("\"lock_wait_warning_seconds\" must be a positive number"),
            "{err}"
        );
    }

    #[test]
    fn bad_load_method_is_a_config_error() {
        let err = raw(json!({"load_method": "merge"}))
            .validate(false)
            .unwrap_err();
        assert!(err.to_string().contains("load_method"), "{err}");
    }

    #[test]
    fn automatic_parallelism_for_pipelinewise_zero() {
        let settings = raw(json!({"max_parallelism": 0})).validate(false).unwrap();
        assert!(settings.max_parallelism >= 2);
    }
}
