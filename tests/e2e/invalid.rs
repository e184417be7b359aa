//! `invalid_records`: fail (the default), skip, dead_letter, and `invalid_records_threshold`.

use serde_json::{json, Value};

use crate::support::*;

fn input() -> String {
    jsonl(&[
        schema_msg(
            "t",
            json!({"id": {"type": "integer"}, "n": nullable("integer")}),
            &["id"],
        ),
        record("t", json!({"id": 1, "n": 1})),
        record("t", json!({"id": 2, "n": "not a number"})),
        record("t", json!({"id": null, "n": 3})),
        record("t", json!({"id": 4, "n": 4})),
        state(json!({"s": 1})),
    ])
}

#[test]
fn skip_loads_the_valid_records_and_counts_the_rest() {
    let schema = TestSchema::new("invalid_skip");
    let out = run_target(&schema, json!({"invalid_records": "skip"}), &input());
    out.assert_success().assert_stderr_has(&[
        "line 3",
        "\"n\"",
        "not a number",
        "2 invalid records set aside",
    ]);
    assert_eq!(out.states(), vec![json!({"s": 1})]);
    assert_eq!(
        strings(&format!(
            "SELECT id::text FROM {} ORDER BY id",
            schema.table("t")
        )),
        vec!["1", "4"]
    );
}

#[test]
fn dead_letter_stores_each_refused_message_with_its_line_and_reason() {
    let schema = TestSchema::new("invalid_dead");
    let out = run_target(&schema, json!({"invalid_records": "dead_letter"}), &input());
    out.assert_success();
    assert_eq!(schema.count("t"), 2);
    let rejects = json_rows(&format!(
        "SELECT (to_jsonb(r) - 'rejected_at')::text FROM {} r ORDER BY line",
        schema.table("_target_postgres_rejects")
    ));
    assert_eq!(rejects.len(), 2);
    assert_eq!(rejects[0]["line"], json!(3));
    assert_eq!(rejects[0]["stream"], json!("t"));
    assert_eq!(rejects[0]["record"], json!({"id": 2, "n": "not a number"}));
    assert!(rejects[0]["reason"]
        .as_str()
        .unwrap()
        .contains("not a number"));
    assert_eq!(
        rejects[0]["message"]["record"],
        json!({"id": 2, "n": "not a number"})
    );
    assert_eq!(rejects[1]["line"], json!(4));
    assert!(rejects[1]["reason"].as_str().unwrap().contains("key"));
    assert_eq!(rejects[1]["message"]["record"]["id"], Value::Null);
}

#[test]
fn more_invalid_records_than_the_threshold_fail_the_run() {
    let schema = TestSchema::new("invalid_threshold");
    let out = run_target(
        &schema,
        json!({"invalid_records": "skip", "invalid_records_threshold": 1}),
        &input(),
    );
    out.assert_load_failure()
        .assert_stderr_has(&["more than 1 invalid records"]);
    assert_eq!(out.stdout, "");
}

#[test]
fn records_failing_validation_are_set_aside_too() {
    let schema = TestSchema::new("invalid_validation");
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({"id": {"type": "integer"}, "email": {"type": "string", "maxLength": 5}}),
            &["id"],
        ),
        record("t", json!({"id": 1, "email": "a@b"})),
        record("t", json!({"id": 2, "email": "far-too-long@example.com"})),
    ]);
    let out = run_target(
        &schema,
        json!({"invalid_records": "skip", "validate_records": true}),
        &input,
    );
    out.assert_success()
        .assert_stderr_has(&["line 3", "/email"]);
    assert_eq!(schema.count("t"), 1);
}
