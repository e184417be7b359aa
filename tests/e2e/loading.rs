//! Loading (SPEC §5–§6): interleaved streams each into their own table, upsert by key (last
//! record of a key wins within a batch; a second run updates changed rows and leaves unchanged
//! rows untouched), append for streams without keys and for `append-only`, schema updates that
//! add columns mid-stream, batching by rows and by size, `flush_all_streams`, parallel flushes
//! with exact row counts, concurrent runs, existing schemas and tables, `skip_schema_creation`,
//! and `before_run_sql` / `after_run_sql`.

use crate::support::*;
use serde_json::{json, Value};

fn keyed_schema(stream: &str) -> String {
    schema_msg(
        stream,
        json!({"id": {"type": "integer"}, "name": nullable("string"), "n": nullable("integer")}),
        &["id"],
    )
}

#[test]
fn interleaved_streams_load_into_their_own_tables() {
    let schema = TestSchema::new("interleaved");
    let out = run_target(&schema, json!({}), &fixture("users.jsonl"));
    out.assert_success();
    // The first state has no records before it; the others all wait for the end of input, where
    // only the latest is written.
    assert_eq!(
        out.states(),
        vec![
            json!({"bookmarks": {}}),
            json!({"bookmarks": {
                "public-users": {"replication_key_value": "2024-01-05T00:00:00Z"},
                "public-orders": {"replication_key_value": 103}
            }}),
        ]
    );
    assert_eq!(schema.tables(), ["orders", "users"]);
    assert_eq!(
        schema.rows("users", "id"),
        vec![
            json!({"id": 1, "email": "ada@example.com", "name": "Ada Lovelace",
                   "signed_up_at": "2024-01-02T09:00:00+00:00", "is_active": true,
                   "tags": ["admin", "early"]}),
            json!({"id": 2, "email": "grace@example.com", "name": "Grace Brewster Hopper",
                   "signed_up_at": "2024-01-03T09:30:00+00:00", "is_active": true,
                   "tags": ["navy"]}),
            json!({"id": 3, "email": "linus@example.com", "name": null,
                   "signed_up_at": "2024-01-04T08:15:00+00:00", "is_active": false,
                   "tags": null}),
        ]
    );
    assert_eq!(
        text_rows(&format!(
            "SELECT order_id::text, user_id::text, amount::text, ordered_on::text, lines::text \
             FROM {} ORDER BY order_id",
            schema.table("orders")
        )),
        vec![
            vec![
                Some("101".into()),
                Some("1".into()),
                Some("19.99".into()),
                Some("2024-02-01".into()),
                Some(r#"[{"qty": 1, "sku": "A-1"}]"#.into()),
            ],
            vec![
                Some("102".into()),
                Some("2".into()),
                Some("5".into()),
                Some("2024-02-02".into()),
                Some(r#"[{"qty": 2, "sku": "B-7"}, {"qty": 1, "sku": "C-3"}]"#.into()),
            ],
            vec![
                Some("103".into()),
                Some("3".into()),
                Some("1234567.891".into()),
                Some("2024-02-03".into()),
                None,
            ],
        ]
    );
    assert_eq!(schema.primary_key("users"), ["id"]);
    assert_eq!(schema.primary_key("orders"), ["order_id"]);
}

#[test]
fn duplicate_keys_in_one_batch_keep_the_last_record() {
    let schema = TestSchema::new("dup_one_batch");
    let input = jsonl(&[
        keyed_schema("t"),
        record("t", json!({"id": 1, "name": "first", "n": 1})),
        record("t", json!({"id": 2, "name": "other", "n": 1})),
        record("t", json!({"id": 1, "name": "second", "n": 2})),
        record("t", json!({"id": 1, "name": "last", "n": 3})),
    ]);
    let out = run_target(&schema, json!({}), &input);
    out.assert_success();
    assert_eq!(
        schema.rows("t", "id"),
        vec![
            json!({"id": 1, "name": "last", "n": 3}),
            json!({"id": 2, "name": "other", "n": 1}),
        ]
    );
}

#[test]
fn duplicate_keys_in_one_batch_into_a_table_with_rows_keep_the_last_record() {
    // The same rule when the batch has to be merged into existing rows.
    let schema = TestSchema::new("dup_merge_batch");
    let first = jsonl(&[
        keyed_schema("t"),
        record("t", json!({"id": 1, "name": "old", "n": 0})),
    ]);
    run_target(&schema, json!({}), &first).assert_success();
    let second = jsonl(&[
        keyed_schema("t"),
        record("t", json!({"id": 1, "name": "a", "n": 1})),
        record("t", json!({"id": 2, "name": "b", "n": 1})),
        record("t", json!({"id": 1, "name": "c", "n": 2})),
        record("t", json!({"id": 2, "name": "d", "n": 2})),
    ]);
    run_target(&schema, json!({}), &second).assert_success();
    assert_eq!(
        schema.rows("t", "id"),
        vec![
            json!({"id": 1, "name": "c", "n": 2}),
            json!({"id": 2, "name": "d", "n": 2}),
        ]
    );
}

#[test]
fn duplicate_keys_across_batches_keep_the_last_record() {
    let schema = TestSchema::new("dup_batches");
    let input = jsonl(&[
        keyed_schema("t"),
        record("t", json!({"id": 1, "name": "a", "n": 1})),
        record("t", json!({"id": 2, "name": "b", "n": 1})),
        record("t", json!({"id": 1, "name": "c", "n": 2})),
        record("t", json!({"id": 3, "name": "d", "n": 1})),
        record("t", json!({"id": 1, "name": "e", "n": 3})),
        record("t", json!({"id": 2, "name": "f", "n": 2})),
        record("t", json!({"id": 1, "name": "g", "n": 4})),
    ]);
    run_target(&schema, json!({"batch_size_rows": 2}), &input).assert_success();
    assert_eq!(
        schema.rows("t", "id"),
        vec![
            json!({"id": 1, "name": "g", "n": 4}),
            json!({"id": 2, "name": "f", "n": 2}),
            json!({"id": 3, "name": "d", "n": 1}),
        ]
    );
}

#[test]
fn composite_keys_are_merged_on_every_key_column() {
    let schema = TestSchema::new("composite_key");
    let schema_line = schema_msg(
        "t",
        json!({"org": {"type": "string"}, "id": {"type": "integer"}, "v": nullable("string")}),
        &["org", "id"],
    );
    let first = jsonl(&[
        schema_line.clone(),
        record("t", json!({"org": "a", "id": 1, "v": "a1"})),
        record("t", json!({"org": "b", "id": 1, "v": "b1"})),
    ]);
    run_target(&schema, json!({}), &first).assert_success();
    let second = jsonl(&[
        schema_line,
        record("t", json!({"org": "b", "id": 1, "v": "b1 updated"})),
        record("t", json!({"org": "a", "id": 2, "v": "a2"})),
    ]);
    run_target(&schema, json!({}), &second).assert_success();
    assert_eq!(schema.primary_key("t"), ["org", "id"]);
    assert_eq!(
        schema.rows("t", "org, id"),
        vec![
            json!({"org": "a", "id": 1, "v": "a1"}),
            json!({"org": "a", "id": 2, "v": "a2"}),
            json!({"org": "b", "id": 1, "v": "b1 updated"}),
        ]
    );
}

#[test]
fn stream_without_key_properties_appends_every_row() {
    let schema = TestSchema::new("no_keys");
    let input = jsonl(&[
        schema_msg(
            "log",
            json!({"id": nullable("integer"), "msg": nullable("string")}),
            &[],
        ),
        record("log", json!({"id": 1, "msg": "same"})),
        record("log", json!({"id": 1, "msg": "same"})),
        record("log", json!({"id": 1, "msg": "different"})),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    run_target(&schema, json!({}), &input).assert_success();
    assert!(schema.primary_key("log").is_empty());
    assert_eq!(
        text_rows(&format!(
            "SELECT msg, count(*)::text FROM {} GROUP BY msg ORDER BY msg",
            schema.table("log")
        )),
        vec![
            vec![Some("different".into()), Some("2".into())],
            vec![Some("same".into()), Some("4".into())],
        ]
    );
}

#[test]
fn upsert_across_two_runs_updates_changed_rows_and_leaves_unchanged_rows_alone() {
    let schema = TestSchema::new("upsert_runs");
    let first = jsonl(&[
        keyed_schema("t"),
        record("t", json!({"id": 1, "name": "one", "n": 1})),
        record("t", json!({"id": 2, "name": "two", "n": 2})),
        record("t", json!({"id": 3, "name": "three", "n": 3})),
        state(json!({"run": 1})),
    ]);
    let out = run_target(&schema, json!({}), &first);
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"run": 1})]);
    let xmin = |id: i64| -> String {
        scalar(&format!(
            "SELECT xmin::text FROM {} WHERE id = {id}",
            schema.table("t")
        ))
        .unwrap_or_default()
    };
    let (x1, x2, x3) = (xmin(1), xmin(2), xmin(3));

    let second = jsonl(&[
        keyed_schema("t"),
        record("t", json!({"id": 2, "name": "two, changed", "n": 2})),
        record("t", json!({"id": 3, "name": "three", "n": 3})),
        record("t", json!({"id": 4, "name": "four", "n": 4})),
        record("t", json!({"id": 2, "name": "TWO", "n": 22})),
        state(json!({"run": 2})),
    ]);
    let out = run_target(&schema, json!({}), &second);
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"run": 2})]);
    assert_eq!(
        schema.rows("t", "id"),
        vec![
            json!({"id": 1, "name": "one", "n": 1}),
            json!({"id": 2, "name": "TWO", "n": 22}),
            json!({"id": 3, "name": "three", "n": 3}),
            json!({"id": 4, "name": "four", "n": 4}),
        ]
    );
    assert_eq!(
        xmin(1),
        x1,
        "a row absent from the second run was rewritten"
    );
    assert_eq!(xmin(3), x3, "an unchanged row was rewritten");
    assert_ne!(xmin(2), x2, "the changed row was not updated");
}

#[test]
fn properties_in_any_order_fill_their_own_columns() {
    // The walker learns the order of a stream's properties from one record to the next;
    // records that change it, leave some out or add unknown ones must not be misplaced.
    let schema = TestSchema::new("property_order");
    let lines = jsonl(&[
        keyed_schema("t"),
        record("t", json!({"id": 1, "name": "a", "n": 10})),
        record("t", json!({"id": 2, "name": "b", "n": 20})),
        record("t", json!({"n": 30, "id": 3, "name": "c"})),
        record("t", json!({"name": "d", "x": true, "id": 4})),
        record("t", json!({"id": 5, "n": 51, "name": "e"})),
        record("t", json!({"id": 6, "name": "f", "n": 60})),
    ]);
    run_target(&schema, json!({}), &lines).assert_success();
    assert_eq!(
        schema.rows("t", "id"),
        vec![
            json!({"id": 1, "name": "a", "n": 10}),
            json!({"id": 2, "name": "b", "n": 20}),
            json!({"id": 3, "name": "c", "n": 30}),
            json!({"id": 4, "name": "d", "n": null}),
            json!({"id": 5, "name": "e", "n": 51}),
            json!({"id": 6, "name": "f", "n": 60}),
        ]
    );
}

#[test]
fn upsert_sets_columns_to_null_when_a_record_sends_null() {
    let schema = TestSchema::new("upsert_null");
    run_target(
        &schema,
        json!({}),
        &jsonl(&[
            keyed_schema("t"),
            record("t", json!({"id": 1, "name": "x", "n": 5})),
        ]),
    )
    .assert_success();
    run_target(
        &schema,
        json!({}),
        &jsonl(&[
            keyed_schema("t"),
            record("t", json!({"id": 1, "name": null, "n": 6})),
        ]),
    )
    .assert_success();
    assert_eq!(
        schema.rows("t", "id"),
        vec![json!({"id": 1, "name": null, "n": 6})]
    );
}

#[test]
fn upsert_into_a_table_without_a_unique_index_merges_by_key() {
    let schema = TestSchema::new("upsert_no_index");
    schema.create();
    schema.execute(&format!(
        "CREATE TABLE {t} (id bigint, name text, n bigint); \
         INSERT INTO {t} VALUES (1, 'old', 1), (2, 'keep', 2);",
        t = schema.table("t")
    ));
    let input = jsonl(&[
        keyed_schema("t"),
        record("t", json!({"id": 1, "name": "new", "n": 10})),
        record("t", json!({"id": 3, "name": "added", "n": 3})),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(
        schema.rows("t", "id"),
        vec![
            json!({"id": 1, "name": "new", "n": 10}),
            json!({"id": 2, "name": "keep", "n": 2}),
            json!({"id": 3, "name": "added", "n": 3}),
        ]
    );
}

#[test]
fn append_only_with_keys_appends_each_run() {
    let schema = TestSchema::new("append_keys");
    let config = json!({"load_method": "append-only"});
    let first = jsonl(&[
        keyed_schema("t"),
        record("t", json!({"id": 1, "name": "a", "n": 1})),
        record("t", json!({"id": 2, "name": "b", "n": 1})),
    ]);
    run_target(&schema, config.clone(), &first).assert_success();
    let second = jsonl(&[
        keyed_schema("t"),
        record("t", json!({"id": 3, "name": "c", "n": 1})),
    ]);
    run_target(&schema, config, &second).assert_success();
    assert_eq!(
        schema.rows("t", "id"),
        vec![
            json!({"id": 1, "name": "a", "n": 1}),
            json!({"id": 2, "name": "b", "n": 1}),
            json!({"id": 3, "name": "c", "n": 1}),
        ]
    );
}

#[test]
fn append_only_with_keys_keeps_every_record_of_a_repeated_key() {
    // append-only writes every input record whether it already exists or not (the Meltano
    // SDK's definition of the setting); keys do not merge rows in this mode.
    let schema = TestSchema::new("append_dup_keys");
    let config = json!({"load_method": "append-only"});
    let input = jsonl(&[
        keyed_schema("t"),
        record("t", json!({"id": 1, "name": "a", "n": 1})),
        record("t", json!({"id": 1, "name": "b", "n": 2})),
        state(json!({"s": 1})),
    ]);
    let out = run_target(&schema, config.clone(), &input);
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"s": 1})]);
    run_target(&schema, config, &input).assert_success();
    assert_eq!(
        schema.rows("t", "n, name"),
        vec![
            json!({"id": 1, "name": "a", "n": 1}),
            json!({"id": 1, "name": "a", "n": 1}),
            json!({"id": 1, "name": "b", "n": 2}),
            json!({"id": 1, "name": "b", "n": 2}),
        ]
    );
}

#[test]
fn schema_update_adds_columns_mid_stream() {
    let schema = TestSchema::new("schema_change");
    let out = run_target(&schema, json!({}), &fixture("schema_change.jsonl"));
    out.assert_success();
    assert_eq!(
        schema.columns("events"),
        vec![
            ("id".to_string(), "bigint".to_string()),
            ("kind".to_string(), "text".to_string()),
            ("source".to_string(), "text".to_string()),
            ("score".to_string(), "numeric".to_string()),
        ]
    );
    // The new SCHEMA flushed the rows before it, so the first state was released then.
    assert_schema_change_fixture_loaded(&schema, &out);
}

/// The rows and states of fixtures/schema_change.jsonl, loaded in any batching.
fn assert_schema_change_fixture_loaded(schema: &TestSchema, out: &Output) {
    assert_eq!(
        schema.rows("events", "id"),
        vec![
            json!({"id": 1, "kind": "signup", "source": null, "score": null}),
            json!({"id": 2, "kind": "login", "source": null, "score": null}),
            json!({"id": 3, "kind": "login", "source": "mobile", "score": 0.5}),
            json!({"id": 4, "kind": "logout", "source": "web", "score": null}),
        ]
    );
    assert_eq!(
        out.states(),
        vec![json!({"events": 1}), json!({"events": 2})]
    );
}

#[test]
fn schema_update_after_a_flush_adds_the_column_to_the_existing_table() {
    let schema = TestSchema::new("schema_change_flushed");
    let out = run_target(
        &schema,
        json!({"batch_size_rows": 1}),
        &fixture("schema_change.jsonl"),
    );
    out.assert_success();
    assert_eq!(
        schema.column_names("events"),
        ["id", "kind", "source", "score"]
    );
    assert_schema_change_fixture_loaded(&schema, &out);
}

#[test]
fn a_new_column_arriving_in_a_later_run_is_added() {
    let schema = TestSchema::new("schema_change_runs");
    run_target(
        &schema,
        json!({}),
        &jsonl(&[
            schema_msg("t", json!({"id": {"type": "integer"}}), &["id"]),
            record("t", json!({"id": 1})),
        ]),
    )
    .assert_success();
    run_target(
        &schema,
        json!({}),
        &jsonl(&[
            schema_msg(
                "t",
                json!({"id": {"type": "integer"}, "added": nullable("string")}),
                &["id"],
            ),
            record("t", json!({"id": 2, "added": "yes"})),
            record("t", json!({"id": 1, "added": "later"})),
        ]),
    )
    .assert_success();
    assert_eq!(
        schema.rows("t", "id"),
        vec![
            json!({"id": 1, "added": "later"}),
            json!({"id": 2, "added": "yes"}),
        ]
    );
}

#[test]
fn a_property_dropped_from_the_schema_keeps_its_column_and_values() {
    let schema = TestSchema::new("schema_drop_prop");
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({"id": {"type": "integer"}, "a": {"type": "string"}, "b": {"type": "string"}}),
            &["id"],
        ),
        record("t", json!({"id": 1, "a": "a1", "b": "b1"})),
        schema_msg(
            "t",
            json!({"id": {"type": "integer"}, "a": {"type": "string"}}),
            &["id"],
        ),
        record("t", json!({"id": 2, "a": "a2"})),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(schema.column_names("t"), ["id", "a", "b"]);
    assert_eq!(
        schema.rows("t", "id"),
        vec![
            json!({"id": 1, "a": "a1", "b": "b1"}),
            json!({"id": 2, "a": "a2", "b": null}),
        ]
    );
    assert!(!scalar_bool(&format!(
        "SELECT attnotnull FROM pg_attribute WHERE attrelid = {}::regclass AND attname = 'b'",
        ql(&schema.table("t"))
    )));
}

#[test]
fn a_schema_without_records_still_creates_its_table() {
    let schema = TestSchema::new("empty_stream");
    let input = jsonl(&[
        keyed_schema("empty"),
        keyed_schema("full"),
        record("full", json!({"id": 1})),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(schema.tables(), ["empty", "full"]);
    assert_eq!(schema.column_names("empty"), ["id", "name", "n"]);
    assert_eq!(schema.count("empty"), 0);
    assert_eq!(schema.count("full"), 1);
}

/// A SCHEMA per stream, then records `1..=count` round-robin over `streams`, with a STATE
/// after every `state_every` rounds; also returns the last state.
fn many_records(streams: &[&str], count: usize, state_every: usize) -> (String, Value) {
    let mut lines: Vec<String> = streams.iter().map(|s| keyed_schema(s)).collect();
    let mut last_state = json!(null);
    for i in 1..=count {
        for s in streams {
            lines.push(record(
                s,
                json!({"id": i, "name": format!("{s} {i}"), "n": i}),
            ));
        }
        if i % state_every == 0 {
            last_state = json!({"position": i});
            lines.push(state(last_state.clone()));
        }
    }
    (jsonl(&lines), last_state)
}

#[test]
fn two_streams_flushing_in_parallel_give_exact_row_counts() {
    let schema = TestSchema::new("parallel");
    let (mut input, _) = many_records(&["alpha", "beta"], 5000, 250);
    // An unkeyed stream alongside, so append and upsert flushes overlap.
    let mut extra = vec![schema_msg(
        "gamma",
        json!({"id": {"type": "integer"}, "name": nullable("string")}),
        &[],
    )];
    for i in 1..=3000 {
        extra.push(record("gamma", json!({"id": i % 100, "name": "g"})));
    }
    extra.push(state(json!({"position": "end"})));
    input.push_str(&jsonl(&extra));
    let out = run_target(
        &schema,
        json!({"batch_size_rows": 97, "max_parallelism": 4}),
        &input,
    );
    out.assert_success();
    for table in ["alpha", "beta"] {
        assert_eq!(
            text_rows(&format!(
                "SELECT count(*)::text, count(DISTINCT id)::text, sum(id)::text, sum(n)::text \
                 FROM {}",
                schema.table(table)
            )),
            vec![vec![
                Some("5000".into()),
                Some("5000".into()),
                Some("12502500".into()),
                Some("12502500".into()),
            ]],
            "{table}"
        );
    }
    assert_eq!(schema.count("gamma"), 3000);
    // States are written in input order, never twice, and the last one is the end of input.
    let states = out.states();
    assert_eq!(states.last(), Some(&json!({"position": "end"})), "{out}");
    let positions: Vec<i64> = states[..states.len() - 1]
        .iter()
        .map(|s| s["position"].as_i64().unwrap_or(-1))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "states out of order or repeated: {positions:?}"
    );
    assert!(
        positions.iter().all(|p| p % 250 == 0 && *p > 0),
        "{positions:?}"
    );
}

#[test]
fn flush_all_streams_makes_a_full_stream_flush_every_stream() {
    // Batches of 3: a1 b1 S1 a2 a3 (alpha is full) b2 S2. S1 needs b1 committed. With
    // flush_all_streams the full alpha flushes beta too, so S1 is released while b2 still
    // waits for the end. Without it, b1 and b2 are both committed at the end of input, where
    // S1 and S2 become eligible together and only the latest (S2) is written. One flush worker
    // makes commits follow submission order, so the outcome does not depend on timing.
    let input = jsonl(&[
        keyed_schema("alpha"),
        keyed_schema("beta"),
        record("alpha", json!({"id": 1})),
        record("beta", json!({"id": 1})),
        state(json!({"s": 1})),
        record("alpha", json!({"id": 2})),
        record("alpha", json!({"id": 3})),
        record("beta", json!({"id": 2})),
        state(json!({"s": 2})),
    ]);
    let with = TestSchema::new("flush_all_on");
    let out = run_target(
        &with,
        json!({"batch_size_rows": 3, "flush_all_streams": true, "max_parallelism": 1}),
        &input,
    );
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"s": 1}), json!({"s": 2})]);
    assert_eq!((with.count("alpha"), with.count("beta")), (3, 2));

    let without = TestSchema::new("flush_all_off");
    let out = run_target(
        &without,
        json!({"batch_size_rows": 3, "max_parallelism": 1}),
        &input,
    );
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"s": 2})]);
    assert_eq!((without.count("alpha"), without.count("beta")), (3, 2));
}

#[test]
fn maximum_batch_size_mb_flushes_before_batch_size_rows() {
    // Rows of ~700 kB: two of them pass a 1 MB bound, so the first state is released before
    // the end of input; small rows under the defaults wait for the end.
    let big = "x".repeat(700_000);
    let input = jsonl(&[
        keyed_schema("t"),
        record("t", json!({"id": 1, "name": big})),
        state(json!({"s": 1})),
        record("t", json!({"id": 2, "name": big})),
        record("t", json!({"id": 3, "name": big})),
        state(json!({"s": 2})),
    ]);
    let bounded = TestSchema::new("max_mb_on");
    let out = run_target(&bounded, json!({"maximum_batch_size_mb": 1}), &input);
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"s": 1}), json!({"s": 2})]);
    assert_eq!(
        scalar_i64(&format!(
            "SELECT sum(length(name)) FROM {}",
            bounded.table("t")
        )),
        2_100_000
    );

    // Small rows under the defaults stay buffered until the end of input: one flush.
    let small = jsonl(&[
        keyed_schema("t"),
        record("t", json!({"id": 1, "name": "a"})),
        state(json!({"s": 1})),
        record("t", json!({"id": 2, "name": "b"})),
        record("t", json!({"id": 3, "name": "c"})),
        state(json!({"s": 2})),
    ]);
    let unbounded = TestSchema::new("max_mb_off");
    let out = run_target(&unbounded, json!({}), &small);
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"s": 2})]);
    assert_eq!(unbounded.count("t"), 3);
}

#[test]
fn concurrent_runs_creating_the_same_schema_and_table_both_succeed() {
    let schema = TestSchema::new("concurrent_runs");
    let make = |from: usize| {
        let mut lines = vec![schema_msg(
            "shared",
            json!({"id": {"type": "integer"}, "extra": nullable("string")}),
            &[],
        )];
        for i in from..from + 200 {
            lines.push(record("shared", json!({"id": i, "extra": "e"})));
        }
        jsonl(&lines)
    };
    let (a, b) = (make(0), make(1000));
    let outs = std::thread::scope(|scope| {
        let s = &schema;
        let ha = scope.spawn(move || run_target(s, json!({"batch_size_rows": 50}), &a));
        let hb = scope.spawn(move || run_target(s, json!({"batch_size_rows": 50}), &b));
        [ha.join(), hb.join()]
    });
    for out in outs {
        out.expect("runner thread").assert_success();
    }
    assert_eq!(schema.tables(), ["shared"]);
    assert_eq!(schema.column_names("shared"), ["id", "extra"]);
    assert_eq!(schema.count("shared"), 400);
}

#[test]
fn an_existing_schema_is_used_as_it_is() {
    let schema = TestSchema::new("existing_schema");
    schema.create();
    schema.execute(&format!(
        "CREATE TABLE {} (note text); INSERT INTO {} VALUES ('untouched');",
        schema.table("other"),
        schema.table("other")
    ));
    let input = jsonl(&[keyed_schema("t"), record("t", json!({"id": 1}))]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(schema.tables(), ["other", "t"]);
    assert_eq!(schema.count("t"), 1);
    assert_eq!(
        schema.rows("other", "note"),
        vec![json!({"note": "untouched"})]
    );
}

#[test]
fn skip_schema_creation_loads_into_an_existing_schema() {
    let schema = TestSchema::new("skip_create_ok");
    schema.create();
    let input = jsonl(&[
        keyed_schema("t"),
        record("t", json!({"id": 1, "name": "x"})),
    ]);
    run_target(&schema, json!({"skip_schema_creation": true}), &input).assert_success();
    assert_eq!(
        schema.rows("t", "id"),
        vec![json!({"id": 1, "name": "x", "n": null})]
    );
}

#[test]
fn skip_schema_creation_never_creates_the_schema() {
    let schema = TestSchema::new("skip_create_missing");
    let input = jsonl(&[
        keyed_schema("t"),
        record("t", json!({"id": 1})),
        state(json!({"s": 1})),
    ]);
    let out = run_target(&schema, json!({"skip_schema_creation": true}), &input);
    out.assert_load_failure();
    assert!(out.stdout.is_empty(), "{out}");
    assert!(!schema.exists(), "the schema was created");
}

#[test]
fn before_run_sql_and_after_run_sql_run_around_the_load() {
    let schema = TestSchema::new("run_sql");
    let audit = schema.table("audit");
    let config = json!({
        "before_run_sql": [
            format!("CREATE SCHEMA IF NOT EXISTS {}", qi(&schema.name)),
            format!("CREATE TABLE IF NOT EXISTS {audit} (step serial, note text)"),
            format!("INSERT INTO {audit} (note) VALUES ('before')"),
        ],
        "after_run_sql": [format!(
            "INSERT INTO {audit} (note) SELECT 'after: ' || count(*) FROM {}",
            schema.table("t")
        )],
    });
    let input = jsonl(&[
        keyed_schema("t"),
        record("t", json!({"id": 1})),
        record("t", json!({"id": 2})),
        record("t", json!({"id": 3})),
    ]);
    run_target(&schema, config, &input).assert_success();
    assert_eq!(
        strings(&format!("SELECT note FROM {audit} ORDER BY step")),
        ["before", "after: 3"]
    );
}

#[test]
fn primary_key_required_accepts_streams_with_keys() {
    let schema = TestSchema::new("pk_required_ok");
    let input = jsonl(&[keyed_schema("t"), record("t", json!({"id": 1}))]);
    run_target(&schema, json!({"primary_key_required": true}), &input).assert_success();
    assert_eq!(schema.count("t"), 1);
}

#[test]
fn identical_repeated_schema_messages_do_not_flush() {
    // A changed SCHEMA flushes the stream first, which releases the state before it; an
    // identical one costs nothing, so that state stays held until the end.
    let same = jsonl(&[
        keyed_schema("t"),
        record("t", json!({"id": 1})),
        state(json!({"s": 1})),
        keyed_schema("t"),
        record("t", json!({"id": 2})),
        state(json!({"s": 2})),
    ]);
    let schema = TestSchema::new("schema_repeat");
    let out = run_target(&schema, json!({}), &same);
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"s": 2})]);
    assert_eq!(schema.count("t"), 2);

    let changed = jsonl(&[
        keyed_schema("t"),
        record("t", json!({"id": 1})),
        state(json!({"s": 1})),
        schema_msg(
            "t",
            json!({"id": {"type": "integer"}, "name": nullable("string"), "n": nullable("integer"),
                   "more": nullable("string")}),
            &["id"],
        ),
        record("t", json!({"id": 2, "more": "x"})),
        state(json!({"s": 2})),
    ]);
    let schema = TestSchema::new("schema_changed");
    let out = run_target(&schema, json!({}), &changed);
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"s": 1}), json!({"s": 2})]);
    assert_eq!(schema.count("t"), 2);
}

#[test]
fn max_parallelism_0_and_minus_1_mean_automatic() {
    for (i, parallelism) in [0, -1].into_iter().enumerate() {
        let schema = TestSchema::new(&format!("auto_parallel_{i}"));
        let (input, last) = many_records(&["a", "b"], 300, 100);
        let out = run_target(
            &schema,
            json!({"max_parallelism": parallelism, "batch_size_rows": 50}),
            &input,
        );
        out.assert_success();
        assert_eq!(out.states().last(), Some(&last), "{out}");
        assert_eq!((schema.count("a"), schema.count("b")), (300, 300));
    }
}

#[test]
fn a_schema_change_to_a_wider_type_widens_the_column() {
    // SPEC §5: safe widenings (bigint → numeric, date → timestamptz, any scalar → text,
    // any → jsonb) alter the column in the transaction of the flush that needs it.
    let schema = TestSchema::new("widen_types");
    let before = schema_msg(
        "t",
        json!({
            "id": {"type": "integer"},
            "to_text": nullable("integer"),
            "to_numeric": nullable("integer"),
            "to_timestamptz": {"type": ["null", "string"], "format": "date"},
            "to_jsonb": nullable("string"),
        }),
        &["id"],
    );
    let after = schema_msg(
        "t",
        json!({
            "id": {"type": "integer"},
            "to_text": nullable("string"),
            "to_numeric": nullable("number"),
            "to_timestamptz": {"type": ["null", "string"], "format": "date-time"},
            "to_jsonb": nullable("object"),
        }),
        &["id"],
    );
    let input = jsonl(&[
        before,
        record(
            "t",
            json!({"id": 1, "to_text": 5, "to_numeric": 7, "to_timestamptz": "2024-01-01",
                   "to_jsonb": "plain"}),
        ),
        state(json!({"s": 1})),
        after,
        record(
            "t",
            json!({"id": 2, "to_text": "abc", "to_numeric": 7.25,
                   "to_timestamptz": "2024-01-01T10:00:00+02:00", "to_jsonb": {"k": [1]}}),
        ),
        state(json!({"s": 2})),
    ]);
    let out = run_target(&schema, json!({}), &input);
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"s": 1}), json!({"s": 2})]);
    assert_eq!(
        schema.columns("t"),
        vec![
            ("id".to_string(), "bigint".to_string()),
            ("to_text".to_string(), "text".to_string()),
            ("to_numeric".to_string(), "numeric".to_string()),
            (
                "to_timestamptz".to_string(),
                "timestamp with time zone".to_string()
            ),
            ("to_jsonb".to_string(), "jsonb".to_string()),
        ]
    );
    assert_eq!(
        text_rows(&format!(
            "SELECT to_text, to_numeric::text, to_timestamptz::text, to_jsonb::text \
             FROM {} ORDER BY id",
            schema.table("t")
        ))[1],
        vec![
            Some("abc".to_string()),
            Some("7.25".to_string()),
            Some("2024-01-01 08:00:00+00".to_string()),
            Some(r#"{"k": [1]}"#.to_string()),
        ]
    );
    assert_eq!(
        text_rows(&format!(
            "SELECT to_text, to_numeric::text, to_jsonb #>> '{{}}' FROM {} WHERE id = 1",
            schema.table("t")
        )),
        vec![vec![
            Some("5".to_string()),
            Some("7".to_string()),
            Some("plain".to_string()),
        ]]
    );
}

#[test]
fn new_key_properties_on_an_existing_table_add_the_primary_key() {
    let schema = TestSchema::new("new_keys");
    let keyless = schema_msg(
        "t",
        json!({"id": {"type": "integer"}, "v": nullable("string")}),
        &[],
    );
    run_target(
        &schema,
        json!({}),
        &jsonl(&[keyless, record("t", json!({"id": 1, "v": "a"}))]),
    )
    .assert_success();
    assert!(schema.primary_key("t").is_empty());
    let keyed = schema_msg(
        "t",
        json!({"id": {"type": "integer"}, "v": nullable("string")}),
        &["id"],
    );
    run_target(
        &schema,
        json!({}),
        &jsonl(&[
            keyed,
            record("t", json!({"id": 1, "v": "b"})),
            record("t", json!({"id": 2, "v": "c"})),
        ]),
    )
    .assert_success();
    assert_eq!(schema.primary_key("t"), ["id"]);
    assert_eq!(
        schema.rows("t", "id"),
        vec![json!({"id": 1, "v": "b"}), json!({"id": 2, "v": "c"})]
    );
}

#[test]
fn new_key_properties_over_duplicate_rows_fail_with_a_clear_error() {
    let schema = TestSchema::new("new_keys_dups");
    let keyless = schema_msg("t", json!({"id": {"type": "integer"}}), &[]);
    run_target(
        &schema,
        json!({}),
        &jsonl(&[
            keyless,
            record("t", json!({"id": 1})),
            record("t", json!({"id": 1})),
        ]),
    )
    .assert_success();
    let keyed = schema_msg("t", json!({"id": {"type": "integer"}}), &["id"]);
    let out = run_target(
        &schema,
        json!({}),
        &jsonl(&[keyed, record("t", json!({"id": 2})), state(json!({"s": 1}))]),
    );
    out.assert_load_failure()
        .assert_stderr_has(&["\"t\"", "id"]);
    assert_eq!(out.stdout, "", "{out}");
    assert_eq!(schema.count("t"), 2, "the old rows must stay as they were");
}

#[test]
fn records_load_whatever_the_key_order_of_their_message() {
    // A RECORD is walked in place when "stream" precedes "record", and kept whole and walked
    // afterwards when it follows: both must give the same rows.
    let schema = TestSchema::new("key_order");
    let input = [
        schema_msg(
            "t",
            json!({"id": {"type": "integer"}, "v": {"type": "string"}}),
            &["id"],
        ),
        r#"{"type":"RECORD","stream":"t","record":{"id":1,"v":"a","extra":1}}"#.to_string(),
        r#"{"record":{"v":"b","id":2,"extra":2},"stream":"t","type":"RECORD"}"#.to_string(),
        r#"{"stream":"t","record":{"id":3,"v":"c\u00e9"},"type":"record"}"#.to_string(),
    ];
    let out = run_target(&schema, json!({}), &jsonl(&input));
    out.assert_success();
    assert_eq!(
        text_rows(&format!(
            "SELECT id::text, v FROM {} ORDER BY id",
            schema.table("t")
        )),
        vec![
            vec![Some("1".to_string()), Some("a".to_string())],
            vec![Some("2".to_string()), Some("b".to_string())],
            vec![Some("3".to_string()), Some("cé".to_string())],
        ]
    );
    assert_eq!(out.stderr_lines_with("\"extra\"").len(), 1, "{out:?}");
}

#[test]
fn numeric_keys_equal_in_value_are_one_key_in_a_batch() {
    // Regression: 1 and 1.0 encode to different NUMERIC bytes but are one key.
    let schema = TestSchema::new("numeric_keys");
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({"id": {"type": "number"}, "v": nullable("string")}),
            &["id"],
        ),
        record("t", json!({"id": 1, "v": "first"})),
        record("t", json!({"id": 1.0, "v": "second"})),
        record("t", json!({"id": 2.50, "v": "x"})),
        record("t", json!({"id": 2.5, "v": "y"})),
    ]);
    for _ in 0..2 {
        run_target(&schema, json!({}), &input).assert_success();
    }
    assert_eq!(
        strings(&format!("SELECT v FROM {} ORDER BY id", schema.table("t"))),
        vec!["second", "y"]
    );
}

#[test]
fn several_integers_beyond_64_bits_in_one_record_widen_every_column() {
    let schema = TestSchema::new("widen_many");
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({"id": {"type": "integer"}, "a": nullable("integer"),
                   "b": nullable("integer"),
                   "c": {"type": ["null", "array"], "items": {"type": "integer"}}}),
            &["id"],
        ),
        record("t", json!({"id": 1, "a": 1, "b": 2, "c": [3]})),
        r#"{"type":"RECORD","stream":"t","record":{"id":2,"a":99999999999999999999,"b":-99999999999999999999,"c":[1,99999999999999999999]}}"#.to_string(),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(
        text_rows(&format!(
            "SELECT a::text, b::text, c::text FROM {} WHERE id = 2",
            schema.table("t")
        )),
        vec![vec![
            Some("99999999999999999999".to_string()),
            Some("-99999999999999999999".to_string()),
            Some("{1,99999999999999999999}".to_string()),
        ]]
    );
}

#[test]
fn a_schema_without_properties_loads_without_failing() {
    let schema = TestSchema::new("no_properties");
    let input = jsonl(&[
        r#"{"type":"SCHEMA","stream":"e","schema":{"properties":{}},"key_properties":[]}"#
            .to_string(),
        record("e", json!({"anything": 1})),
        state(json!({"s": 1})),
    ]);
    let out = run_target(&schema, json!({}), &input);
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"s": 1})]);
}

#[test]
fn a_record_naming_its_stream_twice_is_refused() {
    let schema = TestSchema::new("stream_twice");
    let input = jsonl(&[
        schema_msg("a", json!({"id": {"type": "integer"}}), &["id"]),
        schema_msg("b", json!({"id": {"type": "integer"}}), &["id"]),
        r#"{"type":"RECORD","stream":"a","record":{"id":1},"stream":"b"}"#.to_string(),
    ]);
    let out = run_target(&schema, json!({}), &input);
    out.assert_load_failure()
        .assert_stderr_has(&["line 3", "stream"]);
}

fn mage_schema(method: Option<&str>) -> String {
    let mut message = json!({
        "type": "SCHEMA",
        "stream": "users",
        "schema": {"properties": {
            "email": {"type": "string"}, "name": {"type": ["null", "string"]}
        }},
        "key_properties": [],
        "unique_constraints": ["email"],
        "replication_method": "INCREMENTAL",
    });
    if let Some(method) = method {
        message["unique_conflict_method"] = json!(method);
    }
    message.to_string()
}

fn unique_constraints_of(schema: &TestSchema, table: &str) -> Vec<String> {
    strings(&format!(
        "SELECT conname::text FROM pg_constraint WHERE conrelid = {}::regclass AND contype = 'u'",
        ql(&schema.table(table))
    ))
}

#[test]
fn mage_unique_constraints_make_a_named_unique_constraint_and_merge_on_it() {
    let schema = TestSchema::new("mage_unique");
    let input = jsonl(&[
        mage_schema(None),
        record("users", json!({"email": "a@x", "name": "first"})),
        record("users", json!({"email": "a@x", "name": "second"})),
        record("users", json!({"email": "b@x", "name": "b"})),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    let expected_name: String = format!("unique{}_users_email", schema.name)
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>();
    let expected_name = expected_name[..expected_name.len().min(63)].to_string();
    assert_eq!(unique_constraints_of(&schema, "users"), vec![expected_name]);
    assert_eq!(
        strings(&format!(
            "SELECT name FROM {} ORDER BY email",
            schema.table("users")
        )),
        vec!["second", "b"]
    );
    // UPDATE (the default) updates on a second run; IGNORE keeps the existing row.
    let update = jsonl(&[
        mage_schema(Some("UPDATE")),
        record("users", json!({"email": "b@x", "name": "b2"})),
    ]);
    run_target(&schema, json!({}), &update).assert_success();
    let ignore = jsonl(&[
        mage_schema(Some("IGNORE")),
        record("users", json!({"email": "b@x", "name": "b3"})),
        record("users", json!({"email": "c@x", "name": "c"})),
    ]);
    run_target(&schema, json!({}), &ignore).assert_success();
    assert_eq!(
        strings(&format!(
            "SELECT name FROM {} ORDER BY email",
            schema.table("users")
        )),
        vec!["second", "b2", "c"]
    );
}

#[test]
fn mage_unique_constraints_are_added_to_an_existing_table() {
    let schema = TestSchema::new("mage_unique_add");
    schema.create();
    schema.execute(&format!(
        "CREATE TABLE {} (email text, name text)",
        schema.table("users")
    ));
    schema.execute(&format!(
        "INSERT INTO {} VALUES ('a@x', 'old')",
        schema.table("users")
    ));
    let input = jsonl(&[
        mage_schema(None),
        record("users", json!({"email": "a@x", "name": "new"})),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(unique_constraints_of(&schema, "users").len(), 1);
    assert_eq!(
        strings(&format!("SELECT name FROM {}", schema.table("users"))),
        vec!["new"]
    );
}

#[test]
fn a_column_widens_from_integer_to_number_to_string_across_three_schemas() {
    let schema = TestSchema::new("widen_three");
    let message = |ty: &str| {
        schema_msg(
            "t",
            json!({"id": {"type": "integer"}, "x": nullable(ty)}),
            &["id"],
        )
    };
    let input = jsonl(&[
        message("integer"),
        record("t", json!({"id": 1, "x": 42})),
        message("number"),
        record("t", json!({"id": 2, "x": 4.25})),
        message("string"),
        record("t", json!({"id": 3, "x": "forty-two"})),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(
        schema.columns("t")[1],
        ("x".to_string(), "text".to_string())
    );
    assert_eq!(
        strings(&format!("SELECT x FROM {} ORDER BY id", schema.table("t"))),
        vec!["42", "4.25", "forty-two"]
    );
}
