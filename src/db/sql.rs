//! SQL text: DDL, COPY and merge statements.
//!
//! Every identifier passes through [`quote_ident`]; type names are either our canonical
//! ones or checked by [`is_safe_type_name`] before they get here. Values never appear in SQL
//! text: they travel in binary COPY.

use crate::schema::naming::quote_ident;

/// The temporary table a merge stages its rows in; dropped at commit.
const STAGE_TABLE: &str = "\"_target_postgres_stage\"";

/// What a merge does with a row whose key already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Update the row (only when a value changed).
    Update,
    /// Keep the existing row (Mage's `IGNORE`).
    Ignore,
}

/// A column as SQL generation needs it.
#[derive(Debug, Clone)]
pub struct SqlColumn {
    /// Column name (unquoted).
    pub name: String,
    /// Whether `IS DISTINCT FROM` works on its type (json has no equality).
    pub comparable: bool,
    /// What a merge does with it in a row that is already there.
    pub role: MergeRole,
}

/// What a merge does with a column of a row that is already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeRole {
    /// Overwritten; a change in it makes the row count as updated.
    Data,
    /// Overwritten when the row's data changed (Mage's `_mage_updated_at`: a load time
    /// differs on every run, so it cannot decide whether the row changed).
    Stamp,
    /// Never overwritten (Mage's `_mage_created_at`).
    Kept,
}

/// Whether a user-supplied type name (from `x-sql-datatype`) is safe to splice into DDL:
/// letters, digits, `_`, spaces, parentheses, commas and brackets only.
pub fn is_safe_type_name(type_name: &str) -> bool {
    !type_name.trim().is_empty()
        && type_name.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | ' ' | '(' | ')' | ',' | '[' | ']')
        })
}

/// `CREATE SCHEMA IF NOT EXISTS`.
pub fn create_schema(schema: &str) -> String {
    format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(schema))
}

/// `CREATE TABLE IF NOT EXISTS` with columns in order and an optional primary key.
pub fn create_table(
    table: &str,
    columns: &[(String, String)],
    primary_key: &[String],
    unique: Option<(&str, &[String])>,
) -> String {
    let mut parts: Vec<String> = columns
        .iter()
        .map(|(name, type_name)| format!("{} {type_name}", quote_ident(name)))
        .collect();
    if !primary_key.is_empty() {
        parts.push(format!("PRIMARY KEY ({})", column_list(primary_key)));
    }
    if let Some((name, unique_columns)) = unique {
        parts.push(format!(
            "CONSTRAINT {} UNIQUE ({})",
            quote_ident(name),
            column_list(unique_columns)
        ));
    }
    format!("CREATE TABLE IF NOT EXISTS {table} ({})", parts.join(", "))
}

/// `ALTER TABLE ... ADD COLUMN IF NOT EXISTS` (nullable).
pub fn add_column(table: &str, name: &str, type_name: &str) -> String {
    format!(
        "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {} {type_name}",
        quote_ident(name)
    )
}

/// `ALTER TABLE ... ALTER COLUMN ... TYPE ... USING` for a safe widening; `{column}` in
/// `using` stands for the quoted column.
pub fn alter_column_type(table: &str, name: &str, type_name: &str, using: &str) -> String {
    let column = quote_ident(name);
    let using = using.replace("{column}", &column);
    format!("ALTER TABLE {table} ALTER COLUMN {column} TYPE {type_name} USING {using}")
}

/// `ALTER TABLE ... ALTER COLUMN ... DROP NOT NULL` for a property gone from the schema.
pub fn drop_not_null(table: &str, name: &str) -> String {
    format!(
        "ALTER TABLE {table} ALTER COLUMN {} DROP NOT NULL",
        quote_ident(name)
    )
}

/// `ALTER TABLE ... ADD CONSTRAINT ... UNIQUE` for Mage's unique_constraints on an existing
/// table.
pub fn add_unique_constraint(table: &str, name: &str, columns: &[String]) -> String {
    format!(
        "ALTER TABLE {table} ADD CONSTRAINT {} UNIQUE ({})",
        quote_ident(name),
        column_list(columns)
    )
}

/// `ALTER TABLE ... ADD PRIMARY KEY` for keys that arrive on an existing table.
pub fn add_primary_key(table: &str, keys: &[String]) -> String {
    format!(
        "ALTER TABLE {table} ADD PRIMARY KEY ({})",
        column_list(keys)
    )
}

/// Whether a DDL statement is idempotent (`CREATE ... IF NOT EXISTS`, `ADD COLUMN IF NOT
/// EXISTS`), so that failing on a concurrent run's identical change means "replay me".
pub fn is_idempotent_ddl(statement: &str) -> bool {
    statement.contains(" IF NOT EXISTS ")
}

/// Orders an overwrite's staged rows, so the last record of a key wins at the swap.
const STAGE_ORDINAL: &str = "\"_target_postgres_ordinal\"";

/// Creates an overwrite's staging table anew, shaped like `table`, with an ordinal.
pub fn create_overwrite_stage(stage: &str, table: &str) -> Vec<String> {
    vec![
        format!("DROP TABLE IF EXISTS {stage}"),
        format!("CREATE UNLOGGED TABLE {stage} (LIKE {table} INCLUDING DEFAULTS)"),
        format!("ALTER TABLE {stage} ADD COLUMN {STAGE_ORDINAL} bigserial"),
    ]
}

/// The swap that ends an overwrite: the table's rows replaced by the staged ones (the last
/// of each key), the stage dropped. `DELETE`, not `TRUNCATE`: readers keep seeing the old
/// rows until the commit, and a failure leaves them in place.
pub fn overwrite_swap(
    stage: &str,
    table: &str,
    columns: &[String],
    keys: &[String],
) -> Vec<String> {
    let all = column_list(columns);
    let source = if keys.is_empty() {
        format!("{stage} ORDER BY {STAGE_ORDINAL}")
    } else {
        let keys = column_list(keys);
        format!(
            "(SELECT DISTINCT ON ({keys}) * FROM {stage} ORDER BY {keys}, {STAGE_ORDINAL} DESC) AS latest"
        )
    };
    vec![
        format!("DELETE FROM {table}"),
        format!("INSERT INTO {table} ({all}) SELECT {all} FROM {source}"),
        format!("DROP TABLE {stage}"),
    ]
}

/// ACTIVATE_VERSION with hard deletes: rows of versions before `version` (or of none) go.
pub fn delete_older_versions(table: &str, version_column: &str, version: i64) -> String {
    format!(
        "DELETE FROM {table} WHERE {}",
        older_version(version_column, version)
    )
}

/// ACTIVATE_VERSION without hard deletes: rows of older versions are marked deleted now
/// (rows marked before keep their time).
pub fn mark_older_versions_deleted(
    table: &str,
    version_column: &str,
    deleted_column: &str,
    version: i64,
) -> String {
    let deleted = quote_ident(deleted_column);
    format!(
        "UPDATE {table} SET {deleted} = now() WHERE {} AND {deleted} IS NULL",
        older_version(version_column, version)
    )
}

fn older_version(version_column: &str, version: i64) -> String {
    format!(
        "({0} IS NULL OR {0} < {version})",
        quote_ident(version_column)
    )
}

/// `"a", "b", "c"`.
pub fn column_list<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|name| quote_ident(name.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `COPY table (columns) FROM STDIN (FORMAT binary)`.
pub fn copy_into(table: &str, columns: &str) -> String {
    format!("COPY {table} ({columns}) FROM STDIN (FORMAT binary)")
}

/// The statements of a merge: create the stage, COPY into it, merge it into the table.
#[derive(Debug, Clone, Default)]
pub struct MergeSql {
    /// Creates the (empty) stage with exactly the loaded columns' types.
    pub create_stage: String,
    /// COPY into the stage.
    pub copy_stage: String,
    /// Merges the stage into the table; returns one row: (inserted, updated) as bigint.
    pub merge: String,
    /// With hard deletes: deletes the keys of rows marked deleted; returns one count.
    pub delete: Option<String>,
}

/// Builds the merge for `table`, keyed on `keys`. With `has_unique_index` the merge is one
/// `INSERT ... ON CONFLICT`; without one (a table another tool created without the key) it
/// is an `UPDATE ... FROM` plus an `INSERT ... WHERE NOT EXISTS` in one statement.
/// Unchanged rows are never rewritten.
pub fn merge(
    table: &str,
    columns: &[SqlColumn],
    keys: &[String],
    on_conflict: OnConflict,
    has_unique_index: bool,
    deleted_column: Option<&str>,
) -> MergeSql {
    // With hard deletes, rows marked deleted are not merged but delete their key.
    let source = match deleted_column {
        Some(column) => format!(
            "(SELECT * FROM {STAGE_TABLE} WHERE {} IS NULL)",
            quote_ident(column)
        ),
        None => STAGE_TABLE.to_string(),
    };
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let values: Vec<&SqlColumn> = columns
        .iter()
        .filter(|c| !keys.contains(&c.name) && c.role != MergeRole::Kept)
        .collect();
    let parts = MergeParts {
        table,
        all: column_list(&names),
        source,
        keys,
        compared: values
            .iter()
            .copied()
            .filter(|c| c.role == MergeRole::Data)
            .collect(),
        update: on_conflict == OnConflict::Update && !values.is_empty(),
        values,
    };
    let merge = if has_unique_index {
        parts.insert_on_conflict()
    } else {
        parts.update_then_insert()
    };
    let delete = deleted_column.map(|column| {
        format!(
            "WITH deleted AS (DELETE FROM {table} AS dst USING {STAGE_TABLE} AS src \
             WHERE {} AND src.{} IS NOT NULL RETURNING 1) SELECT count(*) FROM deleted",
            key_match(keys, "dst", "src"),
            quote_ident(column)
        )
    });
    MergeSql {
        create_stage: format!(
            "CREATE TEMP TABLE {STAGE_TABLE} ON COMMIT DROP AS SELECT {} FROM {table} WITH NO DATA",
            parts.all
        ),
        copy_stage: copy_into(STAGE_TABLE, &parts.all),
        merge,
        delete,
    }
}

/// The pieces a merge statement is assembled from.
struct MergeParts<'a> {
    /// The target table, quoted.
    table: &'a str,
    /// Every loaded column, quoted, comma-separated.
    all: String,
    /// What rows are merged from: the stage, or its rows not marked deleted.
    source: String,
    /// The key columns.
    keys: &'a [String],
    /// The columns a merge assigns (not keys, not kept ones).
    values: Vec<&'a SqlColumn>,
    /// The columns whose change makes a row "changed" (data, not stamps).
    compared: Vec<&'a SqlColumn>,
    /// Whether existing keys are updated (else left alone).
    update: bool,
}

impl MergeParts<'_> {
    /// `INSERT ... ON CONFLICT`, counting inserted and updated rows.
    fn insert_on_conflict(&self) -> String {
        let action = if self.update {
            format!(
                "DO UPDATE SET {} WHERE {}",
                self.assignments("EXCLUDED"),
                self.changed("dst", "EXCLUDED")
            )
        } else {
            "DO NOTHING".to_string()
        };
        format!(
            "WITH merged AS (INSERT INTO {table} AS dst ({all}) SELECT {all} FROM {source} AS src \
             ON CONFLICT ({keys}) {action} RETURNING (xmax = 0) AS inserted) \
             SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged",
            table = self.table,
            all = self.all,
            source = self.source,
            keys = column_list(self.keys),
        )
    }

    /// `UPDATE ... FROM` then `INSERT ... WHERE NOT EXISTS`, for a table without a unique
    /// index on the keys.
    fn update_then_insert(&self) -> String {
        let (table, all, source) = (self.table, &self.all, &self.source);
        let updated = if self.update {
            format!(
                "UPDATE {table} AS dst SET {} FROM {source} AS src WHERE {} AND {} RETURNING 1",
                self.assignments("src"),
                key_match(self.keys, "dst", "src"),
                self.changed("dst", "src")
            )
        } else {
            format!("SELECT 1 FROM {STAGE_TABLE} WHERE false")
        };
        format!(
            "WITH updated AS ({updated}), inserted AS (INSERT INTO {table} ({all}) \
             SELECT {all} FROM {source} AS src WHERE NOT EXISTS \
             (SELECT 1 FROM {table} AS dst WHERE {matched}) RETURNING 1) \
             SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM updated)",
            matched = key_match(self.keys, "dst", "src"),
        )
    }

    /// Whether the compared columns differ between two row aliases (values without an
    /// equality operator compared as text).
    fn changed(&self, left: &str, right: &str) -> String {
        let side = |alias: &str| {
            self.compared
                .iter()
                .map(|c| {
                    let column = format!("{alias}.{}", quote_ident(&c.name));
                    if c.comparable {
                        column
                    } else {
                        format!("{column}::text")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!("ROW({}) IS DISTINCT FROM ROW({})", side(left), side(right))
    }

    /// `a = source.a, b = source.b` for the assigned columns.
    fn assignments(&self, source: &str) -> String {
        self.values
            .iter()
            .map(|c| format!("{0} = {source}.{0}", quote_ident(&c.name)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `left.k1 = right.k1 AND left.k2 = right.k2`.
fn key_match(keys: &[String], left: &str, right: &str) -> String {
    keys.iter()
        .map(|k| format!("{left}.{0} = {right}.{0}", quote_ident(k)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(names: &[&str]) -> Vec<SqlColumn> {
        names
            .iter()
            .map(|n| SqlColumn {
                name: n.to_string(),
                comparable: *n != "doc",
                role: match *n {
                    "created" => MergeRole::Kept,
                    "stamped" => MergeRole::Stamp,
                    _ => MergeRole::Data,
                },
            })
            .collect()
    }

    #[test]
    fn identifiers_with_quotes_cannot_escape() {
        let sql = add_column("\"s\".\"t\"", "a\"; DROP TABLE x; --", "text");
        assert_eq!(
            sql,
            "ALTER TABLE \"s\".\"t\" ADD COLUMN IF NOT EXISTS \"a\"\"; DROP TABLE x; --\" text"
        );
    }

    #[test]
    fn merge_skips_unchanged_rows_and_compares_json_as_text() {
        let sql = merge(
            "\"s\".\"t\"",
            &columns(&["id", "name", "doc"]),
            &["id".to_string()],
            OnConflict::Update,
            true,
            None,
        );
        assert!(sql.merge.contains("ON CONFLICT (\"id\") DO UPDATE SET \"name\" = EXCLUDED.\"name\", \"doc\" = EXCLUDED.\"doc\""), "{}", sql.merge);
        assert!(sql.merge.contains("ROW(dst.\"name\", dst.\"doc\"::text) IS DISTINCT FROM ROW(EXCLUDED.\"name\", EXCLUDED.\"doc\"::text)"), "{}", sql.merge);
    }

    #[test]
    fn merge_keeps_the_creation_stamp_and_does_not_compare_the_update_stamp() {
        for has_unique_index in [true, false] {
            let sql = merge(
                "t",
                &columns(&["id", "name", "created", "stamped"]),
                &["id".to_string()],
                OnConflict::Update,
                has_unique_index,
                None,
            )
            .merge;
            assert!(!sql.contains("\"created\" ="), "{sql}");
            assert!(sql.contains("\"stamped\" = "), "{sql}");
            assert!(sql.contains("ROW(dst.\"name\") IS DISTINCT FROM"), "{sql}");
        }
    }

    #[test]
    fn key_only_tables_do_nothing_on_conflict() {
        let sql = merge(
            "t",
            &columns(&["id"]),
            &["id".to_string()],
            OnConflict::Update,
            true,
            None,
        );
        assert!(sql.merge.contains("DO NOTHING"), "{}", sql.merge);
    }

    #[test]
    fn type_names_with_punctuation_are_refused() {
        assert!(is_safe_type_name("numeric(38, 9)"));
        assert!(is_safe_type_name("varchar(20)[]"));
        assert!(!is_safe_type_name("text; DROP TABLE x"));
        assert!(!is_safe_type_name("text default 'x'"));
    }
}
