//! Naming (SPEC §4): how stream names become tables and property names become columns.
//! camelCase and special characters are cleaned, Mage's reserved words get a `_` prefix unless
//! `allow_reserved_words`, names over 63 bytes are cut with a hash so distinct names stay
//! distinct, names that collide after cleaning get numbered suffixes, `src-users` loads into
//! `users` (or `src_users` without `stream_name_split`), and configured `schema`/`table` names
//! are used verbatim and quoted so no name can inject SQL.

use crate::support::*;
use serde_json::json;

/// The table the `crm-ContactList` stream of `fixtures/names.jsonl` loads into.
const NAMES_TABLE: &str = "contactlist";
const LONG_FIRST: &str =
    "a_very_long_property_name_that_keeps_going_and_going_past_the_limit_first";
const LONG_SECOND: &str =
    "a_very_long_property_name_that_keeps_going_and_going_past_the_limit_second";

/// Loads a one-property stream and returns the column that property got.
fn column_for_property(test: &str, property: &str) -> String {
    let schema = TestSchema::new(test);
    let input = jsonl(&[
        schema_msg("t", json!({ property: nullable("string") }), &[]),
        record("t", json!({ property: "x" })),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    let columns = schema.column_names("t");
    assert_eq!(columns.len(), 1, "{columns:?}");
    columns[0].clone()
}

#[test]
fn camel_case_and_special_characters_are_cleaned_in_property_order() {
    let schema = TestSchema::new("names_fixture");
    let out = run_target(&schema, json!({}), &fixture("names.jsonl"));
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"crm-ContactList": 1})]);

    let columns = schema.column_names(NAMES_TABLE);
    assert_eq!(columns.len(), 13, "{columns:?}");
    assert_eq!(
        columns[..11],
        [
            "id",
            "firstname",
            "last_name",
            "e_mail_address",
            "größe",
            "_select",
            "_from",
            "_user",
            "_order",
            "a_b",
            "a_b_2",
        ]
    );
    let rows = text_rows(&format!(
        "SELECT id::text, firstname, last_name, e_mail_address, \"größe\"::text, _select, _from, \
         _user, _order::text, a_b, a_b_2 FROM {}",
        schema.table(NAMES_TABLE)
    ));
    let expected: Vec<Option<String>> = [
        "1",
        "Ada",
        "Lovelace",
        "ada@example.com",
        "170",
        "s",
        "f",
        "u",
        "7",
        "space",
        "dash",
    ]
    .iter()
    .map(|s| Some(s.to_string()))
    .collect();
    assert_eq!(rows, vec![expected]);
}

#[test]
fn reserved_words_get_an_underscore_prefix() {
    let schema = TestSchema::new("reserved_prefix");
    let words = [
        "as",
        "default",
        "from",
        "group",
        "join",
        "limit",
        "order",
        "references",
        "select",
        "to",
        "user",
        "where",
    ];
    let mut properties = serde_json::Map::new();
    let mut rec = serde_json::Map::new();
    for w in words {
        properties.insert(w.to_string(), nullable("string"));
        rec.insert(w.to_string(), json!(format!("value of {w}")));
    }
    let input = jsonl(&[
        schema_msg("t", properties.into(), &[]),
        record("t", rec.into()),
    ]);
    run_target(&schema, json!({}), &input).assert_success();

    let expected: Vec<String> = words.iter().map(|w| format!("_{w}")).collect();
    assert_eq!(schema.column_names("t"), expected);
    let row = &schema.rows("t", "1")[0];
    for w in words {
        assert_eq!(
            row[format!("_{w}")],
            json!(format!("value of {w}")),
            "{row}"
        );
    }
}

#[test]
fn words_outside_the_reserved_list_are_not_prefixed() {
    // Only Mage's list is prefixed; other SQL keywords are simply quoted.
    let schema = TestSchema::new("not_reserved");
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({
                "table": nullable("string"),
                "desc": nullable("string"),
                "limited": nullable("string"),
                "users": nullable("string"),
            }),
            &[],
        ),
        record(
            "t",
            json!({"table": "1", "desc": "2", "limited": "3", "users": "4"}),
        ),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(
        schema.column_names("t"),
        ["table", "desc", "limited", "users"]
    );
    assert_eq!(
        schema.rows("t", "1"),
        vec![json!({"table": "1", "desc": "2", "limited": "3", "users": "4"})]
    );
}

#[test]
fn allow_reserved_words_keeps_reserved_words_as_column_names() {
    let schema = TestSchema::new("reserved_allowed");
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({
                "select": {"type": "integer"},
                "from": nullable("string"),
                "user": nullable("string"),
                "order": nullable("integer"),
            }),
            &["select"],
        ),
        record(
            "t",
            json!({"select": 1, "from": "a", "user": "b", "order": 2}),
        ),
        record(
            "t",
            json!({"select": 1, "from": "c", "user": "d", "order": 3}),
        ),
    ]);
    run_target(&schema, json!({"allow_reserved_words": true}), &input).assert_success();
    assert_eq!(
        schema.column_names("t"),
        ["select", "from", "user", "order"]
    );
    assert_eq!(schema.primary_key("t"), ["select"]);
    assert_eq!(
        schema.rows("t", "1"),
        vec![json!({"select": 1, "from": "c", "user": "d", "order": 3})]
    );
}

#[test]
fn lower_case_false_keeps_the_case_of_tables_and_columns() {
    let schema = TestSchema::new("keep_case");
    let input = jsonl(&[
        schema_msg(
            "src-MyUsers",
            json!({"userId": {"type": "integer"}, "Display Name": nullable("string")}),
            &["userId"],
        ),
        record("src-MyUsers", json!({"userId": 7, "Display Name": "Ada"})),
    ]);
    run_target(&schema, json!({"lower_case": false}), &input).assert_success();
    assert_eq!(schema.tables(), ["MyUsers"]);
    assert_eq!(schema.column_names("MyUsers"), ["userId", "Display_Name"]);
    assert_eq!(
        schema.rows("MyUsers", "1"),
        vec![json!({"userId": 7, "Display_Name": "Ada"})]
    );
}

#[test]
fn lower_case_is_the_default_for_tables_and_columns() {
    let schema = TestSchema::new("lower_default");
    let input = jsonl(&[
        schema_msg("src-MyUsers", json!({"userId": {"type": "integer"}}), &[]),
        record("src-MyUsers", json!({"userId": 7})),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(schema.tables(), ["myusers"]);
    assert_eq!(schema.column_names("myusers"), ["userid"]);
}

#[test]
fn names_over_63_bytes_are_cut_and_keep_their_values() {
    let long = "x".repeat(40) + &"y".repeat(40);
    let schema = TestSchema::new("long_name");
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({"id": {"type": "integer"}, &long: nullable("string")}),
            &["id"],
        ),
        record("t", json!({"id": 1, &long: "kept"})),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    let columns = schema.column_names("t");
    assert_eq!(columns.len(), 2, "{columns:?}");
    let column = &columns[1];
    assert!(column.len() <= 63, "{column} is {} bytes", column.len());
    assert!(
        column.starts_with(&"x".repeat(40)),
        "the cut name keeps the start of the property name: {column}"
    );
    assert_ne!(
        column,
        &long[..63],
        "a plain cut (what PostgreSQL does) would merge distinct long names"
    );
    let values = opt_strings(&format!("SELECT {} FROM {}", qi(column), schema.table("t")));
    assert_eq!(values, vec![Some("kept".to_string())]);
}

#[test]
fn long_names_are_stable_across_runs() {
    // A second run must find the column the first run created, not add another.
    let long = "stable_".repeat(12);
    let schema = TestSchema::new("long_stable");
    for (id, value) in [(1, "first run"), (2, "second run")] {
        let input = jsonl(&[
            schema_msg(
                "t",
                json!({"id": {"type": "integer"}, &long: nullable("string")}),
                &["id"],
            ),
            record("t", json!({"id": id, &long: value})),
        ]);
        run_target(&schema, json!({}), &input).assert_success();
    }
    let columns = schema.column_names("t");
    assert_eq!(columns.len(), 2, "{columns:?}");
    let values = opt_strings(&format!(
        "SELECT {} FROM {} ORDER BY id",
        qi(&columns[1]),
        schema.table("t")
    ));
    assert_eq!(
        values,
        vec![
            Some("first run".to_string()),
            Some("second run".to_string())
        ]
    );
}

#[test]
fn two_long_names_differing_only_at_the_end_get_distinct_columns() {
    let schema = TestSchema::new("long_pair");
    let out = run_target(&schema, json!({}), &fixture("names.jsonl"));
    out.assert_success();
    let columns = schema.column_names(NAMES_TABLE);
    let (first, second) = (&columns[11], &columns[12]);
    assert_ne!(first, second);
    for c in [first, second] {
        assert!(c.len() <= 63, "{c} is {} bytes", c.len());
        assert!(c.starts_with("a_very_long_property_name"), "{c}");
    }
    // Each long property alone gets the same column as in the fixture, so the values can be
    // matched to the right property.
    assert_eq!(&column_for_property("long_first_alone", LONG_FIRST), first);
    assert_eq!(
        &column_for_property("long_second_alone", LONG_SECOND),
        second
    );
    let rows = text_rows(&format!(
        "SELECT {}, {} FROM {}",
        qi(first),
        qi(second),
        schema.table(NAMES_TABLE)
    ));
    assert_eq!(
        rows,
        vec![vec![Some("one".to_string()), Some("two".to_string())]]
    );
}

#[test]
fn long_multibyte_names_are_cut_on_a_character_boundary() {
    // 40 × "é" is 80 bytes; a byte cut at 63 would split a character.
    let long = "é".repeat(40);
    let column = column_for_property("long_multibyte", &long);
    assert!(column.len() <= 63, "{column} is {} bytes", column.len());
    assert!(column.starts_with("éééééééééé"), "{column}");
}

#[test]
fn long_stream_names_give_tables_of_at_most_63_bytes() {
    let stream = format!("src-{}", "events_of_the_day_".repeat(5));
    let schema = TestSchema::new("long_table");
    let input = jsonl(&[
        schema_msg(&stream, json!({"id": {"type": "integer"}}), &["id"]),
        record(&stream, json!({"id": 1})),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    let tables = schema.tables();
    assert_eq!(tables.len(), 1, "{tables:?}");
    assert!(tables[0].len() <= 63, "{}", tables[0]);
    assert!(tables[0].starts_with("events_of_the_day_"), "{}", tables[0]);
    assert_eq!(schema.count(&tables[0]), 1);
}

#[test]
fn properties_colliding_after_cleaning_get_numbered_suffixes_and_one_warning() {
    let schema = TestSchema::new("collide");
    let properties = json!({
        "id": {"type": "integer"},
        "a b": nullable("string"),
        "a-b": nullable("string"),
        "A.B": nullable("string"),
    });
    let input = jsonl(&[
        schema_msg("t", properties.clone(), &["id"]),
        record(
            "t",
            json!({"id": 1, "a b": "space", "a-b": "dash", "A.B": "dot"}),
        ),
    ]);
    let out = run_target(&schema, json!({}), &input);
    out.assert_success();
    assert_eq!(schema.column_names("t"), ["id", "a_b", "a_b_2", "a_b_3"]);
    assert_eq!(
        out.stderr_lines_with("a_b_2").len(),
        1,
        "one warning for the renamed property\n{out}"
    );

    // The same properties map to the same columns on the next run.
    let input = jsonl(&[
        schema_msg("t", properties, &["id"]),
        record(
            "t",
            json!({"id": 2, "a b": "space2", "a-b": "dash2", "A.B": "dot2"}),
        ),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(schema.column_names("t"), ["id", "a_b", "a_b_2", "a_b_3"]);
    assert_eq!(
        schema.rows("t", "id"),
        vec![
            json!({"id": 1, "a_b": "space", "a_b_2": "dash", "a_b_3": "dot"}),
            json!({"id": 2, "a_b": "space2", "a_b_2": "dash2", "a_b_3": "dot2"}),
        ]
    );
}

#[test]
fn stream_with_a_source_prefix_loads_into_the_bare_table_name() {
    let schema = TestSchema::new("split");
    let input = jsonl(&[
        schema_msg("src-users", json!({"id": {"type": "integer"}}), &["id"]),
        schema_msg("db-src-orders", json!({"id": {"type": "integer"}}), &["id"]),
        record("src-users", json!({"id": 1})),
        record("db-src-orders", json!({"id": 2})),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(schema.tables(), ["orders", "users"]);
    assert_eq!(schema.rows("users", "id"), vec![json!({"id": 1})]);
    assert_eq!(schema.rows("orders", "id"), vec![json!({"id": 2})]);
}

#[test]
fn stream_name_split_false_keeps_the_whole_stream_name() {
    let schema = TestSchema::new("no_split");
    let input = jsonl(&[
        schema_msg("src-users", json!({"id": {"type": "integer"}}), &["id"]),
        record("src-users", json!({"id": 1})),
    ]);
    run_target(&schema, json!({"stream_name_split": false}), &input).assert_success();
    assert_eq!(schema.tables(), ["src_users"]);
    assert_eq!(schema.rows("src_users", "id"), vec![json!({"id": 1})]);
}

#[test]
fn table_setting_routes_every_stream_into_one_verbatim_table() {
    let schema = TestSchema::new("fixed_table");
    let properties = json!({"id": {"type": "integer"}, "name": nullable("string")});
    let input = jsonl(&[
        schema_msg("src-users", properties.clone(), &[]),
        schema_msg("src-admins", properties, &[]),
        record("src-users", json!({"id": 1, "name": "u"})),
        record("src-admins", json!({"id": 2, "name": "a"})),
        record("src-users", json!({"id": 3, "name": "u2"})),
    ]);
    run_target(&schema, json!({"table": "All Users"}), &input).assert_success();
    assert_eq!(schema.tables(), ["All Users"]);
    assert_eq!(
        schema.rows("All Users", "id"),
        vec![
            json!({"id": 1, "name": "u"}),
            json!({"id": 2, "name": "a"}),
            json!({"id": 3, "name": "u2"}),
        ]
    );
}

#[test]
fn configured_schema_and_table_are_verbatim_and_cannot_inject_sql() {
    let schema = TestSchema::named(format!(
        "Tp Mixed\"Case;_{}_{}",
        std::process::id(),
        unique()
    ));
    let table = "Weird \"Table\"; DROP TABLE x; --";
    let input = jsonl(&[
        schema_msg(
            "s",
            json!({"id\"); DROP SCHEMA public; --": {"type": "integer"}}),
            &[],
        ),
        record("s", json!({"id\"); DROP SCHEMA public; --": 5})),
    ]);
    run_target(&schema, json!({"table": table}), &input).assert_success();
    assert!(schema.exists());
    assert_eq!(schema.tables(), [table]);
    assert_eq!(schema.column_names(table), ["id____drop_schema_public____"]);
    assert_eq!(schema.count(table), 1);
}

#[test]
fn key_properties_are_cleaned_like_their_columns() {
    let schema = TestSchema::new("clean_keys");
    let schema_line = schema_msg(
        "t",
        json!({"User ID": {"type": "integer"}, "order": {"type": "string"}, "v": nullable("string")}),
        &["User ID", "order"],
    );
    for value in ["first", "second"] {
        let input = jsonl(&[
            schema_line.clone(),
            record("t", json!({"User ID": 1, "order": "A", "v": value})),
            record("t", json!({"User ID": 1, "order": "B", "v": value})),
        ]);
        run_target(&schema, json!({}), &input).assert_success();
    }
    assert_eq!(schema.primary_key("t"), ["user_id", "_order"]);
    assert_eq!(
        schema.rows("t", "_order"),
        vec![
            json!({"user_id": 1, "_order": "A", "v": "second"}),
            json!({"user_id": 1, "_order": "B", "v": "second"}),
        ]
    );
}

#[test]
fn schema_mapping_sends_two_source_schemas_to_two_target_schemas() {
    let sales = TestSchema::new("map_sales");
    let hr = TestSchema::new("map_hr");
    let fallback = TestSchema::new("map_default");
    let input = jsonl(&[
        schema_msg("sales-orders", json!({"id": {"type": "integer"}}), &["id"]),
        schema_msg("hr-people", json!({"id": {"type": "integer"}}), &["id"]),
        schema_msg("other-things", json!({"id": {"type": "integer"}}), &["id"]),
        record("sales-orders", json!({"id": 1})),
        record("hr-people", json!({"id": 2})),
        record("other-things", json!({"id": 3})),
    ]);
    let out = run_target(
        &fallback,
        json!({"schema_mapping": {
            "sales": {"target_schema": sales.name},
            "hr": {"target_schema": hr.name},
        }}),
        &input,
    );
    out.assert_success();
    assert_eq!(sales.tables(), vec!["orders"]);
    assert_eq!(hr.tables(), vec!["people"]);
    assert_eq!(fallback.tables(), vec!["things"]);
    assert_eq!(
        (
            sales.count("orders"),
            hr.count("people"),
            fallback.count("things")
        ),
        (1, 1, 1)
    );
}

#[test]
fn schema_mapping_without_target_schema_is_a_config_error() {
    let schema = TestSchema::new("map_bad");
    let out = run_target(
        &schema,
        json!({"schema_mapping": {"sales": {"schema": "x"}}}),
        "",
    );
    assert_eq!(out.code, Some(2), "{out}");
    out.assert_stderr_has(&["schema_mapping", "target_schema"]);
}
