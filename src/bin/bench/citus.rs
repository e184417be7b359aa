//! Citus: `--distribute COLUMN` makes the target's tables distributed before the timed load (an
//! untimed run of the target on the input's SCHEMA lines alone creates them, empty, then
//! `create_distributed_table`), and whenever the target's table is distributed — by that flag
//! or by the target's own `citus` setting — the raw tables are distributed the same way,
//! co-located with it, so both sides load the same table shape.

use std::path::Path;

use postgres::Client;

use crate::generate::table_name;
use crate::{db_error, SCHEMA};

/// The input's SCHEMA lines alone, for the untimed run that creates the tables `--distribute`
/// distributes.
pub fn write_schema_lines(input: &Path, schemas: &Path, streams: usize) -> Result<(), String> {
    let text = std::fs::read_to_string(input).map_err(|e| e.to_string())?;
    let mut lines: Vec<&str> = text.lines().take(streams).collect();
    // run_target checks that a state comes out.
    lines.push(r#"{"type":"STATE","value":{"rows":0}}"#);
    std::fs::write(schemas, lines.join("\n") + "\n").map_err(|e| e.to_string())
}

/// `create_distributed_table` on each of the target's (empty) tables.
pub fn distribute_target_tables(
    client: &mut Client,
    streams: usize,
    column: &str,
) -> Result<(), String> {
    for stream in 0..streams {
        let table = table_name(stream);
        client
            .execute(
                "SELECT create_distributed_table($1::text::regclass, $2)",
                &[&format!("{SCHEMA}.{table}"), &column],
            )
            .map_err(|e| format!("distributing {table}: {}", db_error(&e)))?;
    }
    Ok(())
}

/// Makes the raw table `raw` (schema-qualified) distributed like the target's `table`,
/// co-located with it, when the target's is distributed.
pub fn distribute_like_target(client: &mut Client, table: &str, raw: &str) -> Result<(), String> {
    if let Some(column) = distribution_of(client, table)? {
        client
            .execute(
                "SELECT create_distributed_table($1::text::regclass, $2, colocate_with => $3)",
                &[&raw, &column, &format!("{SCHEMA}.{table}")],
            )
            .map_err(|e| format!("distributing {raw}: {}", db_error(&e)))?;
    }
    Ok(())
}

/// The distribution column of the target's `table`, when it is a Citus distributed table.
/// Citus' catalog is read only where the extension is, so a plain PostgreSQL answers `None`.
fn distribution_of(client: &mut Client, table: &str) -> Result<Option<String>, String> {
    let has_citus: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')",
            &[],
        )
        .map_err(|e| db_error(&e))?
        .get(0);
    if !has_citus {
        return Ok(None);
    }
    let row = client
        .query_opt(
            "SELECT column_to_column_name(logicalrelid, partkey) FROM pg_dist_partition \
             WHERE logicalrelid = to_regclass($1) AND partmethod = 'h'",
            &[&format!("{SCHEMA}.{table}")],
        )
        .map_err(|e| db_error(&e))?;
    Ok(row.map(|row| row.get(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_lines_are_the_inputs_schemas_and_a_state() {
        let dir = std::env::temp_dir().join(format!("bench-schemas-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (input, schemas) = (dir.join("input.jsonl"), dir.join("schemas.jsonl"));
        std::fs::write(&input, "{\"type\":\"SCHEMA\",\"stream\":\"a\"}\n{\"type\":\"SCHEMA\",\"stream\":\"b\"}\n{\"type\":\"RECORD\"}\n").unwrap();
        write_schema_lines(&input, &schemas, 2).unwrap();
        let written = std::fs::read_to_string(&schemas).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[..2].iter().all(|l| l.contains("SCHEMA")));
        assert!(lines[2].contains("STATE") && lines[2].contains("\"rows\""));
    }
}
