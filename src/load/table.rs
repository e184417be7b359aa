//! The run's model of each target table: its columns with their actual types, the DDL
//! queued for its next flush, and its unique keys.
//!
//! The catalog is read once, when a stream first targets the table. From then on every
//! change we plan (CREATE TABLE, ADD COLUMN, a widening ALTER) is applied to this model at
//! once and queued as DDL for the table's next flush, which runs it in the flush's own
//! transaction. Each change is logged (one info line: table, column, what happened) when it
//! is planned. Rows are always encoded for the model's types, which are the types the
//! table will have when those rows are copied, because a table's flushes run in order.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use postgres::error::SqlState;
use postgres::Client;

use crate::db::catalog::{read_table, schema_exists, CatalogTable};
use crate::db::citus::{self, Distribution};
use crate::db::sql;
use crate::error::{Error, Result};
use crate::schema::evolution::{column_change, ColumnChange};
use crate::schema::naming::{fit_identifier, qualified_name};
use crate::schema::pg_type::PgType;

/// A change the model refuses to plan, as a message for the stream's error.
pub type Refusal<T> = std::result::Result<T, String>;

/// One column of the model: what the catalog says of it, kept up to date by our DDL.
pub use crate::db::catalog::CatalogColumn as TableColumn;

/// One target table.
#[derive(Debug)]
pub struct TableModel {
    /// Index in [`Tables`]; also orders the table's flushes.
    pub id: usize,
    /// Quoted `"schema"."table"`.
    pub qualified: String,
    /// The schema and table names, unquoted (for Mage's log tags).
    pub names: (String, String),
    /// Whether the table exists or its CREATE is queued.
    exists: bool,
    /// Columns in table order.
    pub columns: Vec<TableColumn>,
    /// Column lists of the primary key and unique indexes.
    pub unique_keys: Vec<Vec<String>>,
    /// The primary key's columns (empty without one).
    primary_key: Vec<String>,
    /// DDL for the next flush of this table.
    pending_ddl: Vec<String>,
    /// Bumped on every change, so stream plans know to rebuild.
    pub generation: u64,
    /// For `overwrite`: where this run's rows wait for the swap.
    overwrite: Option<Overwrite>,
    /// The generation of the table's last flush: the first flush of a new one is a barrier.
    flushed_generation: Option<u64>,
    /// True while keyed rows may be COPYed straight in: the table was empty when first seen
    /// (or is created by this run) and no flush has met an existing key yet.
    pub direct_copy: Arc<AtomicBool>,
    /// How Citus spreads the table (as found, or as this run creates it); `None` for a plain
    /// table.
    pub distribution: Option<Distribution>,
}

/// An overwrite in progress.
#[derive(Debug)]
struct Overwrite {
    /// Quoted, qualified staging table.
    stage: String,
    /// Whether this run's first flush has (re)created it.
    created: bool,
    /// Key columns: the last staged row of each key survives the swap.
    keys: Vec<String>,
    /// Batches staged so far: they count as committed only when the swap commits.
    staged_batches: Vec<u64>,
}

/// What a stream wants of its table.
#[derive(Debug, Clone)]
pub struct WantedColumn {
    /// Cleaned column name.
    pub name: String,
    /// The type we would create it with.
    pub type_name: String,
}

impl TableModel {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&TableColumn> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Whether a unique index covers exactly `keys` (in any order).
    pub fn has_unique_index_on(&self, keys: &[String]) -> bool {
        self.unique_keys
            .iter()
            .any(|unique| unique.len() == keys.len() && keys.iter().all(|k| unique.contains(k)))
    }

    /// Loads this table by `overwrite`: rows go to a staging table, swapped in at the end.
    pub fn enable_overwrite(&mut self, schema: &str, table: &str, keys: &[String]) {
        if self.overwrite.is_none() {
            let stage = fit_identifier(format!("_target_postgres_overwrite_{table}"));
            self.overwrite = Some(Overwrite {
                stage: qualified_name(schema, &stage),
                created: false,
                keys: keys.to_vec(),
                staged_batches: Vec::new(),
            });
        }
    }

    /// Where rows are COPYed: the staging table of an overwrite, else the table.
    pub fn copy_target(&self) -> &str {
        self.overwrite
            .as_ref()
            .map_or(self.qualified.as_str(), |o| o.stage.as_str())
    }

    /// Whether the table does not exist yet (its CREATE is not even queued).
    pub fn is_new(&self) -> bool {
        !self.exists
    }

    /// Makes the CREATE of this new table distribute it (or make it a reference table).
    pub fn create_distributed(&mut self, distribution: Distribution) {
        if !self.exists {
            self.distribution = Some(distribution);
        }
    }

    /// Whether Citus spreads the table's rows over shards (not a reference table).
    pub fn is_distributed(&self) -> bool {
        matches!(self.distribution, Some(Distribution::Distributed { .. }))
    }

    /// The column Citus distributes the table by, when it does.
    pub fn distribution_column(&self) -> Option<&str> {
        match &self.distribution {
            Some(Distribution::Distributed { column }) => Some(column),
            _ => None,
        }
    }

    /// An error when a change would alter the distribution column `name` (Citus refuses).
    fn check_not_distribution_column(&self, name: &str, change: &str) -> Refusal<()> {
        match self.distribution_column() {
            Some(column) if column == name => Err(citus::distribution_column_message(
                &self.qualified,
                name,
                change,
            )),
            _ => Ok(()),
        }
    }

    /// An error when a unique constraint lacks the distribution column (Citus refuses it).
    fn check_unique_has_distribution_column(&self, columns: &[String]) -> Refusal<()> {
        match self.distribution_column() {
            Some(column) if !columns.iter().any(|c| c == column) => Err(citus::unique_key_message(
                &self.qualified,
                column,
                &quoted_list(columns),
            )),
            _ => Ok(()),
        }
    }

    /// Whether the table is loaded by `overwrite`.
    pub fn is_overwrite(&self) -> bool {
        self.overwrite.is_some()
    }

    /// The DDL for the next flush: what is queued, and for an overwrite's first flush the
    /// staging table (made after the queued DDL, so it has the table's current shape).
    pub fn take_flush_ddl(&mut self) -> Vec<String> {
        let mut ddl = self.take_pending_ddl();
        if let Some(overwrite) = self.overwrite.as_mut().filter(|o| !o.created) {
            ddl.extend(sql::create_overwrite_stage(
                &overwrite.stage,
                &self.qualified,
            ));
            overwrite.created = true;
        }
        ddl
    }

    /// Session settings every flush of rows into the table starts with: on a Citus
    /// distributed table, [`citus::ONE_CONNECTION_PER_WORKER`]. Unlike DDL they do not make
    /// a flush wait for the table's other lanes.
    pub fn flush_prologue(&self) -> Vec<String> {
        if self.is_distributed() {
            vec![citus::ONE_CONNECTION_PER_WORKER.to_string()]
        } else {
            Vec::new()
        }
    }

    /// For an overwrite, keeps a staged batch open until the swap; returns the batches the
    /// flush itself completes.
    pub fn batches_completed_by_flush(&mut self, first_seq: Option<u64>) -> Vec<u64> {
        match (self.overwrite.as_mut(), first_seq) {
            (Some(overwrite), Some(seq)) => {
                overwrite.staged_batches.push(seq);
                Vec::new()
            }
            (_, first_seq) => first_seq.into_iter().collect(),
        }
    }

    /// The swap that ends an overwrite, and the staged batches its commit completes.
    pub fn take_overwrite_swap(&mut self) -> Option<(Vec<String>, Vec<u64>)> {
        // Only an overwrite has a swap; other tables keep their queued DDL.
        self.overwrite.as_ref()?;
        let mut ddl = self.take_flush_ddl();
        let overwrite = self.overwrite.take()?;
        let columns: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
        ddl.extend(sql::overwrite_swap(
            &overwrite.stage,
            &self.qualified,
            &columns,
            &overwrite.keys,
        ));
        Some((ddl, overwrite.staged_batches))
    }

    /// Queues DDL built for the table, and the same for a staging table that already exists.
    fn push_ddl(&mut self, build: impl Fn(&str) -> String) {
        self.pending_ddl.push(build(&self.qualified));
        if let Some(overwrite) = self.overwrite.as_ref().filter(|o| o.created) {
            self.pending_ddl.push(build(&overwrite.stage));
        }
    }

    /// Whether the flush being built is the first of a new table generation (and so must
    /// not run beside flushes of the previous one).
    pub fn starts_generation(&mut self) -> bool {
        let new = self.flushed_generation != Some(self.generation);
        self.flushed_generation = Some(self.generation);
        new
    }

    /// Whether DDL waits for the next flush.
    pub fn has_pending_ddl(&self) -> bool {
        !self.pending_ddl.is_empty()
    }

    /// Takes the DDL for the flush being built.
    pub fn take_pending_ddl(&mut self) -> Vec<String> {
        std::mem::take(&mut self.pending_ddl)
    }

    /// Makes the model hold every wanted column: a CREATE TABLE (with the primary key) when
    /// the table does not exist, ADD COLUMN for columns it lacks, a widening where a column
    /// cannot hold what is wanted, and the keys. Existing columns otherwise keep their type.
    /// Returns whether anything changed.
    pub fn reconcile(
        &mut self,
        wanted: &[WantedColumn],
        primary_key: &[String],
        unique: Option<(String, &[String])>,
    ) -> Refusal<bool> {
        for column in wanted {
            if !sql::is_safe_type_name(&column.type_name) {
                return Err(format!(
                    "internal error: column \"{}\": type \"{}\" is not a plain type name",
                    column.name, column.type_name
                ));
            }
        }
        for keys in [
            Some(primary_key),
            unique.as_ref().map(|(_, columns)| *columns),
        ]
        .into_iter()
        .flatten()
        .filter(|keys| !keys.is_empty() && !self.has_unique_index_on(keys))
        {
            self.check_unique_has_distribution_column(keys)?;
        }
        let changed = if self.exists {
            let columns_changed = self.evolve_columns(wanted)?;
            let keys_changed = self.add_keys(primary_key, unique);
            columns_changed || keys_changed
        } else {
            self.create(wanted, primary_key, unique);
            true
        };
        if changed {
            self.generation += 1;
        }
        Ok(changed)
    }

    /// Queues the CREATE TABLE of a table that does not exist yet.
    fn create(
        &mut self,
        wanted: &[WantedColumn],
        primary_key: &[String],
        unique: Option<(String, &[String])>,
    ) {
        let columns: Vec<(String, String)> = wanted
            .iter()
            .map(|c| (c.name.clone(), c.type_name.clone()))
            .collect();
        self.pending_ddl.push(sql::create_table(
            &self.qualified,
            &columns,
            primary_key,
            unique
                .as_ref()
                .map(|(name, columns)| (name.as_str(), *columns)),
        ));
        match &self.distribution {
            Some(Distribution::Distributed { column }) => {
                self.log_change(&format!("distributed by Citus on \"{column}\""));
                self.pending_ddl
                    .push(citus::distribute_table(&self.qualified, column));
            }
            Some(Distribution::Reference) => {
                self.log_change("made a Citus reference table");
                self.pending_ddl
                    .push(citus::reference_table(&self.qualified));
            }
            Some(Distribution::Other) | None => {}
        }
        let plural = if wanted.len() == 1 { "" } else { "s" };
        let mut described = format!("created with {} column{plural}", wanted.len());
        if !primary_key.is_empty() {
            described.push_str(&format!(", primary key ({})", quoted_list(primary_key)));
        }
        if let Some((name, unique_columns)) = &unique {
            self.unique_keys.push(unique_columns.to_vec());
            described.push_str(&format!(
                ", unique constraint \"{name}\" ({})",
                quoted_list(unique_columns)
            ));
        }
        self.log_change(&described);
        self.columns = wanted.iter().map(new_column).collect();
        if !primary_key.is_empty() {
            self.unique_keys.push(primary_key.to_vec());
            self.primary_key = primary_key.to_vec();
        }
        self.exists = true;
    }

    /// One info line for a change of the table, when it is planned (its DDL runs with the
    /// table's next flush, in that flush's transaction).
    fn log_change(&self, what: &str) {
        log::info!("table {}: {what}", self.qualified);
    }

    /// Adds missing columns, widens those that cannot hold what is wanted, and drops NOT
    /// NULL from columns no longer in the schema. Returns whether anything changed; widening
    /// the distribution column of a Citus table is an error naming it.
    fn evolve_columns(&mut self, wanted: &[WantedColumn]) -> Refusal<bool> {
        let mut changed = false;
        for column in wanted {
            let Some(index) = self.columns.iter().position(|c| c.name == column.name) else {
                self.log_change(&format!(
                    "column \"{}\" added ({})",
                    column.name, column.type_name
                ));
                self.push_ddl(|table| sql::add_column(table, &column.name, &column.type_name));
                self.columns.push(new_column(column));
                changed = true;
                continue;
            };
            let existing_type = self.columns[index].pg_type.clone();
            if let ColumnChange::Widen { type_name, using } =
                column_change(&existing_type, &column.type_name)
            {
                self.check_not_distribution_column(
                    &column.name,
                    &format!("widening column \"{}\" to {type_name}", column.name),
                )?;
                self.log_change(&format!(
                    "column \"{}\" widened from {} to {type_name}",
                    column.name, self.columns[index].type_name
                ));
                self.push_ddl(|table| {
                    sql::alter_column_type(table, &column.name, &type_name, &using)
                });
                let existing = &mut self.columns[index];
                existing.pg_type = PgType::from_format_type(&type_name);
                existing.type_name = type_name;
                changed = true;
            }
        }
        // A property gone from the schema keeps its column, but may now be missing.
        for index in 0..self.columns.len() {
            let existing = &self.columns[index];
            let still_wanted = wanted.iter().any(|w| w.name == existing.name);
            if !still_wanted && existing.not_null && !self.primary_key.contains(&existing.name) {
                let name = existing.name.clone();
                self.log_change(&format!(
                    "column \"{name}\" NOT NULL dropped (its property is no longer in the schema)"
                ));
                self.pending_ddl
                    .push(sql::drop_not_null(&self.qualified, &name));
                self.columns[index].not_null = false;
                changed = true;
            }
        }
        Ok(changed)
    }

    /// Adds a primary key or Mage's unique constraint that an existing table lacks. Over
    /// rows that break it, the flush fails with the server's message naming the duplicate.
    fn add_keys(&mut self, primary_key: &[String], unique: Option<(String, &[String])>) -> bool {
        let mut changed = false;
        if !primary_key.is_empty()
            && self.primary_key.is_empty()
            && !self.has_unique_index_on(primary_key)
        {
            self.log_change(&format!("primary key added ({})", quoted_list(primary_key)));
            self.pending_ddl
                .push(sql::add_primary_key(&self.qualified, primary_key));
            self.primary_key = primary_key.to_vec();
            self.unique_keys.push(primary_key.to_vec());
            changed = true;
        }
        if let Some((name, unique_columns)) = unique {
            if !self.has_unique_index_on(unique_columns) {
                self.log_change(&format!(
                    "unique constraint \"{name}\" added ({})",
                    quoted_list(unique_columns)
                ));
                self.pending_ddl.push(sql::add_unique_constraint(
                    &self.qualified,
                    &name,
                    unique_columns,
                ));
                self.unique_keys.push(unique_columns.to_vec());
                changed = true;
            }
        }
        changed
    }

    /// Widens an integer column to numeric (an integer arrived that does not fit), logging
    /// the change with its `cause`; the distribution column of a Citus table is an error.
    pub fn widen_to_numeric(&mut self, name: &str, cause: &str) -> Refusal<bool> {
        let Some(index) = self.columns.iter().position(|c| c.name == name) else {
            return Ok(false);
        };
        // An integer array widens to a numeric array, a scalar to numeric.
        let type_name = match &self.columns[index].pg_type {
            PgType::Array { element, .. } if element.is_integer() => "numeric[]",
            pg_type if pg_type.is_integer() => "numeric",
            _ => return Ok(false),
        };
        self.check_not_distribution_column(
            name,
            &format!("widening column \"{name}\" to {type_name} ({cause})"),
        )?;
        self.log_change(&format!(
            "column \"{name}\" widened from {} to {type_name} ({cause})",
            self.columns[index].type_name
        ));
        let using = format!("{{column}}::{type_name}");
        self.push_ddl(|table| sql::alter_column_type(table, name, type_name, &using));
        let column = &mut self.columns[index];
        column.type_name = type_name.to_string();
        column.pg_type = PgType::from_format_type(type_name);
        self.generation += 1;
        Ok(true)
    }
}

/// `"a", "b"` for a log line.
fn quoted_list(columns: &[String]) -> String {
    let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    quoted.join(", ")
}

fn new_column(wanted: &WantedColumn) -> TableColumn {
    TableColumn {
        name: wanted.name.clone(),
        pg_type: PgType::from_format_type(&wanted.type_name),
        type_name: wanted.type_name.clone(),
        not_null: false,
    }
}

/// Every table this run touches.
#[derive(Debug, Default)]
pub struct Tables {
    tables: Vec<TableModel>,
    by_name: HashMap<(String, String), usize>,
    checked_schemas: Vec<String>,
    /// Whether the database has Citus, once looked up (with the first existing table).
    has_citus: Option<bool>,
}

impl Tables {
    /// The id of `schema.table`, reading the catalog (and creating the schema unless
    /// `skip_schema_creation`) the first time.
    pub fn open(
        &mut self,
        client: &mut Client,
        schema: &str,
        table: &str,
        skip_schema_creation: bool,
    ) -> Result<usize> {
        let key = (schema.to_string(), table.to_string());
        if let Some(&id) = self.by_name.get(&key) {
            return Ok(id);
        }
        if !self.checked_schemas.iter().any(|s| s == schema) {
            if !skip_schema_creation && !schema_exists(client, schema)? {
                create_schema(client, schema)?;
            }
            self.checked_schemas.push(schema.to_string());
        }
        let catalog = read_table(client, schema, table)?;
        let exists = catalog.is_some();
        let distribution = if exists && self.has_citus(client)? {
            citus::read_distribution(client, &qualified_name(schema, table))?
        } else {
            None
        };
        // A table to be created is as empty as one found without rows.
        let found = catalog.unwrap_or(CatalogTable {
            columns: Vec::new(),
            unique_keys: Vec::new(),
            primary_key: Vec::new(),
            is_empty: true,
        });
        let id = self.tables.len();
        let model = TableModel {
            id,
            qualified: qualified_name(schema, table),
            names: key.clone(),
            exists,
            columns: found.columns,
            unique_keys: found.unique_keys,
            primary_key: found.primary_key,
            pending_ddl: Vec::new(),
            generation: 0,
            overwrite: None,
            flushed_generation: None,
            direct_copy: Arc::new(AtomicBool::new(found.is_empty)),
            distribution,
        };
        self.tables.push(model);
        self.by_name.insert(key, id);
        Ok(id)
    }

    /// Whether the database has the citus extension (looked up once).
    pub fn has_citus(&mut self, client: &mut Client) -> Result<bool> {
        if let Some(known) = self.has_citus {
            return Ok(known);
        }
        let found = citus::has_extension(client)?;
        self.has_citus = Some(found);
        Ok(found)
    }

    /// The table with this id (ids come from [`Tables::open`], so a miss is a bug).
    pub fn model(&self, id: usize) -> Result<&TableModel> {
        self.tables.get(id).ok_or_else(|| missing_table(id))
    }

    /// The table with this id, mutably.
    pub fn model_mut(&mut self, id: usize) -> Result<&mut TableModel> {
        self.tables.get_mut(id).ok_or_else(|| missing_table(id))
    }

    /// Every table, for the end-of-input DDL sweep.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut TableModel> {
        self.tables.iter_mut()
    }
}

fn missing_table(id: usize) -> Error {
    Error::Internal(format!("table {id} is not in the run's table model"))
}

/// CREATE SCHEMA IF NOT EXISTS, tolerating a concurrent run that creates it first.
fn create_schema(client: &mut Client, schema: &str) -> Result<()> {
    match client.batch_execute(&sql::create_schema(schema)) {
        Ok(()) => Ok(()),
        Err(error)
            if error.code() == Some(&SqlState::UNIQUE_VIOLATION)
                || error.code() == Some(&SqlState::DUPLICATE_SCHEMA) =>
        {
            Ok(())
        }
        Err(error) => Err(Error::db(format!("creating schema \"{schema}\""), error)),
    }
}
