//! How one stream's rows reach its table, decided once per table generation: the columns
//! written with their actual types, where each property's value goes, the key slots, and
//! the write mode (COPY, COPY into a stage and merge, or the optimistic direct COPY of a
//! keyed load into a table that held no rows).
//!
//! The table model bumps its generation on every change (a CREATE, an added column, a
//! widening, a new key); a plan built for an older generation is rebuilt before the next
//! record is encoded, so rows are always encoded for the types their COPY will meet.

use std::sync::Arc;

use crate::config::LoadMethod;
use crate::db::flush::{DirectCopy, WriteMode};
use crate::db::sql::{self, MergeRole, OnConflict, SqlColumn};
use crate::encode::value::EncodeOptions;
use crate::fast_hash::FastMap;
use crate::load::table::TableModel;
use crate::schema::pg_type::PgType;
use crate::schema::plan::{Metadata, Property, DELETED_AT_COLUMN};

/// One written column.
#[derive(Debug)]
pub struct PlannedColumn {
    /// The column name.
    pub name: String,
    /// Its actual type (from the catalog or our own DDL), which values are encoded for.
    pub pg_type: PgType,
    /// For a metadata column: what fills it.
    pub metadata: Option<Metadata>,
    /// The property is an array of objects (Mage mode parses its elements sent as JSON
    /// strings).
    pub array_of_objects: bool,
}

impl PlannedColumn {
    /// The run's encode options as they apply to this column: Mage mode parses the elements
    /// of an array of objects sent as JSON strings.
    pub fn encode_options(&self, run: EncodeOptions) -> EncodeOptions {
        EncodeOptions {
            json_string_elements: run.parse_json_strings && self.array_of_objects,
            ..run
        }
    }
}

/// What a stream is, for its plan: the parts of a SCHEMA the write mode depends on.
#[derive(Debug, Clone, Copy)]
pub struct StreamShape<'a> {
    /// Properties in schema order.
    pub properties: &'a [Property],
    /// Key columns (cleaned): the primary key, or Mage's unique constraint.
    pub key_columns: &'a [String],
    /// What a merge does with a key that is already there.
    pub on_conflict: OnConflict,
}

/// The settings the write mode depends on.
#[derive(Debug, Clone, Copy)]
pub struct WritePolicy {
    /// `upsert`, `append-only` or `overwrite`.
    pub load_method: LoadMethod,
    /// Delete rows whose record carries `_sdc_deleted_at`.
    pub hard_delete: bool,
}

/// The columns a stream writes and how, for one generation of its table.
#[derive(Debug)]
pub struct WritePlan {
    /// The table generation this plan was built for.
    pub generation: u64,
    /// Written columns, in property order.
    pub columns: Vec<PlannedColumn>,
    /// Property name → slot in `columns`.
    pub slot_of: FastMap<String, usize>,
    /// Slot → property name: the inverse of `slot_of`, to confirm a predicted slot.
    pub property_names: Vec<String>,
    /// Slots of the key columns.
    pub key_slots: Vec<usize>,
    /// Whether rows are merged by key (and so deduplicated in the batch).
    pub merge: bool,
    /// How the flush writes the rows.
    pub mode: WriteMode,
    /// The table is a Citus distributed table (its flushes are made large: see
    /// `load::budget`).
    pub distributed: bool,
}

impl WritePlan {
    /// The plan of `stream` for the table as it is now.
    pub fn build(stream: StreamShape<'_>, table: &TableModel, policy: WritePolicy) -> WritePlan {
        let mut columns = Vec::with_capacity(stream.properties.len());
        let mut slot_of = FastMap::default();
        let mut property_names = Vec::with_capacity(stream.properties.len());
        for property in stream.properties {
            let pg_type = table
                .column(&property.column)
                .map(|c| c.pg_type.clone())
                .unwrap_or_else(|| PgType::from_format_type(&property.type_name));
            slot_of.insert(property.name.clone(), columns.len());
            property_names.push(property.name.clone());
            columns.push(PlannedColumn {
                name: property.column.clone(),
                pg_type,
                metadata: property.metadata,
                array_of_objects: property.array_of_objects,
            });
        }
        let key_slots: Vec<usize> = stream
            .key_columns
            .iter()
            .filter_map(|key| columns.iter().position(|c| &c.name == key))
            .collect();
        // An overwrite stages every row; the swap keeps the last of each key.
        let merge = policy.load_method == LoadMethod::Upsert
            && !key_slots.is_empty()
            && !table.is_overwrite();
        let mode = if merge {
            merge_mode(&columns, stream, table, policy.hard_delete)
        } else {
            let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            WriteMode::Copy {
                copy: sql::copy_into(table.copy_target(), &sql::column_list(&names)).into(),
            }
        };
        WritePlan {
            generation: table.generation,
            columns,
            slot_of,
            property_names,
            key_slots,
            merge,
            mode,
            distributed: table.is_distributed(),
        }
    }
}

/// The merge of a keyed upsert, with the direct COPY when the table allows it.
fn merge_mode(
    columns: &[PlannedColumn],
    stream: StreamShape<'_>,
    table: &TableModel,
    hard_delete: bool,
) -> WriteMode {
    // Hard deletes need the column that marks a delete.
    let deleted_column = (hard_delete && columns.iter().any(|c| c.name == DELETED_AT_COLUMN))
        .then_some(DELETED_AT_COLUMN);
    let sql_columns: Vec<SqlColumn> = columns
        .iter()
        .map(|column| SqlColumn {
            name: column.name.clone(),
            comparable: column.pg_type.has_equality(),
            role: match column.metadata {
                Some(Metadata::MageCreatedAt) => MergeRole::Kept,
                Some(Metadata::MageUpdatedAt) => MergeRole::Stamp,
                _ => MergeRole::Data,
            },
        })
        .collect();
    let has_unique_index = table.has_unique_index_on(stream.key_columns);
    // Only a unique index makes a direct COPY safe: it is what reports a key that is already
    // there. IGNORE must never update, so it may use it too. With hard deletes every row
    // goes through the stage, where deletes are sorted out.
    let direct = (has_unique_index && deleted_column.is_none()).then(|| {
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        DirectCopy {
            copy: sql::copy_into(&table.qualified, &sql::column_list(&names)).into(),
            enabled: Arc::clone(&table.direct_copy),
        }
    });
    WriteMode::Merge {
        sql: Arc::new(sql::merge(
            &table.qualified,
            &sql_columns,
            stream.key_columns,
            stream.on_conflict,
            has_unique_index,
            deleted_column,
        )),
        direct,
    }
}
