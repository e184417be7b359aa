//! The `citus` setting: what the loader does with the tables it creates in a Citus database.
//!
//! `{"distribute": true, "distribution_column": {"<stream>": "<column>"},
//! "reference_tables": ["<stream>"]}`. Every key is optional; the object itself says "this
//! database is Citus", which the loader checks at start (no extension: exit 2), so a setting
//! meant for Citus is never silently ignored on a plain PostgreSQL. Existing tables are loaded
//! as they are (distributed or not) with or without the setting.

use serde_json::{Map, Value};

use super::raw::{type_error, RawConfig};
use crate::error::{Error, Result};

/// The validated `citus` setting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CitusSettings {
    /// Create new keyed tables distributed (by the first key column, unless
    /// `distribution_columns` names another).
    pub distribute: bool,
    /// Stream name → the column (as created, after name cleaning) to distribute its table by.
    pub distribution_columns: Vec<(String, String)>,
    /// Streams whose new tables are reference tables (a copy on every node).
    pub reference_tables: Vec<String>,
    /// Where the setting came from, for the error when the database has no Citus.
    pub origin: String,
}

impl CitusSettings {
    /// The column `stream`'s table is to be distributed by, when configured.
    pub fn distribution_column(&self, stream: &str) -> Option<&str> {
        self.distribution_columns
            .iter()
            .find(|(name, _)| name == stream)
            .map(|(_, column)| column.as_str())
    }

    /// Whether `stream`'s new table is to be a reference table.
    pub fn is_reference_table(&self, stream: &str) -> bool {
        self.reference_tables.iter().any(|name| name == stream)
    }
}

const KEYS: [&str; 3] = ["distribute", "distribution_column", "reference_tables"];

impl RawConfig {
    /// `citus`: `None` when unset (or null).
    pub(super) fn citus(&self) -> Result<Option<CitusSettings>> {
        let Some(sourced) = self.get("citus") else {
            return Ok(None);
        };
        let origin = &sourced.origin;
        let object = match &sourced.value {
            Value::Null => return Ok(None),
            Value::Object(object) => object,
            other => return Err(type_error("citus", "an object", other, origin)),
        };
        match parse(object) {
            Ok(settings) => Ok(Some(CitusSettings {
                origin: origin.clone(),
                ..settings
            })),
            Err(message) => Err(Error::config(message, origin)),
        }
    }
}

/// The object's keys, checked.
fn parse(object: &Map<String, Value>) -> std::result::Result<CitusSettings, String> {
    if let Some(unknown) = object.keys().find(|key| !KEYS.contains(&key.as_str())) {
        return Err(format!(
            "\"citus\" has no key \"{unknown}\" (it takes {})",
            KEYS.map(|k| format!("\"{k}\"")).join(", ")
        ));
    }
    let distribute = match object.get("distribute") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(text)) if text == "true" || text == "false" => text == "true",
        Some(_) => return Err("\"citus\".\"distribute\" must be true or false".into()),
    };
    let distribution_columns =
        match object.get("distribution_column") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(columns)) => columns
                .iter()
                .map(|(stream, column)| match column.as_str() {
                    Some(column) if !column.is_empty() => Ok((stream.clone(), column.to_string())),
                    _ => Err(format!(
                        "\"citus\".\"distribution_column\".\"{stream}\" must be a column name"
                    )),
                })
                .collect::<std::result::Result<_, _>>()?,
            Some(_) => return Err(
                "\"citus\".\"distribution_column\" must be an object: {\"<stream>\": \"<column>\"}"
                    .into(),
            ),
        };
    let reference_tables = match object.get("reference_tables") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(streams)) => streams
            .iter()
            .map(|stream| {
                stream.as_str().map(str::to_string).ok_or_else(|| {
                    "\"citus\".\"reference_tables\" must be a list of stream names".to_string()
                })
            })
            .collect::<std::result::Result<_, _>>()?,
        Some(_) => {
            return Err("\"citus\".\"reference_tables\" must be a list of stream names".into())
        }
    };
    if let Some((stream, _)) = distribution_columns
        .iter()
        .find(|(stream, _)| reference_tables.contains(stream))
    {
        return Err(format!(
            "\"citus\": stream \"{stream}\" has a distribution column and is a reference table; \
             it can be only one"
        ));
    }
    Ok(CitusSettings {
        distribute,
        distribution_columns,
        reference_tables,
        origin: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(value: Value) -> std::result::Result<CitusSettings, String> {
        match value {
            Value::Object(object) => parse(&object),
            _ => unreachable!("tests pass objects"),
        }
    }

    #[test]
    fn an_empty_object_distributes_new_keyed_tables() {
        let settings = parsed(json!({})).expect("valid");
        assert!(settings.distribute);
        assert_eq!(settings.distribution_column("users"), None);
        assert!(!settings.is_reference_table("users"));
    }

    #[test]
    fn columns_and_reference_tables_are_read_per_stream() {
        let settings = parsed(json!({
            "distribute": false,
            "distribution_column": {"orders": "customer_id"},
            "reference_tables": ["countries"]
        }))
        .expect("valid");
        assert!(!settings.distribute);
        assert_eq!(settings.distribution_column("orders"), Some("customer_id"));
        assert!(settings.is_reference_table("countries"));
    }

    #[test]
    fn unknown_keys_and_wrong_shapes_are_refused_with_the_key() {
        let err = parsed(json!({"distribution_columns": {}})).unwrap_err();
        assert!(err.contains("no key \"distribution_columns\""), "{err}");
        let err = parsed(json!({"distribution_column": "id"})).unwrap_err();
        assert!(
            err.contains("\"distribution_column\" must be an object"),
            "{err}"
        );
        let err = parsed(json!({"distribution_column": {"a": ""}})).unwrap_err();
        assert!(err.contains("\"a\" must be a column name"), "{err}");
        let err = parsed(json!({"reference_tables": "a"})).unwrap_err();
        assert!(err.contains("list of stream names"), "{err}");
        let err = parsed(json!({"distribute": 1})).unwrap_err();
        assert!(err.contains("true or false"), "{err}");
    }

    #[test]
    fn a_stream_cannot_be_distributed_and_a_reference_table() {
        let err = parsed(json!({
            "distribution_column": {"a": "id"},
            "reference_tables": ["a"]
        }))
        .unwrap_err();
        assert!(err.contains("can be only one"), "{err}");
    }
}
