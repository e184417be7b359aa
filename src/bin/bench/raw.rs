//! The raw line the target is measured against: the same rows as binary COPY (and, for
//! `--upsert`, COPY into a temporary table plus `INSERT ... ON CONFLICT`, and a plain COPY into
//! an empty table too), into tables distributed like the target's when it is on Citus, and the
//! row-by-row comparison of both loads that fails a fast wrong answer.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use postgres::Client;

use crate::args::Options;
use crate::ceiling::{copy_lanes, lanes_for, split_into_lanes};
use crate::checkpoint::settle;
use crate::citus::distribute_like_target;
use crate::generate::{table_name, VALUE_COLUMNS};
use crate::{db_error, SCHEMA};

/// The columns of the target's `table`, quoted, in order: the generator's, less any that
/// stream maps (`--set stream_maps=...`) remove.
fn target_columns(
    client: &mut impl postgres::GenericClient,
    table: &str,
) -> Result<Vec<String>, String> {
    let columns: Vec<String> = client
        .query(
            "SELECT quote_ident(column_name::text) FROM information_schema.columns \
             WHERE table_schema::text = $1 AND table_name::text = $2 ORDER BY ordinal_position",
            &[&SCHEMA, &table],
        )
        .map_err(|e| format!("reading the columns of {table}: {}", db_error(&e)))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if columns.is_empty() {
        return Err(format!(
            "table {SCHEMA}.{table} has no columns (was it loaded?)"
        ));
    }
    Ok(columns)
}

/// What the raw side took.
pub struct RawTimes {
    /// The raw line the target is measured against: the binary COPY, or for `--upsert` the
    /// stage-and-merge onto the filled table.
    pub raw: Duration,
    /// A plain binary COPY into empty tables (for `--upsert`, into the `_copy` tables; else
    /// the same as `raw`).
    pub copy: Duration,
    /// With `--ceiling`: the same bytes over the target's lanes, and how many lanes.
    pub ceiling: Option<(Duration, usize)>,
}

/// One table's rows as binary COPY bytes, with the target's columns they hold.
struct Payload {
    table: String,
    binary: Vec<u8>,
    /// The target's columns, quoted and comma-separated.
    loaded: String,
}

/// Loads the CSV through PostgreSQL's parser (untimed), dumps it as binary COPY bytes, and
/// times the binary COPY of those bytes into tables shaped like the target's (for `--upsert`,
/// the stage-and-merge onto a filled table, and the plain COPY into an empty one as well).
pub fn raw_copy(
    client: &mut Client,
    options: &Options,
    csv_dir: &Path,
) -> Result<RawTimes, String> {
    let mut payloads = Vec::new();
    for stream in 0..options.streams {
        payloads.push(prepare(client, options, csv_dir, stream)?);
    }
    if !options.upsert {
        settle(client);
        let copy = copy_payloads(client, &payloads, "")?;
        let ceiling = match payloads.first() {
            Some(payload) if options.ceiling => Some(ceiling_copy(client, options, payload)?),
            _ => None,
        };
        return Ok(RawTimes {
            raw: copy,
            copy,
            ceiling,
        });
    }
    let mut merge = Duration::ZERO;
    for Payload {
        table,
        binary,
        loaded,
    } in &payloads
    {
        // The rows are already there (untimed); only the stage-and-merge is timed.
        client
            .batch_execute(&format!(
                "INSERT INTO {SCHEMA}_raw.{table} SELECT {loaded} FROM {SCHEMA}_raw.{table}_csv"
            ))
            .map_err(|e| e.to_string())?;
        settle(client);
        let started = Instant::now();
        raw_merge(client, table, binary)?;
        merge += started.elapsed();
    }
    settle(client);
    let copy = copy_payloads(client, &payloads, "_copy")?;
    Ok(RawTimes {
        raw: merge,
        copy,
        ceiling: None,
    })
}

/// Times the payload's bytes COPYed over the target's lanes into a `_ceiling` table shaped
/// (and distributed) like the target's, and checks that every row arrived.
fn ceiling_copy(
    client: &mut Client,
    options: &Options,
    payload: &Payload,
) -> Result<(Duration, usize), String> {
    let table = &payload.table;
    let qualified = format!("{SCHEMA}_raw.{table}_ceiling");
    client
        .batch_execute(&format!(
            "CREATE TABLE {qualified} (LIKE {SCHEMA}.{table} INCLUDING ALL)"
        ))
        .map_err(|e| db_error(&e))?;
    distribute_like_target(client, table, &qualified)?;
    let lanes = lanes_for(&options.lanes_label());
    let chunks = split_into_lanes(&payload.binary, lanes)?;
    settle(client);
    let elapsed = copy_lanes(&options.url, &qualified, chunks)?;
    let stored: i64 = client
        .query_one(&format!("SELECT count(*) FROM {qualified}"), &[])
        .map_err(|e| db_error(&e))?
        .get(0);
    if stored != options.rows as i64 {
        return Err(format!(
            "the ceiling load stored {stored} rows, not {}",
            options.rows
        ));
    }
    Ok((elapsed, lanes))
}

/// Creates stream `stream`'s raw tables like the target's (distributed like it, when it is;
/// with `--upsert` also the empty `_copy` table) and turns its CSV into binary COPY bytes.
fn prepare(
    client: &mut Client,
    options: &Options,
    csv_dir: &Path,
    stream: usize,
) -> Result<Payload, String> {
    let db = |e: postgres::Error| e.to_string();
    let table = table_name(stream);
    let columns = target_columns(client, &table)?;
    // The CSV has every generated column; those stream maps removed are read as text and
    // left out of the binary COPY, so the raw load writes what the target writes.
    let mut ddl = format!(
        "CREATE TABLE {SCHEMA}_raw.{table}_csv (LIKE {SCHEMA}.{table}); \
         CREATE TABLE {SCHEMA}_raw.{table} (LIKE {SCHEMA}.{table} INCLUDING ALL);"
    );
    for missing in VALUE_COLUMNS
        .iter()
        .filter(|c| !columns.iter().any(|t| t == *c))
    {
        ddl.push_str(&format!(
            "ALTER TABLE {SCHEMA}_raw.{table}_csv ADD COLUMN {missing} text;"
        ));
    }
    if options.upsert {
        ddl.push_str(&format!(
            "CREATE TABLE {SCHEMA}_raw.{table}_copy (LIKE {SCHEMA}.{table} INCLUDING ALL);"
        ));
    }
    client.batch_execute(&ddl).map_err(db)?;
    distribute_like_target(client, &table, &format!("{SCHEMA}_raw.{table}"))?;
    if options.upsert {
        distribute_like_target(client, &table, &format!("{SCHEMA}_raw.{table}_copy"))?;
    }
    let generated = std::iter::once("id")
        .chain(VALUE_COLUMNS.iter().copied())
        .collect::<Vec<_>>()
        .join(", ");
    let loaded = columns.join(", ");
    let csv = std::fs::read(csv_dir.join(format!("{stream}.csv"))).map_err(|e| e.to_string())?;
    let mut writer = client
        .copy_in(&format!(
            "COPY {SCHEMA}_raw.{table}_csv ({generated}) FROM STDIN (FORMAT csv)"
        ))
        .map_err(db)?;
    writer.write_all(&csv).map_err(|e| e.to_string())?;
    writer.finish().map_err(db)?;
    let mut binary = Vec::new();
    client
        .copy_out(&format!(
            "COPY (SELECT {loaded} FROM {SCHEMA}_raw.{table}_csv) TO STDOUT (FORMAT binary)"
        ))
        .map_err(db)?
        .read_to_end(&mut binary)
        .map_err(|e| e.to_string())?;
    Ok(Payload {
        table,
        binary,
        loaded,
    })
}

/// Times the binary COPY of each payload into its raw table (name + `suffix`), one
/// transaction per table.
fn copy_payloads(
    client: &mut Client,
    payloads: &[Payload],
    suffix: &str,
) -> Result<Duration, String> {
    let db = |e: postgres::Error| e.to_string();
    let started = Instant::now();
    for Payload { table, binary, .. } in payloads {
        let mut transaction = client.transaction().map_err(db)?;
        let mut writer = transaction
            .copy_in(&format!(
                "COPY {SCHEMA}_raw.{table}{suffix} FROM STDIN (FORMAT binary)"
            ))
            .map_err(db)?;
        writer.write_all(binary).map_err(|e| e.to_string())?;
        writer.finish().map_err(db)?;
        transaction.commit().map_err(db)?;
    }
    Ok(started.elapsed())
}

/// The raw upsert: binary COPY into a temporary table, then `INSERT ... ON CONFLICT DO UPDATE`
/// that skips unchanged rows, in one transaction.
fn raw_merge(client: &mut Client, table: &str, binary: &[u8]) -> Result<(), String> {
    let db = |e: postgres::Error| e.to_string();
    let mut transaction = client.transaction().map_err(db)?;
    transaction
        .batch_execute(&format!(
            "CREATE TEMP TABLE stage ON COMMIT DROP AS SELECT * FROM {SCHEMA}_raw.{table} WITH NO DATA"
        ))
        .map_err(db)?;
    let mut writer = transaction
        .copy_in("COPY stage FROM STDIN (FORMAT binary)")
        .map_err(db)?;
    writer.write_all(binary).map_err(|e| e.to_string())?;
    writer.finish().map_err(db)?;
    let columns = target_columns(&mut transaction, table)?;
    let updates = VALUE_COLUMNS
        .iter()
        .filter(|c| columns.iter().any(|t| t == *c))
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    transaction
        .batch_execute(&format!(
            "INSERT INTO {SCHEMA}_raw.{table} AS dst SELECT * FROM stage ON CONFLICT (id) \
             DO UPDATE SET {updates} WHERE ROW(dst.*) IS DISTINCT FROM ROW(EXCLUDED.*)"
        ))
        .map_err(db)?;
    transaction.commit().map_err(db)
}

/// Compares target and raw tables row by row as text (so numeric scale and every digit count).
pub fn verify(client: &mut Client, options: &Options) -> Result<(), String> {
    for stream in 0..options.streams {
        let table = table_name(stream);
        // The rows must be equal on the target's columns (stream maps may remove some).
        let columns = target_columns(client, &table)?;
        let digest = |client: &mut Client, qualified: &str| -> Result<(i64, String), String> {
            let row = client
                .query_one(
                    &format!(
                        "SELECT count(*), coalesce(md5(string_agg(row({})::text, E'\\n' ORDER BY t.id)), '') FROM {qualified} t",
                        columns.iter().map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ")
                    ),
                    &[],
                )
                .map_err(|e| format!("comparing {qualified}: {}", db_error(&e)))?;
            Ok((row.get(0), row.get(1)))
        };
        let target = digest(client, &format!("{SCHEMA}.{table}"))?;
        let raw = digest(client, &format!("{SCHEMA}_raw.{table}"))?;
        if target != raw {
            return Err(format!(
                "table {table}: target has {} rows (digest {}), raw COPY has {} rows (digest {})",
                target.0, target.1, raw.0, raw.1
            ));
        }
        let expected = (options.rows / options.streams
            + usize::from(stream < options.rows % options.streams)) as i64;
        if target.0 != expected {
            return Err(format!(
                "table {table}: {} rows, expected {expected}",
                target.0
            ));
        }
    }
    Ok(())
}
