//! Bad input and failures (SPEC §8, and §3's message errors): a malformed JSON line, a RECORD
//! before its SCHEMA, a SCHEMA without a `properties` object, a value that does not fit its
//! column, a NULL or missing key, U+0000 with `sanitize_null_text_characters: false`, invalid
//! UTF-8, nesting deeper than 128 levels, a record failing `validate_records`, a key that is
//! not a property, `primary_key_required`, and a database error. Each one exits with 1 (never
//! a panic's 101), says what a user needs to fix it (line, stream, column, value; table and
//! SQLSTATE for database errors), and never writes a state for data that was not committed.

use crate::support::*;
use serde_json::{json, Value};

/// Line 1: the SCHEMA of stream `t`.
fn schema_line() -> String {
    schema_msg(
        "t",
        json!({
            "id": {"type": "integer"},
            "n": nullable("integer"),
            "s": nullable("string"),
            "day": {"type": ["null", "string"], "format": "date"},
            "at": {"type": ["null", "string"], "format": "date-time"},
            "uid": {"type": ["null", "string"], "format": "uuid"},
            "flag": nullable("boolean"),
            "x": nullable("number"),
            "any": {},
        }),
        &["id"],
    )
}

/// Lines 1–3 of every failing input: SCHEMA, a good record (id 1), a STATE; the bad part
/// follows on line 4.
fn preamble() -> Vec<String> {
    vec![
        schema_line(),
        record("t", json!({"id": 1, "s": "good"})),
        state(json!({"s": 1})),
    ]
}

fn with_preamble(bad: &[&str]) -> String {
    let mut lines = preamble();
    lines.extend(bad.iter().map(|s| s.to_string()));
    lines.push(record("t", json!({"id": 99, "s": "after the error"})));
    lines.push(state(json!({"s": 2})));
    jsonl(&lines)
}

/// The state of line 3 may only be written if the good record before it was committed; the
/// state after the error must never be written, nor the record after it loaded.
#[track_caller]
fn assert_no_state_for_uncommitted_data(out: &Output, schema: &TestSchema) {
    let states = out.states();
    let committed = if schema.has_table("t") {
        strings(&format!(
            "SELECT id::text FROM {} ORDER BY id",
            schema.table("t")
        ))
    } else {
        Vec::new()
    };
    assert!(
        !committed.contains(&"99".to_string()),
        "a record after the error was loaded\n{out}"
    );
    match states.as_slice() {
        [] => {}
        [only] if only == &json!({"s": 1}) => assert_eq!(
            schema.count("t"),
            1,
            "state written before its record was committed\n{out}"
        ),
        _ => panic!("unexpected state lines for a failed run\n{out}"),
    }
}

/// Runs `input` expecting exit 1 with every one of `needles` in stderr and no state for
/// uncommitted data.
#[track_caller]
fn expect_load_failure(test: &str, config: Value, input: &str, needles: &[&str]) -> Output {
    let schema = TestSchema::new(test);
    let out = run_target(&schema, config, input);
    out.assert_load_failure().assert_stderr_has(needles);
    assert_no_state_for_uncommitted_data(&out, &schema);
    out
}

#[test]
fn malformed_json_line_fails_naming_the_line() {
    expect_load_failure(
        "malformed_json",
        json!({}),
        &with_preamble(&[r#"{"type":"RECORD","stream":"t","record":{"id":2"#]),
        &["line 4"],
    );
    expect_load_failure(
        "not_json",
        json!({}),
        &with_preamble(&["this is not json at all"]),
        &["line 4"],
    );
}

#[test]
fn record_before_its_schema_fails_naming_line_and_stream() {
    expect_load_failure(
        "record_first",
        json!({}),
        &with_preamble(&[&record("orders", json!({"id": 1}))]),
        &["line 4", "orders"],
    );
    // The very first line.
    let schema = TestSchema::new("record_first_line1");
    let out = run_target(
        &schema,
        json!({}),
        &jsonl(&[record("t", json!({"id": 1})), schema_line()]),
    );
    out.assert_load_failure()
        .assert_stderr_has(&["line 1", "\"t\""]);
    assert_eq!(out.stdout, "");
}

#[test]
fn schema_without_a_properties_object_fails_naming_line_and_stream() {
    let bad_schemas = [
        json!({"type": "object"}),
        json!("not an object"),
        json!({"type": "object", "properties": ["id"]}),
        json!(null),
    ];
    for (i, bad) in bad_schemas.into_iter().enumerate() {
        let line =
            json!({"type": "SCHEMA", "stream": "broken", "schema": bad, "key_properties": []})
                .to_string();
        expect_load_failure(
            &format!("bad_schema_{i}"),
            json!({}),
            &with_preamble(&[&line]),
            &["line 4", "broken"],
        );
    }
}

#[test]
fn value_that_does_not_fit_its_column_fails_naming_line_stream_column_and_value() {
    let cases = [
        ("n", json!("abc"), "abc"),
        ("n", json!(1.5), "1.5"),
        ("n", json!({"a": 1}), "\"a\""),
        ("day", json!("2024-13-45"), "2024-13-45"),
        ("at", json!("not a time"), "not a time"),
        ("uid", json!("xyz-not-uuid"), "xyz-not-uuid"),
        ("flag", json!("perhaps"), "perhaps"),
        ("x", json!("12abc"), "12abc"),
    ];
    for (i, (column, value, shown)) in cases.into_iter().enumerate() {
        let bad = record("t", json!({"id": 2, column: value}));
        expect_load_failure(
            &format!("bad_value_{i}"),
            json!({}),
            &with_preamble(&[&bad]),
            &["line 4", "\"t\"", &format!("\"{column}\""), shown],
        );
    }
}

#[test]
fn number_out_of_range_for_an_existing_double_precision_column_fails() {
    let schema = TestSchema::new("float_range");
    schema.create();
    schema.execute(&format!(
        "CREATE TABLE {} (id bigint PRIMARY KEY, f double precision)",
        schema.table("t")
    ));
    let input = "\
{\"type\":\"SCHEMA\",\"stream\":\"t\",\"schema\":{\"properties\":{\"id\":{\"type\":\"integer\"},\"f\":{\"type\":\"number\"}}},\"key_properties\":[\"id\"]}
{\"type\":\"RECORD\",\"stream\":\"t\",\"record\":{\"id\":1,\"f\":1e400}}
{\"type\":\"STATE\",\"value\":{\"s\":1}}
";
    let out = run_target(&schema, json!({}), input);
    out.assert_load_failure()
        .assert_stderr_has(&["line 2", "\"t\"", "\"f\"", "1e400"]);
    assert_eq!(out.stdout, "");
    assert_eq!(schema.count("t"), 0);
}

#[test]
fn long_bad_values_are_shortened_in_the_message() {
    let long = "q".repeat(20_000);
    let out = expect_load_failure(
        "long_bad_value",
        json!({}),
        &with_preamble(&[&record("t", json!({"id": 2, "n": long}))]),
        &["line 4", "\"n\"", "qqqqqqqq"],
    );
    assert!(
        out.stderr.len() < 2_000,
        "the whole 20 000-character value was printed ({} bytes of stderr)",
        out.stderr.len()
    );
}

#[test]
fn null_or_missing_key_fails() {
    expect_load_failure(
        "null_key",
        json!({}),
        &with_preamble(&[&record("t", json!({"id": null, "s": "x"}))]),
        &["line 4", "\"t\"", "\"id\""],
    );
    expect_load_failure(
        "missing_key",
        json!({}),
        &with_preamble(&[&record("t", json!({"s": "x"}))]),
        &["line 4", "\"t\"", "\"id\""],
    );
}

#[test]
fn null_character_with_sanitizing_disabled_fails() {
    expect_load_failure(
        "nul_refused",
        json!({"sanitize_null_text_characters": false}),
        &with_preamble(&[&record("t", json!({"id": 2, "s": "a\u{0}b"}))]),
        &["line 4", "\"t\"", "\"s\""],
    );
}

#[test]
fn invalid_utf8_fails_without_panicking() {
    let schema = TestSchema::new("bad_utf8");
    let mut input = jsonl(&preamble()).into_bytes();
    input.extend_from_slice(
        b"{\"type\":\"RECORD\",\"stream\":\"t\",\"record\":{\"id\":2,\"s\":\"a\xff\xfeb\"}}\n",
    );
    input.extend_from_slice(jsonl(&[state(json!({"s": 2}))]).as_bytes());
    let out = run_target_bytes(&schema, json!({}), &input);
    out.assert_load_failure().assert_stderr_has(&["line 4"]);
    assert_no_state_for_uncommitted_data(&out, &schema);
}

#[test]
fn nesting_deeper_than_128_levels_fails_without_panicking() {
    for (i, depth) in [200usize, 100_000].into_iter().enumerate() {
        let deep = format!(
            "{{\"type\":\"RECORD\",\"stream\":\"t\",\"record\":{{\"id\":2,\"any\":{}1{}}}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        expect_load_failure(
            &format!("deep_{i}"),
            json!({}),
            &with_preamble(&[&deep]),
            &["line 4"],
        );
    }
    // Objects as well as arrays, and in a STATE.
    let deep_object = format!(
        "{{\"type\":\"STATE\",\"value\":{}1{}}}",
        "{\"a\":".repeat(5_000),
        "}".repeat(5_000)
    );
    expect_load_failure(
        "deep_state",
        json!({}),
        &with_preamble(&[&deep_object]),
        &["line 4"],
    );
}

#[test]
fn nesting_within_the_limit_loads() {
    let schema = TestSchema::new("nested_ok");
    const DEPTH: usize = 100;
    let nested = format!("{}\"leaf\"{}", "[".repeat(DEPTH), "]".repeat(DEPTH));
    let input = format!(
        "{}\n{{\"type\":\"RECORD\",\"stream\":\"t\",\"record\":{{\"id\":1,\"any\":{nested}}}}}\n",
        schema_line()
    );
    run_target(&schema, json!({}), &input).assert_success();
    let path = ["0"; DEPTH].join(",");
    assert_eq!(
        scalar(&format!(
            "SELECT (\"any\" #>> '{{{path}}}')::text FROM {}",
            schema.table("t")
        )),
        Some("leaf".to_string())
    );
}

#[test]
fn validate_records_rejects_a_record_violating_its_schema() {
    let properties = json!({
        "id": {"type": "integer"},
        "email": {"type": ["null", "string"], "maxLength": 10},
        "n": {"type": ["null", "integer"], "minimum": 0},
    });
    let input = jsonl(&[
        schema_msg("t", properties, &["id"]),
        record("t", json!({"id": 1, "email": "a@b.c", "n": 1})),
        state(json!({"s": 1})),
        record(
            "t",
            json!({"id": 2, "email": "much.too.long@example.com", "n": 1}),
        ),
        record("t", json!({"id": 99, "email": "x"})),
        state(json!({"s": 2})),
    ]);
    expect_load_failure(
        "validate_on",
        json!({"validate_records": true}),
        &input,
        &["line 4", "\"t\"", "email"],
    );
    // The same values fit their columns, so without validation they load.
    let schema = TestSchema::new("validate_off");
    let out = run_target(&schema, json!({}), &input);
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"s": 2})]);
    assert_eq!(schema.count("t"), 3);
}

#[test]
fn key_property_missing_from_the_properties_fails() {
    let bad = schema_msg("other", json!({"id": {"type": "integer"}}), &["nope"]);
    expect_load_failure(
        "key_not_property",
        json!({}),
        &with_preamble(&[&bad]),
        &["line 4", "other", "nope"],
    );
}

#[test]
fn primary_key_required_refuses_a_stream_without_keys() {
    let bad = schema_msg("keyless", json!({"id": {"type": "integer"}}), &[]);
    expect_load_failure(
        "pk_required",
        json!({"primary_key_required": true}),
        &with_preamble(&[&bad]),
        &["line 4", "keyless"],
    );
}

#[test]
fn database_error_names_the_table_and_sqlstate() {
    let schema = TestSchema::new("db_error");
    schema.create();
    schema.execute(&format!(
        "CREATE TABLE {} (id bigint PRIMARY KEY, n bigint CHECK (n >= 0), s text)",
        schema.table("t")
    ));
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({"id": {"type": "integer"}, "n": nullable("integer"), "s": nullable("string")}),
            &["id"],
        ),
        record("t", json!({"id": 1, "n": 1})),
        state(json!({"s": 1})),
        record("t", json!({"id": 2, "n": -5})),
        state(json!({"s": 2})),
    ]);
    let out = run_target(&schema, json!({}), &input);
    out.assert_load_failure()
        .assert_stderr_has(&["23514", &schema.name, "\"t\""]);
    assert_eq!(out.stdout, "", "{out}");
    assert_eq!(schema.count("t"), 0);
}
