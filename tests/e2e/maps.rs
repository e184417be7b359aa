//! Stream maps (`stream_maps`, `stream_map_config`), as singer-sdk defines them: each
//! construct loaded end to end — a hashed e-mail, a filter, an alias, a whitelist with
//! `__else__`, a duplicated stream, a changed key, a dropped stream, BATCH records mapped
//! like RECORDs — and the refusals: an expression outside the supported subset stops the
//! run at start (exit 2) naming the stream, the property and the expression, and a record
//! the map cannot compute stops the load naming the same.

use serde_json::{json, Value};

use crate::support::*;

fn customers_schema() -> String {
    schema_msg(
        "customers",
        json!({
            "id": {"type": "integer"},
            "email": nullable("string"),
            "name": nullable("string"),
            "age": nullable("integer"),
        }),
        &["id"],
    )
}

fn customers() -> Vec<String> {
    vec![
        customers_schema(),
        record(
            "customers",
            json!({"id": 1, "email": "alice@example.com", "name": "Alice", "age": 31}),
        ),
        record(
            "customers",
            json!({"id": 2, "email": "bob@other.org", "name": "Bob", "age": 45}),
        ),
        record(
            "customers",
            json!({"id": 3, "email": "carol@example.com", "name": "Carol", "age": 27}),
        ),
        state(json!({"done": true})),
    ]
}

fn run_maps(schema: &TestSchema, maps: Value, lines: &[String]) -> Output {
    run_target(schema, json!({"stream_maps": maps}), &jsonl(lines))
}

#[test]
fn an_email_hashed_with_md5_replaces_the_address() {
    let schema = TestSchema::new("maps_md5");
    let out = run_target(
        &schema,
        json!({
            "stream_maps": {"customers": {
                "email": null,
                "email_hash": "md5(config['seed'] + email)",
                "email_domain": "email.split('@')[-1]",
            }},
            "stream_map_config": {"seed": "pepper-"},
        }),
        &jsonl(&customers()),
    );
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"done": true})]);
    assert_eq!(
        schema.column_names("customers"),
        ["id", "name", "age", "email_hash", "email_domain"]
    );
    // PostgreSQL's own md5() of the same text: the hash is the hex digest of the UTF-8.
    let expected = scalar("SELECT md5('pepper-alice@example.com')");
    let rows = schema.rows("customers", "id");
    assert_eq!(rows[0]["email_hash"].as_str(), expected.as_deref());
    assert_eq!(rows[0]["email_domain"], "example.com");
    assert_eq!(rows[1]["email_domain"], "other.org");
    // No address was stored anywhere.
    let stored = scalar_i64(&format!(
        "SELECT count(*) FROM {} t WHERE to_jsonb(t)::text LIKE '%@%'",
        schema.table("customers")
    ));
    assert_eq!(stored, 0);
}

#[test]
fn a_filter_loads_only_the_records_it_keeps() {
    let schema = TestSchema::new("maps_filter");
    let out = run_maps(
        &schema,
        json!({"customers": {"__filter__": "email.endswith('@example.com') and age < 40"}}),
        &customers(),
    );
    out.assert_success();
    let ids: Vec<Value> = schema
        .rows("customers", "id")
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, [json!(1), json!(3)]);
    out.assert_stderr_has(&["stream \"customers\": 1 record(s) filtered out"]);
    // The state after the filtered record still comes out.
    assert_eq!(out.states(), vec![json!({"done": true})]);
}

#[test]
fn an_alias_loads_into_the_aliased_table_without_the_removed_property() {
    let schema = TestSchema::new("maps_alias");
    let out = run_maps(
        &schema,
        json!({"customers": {"__alias__": "customers_v2", "age": "__NULL__"}}),
        &customers(),
    );
    out.assert_success();
    assert_eq!(schema.tables(), ["customers_v2"]);
    assert_eq!(schema.column_names("customers_v2"), ["id", "email", "name"]);
    assert_eq!(schema.count("customers_v2"), 3);
    // A removed property is not "missing from the schema": no warning about it.
    assert!(
        out.stderr_lines_with("is not in the schema").is_empty(),
        "{out}"
    );
    out.assert_stderr_has(&["stream \"customers\" is loaded as stream \"customers_v2\""]);
}

#[test]
fn an_alias_expression_and_a_glob_key_name_streams_as_singer_sdk_does() {
    let schema = TestSchema::new("maps_glob");
    let mut lines = customers();
    lines.push(schema_msg(
        "orders",
        json!({"id": {"type": "integer"}}),
        &["id"],
    ));
    lines.push(record("orders", json!({"id": 9})));
    let out = run_maps(
        &schema,
        json!({"*": {"__alias__": "__stream_name__ + '_v2'"}}),
        &lines,
    );
    out.assert_success();
    assert_eq!(schema.tables(), ["customers_v2", "orders_v2"]);
}

#[test]
fn a_whitelist_with_else_null_keeps_the_key_and_the_listed_properties() {
    let schema = TestSchema::new("maps_whitelist");
    let out = run_maps(
        &schema,
        json!({"customers": {"name": "name", "__else__": null}}),
        &customers(),
    );
    out.assert_success();
    assert_eq!(schema.column_names("customers"), ["id", "name"]);
    assert_eq!(
        schema.rows("customers", "id")[1],
        json!({"id": 2, "name": "Bob"})
    );
}

#[test]
fn a_source_key_duplicates_a_stream_into_a_second_table() {
    let schema = TestSchema::new("maps_source");
    let out = run_maps(
        &schema,
        json!({
            "customers": {"email": null, "name": null},
            "customers_pii": {"__source__": "customers", "email": "email", "name": "name", "__else__": null},
        }),
        &customers(),
    );
    out.assert_success();
    assert_eq!(schema.column_names("customers"), ["id", "age"]);
    assert_eq!(
        schema.column_names("customers_pii"),
        ["id", "email", "name"]
    );
    assert_eq!(
        (schema.count("customers"), schema.count("customers_pii")),
        (3, 3)
    );
    assert_eq!(schema.primary_key("customers_pii"), ["id"]);
    assert_eq!(out.states(), vec![json!({"done": true})]);
}

#[test]
fn key_properties_replace_the_key_and_upserts_follow_it() {
    let schema = TestSchema::new("maps_key");
    let mut lines = customers();
    // The same customer again: one row per hashed key.
    lines.push(record(
        "customers",
        json!({"id": 1, "email": "alice@example.com", "name": "Alice B.", "age": 32}),
    ));
    let out = run_maps(
        &schema,
        json!({"customers": {
            "id": null,
            "id_hash": "md5(str(id))",
            "__key_properties__": ["id_hash"],
        }}),
        &lines,
    );
    out.assert_success();
    assert_eq!(schema.primary_key("customers"), ["id_hash"]);
    assert!(!schema.column_names("customers").contains(&"id".to_string()));
    assert_eq!(schema.count("customers"), 3);
    let name = scalar(&format!(
        "SELECT name FROM {} WHERE id_hash = md5('1')",
        schema.table("customers")
    ));
    assert_eq!(name.as_deref(), Some("Alice B."));
}

#[test]
fn removing_a_key_property_without_key_properties_is_a_config_error() {
    let schema = TestSchema::new("maps_key_removed");
    let out = run_maps(&schema, json!({"customers": {"id": null}}), &customers());
    assert_eq!(out.code, Some(2), "{out}");
    out.assert_stderr_has(&["removing key property \"id\"", "__key_properties__"]);
    assert!(!schema.has_table("customers"));
}

#[test]
fn a_stream_mapped_to_null_is_not_loaded_and_else_null_drops_unnamed_streams() {
    let schema = TestSchema::new("maps_drop_stream");
    let mut lines = customers();
    lines.push(schema_msg(
        "orders",
        json!({"id": {"type": "integer"}}),
        &["id"],
    ));
    lines.push(record("orders", json!({"id": 9})));
    lines.push(json!({"type": "ACTIVATE_VERSION", "stream": "orders", "version": 1}).to_string());
    lines.push(state(json!({"after": "orders"})));
    let out = run_maps(&schema, json!({"orders": null}), &lines);
    out.assert_success();
    assert_eq!(schema.tables(), ["customers"]);
    out.assert_stderr_has(&[
        "stream \"orders\" is dropped by stream_maps",
        "1 record(s) not loaded",
    ]);
    assert_eq!(out.states().last(), Some(&json!({"after": "orders"})));

    let schema = TestSchema::new("maps_else_streams");
    let out = run_maps(
        &schema,
        json!({"orders": {}, "__else__": "__NULL__"}),
        &lines,
    );
    out.assert_success();
    assert_eq!(schema.tables(), ["orders"]);
}

#[test]
fn computed_properties_get_the_types_singer_sdk_detects() {
    let schema = TestSchema::new("maps_types");
    let out = run_maps(
        &schema,
        json!({"customers": {
            "age_next_year": "int(age + 1)",
            "ratio": "float(age) / 2",
            "signed_up": "datetime.date.fromisoformat('2024-02-29')",
            "seen_at": "datetime.datetime.fromisoformat('2024-02-29T10:00:00Z')",
            "is_adult": "bool(age >= 18)",
            "tag": "'constant'",
            "profile": "json.dumps({'n': name, 'a': age}, sort_keys=True)",
        }}),
        &customers(),
    );
    out.assert_success();
    let types: Vec<(String, String)> = schema
        .columns("customers")
        .into_iter()
        .filter(|(name, _)| !["id", "email", "name", "age"].contains(&name.as_str()))
        .collect();
    let types: Vec<(&str, &str)> = types
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        types,
        [
            ("age_next_year", "bigint"),
            ("ratio", "numeric"),
            ("signed_up", "date"),
            ("seen_at", "timestamp with time zone"),
            ("is_adult", "boolean"),
            ("tag", "text"),
            ("profile", "text"),
        ]
    );
    let row = &schema.rows("customers", "id")[0];
    assert_eq!(row["age_next_year"], 32);
    assert_eq!(row["ratio"], 15.5);
    assert_eq!(row["signed_up"], "2024-02-29");
    assert_eq!(row["is_adult"], true);
    assert_eq!(row["profile"], r#"{"a": 31, "n": "Alice"}"#);
}

#[test]
fn batch_records_are_mapped_like_record_messages() {
    let schema = TestSchema::new("maps_batch");
    let dir = std::env::temp_dir().join(format!("tp_e2e_maps_{}_{}", std::process::id(), unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("customers.jsonl");
    std::fs::write(
        &file,
        "{\"id\": 1, \"email\": \"alice@example.com\", \"age\": 31}\n{\"id\": 2, \"email\": \"bob@other.org\", \"age\": 45}\n",
    )
    .unwrap();
    let batch = json!({
        "type": "BATCH",
        "stream": "customers",
        "encoding": {"format": "jsonl", "compression": "none"},
        "manifest": [format!("file://{}", file.display())],
    });
    let out = run_maps(
        &schema,
        json!({"customers": {"email": null, "email_hash": "md5(email)", "__filter__": "age < 40"}}),
        &[customers_schema(), batch.to_string()],
    );
    let _ = std::fs::remove_dir_all(&dir);
    out.assert_success();
    let rows = schema.rows("customers", "id");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0]["email_hash"].as_str(),
        scalar("SELECT md5('alice@example.com')").as_deref()
    );
    assert!(rows[0].get("email").is_none());
}

#[test]
fn refused_expressions_stop_the_run_at_start_naming_stream_property_and_expression() {
    for (map, named) in [
        (
            json!({"customers": {"phone": "fake.phone_number()"}}),
            ["\"customers\"", "\"phone\"", "fake.phone_number()", "Faker"],
        ),
        (
            json!({"customers": {"n": "len(name)"}}),
            [
                "\"customers\"",
                "\"n\"",
                "len(name)",
                "len() is not a function",
            ],
        ),
        (
            json!({"customers": {"__filter__": "name.__class__"}}),
            [
                "\"customers\"",
                "__filter__",
                "name.__class__",
                "not allowed",
            ],
        ),
        (
            json!({"customers": {"x": "lambda: 1"}}),
            [
                "\"customers\"",
                "\"x\"",
                "lambda: 1",
                "lambda is not supported",
            ],
        ),
    ] {
        let schema = TestSchema::new("maps_refused");
        let out = run_maps(&schema, map, &customers());
        assert_eq!(out.code, Some(2), "{out}");
        out.assert_stderr_has(&named);
        // Nothing was loaded: the check runs before any input is read.
        assert!(!schema.exists(), "{out}");
    }
}

#[test]
fn a_record_the_map_cannot_compute_stops_the_load_naming_it() {
    let schema = TestSchema::new("maps_eval_error");
    let mut lines = customers();
    lines.insert(
        3,
        record(
            "customers",
            json!({"id": 4, "email": null, "name": "Dan", "age": 50}),
        ),
    );
    let out = run_maps(
        &schema,
        json!({"customers": {"email": "md5(email)"}}),
        &lines,
    );
    out.assert_load_failure();
    out.assert_stderr_has(&[
        "line 4",
        "stream \"customers\"",
        "\"email\"",
        "md5(email)",
        "'NoneType' object has no attribute 'encode'",
    ]);
    // Not even the invalid_records policies set such a record aside as it came.
    let out = run_target(
        &schema,
        json!({"stream_maps": {"customers": {"email": "md5(email)"}}, "invalid_records": "dead_letter"}),
        &jsonl(&lines),
    );
    out.assert_load_failure();
}

#[test]
fn records_set_aside_are_stored_as_mapped_not_as_they_came() {
    let schema = TestSchema::new("maps_dead_letter");
    let lines = [
        customers_schema(),
        record(
            "customers",
            json!({"id": 1, "email": "alice@example.com", "age": "not a number"}),
        ),
        record(
            "customers",
            json!({"id": 2, "email": "bob@other.org", "age": 45}),
        ),
    ];
    for maps in [
        // The zero-copy path (an alias, a removed property)...
        json!({"customers": {"__alias__": "people", "email": null}}),
        // ... and the mapped path.
        json!({"customers": {"__alias__": "people", "email": null, "domain": "email.split('@')[1]"}}),
    ] {
        schema.drop_now();
        let out = run_target(
            &schema,
            json!({"stream_maps": maps, "invalid_records": "dead_letter"}),
            &jsonl(&lines),
        );
        out.assert_success();
        assert_eq!(schema.count("people"), 1);
        let rejects = schema.rows("_target_postgres_rejects", "line");
        assert_eq!(rejects.len(), 1, "{out}");
        assert_eq!(rejects[0]["stream"], "people");
        assert!(rejects[0]["record"].get("email").is_none(), "{rejects:?}");
        assert!(!rejects[0].to_string().contains("alice@"), "{rejects:?}");
    }
}

#[test]
fn stream_maps_of_the_wrong_type_are_a_config_error() {
    let schema = TestSchema::new("maps_type");
    let out = run_target(
        &schema,
        json!({"stream_maps": "customers"}),
        &jsonl(&customers()),
    );
    assert_eq!(out.code, Some(2), "{out}");
    out.assert_stderr_has(&["\"stream_maps\" must be an object"]);
}

#[test]
fn a_key_that_matches_no_stream_is_warned_about() {
    let schema = TestSchema::new("maps_unmatched");
    // A misspelt stream name: the stream loads as it came (as in singer-sdk), but not silently.
    let out = run_maps(
        &schema,
        json!({"custmers": {"email": "md5(email)"}}),
        &customers(),
    );
    out.assert_success();
    out.assert_stderr_has(&["stream_maps: key \"custmers\" matched no stream of this run"]);
    assert_eq!(
        schema.rows("customers", "id")[0]["email"],
        "alice@example.com"
    );
    // Keys that match (exactly, by glob, as a __source__) draw no such warning.
    let out = run_maps(
        &schema,
        json!({"customers": {}, "cust*": {}, "copy": {"__source__": "customers"}}),
        &customers(),
    );
    out.assert_success();
    assert!(
        out.stderr_lines_with("matched no stream").is_empty(),
        "{out}"
    );
}
