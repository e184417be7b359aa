//! One Singer stream: its properties and their columns, its write plan, and the encoding of
//! each RECORD into its batch.
//!
//! A record is walked once: each top-level property's raw JSON text is located and put in
//! the slot of its column, then the slots are encoded in column order straight into the
//! batch buffer. Nothing per record is allocated except the key of a keyed upsert.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::config::LoadMethod;
use crate::db::flush::{DirectCopy, WriteMode};
use crate::db::sql::{self, OnConflict, SqlColumn};
use crate::encode::begin_tuple;
use crate::encode::pg_type::PgType;
use crate::encode::value::{encode_field, EncodeOptions, EncodeStats, ValueError};
use crate::error::excerpt;
use crate::fast_hash::FastMap;
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

/// The columns a stream writes and how, for one generation of its table.
#[derive(Debug)]
struct Plan {
    generation: u64,
    /// Written columns, in property order: (column name, type).
    columns: Vec<(String, PgType)>,
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
    pub fn refresh_plan(&mut self, table: &TableModel, load_method: LoadMethod) {
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
            columns.push((property.column.clone(), pg_type));
        }
        let key_slots: Vec<usize> = self
            .key_columns
            .iter()
            .filter_map(|key| columns.iter().position(|(name, _)| name == key))
            .collect();
        let merge = load_method == LoadMethod::Upsert && !key_slots.is_empty();
        let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
        let mode = if merge {
            let sql_columns: Vec<SqlColumn> = columns
                .iter()
                .map(|(name, pg_type)| SqlColumn {
                    name: name.clone(),
                    comparable: pg_type.has_equality(),
                })
                .collect();
            let has_unique_index = table.has_unique_index_on(&self.key_columns);
            // Only a unique index makes a direct COPY safe: it is what reports a key that
            // is already there. IGNORE must never update, so it may use it too.
            let direct = has_unique_index.then(|| DirectCopy {
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
                )),
                direct,
            }
        } else {
            WriteMode::Copy {
                copy: sql::copy_into(&table.qualified, &sql::column_list(&names)).into(),
            }
        };
        self.slots = vec![None; columns.len()];
        self.field_bounds = vec![(0, 0); columns.len()];
        self.plan = Some(Plan {
            generation: table.generation,
            columns,
            slot_of,
            key_slots,
            merge,
            mode,
        });
    }

    /// Encodes one record into the batch. Returns whether it opened the batch.
    pub fn append_record(
        &mut self,
        record: &RawValue,
        seq: u64,
        line: u64,
        options: EncodeOptions,
        stats: &mut EncodeStats,
    ) -> Result<bool, RecordError> {
        let Some(plan) = self.plan.as_ref() else {
            return Err(RecordError::Invalid("stream has no plan".into()));
        };
        let text = record.get();
        if let Some(validator) = &self.validator {
            let value: serde_json::Value = serde_json::from_str(text)
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
        }

        self.slots.iter_mut().for_each(|slot| *slot = None);
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let walker = RecordWalker {
            slots: &mut self.slots,
            slot_of: &plan.slot_of,
            base: text.as_ptr() as usize,
            unknown: &mut self.unknown_properties,
            ignored: &mut self.ignored_values,
            stream: &self.name,
        };
        deserializer
            .deserialize_map(walker)
            .map_err(|e| RecordError::Invalid(format!("record is not a JSON object: {e}")))?;

        let out = self.batch.buffer();
        let start = out.len();
        begin_tuple(plan.columns.len() as u16, out);
        for (index, (column, pg_type)) in plan.columns.iter().enumerate() {
            let raw = self
                .slots
                .get(index)
                .copied()
                .flatten()
                .and_then(|(offset, len)| text.get(offset..offset + len));
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
                    .map(|(n, _)| n.clone())
                    .unwrap_or_default();
                return Err(RecordError::NullKey { column });
            }
            self.key_scratch.extend_from_slice(field);
        }
        let key = plan.merge.then_some(self.key_scratch.as_slice());
        Ok(self.batch.commit_row(start, key, seq, line))
    }
}

/// Finds each property's raw value and records where it lies in the record text.
struct RecordWalker<'a> {
    slots: &'a mut [Option<(usize, usize)>],
    slot_of: &'a FastMap<String, usize>,
    base: usize,
    unknown: &'a mut HashSet<String>,
    ignored: &'a mut u64,
    stream: &'a str,
}

impl<'de> Visitor<'de> for RecordWalker<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match self.slot_of.get(key.as_str()) {
                Some(&slot) => {
                    let raw: &'de RawValue = map.next_value()?;
                    let text = raw.get();
                    let offset = (text.as_ptr() as usize)
                        .checked_sub(self.base)
                        .ok_or_else(|| de::Error::custom("value outside the record"))?;
                    if let Some(entry) = self.slots.get_mut(slot) {
                        *entry = Some((offset, text.len()));
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                    *self.ignored += 1;
                    if !self.unknown.contains(key.as_str()) {
                        log::warn!(
                            "stream \"{}\": property \"{}\" is not in the schema; its values are ignored",
                            self.stream,
                            excerpt(key.as_str())
                        );
                        self.unknown.insert(key.as_str().to_string());
                    }
                }
            }
        }
        Ok(())
    }
}

/// An object key, borrowed from the input unless it had escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}
