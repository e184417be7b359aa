//! Citus (distributed PostgreSQL): distributed tables loaded, created by the `citus` setting,
//! and every data-management path on them ending with the exact rows.
//!
//! These tests need a Citus coordinator with workers at `TARGET_POSTGRES_CITUS_URL`; without
//! it each says loudly that it was skipped (CI has no Citus). The one test of the setting
//! without the extension runs against the ordinary test database, always.

use serde_json::{json, Value};

use crate::support::*;

/// The Citus coordinator, or `None` (with a loud line) when it is not configured.
fn citus_url(test: &str) -> Option<String> {
    match std::env::var("TARGET_POSTGRES_CITUS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!("*** SKIPPED {test}: TARGET_POSTGRES_CITUS_URL is not set ***");
            None
        }
    }
}

/// A schema of one test on the Citus coordinator, dropped with everything in it at the end.
struct CitusSchema {
    url: String,
    name: String,
}

impl CitusSchema {
    fn new(url: String, test: &str) -> CitusSchema {
        let name = format!("tp_citus_{test}_{}_{}", std::process::id(), unique());
        let schema = CitusSchema { url, name };
        schema.drop_now();
        schema
    }

    fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", self.url))
    }

    fn table(&self, table: &str) -> String {
        format!("{}.{}", qi(&self.name), qi(table))
    }

    fn execute(&self, sql: &str) {
        self.client()
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("running {sql}: {}", db_err(&e)));
    }

    /// Rows of a query, every value as text.
    fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.client()
            .query(sql, &[])
            .unwrap_or_else(|e| panic!("running {sql}: {}", db_err(&e)))
            .iter()
            .map(|row| (0..row.len()).map(|i| row.get(i)).collect())
            .collect()
    }

    /// `id, v` of `table` by id, as text.
    fn contents(&self, table: &str) -> Vec<(String, Option<String>)> {
        self.rows(&format!(
            "SELECT t.id::text, t.v FROM {} t ORDER BY t.id",
            self.table(table)
        ))
        .into_iter()
        .map(|row| (row[0].clone().unwrap_or_default(), row[1].clone()))
        .collect()
    }

    /// How `citus_tables` describes `table`: (type, distribution column, colocation id).
    fn citus_table(&self, table: &str) -> Option<(String, String, String)> {
        self.rows(&format!(
            "SELECT citus_table_type, distribution_column, colocation_id::text \
             FROM citus_tables WHERE table_name = {}::regclass",
            ql(&self.table(table))
        ))
        .into_iter()
        .next()
        .map(|row| {
            let text = |i: usize| row[i].clone().unwrap_or_default();
            (text(0), text(1), text(2))
        })
    }

    /// Creates the schema and `table (id bigint primary key, v text)` distributed by id.
    fn distributed_table(&self, table: &str) {
        self.execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}; \
             CREATE TABLE {t} (id bigint PRIMARY KEY, v text); \
             SELECT create_distributed_table({name}, 'id');",
            schema = qi(&self.name),
            t = self.table(table),
            name = ql(&self.table(table)),
        ));
    }

    fn run(&self, extra: Value, input: &str) -> Output {
        let config = merged(json!({"url": self.url, "schema": self.name}), extra);
        run_with_config(&config, &[], input.as_bytes())
    }

    fn drop_now(&self) {
        if let Ok(mut client) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ =
                client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", qi(&self.name)));
        }
    }
}

impl Drop for CitusSchema {
    fn drop(&mut self) {
        self.drop_now();
    }
}

/// A keyed stream `stream` (`id` integer, `v` string) and its records.
fn keyed_load(stream: &str, rows: &[(i64, &str)]) -> String {
    let mut lines = vec![schema_msg(
        stream,
        json!({"id": {"type": "integer"}, "v": nullable("string")}),
        &["id"],
    )];
    lines.extend(
        rows.iter()
            .map(|(id, v)| record(stream, json!({"id": id, "v": v}))),
    );
    lines.push(state(json!({"rows": rows.len()})));
    jsonl(&lines)
}

fn expected(rows: &[(i64, &str)]) -> Vec<(String, Option<String>)> {
    rows.iter()
        .map(|(id, v)| (id.to_string(), Some(v.to_string())))
        .collect()
}

#[test]
fn the_citus_setting_without_the_extension_exits_2_at_start() {
    let schema = TestSchema::new("citus_no_extension");
    let out = run_target(
        &schema,
        json!({"citus": {"distribute": true}}),
        &keyed_load("t", &[(1, "a")]),
    );
    assert_eq!(out.code, Some(2), "{out}");
    out.assert_stderr_has(&["\"citus\" is set", "no citus extension"]);
    assert!(!schema.has_table("t"), "nothing was loaded");
}

#[test]
fn an_existing_distributed_table_is_loaded_and_upserted_exactly() {
    let Some(url) = citus_url("an_existing_distributed_table_is_loaded_and_upserted_exactly")
    else {
        return;
    };
    let schema = CitusSchema::new(url, "existing");
    schema.distributed_table("t");
    let first: Vec<(i64, String)> = (1..=3000).map(|i| (i, format!("v{i}"))).collect();
    let first: Vec<(i64, &str)> = first.iter().map(|(i, v)| (*i, v.as_str())).collect();
    // Small flushes, so that later ones meet the keys of earlier ones.
    let small = json!({"batch_size_rows": 700, "lanes": 2, "max_parallelism": 2});
    schema
        .run(small.clone(), &keyed_load("t", &first))
        .assert_success();
    assert_eq!(schema.contents("t"), expected(&first));
    let mut second = first.clone();
    second[10].1 = "changed";
    second.push((5000, "new"));
    let out = schema.run(small, &keyed_load("t", &second));
    out.assert_success();
    out.assert_stderr_has(&["merges into this Citus distributed table run one at a time"]);
    assert_eq!(schema.contents("t"), expected(&second));
    assert_eq!(
        schema.citus_table("t").map(|t| t.1),
        Some("id".to_string()),
        "still distributed by id"
    );
}

#[test]
fn new_keyed_tables_are_created_distributed_by_their_first_key_and_co_located() {
    let Some(url) = citus_url("new_keyed_tables_are_created_distributed_by_their_first_key") else {
        return;
    };
    let schema = CitusSchema::new(url, "create");
    let mut input = keyed_load("a", &[(1, "x"), (2, "y")]);
    input.push_str(&keyed_load("b", &[(1, "z")]));
    input.push_str(&jsonl(&[
        schema_msg(
            "countries",
            json!({"code": {"type": "string"}, "name": nullable("string")}),
            &[],
        ),
        record("countries", json!({"code": "PT", "name": "Portugal"})),
    ]));
    let out = schema.run(
        json!({"citus": {"reference_tables": ["countries"]}}),
        &input,
    );
    out.assert_success();
    out.assert_stderr_has(&["distributed by Citus on \"id\"", "reference table"]);
    let a = schema.citus_table("a").expect("a is a Citus table");
    let b = schema.citus_table("b").expect("b is a Citus table");
    assert_eq!((a.0.as_str(), a.1.as_str()), ("distributed", "id"));
    assert_eq!((b.0.as_str(), b.1.as_str()), ("distributed", "id"));
    assert_eq!(
        a.2, b.2,
        "tables distributed by bigint columns are co-located"
    );
    assert_eq!(
        schema.citus_table("countries").map(|t| t.0),
        Some("reference".to_string())
    );
    assert_eq!(schema.contents("a"), expected(&[(1, "x"), (2, "y")]));
}

#[test]
fn a_new_table_without_a_key_is_refused_with_what_to_configure() {
    let Some(url) = citus_url("a_new_table_without_a_key_is_refused_with_what_to_configure") else {
        return;
    };
    let schema = CitusSchema::new(url, "keyless");
    let input = jsonl(&[
        schema_msg("events", json!({"id": {"type": "integer"}}), &[]),
        record("events", json!({"id": 1})),
    ]);
    let out = schema.run(json!({"citus": {}}), &input);
    out.assert_load_failure();
    out.assert_stderr_has(&[
        "no key to distribute",
        "citus\".\"distribution_column",
        "reference_tables",
    ]);
    // Named, a keyless stream is distributed by that column.
    let out = schema.run(
        json!({"citus": {"distribution_column": {"events": "id"}}}),
        &input,
    );
    out.assert_success();
    assert_eq!(
        schema.citus_table("events").map(|t| t.1),
        Some("id".to_string())
    );
}

#[test]
fn drift_adds_columns_widens_others_and_refuses_the_distribution_column() {
    let Some(url) = citus_url("drift_adds_columns_widens_others_and_refuses_the_distribution")
    else {
        return;
    };
    let schema = CitusSchema::new(url, "drift");
    schema.distributed_table("t");
    schema
        .run(json!({}), &keyed_load("t", &[(1, "a")]))
        .assert_success();
    // A new column, and an integer column widened to numeric.
    let wider = jsonl(&[
        schema_msg(
            "t",
            json!({"id": {"type": "integer"}, "v": nullable("string"), "n": nullable("integer")}),
            &["id"],
        ),
        record("t", json!({"id": 2, "v": "b", "n": 7})),
        schema_msg(
            "t",
            json!({"id": {"type": "integer"}, "v": nullable("string"), "n": nullable("number")}),
            &["id"],
        ),
        record("t", json!({"id": 3, "v": "c", "n": 1.5})),
    ]);
    schema.run(json!({}), &wider).assert_success();
    assert_eq!(
        schema.rows(&format!(
            "SELECT id::text, n::text FROM {} ORDER BY id",
            schema.table("t")
        )),
        vec![
            vec![Some("1".into()), None],
            vec![Some("2".into()), Some("7".into())],
            vec![Some("3".into()), Some("1.5".into())],
        ]
    );
    // The distribution column cannot be widened: the error names it.
    let out = schema.run(
        json!({}),
        &jsonl(&[
            schema_msg(
                "t",
                json!({"id": {"type": "number"}, "v": nullable("string")}),
                &["id"],
            ),
            record("t", json!({"id": 4.5, "v": "d"})),
        ]),
    );
    out.assert_load_failure();
    out.assert_stderr_has(&["\"id\" is its Citus distribution column"]);
    assert_eq!(
        schema.rows(&format!("SELECT count(*)::text FROM {}", schema.table("t"))),
        vec![vec![Some("3".into())]]
    );
}

#[test]
fn overwrite_replaces_the_rows_of_a_distributed_table() {
    let Some(url) = citus_url("overwrite_replaces_the_rows_of_a_distributed_table") else {
        return;
    };
    let schema = CitusSchema::new(url, "overwrite");
    schema.distributed_table("t");
    schema
        .run(json!({}), &keyed_load("t", &[(1, "a"), (2, "b"), (3, "c")]))
        .assert_success();
    schema
        .run(
            json!({"load_method": "overwrite", "batch_size_rows": 2}),
            &keyed_load("t", &[(3, "c2"), (4, "d"), (4, "d2")]),
        )
        .assert_success();
    assert_eq!(schema.contents("t"), expected(&[(3, "c2"), (4, "d2")]));
}

#[test]
fn activate_version_and_hard_delete_leave_the_exact_rows_of_a_distributed_table() {
    let Some(url) = citus_url("activate_version_and_hard_delete_leave_the_exact_rows") else {
        return;
    };
    let schema = CitusSchema::new(url, "versions");
    let config = json!({"add_record_metadata": true, "hard_delete": true, "citus": {}});
    schema
        .run(config.clone(), &full_table_sync(1, &[1, 2, 3]))
        .assert_success();
    assert_eq!(schema.citus_table("t").map(|t| t.1), Some("id".to_string()));
    schema
        .run(config.clone(), &full_table_sync(2, &[1, 3]))
        .assert_success();
    assert_eq!(schema.contents("t"), expected(&[(1, "v2"), (3, "v2")]));
    // A hard delete by record: `_sdc_deleted_at` set deletes the key.
    let deletes = jsonl(&[
        schema_msg(
            "t",
            json!({"id": {"type": "integer"}, "v": nullable("string")}),
            &["id"],
        ),
        record(
            "t",
            json!({"id": 3, "v": "gone", "_sdc_deleted_at": "2024-01-01T00:00:00Z"}),
        ),
        record("t", json!({"id": 4, "v": "new"})),
    ]);
    schema.run(config, &deletes).assert_success();
    assert_eq!(schema.contents("t"), expected(&[(1, "v2"), (4, "new")]));
}

#[test]
fn invalid_records_go_to_a_local_dead_letter_table_beside_distributed_ones() {
    let Some(url) = citus_url("invalid_records_go_to_a_local_dead_letter_table") else {
        return;
    };
    let schema = CitusSchema::new(url, "dead_letter");
    let mut input = keyed_load("t", &[(1, "a")]);
    input.push_str(&jsonl(&[record(
        "t",
        json!({"id": "not a number", "v": "b"}),
    )]));
    let out = schema.run(
        json!({"citus": {}, "invalid_records": "dead_letter"}),
        &input,
    );
    out.assert_success();
    assert_eq!(schema.contents("t"), expected(&[(1, "a")]));
    assert_eq!(
        schema.rows(&format!(
            "SELECT count(*)::text FROM {}",
            schema.table("_target_postgres_rejects")
        )),
        vec![vec![Some("1".into())]]
    );
    assert_eq!(schema.citus_table("_target_postgres_rejects"), None);
}

#[test]
fn a_unique_constraint_without_the_distribution_column_is_refused_naming_it() {
    let Some(url) = citus_url("a_unique_constraint_without_the_distribution_column") else {
        return;
    };
    let schema = CitusSchema::new(url, "mage_unique");
    schema.execute(&format!(
        "CREATE SCHEMA {s}; CREATE TABLE {t} (id bigint, email text, v text); \
         SELECT create_distributed_table({name}, 'id');",
        s = qi(&schema.name),
        t = schema.table("users"),
        name = ql(&schema.table("users")),
    ));
    let input = jsonl(&[
        json!({
            "type": "SCHEMA",
            "stream": "users",
            "schema": {"type": "object", "properties": {
                "id": {"type": "integer"}, "email": {"type": "string"}, "v": nullable("string")}},
            "key_properties": [],
            "unique_constraints": ["email"],
        })
        .to_string(),
        record("users", json!({"id": 1, "email": "a@x", "v": "a"})),
    ]);
    let out = schema.run(json!({}), &input);
    out.assert_load_failure();
    out.assert_stderr_has(&[
        "distributed by Citus on \"id\"",
        "must contain the distribution column",
        "\"email\"",
    ]);
}
