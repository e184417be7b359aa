//! SCHEMA: plans the stream's columns and table (see [`crate::schema::plan`]), reads the
//! table from the catalog the first time, brings the table model up to date (create, add,
//! widen, keys), and opens or replaces the stream. Rows buffered under the previous schema
//! are flushed first, since they were encoded for the table as it was.
//!
//! Mage's catalog streams need no SCHEMA message: their first RECORD or BATCH opens them
//! from the catalog.

use crate::config::LoadMethod;
use crate::db::sql::OnConflict;
use crate::error::{Error, Result};
use crate::load::dead_letter::REJECTS_STREAM;
use crate::load::stream::{Stream, StreamSchema};
use crate::load::table::WantedColumn;
use crate::load::Loader;
use crate::protocol::message::SchemaMessage;
use crate::schema::naming::{mage_unique_constraint_name, qualified_name};
use crate::schema::plan::{columns_of, key_columns, target_of, Property};

/// The keys of a SCHEMA, as columns.
struct Keys {
    /// `key_properties`: the primary key.
    primary: Vec<String>,
    /// Mage's `unique_constraints`: a UNIQUE constraint.
    unique: Vec<String>,
}

impl Keys {
    /// The columns rows are merged on: Mage's unique constraint when given, else the key.
    fn merge_columns(&self) -> &[String] {
        if self.unique.is_empty() {
            &self.primary
        } else {
            &self.unique
        }
    }
}

impl Loader<'_> {
    pub(super) fn on_schema(&mut self, mut message: SchemaMessage, line: u64) -> Result<()> {
        if let Some(catalog) = self.catalog {
            catalog.apply(&mut message);
        }
        match self.settings.stream_maps.clone() {
            Some(maps) if message.stream != REJECTS_STREAM => {
                self.route_schema(&maps, message, line)
            }
            _ => self.open_stream(message, line),
        }
    }

    /// Opens (or replaces) the stream of a SCHEMA as it is to be loaded.
    pub(super) fn open_stream(&mut self, message: SchemaMessage, line: u64) -> Result<()> {
        if self
            .streams
            .get(&message.stream)
            .is_some_and(|s| s.fingerprint == message.fingerprint)
        {
            return Ok(());
        }
        let stream_error = |text: String| Error::Stream {
            line,
            stream: message.stream.clone(),
            message: text,
        };
        let (properties, flattened) = columns_of(&message.schema, &self.column_options);
        let keys = self.keys_of(&message, &properties).map_err(stream_error)?;
        let validator = if self.settings.validate_records {
            Some(
                jsonschema::draft7::new(&message.schema)
                    .map_err(|e| stream_error(format!("schema is not a valid JSON Schema: {e}")))?,
            )
        } else {
            None
        };
        let table_id = self.reconcile_table(&message.stream, line, &properties, &keys)?;
        let on_conflict = match message.unique_conflict_method.as_deref() {
            Some(method) if method.eq_ignore_ascii_case("IGNORE") => OnConflict::Ignore,
            _ => OnConflict::Update,
        };
        let schema = StreamSchema {
            properties,
            key_columns: keys.merge_columns().to_vec(),
            on_conflict,
            fingerprint: message.fingerprint,
            validator,
            flattened,
        };
        let mut stream = match self.streams.remove(&message.stream) {
            Some(previous) => previous.replaced(table_id, schema),
            None => Stream::new(message.stream.clone(), table_id, schema),
        };
        stream.rows.set_lanes(self.settings.lanes);
        log::debug!(
            "line {line}: stream \"{}\" → {}",
            stream.name,
            self.tables.model(table_id)?.qualified
        );
        self.streams.insert(message.stream, stream);
        Ok(())
    }

    /// The SCHEMA's key properties and Mage's unique constraints as columns.
    fn keys_of(
        &self,
        message: &SchemaMessage,
        properties: &[Property],
    ) -> std::result::Result<Keys, String> {
        let missing =
            |key: &str| format!("key property \"{key}\" is not in the schema's properties");
        let keys = Keys {
            primary: key_columns(properties, &message.key_properties).map_err(missing)?,
            unique: key_columns(properties, &message.unique_constraints).map_err(missing)?,
        };
        if keys.merge_columns().is_empty() && self.settings.primary_key_required {
            return Err("has no key_properties and primary_key_required is set".into());
        }
        Ok(keys)
    }

    /// Opens the stream's table (a catalog read the first time) and brings its model up to
    /// the stream's columns and keys; returns the table's id.
    fn reconcile_table(
        &mut self,
        stream: &str,
        line: u64,
        properties: &[Property],
        keys: &Keys,
    ) -> Result<usize> {
        let (schema, table) = if stream == REJECTS_STREAM {
            (self.settings.schema.clone(), REJECTS_STREAM.to_string())
        } else {
            target_of(stream, &self.target_options)
        };
        self.reconnect_if_closed()?;
        let watching = self.lock_watch.watch(format!(
            "reading the catalog for table {}",
            qualified_name(&schema, &table)
        ));
        watching.on_session(self.client_pid);
        let table_id = self.tables.open(
            &mut self.client,
            &schema,
            &table,
            self.settings.skip_schema_creation,
        )?;
        drop(watching);
        // Rows already buffered were encoded for the table as it was: send them first.
        self.flush_table(table_id)?;
        let wanted: Vec<WantedColumn> = properties
            .iter()
            .map(|p| WantedColumn {
                name: p.column.clone(),
                type_name: p.type_name.clone(),
            })
            .collect();
        // Append-only keeps every record, repeated keys included: no key constraint for it.
        let (primary_key, unique): (&[String], &[String]) = match self.settings.load_method {
            LoadMethod::Upsert | LoadMethod::Overwrite => (&keys.primary, &keys.unique),
            LoadMethod::AppendOnly => (&[], &[]),
        };
        let in_error = |message: String| Error::Stream {
            line,
            stream: stream.to_string(),
            message,
        };
        self.plan_citus_table(stream, table_id, properties, [primary_key, unique])
            .map_err(in_error)?;
        let unique = (!unique.is_empty())
            .then(|| (mage_unique_constraint_name(&schema, &table, unique), unique));
        let model = self.tables.model_mut(table_id)?;
        model
            .reconcile(&wanted, primary_key, unique)
            .map_err(in_error)?;
        if self.settings.load_method == LoadMethod::Overwrite {
            model.enable_overwrite(&schema, &table, keys.merge_columns());
        }
        Ok(table_id)
    }

    /// Mage: a stream of `--catalog_json` needs no SCHEMA message; its first RECORD or BATCH
    /// opens it from the catalog. (Without a catalog this costs one test per record.)
    pub(super) fn open_from_catalog(&mut self, stream: &str, line: u64) -> Result<()> {
        let Some(catalog) = self.catalog else {
            return Ok(());
        };
        if self.streams.contains_key(stream) {
            return Ok(());
        }
        match catalog.schema_message(stream) {
            Some(schema) => self.on_schema(schema, line),
            None => Ok(()),
        }
    }
}
