//! `invalid_records: skip | dead_letter`: a record that does not fit is counted, logged (the
//! first few one by one) and, for `dead_letter`, stored in the `_target_postgres_rejects`
//! table of the target schema with its stream, line, reason and raw text. Past
//! `invalid_records_threshold` the run fails after all.
//!
//! The rejects table is an ordinary stream of the run: its rows are buffered, flushed and
//! counted for the states like any other, so a state never goes out before the rejects of
//! the records before it are committed.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::config::InvalidRecords;
use crate::encode::time::{micros_to_rfc3339, now_postgres_micros};
use crate::error::{Error, Result};
use crate::fast_hash::FastMap;
use crate::load::stream::{Envelope, StreamSlots};
use crate::load::Loader;
use crate::protocol::message::{RecordSlots, SchemaMessage};

/// The stream, and table, that `invalid_records: dead_letter` stores records in.
pub const REJECTS_STREAM: &str = "_target_postgres_rejects";

/// Records set aside that are logged one by one; the rest are only counted.
const SET_ASIDE_LOGGED: u64 = 20;

/// What a record set aside was read from, for the rejects table.
pub enum Rejected<'a> {
    /// A RECORD message: its whole line.
    Message(&'a str),
    /// A bare record and its stream: a line of a BATCH file, or a record as stream maps
    /// made it (never as it came: what a map removes or hashes is not stored).
    BatchLine {
        /// The record's stream.
        stream: &'a str,
        /// The bare record.
        record: &'a str,
    },
}

/// Records set aside so far.
#[derive(Debug, Default)]
pub struct DeadLetters {
    /// In all.
    total: u64,
    /// Per stream.
    by_stream: FastMap<String, u64>,
}

impl DeadLetters {
    /// Records set aside in all.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Records of `stream` set aside.
    pub fn of_stream(&self, stream: &str) -> u64 {
        self.by_stream.get(stream).copied().unwrap_or(0)
    }

    fn count(&mut self, stream: String) {
        self.total += 1;
        *self.by_stream.entry(stream).or_insert(0) += 1;
    }
}

/// The two fields of a RECORD line the rejects table keeps, as the line spells them.
#[derive(Deserialize)]
struct RecordFields<'a> {
    #[serde(borrow)]
    stream: Option<&'a RawValue>,
    #[serde(borrow)]
    record: Option<&'a RawValue>,
}

impl Loader<'_> {
    /// Counts a record set aside by `invalid_records: skip | dead_letter`, and stores it for
    /// `dead_letter`.
    pub(super) fn set_aside(
        &mut self,
        error: Error,
        line: u64,
        rejected: Rejected<'_>,
    ) -> Result<()> {
        self.records_read += 1;
        let stream = match &error {
            Error::InvalidValue { stream, .. }
            | Error::InvalidRecord { stream, .. }
            | Error::BatchRecord { stream, .. } => stream.clone(),
            _ => String::new(),
        };
        self.dead_letters.count(stream);
        let set_aside = self.dead_letters.total();
        let threshold = self.settings.invalid_records_threshold;
        if threshold > 0 && set_aside > threshold {
            return Err(Error::InvalidRecord {
                line,
                stream: String::new(),
                reason: format!(
                    "more than {threshold} invalid records (invalid_records_threshold); the last: {error}"
                ),
            });
        }
        if set_aside <= SET_ASIDE_LOGGED {
            log::warn!("record set aside: {error}");
        } else if set_aside == SET_ASIDE_LOGGED + 1 {
            log::warn!("more records set aside; the summary counts them");
        }
        if self.settings.invalid_records != InvalidRecords::DeadLetter {
            return Ok(());
        }
        self.store_reject(&error, line, rejected)
    }

    /// Adds a row to the rejects table: the values' JSON texts laid side by side in one
    /// line, each put in its column's slot, then encoded like any record.
    fn store_reject(&mut self, error: &Error, line: u64, rejected: Rejected<'_>) -> Result<()> {
        if !self.streams.contains_key(REJECTS_STREAM) {
            self.on_schema(rejects_schema(), line)?;
        }
        let fields = reject_fields(error, line, &rejected);
        let mut text = String::new();
        let mut spans = Vec::with_capacity(fields.len());
        for (property, value) in &fields {
            let start = text.len();
            text.push_str(value);
            spans.push((*property, start..text.len()));
        }
        let Some(stream) = self.streams.get_mut(REJECTS_STREAM) else {
            return Err(Error::Internal("the rejects stream did not open".into()));
        };
        stream.prepare_record(self.tables.model(stream.table_id)?, self.policy);
        let mut slots = StreamSlots::new(stream, &text);
        for (property, span) in spans {
            if let (Some(slot), Some(value)) = (slots.slot_of(property), text.get(span)) {
                slots.fill(slot, value);
            }
        }
        self.encode_walked(REJECTS_STREAM, &text, line, Envelope::default())
    }
}

/// The JSON text of each column of a reject.
fn reject_fields<'r>(
    error: &Error,
    line: u64,
    rejected: &Rejected<'r>,
) -> [(&'static str, Cow<'r, str>); 6] {
    let (stream, record, message) = match *rejected {
        Rejected::Message(text) => {
            let fields = serde_json::from_str::<RecordFields<'r>>(text).ok();
            let stream = fields.as_ref().and_then(|f| f.stream);
            let record = fields.as_ref().and_then(|f| f.record);
            let message = serde_json::from_str::<&RawValue>(text).ok();
            let text_of = |raw: Option<&'r RawValue>| raw.map(|v| Cow::Borrowed(v.get()));
            (text_of(stream), text_of(record), text_of(message))
        }
        // The BATCH message says nothing about this record that the reason does not.
        Rejected::BatchLine { stream, record } => (
            Some(Cow::Owned(json_string(stream))),
            serde_json::from_str::<&RawValue>(record)
                .ok()
                .map(|v| Cow::Borrowed(v.get())),
            None,
        ),
    };
    let null = || Cow::Borrowed("null");
    [
        ("stream", stream.unwrap_or_else(null)),
        ("line", Cow::Owned(line.to_string())),
        ("reason", Cow::Owned(json_string(&error.to_string()))),
        ("record", record.unwrap_or_else(null)),
        ("message", message.unwrap_or_else(null)),
        (
            "rejected_at",
            Cow::Owned(json_string(&micros_to_rfc3339(now_postgres_micros()))),
        ),
    ]
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    Value::from(text).to_string()
}

/// The SCHEMA of the rejects table: what was refused, where, and why.
fn rejects_schema() -> SchemaMessage {
    let schema = json!({"type": "object", "properties": {
        "stream": {"type": "string"},
        "line": {"type": "integer"},
        "reason": {"type": "string"},
        "record": {},
        "message": {},
        "rejected_at": {"type": "string", "format": "date-time"},
    }});
    SchemaMessage {
        stream: REJECTS_STREAM.to_string(),
        fingerprint: schema.to_string(),
        schema,
        key_properties: Vec::new(),
        unique_constraints: Vec::new(),
        unique_conflict_method: None,
    }
}
