//! Singer messages, parsed from one input line without copying what can be borrowed.
//!
//! A RECORD's `record` stays a [`RawValue`]: the loader walks it once, straight into column
//! slots, so numbers keep every digit and nested objects are never built as trees. Only
//! SCHEMA messages, which are rare, are parsed into owned values.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// One parsed input line.
#[derive(Debug)]
pub enum Message<'a> {
    /// A stream's JSON Schema and keys.
    Schema(SchemaMessage),
    /// One record of a stream.
    Record(RecordMessage<'a>),
    /// A bookmark to hand back once everything before it is committed.
    State {
        /// The state value, verbatim.
        value: &'a RawValue,
    },
    /// A full-table sync finished with this version.
    ActivateVersion {
        /// The stream.
        stream: String,
        /// The version that is now current.
        version: i64,
    },
    /// LOG and any other type: skipped.
    Ignored {
        /// The message type as given.
        kind: String,
    },
}

/// A SCHEMA message.
#[derive(Debug, Clone)]
pub struct SchemaMessage {
    /// Stream name.
    pub stream: String,
    /// The JSON Schema object (has a `properties` object).
    pub schema: Value,
    /// Key properties, in order.
    pub key_properties: Vec<String>,
    /// Mage: columns of a UNIQUE constraint used as the merge key.
    pub unique_constraints: Vec<String>,
    /// Mage: `UPDATE` or `IGNORE` on conflict.
    pub unique_conflict_method: Option<String>,
    /// The raw text of schema and keys, to recognise a repeated identical SCHEMA cheaply.
    pub fingerprint: String,
}

/// A RECORD message, borrowing from the input line.
#[derive(Debug)]
pub struct RecordMessage<'a> {
    /// Stream name.
    pub stream: Cow<'a, str>,
    /// The record object, verbatim.
    pub record: &'a RawValue,
    /// ACTIVATE_VERSION version of a full-table sync.
    pub version: Option<i64>,
    /// When the tap extracted the record.
    pub time_extracted: Option<Cow<'a, str>>,
}

/// Every field any message type may carry; which are required depends on `type`.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    stream: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    record: Option<&'a RawValue>,
    #[serde(borrow, default)]
    schema: Option<&'a RawValue>,
    #[serde(borrow, default)]
    key_properties: Option<&'a RawValue>,
    #[serde(borrow, default)]
    unique_constraints: Option<&'a RawValue>,
    #[serde(default)]
    unique_conflict_method: Option<String>,
    #[serde(borrow, default)]
    value: Option<&'a RawValue>,
    #[serde(borrow, default)]
    version: Option<&'a RawValue>,
    #[serde(borrow, default)]
    time_extracted: Option<Cow<'a, str>>,
}

/// Parses one line (without its line ending). Errors are plain reasons; the caller adds
/// the line number.
pub fn parse_message(line: &str) -> Result<Message<'_>, String> {
    check_nesting(line)?;
    let envelope: Envelope<'_> =
        serde_json::from_str(line).map_err(|e| format!("not a JSON Singer message: {e}"))?;
    let kind = envelope.kind.as_deref().ok_or("message has no \"type\"")?;
    if kind.eq_ignore_ascii_case("RECORD") {
        let stream = envelope.stream.ok_or("RECORD without \"stream\"")?;
        let record = envelope
            .record
            .ok_or_else(|| format!("RECORD of stream \"{stream}\" without \"record\""))?;
        if !record.get().starts_with('{') {
            return Err(format!(
                "RECORD of stream \"{stream}\": \"record\" must be an object"
            ));
        }
        let version = envelope
            .version
            .and_then(|raw| raw.get().parse::<i64>().ok());
        return Ok(Message::Record(RecordMessage {
            stream,
            record,
            version,
            time_extracted: envelope.time_extracted,
        }));
    }
    if kind.eq_ignore_ascii_case("STATE") {
        let value = envelope.value.ok_or("STATE without \"value\"")?;
        return Ok(Message::State { value });
    }
    if kind.eq_ignore_ascii_case("SCHEMA") {
        return parse_schema(envelope).map(Message::Schema);
    }
    if kind.eq_ignore_ascii_case("ACTIVATE_VERSION") {
        let stream = envelope
            .stream
            .ok_or("ACTIVATE_VERSION without \"stream\"")?;
        let version = envelope
            .version
            .and_then(|raw| raw.get().parse::<i64>().ok())
            .ok_or_else(|| {
                format!("ACTIVATE_VERSION of stream \"{stream}\" needs an integer \"version\"")
            })?;
        return Ok(Message::ActivateVersion {
            stream: stream.into_owned(),
            version,
        });
    }
    Ok(Message::Ignored {
        kind: kind.to_string(),
    })
}

/// Deepest nesting of arrays and objects a line may have (SPEC §8).
pub const MAX_NESTING: usize = 128;

/// Refuses lines nested deeper than [`MAX_NESTING`]. serde_json enforces its own limit
/// only where it builds values, not where it borrows raw text, so the limit is checked
/// here once for the whole line: one pass over the bytes, tracking strings and escapes.
fn check_nesting(line: &str) -> Result<(), String> {
    // Almost every line has far fewer brackets than the limit: a vectorisable count proves
    // it without the byte-by-byte walk.
    let openers = memchr::memchr2_iter(b'[', b'{', line.as_bytes()).count();
    if openers <= MAX_NESTING {
        return Ok(());
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in line.as_bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(format!("nesting deeper than {MAX_NESTING} levels"));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn parse_schema(envelope: Envelope<'_>) -> Result<SchemaMessage, String> {
    let stream = envelope
        .stream
        .ok_or("SCHEMA without \"stream\"")?
        .into_owned();
    let raw_schema = envelope
        .schema
        .ok_or_else(|| format!("SCHEMA of stream \"{stream}\" without \"schema\""))?;
    let schema: Value = serde_json::from_str(raw_schema.get())
        .map_err(|e| format!("SCHEMA of stream \"{stream}\": {e}"))?;
    if !schema.get("properties").is_some_and(Value::is_object) {
        return Err(format!(
            "SCHEMA of stream \"{stream}\": \"schema\" must be an object with a \"properties\" object"
        ));
    }
    let key_properties = string_list(envelope.key_properties, "key_properties", &stream)?;
    let unique_constraints =
        string_list(envelope.unique_constraints, "unique_constraints", &stream)?;
    let fingerprint = format!(
        "{}|{}|{}|{}",
        raw_schema.get(),
        envelope.key_properties.map(RawValue::get).unwrap_or(""),
        envelope.unique_constraints.map(RawValue::get).unwrap_or(""),
        envelope.unique_conflict_method.as_deref().unwrap_or("")
    );
    Ok(SchemaMessage {
        stream,
        schema,
        key_properties,
        unique_constraints,
        unique_conflict_method: envelope.unique_conflict_method,
        fingerprint,
    })
}

fn string_list(raw: Option<&RawValue>, field: &str, stream: &str) -> Result<Vec<String>, String> {
    match raw {
        None => Ok(Vec::new()),
        Some(raw) => {
            let value: Option<Vec<String>> = serde_json::from_str(raw.get()).map_err(|_| {
                format!("SCHEMA of stream \"{stream}\": \"{field}\" must be a list of strings")
            })?;
            Ok(value.unwrap_or_default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_borrows_its_record_text() {
        let line = r#"{"type":"RECORD","stream":"s","record":{"id":1.000000000000000000001}}"#;
        match parse_message(line).unwrap() {
            Message::Record(record) => {
                assert_eq!(record.stream, "s");
                assert_eq!(record.record.get(), r#"{"id":1.000000000000000000001}"#);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn type_is_case_insensitive() {
        let line = r#"{"type":"state","value":{"a":1}}"#;
        assert!(matches!(
            parse_message(line).unwrap(),
            Message::State { .. }
        ));
    }

    #[test]
    fn log_lines_are_ignored() {
        let line = r#"{"type":"LOG","message":"hello"}"#;
        assert!(matches!(
            parse_message(line).unwrap(),
            Message::Ignored { .. }
        ));
    }

    #[test]
    fn schema_without_properties_is_refused() {
        let line =
            r#"{"type":"SCHEMA","stream":"s","schema":{"type":"object"},"key_properties":[]}"#;
        let err = parse_message(line).unwrap_err();
        assert!(err.contains("properties"), "{err}");
    }

    #[test]
    fn schema_keeps_keys_and_mage_extras() {
        let line = r#"{"type":"SCHEMA","stream":"s","schema":{"properties":{"id":{"type":"integer"}}},
            "key_properties":["id"],"unique_constraints":["id"],"unique_conflict_method":"IGNORE"}"#;
        match parse_message(line).unwrap() {
            Message::Schema(schema) => {
                assert_eq!(schema.key_properties, vec!["id"]);
                assert_eq!(schema.unique_constraints, vec!["id"]);
                assert_eq!(schema.unique_conflict_method.as_deref(), Some("IGNORE"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn null_key_properties_mean_none() {
        let line =
            r#"{"type":"SCHEMA","stream":"s","schema":{"properties":{}},"key_properties":null}"#;
        match parse_message(line).unwrap() {
            Message::Schema(schema) => assert!(schema.key_properties.is_empty()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nesting_at_the_limit_is_accepted() {
        let inner = format!(
            "{}1{}",
            "[".repeat(MAX_NESTING - 2),
            "]".repeat(MAX_NESTING - 2)
        );
        let line = format!(r#"{{"type":"RECORD","stream":"s","record":{{"a":{inner}}}}}"#);
        assert!(parse_message(&line).is_ok());
        let line = format!(r#"{{"type":"RECORD","stream":"s","record":{{"a":[{inner}]}}}}"#);
        assert!(parse_message(&line).is_err());
    }

    #[test]
    fn brackets_inside_strings_do_not_count_as_nesting() {
        let text = "[".repeat(500);
        let line = format!(r#"{{"type":"RECORD","stream":"s","record":{{"a":"{text}\"{text}"}}}}"#);
        assert!(parse_message(&line).is_ok());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!(
            r#"{{"type":"RECORD","stream":"s","record":{{"a":{}1{}}}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(parse_message(&deep).is_err());
    }
}
