//! Catalog introspection: what a target table really looks like.
//!
//! Encoding follows the column's actual type, so this is read once per table per run, the
//! first time a stream targets it. Afterwards the run keeps its own model up to date with
//! the DDL it queues (src/table.rs), so in-flight flushes never race a re-read.

use postgres::Client;

use crate::error::{Error, Result};
use crate::schema::naming::qualified_name;
use crate::schema::pg_type::PgType;

/// One column as the catalog describes it (also the run's model of a column: see
/// [`crate::table`]).
#[derive(Debug, Clone)]
pub struct CatalogColumn {
    /// Column name.
    pub name: String,
    /// `format_type()` of the column (of the base type, for a domain).
    pub type_name: String,
    /// Parsed for encoding.
    pub pg_type: PgType,
    /// Whether the column is NOT NULL.
    pub not_null: bool,
}

/// An existing table.
#[derive(Debug, Clone)]
pub struct CatalogTable {
    /// Columns in table order.
    pub columns: Vec<CatalogColumn>,
    /// The column lists of the primary key and every plain unique index.
    pub unique_keys: Vec<Vec<String>>,
    /// The primary key's columns (empty without one).
    pub primary_key: Vec<String>,
    /// Whether the table holds no row at the time we looked.
    pub is_empty: bool,
}

/// Whether `schema` exists (looked up in `pg_namespace`, which needs no privilege).
pub fn schema_exists(client: &mut Client, schema: &str) -> Result<bool> {
    client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)",
            &[&schema],
        )
        .and_then(|row| row.try_get(0))
        .map_err(|e| Error::db(format!("looking up schema \"{schema}\""), e))
}

/// Reads `schema.table`, or `None` when it does not exist.
pub fn read_table(client: &mut Client, schema: &str, table: &str) -> Result<Option<CatalogTable>> {
    let qualified = qualified_name(schema, table);
    let context = || format!("reading the catalog for table {qualified}");
    // Row values are read with `try_get`: a server that speaks the protocol but answers
    // with other types (a proxy, a PostgreSQL-compatible database) is an error, not a panic.
    let oid: Option<u32> = client
        .query_one("SELECT to_regclass($1)::oid", &[&qualified])
        .and_then(|row| row.try_get(0))
        .map_err(|e| Error::db(context(), e))?;
    let Some(oid) = oid else {
        return Ok(None);
    };
    let columns = client
        .query(
            "SELECT a.attname::text,
                    CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod)
                         ELSE format_type(a.atttypid, a.atttypmod) END,
                    a.attnotnull
               FROM pg_catalog.pg_attribute a
               JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
              WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum",
            &[&oid],
        )
        .and_then(|rows| {
            rows.into_iter()
                .map(|row| {
                    let type_name: String = row.try_get(1)?;
                    Ok(CatalogColumn {
                        name: row.try_get(0)?,
                        pg_type: PgType::from_format_type(&type_name),
                        type_name,
                        not_null: row.try_get(2)?,
                    })
                })
                .collect::<Result<Vec<_>, postgres::Error>>()
        })
        .map_err(|e| Error::db(context(), e))?;
    let mut primary_key = Vec::new();
    let unique_keys = client
        .query(
            "SELECT array_agg(a.attname::text ORDER BY k.ord), bool_or(i.indisprimary)
               FROM pg_catalog.pg_index i
               CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              WHERE i.indrelid = $1 AND i.indisunique AND i.indpred IS NULL
                AND i.indexprs IS NULL
              GROUP BY i.indexrelid",
            &[&oid],
        )
        .and_then(|rows| {
            rows.into_iter()
                .map(|row| {
                    let columns = row.try_get::<_, Vec<String>>(0)?;
                    if row.try_get::<_, bool>(1)? {
                        primary_key.clone_from(&columns);
                    }
                    Ok(columns)
                })
                .collect::<Result<Vec<_>, postgres::Error>>()
        })
        .map_err(|e| Error::db(context(), e))?;
    let is_empty: bool = client
        .query_one(
            &format!("SELECT NOT EXISTS (SELECT 1 FROM {qualified})"),
            &[],
        )
        .and_then(|row| row.try_get(0))
        .map_err(|e| Error::db(context(), e))?;
    Ok(Some(CatalogTable {
        columns,
        unique_keys,
        primary_key,
        is_empty,
    }))
}
