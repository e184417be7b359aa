//! The column plan of a stream, decided from its SCHEMA alone: which properties it has
//! (objects flattened into `parent__child` properties), the cleaned column each one loads
//! into and the type it would be created with, the metadata columns added to every row, and
//! the table the stream loads into.
//!
//! Everything here is pure: no database, no run state. The loader turns this plan into a
//! table model (see `crate::load::table`) once it has read the catalog.

use std::collections::HashSet;

use serde_json::Value;

use crate::schema::flatten::flatten_properties;
use crate::schema::naming::{clean_name, split_stream_name, unique_names, NamingOptions};
use crate::schema::types::{column_type_for, is_array_of_objects};

/// The column hard deletes are read from.
pub const DELETED_AT_COLUMN: &str = "_sdc_deleted_at";

/// The column ACTIVATE_VERSION compares.
pub const TABLE_VERSION_COLUMN: &str = "_sdc_table_version";

/// The column Mage stamps when a row is first loaded (kept when the row is updated).
pub const MAGE_CREATED_AT_COLUMN: &str = "_mage_created_at";

/// The column Mage stamps whenever a row is loaded with changed data.
pub const MAGE_UPDATED_AT_COLUMN: &str = "_mage_updated_at";

/// The type of every timestamp metadata column.
const TIMESTAMPTZ: &str = "timestamp with time zone";

/// A property of the stream's schema and the column it loads into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// The property name as records spell it (`parent__child` for a flattened one).
    pub name: String,
    /// The cleaned column name.
    pub column: String,
    /// The type we would create the column with.
    pub type_name: String,
    /// For a metadata column: what fills it when the record does not.
    pub metadata: Option<Metadata>,
    /// Whether the property is an array of objects (see [`is_array_of_objects`]).
    pub array_of_objects: bool,
}

/// The columns filled from the message around the record rather than from the record: the
/// `_sdc_*` columns of `add_record_metadata`, Mage's stamps and Mage's constant columns.
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
    /// Every `_sdc_*` column of `add_record_metadata`: name, type, kind.
    pub const SDC_COLUMNS: [(&'static str, &'static str, Metadata); 6] = [
        ("_sdc_extracted_at", TIMESTAMPTZ, Metadata::ExtractedAt),
        ("_sdc_received_at", TIMESTAMPTZ, Metadata::ReceivedAt),
        ("_sdc_batched_at", TIMESTAMPTZ, Metadata::BatchedAt),
        (DELETED_AT_COLUMN, TIMESTAMPTZ, Metadata::DeletedAt),
        ("_sdc_sequence", "bigint", Metadata::Sequence),
        (TABLE_VERSION_COLUMN, "bigint", Metadata::TableVersion),
    ];
}

/// What shapes a stream's columns (from the settings).
#[derive(Debug, Clone, Copy)]
pub struct ColumnOptions<'s> {
    /// How property names become column names.
    pub naming: NamingOptions,
    /// Levels of object properties flattened into `parent__child` columns.
    pub flattening_max_level: usize,
    /// Add the `_sdc_*` columns.
    pub add_record_metadata: bool,
    /// Add Mage's `_mage_created_at` and `_mage_updated_at`.
    pub mage_columns: bool,
    /// Mage's constant columns: (name, JSON text of the value).
    pub constant_columns: &'s [(String, String)],
}

/// Where a stream's table is (from the settings).
#[derive(Debug, Clone, Copy)]
pub struct TargetOptions<'s> {
    /// How stream names become table names.
    pub naming: NamingOptions,
    /// The target schema.
    pub schema: &'s str,
    /// Source schema → target schema.
    pub schema_mapping: &'s [(String, String)],
    /// One table for every stream (Mage's `table`).
    pub table: Option<&'s str>,
    /// `src-users` → source schema `src`, table `users`.
    pub stream_name_split: bool,
}

/// The stream's properties in schema order with the metadata columns after them, and the
/// paths of the objects that were flattened.
pub fn columns_of(schema: &Value, options: &ColumnOptions<'_>) -> (Vec<Property>, HashSet<String>) {
    let mut leaves: Vec<(String, &Value)> = Vec::new();
    let mut flattened = HashSet::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        flatten_properties(
            properties,
            None,
            options.flattening_max_level,
            &mut leaves,
            &mut flattened,
        );
    }
    let cleaned: Vec<String> = leaves
        .iter()
        .map(|(name, _)| clean_name(name, options.naming))
        .collect();
    let columns = unique_names(&cleaned);
    for (((name, _), clean), column) in leaves.iter().zip(&cleaned).zip(&columns) {
        if clean != column {
            log::warn!(
                "property \"{name}\" collides with another after cleaning; its column is \"{column}\""
            );
        }
    }
    let mut properties: Vec<Property> = leaves
        .into_iter()
        .zip(columns)
        .map(|((name, subschema), column)| Property {
            name,
            column,
            type_name: column_type_for(subschema),
            metadata: None,
            array_of_objects: is_array_of_objects(subschema),
        })
        .collect();
    for (name, type_name, kind) in metadata_columns(options) {
        // Metadata columns have fixed names; Mage's constants are named by the user.
        let column = match kind {
            Metadata::Constant(_) => clean_name(&name, options.naming),
            _ => name.clone(),
        };
        // A property of the same name (a CDC tap's _sdc_deleted_at) is the column.
        match properties.iter_mut().find(|p| p.column == column) {
            Some(property) => property.metadata = Some(kind),
            None => properties.push(Property {
                name,
                column,
                type_name: type_name.to_string(),
                metadata: Some(kind),
                array_of_objects: false,
            }),
        }
    }
    (properties, flattened)
}

/// The metadata columns the options ask for: name, type, kind.
fn metadata_columns(options: &ColumnOptions<'_>) -> Vec<(String, &'static str, Metadata)> {
    let mut added: Vec<(String, &'static str, Metadata)> = Vec::new();
    if options.add_record_metadata {
        added.extend(
            Metadata::SDC_COLUMNS
                .iter()
                .map(|&(name, type_name, kind)| (name.to_string(), type_name, kind)),
        );
    }
    if options.mage_columns {
        added.push((
            MAGE_CREATED_AT_COLUMN.into(),
            TIMESTAMPTZ,
            Metadata::MageCreatedAt,
        ));
        added.push((
            MAGE_UPDATED_AT_COLUMN.into(),
            TIMESTAMPTZ,
            Metadata::MageUpdatedAt,
        ));
    }
    for (index, (name, _)) in options.constant_columns.iter().enumerate() {
        added.push((name.clone(), "text", Metadata::Constant(index)));
    }
    added
}

/// The target schema and table of a stream: configured names verbatim, derived ones cleaned.
pub fn target_of(stream: &str, options: &TargetOptions<'_>) -> (String, String) {
    let (source_schema, name) = if options.stream_name_split {
        split_stream_name(stream)
    } else {
        (None, stream)
    };
    let schema = source_schema
        .and_then(|source| {
            options
                .schema_mapping
                .iter()
                .find(|(from, _)| from == source)
        })
        .map_or(options.schema, |(_, to)| to.as_str());
    let table = match options.table {
        Some(table) => table.to_string(),
        None => clean_name(name, options.naming),
    };
    (schema.to_string(), table)
}

/// The columns of `names` (key properties), or the first name that is not a property.
pub fn key_columns<'n>(
    properties: &[Property],
    names: &'n [String],
) -> Result<Vec<String>, &'n str> {
    names
        .iter()
        .map(|key| {
            properties
                .iter()
                .find(|p| &p.name == key)
                .map(|p| p.column.clone())
                .ok_or(key.as_str())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NAMING: NamingOptions = NamingOptions {
        lower_case: true,
        allow_reserved_words: false,
    };

    fn plain() -> ColumnOptions<'static> {
        ColumnOptions {
            naming: NAMING,
            flattening_max_level: 0,
            add_record_metadata: false,
            mage_columns: false,
            constant_columns: &[],
        }
    }

    fn target<'a>(table: Option<&'a str>, mapping: &'a [(String, String)]) -> TargetOptions<'a> {
        TargetOptions {
            naming: NAMING,
            schema: "raw",
            schema_mapping: mapping,
            table,
            stream_name_split: true,
        }
    }

    #[test]
    fn properties_keep_schema_order_with_cleaned_columns_and_types() {
        let schema = json!({"properties": {
            "Id": {"type": "integer"},
            "from": {"type": "string"},
            "at": {"type": "string", "format": "date-time"},
        }});
        let (properties, flattened) = columns_of(&schema, &plain());
        let got: Vec<(&str, &str, &str)> = properties
            .iter()
            .map(|p| (p.name.as_str(), p.column.as_str(), p.type_name.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("Id", "id", "bigint"),
                ("from", "_from", "text"),
                ("at", "at", "timestamp with time zone"),
            ]
        );
        assert!(flattened.is_empty());
    }

    #[test]
    fn flattened_objects_become_parent_child_columns() {
        let schema = json!({"properties": {
            "address": {"type": "object", "properties": {"city": {"type": "string"}}},
        }});
        let options = ColumnOptions {
            flattening_max_level: 1,
            ..plain()
        };
        let (properties, flattened) = columns_of(&schema, &options);
        assert_eq!(properties.len(), 1);
        assert_eq!(properties[0].column, "address__city");
        assert!(flattened.contains("address"));
    }

    #[test]
    fn metadata_columns_follow_the_properties_and_reuse_a_property_of_the_same_name() {
        let schema = json!({"properties": {
            "id": {"type": "integer"},
            "_sdc_deleted_at": {"type": ["null", "string"], "format": "date-time"},
        }});
        let constants = [("Source".to_string(), "\"crm\"".to_string())];
        let options = ColumnOptions {
            add_record_metadata: true,
            mage_columns: true,
            constant_columns: &constants,
            ..plain()
        };
        let (properties, _) = columns_of(&schema, &options);
        let columns: Vec<&str> = properties.iter().map(|p| p.column.as_str()).collect();
        assert_eq!(
            columns,
            [
                "id",
                "_sdc_deleted_at",
                "_sdc_extracted_at",
                "_sdc_received_at",
                "_sdc_batched_at",
                "_sdc_sequence",
                "_sdc_table_version",
                "_mage_created_at",
                "_mage_updated_at",
                "source",
            ]
        );
        assert_eq!(properties[1].metadata, Some(Metadata::DeletedAt));
        assert_eq!(properties[9].metadata, Some(Metadata::Constant(0)));
    }

    #[test]
    fn colliding_property_names_get_distinct_columns() {
        let schema = json!({"properties": {"a b": {}, "a_b": {}}});
        let (properties, _) = columns_of(&schema, &plain());
        assert_ne!(properties[0].column, properties[1].column);
    }

    #[test]
    fn stream_names_split_into_mapped_schema_and_cleaned_table() {
        let mapping = [("crm".to_string(), "crm_raw".to_string())];
        assert_eq!(
            target_of("crm-Users", &target(None, &mapping)),
            ("crm_raw".to_string(), "users".to_string())
        );
        assert_eq!(
            target_of("erp-Orders", &target(None, &mapping)),
            ("raw".to_string(), "orders".to_string())
        );
    }

    #[test]
    fn a_configured_table_is_used_verbatim_for_every_stream() {
        assert_eq!(
            target_of("any-Stream", &target(Some("Mixed Case"), &[])),
            ("raw".to_string(), "Mixed Case".to_string())
        );
    }

    #[test]
    fn key_properties_map_to_columns_or_name_the_missing_one() {
        let schema = json!({"properties": {"Id": {"type": "integer"}}});
        let (properties, _) = columns_of(&schema, &plain());
        assert_eq!(
            key_columns(&properties, &["Id".to_string()]),
            Ok(vec!["id".to_string()])
        );
        assert_eq!(key_columns(&properties, &["nope".to_string()]), Err("nope"));
    }
}
