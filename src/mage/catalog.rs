//! Mage's `--catalog_json`: the streams' schemas and keys as the pipeline configured them.
//!
//! A catalog stream replaces the schema and keys of that stream's SCHEMA messages, and
//! properties deselected in its metadata are left out, so records are projected to the
//! columns the user picked (their other properties are ignored as unknown ones). A RECORD
//! of a catalog stream needs no SCHEMA message at all. Streams missing from the catalog load
//! as usual.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::protocol::message::SchemaMessage;

/// The parsed catalog.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Its streams, in catalog order.
    streams: Vec<CatalogStream>,
}

/// One catalog stream.
#[derive(Debug, Clone)]
struct CatalogStream {
    /// `tap_stream_id` and `stream`: messages may use either.
    names: Vec<String>,
    /// The JSON Schema, deselected properties removed.
    schema: Value,
    /// `key_properties` (or the metadata's `table-key-properties`), if given.
    key_properties: Option<Vec<String>>,
    /// Mage's `unique_constraints`, if given.
    unique_constraints: Option<Vec<String>>,
    /// Mage's `unique_conflict_method`, if given.
    unique_conflict_method: Option<String>,
}

impl Catalog {
    /// Parses the text of `--catalog_json`.
    pub fn parse(text: &str) -> Result<Catalog> {
        let invalid = |why: String| Error::Usage(format!("--catalog_json: {why}"));
        let catalog: Value =
            serde_json::from_str(text).map_err(|e| invalid(format!("not valid JSON ({e})")))?;
        let Some(entries) = catalog.get("streams").and_then(Value::as_array) else {
            return Err(invalid("must be an object with a \"streams\" list".into()));
        };
        let mut streams = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let names: Vec<String> = ["tap_stream_id", "stream"]
                .iter()
                .filter_map(|key| entry.get(key).and_then(Value::as_str))
                .map(str::to_string)
                .collect();
            if names.is_empty() {
                return Err(invalid(format!(
                    "streams[{index}] has neither \"tap_stream_id\" nor \"stream\""
                )));
            }
            let Some(Value::Object(schema)) = entry.get("schema") else {
                return Err(invalid(format!(
                    "stream \"{}\" has no \"schema\" object",
                    names[0]
                )));
            };
            if !schema.get("properties").is_some_and(Value::is_object) {
                return Err(invalid(format!(
                    "the schema of stream \"{}\" has no \"properties\" object",
                    names[0]
                )));
            }
            let metadata = entry.get("metadata").and_then(Value::as_array);
            let stream_metadata = metadata.and_then(|list| metadata_at(list, &[]));
            let key_properties = string_list(entry.get("key_properties")).or_else(|| {
                string_list(stream_metadata.and_then(|m| m.get("table-key-properties")))
            });
            let unique_constraints = string_list(entry.get("unique_constraints"));
            // Keys and bookmarks stay whatever the metadata says, as Singer's automatic
            // fields do: without them the stream could not be merged or resumed.
            let bookmark_properties = string_list(entry.get("bookmark_properties"));
            let required: Vec<String> =
                [&key_properties, &unique_constraints, &bookmark_properties]
                    .into_iter()
                    .flatten()
                    .flatten()
                    .cloned()
                    .collect();
            streams.push(CatalogStream {
                names,
                schema: selected_schema(schema, metadata, &required),
                key_properties,
                unique_constraints,
                unique_conflict_method: entry
                    .get("unique_conflict_method")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            });
        }
        Ok(Catalog { streams })
    }

    fn stream(&self, name: &str) -> Option<&CatalogStream> {
        self.streams
            .iter()
            .find(|stream| stream.names.iter().any(|n| n == name))
    }

    /// Puts the catalog's schema and keys into a SCHEMA message of a catalog stream.
    pub fn apply(&self, message: &mut SchemaMessage) {
        let Some(stream) = self.stream(&message.stream) else {
            return;
        };
        message.schema = stream.schema.clone();
        if let Some(keys) = &stream.key_properties {
            message.key_properties = keys.clone();
        }
        if let Some(unique) = &stream.unique_constraints {
            message.unique_constraints = unique.clone();
        }
        if stream.unique_conflict_method.is_some() {
            message
                .unique_conflict_method
                .clone_from(&stream.unique_conflict_method);
        }
    }

    /// A SCHEMA message made from the catalog, for a stream whose records come without one.
    pub fn schema_message(&self, name: &str) -> Option<SchemaMessage> {
        let stream = self.stream(name)?;
        Some(SchemaMessage {
            stream: name.to_string(),
            schema: stream.schema.clone(),
            key_properties: stream.key_properties.clone().unwrap_or_default(),
            unique_constraints: stream.unique_constraints.clone().unwrap_or_default(),
            unique_conflict_method: stream.unique_conflict_method.clone(),
            fingerprint: format!("catalog:{name}"),
        })
    }
}

/// The metadata entry whose breadcrumb is `breadcrumb`.
fn metadata_at<'a>(list: &'a [Value], breadcrumb: &[&str]) -> Option<&'a Map<String, Value>> {
    list.iter()
        .find(|entry| {
            entry
                .get("breadcrumb")
                .and_then(Value::as_array)
                .is_some_and(|crumbs| {
                    crumbs.len() == breadcrumb.len()
                        && crumbs
                            .iter()
                            .zip(breadcrumb)
                            .all(|(crumb, want)| crumb.as_str() == Some(want))
                })
        })
        .and_then(|entry| entry.get("metadata"))
        .and_then(Value::as_object)
}

/// The schema without the properties its metadata deselects (`selected: false`, or
/// `inclusion: unsupported`); `required` properties and `inclusion: automatic` ones stay.
fn selected_schema(
    schema: &Map<String, Value>,
    metadata: Option<&Vec<Value>>,
    required: &[String],
) -> Value {
    let mut schema = schema.clone();
    if let (Some(list), Some(Value::Object(properties))) = (metadata, schema.get_mut("properties"))
    {
        properties.retain(|name, _| {
            required.contains(name)
                || metadata_at(list, &["properties", name]).is_none_or(|m| {
                    let inclusion = m.get("inclusion").and_then(Value::as_str);
                    inclusion == Some("automatic")
                        || (m.get("selected") != Some(&Value::Bool(false))
                            && inclusion != Some("unsupported"))
                })
        });
    }
    Value::Object(schema)
}

/// A list of strings, if `value` is one.
fn string_list(value: Option<&Value>) -> Option<Vec<String>> {
    value?
        .as_array()?
        .iter()
        .map(|item| item.as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalog() -> Catalog {
        Catalog::parse(
            &json!({"streams": [{
                "tap_stream_id": "users",
                "stream": "users_stream",
                "schema": {"properties": {
                    "id": {"type": "integer"},
                    "name": {"type": ["null", "string"]},
                    "secret": {"type": ["null", "string"]}
                }},
                "metadata": [
                    {"breadcrumb": [], "metadata": {"table-key-properties": ["id"]}},
                    {"breadcrumb": ["properties", "secret"], "metadata": {"selected": false}},
                    {"breadcrumb": ["properties", "id"], "metadata": {"selected": false}},
                    {"breadcrumb": ["properties", "name"],
                     "metadata": {"selected": false, "inclusion": "automatic"}}
                ],
                "unique_constraints": ["id"],
                "unique_conflict_method": "UPDATE"
            }]})
            .to_string(),
        )
        .unwrap()
    }

    fn schema_message(stream: &str) -> SchemaMessage {
        SchemaMessage {
            stream: stream.into(),
            schema: json!({"properties": {"other": {"type": "string"}}}),
            key_properties: vec![],
            unique_constraints: vec![],
            unique_conflict_method: None,
            fingerprint: "f".into(),
        }
    }

    #[test]
    fn catalog_schema_and_keys_replace_the_schema_message() {
        let mut message = schema_message("users");
        catalog().apply(&mut message);
        let properties = message.schema["properties"].as_object().unwrap();
        assert_eq!(
            properties.keys().collect::<Vec<_>>(),
            ["id", "name"],
            "deselected property left out; the key and an automatic one kept though deselected"
        );
        assert_eq!(message.key_properties, ["id"]);
        assert_eq!(message.unique_constraints, ["id"]);
        assert_eq!(message.unique_conflict_method.as_deref(), Some("UPDATE"));
    }

    #[test]
    fn either_stream_name_matches_and_other_streams_are_untouched() {
        assert!(catalog().schema_message("users_stream").is_some());
        let mut other = schema_message("orders");
        catalog().apply(&mut other);
        assert!(other.schema["properties"].get("other").is_some());
        assert!(catalog().schema_message("orders").is_none());
    }

    #[test]
    fn a_catalog_without_streams_is_a_usage_error() {
        for text in [
            "[]",
            "{\"streams\": 1}",
            "not json",
            "{\"streams\": [{\"stream\": \"a\"}]}",
        ] {
            let error = Catalog::parse(text).err().unwrap();
            assert_eq!(error.exit_code(), 2, "{text}: {error}");
        }
    }
}
