//! The command line and configuration (SPEC §1–§3): `--version`, `--help`, `--about --format
//! json|markdown|text`, `--test-connection`, `--input FILE`, gzip-compressed input, blank
//! lines and `\r\n`, case-insensitive message types, skipped LOG lines, several `--config`
//! files (later wins), `--config ENV`, connection aliases and separate connection fields,
//! config errors (exit 2, naming key and file, never printing a secret), a database that is
//! down (exit 1), and stdout carrying nothing but state lines.

use crate::support::*;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{json, Value};
use std::io::Write;

/// A small two-record stream and its final state.
fn small_input() -> String {
    jsonl(&[
        schema_msg(
            "src-items",
            json!({"id": {"type": "integer"}, "name": nullable("string")}),
            &["id"],
        ),
        record("src-items", json!({"id": 1, "name": "one"})),
        state(json!({"items": 1})),
        record("src-items", json!({"id": 2, "name": "two"})),
        state(json!({"items": 2})),
    ])
}

#[track_caller]
fn assert_small_input_loaded(schema: &TestSchema, out: &Output) {
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"items": 2})]);
    assert_eq!(
        schema.rows("items", "id"),
        vec![
            json!({"id": 1, "name": "one"}),
            json!({"id": 2, "name": "two"}),
        ]
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

/// The test URL split into separate connection fields.
struct UrlParts {
    user: String,
    password: Option<String>,
    host: String,
    port: String,
    database: String,
}

fn url_parts() -> UrlParts {
    let url = db_url();
    let parse = || -> Option<UrlParts> {
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))?;
        let (auth, rest) = rest.split_once('@')?;
        let (user, password) = match auth.split_once(':') {
            Some((u, p)) => (u.to_string(), Some(p.to_string())),
            None => (auth.to_string(), None),
        };
        let (hostport, database) = rest.split_once('/')?;
        let (host, port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
        if database.contains('?') || user.contains('%') || host.starts_with('[') {
            return None;
        }
        Some(UrlParts {
            user,
            password,
            host: host.to_string(),
            port: port.to_string(),
            database: database.to_string(),
        })
    };
    parse().unwrap_or_else(|| {
        panic!("cannot split TARGET_POSTGRES_TEST_URL {url} into user, host, port and database")
    })
}

#[test]
fn version_prints_the_name_and_version() {
    let out = run_args(&["--version"], b"", &[]);
    out.assert_success();
    assert_eq!(
        out.stdout.trim(),
        format!("target-postgres {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_the_options() {
    let out = run_args(&["--help"], b"", &[]);
    out.assert_success();
    for option in [
        "--config",
        "--input",
        "--about",
        "--format",
        "--test-connection",
        "--version",
    ] {
        assert!(out.stdout.contains(option), "--help lacks {option}\n{out}");
    }
}

#[test]
fn unknown_argument_is_a_usage_error() {
    let out = run_args(&["--no-such-flag"], b"", &[]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
}

#[test]
fn about_json_lists_name_version_capabilities_and_settings() {
    let out = run_args(&["--about", "--format", "json"], b"", &[]);
    out.assert_success();
    let about: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("--about --format json is not JSON: {e}\n{out}"));
    assert_eq!(about["name"], json!("target-postgres"));
    assert_eq!(about["version"], json!(env!("CARGO_PKG_VERSION")));
    assert!(about["description"].as_str().is_some_and(|d| !d.is_empty()));
    let capabilities: Vec<&str> = about["capabilities"]
        .as_array()
        .expect("capabilities array")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for capability in ["about", "validate-records", "target-schema"] {
        assert!(capabilities.contains(&capability), "{capabilities:?}");
    }
    let settings = about["settings"].as_array().expect("settings array");
    let setting = |name: &str| -> &Value {
        settings
            .iter()
            .find(|s| s["name"] == json!(name))
            .unwrap_or_else(|| panic!("--about does not list setting {name}"))
    };
    for name in [
        "host",
        "port",
        "user",
        "password",
        "database",
        "url",
        "schema",
        "table",
        "skip_schema_creation",
        "lower_case",
        "allow_reserved_words",
        "load_method",
        "batch_size_rows",
        "maximum_batch_size_mb",
        "max_parallelism",
        "flush_all_streams",
        "validate_records",
        "invalid_records",
        "sanitize_null_text_characters",
        "primary_key_required",
        "before_run_sql",
        "after_run_sql",
        "stream_name_split",
    ] {
        let s = setting(name);
        assert!(s["type"].as_str().is_some_and(|t| !t.is_empty()), "{s}");
        assert!(
            s["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{s}"
        );
        assert!(
            s.get("default").is_some(),
            "{name} has no default entry: {s}"
        );
    }
    assert_eq!(setting("batch_size_rows")["default"], json!(100000));
    assert_eq!(setting("load_method")["default"], json!("upsert"));
    assert_eq!(setting("lower_case")["default"], json!(true));
    assert_eq!(setting("port")["type"], json!("integer"));
}

#[test]
fn about_markdown_and_text_list_the_settings() {
    for format in ["markdown", "text"] {
        let out = run_args(&["--about", "--format", format], b"", &[]);
        out.assert_success();
        for name in ["batch_size_rows", "load_method", "stream_name_split"] {
            assert!(out.stdout.contains(name), "{format} lacks {name}\n{out}");
        }
    }
}

#[test]
fn missing_config_file_exits_2_naming_the_file() {
    let path = std::env::temp_dir().join(format!("tp_e2e_missing_{}.json", unique()));
    let path = path.to_string_lossy().into_owned();
    let out = run_args(&["--config", &path], small_input().as_bytes(), &[]);
    assert_eq!(out.code, Some(2), "{out}");
    out.assert_stderr_has(&[&path]);
    assert!(out.stdout.is_empty(), "{out}");
}

#[test]
fn no_config_at_all_exits_2() {
    let out = run_args(&[], small_input().as_bytes(), &[]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
}

#[test]
fn wrongly_typed_keys_exit_2_naming_key_and_file() {
    let schema = TestSchema::new("bad_config");
    let cases = [
        ("schema", json!(5)),
        ("batch_size_rows", json!("many")),
        ("port", json!("abc")),
        ("lower_case", json!("maybe")),
        ("load_method", json!("sideways")),
        ("max_parallelism", json!({"n": 4})),
    ];
    for (key, value) in cases {
        let config = merged(base_config(&schema), json!({ key: value }));
        let file = TempFile::new(".json", config.to_string().as_bytes());
        let out = run_args(&["--config", &file.arg()], small_input().as_bytes(), &[]);
        assert_eq!(out.code, Some(2), "{key}: {out}");
        out.assert_stderr_has(&[&format!("\"{key}\""), &file.arg()]);
        assert!(out.stdout.is_empty(), "{out}");
    }
    assert!(
        !schema.exists(),
        "a run with a bad config touched the database"
    );
}

#[test]
fn config_that_is_not_a_json_object_exits_2_naming_the_file() {
    for text in ["{\"url\": ", "[1, 2]", ""] {
        let file = TempFile::new(".json", text.as_bytes());
        let out = run_args(&["--config", &file.arg()], small_input().as_bytes(), &[]);
        assert_eq!(out.code, Some(2), "{text:?}: {out}");
        out.assert_stderr_has(&[&file.arg()]);
    }
}

#[test]
fn secrets_never_appear_in_config_or_connection_errors() {
    let secret = "hunter2-very-secret";
    let parts = url_parts();
    // A config error in a file that holds the password.
    let config = json!({
        "url": format!("postgres://{}:{secret}@{}:{}/{}", parts.user, parts.host, parts.port, parts.database),
        "password": secret,
        "batch_size_rows": "lots",
    });
    let out = run_with_config(&config, &[], small_input().as_bytes());
    assert_eq!(out.code, Some(2), "{out}");
    assert!(!out.stderr.contains(secret), "secret printed\n{out}");

    // A connection error (nothing listens on port 1).
    let config = json!({
        "url": format!("postgres://someone:{secret}@127.0.0.1:1/db"),
        "connect_timeout_seconds": 1,
    });
    let out = run_with_config(&config, &[], small_input().as_bytes());
    assert_eq!(out.code, Some(1), "{out}");
    assert!(!out.stderr.contains(secret), "secret printed\n{out}");
}

#[test]
fn database_down_at_start_exits_1_with_a_clear_error() {
    let config = json!({
        "host": "127.0.0.1",
        "port": 1,
        "user": "postgres",
        "database": "postgres",
        "connect_timeout_seconds": 1,
    });
    let out = run_with_config(&config, &[], small_input().as_bytes());
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
    assert!(out.stderr.contains("127.0.0.1"), "{out}");
}

#[test]
fn test_connection_reports_and_exits() {
    let schema = TestSchema::new("test_conn");
    let out = run_with_config(&base_config(&schema), &["--test-connection"], b"");
    out.assert_success();
    assert!(out.stdout.is_empty(), "{out}");
    assert!(!schema.exists(), "--test-connection created the schema");

    let down =
        json!({"url": "postgres://postgres@127.0.0.1:1/postgres", "connect_timeout_seconds": 1});
    let out = run_with_config(&down, &["--test-connection"], b"");
    assert_eq!(out.code, Some(1), "{out}");
}

#[test]
fn unknown_settings_warn_and_peer_settings_are_accepted() {
    let schema = TestSchema::new("unknown_key");
    let out = run_target(
        &schema,
        json!({"bogus_setting_xyz": 1, "use_copy": true, "temp_dir": "/tmp"}),
        &small_input(),
    );
    assert_small_input_loaded(&schema, &out);
    assert_eq!(out.stderr_lines_with("bogus_setting_xyz").len(), 1, "{out}");
}

#[test]
fn later_config_files_win() {
    let schema = TestSchema::new("merge_right");
    let wrong = TestSchema::new("merge_wrong");
    let first = TempFile::new(
        ".json",
        json!({"url": db_url(), "schema": wrong.name, "batch_size_rows": 1})
            .to_string()
            .as_bytes(),
    );
    let second = TempFile::new(
        ".json",
        json!({"schema": schema.name}).to_string().as_bytes(),
    );
    let out = run_args(
        &["--config", &first.arg(), "--config", &second.arg()],
        small_input().as_bytes(),
        &[],
    );
    // batch_size_rows 1 from the first file still applies: both states are written.
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"items": 1}), json!({"items": 2})]);
    assert_eq!(schema.count("items"), 2);
    assert!(!wrong.exists());
}

#[test]
fn config_env_reads_target_postgres_variables() {
    let schema = TestSchema::new("config_env");
    let url = db_url();
    let out = run_args(
        &["--config", "ENV"],
        small_input().as_bytes(),
        &[
            ("TARGET_POSTGRES_URL", url.as_str()),
            ("TARGET_POSTGRES_SCHEMA", schema.name.as_str()),
            ("TARGET_POSTGRES_STREAM_NAME_SPLIT", "false"),
        ],
    );
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"items": 2})]);
    assert_eq!(schema.tables(), ["src_items"]);
    assert_eq!(schema.count("src_items"), 2);
}

#[test]
fn url_aliases_accept_a_driver_prefix() {
    let url = db_url();
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(&url);
    for (i, (key, value)) in [
        ("sqlalchemy_url", format!("postgresql+psycopg2://{rest}")),
        ("connection_string", format!("postgresql://{rest}")),
    ]
    .into_iter()
    .enumerate()
    {
        let schema = TestSchema::new(&format!("url_alias_{i}"));
        let config = json!({ key: value, "default_target_schema": schema.name });
        let out = run_with_config(&config, &[], small_input().as_bytes());
        assert_small_input_loaded(&schema, &out);
    }
}

#[test]
fn separate_connection_fields_and_their_aliases_connect() {
    let parts = url_parts();
    let schema = TestSchema::new("conn_fields");
    let mut config = json!({
        "host": parts.host,
        "port": parts.port,
        "username": parts.user,
        "dbname": parts.database,
        "postgres_schema": schema.name,
    });
    if let Some(password) = &parts.password {
        config["password"] = json!(password);
    }
    let out = run_with_config(&config, &[], small_input().as_bytes());
    assert_small_input_loaded(&schema, &out);
}

#[test]
fn gzip_input_on_stdin_is_detected() {
    let schema = TestSchema::new("gzip_stdin");
    let out = run_target_bytes(&schema, json!({}), &gzip(small_input().as_bytes()));
    assert_small_input_loaded(&schema, &out);
}

#[test]
fn input_option_reads_plain_and_gzip_files() {
    for (i, bytes) in [small_input().into_bytes(), gzip(small_input().as_bytes())]
        .into_iter()
        .enumerate()
    {
        let schema = TestSchema::new(&format!("input_file_{i}"));
        let input = TempFile::new(".jsonl", &bytes);
        // stdin holds something else entirely: --input must win.
        let out = run_with_config(
            &base_config(&schema),
            &["--input", &input.arg()],
            b"this is not json\n",
        );
        assert_small_input_loaded(&schema, &out);
    }
}

#[test]
fn missing_input_file_fails_naming_it() {
    let schema = TestSchema::new("input_missing");
    let path = std::env::temp_dir().join(format!("tp_e2e_no_input_{}.jsonl", unique()));
    let path = path.to_string_lossy().into_owned();
    let out = run_with_config(&base_config(&schema), &["--input", &path], b"");
    assert!(matches!(out.code, Some(1) | Some(2)), "{out}");
    out.assert_stderr_has(&[&path]);
    assert!(out.stdout.is_empty(), "{out}");
}

#[test]
fn blank_lines_and_crlf_line_ends_are_tolerated() {
    let schema = TestSchema::new("crlf");
    let mut input = String::from("\r\n\n");
    for line in small_input().lines() {
        input.push_str(line);
        input.push_str("\r\n\n   \n");
    }
    // The last line without any line end.
    input.push_str(&record("src-items", json!({"id": 3, "name": "three\r\n"})));
    let out = run_target(&schema, json!({}), &input);
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"items": 2})]);
    assert_eq!(
        schema.rows("items", "id"),
        vec![
            json!({"id": 1, "name": "one"}),
            json!({"id": 2, "name": "two"}),
            json!({"id": 3, "name": "three\r\n"}),
        ]
    );
}

#[test]
fn line_numbers_count_blank_lines() {
    let schema = TestSchema::new("line_numbers");
    let input = format!(
        "{}\n\n\r\n{}\n",
        schema_msg("t", json!({"id": {"type": "integer"}}), &["id"]),
        record("t", json!({"id": "abc"}))
    );
    let out = run_target(&schema, json!({}), &input);
    out.assert_load_failure().assert_stderr_has(&["line 4"]);
}

#[test]
fn message_types_are_case_insensitive_and_other_types_are_skipped() {
    let schema = TestSchema::new("type_case");
    let input = jsonl(&[
        r#"{"type":"log","level":"INFO","message":"hello"}"#.to_string(),
        r#"{"type":"schema","stream":"t","schema":{"properties":{"id":{"type":"integer"}}},"key_properties":["id"]}"#.to_string(),
        r#"{"type":"Record","stream":"t","record":{"id":1}}"#.to_string(),
        r#"{"type":"LOG","level":"WARNING","message":"from the tap"}"#.to_string(),
        r#"{"type":"SOMETHING_NEW","stream":"t"}"#.to_string(),
        r#"{"type":"rEcOrD","stream":"t","record":{"id":2}}"#.to_string(),
        r#"{"type":"state","value":{"done":true}}"#.to_string(),
    ]);
    let out = run_target(&schema, json!({}), &input);
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"done": true})]);
    assert_eq!(
        schema.rows("t", "id"),
        vec![json!({"id": 1}), json!({"id": 2})]
    );
}

#[test]
fn stdout_carries_only_state_lines_even_with_debug_logging() {
    let schema = TestSchema::new("stdout_clean");
    let config = merged(base_config(&schema), json!({"batch_size_rows": 1}));
    let file = TempFile::new(".json", config.to_string().as_bytes());
    let out = run_args(
        &["--config", &file.arg()],
        fixture("schema_change.jsonl").as_bytes(),
        &[("RUST_LOG", "trace")],
    );
    out.assert_success();
    assert_eq!(out.lines(), ["{\"events\":1}", "{\"events\":2}"]);
    assert!(!out.stderr.is_empty(), "debug logging wrote nothing");
}

#[test]
fn json_log_format_writes_json_lines_to_stderr() {
    let schema = TestSchema::new("json_logs");
    let config = base_config(&schema);
    let out = run_with_config(
        &config,
        &["--log-format", "json"],
        fixture("names.jsonl").as_bytes(),
    );
    out.assert_success();
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(!lines.is_empty(), "{out}");
    for line in lines {
        assert!(
            serde_json::from_str::<Value>(line).is_ok_and(|v| v.is_object()),
            "not a JSON log line: {line}"
        );
    }
    assert_eq!(out.states(), vec![json!({"crm-ContactList": 1})]);
}

#[test]
fn readme_main_command_loads_the_users_fixture_with_the_sample_config() {
    // `--config config.sample.json < fixtures/users.jsonl`, pointed at the test database and
    // schema by a second config file (later files win; `url` wins over host/port/...).
    let schema = TestSchema::new("readme_sample");
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.sample.json");
    let sample = sample.to_string_lossy().into_owned();
    let here = TempFile::new(".json", base_config(&schema).to_string().as_bytes());
    let out = run_args(
        &["--config", &sample, "--config", &here.arg()],
        fixture("users.jsonl").as_bytes(),
        &[],
    );
    out.assert_success();
    // The sample's empty "table" means one table per stream.
    assert_eq!(schema.tables(), ["orders", "users"]);
    assert_eq!((schema.count("users"), schema.count("orders")), (3, 3));
    assert_eq!(
        out.states().last(),
        Some(&json!({"bookmarks": {
            "public-users": {"replication_key_value": "2024-01-05T00:00:00Z"},
            "public-orders": {"replication_key_value": 103}
        }}))
    );
}

#[test]
fn readme_settings_table_matches_about_markdown() {
    // The README's table is generated from `--about --format markdown`; this keeps them equal.
    let output = run_args(&["--about", "--format", "markdown"], b"", &[]);
    output.assert_success();
    let table: String = output
        .stdout
        .lines()
        .skip_while(|line| !line.starts_with("| Setting"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(table.lines().count() > 10, "{}", output.stdout);
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    assert!(
        readme.contains(&table),
        "README settings table is out of date: paste the output of \
         `target-postgres --about --format markdown`"
    );
}

#[test]
fn meltano_yml_declares_every_setting_and_capability_as_about_lists_them() {
    // Meltano hands a custom loader only the settings its block declares, typed by their
    // kind; the block in meltano.yml is written one flow mapping per setting so that it can be
    // compared (and pasted) line by line.
    let output = run_args(&["--about", "--format", "json"], b"", &[]);
    output.assert_success();
    let about: Value = serde_json::from_str(&output.stdout).expect("--about JSON");
    let expected_settings: Vec<String> = about["settings"]
        .as_array()
        .expect("settings array")
        .iter()
        .map(|setting| {
            let mut fields = vec![format!("name: {}", setting["name"].as_str().expect("name"))];
            let aliases: Vec<&str> = setting["aliases"]
                .as_array()
                .expect("aliases array")
                .iter()
                .map(|alias| alias.as_str().expect("alias"))
                .collect();
            if !aliases.is_empty() {
                fields.push(format!("aliases: [{}]", aliases.join(", ")));
            }
            fields.push(format!("kind: {}", setting["kind"].as_str().expect("kind")));
            if setting["sensitive"] == json!(true) {
                fields.push("sensitive: true".to_string());
            }
            format!("- {{{}}}", fields.join(", "))
        })
        .collect();
    let capabilities: Vec<&str> = about["capabilities"]
        .as_array()
        .expect("capabilities array")
        .iter()
        .map(|capability| capability.as_str().expect("capability"))
        .collect();

    let meltano_yml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/meltano.yml"))
        .expect("meltano.yml");
    let declared_settings: Vec<String> = meltano_yml
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("- {name:"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        declared_settings,
        expected_settings,
        "meltano.yml's loader settings are out of date; under `settings:` they should read\n{}",
        expected_settings
            .iter()
            .map(|line| format!("    {line}\n"))
            .collect::<String>()
    );
    let declared_capabilities: Vec<&str> = meltano_yml
        .lines()
        .find_map(|line| line.trim().strip_prefix("capabilities: ["))
        .and_then(|list| list.strip_suffix(']'))
        .expect("a `capabilities: [...]` line in meltano.yml")
        .split(", ")
        .collect();
    let mut sorted_declared = declared_capabilities.clone();
    sorted_declared.sort_unstable();
    let mut sorted_expected = capabilities.clone();
    sorted_expected.sort_unstable();
    assert_eq!(
        sorted_declared, sorted_expected,
        "meltano.yml's capabilities differ from --about's"
    );
}

#[test]
fn long_loads_report_progress_and_a_summary_per_stream() {
    let schema = TestSchema::new("progress");
    let mut lines = vec![
        schema_msg("a", json!({"id": {"type": "integer"}}), &["id"]),
        schema_msg("b", json!({"id": {"type": "integer"}}), &[]),
    ];
    for id in 0..5_000 {
        lines.push(record(
            if id % 2 == 0 { "a" } else { "b" },
            json!({"id": id}),
        ));
    }
    lines.push(record("a", json!({"id": "bad"})));
    let config = merged(
        base_config(&schema),
        json!({"batch_size_rows": 500, "invalid_records": "skip",
               "progress_interval_seconds": 0}),
    );
    let file = TempFile::new(".json", config.to_string().as_bytes());
    let out = run_args(&["--config", &file.arg()], jsonl(&lines).as_bytes(), &[]);
    out.assert_success();
    let progress = out.stderr_lines_with("progress:");
    assert!(!progress.is_empty(), "{out}");
    assert!(progress
        .iter()
        .any(|l| l.contains("records read") && l.contains("rows committed")));
    out.assert_stderr_has(&[
        "stream \"a\"",
        "2500 inserted, 0 updated, 0 deleted, 1 set aside",
        "stream \"b\"",
    ]);
}
