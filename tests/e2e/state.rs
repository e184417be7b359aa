//! State (SPEC §7): a STATE value is written to stdout — as the bare JSON value, one per
//! line — only once every record before it is committed; only the latest eligible state is
//! written and never the same one twice in a row; a state with no records at all is still
//! written; with `batch_size_rows: 1` every state appears, in input order; a state whose
//! records failed to commit is never written.
//!
//! The inputs are built so that which states are written does not depend on timing: a state is
//! only expected on its own when the next state needs a later flush of the same table.

use crate::support::*;
use serde_json::json;

fn keyed(stream: &str) -> String {
    schema_msg(
        stream,
        json!({"id": {"type": "integer"}, "v": nullable("integer")}),
        &["id"],
    )
}

#[test]
fn only_the_latest_state_is_written_when_everything_commits_at_the_end() {
    let schema = TestSchema::new("latest_only");
    let input = jsonl(&[
        keyed("t"),
        record("t", json!({"id": 1})),
        state(json!({"pos": 1})),
        record("t", json!({"id": 2})),
        state(json!({"pos": 2})),
        record("t", json!({"id": 3})),
        state(json!({"pos": 3})),
    ]);
    let out = run_target(&schema, json!({}), &input);
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"pos": 3})]);
    assert_eq!(schema.count("t"), 3);
}

#[test]
fn states_appear_in_input_order_with_batch_size_rows_1() {
    let schema = TestSchema::new("every_state");
    let input = jsonl(&[
        keyed("t"),
        record("t", json!({"id": 1})),
        state(json!({"pos": 1})),
        record("t", json!({"id": 2})),
        state(json!({"pos": 2})),
        record("t", json!({"id": 3})),
        state(json!({"pos": 3})),
        record("t", json!({"id": 4})),
        state(json!({"pos": 4})),
    ]);
    let out = run_target(&schema, json!({"batch_size_rows": 1}), &input);
    out.assert_success();
    assert_eq!(
        out.states(),
        vec![
            json!({"pos": 1}),
            json!({"pos": 2}),
            json!({"pos": 3}),
            json!({"pos": 4})
        ]
    );
    assert_eq!(schema.count("t"), 4);
}

#[test]
fn an_unchanged_state_is_not_written_twice() {
    let schema = TestSchema::new("state_dedup");
    let input = jsonl(&[
        keyed("t"),
        record("t", json!({"id": 1})),
        state(json!({"pos": 1})),
        record("t", json!({"id": 2})),
        state(json!({"pos": 1})),
        record("t", json!({"id": 3})),
        state(json!({"pos": 2})),
        state(json!({"pos": 2})),
    ]);
    let out = run_target(&schema, json!({"batch_size_rows": 1}), &input);
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"pos": 1}), json!({"pos": 2})]);
}

#[test]
fn a_state_without_any_records_is_still_written() {
    let schema = TestSchema::new("state_only");
    let out = run_target(
        &schema,
        json!({}),
        &jsonl(&[state(json!({"bookmarks": {"t": {"since": "2024-01-01"}}}))]),
    );
    out.assert_success();
    assert_eq!(
        out.states(),
        vec![json!({"bookmarks": {"t": {"since": "2024-01-01"}}})]
    );

    // A SCHEMA with no records before the state: the table is made, the state written.
    let schema = TestSchema::new("state_schema_only");
    let out = run_target(
        &schema,
        json!({}),
        &jsonl(&[keyed("t"), state(json!({"n": 0})), state(json!({"n": 1}))]),
    );
    out.assert_success();
    // Neither state has a record before it, so each is written as it arrives.
    assert_eq!(out.states(), vec![json!({"n": 0}), json!({"n": 1})]);
    assert_eq!(schema.count("t"), 0);
}

#[test]
fn empty_input_succeeds_and_writes_nothing() {
    let schema = TestSchema::new("empty_input");
    let out = run_target(&schema, json!({}), "");
    out.assert_success();
    assert_eq!(out.stdout, "");
}

#[test]
fn state_lines_are_the_bare_json_value() {
    let schema = TestSchema::new("bare_value");
    let input = "\
{\"type\":\"SCHEMA\",\"stream\":\"t\",\"schema\":{\"properties\":{\"id\":{\"type\":\"integer\"}}},\"key_properties\":[\"id\"]}
{\"type\":\"RECORD\",\"stream\":\"t\",\"record\":{\"id\":1}}
{\"type\":\"STATE\",\"value\":{\"bookmarks\":{\"t\":{\"z\":1,\"a\":\"é ü \\\"q\\\"\"}},\"currently_syncing\":null}}
";
    let out = run_target(&schema, json!({}), input);
    out.assert_success();
    assert_eq!(
        out.stdout,
        "{\"bookmarks\":{\"t\":{\"z\":1,\"a\":\"é ü \\\"q\\\"\"}},\"currently_syncing\":null}\n"
    );
}

#[test]
fn non_object_state_values_are_written_bare_too() {
    let schema = TestSchema::new("bare_scalar");
    let input = jsonl(&[
        keyed("t"),
        record("t", json!({"id": 1})),
        state(json!("cursor-abc")),
        record("t", json!({"id": 2})),
        state(json!([1, 2])),
    ]);
    let out = run_target(&schema, json!({"batch_size_rows": 1}), &input);
    out.assert_success();
    assert_eq!(out.lines(), ["\"cursor-abc\"", "[1,2]"]);
}

#[test]
fn a_state_waits_for_buffered_records_of_other_streams() {
    // b1 a1 a2 a3 (alpha flushes) S1 b2 S2: S1 needs b1, which only commits at the end of
    // input together with b2, so S1 is never released on its own.
    let schema = TestSchema::new("state_waits");
    let input = jsonl(&[
        keyed("alpha"),
        keyed("beta"),
        record("beta", json!({"id": 1})),
        record("alpha", json!({"id": 1})),
        record("alpha", json!({"id": 2})),
        record("alpha", json!({"id": 3})),
        state(json!({"s": 1})),
        record("beta", json!({"id": 2})),
        state(json!({"s": 2})),
    ]);
    let out = run_target(&schema, json!({"batch_size_rows": 3}), &input);
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"s": 2})]);
    assert_eq!((schema.count("alpha"), schema.count("beta")), (3, 2));
}

/// A table whose CHECK constraint rejects `v < 0`, so a flush can fail in the database.
fn checked_table(schema: &TestSchema) {
    schema.create();
    schema.execute(&format!(
        "CREATE TABLE {} (id bigint PRIMARY KEY, v bigint CHECK (v >= 0))",
        schema.table("t")
    ));
}

#[test]
fn state_is_written_only_after_its_records_commit() {
    let input = jsonl(&[
        keyed("t"),
        record("t", json!({"id": 1, "v": 1})),
        state(json!({"s": 1})),
        record("t", json!({"id": 2, "v": -1})),
        state(json!({"s": 2})),
    ]);

    // One batch per record: the first commits and its state is written; the second fails in
    // the database, so its state is not.
    let schema = TestSchema::new("state_commit_each");
    checked_table(&schema);
    let out = run_target(&schema, json!({"batch_size_rows": 1}), &input);
    out.assert_load_failure();
    assert_eq!(out.states(), vec![json!({"s": 1})]);
    assert_eq!(schema.rows("t", "id"), vec![json!({"id": 1, "v": 1})]);

    // One batch for both: nothing commits, so no state at all.
    let schema = TestSchema::new("state_commit_one");
    checked_table(&schema);
    let out = run_target(&schema, json!({}), &input);
    out.assert_load_failure();
    assert_eq!(out.stdout, "", "{out}");
    assert_eq!(schema.count("t"), 0);
}
