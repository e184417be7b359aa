//! singer-sdk's own stream-map cases, with the values singer-sdk gives for them: the
//! expressions, records, schemas and results of its `tests/core/test_mapper.py` and its
//! snapshots (`tests/snapshots/mapped_stream/*.jsonl`), and the examples of its stream maps
//! documentation. Each is run through this implementation and must give the same.

#[cfg(test)]
mod tests {
    use std::cell::OnceCell;

    use serde_json::{json, Value};

    use crate::maps::defs::StreamMaps;
    use crate::maps::eval::{evaluate, Env};
    use crate::maps::json::{from_json, write_value, Floats};
    use crate::maps::parse::parse;
    use crate::maps::plan::{Output, Records};
    use crate::maps::record::Record;

    /// The snapshot tests' records (`MappedStream.get_records`), as JSON.
    fn mystream(n: usize) -> Value {
        let text = [
            r#"{"email": "alice@example.com", "count": 21, "user": {"id": 1, "sub": {"num": 1, "custom_obj": "obj-hello"}, "some_numbers": [3.14, 2.718]}, "joined_at": "2022-01-01T00:00:00Z"}"#,
            r#"{"email": "bob@example.com", "count": 13, "user": {"id": 2, "sub": {"num": 2, "custom_obj": "obj-world"}, "some_numbers": [10.32, 1.618]}, "joined_at": "2022-01-01T00:00:00Z"}"#,
            r#"{"email": "charlie@example.com", "count": 19, "user": {"id": 3, "sub": {"num": 3, "custom_obj": "obj-hello"}, "some_numbers": [1.414, 1.732]}, "joined_at": "2022-01-01T00:00:00Z"}"#,
        ][n];
        serde_json::from_str(text).unwrap()
    }

    /// Evaluates `expression` for property `property` of `record` as the SDK does, and
    /// returns the value as JSON text.
    fn value_of(
        expression: &str,
        record: &Value,
        config: &Value,
        property: Option<&str>,
    ) -> String {
        let expr = parse(expression).unwrap_or_else(|e| panic!("{expression}: {e}"));
        crate::maps::check::check(&expr).unwrap_or_else(|e| panic!("{expression}: {e}"));
        let text = record.to_string();
        let parsed = Record::parse(&text).unwrap();
        let config = from_json(config, Floats::Float).unwrap();
        let env = Env {
            record: Some(parsed.properties()),
            config: &config,
            stream_name: "mystream",
            original_stream_name: "mystream",
            self_property: property.filter(|p| record.get(p).is_some()),
            whole_record: OnceCell::new(),
        };
        let out = evaluate(&expr, &env);
        let value = out.unwrap_or_else(|e| panic!("{expression}: {e}"));
        let mut json = String::new();
        write_value(&value, &mut json).unwrap();
        json
    }

    #[test]
    fn snapshot_expressions_give_the_sdks_values() {
        let no_config = json!({});
        let alice = mystream(0);
        for (expression, expected) in [
            ("md5(email)", "\"c160f8cc69a4f0bf2b0362752353d060\""),
            (
                "sha256(email)",
                "\"ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976\"",
            ),
            ("int(count-1)", "20"),
            ("__stream_name__", "\"mystream\""),
            ("__original_stream_name__", "\"mystream\""),
            ("_['email'].upper()", "\"ALICE@EXAMPLE.COM\""),
            ("count", "21"),
            (
                "datetime.datetime.fromisoformat(joined_at).date()",
                "\"2022-01-01\"",
            ),
            (
                "float(datetime.datetime.fromisoformat(joined_at).timestamp())",
                "1640995200.0",
            ),
            (
                "json.dumps(user, default=str)",
                r#""{\"id\": 1, \"sub\": {\"num\": 1, \"custom_obj\": \"obj-hello\"}, \"some_numbers\": [\"3.14\", \"2.718\"]}""#,
            ),
            ("count < 20", "false"),
            ("bool(count < 20)", "false"),
            (
                "record",
                r#"{"email":"alice@example.com","count":21,"user":{"id":1,"sub":{"num":1,"custom_obj":"obj-hello"},"some_numbers":[3.14,2.718]},"joined_at":"2022-01-01T00:00:00Z"}"#,
            ),
        ] {
            assert_eq!(
                value_of(expression, &alice, &no_config, None),
                expected,
                "{expression}"
            );
        }
        assert_eq!(
            value_of("self.upper()", &alice, &no_config, Some("email")),
            "\"ALICE@EXAMPLE.COM\""
        );
        assert_eq!(
            value_of(
                "datetime.datetime.fromisoformat(config['some_date_string'])",
                &alice,
                &json!({"some_date_string": "2024-10-10T10:10:10Z"}),
                None
            ),
            "\"2024-10-10T10:10:10+00:00\""
        );
        for (n, hash, keep) in [
            (1, "4b9bb80620f03eb3719e0a061c14283d", "true"),
            (2, "426b189df1e2f359efe6ee90f2d2030f", "true"),
        ] {
            assert_eq!(
                value_of("md5(email)", &mystream(n), &no_config, None),
                format!("\"{hash}\"")
            );
            assert_eq!(value_of("count < 20", &mystream(n), &no_config, None), keep);
        }
    }

    #[test]
    fn test_mapper_expressions_give_the_sdks_values() {
        let config = json!({"hash_seed": "super_secret_hash_seed"});
        let repository = json!({"name": "tap-something", "owner_email": "sample1@example.com", "description": "Comment A", "create_date": "2019-01-01"});
        // md5("super_secret_hash_seed" + "sample1@example.com"), as the SDK's md5 computes it.
        let seeded = value_of(
            "md5('super_secret_hash_seedsample1@example.com')",
            &repository,
            &config,
            None,
        );
        for (expression, expected) in [
            ("_['name']", "\"tap-something\"".to_string()),
            ("owner_email.split('@')[1]", "\"example.com\"".into()),
            ("owner_email.split('@')[-1]", "\"example.com\"".into()),
            ("md5(config['hash_seed'] + owner_email)", seeded),
            ("'[masked]'", "\"[masked]\"".into()),
            ("str('[masked]')", "\"[masked]\"".into()),
            (
                "int(datetime.date.fromisoformat(create_date).year)",
                "2019".into(),
            ),
            ("int('0')", "0".into()),
            ("'tap-' in name or 'target-' in name", "true".into()),
            ("'database'", "\"database\"".into()),
        ] {
            assert_eq!(
                value_of(expression, &repository, &config, None),
                expected,
                "{expression}"
            );
        }
        let not_a_tap = json!({"name": "not-atap"});
        assert_eq!(
            value_of(
                "'tap-' in name or 'target-' in name",
                &not_a_tap,
                &config,
                None
            ),
            "false"
        );

        let jellybean = |values: Value| json!({"id": 123, "custom_fields": [{"id": 1, "value": values[0]}, {"id": 2, "value": values[1]}, {"id": 3, "value": values[2]}]});
        let field =
            |n: u8| format!("dict([(x[\"id\"], x[\"value\"]) for x in custom_fields]).get({n})");
        let cast = |f: &str, n: u8| format!("{f}({}) if {} else None", field(n), field(n));
        let first = jellybean(json!(["abc", 1212, null]));
        let second = jellybean(json!(["foo", 9009, true]));
        assert_eq!(value_of(&field(1), &first, &config, None), "\"abc\"");
        assert_eq!(value_of(&cast("int", 2), &first, &config, None), "1212");
        assert_eq!(value_of(&cast("bool", 3), &first, &config, None), "null");
        assert_eq!(value_of(&field(1), &second, &config, None), "\"foo\"");
        assert_eq!(value_of(&cast("int", 2), &second, &config, None), "9009");
        assert_eq!(value_of(&cast("bool", 3), &second, &config, None), "true");
    }

    #[test]
    fn documentation_examples_give_the_documented_values() {
        let none = json!({});
        let customer = json!({"customer_id": "ABC-1", "email": "Jane@Example.com", "fields": [{"key": "age", "v": 1}, {"key": "name", "v": 2}], "status_value": "", "count": 3});
        for (expression, expected) in [
            ("customer_id.lower()", "\"abc-1\""),
            ("record['customer_id'].lower()", "\"abc-1\""),
            ("_['customer_id'].lower()", "\"abc-1\""),
            ("email.split('@')[-1]", "\"Example.com\""),
            ("\"client-123\"", "\"client-123\""),
            (
                "[f for f in fields if f['key'] != 'age']",
                r#"[{"key":"name","v":2}]"#,
            ),
            ("bool(status_value) if status_value else None", "null"),
            ("int(count - 1)", "2"),
            ("__stream_name__ + '_v2'", "\"mystream_v2\""),
        ] {
            assert_eq!(
                value_of(expression, &customer, &none, None),
                expected,
                "{expression}"
            );
        }
    }

    fn maps(stream_maps: Value, config: Value) -> StreamMaps {
        StreamMaps::from_settings(Some(&stream_maps), Some(&config))
            .unwrap()
            .unwrap()
    }

    /// Runs records of `stream` through the outputs the maps give it.
    fn run(outputs: &[Output], records: &[Value]) -> Vec<(String, Vec<Value>)> {
        outputs
            .iter()
            .map(|output| {
                let mut out = Vec::new();
                for record in records {
                    let text = record.to_string();
                    let parsed = Record::parse(&text).unwrap();
                    let mapped = match &output.records {
                        Records::Pass { dropped } => Some(parsed.without(dropped)),
                        Records::Mapped(map) => map.apply(&parsed).unwrap(),
                    };
                    if let Some(mapped) = mapped {
                        out.push(serde_json::from_str(&mapped).unwrap());
                    }
                }
                (output.name.clone(), out)
            })
            .collect()
    }

    fn repositories_schema() -> Value {
        json!({"type": "object", "properties": {
            "name": {"type": ["string", "null"]}, "owner_email": {"type": ["string", "null"]},
            "description": {"type": ["string", "null"]}, "create_date": {"type": ["string", "null"]}}})
    }

    fn repositories() -> Vec<Value> {
        ["tap-something", "my-tap-something", "target-something", "not-atap"]
            .iter()
            .enumerate()
            .map(|(i, name)| json!({"name": name, "owner_email": format!("sample{}@example.com", i + 1), "description": "Comment", "create_date": format!("{}-01-01", 2019 + i)}))
            .collect()
    }

    #[test]
    fn test_map_transforms_repositories_schema_and_records() {
        let maps = maps(
            json!({"repositories": {
                "repo_name": "_['name']",
                "email_domain": "owner_email.split('@')[1]",
                "email_hash": "md5(config['hash_seed'] + owner_email)",
                "description": "'[masked]'",
                "description2": "str('[masked]')",
                "create_year": "int(datetime.date.fromisoformat(create_date).year)",
                "int_test": "int('0')",
                "__else__": null}}),
            json!({"hash_seed": "super_secret_hash_seed"}),
        );
        let outputs = maps
            .plan("repositories", &repositories_schema(), &[])
            .unwrap();
        assert_eq!(outputs.len(), 1);
        let string = json!({"type": ["string", "null"]});
        let integer = json!({"type": ["integer", "null"]});
        assert_eq!(
            outputs[0].schema["properties"],
            json!({"repo_name": string, "email_domain": string, "email_hash": string,
                   "description": string, "description2": string,
                   "create_year": integer, "int_test": integer})
        );
        let result = run(&outputs, &repositories());
        let first = &result[0].1[0];
        assert_eq!(first["repo_name"], "tap-something");
        assert_eq!(first["email_domain"], "example.com");
        assert_eq!(first["create_year"], 2019);
        assert_eq!(first["int_test"], 0);
        assert_eq!(first.as_object().unwrap().len(), 7);
        assert_eq!(result[0].1[3]["create_year"], 2022);
    }

    #[test]
    fn clone_alias_filter_and_wildcard_cases_route_as_the_sdk_routes() {
        let schema = repositories_schema();
        let records = repositories();
        // test_clone_and_alias_transforms
        let maps_ = maps(
            json!({"repositories": {"__alias__": "repositories_aliased"},
                   "repositories_clone_1": {"__source__": "repositories"},
                   "repositories_clone_2": {"__source__": "repositories"},
                   "__else__": null}),
            json!({}),
        );
        let outputs = maps_.plan("repositories", &schema, &[]).unwrap();
        let names: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "repositories_aliased",
                "repositories_clone_1",
                "repositories_clone_2"
            ]
        );
        for (_, out) in run(&outputs, &records) {
            assert_eq!(out, records);
        }
        assert!(maps_.plan("foobars", &schema, &[]).unwrap().is_empty());
        // test_filter_transforms
        let maps_ = maps(
            json!({"repositories": {"__filter__": "'tap-' in name or 'target-' in name", "name": "_['name']", "__else__": null}, "__else__": null}),
            json!({}),
        );
        let outputs = maps_.plan("repositories", &schema, &[]).unwrap();
        assert_eq!(
            outputs[0].schema["properties"],
            json!({"name": {"type": ["string", "null"]}})
        );
        let kept: Vec<Value> = run(&outputs, &records).remove(0).1;
        assert_eq!(
            kept,
            vec![
                json!({"name": "tap-something"}),
                json!({"name": "my-tap-something"}),
                json!({"name": "target-something"})
            ]
        );
        // test_wildcard_transforms: "*s" maps repositories and foobars, not singular.
        let maps_ = maps(json!({"*s": {"db_name": "'database'"}}), json!({}));
        for (stream, mapped) in [
            ("repositories", true),
            ("foobars", true),
            ("singular", false),
        ] {
            let outputs = maps_.plan(stream, &schema, &[]).unwrap();
            assert_eq!(outputs[0].name, stream);
            assert_eq!(
                outputs[0].schema["properties"].get("db_name").is_some(),
                mapped,
                "{stream}"
            );
        }
    }

    #[test]
    fn snapshot_streams_are_named_keyed_and_shaped_as_the_sdks() {
        let schema = json!({"type": "object", "required": ["email"], "properties": {
            "email": {"type": ["string"]}, "count": {"type": ["integer", "null"]},
            "user": {"type": ["object", "null"], "properties": {"id": {"type": ["integer", "null"]}}},
            "joined_at": {"type": ["string", "null"], "format": "date-time"}}});
        let plan = |stream_maps: Value| {
            maps(stream_maps, json!({}))
                .plan("mystream", &schema, &[])
                .unwrap()
        };
        // changed_key_properties
        let outputs = plan(
            json!({"mystream": {"email_hash": "md5(email)", "__key_properties__": ["email_hash"], "__else__": null}}),
        );
        assert_eq!(outputs[0].key_properties, ["email_hash"]);
        assert_eq!(
            outputs[0].schema["properties"],
            json!({"email_hash": {"type": ["string", "null"]}})
        );
        // keep_all_fields: a new property goes last; required stays.
        let outputs = plan(json!({"mystream": {"email_hash": "md5(email)"}}));
        let keys: Vec<&String> = outputs[0].schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(keys, ["email", "count", "user", "joined_at", "email_hash"]);
        assert_eq!(outputs[0].schema["required"], json!(["email"]));
        // non_pk_passthrough: an existing property keeps its type (made nullable).
        let outputs = plan(json!({"mystream": {"count": "count", "__else__": null}}));
        assert_eq!(
            outputs[0].schema["properties"],
            json!({"count": {"type": ["integer", "null"]}})
        );
        // drop_property / drop_property_null_string
        for removed in [Value::Null, json!("__NULL__")] {
            let outputs = plan(json!({"mystream": {"email": removed}}));
            let keys: Vec<&String> = outputs[0].schema["properties"]
                .as_object()
                .unwrap()
                .keys()
                .collect();
            assert_eq!(keys, ["count", "user", "joined_at"]);
            assert_eq!(outputs[0].schema["required"], json!([]));
            assert!(
                matches!(&outputs[0].records, Records::Pass { dropped } if dropped == &["email"])
            );
        }
        // sourced_stream_1 / _2, remove_stream
        for stream_maps in [
            json!({"mystream": null, "sourced_stream_1": {"__source__": "mystream"}}),
            json!({"mystream": "__NULL__", "sourced_stream_1": {"__source__": "mystream"}}),
        ] {
            let names: Vec<String> = plan(stream_maps).into_iter().map(|o| o.name).collect();
            assert_eq!(names, ["sourced_stream_1"]);
        }
        let names: Vec<String> =
            plan(json!({"sourced_stream_2": {"__source__": "mystream"}, "__else__": null}))
                .into_iter()
                .map(|o| o.name)
                .collect();
        assert_eq!(names, ["sourced_stream_2"]);
        assert!(plan(json!({"mystream": "__NULL__"})).is_empty());
        // aliases: plain, not an expression, quoted, computed.
        for (alias, name) in [
            ("aliased_stream", "aliased_stream"),
            ("aliased.stream", "aliased.stream"),
            ("'__stream_name__'", "__stream_name__"),
            ("'aliased_' + __stream_name__", "aliased_mystream"),
            ("__stream_name__.upper()", "MYSTREAM"),
        ] {
            let outputs = plan(json!({"mystream": {"__alias__": alias}}));
            assert_eq!(outputs[0].name, name, "{alias}");
        }
        // builtin_variable_original_stream_name_alias
        let outputs = plan(
            json!({"mystream": {"__alias__": "'aliased'", "stream_name": "__stream_name__", "original_stream_name": "__original_stream_name__"}}),
        );
        let out = run(&outputs, &[mystream(0)]).remove(0).1.remove(0);
        assert_eq!(
            (
                out["stream_name"].as_str(),
                out["original_stream_name"].as_str()
            ),
            (Some("aliased"), Some("mystream"))
        );
        // dates: the detected types.
        let outputs = plan(json!({"mystream": {
            "joined_date": "datetime.datetime.fromisoformat(joined_at).date()",
            "joined_timestamp": "float(datetime.datetime.fromisoformat(joined_at).timestamp())"}}));
        assert_eq!(
            outputs[0].schema["properties"]["joined_date"],
            json!({"type": ["string", "null"], "format": "date"})
        );
        assert_eq!(
            outputs[0].schema["properties"]["joined_timestamp"],
            json!({"type": ["number", "null"]})
        );
        // filter_records
        let outputs = plan(json!({"mystream": {"__filter__": "count < 20"}}));
        let kept = run(&outputs, &[mystream(0), mystream(1), mystream(2)])
            .remove(0)
            .1;
        let emails: Vec<&str> = kept.iter().filter_map(|r| r["email"].as_str()).collect();
        assert_eq!(emails, ["bob@example.com", "charlie@example.com"]);
    }

    #[test]
    fn the_sdks_refusals_are_refusals_here() {
        // test_filter_transforms_w_error: a filter that does not parse.
        let err = StreamMaps::from_settings(
            Some(&json!({"repositories": {"__filter__": "this should raise an er!ror"}})),
            None,
        )
        .unwrap_err();
        assert!(
            err.contains("stream_maps.\"repositories\".\"__filter__\""),
            "{err}"
        );
        assert!(err.contains("this should raise an er!ror"), "{err}");
        // Removing a key property without __key_properties__.
        let maps_ = maps(json!({"mystream": {"id": null}}), json!({}));
        let schema = json!({"properties": {"id": {"type": "integer"}}});
        let err = maps_
            .plan("mystream", &schema, &["id".to_string()])
            .unwrap_err();
        assert!(err.contains("removing key property \"id\""), "{err}");
        // An unknown top-level option.
        let err = StreamMaps::from_settings(Some(&json!({"__foo__": {}})), None).unwrap_err();
        assert!(err.contains("__foo__"), "{err}");
    }
}
