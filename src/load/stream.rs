//! One Singer stream: its properties and their columns, its write plan, and the encoding of
//! each RECORD into its batch.
//!
//! A record is walked once: each top-level property's raw JSON text is located and put in
//! the slot of its column, then the slots are encoded in column order straight into the
//! batch buffer. Nothing per record is allocated except the key of a keyed upsert.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::db::flush::WriteMode;
use crate::db::sql::OnConflict;
use crate::encode::begin_tuple;
use crate::encode::field::FieldEncoder;
use crate::encode::value::{encode_field, write_null, EncodeOptions, EncodeStats, ValueError};
use crate::error::excerpt;
use crate::load::row_buffer::{RowBuffer, RowKey};
use crate::load::table::TableModel;
use crate::load::write_plan::{PlannedColumn, StreamShape, WritePlan, WritePolicy};
use crate::protocol::message::RecordSlots;
use crate::schema::pg_type::PgType;
use crate::schema::plan::{Metadata, Property};

/// The message-level values of one record, for its metadata columns.
#[derive(Debug, Clone, Copy)]
pub struct RecordMeta<'a> {
    /// `time_extracted`, as given.
    pub extracted_at: Option<&'a str>,
    /// When it was read, as a JSON string literal.
    pub received_at: &'a str,
    /// `sequence`, or the record's position in the input.
    pub sequence: i64,
    /// `version`.
    pub table_version: Option<i64>,
    /// Mage's constant columns: (property, JSON text of the value).
    pub constants: &'a [(String, String)],
}

/// The message-level values of a record that fill its metadata columns.
#[derive(Debug, Default, Clone, Copy)]
pub struct Envelope<'m> {
    /// `time_extracted`.
    pub time_extracted: Option<&'m str>,
    /// `version`.
    pub version: Option<i64>,
    /// `sequence`.
    pub sequence: Option<i64>,
}

/// Why a record could not be encoded.
#[derive(Debug)]
pub enum RecordError {
    /// A value does not fit its column.
    Value {
        /// The column.
        column: String,
        /// A shortened rendering of the value.
        value: String,
        /// Why.
        error: ValueError,
    },
    /// A key column is NULL or missing.
    NullKey {
        /// The key column.
        column: String,
    },
    /// The record is not a JSON object we can walk, or fails validation.
    Invalid(String),
}

/// A stream being loaded.
pub struct Stream {
    /// The stream name.
    pub name: String,
    /// Which table it loads into.
    pub table_id: usize,
    /// Its properties in schema order.
    pub properties: Vec<Property>,
    /// Its key columns (cleaned).
    pub key_columns: Vec<String>,
    /// What a merge does on conflict.
    pub on_conflict: OnConflict,
    /// The SCHEMA text that produced this, to skip identical repeats.
    pub fingerprint: String,
    /// Full JSON Schema validation, when enabled.
    pub validator: Option<jsonschema::Validator>,
    /// The rows waiting for a flush.
    pub rows: RowBuffer,
    /// Properties seen in records but not in the schema (warned once each).
    pub unknown_properties: HashSet<String>,
    /// Values of such properties ignored.
    pub ignored_values: u64,
    /// Object properties flattened into `parent__child` columns, by joined path.
    pub flattened: HashSet<String>,
    /// Flushes submitted so far (the first ones are kept small, see the loader).
    pub flushes: u32,
    /// Properties stream maps remove: skipped without a warning.
    pub dropped: Vec<String>,
    plan: Option<WritePlan>,
    /// Each plan column's encoder for its commonest values.
    encoders: Vec<FieldEncoder>,
    slots: Vec<Option<(usize, usize)>>,
    /// The slots of the last record's properties in the order they came: records of a
    /// stream nearly always list them alike, so the next property is checked against this
    /// before it is looked up by name.
    property_order: Vec<usize>,
    /// How many properties of the record being walked came in `property_order`'s order.
    order_position: usize,
    field_bounds: Vec<(usize, usize)>,
    key_scratch: Vec<u8>,
}

/// What a SCHEMA message makes of a stream.
pub struct StreamSchema {
    /// Its properties in schema order.
    pub properties: Vec<Property>,
    /// Its key columns (cleaned): what rows are merged on.
    pub key_columns: Vec<String>,
    /// What a merge does on conflict.
    pub on_conflict: OnConflict,
    /// The SCHEMA text, to skip identical repeats.
    pub fingerprint: String,
    /// Full JSON Schema validation, when enabled.
    pub validator: Option<jsonschema::Validator>,
    /// Object properties flattened into `parent__child` columns, by joined path.
    pub flattened: HashSet<String>,
}

impl Stream {
    /// A stream with no plan yet (built on its first record).
    pub fn new(name: String, table_id: usize, schema: StreamSchema) -> Stream {
        Stream {
            name,
            table_id,
            properties: schema.properties,
            key_columns: schema.key_columns,
            on_conflict: schema.on_conflict,
            fingerprint: schema.fingerprint,
            validator: schema.validator,
            rows: RowBuffer::default(),
            unknown_properties: HashSet::new(),
            ignored_values: 0,
            flattened: schema.flattened,
            flushes: 0,
            dropped: Vec::new(),
            plan: None,
            encoders: Vec::new(),
            slots: Vec::new(),
            property_order: Vec::new(),
            order_position: 0,
            field_bounds: Vec::new(),
            key_scratch: Vec::new(),
        }
    }

    /// The stream under a new SCHEMA (its rows flushed before): the same counters of
    /// unknown properties, a new plan.
    pub fn replaced(self, table_id: usize, schema: StreamSchema) -> Stream {
        Stream {
            unknown_properties: self.unknown_properties,
            ignored_values: self.ignored_values,
            ..Stream::new(self.name, table_id, schema)
        }
    }

    /// How the current plan writes rows (after [`Stream::refresh_plan`]).
    pub fn write_mode(&self) -> Option<WriteMode> {
        self.plan.as_ref().map(|plan| plan.mode.clone())
    }

    /// Whether the stream loads a Citus distributed table (as of its current plan).
    pub fn loads_distributed_table(&self) -> bool {
        self.plan.as_ref().is_some_and(|plan| plan.distributed)
    }

    /// Rebuilds the plan when the table changed since it was built.
    pub fn refresh_plan(&mut self, table: &TableModel, policy: WritePolicy) {
        if self
            .plan
            .as_ref()
            .is_some_and(|plan| plan.generation == table.generation)
        {
            return;
        }
        let shape = StreamShape {
            properties: &self.properties,
            key_columns: &self.key_columns,
            on_conflict: self.on_conflict,
        };
        let plan = WritePlan::build(shape, table, policy);
        // Slots may hold a record walked before a widening rebuilt the plan; the property
        // order, and so each property's slot, is unchanged.
        self.slots.resize(plan.columns.len(), None);
        self.field_bounds.resize(plan.columns.len(), (0, 0));
        self.property_order.clear();
        self.encoders = plan
            .columns
            .iter()
            .map(|column| FieldEncoder::for_type(&column.pg_type))
            .collect();
        self.plan = Some(plan);
    }

    /// Checks the whole record against the stream's JSON Schema, when validation is on.
    pub fn validate(&self, record: &str) -> Result<(), RecordError> {
        let Some(validator) = &self.validator else {
            return Ok(());
        };
        let value: serde_json::Value = serde_json::from_str(record)
            .map_err(|e| RecordError::Invalid(format!("not a JSON object: {e}")))?;
        if let Err(error) = validator.validate(&value) {
            let path = error.instance_path().to_string();
            let path = if path.is_empty() {
                "/".to_string()
            } else {
                path
            };
            return Err(RecordError::Invalid(format!(
                "fails its JSON Schema at {path}: {error}"
            )));
        }
        Ok(())
    }

    /// Brings the plan up to the table's generation and empties the slots, before a record
    /// is walked into them.
    pub fn prepare_record(&mut self, table: &TableModel, policy: WritePolicy) {
        self.refresh_plan(table, policy);
        self.begin_record();
    }

    /// Empties the slots for the next record.
    pub fn begin_record(&mut self) {
        self.slots.iter_mut().for_each(|slot| *slot = None);
        self.order_position = 0;
    }

    /// Encodes the record whose values the slots point at (offsets into `line`) as one row of
    /// the batch. Returns whether it opened the batch.
    pub fn encode_row(
        &mut self,
        line: &str,
        meta: Option<&RecordMeta<'_>>,
        seq: u64,
        line_number: u64,
        options: EncodeOptions,
        stats: &mut EncodeStats,
    ) -> Result<bool, RecordError> {
        let Some(plan) = self.plan.as_ref() else {
            return Err(RecordError::Invalid("stream has no plan".into()));
        };
        if plan.columns.is_empty() {
            // A schema without properties: the record has nothing to store.
            return Ok(false);
        }
        // A key also picks the row's lane when a table has several.
        let lane_by_key = self.rows.lanes() > 1 && !plan.key_slots.is_empty();
        let columns = plan.columns.len();
        if self.encoders.len() != columns
            || self.slots.len() != columns
            || self.field_bounds.len() != columns
        {
            return Err(RecordError::Invalid(
                "stream out of step with its plan".into(),
            ));
        }
        let out = self.rows.buffer();
        let start = out.len();
        begin_tuple(columns as u16, out);
        let source = RowSource {
            line,
            meta,
            options,
        };
        let fields = plan
            .columns
            .iter()
            .zip(&self.encoders)
            .zip(&self.slots)
            .zip(&mut self.field_bounds);
        for (((column, &encoder), &slot), bounds) in fields {
            let field_start = out.len();
            if let Err(error) = source.encode(column, encoder, slot, stats, out) {
                out.truncate(start);
                return Err(error);
            }
            *bounds = (field_start, out.len());
        }

        let key_slots: &[usize] = if plan.merge || lane_by_key {
            &plan.key_slots
        } else {
            &[]
        };
        if let Err(error) = gather_key(
            plan,
            key_slots,
            &self.field_bounds,
            out,
            &mut self.key_scratch,
        ) {
            out.truncate(start);
            return Err(error);
        }
        let key = if plan.merge {
            RowKey::Unique(&self.key_scratch)
        } else if lane_by_key {
            RowKey::Lane(&self.key_scratch)
        } else {
            RowKey::None
        };
        Ok(self.rows.commit_row(start, key, seq, line_number))
    }

    /// The slot of `property`, looked up by name when it is not the one the last record had
    /// at this position; a known property then starts this record's order from here on (at
    /// most one entry per column, whatever a record repeats). Out of line: the lookup needs
    /// registers the common path, one comparison, does without.
    #[cold]
    #[inline(never)]
    fn learn_slot(&mut self, property: &str) -> Option<usize> {
        let plan = self.plan.as_ref()?;
        let slot = plan.slot_of.get(property).copied()?;
        let position = self.order_position;
        if position < plan.columns.len() {
            self.property_order.truncate(position);
            self.property_order.push(slot);
            self.order_position += 1;
        }
        Some(slot)
    }

    /// Counts (and warns once about) a property the schema does not have.
    fn note_unknown(&mut self, property: &str) {
        if !self.dropped.is_empty() && self.dropped.iter().any(|d| d == property) {
            return;
        }
        self.ignored_values += 1;
        if !self.unknown_properties.contains(property) {
            log::warn!(
                "stream \"{}\": property \"{}\" is not in the schema; its values are ignored",
                self.name,
                excerpt(property)
            );
            self.unknown_properties.insert(property.to_string());
        }
    }
}

/// Gathers the encoded key of the row in `out` (its `key_slots` fields, at `field_bounds`)
/// into `scratch`. A merge key may not be null; a key that only picks a lane may.
fn gather_key(
    plan: &WritePlan,
    key_slots: &[usize],
    field_bounds: &[(usize, usize)],
    out: &[u8],
    scratch: &mut Vec<u8>,
) -> Result<(), RecordError> {
    scratch.clear();
    for &slot in key_slots {
        let (from, to) = field_bounds.get(slot).copied().unwrap_or((0, 0));
        let field = out.get(from..to).unwrap_or_default();
        if plan.merge && field == (-1i32).to_be_bytes() {
            let column = plan
                .columns
                .get(slot)
                .map(|c| c.name.clone())
                .unwrap_or_default();
            return Err(RecordError::NullKey { column });
        }
        let key_start = scratch.len();
        scratch.extend_from_slice(field);
        // NUMERIC's send format carries the display scale: 1 and 1.0 differ in bytes but
        // are one key to PostgreSQL. Compare keys without it (digits are normalised).
        if matches!(
            plan.columns.get(slot).map(|c| &c.pg_type),
            Some(PgType::Numeric)
        ) {
            if let Some(dscale) = scratch.get_mut(key_start + 10..key_start + 12) {
                dscale.fill(0);
            }
        }
    }
    Ok(())
}

/// Where a row's fields come from: the record's line, the message around it, the run's
/// encode options.
struct RowSource<'a, 'm> {
    line: &'a str,
    meta: Option<&'a RecordMeta<'m>>,
    options: EncodeOptions,
}

impl RowSource<'_, '_> {
    /// Appends the field of `column`, whose value lies at `slot` in the line (if the record
    /// has it). A property's value in its commonest shape is written from the line's bytes
    /// by the column's `encoder`; a metadata column's value, and any other, by
    /// [`encode_field`].
    #[inline]
    fn encode(
        &self,
        column: &PlannedColumn,
        encoder: FieldEncoder,
        slot: Option<(usize, usize)>,
        stats: &mut EncodeStats,
        out: &mut Vec<u8>,
    ) -> Result<(), RecordError> {
        let metadata = column.metadata.filter(|_| self.meta.is_some());
        let written = metadata.is_none()
            && match slot {
                None => {
                    write_null(out);
                    true
                }
                Some((offset, len)) => self
                    .line
                    .as_bytes()
                    .get(offset..offset + len)
                    .is_some_and(|raw| encoder.encode_fast(raw, self.options, out)),
            };
        if written {
            return Ok(());
        }
        let mut raw = slot.and_then(|(offset, len)| self.line.get(offset..offset + len));
        let synthesized;
        if let (Some(kind), Some(meta)) = (metadata, self.meta) {
            if raw.is_none() || matches!(kind, Metadata::Constant(_)) {
                synthesized = metadata_value(kind, meta);
                raw = synthesized.as_deref();
            }
        }
        let options = column.encode_options(self.options);
        encode_field(raw, &column.pg_type, options, stats, out).map_err(|error| {
            RecordError::Value {
                column: column.name.clone(),
                value: excerpt(raw.unwrap_or("null")),
                error,
            }
        })
    }
}

/// The JSON text of a metadata column's value, when the message has one (borrowed where it
/// already exists as text: this runs for every metadata column of every record).
fn metadata_value<'m>(kind: Metadata, meta: &RecordMeta<'m>) -> Option<Cow<'m, str>> {
    match kind {
        Metadata::ExtractedAt => meta
            .extracted_at
            .and_then(|text| serde_json::to_string(text).ok())
            .map(Cow::Owned),
        Metadata::ReceivedAt
        | Metadata::BatchedAt
        | Metadata::MageCreatedAt
        | Metadata::MageUpdatedAt => Some(Cow::Borrowed(meta.received_at)),
        Metadata::Constant(index) => meta
            .constants
            .get(index)
            .map(|(_, value)| Cow::Borrowed(value.as_str())),
        Metadata::DeletedAt => None,
        Metadata::Sequence => Some(Cow::Owned(meta.sequence.to_string())),
        Metadata::TableVersion => meta.table_version.map(|v| Cow::Owned(v.to_string())),
    }
}

/// Whether two property names are the same, compared a word or two at a time inline: a
/// call to memcmp cost more than the comparison, and made the caller save registers.
#[inline]
fn same_name(a: &[u8], b: &[u8]) -> bool {
    fn word<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
        bytes.get(at..)?.first_chunk().copied()
    }
    let len = a.len();
    if len != b.len() {
        return false;
    }
    // The last word overlaps those before it, so the words cover the name whole.
    match len {
        8.. => {
            let mut at = 0;
            while at + 8 < len {
                if word::<8>(a, at) != word::<8>(b, at) {
                    return false;
                }
                at += 8;
            }
            word::<8>(a, len - 8) == word::<8>(b, len - 8)
        }
        4..=7 => {
            word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, len - 4) == word::<4>(b, len - 4)
        }
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
    }
}

/// A stream receiving one record's values, with offsets taken relative to its input line.
pub struct StreamSlots<'a> {
    stream: &'a mut Stream,
    line_start: usize,
}

impl<'a> StreamSlots<'a> {
    /// Slots of `stream` for a record read from `line` (the stream's plan must be current
    /// and its slots emptied: see [`Stream::begin_record`]).
    pub fn new(stream: &'a mut Stream, line: &str) -> StreamSlots<'a> {
        StreamSlots {
            stream,
            line_start: line.as_ptr() as usize,
        }
    }
}

impl RecordSlots for StreamSlots<'_> {
    fn begin(&mut self, _: &str) -> bool {
        true
    }

    fn slot_of(&mut self, property: &str) -> Option<usize> {
        let stream = &mut *self.stream;
        let plan = stream.plan.as_ref()?;
        let position = stream.order_position;
        // The property the last record had here: one comparison instead of a hash lookup.
        if let Some(&slot) = stream.property_order.get(position) {
            if plan
                .property_names
                .get(slot)
                .is_some_and(|name| same_name(name.as_bytes(), property.as_bytes()))
            {
                stream.order_position += 1;
                return Some(slot);
            }
        }
        stream.learn_slot(property)
    }

    fn fill(&mut self, slot: usize, raw: &str) {
        // The raw text lies inside the line: its offset is where it starts in the line.
        let offset = (raw.as_ptr() as usize).wrapping_sub(self.line_start);
        if let Some(entry) = self.stream.slots.get_mut(slot) {
            *entry = Some((offset, raw.len()));
        }
    }

    fn fill_at(&mut self, slot: usize, line: &str, from: usize, to: usize) {
        // The same offset `fill` finds, without slicing the line first.
        let offset = (line.as_ptr() as usize + from).wrapping_sub(self.line_start);
        if let Some(entry) = self.stream.slots.get_mut(slot) {
            *entry = Some((offset, to.saturating_sub(from)));
        }
    }

    fn unknown(&mut self, property: &str) {
        self.stream.note_unknown(property);
    }

    fn is_flattened(&self, path: &str) -> bool {
        !self.stream.flattened.is_empty() && self.stream.flattened.contains(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_name_agrees_with_byte_equality() {
        let mut rng = crate::fuzz::Rng(0x5eed_2026_1205);
        for _ in 0..200_000 {
            let len = rng.below(48);
            let a: Vec<u8> = (0..len).map(|_| b"ab_\xc3\xa9"[rng.below(5)]).collect();
            let mut b = a.clone();
            match rng.below(4) {
                0 => {}
                1 if len > 0 => b[rng.below(len)] ^= 1 << rng.below(8),
                2 => b.push(b'a'),
                _ => b = (0..rng.below(48)).map(|_| b"ab"[rng.below(2)]).collect(),
            }
            assert_eq!(same_name(&a, &b), a == b, "{a:?} {b:?}");
            assert_eq!(same_name(&b, &a), a == b, "{b:?} {a:?}");
        }
    }
}
