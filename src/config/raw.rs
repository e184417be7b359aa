//! The raw layer: settings as given, merged from every source by canonical key, with typed
//! getters.
//!
//! Sources are JSON config files, JSON text on the command line, the `config:` section of a
//! Mage settings YAML file and `TARGET_POSTGRES_*` environment variables; later sources win.
//! Every value remembers where it came from, so that a type error names the key and the file
//! (and never echoes a secret). Turning this into [`super::Settings`] is `validate.rs`'s job.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::spec::{find_setting, is_sensitive, Kind, SETTINGS};
use super::unknown::{classify, UnknownKey};
use crate::error::{Error, Result};

/// Where a setting's value came from, for error messages.
#[derive(Debug, Clone)]
pub(super) struct Sourced {
    /// The JSON value as given.
    pub(super) value: Value,
    /// The file, `environment` or `--config_json` it was read from.
    pub(super) origin: String,
}

/// Settings from every source, merged by canonical key; later sources win.
#[derive(Debug, Default)]
pub struct RawConfig {
    values: BTreeMap<&'static str, Sourced>,
}

impl RawConfig {
    /// Merges one JSON object read from `origin`. A key that is not a setting is judged by
    /// [`classify`]: a typo of a setting or a key of another section stops the run (every
    /// such key of the object named in one error); a peer's key gets an info line and any
    /// other key one warning.
    pub fn merge_object(&mut self, object: Map<String, Value>, origin: &str) -> Result<()> {
        let mut mistakes = Vec::new();
        for (key, value) in object {
            if let Some(spec) = find_setting(&key) {
                self.values.insert(
                    spec.name,
                    Sourced {
                        value,
                        origin: origin.to_string(),
                    },
                );
                continue;
            }
            match classify(&key, &value) {
                UnknownKey::Ignored => log::info!(
                    "config: \"{key}\" has no meaning for target-postgres; ignored ({origin})"
                ),
                UnknownKey::Mistake(advice) => {
                    mistakes.push(format!("unknown setting \"{key}\": {advice}"));
                }
                UnknownKey::Unknown => {
                    log::warn!("config: unknown setting \"{key}\" ignored ({origin})");
                }
            }
        }
        if mistakes.is_empty() {
            Ok(())
        } else {
            Err(Error::config(mistakes.join("; "), origin))
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
            Value::Object(object) => self.merge_object(object, origin),
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
            Some(Value::Object(config)) => self.merge_object(config.clone(), &origin),
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
    pub fn merge_environment(&mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<()> {
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
        self.merge_object(object, "environment")
    }

    /// The value of a canonical key with where it came from; JSON `null` counts as unset.
    pub(super) fn get(&self, name: &str) -> Option<&Sourced> {
        self.values
            .get(name)
            .filter(|sourced| !sourced.value.is_null())
    }

    /// A string setting (a number only for `password`).
    pub(super) fn string(&self, name: &str) -> Result<Option<String>> {
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

    /// A whole-number setting, given as a number or as numeric text.
    pub(super) fn integer(&self, name: &str) -> Result<Option<i64>> {
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

    /// A boolean setting: `true`/`false`, the usual words for them, or a number (0: false).
    pub(super) fn boolean(&self, name: &str) -> Result<Option<bool>> {
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

    /// A string or a list of strings; unset is the empty list.
    pub(super) fn string_list(&self, name: &str) -> Result<Vec<String>> {
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

    /// Where a setting came from, or `default` when it is unset.
    pub(super) fn origin(&self, name: &str) -> String {
        self.get(name)
            .map(|s| s.origin.clone())
            .unwrap_or_else(|| "default".to_string())
    }

    /// A whole number of zero or more, else `default` when unset.
    pub(super) fn non_negative(&self, name: &str, default: u64) -> Result<u64> {
        match self.integer(name)? {
            None => Ok(default),
            Some(n) => u64::try_from(n).map_err(|_| {
                Error::config(
                    format!("\"{name}\" must be zero or more, got {n}"),
                    self.origin(name),
                )
            }),
        }
    }

    /// A whole number above zero, else `default` when unset.
    pub(super) fn positive(&self, name: &str, default: usize) -> Result<usize> {
        match self.integer(name)? {
            None => Ok(default),
            Some(n) if n > 0 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
            Some(n) => Err(Error::config(
                format!("\"{name}\" must be a positive number, got {n}"),
                self.origin(name),
            )),
        }
    }
}

/// "`name` must be `expected`", showing the value unless the setting is a secret.
pub(super) fn type_error(name: &str, expected: &str, got: &Value, origin: &str) -> Error {
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

/// "a string", "an object", ... for messages that must not show the value.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::raw;
    use serde_json::json;

    #[test]
    fn aliases_resolve_to_canonical_keys() {
        let settings = raw(
            json!({"postgres_host": "db", "username": "u", "dbname": "d",
            "port": "6543", "default_target_schema": "raw"}),
        )
        .validate(false)
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
        config
            .merge_object(
                json!({"postgres_schema": "b"}).as_object().unwrap().clone(),
                "second.json",
            )
            .unwrap();
        let settings = config.validate(false).unwrap();
        assert_eq!(settings.schema, "b");
        assert_eq!(settings.batch_size_rows, 5);
    }

    #[test]
    fn wrong_type_names_key_and_file() {
        let err = raw(json!({"schema": 5})).validate(false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config: \"schema\" must be a string, got 5 (test.json)"
        );
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn sensitive_values_are_never_echoed_in_type_errors() {
        let err = raw(json!({"password": {"secret": "hunter2"}}))
            .validate(false)
            .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn typos_stop_the_merge_naming_every_key_in_file_order_and_the_file_but_no_value() {
        let mut config = RawConfig::default();
        let object = json!({"shema": "raw", "pasword": "hunter2", "use_copy": true,
                            "bogus_setting_xyz": 1, "host": "db"});
        let err = config
            .merge_object(object.as_object().unwrap().clone(), "config.json")
            .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert_eq!(
            err.to_string(),
            "config: unknown setting \"shema\": did you mean \"schema\"?; \
             unknown setting \"pasword\": did you mean \"password\"? (config.json)"
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn environment_config_reads_target_postgres_variables() {
        let mut config = RawConfig::default();
        config
            .merge_environment(|name| match name {
                "TARGET_POSTGRES_HOST" => Some("envhost".into()),
                "TARGET_POSTGRES_PORT" => Some("7777".into()),
                "TARGET_POSTGRES_LOWER_CASE" => Some("false".into()),
                "TARGET_POSTGRES_BEFORE_RUN_SQL" => Some("[\"select 1\"]".into()),
                _ => None,
            })
            .unwrap();
        let settings = config.validate(false).unwrap();
        assert_eq!(settings.connection.host, "envhost");
        assert_eq!(settings.connection.port, 7777);
        assert!(!settings.lower_case);
        assert_eq!(settings.before_run_sql, vec!["select 1".to_string()]);
    }
}
