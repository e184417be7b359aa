//! `add_record_metadata` (the six `_sdc_*` columns) and `hard_delete` (CDC deletes by key).

use serde_json::json;

use crate::support::*;

fn metadata_columns() -> Vec<(String, String)> {
    [
        ("_sdc_extracted_at", "timestamp with time zone"),
        ("_sdc_received_at", "timestamp with time zone"),
        ("_sdc_batched_at", "timestamp with time zone"),
        ("_sdc_deleted_at", "timestamp with time zone"),
        ("_sdc_sequence", "bigint"),
        ("_sdc_table_version", "bigint"),
    ]
    .iter()
    .map(|(n, t)| (n.to_string(), t.to_string()))
    .collect()
}

#[test]
fn add_record_metadata_adds_six_sdc_columns_filled_from_the_message() {
    let schema = TestSchema::new("sdc_columns");
    let input = jsonl(&[
        schema_msg("t", json!({"id": {"type": "integer"}}), &["id"]),
        r#"{"type":"RECORD","stream":"t","record":{"id":1},"time_extracted":"2024-03-01T10:00:00+01:00","version":7,"sequence":42}"#.to_string(),
        r#"{"type":"RECORD","stream":"t","record":{"id":2}}"#.to_string(),
    ]);
    let out = run_target(&schema, json!({"add_record_metadata": true}), &input);
    out.assert_success();
    let mut expected = vec![("id".to_string(), "bigint".to_string())];
    expected.extend(metadata_columns());
    assert_eq!(schema.columns("t"), expected);
    let rows = text_rows(&format!(
        "SELECT _sdc_extracted_at::text, _sdc_table_version::text, _sdc_sequence::text, \
                (_sdc_received_at > now() - interval '1 hour')::text, \
                (_sdc_batched_at = _sdc_received_at)::text, _sdc_deleted_at::text \
           FROM {} ORDER BY id",
        schema.table("t")
    ));
    assert_eq!(
        rows[0],
        vec![
            Some("2024-03-01 09:00:00+00".to_string()),
            Some("7".to_string()),
            Some("42".to_string()),
            Some("true".to_string()),
            Some("true".to_string()),
            None,
        ]
    );
    // Without time_extracted, version and sequence: NULLs and the record's input position.
    assert_eq!(rows[1][0], None);
    assert_eq!(rows[1][1], None);
    assert_eq!(rows[1][2], Some("1".to_string()));
}

fn cdc_schema() -> String {
    schema_msg(
        "t",
        json!({
            "id": {"type": "integer"},
            "v": nullable("string"),
            "_sdc_deleted_at": {"type": ["null", "string"], "format": "date-time"},
        }),
        &["id"],
    )
}

fn first_load(schema: &TestSchema, config: serde_json::Value) {
    let input = jsonl(&[
        cdc_schema(),
        record("t", json!({"id": 1, "v": "a"})),
        record("t", json!({"id": 2, "v": "b"})),
        record("t", json!({"id": 3, "v": "c"})),
    ]);
    run_target(schema, config, &input).assert_success();
}

#[test]
fn hard_delete_removes_the_rows_of_cdc_deletes() {
    let schema = TestSchema::new("hard_delete");
    first_load(&schema, json!({"hard_delete": true}));
    let input = jsonl(&[
        cdc_schema(),
        record(
            "t",
            json!({"id": 2, "v": "b", "_sdc_deleted_at": "2024-05-01T00:00:00Z"}),
        ),
        record("t", json!({"id": 4, "v": "d"})),
        record("t", json!({"id": 3, "v": "c2"})),
        state(json!({"done": true})),
    ]);
    let out = run_target(&schema, json!({"hard_delete": true}), &input);
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"done": true})]);
    assert_eq!(
        text_rows(&format!(
            "SELECT id::text, v FROM {} ORDER BY id",
            schema.table("t")
        )),
        vec![
            vec![Some("1".to_string()), Some("a".to_string())],
            vec![Some("3".to_string()), Some("c2".to_string())],
            vec![Some("4".to_string()), Some("d".to_string())],
        ]
    );
    out.assert_stderr_has(&["1 deleted"]);
}

#[test]
fn a_delete_that_is_the_last_record_of_its_key_in_a_batch_wins() {
    let schema = TestSchema::new("hard_delete_last");
    first_load(&schema, json!({"hard_delete": true}));
    let input = jsonl(&[
        cdc_schema(),
        record("t", json!({"id": 1, "v": "a2"})),
        record(
            "t",
            json!({"id": 1, "v": "a2", "_sdc_deleted_at": "2024-05-01T00:00:00Z"}),
        ),
        record(
            "t",
            json!({"id": 2, "v": "b", "_sdc_deleted_at": "2024-05-01T00:00:00Z"}),
        ),
        record("t", json!({"id": 2, "v": "b-again"})),
    ]);
    run_target(&schema, json!({"hard_delete": true}), &input).assert_success();
    assert_eq!(
        text_rows(&format!(
            "SELECT id::text, v FROM {} ORDER BY id",
            schema.table("t")
        )),
        vec![
            vec![Some("2".to_string()), Some("b-again".to_string())],
            vec![Some("3".to_string()), Some("c".to_string())],
        ]
    );
}

#[test]
fn without_hard_delete_the_deletion_time_is_stored() {
    let schema = TestSchema::new("soft_delete");
    first_load(&schema, json!({}));
    let input = jsonl(&[
        cdc_schema(),
        record(
            "t",
            json!({"id": 2, "v": "b", "_sdc_deleted_at": "2024-05-01T00:00:00Z"}),
        ),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(schema.count("t"), 3);
    assert_eq!(
        scalar(&format!(
            "SELECT _sdc_deleted_at::text FROM {} WHERE id = 2",
            schema.table("t")
        )),
        Some("2024-05-01 00:00:00+00".to_string())
    );
}

#[test]
fn hard_delete_reads_sdc_deleted_at_from_records_when_metadata_columns_are_on() {
    // The tap's schema does not declare _sdc_deleted_at; with add_record_metadata the
    // column exists and the record's value fills it.
    let schema = TestSchema::new("hard_delete_meta");
    let keyed = schema_msg(
        "t",
        json!({"id": {"type": "integer"}, "v": nullable("string")}),
        &["id"],
    );
    let config = json!({"hard_delete": true, "add_record_metadata": true});
    run_target(
        &schema,
        config.clone(),
        &jsonl(&[
            keyed.clone(),
            record("t", json!({"id": 1, "v": "a"})),
            record("t", json!({"id": 2, "v": "b"})),
        ]),
    )
    .assert_success();
    run_target(
        &schema,
        config,
        &jsonl(&[
            keyed,
            record(
                "t",
                json!({"id": 1, "v": "a", "_sdc_deleted_at": "2024-05-01T00:00:00Z"}),
            ),
        ]),
    )
    .assert_success();
    assert_eq!(
        text_rows(&format!(
            "SELECT id::text FROM {} ORDER BY id",
            schema.table("t")
        )),
        vec![vec![Some("2".to_string())]]
    );
}

#[test]
fn activate_version_with_hard_delete_removes_rows_missing_from_the_new_version() {
    let schema = TestSchema::new("activate_hard");
    let config = json!({"add_record_metadata": true, "hard_delete": true});
    run_target(&schema, config.clone(), &full_table_sync(1, &[1, 2, 3])).assert_success();
    assert_eq!(schema.count("t"), 3);
    let out = run_target(&schema, config, &full_table_sync(2, &[1, 3]));
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"version": 2})]);
    assert_eq!(
        text_rows(&format!(
            "SELECT id::text, v FROM {} ORDER BY id",
            schema.table("t")
        )),
        vec![
            vec![Some("1".to_string()), Some("v2".to_string())],
            vec![Some("3".to_string()), Some("v2".to_string())],
        ]
    );
}

#[test]
fn activate_version_without_hard_delete_marks_rows_missing_from_the_new_version() {
    let schema = TestSchema::new("activate_soft");
    let config = json!({"add_record_metadata": true});
    run_target(&schema, config.clone(), &full_table_sync(1, &[1, 2, 3])).assert_success();
    run_target(&schema, config, &full_table_sync(2, &[1, 3])).assert_success();
    assert_eq!(
        text_rows(&format!(
            "SELECT id::text, (_sdc_deleted_at IS NOT NULL)::text FROM {} ORDER BY id",
            schema.table("t")
        )),
        vec![
            vec![Some("1".to_string()), Some("false".to_string())],
            vec![Some("2".to_string()), Some("true".to_string())],
            vec![Some("3".to_string()), Some("false".to_string())],
        ]
    );
}

#[test]
fn activate_version_without_version_column_is_ignored_with_a_warning() {
    let schema = TestSchema::new("activate_no_meta");
    let out = run_target(
        &schema,
        json!({"hard_delete": true}),
        &full_table_sync(1, &[1, 2]),
    );
    out.assert_success();
    out.assert_stderr_has(&["ACTIVATE_VERSION", "add_record_metadata"]);
    assert_eq!(schema.count("t"), 2);
}
