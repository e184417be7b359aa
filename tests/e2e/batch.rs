//! BATCH messages (Meltano SDK): records in JSON Lines files named by `file://` URLs, plain or
//! gzip, loaded exactly as RECORD messages would be. The files are written at test time into
//! a directory of the test's own.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use serde_json::{json, Value};

use crate::support::*;

/// A directory for one test's batch files, removed when dropped.
struct BatchDir {
    /// Where it is. Its name has a space, so URLs need percent-encoding.
    path: PathBuf,
}

impl BatchDir {
    fn new() -> BatchDir {
        let path =
            std::env::temp_dir().join(format!("tp_e2e_batch {}_{}", std::process::id(), unique()));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("creating {path:?}: {e}"));
        BatchDir { path }
    }

    /// Writes `records` one per line (a blank line after the first, as files may have),
    /// gzip-compressed when `gzip`; returns the file's path.
    fn write(&self, name: &str, records: &[Value], gzip: bool) -> PathBuf {
        let mut text = String::new();
        for (index, record) in records.iter().enumerate() {
            text.push_str(&record.to_string());
            text.push('\n');
            if index == 0 {
                text.push('\n');
            }
        }
        self.write_text(name, &text, gzip)
    }

    /// Writes `text` as it is.
    fn write_text(&self, name: &str, text: &str, gzip: bool) -> PathBuf {
        let path = self.path.join(name);
        let bytes = if gzip {
            let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(text.as_bytes()).expect("gzip in memory");
            encoder.finish().expect("gzip in memory")
        } else {
            text.as_bytes().to_vec()
        };
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("writing {path:?}: {e}"));
        path
    }
}

impl Drop for BatchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The `file://` URL of `path`, percent-encoded as the SDK writes it.
fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for byte in path.to_string_lossy().bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                url.push(byte as char)
            }
            _ => url.push_str(&format!("%{byte:02X}")),
        }
    }
    url
}

/// A BATCH message line for `stream` over `files`.
fn batch_msg(stream: &str, compression: Value, files: &[&Path]) -> String {
    let manifest: Vec<String> = files.iter().map(|path| file_url(path)).collect();
    json!({
        "type": "BATCH",
        "stream": stream,
        "encoding": {"format": "jsonl", "compression": compression},
        "manifest": manifest,
    })
    .to_string()
}

fn users_schema() -> String {
    schema_msg(
        "users",
        json!({"id": {"type": "integer"}, "name": nullable("string")}),
        &["id"],
    )
}

fn user(id: i64, name: &str) -> Value {
    json!({"id": id, "name": name})
}

#[test]
fn a_batch_of_two_gzip_files_and_one_plain_file_loads_exactly_their_rows() {
    let schema = TestSchema::new("batch_files");
    let dir = BatchDir::new();
    let first = dir.write("1.json.gz", &[user(1, "ann"), user(2, "bob")], true);
    let second = dir.write("2.json.gz", &[user(3, "cy"), user(4, "dee")], true);
    // Declared gzip like the others but written plain: read as what it is, with a warning.
    let third = dir.write("3.jsonl", &[user(5, "ed")], false);
    let input = jsonl(&[
        users_schema(),
        batch_msg("users", json!("gzip"), &[&first, &second, &third]),
    ]);
    let out = run_target(&schema, json!({}), &input);
    out.assert_success();
    assert_eq!(
        out.stderr_lines_with("is declared gzip but is not gzip-compressed")
            .len(),
        1,
        "{out}"
    );
    assert_eq!(
        schema.rows("users", "id"),
        vec![
            user(1, "ann"),
            user(2, "bob"),
            user(3, "cy"),
            user(4, "dee"),
            user(5, "ed")
        ]
    );
}

#[test]
fn a_batch_without_compression_loads_plain_files_and_tolerates_gzip() {
    let schema = TestSchema::new("batch_plain");
    let dir = BatchDir::new();
    let plain = dir.write("a.jsonl", &[user(1, "ann")], false);
    let gzip = dir.write("b.jsonl", &[user(2, "bob")], true);
    let input = jsonl(&[
        users_schema(),
        batch_msg("users", Value::Null, &[&plain]),
        batch_msg("users", json!("none"), &[&gzip]),
    ]);
    run_target(&schema, json!({}), &input).assert_success();
    assert_eq!(
        schema.rows("users", "id"),
        vec![user(1, "ann"), user(2, "bob")]
    );
}

#[test]
fn upsert_dedups_keys_across_records_and_batches() {
    let schema = TestSchema::new("batch_upsert");
    let dir = BatchDir::new();
    // First run: rows exist before the batch, so the second run merges into them.
    let first_run = jsonl(&[
        users_schema(),
        record("users", user(1, "old")),
        record("users", user(2, "kept")),
    ]);
    run_target(&schema, json!({}), &first_run).assert_success();

    let file = dir.write(
        "b.json.gz",
        &[user(1, "from batch"), user(3, "batch")],
        true,
    );
    let second_run = jsonl(&[
        users_schema(),
        record("users", user(3, "record before")),
        batch_msg("users", json!("gzip"), &[&file]),
        record("users", user(3, "record after")),
    ]);
    run_target(&schema, json!({}), &second_run).assert_success();
    assert_eq!(
        schema.rows("users", "id"),
        vec![
            user(1, "from batch"),
            user(2, "kept"),
            user(3, "record after")
        ]
    );
}

#[test]
fn a_missing_batch_file_fails_naming_line_stream_and_file() {
    let schema = TestSchema::new("batch_missing");
    let dir = BatchDir::new();
    let present = dir.write("present.jsonl", &[user(1, "ann")], false);
    let missing = dir.path.join("missing.json.gz");
    let input = jsonl(&[
        users_schema(),
        batch_msg("users", json!("gzip"), &[&present, &missing]),
        state(json!({"after": "batch"})),
    ]);
    let out = run_target(&schema, json!({}), &input);
    out.assert_load_failure().assert_stderr_has(&[
        "line 2: stream \"users\": BATCH file",
        &missing.display().to_string(),
        "cannot open it",
    ]);
    assert_eq!(
        out.stdout, "",
        "no state for a batch that did not load\n{out}"
    );
}

#[test]
fn unsupported_batches_fail_naming_line_stream_and_file() {
    let schema = TestSchema::new("batch_unsupported");
    let parquet = json!({
        "type": "BATCH", "stream": "users",
        "encoding": {"format": "parquet", "compression": "gzip"},
        "manifest": ["file:///tmp/users-1.parquet"],
    });
    let out = run_target(
        &schema,
        json!({}),
        &jsonl(&[users_schema(), parquet.to_string()]),
    );
    out.assert_load_failure().assert_stderr_has(&[
        "line 2",
        "\"users\"",
        "\"parquet\" is not supported",
        "file:///tmp/users-1.parquet",
    ]);

    let zstd = json!({
        "type": "BATCH", "stream": "users",
        "encoding": {"format": "jsonl", "compression": "zstd"},
        "manifest": ["file:///tmp/users-1.json.zst"],
    });
    let out = run_target(
        &schema,
        json!({}),
        &jsonl(&[users_schema(), zstd.to_string()]),
    );
    out.assert_load_failure().assert_stderr_has(&[
        "line 2",
        "\"users\"",
        "compression \"zstd\" is not supported",
        "file:///tmp/users-1.json.zst",
    ]);

    let s3 = json!({
        "type": "BATCH", "stream": "users",
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "manifest": ["s3://bucket/users-1.json.gz"],
    });
    let out = run_target(
        &schema,
        json!({}),
        &jsonl(&[users_schema(), s3.to_string()]),
    );
    out.assert_load_failure().assert_stderr_has(&[
        "line 2: stream \"users\": BATCH file s3://bucket/users-1.json.gz: not a file:// URL",
    ]);

    // Credentials and signed query strings in a refused URL are not repeated.
    let signed = json!({
        "type": "BATCH", "stream": "users",
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "manifest": ["s3://key:hunter2@bucket/users-1.json.gz?X-Amz-Signature=abc"],
    });
    let out = run_target(
        &schema,
        json!({}),
        &jsonl(&[users_schema(), signed.to_string()]),
    );
    out.assert_load_failure()
        .assert_stderr_has(&["BATCH file s3://bucket/users-1.json.gz: not a file:// URL"]);
    assert!(
        !out.stderr.contains("hunter2") && !out.stderr.contains("X-Amz-Signature"),
        "{out}"
    );
}

#[test]
fn a_batch_before_its_schema_fails_like_a_record_would() {
    let schema = TestSchema::new("batch_no_schema");
    let dir = BatchDir::new();
    let file = dir.write("a.jsonl", &[user(1, "ann")], false);
    let out = run_target(
        &schema,
        json!({}),
        &jsonl(&[batch_msg("users", json!("none"), &[&file])]),
    );
    out.assert_load_failure()
        .assert_stderr_has(&["line 1: stream \"users\": BATCH before its SCHEMA"]);
}

#[test]
fn a_bad_line_in_a_batch_file_names_the_file_and_its_line() {
    let dir = BatchDir::new();
    let bad_value = dir.write_text(
        "value.json.gz",
        "{\"id\":1,\"name\":\"ann\"}\n\n{\"id\":\"abc\",\"name\":\"bob\"}\n{\"id\":3,\"name\":\"cy\"}\n",
        true,
    );
    let input = jsonl(&[
        users_schema(),
        batch_msg("users", json!("gzip"), &[&bad_value]),
    ]);
    let schema = TestSchema::new("batch_bad_value");
    let out = run_target(&schema, json!({}), &input);
    out.assert_load_failure().assert_stderr_has(&[&format!(
        "line 2: stream \"users\": BATCH file {}, line 3: column \"id\"",
        bad_value.display()
    )]);

    // Under `skip` the line is set aside and the rest of the file loads.
    let schema = TestSchema::new("batch_bad_value_skip");
    let out = run_target(&schema, json!({"invalid_records": "skip"}), &input);
    out.assert_success()
        .assert_stderr_has(&["1 invalid records set aside"]);
    assert_eq!(
        schema.rows("users", "id"),
        vec![user(1, "ann"), user(3, "cy")]
    );

    // Under `dead_letter` it is stored with the BATCH's line and stream, and a reason that
    // says where in which file it was.
    let schema = TestSchema::new("batch_bad_value_dead");
    let out = run_target(&schema, json!({"invalid_records": "dead_letter"}), &input);
    out.assert_success();
    let rejects = json_rows(&format!(
        "SELECT (to_jsonb(r) - 'rejected_at')::text FROM {} r",
        schema.table("_target_postgres_rejects")
    ));
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(rejects[0]["line"], json!(2));
    assert_eq!(rejects[0]["stream"], json!("users"));
    assert_eq!(rejects[0]["record"], json!({"id": "abc", "name": "bob"}));
    let reason = rejects[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("{}, line 3", bad_value.display())),
        "{reason}"
    );

    // A line that is not JSON is malformed input: no policy sets it aside.
    let malformed = dir.write_text(
        "malformed.jsonl",
        "{\"id\":1,\"name\":\"ann\"}\n{\"id\":2,\n",
        false,
    );
    let schema = TestSchema::new("batch_malformed");
    let out = run_target(
        &schema,
        json!({"invalid_records": "skip"}),
        &jsonl(&[
            users_schema(),
            batch_msg("users", json!("none"), &[&malformed]),
        ]),
    );
    out.assert_load_failure().assert_stderr_has(&[&format!(
        "line 2: stream \"users\": BATCH file {}, line 2: not a JSON record object",
        malformed.display()
    )]);
}

/// A table whose CHECK constraint rejects `id > 100`, so a flush can fail in the database.
fn checked_users(schema: &TestSchema) {
    schema.create();
    schema.execute(&format!(
        "CREATE TABLE {} (id bigint PRIMARY KEY, name text, CHECK (id <= 100))",
        schema.table("users")
    ));
}

#[test]
fn a_state_after_a_batch_is_written_only_once_the_batch_is_committed() {
    let dir = BatchDir::new();
    let many: Vec<Value> = (1..=100).map(|id| user(id, "x")).collect();
    let good = dir.write("good.json.gz", &many, true);
    let input = jsonl(&[
        users_schema(),
        state(json!({"before": 1})),
        batch_msg("users", json!("gzip"), &[&good]),
        state(json!({"after": 1})),
    ]);
    let schema = TestSchema::new("batch_state");
    let out = run_target(&schema, json!({}), &input);
    out.assert_success();
    assert_eq!(
        out.states(),
        vec![json!({"before": 1}), json!({"after": 1})]
    );
    assert_eq!(schema.count("users"), 100);

    // The batch's last row fails in the database: the state after the batch must not be
    // written, the one before it may be.
    let failing: Vec<Value> = (1..=101).map(|id| user(id, "x")).collect();
    let bad = dir.write("bad.json.gz", &failing, true);
    let input = jsonl(&[
        users_schema(),
        state(json!({"before": 1})),
        batch_msg("users", json!("gzip"), &[&bad]),
        state(json!({"after": 1})),
    ]);
    let schema = TestSchema::new("batch_state_fail");
    checked_users(&schema);
    let out = run_target(&schema, json!({"batch_size_rows": 1}), &input);
    out.assert_load_failure();
    assert_eq!(out.states(), vec![json!({"before": 1})]);
}

#[test]
fn about_lists_the_batch_capability_and_batch_config_is_accepted() {
    let out = run_args(&["--about", "--format", "json"], b"", &[]);
    out.assert_success();
    let about: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("--about --format json is not JSON: {e}\n{out}"));
    let capabilities = about["capabilities"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(capabilities.contains(&json!("batch")), "{capabilities:?}");

    // The SDK's target-side setting is ignored with an info line, not warned about.
    let schema = TestSchema::new("batch_config");
    let config = json!({"batch_config": {"encoding": {"format": "jsonl"}}});
    let out = run_target(&schema, config, "");
    out.assert_success();
    assert!(out.stderr_lines_with("unknown setting").is_empty(), "{out}");
    out.assert_stderr_has(&["\"batch_config\" has no meaning for target-postgres"]);
}

#[test]
fn batch_records_get_validation_flattening_and_metadata_like_records() {
    let schema = TestSchema::new("batch_like_records");
    let dir = BatchDir::new();
    let file = dir.write(
        "a.json.gz",
        &[
            json!({"id": 1, "name": "ann", "o": {"x": 5}}),
            json!({"id": 2, "name": 7}),
            json!({"id": 3, "o": null}),
        ],
        true,
    );
    let input = jsonl(&[
        schema_msg(
            "users",
            json!({
                "id": {"type": "integer"},
                "name": nullable("string"),
                "o": {"type": ["null", "object"], "properties": {"x": nullable("integer")}},
            }),
            &["id"],
        ),
        batch_msg("users", json!("gzip"), &[&file]),
    ]);
    let config = json!({
        "validate_records": true,
        "invalid_records": "skip",
        "data_flattening_max_level": 1,
        "add_record_metadata": true,
    });
    let out = run_target(&schema, config, &input);
    // The second line fails its JSON Schema ("name" is a number) and is set aside.
    out.assert_success()
        .assert_stderr_has(&["BATCH file", ", line 3: fails its JSON Schema"]);
    let rows = text_rows(&format!(
        "SELECT id::text, name, o__x::text, (_sdc_received_at IS NOT NULL AND _sdc_batched_at IS NOT NULL \
         AND _sdc_sequence IS NOT NULL AND _sdc_extracted_at IS NULL AND _sdc_table_version IS NULL)::text \
         FROM {} ORDER BY id",
        schema.table("users")
    ));
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        rows,
        vec![
            vec![s("1"), s("ann"), s("5"), s("true")],
            vec![s("3"), None, None, s("true")],
        ]
    );
}
