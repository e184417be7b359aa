//! Citus (distributed PostgreSQL): whether the database has the extension, whether a table is
//! distributed and by which column, and the SQL that distributes a table the loader creates.
//!
//! The catalog of Citus (`pg_dist_partition`) exists only where the extension is installed, so
//! it is read only after `pg_extension` says so: a plain PostgreSQL never sees these queries
//! fail. What the loader does differently for a distributed table (larger flushes, the
//! distribution column kept out of widenings and unique constraints that lack it) is decided
//! in `load` from the [`Distribution`] read here.

use postgres::Client;

use crate::error::{Error, Result};
use crate::schema::naming::quote_ident;

/// How Citus spreads a table over its nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Distribution {
    /// Hash-distributed into shards by this column.
    Distributed {
        /// The distribution column.
        column: String,
    },
    /// A copy on every node (a reference table).
    Reference,
    /// Another Citus table kind (a Citus local table, an append- or range-distributed one):
    /// loaded as it is.
    Other,
}

/// The first statement of a flush into a distributed table: its COPY and merge use one
/// connection per worker instead of one per shard. Opening a connection per shard (32 by
/// default) cost more than the parallelism it buys at a loader's flush sizes (measured on
/// 32 shards over two workers: 100k rows in 0.69 s instead of 0.90 s), and the loader has
/// its own parallelism (one flush per table at a time on `max_parallelism` connections).
pub const ONE_CONNECTION_PER_WORKER: &str =
    "SET LOCAL citus.multi_shard_modify_mode = 'sequential'";

/// Whether the database has the `citus` extension.
pub fn has_extension(client: &mut Client) -> Result<bool> {
    client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus')",
            &[],
        )
        .and_then(|row| row.try_get(0))
        .map_err(|e| Error::db("looking for the citus extension", e))
}

/// How `qualified` (quoted `"schema"."table"`, existing) is distributed; `None` for a table
/// Citus does not manage. Call only where [`has_extension`] is true.
pub fn read_distribution(client: &mut Client, qualified: &str) -> Result<Option<Distribution>> {
    let row = client
        .query_opt(
            "SELECT partmethod::text, column_to_column_name(logicalrelid, partkey)::text \
             FROM pg_dist_partition WHERE logicalrelid = to_regclass($1)",
            &[&qualified],
        )
        .map_err(|e| Error::db(format!("reading how Citus distributes {qualified}"), e))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let method: String = row
        .try_get(0)
        .map_err(|e| Error::db(format!("reading how Citus distributes {qualified}"), e))?;
    let column: Option<String> = row
        .try_get(1)
        .map_err(|e| Error::db(format!("reading how Citus distributes {qualified}"), e))?;
    Ok(Some(classify(&method, column)))
}

/// A `pg_dist_partition` row as a [`Distribution`]: `h` with a column is hash-distributed,
/// `n` without one is a reference table (or a Citus local table, which has no shards on the
/// workers: `Other`).
fn classify(method: &str, column: Option<String>) -> Distribution {
    match (method, column) {
        ("h", Some(column)) if !column.is_empty() => Distribution::Distributed { column },
        ("n", _) => Distribution::Reference,
        _ => Distribution::Other,
    }
}

/// Distributes the table this run is creating (empty, in the same transaction) by `column`,
/// in Citus' default co-location group: tables distributed by columns of the same type are
/// co-located, so joins and foreign keys on them stay on one node. Does nothing when a
/// concurrent run distributed it first, so replaying the flush is safe.
pub fn distribute_table(table: &str, column: &str) -> String {
    format!(
        "SELECT create_distributed_table({}::regclass, {}) {}",
        literal(table),
        literal(column),
        unless_citus_table(table)
    )
}

/// Makes the table this run is creating a reference table (a copy on every node).
pub fn reference_table(table: &str) -> String {
    format!(
        "SELECT create_reference_table({}::regclass) {}",
        literal(table),
        unless_citus_table(table)
    )
}

/// Whether a DDL statement is one of ours that distributes a table (so a failure of it on a
/// replay is a race, as for `IF NOT EXISTS`).
pub fn is_distribution_ddl(statement: &str) -> bool {
    statement.starts_with("SELECT create_distributed_table(")
        || statement.starts_with("SELECT create_reference_table(")
}

fn unless_citus_table(table: &str) -> String {
    format!(
        "WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = {}::regclass)",
        literal(table)
    )
}

/// A SQL string literal of an identifier we built (quoted names never hold a `'`, but one
/// doubled is still right).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The message for a change Citus cannot make to the distribution column.
pub fn distribution_column_message(table: &str, column: &str, change: &str) -> String {
    format!(
        "{change} on table {table}: {} is its Citus distribution column, which Citus cannot \
         alter; change the table by hand (or reload it into a new table distributed by another \
         column)",
        quote_ident(column)
    )
}

/// Why a unique key of `table` that lacks its distribution column `column` is refused (Citus
/// enforces unique constraints shard by shard); `key` is the key's quoted column list.
pub fn unique_key_message(table: &str, column: &str, key: &str) -> String {
    format!(
        "table {table} is distributed by Citus on \"{column}\", and a unique constraint on a \
         distributed table must contain the distribution column; the key ({key}) does not: \
         add \"{column}\" to the stream's key (Mage's unique_constraints) or load into a table \
         distributed by a key column"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_rows_are_classified_by_method_and_column() {
        assert_eq!(
            classify("h", Some("id".into())),
            Distribution::Distributed {
                column: "id".into()
            }
        );
        assert_eq!(classify("n", None), Distribution::Reference);
        assert_eq!(classify("a", Some("ts".into())), Distribution::Other);
    }

    #[test]
    fn distributing_is_skipped_when_a_concurrent_run_did_it() {
        let sql = distribute_table("\"s\".\"t\"", "id");
        assert_eq!(
            sql,
            "SELECT create_distributed_table('\"s\".\"t\"'::regclass, 'id') WHERE NOT EXISTS \
             (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = '\"s\".\"t\"'::regclass)"
        );
        assert!(is_distribution_ddl(&sql));
        assert!(is_distribution_ddl(&reference_table("\"s\".\"t\"")));
        assert!(!is_distribution_ddl("ALTER TABLE t ADD COLUMN x int"));
    }

    #[test]
    fn quotes_in_names_stay_inside_the_literal() {
        assert_eq!(
            distribute_table("\"o'k\"", "it's"),
            "SELECT create_distributed_table('\"o''k\"'::regclass, 'it''s') WHERE NOT EXISTS \
             (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = '\"o''k\"'::regclass)"
        );
    }
}
