//! Singer messages, parsed from one input line without copying what can be borrowed.
//!
//! A RECORD's `record` stays a [`RawValue`]: the loader walks it once, straight into column
//! slots, so numbers keep every digit and nested objects are never built as trees. Only
//! SCHEMA and BATCH messages, which are rare, are parsed into owned values; the lines of a
//! BATCH's files are bare records, walked like a RECORD's `record` ([`walk_record_line`]).
//! The walker itself ([`RecordSlots`], [`walk_record`], the nesting limit) is
//! [`super::walk`]; it is re-exported here, where the loader has always found it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::bad_line::not_a_message;
use super::fast_record::read_record;
use super::walk::{check_nesting, KeepRaw, SlotWalk, ENVELOPE_FIELDS};
// The walker's public items stay reachable where they always were.
pub use super::walk::{walk_record, walk_record_line, Key, RecordSlots, MAX_NESTING};

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
    /// Meltano SDK's BATCH: the stream's records are in files.
    Batch(BatchMessage),
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

/// A BATCH message (Meltano SDK): files holding one bare record of the stream per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchMessage {
    /// Stream name.
    pub stream: String,
    /// The declared compression of the files (`encoding.compression`).
    pub compression: BatchCompression,
    /// The files, as URLs, in load order.
    pub manifest: Vec<String>,
}

/// The compressions a BATCH may declare for its JSON Lines files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchCompression {
    /// `"none"`, `null` or absent.
    None,
    /// `"gzip"`.
    Gzip,
}

/// A RECORD message, borrowing from the input line.
#[derive(Debug)]
pub struct RecordMessage<'a> {
    /// Stream name.
    pub stream: Cow<'a, str>,
    /// The record: already walked into its stream's slots, or verbatim.
    pub record: RecordBody<'a>,
    /// ACTIVATE_VERSION version of a full-table sync.
    pub version: Option<i64>,
    /// When the tap extracted the record.
    pub time_extracted: Option<Cow<'a, str>>,
    /// The tap's sequence number for the record, if it sent one.
    pub sequence: Option<i64>,
}

/// A RECORD's record.
#[derive(Debug)]
pub enum RecordBody<'a> {
    /// Walked into the slots while the line was parsed.
    Walked,
    /// Kept verbatim; walk it with [`walk_record`].
    Raw(&'a RawValue),
    /// A line of a BATCH file: the bare record, not parsed yet; walk it with
    /// [`walk_record_line`], which also checks that it is one well-formed JSON object.
    Line(&'a str),
}

/// Every field any message type may carry; which are required depends on `type`.
#[derive(Default)]
struct Envelope<'a> {
    kind: Option<Key<'a>>,
    stream: Option<Key<'a>>,
    record: Option<RecordBody<'a>>,
    schema: Option<&'a RawValue>,
    key_properties: Option<&'a RawValue>,
    unique_constraints: Option<&'a RawValue>,
    unique_conflict_method: Option<String>,
    value: Option<&'a RawValue>,
    version: Option<&'a RawValue>,
    time_extracted: Option<Key<'a>>,
    sequence: Option<&'a RawValue>,
    encoding: Option<&'a RawValue>,
    manifest: Option<&'a RawValue>,
}

struct EnvelopeVisitor<'h, H> {
    slots: &'h mut H,
}

impl<'de, H: RecordSlots> Visitor<'de> for EnvelopeVisitor<'_, H> {
    type Value = Envelope<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Envelope<'de>, M::Error> {
        let mut envelope = Envelope::default();
        let mut seen = [false; ENVELOPE_FIELDS.len()];
        while let Some(key) = map.next_key::<Key<'de>>()? {
            // A field given twice is ambiguous (which stream did the record belong to?):
            // refuse it rather than guess.
            if let Some(index) = ENVELOPE_FIELDS.iter().position(|f| *f == key.as_str()) {
                if std::mem::replace(&mut seen[index], true) {
                    return Err(de::Error::duplicate_field(ENVELOPE_FIELDS[index]));
                }
            }
            match key.as_str() {
                "type" => envelope.kind = Some(map.next_value()?),
                "stream" => envelope.stream = Some(map.next_value()?),
                "record" => {
                    let walk = match &envelope.stream {
                        Some(stream) => self.slots.begin(stream.as_str()),
                        None => false,
                    };
                    envelope.record = Some(if walk {
                        map.next_value_seed(SlotWalk::record(&mut *self.slots))?;
                        RecordBody::Walked
                    } else {
                        RecordBody::Raw(map.next_value()?)
                    });
                }
                "schema" => envelope.schema = Some(map.next_value()?),
                "key_properties" => envelope.key_properties = Some(map.next_value()?),
                "unique_constraints" => envelope.unique_constraints = Some(map.next_value()?),
                "unique_conflict_method" => envelope.unique_conflict_method = map.next_value()?,
                "value" => envelope.value = Some(map.next_value()?),
                "version" => envelope.version = Some(map.next_value()?),
                "time_extracted" => envelope.time_extracted = map.next_value()?,
                "sequence" => envelope.sequence = Some(map.next_value()?),
                "encoding" => envelope.encoding = Some(map.next_value()?),
                "manifest" => envelope.manifest = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(envelope)
    }
}

/// Parses one line (without its line ending). Errors are plain reasons; the caller adds
/// the line number.
pub fn parse_message(line: &str) -> Result<Message<'_>, String> {
    parse_message_into(line, &mut KeepRaw)
}

/// Parses one line, walking a RECORD's record into `slots` when they take it.
pub fn parse_message_into<'a, H: RecordSlots>(
    line: &'a str,
    slots: &mut H,
) -> Result<Message<'a>, String> {
    // The common RECORD line is read without serde; anything else, and any line the scanner
    // is not sure of, is read by serde below.
    if let Some(record) = read_record(line, slots) {
        let record = record?;
        return Ok(Message::Record(RecordMessage {
            stream: Cow::Borrowed(record.stream),
            record: record.raw.map_or(RecordBody::Walked, RecordBody::Raw),
            version: record.version,
            time_extracted: record.time_extracted.map(Cow::Borrowed),
            sequence: record.sequence,
        }));
    }
    parse_with_serde(line, slots)
}

/// Parses one line with serde: every message type, and every line the fast path declines.
pub(super) fn parse_with_serde<'a, H: RecordSlots>(
    line: &'a str,
    slots: &mut H,
) -> Result<Message<'a>, String> {
    check_nesting(line)?;
    let mut deserializer = serde_json::Deserializer::from_str(line);
    let envelope = deserializer
        .deserialize_map(EnvelopeVisitor { slots })
        .and_then(|envelope| deserializer.end().map(|()| envelope))
        .map_err(|e| not_a_message(line, &e))?;
    let kind = envelope.kind.as_ref().ok_or("message has no \"type\"")?;
    let kind = kind.as_str();
    if kind.eq_ignore_ascii_case("RECORD") {
        let stream = envelope.stream.ok_or("RECORD without \"stream\"")?;
        let record = envelope
            .record
            .ok_or_else(|| format!("RECORD of stream \"{stream}\" without \"record\""))?;
        if let RecordBody::Raw(raw) = &record {
            if !raw.get().starts_with('{') {
                return Err(format!(
                    "RECORD of stream \"{stream}\": \"record\" must be an object"
                ));
            }
        }
        let version = envelope
            .version
            .and_then(|raw| raw.get().parse::<i64>().ok());
        return Ok(Message::Record(RecordMessage {
            stream: stream.into_cow(),
            record,
            version,
            time_extracted: envelope.time_extracted.map(Key::into_cow),
            sequence: envelope
                .sequence
                .and_then(|raw| raw.get().parse::<i64>().ok()),
        }));
    }
    if kind.eq_ignore_ascii_case("STATE") {
        let value = envelope.value.ok_or("STATE without \"value\"")?;
        return Ok(Message::State { value });
    }
    if kind.eq_ignore_ascii_case("SCHEMA") {
        return parse_schema(envelope).map(Message::Schema);
    }
    if kind.eq_ignore_ascii_case("BATCH") {
        return parse_batch(envelope).map(Message::Batch);
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
            stream: stream.as_str().to_string(),
            version,
        });
    }
    Ok(Message::Ignored {
        kind: kind.to_string(),
    })
}

fn parse_schema(envelope: Envelope<'_>) -> Result<SchemaMessage, String> {
    let stream = envelope
        .stream
        .ok_or("SCHEMA without \"stream\"")?
        .as_str()
        .to_string();
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

/// The BATCH fields as the Meltano SDK writes them: `encoding` `{format, compression}` and
/// `manifest`, a list of file URLs. Only JSON Lines is read (see the README for why not
/// Parquet); the URLs are checked by the loader, which names each file.
fn parse_batch(envelope: Envelope<'_>) -> Result<BatchMessage, String> {
    /// `encoding` as the SDK writes it.
    #[derive(Deserialize)]
    struct Encoding {
        /// `jsonl` or `parquet`.
        format: Option<String>,
        /// `gzip`, `none` or null.
        compression: Option<String>,
    }
    let stream = envelope
        .stream
        .ok_or("BATCH without \"stream\"")?
        .as_str()
        .to_string();
    let raw_manifest = envelope
        .manifest
        .ok_or_else(|| format!("BATCH of stream \"{stream}\" without \"manifest\""))?;
    let manifest: Vec<String> = serde_json::from_str(raw_manifest.get()).map_err(|_| {
        format!("BATCH of stream \"{stream}\": \"manifest\" must be a list of file URLs")
    })?;
    // Unsupported encodings are refused before any file is touched; the message names the
    // files so that the user knows which batch it was.
    let files = match manifest.as_slice() {
        [] => "no files".to_string(),
        [only] => only.clone(),
        [first, rest @ ..] => format!("{first} and {} more", rest.len()),
    };
    let raw_encoding = envelope.encoding.ok_or_else(|| {
        format!("BATCH of stream \"{stream}\" without \"encoding\" (files: {files})")
    })?;
    let encoding: Encoding = serde_json::from_str(raw_encoding.get()).map_err(|_| {
        format!(
            "BATCH of stream \"{stream}\": \"encoding\" must be an object with \"format\" and \"compression\" (files: {files})"
        )
    })?;
    match encoding.format.as_deref() {
        Some(format) if format.eq_ignore_ascii_case("jsonl") => {}
        Some(format) => {
            return Err(format!(
                "BATCH of stream \"{stream}\": encoding format \"{}\" is not supported, only \"jsonl\" (files: {files})",
                crate::error::excerpt(format)
            ))
        }
        None => {
            return Err(format!(
                "BATCH of stream \"{stream}\": \"encoding\" has no \"format\" (files: {files})"
            ))
        }
    }
    let compression = match encoding.compression.as_deref() {
        None => BatchCompression::None,
        Some(name) if name.eq_ignore_ascii_case("none") => BatchCompression::None,
        Some(name) if name.eq_ignore_ascii_case("gzip") => BatchCompression::Gzip,
        Some(name) => {
            return Err(format!(
                "BATCH of stream \"{stream}\": compression \"{}\" is not supported, only \"gzip\" or \"none\" (files: {files})",
                crate::error::excerpt(name)
            ))
        }
    };
    Ok(BatchMessage {
        stream,
        compression,
        manifest,
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
                match record.record {
                    RecordBody::Raw(raw) => {
                        assert_eq!(raw.get(), r#"{"id":1.000000000000000000001}"#)
                    }
                    other => panic!("kept raw without slots, got {other:?}"),
                }
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_field_given_twice_is_refused() {
        let line = r#"{"type":"RECORD","stream":"a","record":{"id":1},"stream":"b"}"#;
        let err = parse_message(line).unwrap_err();
        assert!(err.contains("duplicate field `stream`"), "{err}");
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

    fn batch(line: &str) -> Result<BatchMessage, String> {
        parse_message(line).map(|message| match message {
            Message::Batch(batch) => batch,
            other => panic!("not a BATCH: {other:?}"),
        })
    }

    #[test]
    fn batch_keeps_stream_compression_and_manifest_in_order() {
        let line = r#"{"type":"BATCH","stream":"users","encoding":{"format":"jsonl","compression":"gzip"},
            "manifest":["file:///tmp/a.json.gz","file:///tmp/b.json.gz"]}"#;
        assert_eq!(
            batch(line).unwrap(),
            BatchMessage {
                stream: "users".into(),
                compression: BatchCompression::Gzip,
                manifest: vec![
                    "file:///tmp/a.json.gz".into(),
                    "file:///tmp/b.json.gz".into()
                ],
            }
        );
    }

    #[test]
    fn batch_compression_none_null_or_absent_means_plain() {
        for encoding in [
            r#"{"format":"jsonl","compression":"none"}"#,
            r#"{"format":"jsonl","compression":null}"#,
            r#"{"format":"jsonl"}"#,
        ] {
            let line = format!(
                r#"{{"type":"batch","stream":"s","encoding":{encoding},"manifest":["file:///x"]}}"#
            );
            assert_eq!(
                batch(&line).unwrap().compression,
                BatchCompression::None,
                "{encoding}"
            );
        }
    }

    #[test]
    fn batch_in_parquet_is_refused_naming_stream_and_files() {
        let line = r#"{"type":"BATCH","stream":"users","encoding":{"format":"parquet","compression":"gzip"},
            "manifest":["file:///tmp/a.parquet","file:///tmp/b.parquet"]}"#;
        let err = batch(line).unwrap_err();
        assert!(err.contains("\"users\""), "{err}");
        assert!(err.contains("\"parquet\" is not supported"), "{err}");
        assert!(err.contains("file:///tmp/a.parquet and 1 more"), "{err}");
    }

    #[test]
    fn batch_with_unknown_compression_is_refused() {
        let line = r#"{"type":"BATCH","stream":"s","encoding":{"format":"jsonl","compression":"zstd"},"manifest":["file:///tmp/a.zst"]}"#;
        let err = batch(line).unwrap_err();
        assert!(
            err.contains("compression \"zstd\" is not supported"),
            "{err}"
        );
        assert!(err.contains("file:///tmp/a.zst"), "{err}");
    }

    #[test]
    fn batch_without_manifest_or_encoding_or_with_a_bad_manifest_is_refused() {
        let no_manifest = r#"{"type":"BATCH","stream":"s","encoding":{"format":"jsonl"}}"#;
        assert!(batch(no_manifest)
            .unwrap_err()
            .contains("without \"manifest\""));
        let no_encoding = r#"{"type":"BATCH","stream":"s","manifest":["file:///a"]}"#;
        assert!(batch(no_encoding)
            .unwrap_err()
            .contains("without \"encoding\""));
        let bad =
            r#"{"type":"BATCH","stream":"s","encoding":{"format":"jsonl"},"manifest":"file:///a"}"#;
        assert!(batch(bad).unwrap_err().contains("list of file URLs"));
    }
}
