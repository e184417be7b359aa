//! `load_method: overwrite`: the table's rows are replaced by this run's in one transaction at
//! the end; readers see the old rows until then, a failed run leaves them, views survive.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

fn keyed() -> String {
    schema_msg(
        "t",
        json!({"id": {"type": "integer"}, "v": nullable("string")}),
        &["id"],
    )
}

fn load(schema: &TestSchema, config: Value, rows: &[(i64, &str)]) -> Output {
    let mut lines = vec![keyed()];
    lines.extend(
        rows.iter()
            .map(|(id, v)| record("t", json!({"id": id, "v": v}))),
    );
    lines.push(state(json!({"rows": rows.len()})));
    run_target(schema, config, &jsonl(&lines))
}

fn contents(schema: &TestSchema) -> Vec<Vec<Option<String>>> {
    text_rows(&format!(
        "SELECT id::text, v FROM {} ORDER BY id",
        schema.table("t")
    ))
}

fn row(id: i64, v: &str) -> Vec<Option<String>> {
    vec![Some(id.to_string()), Some(v.to_string())]
}

#[test]
fn overwrite_replaces_the_rows_and_keeps_the_last_record_of_a_key() {
    let schema = TestSchema::new("overwrite");
    load(&schema, json!({}), &[(1, "a"), (2, "b"), (3, "c")]).assert_success();
    let out = load(
        &schema,
        json!({"load_method": "overwrite", "batch_size_rows": 2}),
        &[(3, "c2"), (4, "d"), (4, "d2")],
    );
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"rows": 3})]);
    assert_eq!(contents(&schema), vec![row(3, "c2"), row(4, "d2")]);
    assert_eq!(schema.tables(), vec!["t"], "the staging table is gone");
}

#[test]
fn overwrite_with_no_records_empties_the_table() {
    let schema = TestSchema::new("overwrite_empty");
    load(&schema, json!({}), &[(1, "a")]).assert_success();
    load(&schema, json!({"load_method": "overwrite"}), &[]).assert_success();
    assert_eq!(schema.count("t"), 0);
}

#[test]
fn a_failed_overwrite_leaves_the_old_rows_and_writes_no_state() {
    let schema = TestSchema::new("overwrite_fail");
    load(&schema, json!({}), &[(1, "a"), (2, "b")]).assert_success();
    let mut lines = vec![keyed()];
    for id in 10..20 {
        lines.push(record("t", json!({"id": id, "v": "new"})));
        lines.push(state(json!({"id": id})));
    }
    lines.push(record("t", json!({"id": "not a number", "v": "bad"})));
    let out = run_target(
        &schema,
        json!({"load_method": "overwrite", "batch_size_rows": 3}),
        &jsonl(&lines),
    );
    out.assert_load_failure();
    assert_eq!(out.stdout, "", "staged rows are not committed rows: {out}");
    assert_eq!(contents(&schema), vec![row(1, "a"), row(2, "b")]);
}

#[test]
fn views_on_an_overwritten_table_survive() {
    let schema = TestSchema::new("overwrite_view");
    load(&schema, json!({}), &[(1, "a")]).assert_success();
    schema.execute(&format!(
        "CREATE VIEW {} AS SELECT v FROM {}",
        schema.table("t_view"),
        schema.table("t")
    ));
    load(&schema, json!({"load_method": "overwrite"}), &[(2, "b")]).assert_success();
    assert_eq!(
        strings(&format!("SELECT v FROM {}", schema.table("t_view"))),
        vec!["b"]
    );
}

#[test]
fn readers_see_the_old_rows_until_the_overwrite_commits() {
    let schema = TestSchema::new("overwrite_readers");
    load(&schema, json!({}), &[(1, "old"), (2, "old")]).assert_success();
    let config = merged(
        base_config(&schema),
        json!({"load_method": "overwrite", "batch_size_rows": 5}),
    );
    let (mut child, _config) = spawn_target(&config, "warn", Stdio::inherit());
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{}", keyed()).expect("write");
    for id in 100..150 {
        writeln!(stdin, "{}", record("t", json!({"id": id, "v": "new"}))).expect("write");
    }
    stdin.flush().expect("flush");
    // Wait until the run has staged rows (its staging table holds some), mid-load.
    let stage = schema.table("_target_postgres_overwrite_t");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let staged = scalar(&format!(
            "SELECT (to_regclass('{}') IS NOT NULL)::text",
            stage.replace('\'', "''")
        ));
        if staged.as_deref() == Some("true") && schema_count_or_zero(&stage) > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no rows were staged");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(contents(&schema), vec![row(1, "old"), row(2, "old")]);
    drop(stdin);
    let status = child.wait().expect("wait");
    assert!(status.success());
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    assert_eq!(stdout.lines().count(), 0, "no STATE was sent");
    assert_eq!(schema.count("t"), 50);
}

fn schema_count_or_zero(qualified: &str) -> i64 {
    scalar(&format!("SELECT count(*)::text FROM {qualified}"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
