//! RECORD: the line is parsed once, and while it is parsed the record's values are routed
//! into its stream's slots ([`SlotFiller`]); then the slots are encoded as one row of the
//! stream's buffer. A record that does not fit goes to `invalid_records` (see
//! [`crate::load::dead_letter`]); an integer too big for its column widens the column.
//!
//! BATCH file lines and dead-letter rows take the same path from [`Loader::load_record`]
//! and [`Loader::encode_walked`] on.

use std::sync::Arc;

use crate::config::InvalidRecords;
use crate::db::workers::Workers;
use crate::encode::time::{micros_to_rfc3339, now_postgres_micros};
use crate::encode::value::ValueError;
use crate::error::{excerpt, Error, Result};
use crate::fast_hash::FastMap;
use crate::load::budget::{Budget, RecordRoom};
use crate::load::dead_letter::Rejected;
use crate::load::route::Route;
use crate::load::stream::{Envelope, RecordError, RecordMeta, Stream, StreamSlots};
use crate::load::table::Tables;
use crate::load::write_plan::WritePolicy;
use crate::load::Loader;
use crate::protocol::message::{
    parse_message_into, walk_record, walk_record_line, Message, RecordBody, RecordMessage,
    RecordSlots,
};

impl Loader<'_> {
    /// Parses one line, walking a RECORD's values into its stream's slots as it goes.
    pub(super) fn parse_line<'l>(&mut self, text: &'l str, line: u64) -> Result<Message<'l>> {
        let mut slots = SlotFiller {
            streams: Some(&mut self.streams),
            routes: &self.routes,
            current: None,
            tables: &self.tables,
            policy: self.policy,
            line: text,
        };
        parse_message_into(text, &mut slots).map_err(|message| Error::Input { line, message })
    }

    /// Loads a record; one that does not fit is handled by `invalid_records`.
    pub(super) fn on_record(
        &mut self,
        message: RecordMessage<'_>,
        line: u64,
        text: &str,
    ) -> Result<()> {
        if self.settings.stream_maps.is_some() {
            self.open_from_catalog(message.stream.as_ref(), line)?;
            if let Some(route) = self.routes.get(message.stream.as_ref()).cloned() {
                return self.on_routed_record(route, message, line, text);
            }
        }
        match self.load_record(message, line, text) {
            Err(error)
                if error.is_invalid_record()
                    && self.settings.invalid_records != InvalidRecords::Fail =>
            {
                self.set_aside(error, line, Rejected::Message(text))
            }
            outcome => outcome,
        }
    }

    /// Loads a record whose values are walked already (a RECORD line) or are walked here (a
    /// record kept whole for validation, a line of a BATCH file).
    pub(super) fn load_record(
        &mut self,
        message: RecordMessage<'_>,
        line: u64,
        text: &str,
    ) -> Result<()> {
        self.open_from_catalog(message.stream.as_ref(), line)?;
        let stream_name = message.stream.as_ref();
        let invalid = |e| record_error(e, line, stream_name);
        match &message.record {
            // Walked into the slots of its stream as the line was parsed, which only a
            // stream that exists takes: `encode_walked` looks it up (one lookup, not two).
            RecordBody::Walked => {}
            RecordBody::Raw(raw) => {
                let stream = schema_stream(&mut self.streams, stream_name, line)?;
                stream.prepare_record(self.tables.model(stream.table_id)?, self.policy);
                stream.validate(raw.get()).map_err(invalid)?;
                walk_record(raw.get(), &mut StreamSlots::new(stream, text))
                    .map_err(|reason| invalid(RecordError::Invalid(reason)))?;
            }
            RecordBody::Line(record) => {
                let stream = schema_stream(&mut self.streams, stream_name, line)?;
                stream.prepare_record(self.tables.model(stream.table_id)?, self.policy);
                // A line that is not one JSON object is malformed input, as a RECORD line
                // that is not JSON would be: no policy sets it aside.
                walk_record_line(record, &mut StreamSlots::new(stream, text))
                    .map_err(|message| Error::Input { line, message })?;
                stream.validate(record).map_err(invalid)?;
            }
        }
        let envelope = Envelope {
            time_extracted: message.time_extracted.as_deref(),
            version: message.version,
            sequence: message.sequence,
        };
        self.encode_walked(stream_name, text, line, envelope)
    }

    /// Encodes the record whose values are in the stream's slots as one row of its buffer,
    /// widening an integer column that a value overflows, and flushes a full buffer.
    pub(super) fn encode_walked(
        &mut self,
        stream_name: &str,
        text: &str,
        line: u64,
        envelope: Envelope<'_>,
    ) -> Result<()> {
        let seq = self.records_read;
        // When the record was read, for the metadata columns.
        let received_at = self
            .fills_metadata
            .then(|| format!("\"{}\"", micros_to_rfc3339(now_postgres_micros())));
        let meta = received_at.as_deref().map(|received_at| RecordMeta {
            extracted_at: envelope.time_extracted,
            received_at,
            sequence: envelope
                .sequence
                .unwrap_or_else(|| i64::try_from(seq).unwrap_or(i64::MAX)),
            table_version: envelope.version,
            constants: &self.settings.constant_columns,
        });
        let room = self.make_room_for_record(text.len())?;
        // Columns widened for this record: each at most once, so the loop ends.
        let mut widened: Vec<String> = Vec::new();
        let stream_is_full = loop {
            let stream = stream_of(&mut self.streams, stream_name)?;
            ready_buffer(stream, room, text.len(), &self.budget, &self.workers);
            let before = stream.rows.byte_len();
            match stream.encode_row(
                text,
                meta.as_ref(),
                seq,
                line,
                self.options,
                &mut self.stats,
            ) {
                Ok(opened) => {
                    self.budget
                        .grew(stream.rows.byte_len().saturating_sub(before));
                    if opened {
                        self.tracker.open_batch(seq);
                    }
                    break self.budget.is_full(stream);
                }
                Err(RecordError::Value {
                    column,
                    error: ValueError::IntegerOverflow,
                    ..
                }) if !widened.contains(&column) => {
                    let table_id = stream.table_id;
                    self.widen_to_numeric(table_id, stream_name, &column, line)?;
                    widened.push(column);
                }
                Err(error) => return Err(record_error(error, line, stream_name)),
            }
        };
        self.records_read += 1;
        // A record too big to share the memory bound goes alone, flushed at once.
        if stream_is_full || room == RecordRoom::Alone {
            if self.settings.flush_all_streams {
                self.flush_all()?;
            } else {
                self.flush_stream(stream_name)?;
            }
        }
        if self.budget.exceeded() {
            self.enforce_buffer_budget()?;
        }
        if self.records_read % super::HOUSEKEEPING_EVERY == 0 {
            self.housekeeping()?;
        }
        Ok(())
    }

    /// An integer too big for its column widens the column to numeric: what was encoded
    /// for the old type is sent first, then the ALTER is queued and the plan rebuilt.
    fn widen_to_numeric(
        &mut self,
        table_id: usize,
        stream_name: &str,
        column: &str,
        line: u64,
    ) -> Result<()> {
        self.flush_table(table_id)?;
        let model = self.tables.model_mut(table_id)?;
        model
            .widen_to_numeric(
                column,
                &format!("line {line} holds an integer beyond its range"),
            )
            .map_err(|message| Error::Stream {
                line,
                stream: stream_name.to_string(),
                message,
            })?;
        let model = self.tables.model(table_id)?;
        stream_of(&mut self.streams, stream_name)?.refresh_plan(model, self.policy);
        Ok(())
    }
}

/// Gives the stream's row buffer room for the record about to be encoded: an empty one gets
/// a recycled buffer, or one sized like the last batch; a record longer than a flush chunk
/// gets room for a row as long as its line, up front (growing by doubling would copy the row
/// and leave up to twice its size allocated).
fn ready_buffer(
    stream: &mut Stream,
    room: RecordRoom,
    line_bytes: usize,
    budget: &Budget,
    workers: &Workers,
) {
    if room != RecordRoom::Usual {
        stream.rows.buffer().reserve_exact(line_bytes);
    } else if stream.rows.is_empty() && stream.rows.buffer().capacity() == 0 {
        let spare = workers.spare_buffer();
        stream.rows.prepare(
            budget.chunk_limit(stream.flushes, stream.loads_distributed_table()),
            spare,
        );
    }
}

/// The stream a record names, which must have had its SCHEMA.
fn schema_stream<'a>(
    streams: &'a mut FastMap<String, Stream>,
    name: &str,
    line: u64,
) -> Result<&'a mut Stream> {
    streams.get_mut(name).ok_or_else(|| Error::Stream {
        line,
        stream: name.to_string(),
        message: "RECORD before its SCHEMA".into(),
    })
}

/// The stream a record being encoded belongs to.
fn stream_of<'a>(streams: &'a mut FastMap<String, Stream>, name: &str) -> Result<&'a mut Stream> {
    streams
        .get_mut(name)
        .ok_or_else(|| Error::Internal(format!("stream \"{name}\" vanished mid-record")))
}

/// Routes a RECORD's values, while its line is parsed, into the slots of its stream.
struct SlotFiller<'a> {
    /// Taken by the one stream the line names.
    streams: Option<&'a mut FastMap<String, Stream>>,
    /// Streams that stream maps load as others: walked only into a direct output.
    routes: &'a FastMap<String, Arc<Route>>,
    current: Option<StreamSlots<'a>>,
    tables: &'a Tables,
    policy: WritePolicy,
    line: &'a str,
}

impl RecordSlots for SlotFiller<'_> {
    fn begin(&mut self, stream: &str) -> bool {
        let name = match self.routes.get(stream) {
            None => stream,
            Some(route) => match route.direct_output() {
                Some(output) => output,
                // Mapped records are parsed whole, then mapped.
                None => return false,
            },
        };
        let Some(stream) = self
            .streams
            .take()
            .and_then(|streams| streams.get_mut(name))
        else {
            return false;
        };
        // Validation needs the record whole: keep it raw.
        if stream.validator.is_some() {
            return false;
        }
        let Ok(table) = self.tables.model(stream.table_id) else {
            return false;
        };
        stream.prepare_record(table, self.policy);
        self.current = Some(StreamSlots::new(stream, self.line));
        true
    }

    fn slot_of(&mut self, property: &str) -> Option<usize> {
        self.current.as_mut()?.slot_of(property)
    }

    fn fill(&mut self, slot: usize, raw: &str) {
        if let Some(current) = self.current.as_mut() {
            current.fill(slot, raw);
        }
    }

    fn fill_at(&mut self, slot: usize, line: &str, from: usize, to: usize) {
        if let Some(current) = self.current.as_mut() {
            current.fill_at(slot, line, from, to);
        }
    }

    fn unknown(&mut self, property: &str) {
        if let Some(current) = self.current.as_mut() {
            current.unknown(property);
        }
    }

    fn is_flattened(&self, path: &str) -> bool {
        self.current
            .as_ref()
            .is_some_and(|current| current.is_flattened(path))
    }
}

/// The error of a record that could not be encoded, with its line and stream.
pub(super) fn record_error(error: RecordError, line: u64, stream: &str) -> Error {
    match error {
        RecordError::Value {
            column,
            value,
            error,
        } => Error::InvalidValue {
            line,
            stream: stream.to_string(),
            column,
            reason: error.reason().into_owned(),
            value,
        },
        RecordError::NullKey { column } => Error::InvalidValue {
            line,
            stream: stream.to_string(),
            column,
            reason: "key column is null or missing".into(),
            value: "null".into(),
        },
        RecordError::Invalid(reason) => Error::InvalidRecord {
            line,
            stream: stream.to_string(),
            reason: excerpt(&reason),
        },
    }
}
