//! One Singer stream: its properties and their columns, its write plan, and the encoding of
//! each RECORD into its batch.
//!
//! A record is walked once: each top-level property's raw JSON text is located and put in
//! the slot of its column, then the slots are encoded in column order straight into the
//! batch buffer. Nothing per record is allocated except the key of a keyed upsert.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use crate::config::LoadMethod;
use crate::db::flush::{DirectCopy, WriteMode};
use crate::db::sql::{self, MergeRole, OnConflict, SqlColumn};
use crate::encode::begin_tuple;
use crate::encode::value::{encode_field, EncodeOptions, EncodeStats, ValueError};
use crate::error::excerpt;
use crate::fast_hash::FastMap;
use crate::protocol::message::RecordSlots;
use crate::schema::pg_type::PgType;
use crate::sink::Batch;
use crate::table::TableModel;

/// A property of the stream's schema and the column it loads into.
#[derive(Debug, Clone)]
pub struct Property {
    /// The property name as records spell it.
    pub name: String,
    /// The cleaned column name.
    pub column: String,
    /// The type we would create the column with.
    pub type_name: String,
    /// For a `_sdc_*` column of `add_record_metadata`: what fills it when the record does not.
    pub metadata: Option<Metadata>,
}

/// The `_sdc_*` columns of `add_record_metadata`, filled from the message around the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metadata {
    /// The message's `time_extracted`.
    ExtractedAt,
    /// When target-postgres read the record.
    ReceivedAt,
    /// When the record joined its batch (the same instant: rows are encoded as they are read).
    BatchedAt,
    /// Only from the record's own `_sdc_deleted_at` (CDC taps send it).
    DeletedAt,
    /// The message's `sequence`, else the record's position in the input.
    Sequence,
    /// The message's `version` (ACTIVATE_VERSION syncs).
    TableVersion,
    /// Mage's `_mage_created_at`: when the row was first loaded (a merge keeps it).
    MageCreatedAt,
    /// Mage's `_mage_updated_at`: when the row was last loaded with changed data.
    MageUpdatedAt,
    /// Mage's `_streams.columns`: the constant at this index of the settings' list, which
    /// wins over a value the record may carry (as in Mage).
    Constant(usize),
}

impl Metadata {
    /// Every metadata column: name, type, kind.
    pub const COLUMNS: [(&'static str, &'static str, Metadata); 6] = [
        (
            "_sdc_extracted_at",
            "timestamp with time zone",
            Metadata::ExtractedAt,
        ),
        (
            "_sdc_received_at",
            "timestamp with time zone",
            Metadata::ReceivedAt,
        ),
        (
            "_sdc_batched_at",
            "timestamp with time zone",
            Metadata::BatchedAt,
        ),
        (
            "_sdc_deleted_at",
            "timestamp with time zone",
            Metadata::DeletedAt,
        ),
        ("_sdc_sequence", "bigint", Metadata::Sequence),
        ("_sdc_table_version", "bigint", Metadata::TableVersion),
    ];
}

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

/// The column hard deletes are read from.
pub const DELETED_AT_COLUMN: &str = "_sdc_deleted_at";

/// The column ACTIVATE_VERSION compares.
pub const TABLE_VERSION_COLUMN: &str = "_sdc_table_version";

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

/// The columns a stream writes and how, for one generation of its table.
#[derive(Debug)]
struct Plan {
    generation: u64,
    /// Written columns, in property order: (column name, type, metadata kind).
    columns: Vec<(String, PgType, Option<Metadata>)>,
    /// Property name → slot in `columns`.
    slot_of: FastMap<String, usize>,
    /// Slots of the key columns.
    key_slots: Vec<usize>,
    /// Whether rows are merged by key (and so deduplicated in the batch).
    merge: bool,
    /// How the flush writes the rows.
    mode: WriteMode,
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
    pub batch: Batch,
    /// Properties seen in records but not in the schema (warned once each).
    pub unknown_properties: HashSet<String>,
    /// Values of such properties ignored.
    pub ignored_values: u64,
    /// Object properties flattened into `parent__child` columns, by joined path.
    pub flattened: HashSet<String>,
    /// Flushes submitted so far (the first ones are kept small, see the loader).
    pub flushes: u32,
    plan: Option<Plan>,
    slots: Vec<Option<(usize, usize)>>,
    field_bounds: Vec<(usize, usize)>,
    key_scratch: Vec<u8>,
}

impl Stream {
    /// A stream with no plan yet (built on first record).
    pub fn new(
        name: String,
        table_id: usize,
        properties: Vec<Property>,
        key_columns: Vec<String>,
        on_conflict: OnConflict,
        fingerprint: String,
        validator: Option<jsonschema::Validator>,
    ) -> Stream {
        Stream {
            name,
            table_id,
            properties,
            key_columns,
            on_conflict,
            fingerprint,
            validator,
            batch: Batch::default(),
            unknown_properties: HashSet::new(),
            ignored_values: 0,
            flattened: HashSet::new(),
            flushes: 0,
            plan: None,
            slots: Vec::new(),
            field_bounds: Vec::new(),
            key_scratch: Vec::new(),
        }
    }

    /// How the current plan writes rows (after [`Stream::refresh_plan`]).
    pub fn write_mode(&self) -> Option<WriteMode> {
        self.plan.as_ref().map(|plan| plan.mode.clone())
    }

    /// Rebuilds the plan when the table changed since it was built.
    pub fn refresh_plan(&mut self, table: &TableModel, load_method: LoadMethod, hard_delete: bool) {
        if self
            .plan
            .as_ref()
            .is_some_and(|plan| plan.generation == table.generation)
        {
            return;
        }
        let mut columns = Vec::with_capacity(self.properties.len());
        let mut slot_of = FastMap::default();
        for property in &self.properties {
            let pg_type = table
                .column(&property.column)
                .map(|c| c.pg_type.clone())
                .unwrap_or_else(|| PgType::from_format_type(&property.type_name));
            slot_of.insert(property.name.clone(), columns.len());
            columns.push((property.column.clone(), pg_type, property.metadata));
        }
        let key_slots: Vec<usize> = self
            .key_columns
            .iter()
            .filter_map(|key| columns.iter().position(|(name, _, _)| name == key))
            .collect();
        // An overwrite stages every row; the swap keeps the last of each key.
        let merge =
            load_method == LoadMethod::Upsert && !key_slots.is_empty() && !table.is_overwrite();
        // Hard deletes need a key to delete by and the column that marks a delete.
        let deleted_column =
            (hard_delete && merge && columns.iter().any(|(name, _, _)| name == DELETED_AT_COLUMN))
                .then_some(DELETED_AT_COLUMN);
        let names: Vec<&str> = columns.iter().map(|(name, _, _)| name.as_str()).collect();
        let mode = if merge {
            let sql_columns: Vec<SqlColumn> = columns
                .iter()
                .map(|(name, pg_type, metadata)| SqlColumn {
                    name: name.clone(),
                    comparable: pg_type.has_equality(),
                    role: match metadata {
                        Some(Metadata::MageCreatedAt) => MergeRole::Kept,
                        Some(Metadata::MageUpdatedAt) => MergeRole::Stamp,
                        _ => MergeRole::Data,
                    },
                })
                .collect();
            let has_unique_index = table.has_unique_index_on(&self.key_columns);
            // Only a unique index makes a direct COPY safe: it is what reports a key that
            // is already there. IGNORE must never update, so it may use it too.
            // With hard deletes every row goes through the stage, where deletes are sorted out.
            let direct = (has_unique_index && deleted_column.is_none()).then(|| DirectCopy {
                copy: sql::copy_into(&table.qualified, &sql::column_list(&names)).into(),
                enabled: Arc::clone(&table.direct_copy),
            });
            WriteMode::Merge {
                sql: Arc::new(sql::merge(
                    &table.qualified,
                    &sql_columns,
                    &self.key_columns,
                    self.on_conflict,
                    has_unique_index,
                    deleted_column,
                )),
                direct,
            }
        } else {
            WriteMode::Copy {
                copy: sql::copy_into(table.copy_target(), &sql::column_list(&names)).into(),
            }
        };
        // Slots may hold a record walked before a widening rebuilt the plan; the property
        // order, and so each property's slot, is unchanged.
        self.slots.resize(columns.len(), None);
        self.field_bounds.resize(columns.len(), (0, 0));
        self.plan = Some(Plan {
            generation: table.generation,
            columns,
            slot_of,
            key_slots,
            merge,
            mode,
        });
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

    /// Empties the slots for the next record.
    pub fn begin_record(&mut self) {
        self.slots.iter_mut().for_each(|slot| *slot = None);
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
        let out = self.batch.buffer();
        let start = out.len();
        begin_tuple(plan.columns.len() as u16, out);
        for (index, (column, pg_type, metadata)) in plan.columns.iter().enumerate() {
            let mut raw = self
                .slots
                .get(index)
                .copied()
                .flatten()
                .and_then(|(offset, len)| line.get(offset..offset + len));
            let synthesized;
            if let (Some(kind), Some(meta)) = (metadata, meta) {
                if raw.is_none() || matches!(kind, Metadata::Constant(_)) {
                    synthesized = metadata_value(*kind, meta);
                    raw = synthesized.as_deref();
                }
            }
            let field_start = out.len();
            if let Err(error) = encode_field(raw, pg_type, options, stats, out) {
                out.truncate(start);
                return Err(RecordError::Value {
                    column: column.clone(),
                    value: excerpt(raw.unwrap_or("null")),
                    error,
                });
            }
            if let Some(bounds) = self.field_bounds.get_mut(index) {
                *bounds = (field_start, out.len());
            }
        }

        self.key_scratch.clear();
        let key_slots: &[usize] = if plan.merge { &plan.key_slots } else { &[] };
        for &slot in key_slots {
            let (from, to) = self.field_bounds.get(slot).copied().unwrap_or((0, 0));
            let field = out.get(from..to).unwrap_or_default();
            if field == (-1i32).to_be_bytes() {
                out.truncate(start);
                let column = plan
                    .columns
                    .get(slot)
                    .map(|(n, _, _)| n.clone())
                    .unwrap_or_default();
                return Err(RecordError::NullKey { column });
            }
            let key_start = self.key_scratch.len();
            self.key_scratch.extend_from_slice(field);
            // NUMERIC's send format carries the display scale: 1 and 1.0 differ in bytes but
            // are one key to PostgreSQL. Compare keys without it (digits are normalised).
            if matches!(plan.columns.get(slot), Some((_, PgType::Numeric, _))) {
                if let Some(dscale) = self.key_scratch.get_mut(key_start + 10..key_start + 12) {
                    dscale.fill(0);
                }
            }
        }
        let key = plan.merge.then_some(self.key_scratch.as_slice());
        Ok(self.batch.commit_row(start, key, seq, line_number))
    }

    /// Counts (and warns once about) a property the schema does not have.
    fn note_unknown(&mut self, property: &str) {
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

    fn slot_of(&self, property: &str) -> Option<usize> {
        self.stream.plan.as_ref()?.slot_of.get(property).copied()
    }

    fn fill(&mut self, slot: usize, raw: &str) {
        // The raw text lies inside the line: its offset is where it starts in the line.
        let offset = (raw.as_ptr() as usize).wrapping_sub(self.line_start);
        if let Some(entry) = self.stream.slots.get_mut(slot) {
            *entry = Some((offset, raw.len()));
        }
    }

    fn unknown(&mut self, property: &str) {
        self.stream.note_unknown(property);
    }

    fn is_flattened(&self, path: &str) -> bool {
        !self.stream.flattened.is_empty() && self.stream.flattened.contains(path)
    }
}
