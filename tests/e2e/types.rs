//! Types (SPEC §5): the JSON Schema → PostgreSQL column mapping, and values stored exactly:
//! integers beyond 64 bits widen to `numeric`, decimals keep every digit, date-times without
//! an offset are UTC and offsets are converted, arrays of scalars are native arrays keeping
//! NULL elements, objects and arrays of objects are `jsonb`, missing properties are NULL,
//! U+0000 is replaced with U+FFFD. Also: a table first created by another loader (`double
//! precision`, `text[]`, `jsonb[]`, `varchar(20)`, `timestamp`) is loaded without altering it.

use crate::support::*;
use serde_json::json;

/// `SELECT <expr>::text` of every row of `table`, ordered by `id`.
fn texts(schema: &TestSchema, table: &str, expr: &str) -> Vec<Option<String>> {
    opt_strings(&format!(
        "SELECT ({expr})::text FROM {} ORDER BY id",
        schema.table(table)
    ))
}

fn some(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some(v.to_string())).collect()
}

#[test]
fn json_schema_types_map_to_postgres_column_types() {
    let schema = TestSchema::new("type_map");
    let out = run_target(&schema, json!({}), &fixture("types.jsonl"));
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"types": 3})]);
    let expected = [
        ("id", "bigint"),
        ("big", "bigint"),
        ("amount", "numeric"),
        ("label", "text"),
        ("flag", "boolean"),
        ("at", "timestamp with time zone"),
        ("day", "date"),
        ("clock", "time without time zone"),
        ("uid", "uuid"),
        ("meta", "jsonb"),
        ("tags", "text[]"),
        ("counts", "bigint[]"),
        ("lines", "jsonb"),
        ("either", "text"),
        ("anything", "jsonb"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    assert_eq!(schema.columns("types"), expected);
    assert_eq!(schema.primary_key("types"), ["id"]);
}

#[test]
fn less_common_schemas_map_to_the_documented_column_types() {
    let schema = TestSchema::new("type_map_more");
    let properties = json!({
        "id": {"type": "integer"},
        "huge": {"type": "integer", "maximum": 100000000000000000000u128},
        "price": {"type": "number", "format": "x-singer.decimal", "precision": 12, "scale": 2},
        "code": {"type": "string", "x-sql-datatype": "varchar(10)"},
        "when": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
        "ratios": {"type": "array", "items": {"type": "number"}},
        "flags": {"type": "array", "items": {"type": "boolean"}},
        "days": {"type": "array", "items": {"type": "string", "format": "date"}},
        "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
        "untyped_array": {"type": "array"},
        "text_or_object": {"type": ["string", "object"]},
        "no_type": {},
    });
    let input = jsonl(&[
        schema_msg("t", properties, &["id"]),
        record(
            "t",
            json!({
                "id": 1, "huge": 1, "price": 9.99, "code": "ABC", "when": "2024-01-01T00:00:00Z",
                "ratios": [0.5, null], "flags": [true, false], "days": ["2024-01-01"],
                "matrix": [[1, 2], [3]], "untyped_array": [1, "a", {"b": 2}],
                "text_or_object": {"o": 1}, "no_type": [1, 2]
            }),
        ),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    let expected = [
        ("id", "bigint"),
        ("huge", "numeric"),
        ("price", "numeric(12,2)"),
        ("code", "character varying(10)"),
        ("when", "timestamp with time zone"),
        ("ratios", "numeric[]"),
        ("flags", "boolean[]"),
        ("days", "date[]"),
        ("matrix", "jsonb"),
        ("untyped_array", "jsonb"),
        ("text_or_object", "jsonb"),
        ("no_type", "jsonb"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    assert_eq!(schema.columns("t"), expected);
    assert_eq!(
        text_rows(&format!(
            "SELECT price::text, code, ratios::text, flags::text, days::text, matrix::text, \
             untyped_array::text, text_or_object::text, no_type::text FROM {}",
            schema.table("t")
        )),
        vec![some(&[
            "9.99",
            "ABC",
            "{0.5,NULL}",
            "{t,f}",
            "{2024-01-01}",
            "[[1, 2], [3]]",
            "[1, \"a\", {\"b\": 2}]",
            "{\"o\": 1}",
            "[1, 2]",
        ])]
    );
}

#[test]
fn values_of_every_type_are_stored_exactly() {
    let schema = TestSchema::new("type_values");
    run_target(&schema, json!({}), &fixture("types.jsonl")).assert_success();
    let rows = schema.rows("types", "id");
    assert_eq!(
        rows[0],
        json!({
            "id": 1, "big": 9223372036854775807i64,
            "amount": serde_json::from_str::<serde_json::Value>(
                "12345678901234567890.123456789012345").unwrap(),
            "label": "plain", "flag": true, "at": "2024-01-02T03:04:05+00:00",
            "day": "2024-02-29", "clock": "13:14:15",
            "uid": "123e4567-e89b-12d3-a456-426614174000",
            "meta": {"a": 1, "nested": {"b": [1, 2, {"c": null}]}},
            "tags": ["x", null, "z"], "counts": [1, null, 3],
            "lines": [{"sku": "A"}, {"sku": "B", "qty": 2}],
            "either": "text", "anything": {"k": "v"}
        })
    );
    assert_eq!(
        rows[1],
        json!({
            "id": 2, "big": -9223372036854775808i64,
            "amount": serde_json::from_str::<serde_json::Value>(
                "-0.000000000000000000000000000001").unwrap(),
            "label": "with \u{FFFD} nul", "flag": false, "at": "2024-01-02T03:04:05.123456+00:00",
            "day": "1999-12-31", "clock": "00:00:00",
            "uid": "00000000-0000-0000-0000-000000000000",
            "meta": {}, "tags": [], "counts": [], "lines": [],
            "either": "42", "anything": "just a string"
        })
    );
    assert_eq!(
        rows[2],
        json!({
            "id": 3, "big": null, "amount": null, "label": null, "flag": null,
            "at": "2024-01-02T03:04:05+00:00", "day": null, "clock": null, "uid": null,
            "meta": null, "tags": null, "counts": null, "lines": null, "either": null,
            "anything": null
        })
    );
}

#[test]
fn date_times_without_offset_are_utc_and_offsets_are_converted() {
    let schema = TestSchema::new("datetimes");
    let values = [
        (1, "2024-01-02T03:04:05Z"),
        (2, "2024-01-02T03:04:05"),
        (3, "2024-01-02T05:04:05+02:00"),
        (4, "2024-01-01T22:34:05-04:30"),
        (5, "2024-01-02T03:04:05.250+00:00"),
        (6, "2024-01-02T03:04:05.000001Z"),
    ];
    let mut lines = vec![schema_msg(
        "t",
        json!({"id": {"type": "integer"}, "at": {"type": ["null", "string"], "format": "date-time"}}),
        &["id"],
    )];
    for (id, at) in values {
        lines.push(record("t", json!({"id": id, "at": at})));
    }
    run_target(&schema, json!({}), &jsonl(&lines)).assert_success();
    assert_eq!(
        texts(&schema, "t", "at AT TIME ZONE 'UTC'"),
        some(&[
            "2024-01-02 03:04:05",
            "2024-01-02 03:04:05",
            "2024-01-02 03:04:05",
            "2024-01-02 03:04:05",
            "2024-01-02 03:04:05.25",
            "2024-01-02 03:04:05.000001",
        ])
    );
}

#[test]
fn dates_times_and_uuids_are_stored_in_native_columns() {
    let schema = TestSchema::new("date_time_uuid");
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({
                "id": {"type": "integer"},
                "day": {"type": "string", "format": "date"},
                "clock": {"type": "string", "format": "time"},
                "uid": {"type": "string", "format": "uuid"},
            }),
            &["id"],
        ),
        record(
            "t",
            json!({"id": 1, "day": "2024-02-29", "clock": "23:59:59.5", "uid": "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"}),
        ),
        record(
            "t",
            json!({"id": 2, "day": "0001-01-01", "clock": "00:00:00", "uid": "00000000-0000-0000-0000-000000000001"}),
        ),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(
        text_rows(&format!(
            "SELECT day::text, clock::text, uid::text, pg_typeof(day)::text, \
             pg_typeof(clock)::text, pg_typeof(uid)::text FROM {} ORDER BY id",
            schema.table("t")
        )),
        vec![
            some(&[
                "2024-02-29",
                "23:59:59.5",
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                "date",
                "time without time zone",
                "uuid",
            ]),
            some(&[
                "0001-01-01",
                "00:00:00",
                "00000000-0000-0000-0000-000000000001",
                "date",
                "time without time zone",
                "uuid",
            ]),
        ]
    );
}

#[test]
fn sdk_any_of_dates_create_timestamptz_and_a_non_date_follows_invalid_records() {
    let schema = TestSchema::new("any_of_date");
    // How SDK taps (Salesforce and friends) declare dates.
    let sdk_date = json!({"anyOf": [{"type": "string", "format": "date-time"},
                                    {"type": ["string", "null"]}]});
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({"id": {"type": "integer"}, "at": sdk_date}),
            &["id"],
        ),
        record("t", json!({"id": 1, "at": "2024-06-25T21:46:00+02:00"})),
        record("t", json!({"id": 2, "at": null})),
        record("t", json!({"id": 3, "at": "not a date"})),
    ]);
    let output = run_target(&schema, json!({"invalid_records": "skip"}), &input);
    output
        .assert_success()
        .assert_stderr_has(&["line 4", "\"at\"", "not a date"]);
    assert_eq!(
        schema.columns("t"),
        vec![
            ("id".to_string(), "bigint".to_string()),
            ("at".to_string(), "timestamp with time zone".to_string()),
        ]
    );
    assert_eq!(
        text_rows(&format!(
            "SELECT id::text, (at AT TIME ZONE 'UTC')::text FROM {} ORDER BY id",
            schema.table("t")
        )),
        vec![
            some(&["1", "2024-06-25 19:46:00"]),
            vec![Some("2".to_string()), None],
        ]
    );
}

#[test]
fn booleans_are_stored_as_booleans() {
    let schema = TestSchema::new("booleans");
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({"id": {"type": "integer"}, "b": nullable("boolean")}),
            &["id"],
        ),
        record("t", json!({"id": 1, "b": true})),
        record("t", json!({"id": 2, "b": false})),
        record("t", json!({"id": 3, "b": null})),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(
        texts(&schema, "t", "b"),
        vec![Some("true".into()), Some("false".into()), None]
    );
}

#[test]
fn integers_beyond_64_bits_widen_the_column_to_numeric_exactly() {
    let schema = TestSchema::new("int_widen");
    let input = "\
{\"type\":\"SCHEMA\",\"stream\":\"t\",\"schema\":{\"properties\":{\"id\":{\"type\":\"integer\"},\"n\":{\"type\":[\"null\",\"integer\"]}}},\"key_properties\":[\"id\"]}
{\"type\":\"RECORD\",\"stream\":\"t\",\"record\":{\"id\":1,\"n\":42}}
{\"type\":\"RECORD\",\"stream\":\"t\",\"record\":{\"id\":2,\"n\":123456789012345678901234567890}}
{\"type\":\"RECORD\",\"stream\":\"t\",\"record\":{\"id\":3,\"n\":-99999999999999999999999}}
{\"type\":\"RECORD\",\"stream\":\"t\",\"record\":{\"id\":4,\"n\":9223372036854775808}}
";
    run_target(&schema, json!({}), input).assert_success();
    assert_eq!(schema.columns("t")[1], ("n".into(), "numeric".into()));
    assert_eq!(
        texts(&schema, "t", "n"),
        some(&[
            "42",
            "123456789012345678901234567890",
            "-99999999999999999999999",
            "9223372036854775808",
        ])
    );
}

#[test]
fn integer_beyond_64_bits_widens_a_bigint_column_that_already_holds_rows() {
    let schema = TestSchema::new("int_widen_later");
    let head = "{\"type\":\"SCHEMA\",\"stream\":\"t\",\"schema\":{\"properties\":{\"id\":{\"type\":\"integer\"},\"n\":{\"type\":[\"null\",\"integer\"]}}},\"key_properties\":[\"id\"]}\n";
    run_target(
        &schema,
        json!({}),
        &format!(
            "{head}{{\"type\":\"RECORD\",\"stream\":\"t\",\"record\":{{\"id\":1,\"n\":7}}}}\n"
        ),
    )
    .assert_success();
    assert_eq!(schema.columns("t")[1], ("n".into(), "bigint".into()));
    run_target(
        &schema,
        json!({}),
        &format!(
            "{head}{{\"type\":\"RECORD\",\"stream\":\"t\",\"record\":{{\"id\":2,\"n\":18446744073709551616}}}}\n"
        ),
    )
    .assert_success();
    assert_eq!(schema.columns("t")[1], ("n".into(), "numeric".into()));
    assert_eq!(
        texts(&schema, "t", "n"),
        some(&["7", "18446744073709551616"])
    );
}

#[test]
fn decimals_with_30_and_more_digits_are_stored_exactly() {
    let schema = TestSchema::new("decimals");
    let literals = [
        "12345678901234567890.123456789012345",
        "-0.000000000000000000000000000001",
        "99999999999999999999999999999999999999.99999999999999999999",
        "1.50",
        "0",
        "100",
        "1.5e3",
        "2.5E-3",
        "-7",
        "0.1",
    ];
    let mut input = String::from(
        "{\"type\":\"SCHEMA\",\"stream\":\"t\",\"schema\":{\"properties\":{\"id\":{\"type\":\"integer\"},\"x\":{\"type\":[\"null\",\"number\"]}}},\"key_properties\":[\"id\"]}\n",
    );
    for (i, literal) in literals.iter().enumerate() {
        input.push_str(&format!(
            "{{\"type\":\"RECORD\",\"stream\":\"t\",\"record\":{{\"id\":{i},\"x\":{literal}}}}}\n"
        ));
    }
    run_target(&schema, json!({}), &input).assert_success();
    // What PostgreSQL itself makes of each literal is the exact value.
    let expected: Vec<Option<String>> = literals
        .iter()
        .map(|l| scalar(&format!("SELECT {}::numeric::text", ql(l))))
        .collect();
    assert_eq!(expected[0].as_deref(), Some(literals[0]));
    assert_eq!(expected[3].as_deref(), Some("1.50"));
    assert_eq!(texts(&schema, "t", "x"), expected);
}

#[test]
fn arrays_of_scalars_are_native_arrays_keeping_null_elements() {
    let schema = TestSchema::new("scalar_arrays");
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({
                "id": {"type": "integer"},
                // `items` says no nulls; real taps send them anyway.
                "tags": {"type": ["null", "array"], "items": {"type": "string"}},
                "ids": {"type": ["null", "array"], "items": {"type": "integer"}},
            }),
            &["id"],
        ),
        record(
            "t",
            json!({"id": 1, "tags": ["a", null, "c,d", "\"q\""], "ids": [1, null, 3]}),
        ),
        record("t", json!({"id": 2, "tags": [], "ids": [null]})),
        record("t", json!({"id": 3, "tags": null})),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(
        schema.columns("t")[1..],
        [
            ("tags".to_string(), "text[]".to_string()),
            ("ids".to_string(), "bigint[]".to_string()),
        ]
    );
    assert_eq!(
        texts(&schema, "t", "tags"),
        vec![
            Some(r#"{a,NULL,"c,d","\"q\""}"#.to_string()),
            Some("{}".to_string()),
            None
        ]
    );
    assert_eq!(
        texts(&schema, "t", "ids"),
        vec![
            Some("{1,NULL,3}".to_string()),
            Some("{NULL}".to_string()),
            None
        ]
    );
    assert_eq!(
        texts(
            &schema,
            "t",
            "array_length(tags, 1) || '/' || (tags[2] IS NULL) || '/' || (ids[2] IS NULL)"
        ),
        vec![Some("4/true/true".to_string()), None, None]
    );
}

#[test]
fn arrays_of_objects_and_nested_objects_are_jsonb() {
    let schema = TestSchema::new("jsonb_values");
    let order = json!({
        "customer": {"name": "Ada", "address": {"city": "London", "zip": null}},
        "lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2, "tags": ["x"]}],
    });
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({
                "id": {"type": "integer"},
                "customer": {"type": ["null", "object"], "properties": {"name": {"type": "string"}}},
                "lines": {"type": ["null", "array"], "items": {"type": "object"}},
            }),
            &["id"],
        ),
        record(
            "t",
            json!({"id": 1, "customer": order["customer"], "lines": order["lines"]}),
        ),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(
        schema.columns("t")[1..],
        [
            ("customer".to_string(), "jsonb".to_string()),
            ("lines".to_string(), "jsonb".to_string()),
        ]
    );
    assert_eq!(
        schema.rows("t", "id"),
        vec![json!({"id": 1, "customer": order["customer"], "lines": order["lines"]})]
    );
    assert_eq!(
        texts(
            &schema,
            "t",
            "jsonb_typeof(customer) || ',' || jsonb_typeof(lines)"
        ),
        some(&["object,array"])
    );
}

#[test]
fn strings_in_a_jsonb_column_stay_json_strings() {
    let schema = TestSchema::new("jsonb_strings");
    let input = jsonl(&[
        schema_msg("t", json!({"id": {"type": "integer"}, "v": {}}), &["id"]),
        record("t", json!({"id": 1, "v": "hello"})),
        record("t", json!({"id": 2, "v": "{\"looks\": \"like json\"}"})),
        record("t", json!({"id": 3, "v": 12.5})),
        record("t", json!({"id": 4, "v": null})),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(
        texts(&schema, "t", "jsonb_typeof(v)"),
        vec![
            Some("string".into()),
            Some("string".into()),
            Some("number".into()),
            None
        ]
    );
    assert_eq!(
        texts(&schema, "t", "v #>> '{}'"),
        vec![
            Some("hello".into()),
            Some("{\"looks\": \"like json\"}".into()),
            Some("12.5".into()),
            None
        ]
    );
}

#[test]
fn records_missing_optional_fields_get_null() {
    let schema = TestSchema::new("missing_fields");
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({
                "id": {"type": "integer"},
                "name": nullable("string"),
                "age": nullable("integer"),
                "tags": {"type": ["null", "array"], "items": {"type": "string"}},
                "meta": nullable("object"),
            }),
            &["id"],
        ),
        record(
            "t",
            json!({"id": 1, "name": "full", "age": 30, "tags": ["a"], "meta": {"k": 1}}),
        ),
        record("t", json!({"id": 2})),
        record("t", json!({"id": 3, "name": null, "age": null})),
        record("t", json!({"id": 4, "age": 5})),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(
        schema.rows("t", "id"),
        vec![
            json!({"id": 1, "name": "full", "age": 30, "tags": ["a"], "meta": {"k": 1}}),
            json!({"id": 2, "name": null, "age": null, "tags": null, "meta": null}),
            json!({"id": 3, "name": null, "age": null, "tags": null, "meta": null}),
            json!({"id": 4, "name": null, "age": 5, "tags": null, "meta": null}),
        ]
    );
}

#[test]
fn properties_not_in_the_schema_are_ignored_with_one_warning() {
    let schema = TestSchema::new("extra_props");
    let input = jsonl(&[
        schema_msg("t", json!({"id": {"type": "integer"}}), &["id"]),
        record("t", json!({"id": 1, "surprise_field": "x"})),
        record("t", json!({"id": 2, "surprise_field": "y"})),
    ]);
    let out = run_target(&schema, json!({}), &input);
    out.assert_success();
    assert_eq!(schema.column_names("t"), ["id"]);
    assert_eq!(
        schema.rows("t", "id"),
        vec![json!({"id": 1}), json!({"id": 2})]
    );
    assert_eq!(
        out.stderr_lines_with("surprise_field").len(),
        1,
        "one warning per stream and property\n{out}"
    );
}

#[test]
fn null_character_in_strings_is_replaced_with_the_replacement_character() {
    let schema = TestSchema::new("nul_replaced");
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({
                "id": {"type": "integer"},
                "s": nullable("string"),
                "tags": {"type": ["null", "array"], "items": {"type": "string"}},
            }),
            &["id"],
        ),
        record(
            "t",
            json!({"id": 1, "s": "a\u{0}b", "tags": ["x\u{0}", "\u{0}"]}),
        ),
        record("t", json!({"id": 2, "s": "\u{0}\u{0}"})),
    ]);
    let out = run_target(&schema, json!({}), &input);
    out.assert_success();
    assert_eq!(
        schema.rows("t", "id"),
        vec![
            json!({"id": 1, "s": "a\u{FFFD}b", "tags": ["x\u{FFFD}", "\u{FFFD}"]}),
            json!({"id": 2, "s": "\u{FFFD}\u{FFFD}", "tags": null}),
        ]
    );
}

#[test]
fn null_character_inside_a_jsonb_value_is_replaced_too() {
    // PostgreSQL's jsonb cannot hold \u0000 either.
    let schema = TestSchema::new("nul_jsonb");
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({"id": {"type": "integer"}, "meta": nullable("object")}),
            &["id"],
        ),
        record(
            "t",
            json!({"id": 1, "meta": {"note": "a\u{0}b", "k\u{0}": 1}}),
        ),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(
        schema.rows("t", "id"),
        vec![json!({"id": 1, "meta": {"note": "a\u{FFFD}b", "k\u{FFFD}": 1}})]
    );
}

#[test]
fn table_created_by_another_loader_is_loaded_without_altering_it() {
    let schema = TestSchema::new("foreign_table");
    schema.create();
    schema.execute(&format!(
        "CREATE TABLE {} (
            id bigint PRIMARY KEY,
            score double precision,
            tags text[],
            items jsonb[],
            name varchar(20),
            seen_at timestamp without time zone
        )",
        schema.table("people")
    ));
    let before = schema.columns("people");
    let schema_line = schema_msg(
        "people",
        json!({
            "id": {"type": "integer"},
            "score": nullable("number"),
            "tags": {"type": ["null", "array"], "items": {"type": "string"}},
            "items": {"type": ["null", "array"], "items": {"type": "object"}},
            "name": nullable("string"),
            "seen_at": {"type": ["null", "string"], "format": "date-time"},
        }),
        &["id"],
    );
    let first = jsonl(&[
        schema_line.clone(),
        record(
            "people",
            json!({
                "id": 1, "score": 1.5, "tags": ["a", null], "items": [{"a": 1}, {"b": [2]}],
                "name": "Ada", "seen_at": "2024-01-02T05:04:05+02:00"
            }),
        ),
        record(
            "people",
            json!({"id": 2, "score": -0.25, "tags": [], "items": [], "name": "Bob",
                   "seen_at": "2024-01-02T03:04:05"}),
        ),
        state(json!({"run": 1})),
    ]);
    let out = run_target(&schema, json!({}), &first);
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"run": 1})]);

    // A second run merges into the same table (id 2 changes, id 3 is new).
    let second = jsonl(&[
        schema_line,
        record(
            "people",
            json!({"id": 2, "score": 1e10, "tags": ["z"], "items": [{"c": true}], "name": "Bobby",
                   "seen_at": "2024-06-30T23:59:59Z"}),
        ),
        record("people", json!({"id": 3, "name": "Cy"})),
    ]);
    run_target(&schema, json!({}), &second).assert_success();

    assert_eq!(
        schema.columns("people"),
        before,
        "column types were altered"
    );
    assert_eq!(
        text_rows(&format!(
            "SELECT id::text, score::text, tags::text, array_length(items, 1)::text, \
             items[1]::text, items[2]::text, name, seen_at::text FROM {} ORDER BY id",
            schema.table("people")
        )),
        vec![
            vec![
                Some("1".into()),
                Some("1.5".into()),
                Some("{a,NULL}".into()),
                Some("2".into()),
                Some("{\"a\": 1}".into()),
                Some("{\"b\": [2]}".into()),
                Some("Ada".into()),
                Some("2024-01-02 03:04:05".into()),
            ],
            vec![
                Some("2".into()),
                Some("10000000000".into()),
                Some("{z}".into()),
                Some("1".into()),
                Some("{\"c\": true}".into()),
                None,
                Some("Bobby".into()),
                Some("2024-06-30 23:59:59".into()),
            ],
            vec![
                Some("3".into()),
                None,
                None,
                None,
                None,
                None,
                Some("Cy".into()),
                None,
            ],
        ]
    );
}

#[test]
fn loose_scalars_load_into_number_boolean_and_text_columns() {
    // The README's rules: numeric strings load into number columns, "true"/"f"/1/0 into
    // boolean columns, any scalar into a text column as its JSON spelling, an object or array
    // as its JSON text.
    let schema = TestSchema::new("loose_scalars");
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({
                "id": {"type": "integer"},
                "x": nullable("number"),
                "i": nullable("integer"),
                "b": nullable("boolean"),
                "s": nullable("string"),
            }),
            &["id"],
        ),
        record(
            "t",
            json!({"id": 1, "x": "12.50", "i": "42", "b": "true", "s": 12}),
        ),
        record(
            "t",
            json!({"id": 2, "x": "-1e3", "i": "7", "b": "f", "s": true}),
        ),
        record("t", json!({"id": 3, "b": 1, "s": {"a": [1, 2]}})),
        record("t", json!({"id": 4, "b": 0, "s": [1, "x"]})),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(
        text_rows(&format!(
            "SELECT x::text, i::text, b::text, s FROM {} ORDER BY id",
            schema.table("t")
        )),
        vec![
            vec![
                Some("12.50".into()),
                Some("42".into()),
                Some("true".into()),
                Some("12".into())
            ],
            vec![
                Some("-1000".into()),
                Some("7".into()),
                Some("false".into()),
                Some("true".into())
            ],
            vec![
                None,
                None,
                Some("true".into()),
                Some(r#"{"a":[1,2]}"#.into())
            ],
            vec![None, None, Some("false".into()), Some(r#"[1,"x"]"#.into())],
        ]
    );
}

#[test]
fn flattening_turns_nested_objects_into_parent_child_columns() {
    let schema = TestSchema::new("flatten");
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({
                "id": {"type": "integer"},
                "address": {"type": ["null", "object"], "properties": {
                    "city": {"type": "string"},
                    "geo": {"type": "object", "properties": {
                        "lat": {"type": "number"}, "lng": {"type": "number"}
                    }}
                }},
                "tags": {"type": "object"}
            }),
            &["id"],
        ),
        record(
            "t",
            json!({"id": 1, "address": {"city": "Oslo", "geo": {"lat": 59.9, "lng": 10.7}},
                   "tags": {"a": 1}}),
        ),
        record("t", json!({"id": 2, "address": null})),
        record(
            "t",
            json!({"id": 3, "address": {"city": "Lima", "zip": "15001"}}),
        ),
    ]);
    let out = run_target(&schema, json!({"data_flattening_max_level": 1}), &input);
    out.assert_success();
    assert_eq!(
        schema.columns("t"),
        vec![
            ("id".to_string(), "bigint".to_string()),
            ("address__city".to_string(), "text".to_string()),
            ("address__geo".to_string(), "jsonb".to_string()),
            ("tags".to_string(), "jsonb".to_string()),
        ]
    );
    assert_eq!(
        text_rows(&format!(
            "SELECT address__city, address__geo::text FROM {} ORDER BY id",
            schema.table("t")
        )),
        vec![
            vec![
                Some("Oslo".to_string()),
                Some(r#"{"lat": 59.9, "lng": 10.7}"#.to_string())
            ],
            vec![None, None],
            vec![Some("Lima".to_string()), None],
        ]
    );
    out.assert_stderr_has(&["address__zip"]);

    // Two levels, Meltano's key names; flattening_enabled false turns it off.
    let deep = TestSchema::new("flatten_deep");
    run_target(
        &deep,
        json!({"flattening_enabled": true, "flattening_max_depth": 2}),
        &input,
    )
    .assert_success();
    assert_eq!(
        deep.column_names("t"),
        [
            "id",
            "address__city",
            "address__geo__lat",
            "address__geo__lng",
            "tags"
        ]
    );
    let off = TestSchema::new("flatten_off");
    run_target(
        &off,
        json!({"flattening_enabled": false, "flattening_max_depth": 2}),
        &input,
    )
    .assert_success();
    assert_eq!(off.column_names("t"), ["id", "address", "tags"]);
}
