//! Mage mode: the binary driven exactly as Mage's integration pipelines drive their
//! PostgreSQL destination (SPEC §9): `--settings` YAML, `--config_json`, `--input_file_path`
//! with the tap's LOG lines mixed in, `--log_to_stdout 1`, `--state FILE`, and checks of
//! Mage's JSON log lines, the state file, the table and its `_mage_*` columns.

use std::str::FromStr;

use serde_json::{json, Value};

use crate::support::*;

/// A Mage settings YAML holding the test database's connection under `config:`, the way
/// Mage writes it (separate host, port, username, password and database fields).
fn settings_yaml() -> TempFile {
    let config = postgres::Config::from_str(&db_url()).expect("test URL parses");
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        Some(postgres::config::Host::Unix(path)) => path.to_string_lossy().into_owned(),
        None => "127.0.0.1".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let password = config
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_default();
    let yaml = format!(
        "source: postgresql\ndestination: postgresql\nconfig:\n  host: {host}\n  port: {port}\n  \
         username: {}\n  password: '{password}'\n  database: {}\n  schema: wrong_schema_overridden\n",
        config.get_user().unwrap_or("postgres"),
        config.get_dbname().unwrap_or("postgres"),
    );
    TempFile::new(".yaml", yaml.as_bytes())
}

/// The result of one Mage-style run: its output and Mage's log lines parsed.
struct MageRun {
    output: Output,
    logs: Vec<Value>,
}

impl MageRun {
    /// Log lines whose message is `message`.
    fn with_message(&self, message: &str) -> Vec<&Value> {
        self.logs
            .iter()
            .filter(|l| l["message"] == message)
            .collect()
    }

    /// Whether any log line's message contains `needle`.
    fn mentions(&self, needle: &str) -> bool {
        self.logs
            .iter()
            .any(|l| l["message"].as_str().unwrap_or("").contains(needle))
    }
}

/// Runs the binary with Mage's flags: settings YAML, `config_json` (the schema and extras),
/// the input file, logs on stdout, the state file, plus `extra_args`.
fn run_mage(
    schema: &TestSchema,
    config_json: Value,
    input: &str,
    state: &TempFile,
    extra_args: &[&str],
) -> MageRun {
    let settings = settings_yaml();
    let input_file = TempFile::new(".jsonl", input.as_bytes());
    let config_json = merged(json!({"schema": schema.name}), config_json).to_string();
    let mut args = vec![
        "--settings".to_string(),
        settings.arg(),
        "--config_json".to_string(),
        config_json,
        "--input_file_path".to_string(),
        input_file.arg(),
        "--log_to_stdout".to_string(),
        "1".to_string(),
        "--state".to_string(),
        state.arg(),
    ];
    args.extend(extra_args.iter().map(|a| a.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run_args(&refs, b"", &[]);
    let logs = mage_log_lines(&output);
    MageRun { output, logs }
}

/// Every stdout line parsed as one of Mage's log lines, checking their shape.
fn mage_log_lines(output: &Output) -> Vec<Value> {
    output
        .stdout
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}\n{output}"));
            for key in ["caller", "level", "message", "tags", "timestamp", "uuid"] {
                assert!(value.get(key).is_some(), "log line without {key}: {line}");
            }
            assert_eq!(value["type"], "LOG", "{line}");
            assert!(value["timestamp"].is_u64(), "{line}");
            assert_eq!(value["uuid"].as_str().map(str::len), Some(32), "{line}");
            value
        })
        .collect()
}

fn state_file(state: &TempFile) -> Value {
    let text = std::fs::read_to_string(&state.path).expect("the state file was written");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("state file is not JSON ({e}): {text}"))
}

/// What Mage's sources put in the input file: their own log lines, a line that is not
/// JSON, and the Singer messages.
fn mage_input(users: &[(i64, &str)], bookmark: i64) -> String {
    let mut lines = vec![
        json!({"caller": "PostgreSQL", "level": "INFO", "message": "Sync started.", "tags": {}, "timestamp": 1, "type": "LOG", "uuid": "0"}).to_string(),
        "Traceback noise that is not JSON".to_string(),
        json!({"level": "INFO", "message": "a source log line without a type", "tags": {}}).to_string(),
        json!({
            "type": "SCHEMA",
            "stream": "users",
            "schema": {"properties": {
                "id": {"type": ["integer"]},
                "name": {"type": ["null", "string"]},
                "tags": {"type": ["null", "array"], "items": {"type": ["object"]}}
            }},
            "key_properties": ["id"],
            "unique_constraints": ["id"],
            "unique_conflict_method": "UPDATE",
            "replication_method": "INCREMENTAL",
            "bookmark_properties": ["id"]
        })
        .to_string(),
    ];
    for (id, name) in users {
        lines.push(
            json!({"type": "RECORD", "stream": "users", "record": {
                "id": id, "name": name, "tags": format!("[{{\"k\": {id}}}]")
            }})
            .to_string(),
        );
    }
    lines.push(state(json!({"bookmarks": {"users": {"id": bookmark}}})));
    jsonl(&lines)
}

#[test]
fn mage_run_logs_json_lines_writes_the_state_file_and_stamps_mage_columns() {
    let schema = TestSchema::new("mage_run");
    let state = TempFile::new(".json", b"{\"bookmarks\": {\"orders\": {\"id\": 9}}}");

    let first = run_mage(
        &schema,
        json!({}),
        &mage_input(&[(1, "ada"), (2, "grace"), (3, "edsger")], 3),
        &state,
        &[],
    );
    first.output.assert_success();
    for line in &first.logs {
        assert!(
            !matches!(line["level"].as_str(), Some("ERROR" | "EXCEPTION")),
            "a successful run logs no error (Mage aborts on one): {line}"
        );
    }
    assert!(first.mentions("not JSON, skipped"), "{}", first.output);
    assert!(first.mentions("a source log line without a type"));
    let exports = first.with_message("Export data completed.");
    assert_eq!(exports.len(), 1, "{}", first.output);
    let tags = &exports[0]["tags"];
    assert_eq!(tags["records"], 3);
    assert_eq!(tags["records_inserted"], 3);
    assert_eq!(tags["records_updated"], 0);
    assert_eq!(tags["records_affected"], 3);
    assert_eq!(tags["stream"], "users");
    assert_eq!(tags["schema_name"], schema.name.as_str());
    assert_eq!(tags["table_name"], "users");
    // The bookmark merges into what the file held; nothing else of the state is kept.
    assert_eq!(
        state_file(&state),
        json!({"bookmarks": {"orders": {"id": 9}, "users": {"id": 3}}})
    );
    let columns = schema.columns("users");
    for stamp in ["_mage_created_at", "_mage_updated_at"] {
        assert!(
            columns
                .iter()
                .any(|(name, ty)| name == stamp && ty == "timestamp with time zone"),
            "{columns:?}"
        );
    }
    // Mage's sources send arrays of objects as strings: they are stored as the objects.
    assert_eq!(
        strings(&format!(
            "SELECT tags::text FROM {} ORDER BY id",
            schema.table("users")
        )),
        ["[{\"k\": 1}]", "[{\"k\": 2}]", "[{\"k\": 3}]"]
    );
    let created = strings(&format!(
        "SELECT _mage_created_at::text FROM {} ORDER BY id",
        schema.table("users")
    ));

    // Second run: one row changed, one the same, one new.
    let second = run_mage(
        &schema,
        json!({}),
        &mage_input(&[(1, "ada"), (2, "grace hopper"), (4, "barbara")], 4),
        &state,
        &[],
    );
    second.output.assert_success();
    let exports = second.with_message("Export data completed.");
    assert_eq!(exports.len(), 1, "{}", second.output);
    let tags = &exports[0]["tags"];
    assert_eq!(tags["records"], 3);
    // Mage's UI counts records_updated, when it is not 0, as the rows processed and then
    // ignores records_inserted; Mage's own destination reports every written row as
    // inserted. So do we: id 4 is new, id 2 changed, id 1 came again unchanged.
    assert_eq!(tags["records_inserted"], 2, "every row written: {tags}");
    assert_eq!(tags["records_updated"], 0, "{tags}");
    assert_eq!(tags["records_affected"], 2, "{tags}");
    assert_eq!(
        (&tags["inserted"], &tags["updated"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(
        state_file(&state),
        json!({"bookmarks": {"orders": {"id": 9}, "users": {"id": 4}}})
    );
    // The run ends with Mage's final-state line: the state written, as an object.
    let last = second.logs.last().expect("log lines");
    assert_eq!(
        last["message"], "Final state for bookmark properties update completed.",
        "{}",
        second.output
    );
    assert_eq!(last["tags"]["state"], state_file(&state));
    let rows = text_rows(&format!(
        "SELECT id::text, name, _mage_created_at::text, \
         (_mage_updated_at > _mage_created_at)::text FROM {} ORDER BY id",
        schema.table("users")
    ));
    assert_eq!(rows.len(), 4);
    let row = |i: usize| {
        rows[i]
            .iter()
            .map(|v| v.clone().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        row(0),
        ["1", "ada", created[0].as_str(), "false"],
        "unchanged row untouched"
    );
    assert_eq!(
        row(1),
        ["2", "grace hopper", created[1].as_str(), "true"],
        "an update keeps _mage_created_at and moves _mage_updated_at"
    );
    assert_eq!(row(3)[1], "barbara");
}

#[test]
fn mage_failure_is_one_exception_line_with_the_error_in_its_tags() {
    let schema = TestSchema::new("mage_fail");
    let state_path = TempFile::new(".json", b"");
    let input = jsonl(&[
        schema_msg("users", json!({"id": {"type": "integer"}}), &["id"]),
        record("users", json!({"id": 1})),
        state(json!({"bookmarks": {"users": {"id": 1}}})),
        record("users", json!({"id": "not a number"})),
        state(json!({"bookmarks": {"users": {"id": 2}}})),
    ]);
    let run = run_mage(&schema, json!({}), &input, &state_path, &[]);
    run.output.assert_load_failure();
    let errors: Vec<&Value> = run
        .logs
        .iter()
        .filter(|l| matches!(l["level"].as_str(), Some("ERROR" | "EXCEPTION")))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.output);
    assert_eq!(errors[0]["level"], "EXCEPTION");
    let error = errors[0]["tags"]["error"].as_str().unwrap_or_default();
    for needle in ["line 4", "users", "id", "not a number"] {
        assert!(
            error.contains(needle),
            "tags.error lacks {needle:?}: {error}"
        );
    }
    // The second state never goes out: its record was not committed.
    let written = std::fs::read_to_string(&state_path.path).unwrap_or_default();
    assert!(!written.contains("\"id\":2"), "{written}");
    assert!(
        run.with_message("Final state for bookmark properties update completed.")
            .is_empty(),
        "a failed run ends with its error\n{}",
        run.output
    );
}

#[test]
fn mage_show_templates_prints_the_config_template() {
    let output = run_args(&["--show_templates"], b"", &[]);
    output.assert_success();
    let printed: Value = serde_json::from_str(output.stdout.trim()).expect("one JSON object");
    assert_eq!(
        printed,
        json!({"config": {"database": "", "host": "", "password": "", "port": 5432,
                          "schema": "", "table": "", "username": ""}})
    );
}

#[test]
fn mage_test_connection_reports_success_and_failure_in_mage_lines() {
    let ok = run_args(
        &[
            "--config_json",
            &json!({"url": db_url()}).to_string(),
            "--test_connection",
            "--log_to_stdout",
            "1",
        ],
        b"",
        &[],
    );
    ok.assert_success();
    let logs = mage_log_lines(&ok);
    assert!(logs.iter().any(|l| l["message"] == "Testing connection..."));

    // With --log_to_stdout the failure is one EXCEPTION line of JSON, as in a pipeline run.
    let refused = run_args(
        &[
            "--config_json",
            &json!({"host": "127.0.0.1", "port": 1, "username": "nobody", "database": "x",
                    "password": "hunter2", "connect_timeout_seconds": 1})
            .to_string(),
            "--test_connection",
            "--log_to_stdout",
            "1",
        ],
        b"",
        &[],
    );
    refused.assert_load_failure();
    let logs = mage_log_lines(&refused);
    let last = logs.last().expect("an EXCEPTION line");
    assert_eq!(last["level"], "EXCEPTION", "{refused}");
    assert!(
        !refused.stdout.contains("hunter2"),
        "the password leaked\n{refused}"
    );
}

/// The one stderr line of a failed `--test_connection` that Mage reads: it must start with
/// `ERROR`, and Mage shows the `tags.error` of the JSON object in it.
fn mage_test_connection_error(config: Value) -> (Output, String) {
    // Exactly as Mage calls it: config as JSON, logs on stderr.
    let output = run_args(
        &["--config_json", &config.to_string(), "--test_connection"],
        b"",
        &[],
    );
    output.assert_load_failure();
    let errors: Vec<&str> = output
        .stderr
        .lines()
        .filter(|l| l.starts_with("ERROR"))
        .collect();
    assert_eq!(errors.len(), 1, "one ERROR line\n{output}");
    let json_text = errors[0]
        .strip_prefix("ERROR ")
        .expect("ERROR, a space, then the JSON");
    let line: Value = serde_json::from_str(json_text)
        .unwrap_or_else(|e| panic!("not JSON after ERROR ({e})\n{output}"));
    assert_eq!(line["level"], "EXCEPTION", "{output}");
    let error = line["tags"]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no tags.error\n{output}"))
        .to_string();
    assert!(
        !output.stderr.contains("hunter2") && !output.stdout.contains("hunter2"),
        "the password leaked\n{output}"
    );
    (output, error)
}

#[test]
fn mage_test_connection_failure_is_one_error_line_with_the_reason_in_tags_error() {
    let (_, error) = mage_test_connection_error(json!({
        "host": "127.0.0.1", "port": 1, "username": "nobody", "database": "warehouse",
        "password": "hunter2"
    }));
    for needle in ["127.0.0.1:1/warehouse as nobody", "refused"] {
        assert!(
            error.contains(needle),
            "tags.error lacks {needle:?}: {error}"
        );
    }
}

#[test]
fn mage_test_connection_gives_up_on_a_server_that_never_answers() {
    // A listener that accepts connections (the kernel completes the handshake) and never
    // speaks: the driver's connect timeout, which covers only the TCP connect, would wait
    // forever, and Mage kills a connection test after 10 s.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = silent.local_addr().expect("its address").port();
    let (_, error) = mage_test_connection_error(json!({
        "host": "127.0.0.1", "port": port, "username": "nobody", "database": "warehouse",
        "password": "hunter2", "connect_timeout_seconds": 1
    }));
    assert!(
        error.contains(&format!("127.0.0.1:{port}/warehouse")) && error.contains("within 1s"),
        "{error}"
    );
    drop(silent);
}

#[test]
fn mage_catalog_decides_the_schema_and_projects_records() {
    let schema = TestSchema::new("mage_catalog");
    let state_path = TempFile::new(".json", b"");
    let catalog = json!({"streams": [{
        "tap_stream_id": "people",
        "stream": "people",
        "schema": {"properties": {
            "id": {"type": ["integer"]},
            "name": {"type": ["null", "string"]},
            "ssn": {"type": ["null", "string"]}
        }},
        "key_properties": ["id"],
        "metadata": [
            {"breadcrumb": [], "metadata": {"selected": true}},
            {"breadcrumb": ["properties", "ssn"], "metadata": {"selected": false}}
        ]
    }]});
    // No SCHEMA message at all: the catalog is the schema. The record carries a deselected
    // property and one the catalog does not know.
    let input = jsonl(&[
        record(
            "people",
            json!({"id": 1, "name": "ada", "ssn": "123", "extra": true}),
        ),
        record("people", json!({"id": 1, "name": "ada l.", "ssn": "123"})),
    ]);
    let run = run_mage(
        &schema,
        json!({}),
        &input,
        &state_path,
        &["--catalog_json", &catalog.to_string()],
    );
    run.output.assert_success();
    assert_eq!(
        schema.column_names("people"),
        ["id", "name", "_mage_created_at", "_mage_updated_at"]
    );
    assert_eq!(schema.primary_key("people"), ["id"]);
    assert_eq!(
        strings(&format!("SELECT name FROM {}", schema.table("people"))),
        ["ada l."]
    );
}

#[test]
fn mage_stream_columns_and_single_table_put_every_stream_in_one_table() {
    let schema = TestSchema::new("mage_table");
    let state_path = TempFile::new(".json", b"");
    let input = jsonl(&[
        schema_msg("a", json!({"id": {"type": "integer"}}), &[]),
        schema_msg(
            "b",
            json!({"id": {"type": "integer"}, "x": nullable("string")}),
            &[],
        ),
        record("a", json!({"id": 1})),
        record("b", json!({"id": 2, "x": "y", "source": "from the record"})),
    ]);
    let run = run_mage(
        &schema,
        json!({"table": "Everything", "_streams": {"columns": {"source": "mage", "run": 7}}}),
        &input,
        &state_path,
        &[],
    );
    run.output.assert_success();
    assert_eq!(
        text_rows(&format!(
            "SELECT id::text, x, source, run FROM {} ORDER BY id",
            schema.table("Everything")
        )),
        [
            [
                Some("1".into()),
                None,
                Some("mage".into()),
                Some("7".into())
            ],
            [
                Some("2".into()),
                Some("y".into()),
                Some("mage".into()),
                Some("7".into())
            ],
        ],
        "the constant wins over the record's own value, as in Mage"
    );
    assert_eq!(run.with_message("Export data completed.").len(), 2);
}

#[test]
fn mage_flags_leave_plain_runs_alone() {
    // Without Mage's flags: no _mage_* columns, a non-JSON line is an error, text logs.
    let schema = TestSchema::new("mage_plain");
    let output = run_target(
        &schema,
        json!({}),
        &jsonl(&[
            schema_msg("users", json!({"id": {"type": "integer"}}), &["id"]),
            record("users", json!({"id": 1})),
        ]),
    );
    output.assert_success();
    assert_eq!(schema.column_names("users"), ["id"]);
    let output = run_target(&schema, json!({}), "not json\n");
    output.assert_load_failure().assert_stderr_has(&["line 1"]);
}

#[test]
fn mage_bookmarks_of_states_released_together_are_all_kept() {
    // Regression: both states become eligible at the final flush, and only the latest is
    // written; stream a's bookmark, from the first, must still be in the file.
    let schema = TestSchema::new("mage_merge");
    let state_path = TempFile::new(".json", b"");
    let input = jsonl(&[
        schema_msg("a", json!({"id": {"type": "integer"}}), &["id"]),
        schema_msg("b", json!({"id": {"type": "integer"}}), &["id"]),
        record("a", json!({"id": 1})),
        state(json!({"bookmarks": {"a": {"id": 1}}})),
        record("b", json!({"id": 1})),
        state(json!({"bookmarks": {"b": {"id": 1}}})),
    ]);
    let run = run_mage(&schema, json!({}), &input, &state_path, &[]);
    run.output.assert_success();
    assert_eq!(
        state_file(&state_path),
        json!({"bookmarks": {"a": {"id": 1}, "b": {"id": 1}}})
    );
}

#[test]
fn mage_array_of_objects_elements_sent_as_json_strings_are_stored_as_json() {
    let schema = TestSchema::new("mage_elements");
    // A table Mage's own destination created: arrays of objects as jsonb[] and json[].
    schema.create();
    schema.execute(&format!(
        "CREATE TABLE {} (id bigint PRIMARY KEY, docs jsonb[], jdocs json[])",
        schema.table("made_by_mage")
    ));
    let array_of_objects =
        json!({"type": ["null", "array"], "items": {"type": ["null", "object"]}});
    let sent = json!(["{\"b\": 2}", {"c": "{\"d\": 1}"}, "7", "not json", null]);
    let input = jsonl(&[
        schema_msg(
            "ours",
            json!({"id": {"type": "integer"}, "objs": array_of_objects,
                   "obj": {"type": ["null", "object"]}}),
            &["id"],
        ),
        record(
            "ours",
            json!({"id": 1, "objs": sent, "obj": ["{\"b\": 2}"]}),
        ),
        schema_msg(
            "made_by_mage",
            json!({"id": {"type": "integer"}, "docs": array_of_objects,
                   "jdocs": array_of_objects}),
            &["id"],
        ),
        record(
            "made_by_mage",
            json!({"id": 1, "docs": ["{\"b\": 2}", {"c": 3}], "jdocs": ["[1, 2]"]}),
        ),
    ]);
    let state_path = TempFile::new(".json", b"");
    run_mage(&schema, json!({}), &input, &state_path, &[])
        .output
        .assert_success();
    // As Mage's destination stores them: the array's own string elements that hold JSON
    // become that JSON; strings nested deeper, and strings that are not JSON, stay strings
    // (Mage's destination fails the run on those). A property that is an object keeps its
    // array's strings, as Mage's does.
    assert_eq!(
        json_rows(&format!(
            "SELECT json_build_object('objs', objs, 'obj', obj)::text FROM {}",
            schema.table("ours")
        )),
        [
            json!({"objs": [{"b": 2}, {"c": "{\"d\": 1}"}, 7, "not json", null],
                "obj": ["{\"b\": 2}"]})
        ]
    );
    assert_eq!(
        strings(&format!(
            "SELECT jsonb_typeof(d) || ' ' || d::text FROM {}, unnest(docs) d",
            schema.table("made_by_mage")
        )),
        ["object {\"b\": 2}", "object {\"c\": 3}"]
    );
    assert_eq!(
        strings(&format!(
            "SELECT json_typeof(d) || ' ' || d::text FROM {}, unnest(jdocs) d",
            schema.table("made_by_mage")
        )),
        ["array [1, 2]"]
    );

    // Outside Mage mode the strings are data, kept as sent.
    let plain = TestSchema::new("plain_elements");
    run_target(
        &plain,
        json!({}),
        &jsonl(&[
            schema_msg(
                "ours",
                json!({"id": {"type": "integer"}, "objs": array_of_objects}),
                &["id"],
            ),
            record("ours", json!({"id": 1, "objs": sent})),
        ]),
    )
    .assert_success();
    assert_eq!(
        json_rows(&format!("SELECT objs::text FROM {}", plain.table("ours"))),
        [sent]
    );
}

/// `python3`, when this machine has it: the Mage plug-in is a Python file. Without it the
/// calling test says loudly that it is skipped (scripts/test installs python3 first).
fn python3() -> Option<&'static str> {
    let found = std::process::Command::new("python3")
        .args(["-c", "pass"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("*** SKIPPED: python3 is not installed; the Mage plug-in was NOT tested ***");
    }
    found.then_some("python3")
}

/// A fake Mage installation: `<dir>/mage_integrations/destinations/` with Mage's own
/// `postgresql` destination in it, importable with `PYTHONPATH=<dir>`; removed on drop.
struct FakeMage {
    dir: std::path::PathBuf,
}

impl FakeMage {
    fn new() -> FakeMage {
        let dir =
            std::env::temp_dir().join(format!("tp_e2e_mage_{}_{}", std::process::id(), unique()));
        let destinations = dir.join("mage_integrations").join("destinations");
        std::fs::create_dir_all(destinations.join("postgresql")).expect("fake Mage tree");
        std::fs::write(dir.join("mage_integrations").join("__init__.py"), "").expect("write");
        std::fs::write(destinations.join("__init__.py"), "").expect("write");
        std::fs::write(
            destinations.join("postgresql").join("__init__.py"),
            MAGE_OWN_DESTINATION,
        )
        .expect("write");
        FakeMage { dir }
    }

    fn destinations(&self) -> std::path::PathBuf {
        self.dir.join("mage_integrations").join("destinations")
    }

    fn pythonpath(&self) -> String {
        self.dir.to_string_lossy().into_owned()
    }

    /// Runs `target-postgres mage-install` with `args`, Python finding this tree.
    fn install(&self, args: &[&str]) -> Output {
        let mut all = vec!["mage-install"];
        all.extend_from_slice(args);
        run_args(&all, b"", &[("PYTHONPATH", &self.pythonpath())])
    }

    /// Runs `python3 <args>` with this tree importable.
    fn python(&self, python: &str, args: &[&str]) -> std::process::Output {
        std::process::Command::new(python)
            .args(args)
            .env("PYTHONPATH", self.pythonpath())
            .output()
            .expect("python3 runs")
    }
}

impl Drop for FakeMage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const MAGE_OWN_DESTINATION: &str = "# Mage's own PostgreSQL destination\n";

#[test]
fn mage_install_writes_the_shim_next_to_mages_destinations_and_prints_the_yaml_line() {
    let Some(python) = python3() else { return };
    let mage = FakeMage::new();
    let installed = mage.install(&["--python", python]);
    installed.assert_success();
    assert_eq!(
        installed.stdout.lines().last(),
        Some("destination: target_postgres"),
        "{installed}"
    );
    let shim = mage
        .destinations()
        .join("target_postgres")
        .join("__init__.py");
    let text = std::fs::read_to_string(&shim).expect("the shim was written");
    let binary = std::fs::canonicalize(BIN).expect("the binary's path");
    assert!(
        text.contains(&format!("TARGET_POSTGRES = \"{}\"", binary.display())),
        "the binary's absolute path is baked in:\n{text}"
    );
    // Run as Mage runs a destination, the shim is this binary.
    let ran = mage.python(python, &[&shim.to_string_lossy(), "--show_templates"]);
    assert!(ran.status.success(), "{ran:?}");
    let printed: Value = serde_json::from_slice(&ran.stdout).expect("the template");
    assert_eq!(printed["config"]["port"], 5432);

    // Again: the shim is updated in place; another name is another destination.
    let again = mage.install(&["--python", python]);
    again.assert_success();
    assert!(again.stdout.starts_with("Updated "), "{again}");
    let named = mage.install(&["--name", "pg_fast"]);
    named.assert_success();
    assert_eq!(
        named.stdout.lines().last(),
        Some("destination: pg_fast"),
        "{named}"
    );
    assert!(mage.destinations().join("pg_fast/__init__.py").is_file());

    // Mage's own destination is never overwritten, and bad names are refused.
    let refused = mage.install(&["--name", "postgresql"]);
    assert_eq!(refused.code, Some(2), "{refused}");
    assert!(
        refused.stderr.contains("choose another --name"),
        "{refused}"
    );
    assert_eq!(
        std::fs::read_to_string(mage.destinations().join("postgresql/__init__.py"))
            .expect("still there"),
        MAGE_OWN_DESTINATION
    );
    let bad = mage.install(&["--name", "../escape"]);
    assert_eq!(bad.code, Some(2), "{bad}");
}

#[test]
fn mage_install_names_the_python_that_cannot_find_mage() {
    let Some(_) = python3() else { return };
    // A Python without Mage (no PYTHONPATH to the fake tree), and no Python at all.
    let no_mage = run_args(&["mage-install"], b"", &[("PYTHONPATH", "/nonexistent")]);
    assert_eq!(no_mage.code, Some(2), "{no_mage}");
    no_mage.assert_stderr_has(&["python3 cannot import mage_integrations", "--python"]);
    let no_python = run_args(
        &["mage-install", "--python", "/nonexistent/python3"],
        b"",
        &[],
    );
    assert_eq!(no_python.code, Some(2), "{no_python}");
    no_python.assert_stderr_has(&["cannot run /nonexistent/python3", "--python"]);
}

#[test]
fn mage_shim_does_nothing_on_import_and_runs_the_binary_with_the_same_arguments() {
    let Some(python) = python3() else { return };
    let mage = FakeMage::new();
    let folder = mage.destinations().join("recorder");
    std::fs::create_dir_all(&folder).expect("folder");
    // The shipped shim, pointed at a program that records its arguments.
    let record = mage.dir.join("arguments");
    let program = mage.dir.join("record-arguments");
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '{}'\n",
            record.display()
        ),
    )
    .expect("write");
    std::process::Command::new("chmod")
        .args(["+x", &program.to_string_lossy()])
        .status()
        .expect("chmod");
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/mage/shim/__init__.py"),
    )
    .expect("the shipped shim");
    let line = "TARGET_POSTGRES = \"\"";
    assert_eq!(shipped.matches(line).count(), 1, "{shipped}");
    std::fs::write(
        folder.join("__init__.py"),
        shipped.replace(
            line,
            &format!("TARGET_POSTGRES = \"{}\"", program.display()),
        ),
    )
    .expect("write");

    // Mage imports the module in its own process to find its path: nothing else happens.
    let imported = mage.python(
        python,
        &[
            "-c",
            "import mage_integrations.destinations.recorder as m, os; print(os.path.basename(m.__file__)); print('still here')",
        ],
    );
    assert!(imported.status.success(), "{imported:?}");
    assert_eq!(
        String::from_utf8_lossy(&imported.stdout),
        "__init__.py\nstill here\n"
    );
    assert!(!record.exists(), "importing ran the program");

    // Run as a script, it becomes the program, with the arguments untouched.
    let arguments = [
        "--config_json",
        "{\"password\": \"a b'c\\\"d\"}",
        "--log_to_stdout",
        "1",
        "",
        "--state",
        "/tmp/x y/state",
    ];
    let mut args = vec![folder.join("__init__.py").to_string_lossy().into_owned()];
    args.extend(arguments.iter().map(|a| a.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let ran = mage.python(python, &refs);
    assert!(ran.status.success(), "{ran:?}");
    let recorded = std::fs::read_to_string(&record).expect("the program ran");
    assert_eq!(recorded.lines().collect::<Vec<_>>(), arguments);

    // A shim whose binary is gone fails the way Mage reads a failure.
    std::fs::remove_file(&program).expect("remove");
    let failed = mage.python(python, &refs);
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    let line: Value = serde_json::from_slice(&failed.stdout).expect("a JSON log line");
    assert_eq!(line["level"], "EXCEPTION");
    assert!(
        line["tags"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("mage-install")),
        "{line}"
    );
    assert!(String::from_utf8_lossy(&failed.stderr).starts_with("ERROR {"));
}
