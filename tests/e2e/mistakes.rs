//! A new user's mistakes (issue 14): each one stops the run with the right exit code (2 for
//! a config mistake, 1 for a failed load) and says what to fix — a typo in a key, a key of
//! another section, no password for a server that asks for one, a tap logging
//! to stdout — and what a run changes or retries is logged with its cause: pooled
//! connections that fail name the SQLSTATE and the server's message, and every schema change
//! gets one info line.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::support::*;

/// Two lines of a stream `items` and a state, for runs that should load.
fn small_input(stream: &str) -> String {
    jsonl(&[
        schema_msg(stream, json!({"id": {"type": "integer"}}), &["id"]),
        record(stream, json!({"id": 1})),
        state(json!({"done": true})),
    ])
}

/// Runs with `config` (written to a file) and asserts exit 2 with every one of `needles`,
/// the config file named, and nothing on stdout.
#[track_caller]
fn assert_config_error(config: &Value, needles: &[&str]) -> Output {
    let file = TempFile::new(".json", config.to_string().as_bytes());
    let out = run_args(
        &["--config", &file.arg()],
        small_input("items").as_bytes(),
        &[],
    );
    assert_eq!(out.code, Some(2), "expected exit code 2\n{out}");
    out.assert_stderr_has(needles);
    out.assert_stderr_has(&[&file.arg()]);
    assert!(out.stdout.is_empty(), "{out}");
    out
}

#[test]
fn a_typo_in_a_key_stops_the_run_with_did_you_mean_naming_the_key_and_the_file() {
    let schema = TestSchema::new("typo_key");
    // The issue's case: `"shema": "raw"` used to load into public with exit 0.
    let config = merged(base_config(&schema), json!({"shema": schema.name}));
    let config = {
        let mut config = config;
        config.as_object_mut().map(|c| c.remove("schema"));
        config
    };
    assert_config_error(
        &config,
        &["config: unknown setting \"shema\": did you mean \"schema\"?"],
    );
    assert!(!schema.exists());
    // Another letter case, and a typo of an alias, are mistakes too.
    for (key, meant) in [
        ("Schema", "schema"),
        ("default_target_shema", "default_target_schema"),
        ("batch_size_row", "batch_size_rows"),
    ] {
        let config = merged(base_config(&schema), json!({ key: "x" }));
        let needle = format!("unknown setting \"{key}\": did you mean \"{meant}\"?");
        assert_config_error(&config, &[&needle]);
    }
}

#[test]
fn keys_that_belong_in_another_section_stop_the_run_saying_where_they_belong() {
    let schema = TestSchema::new("nested_key");
    assert_config_error(
        &merged(base_config(&schema), json!({"target_schema": "raw"})),
        &[
            "unknown setting \"target_schema\": did you mean \"schema\"?",
            "belongs inside \"schema_mapping\"",
        ],
    );
    assert_config_error(
        &merged(base_config(&schema), json!({"key_properties": ["id"]})),
        &["unknown setting \"key_properties\": keys belong in the stream's SCHEMA message"],
    );
    // A Mage or Meltano block pasted whole: the settings one level down.
    assert_config_error(
        &json!({"config": {"url": db_url(), "schema": schema.name}}),
        &["unknown setting \"config\": the settings are nested under \"config\": put them at the top level"],
    );
    assert!(!schema.exists());
}

#[test]
fn unknown_keys_far_from_every_setting_still_only_warn() {
    let schema = TestSchema::new("far_key");
    let out = run_target(
        &schema,
        json!({"ssl": true, "bogus_setting_xyz": 1, "hook": "x"}),
        &small_input("items"),
    );
    out.assert_success();
    assert_eq!(
        out.stderr_lines_with("unknown setting \"ssl\" ignored")
            .len(),
        1,
        "{out}"
    );
    assert_eq!(
        out.stderr_lines_with("\"hook\" has no meaning").len(),
        1,
        "{out}"
    );
    assert_eq!(schema.count("items"), 1);
}

/// An empty directory, removed when dropped.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> TempDir {
        let path =
            std::env::temp_dir().join(format!("tp_home_{}_{}", std::process::id(), unique()));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("creating {path:?}: {e}"));
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Runs the binary with no password from the environment or a password file: `PGPASSWORD`
/// removed, `PGPASSFILE` naming a file that does not exist, unless `env` sets them.
fn run_without_ambient_password(config: &Value, args: &[&str], env: &[(&str, &str)]) -> Output {
    let file = TempFile::new(".json", config.to_string().as_bytes());
    let input = TempFile::new(".jsonl", small_input("items").as_bytes());
    let mut command = Command::new(BIN);
    command
        .args(["--config", &file.arg(), "--input", &input.arg()])
        .args(args)
        .env("RUST_LOG", "info")
        .env_remove("PGPASSWORD")
        .env("PGPASSFILE", std::env::temp_dir().join("tp_no_such_pgpass"))
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    Output {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn no_password_for_a_server_that_asks_for_one_is_a_config_error_at_once() {
    let Some(cluster) = Cluster::create_for("the password test", "tp_password") else {
        return;
    };
    cluster.set_hba(
        "local all all trust\n\
         host all all 127.0.0.1/32 scram-sha-256\n\
         host all all ::1/128 scram-sha-256\n",
    );
    cluster.ctl("start");
    cluster
        .local_client()
        .batch_execute(
            "CREATE ROLE tp_alice LOGIN PASSWORD 'open-sesame-42'; \
             GRANT CREATE ON DATABASE postgres TO tp_alice",
        )
        .unwrap_or_else(|e| panic!("creating the role: {}", db_err(&e)));
    let config = json!({"host": "127.0.0.1", "port": cluster.port, "user": "tp_alice",
                        "database": "postgres", "schema": "pw"});

    // No password anywhere: exit 2 at once (no retries), naming the three places one goes.
    let out = run_without_ambient_password(&config, &[], &[]);
    assert_eq!(out.code, Some(2), "{out}");
    out.assert_stderr_has(&[
        "config: the server asks for a password for user \"tp_alice\" and none was given",
        "\"password\"",
        "PGPASSWORD",
        "tp_no_such_pgpass (PGPASSFILE)",
        &format!(
            "connecting to 127.0.0.1:{}/postgres as tp_alice",
            cluster.port
        ),
    ]);
    assert!(out.stderr_lines_with("retrying").is_empty(), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
    // Without PGPASSFILE the default file is named (HOME: a directory without one).
    let home = TempDir::new();
    let config_file = TempFile::new(".json", config.to_string().as_bytes());
    let out = Command::new(BIN)
        .args(["--test-connection", "--config", &config_file.arg()])
        .env_remove("PGPASSWORD")
        .env_remove("PGPASSFILE")
        .env("HOME", &home.path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("to ~/.pgpass"), "{stderr}");

    // A typo in the password key: the config check says so before any connection.
    let typo = merged(config.clone(), json!({"pasword": "open-sesame-42"}));
    let out = run_without_ambient_password(&typo, &[], &[]);
    assert_eq!(out.code, Some(2), "{out}");
    out.assert_stderr_has(&["unknown setting \"pasword\": did you mean \"password\"?"]);
    assert!(!out.stderr.contains("open-sesame-42"), "{out}");

    // Each fix works: the password in the config, or in PGPASSWORD.
    let fixed = merged(config.clone(), json!({"password": "open-sesame-42"}));
    let out = run_without_ambient_password(&fixed, &[], &[]);
    out.assert_success();
    assert!(!out.stderr.contains("open-sesame-42"), "{out}");
    let out = run_without_ambient_password(
        &config,
        &["--test-connection"],
        &[("PGPASSWORD", "open-sesame-42")],
    );
    out.assert_success();
    let loaded: i64 = cluster
        .local_client()
        .query_one("SELECT count(*) FROM pw.items", &[])
        .unwrap_or_else(|e| panic!("counting: {}", db_err(&e)))
        .get(0);
    assert_eq!(loaded, 1);
}

#[test]
fn a_log_line_on_stdin_fails_quoting_it_with_its_line_number_once_and_a_hint() {
    let schema = TestSchema::new("log_line");
    let log_line = "2024-05-01 12:00:00,123 | INFO | tap-items | Beginning full_table sync";
    let input = jsonl(&[
        schema_msg("items", json!({"id": {"type": "integer"}}), &["id"]),
        record("items", json!({"id": 1})),
        log_line.to_string(),
        record("items", json!({"id": 2})),
    ]);
    let out = run_target(&schema, json!({}), &input);
    out.assert_load_failure().assert_stderr_has(&[&format!(
        "line 3: not JSON: {log_line}; it looks like a log line: the tap probably writes its \
         logs to stdout, where only Singer messages belong (make it log to stderr)"
    )]);
    assert!(!out.stderr.contains("line 1 column"), "{out}");

    // Text that is not a log line gets no hint; a broken JSON line names its column.
    let input = jsonl(&[
        schema_msg("items", json!({"id": {"type": "integer"}}), &["id"]),
        r#"{"type":"RECORD","stream":"items","record":{"id":2"#.to_string(),
    ]);
    let out = run_target(&schema, json!({}), &input);
    out.assert_load_failure().assert_stderr_has(&[
        "line 2: not valid JSON (EOF while parsing an object at column 50): {\"type\":\"RECORD\"",
    ]);
    assert!(
        out.stderr_lines_with("looks like a log line").is_empty(),
        "{out}"
    );
}

#[test]
fn a_pooled_connection_that_fails_names_the_sqlstate_and_the_servers_message() {
    // The role may hold one connection: the reader's. Every pooled connection is refused
    // by the server (53300), and the flush finally fails with the same words.
    let schema = TestSchema::new("pool_cause");
    schema.create();
    let role = format!("tp_one_conn_{}_{}", std::process::id(), unique());
    schema.execute(&format!(
        "CREATE ROLE {role} LOGIN CONNECTION LIMIT 1; GRANT USAGE, CREATE ON SCHEMA {} TO {role}",
        qi(&schema.name)
    ));
    let server: postgres::Config = db_url()
        .parse()
        .unwrap_or_else(|e| panic!("bad test URL: {e}"));
    let host = match server.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".to_string(),
    };
    let port = server.get_ports().first().copied().unwrap_or(5432);
    let config = merged(
        base_config(&schema),
        json!({"url": Value::Null, "host": host, "port": port, "user": role,
               "database": server.get_dbname().unwrap_or("postgres"),
               "skip_schema_creation": true, "connect_timeout_seconds": 1,
               "max_parallelism": 1}),
    );
    let out = run_with_config(&config, &[], small_input("items").as_bytes());
    schema.execute(&format!("DROP OWNED BY {role}; DROP ROLE IF EXISTS {role}"));
    out.assert_load_failure();
    let refused = format!("SQLSTATE 53300: too many connections for role \"{role}\"");
    out.assert_stderr_has(&[
        &format!("opening a pooled connection: {refused}; retrying"),
        &format!("timed out waiting for connection: opening a pooled connection: {refused}"),
    ]);
    assert!(!out.stderr.contains("(db error)"), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
}

#[test]
fn every_schema_change_gets_one_info_line_when_it_is_planned() {
    let schema = TestSchema::new("change_log");
    schema.create();
    // A table another loader made: no key, `a` narrower than wanted, `legacy` NOT NULL.
    schema.execute(&format!(
        "CREATE TABLE {} (id bigint, a integer, legacy text NOT NULL)",
        schema.table("t")
    ));
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({"id": {"type": "integer"}, "a": {"type": ["null", "string"]},
                   "b": nullable("boolean")}),
            &["id"],
        ),
        record("t", json!({"id": 1, "a": "x", "b": true})),
        schema_msg(
            "u",
            json!({"id": {"type": "integer"}, "n": nullable("integer")}),
            &["id"],
        ),
        record("u", json!({"id": 1, "n": 5})),
        r#"{"type":"RECORD","stream":"u","record":{"id":2,"n":123456789012345678901234567890}}"#
            .to_string(),
    ]);
    let out = run_target(&schema, json!({}), &input);
    out.assert_success();
    let t = schema.table("t");
    let u = schema.table("u");
    for line in [
        format!("table {t}: column \"a\" widened from integer to text"),
        format!("table {t}: column \"b\" added (boolean)"),
        format!("table {t}: column \"legacy\" NOT NULL dropped (its property is no longer in the schema)"),
        format!("table {t}: primary key added (\"id\")"),
        format!("table {u}: created with 2 columns, primary key (\"id\")"),
        format!(
            "table {u}: column \"n\" widened from bigint to numeric (line 5 holds an integer \
             beyond its range)"
        ),
    ] {
        assert_eq!(out.stderr_lines_with(&line).len(), 1, "{line}\n{out}");
    }
    assert_eq!(schema.primary_key("t"), ["id"]);
    assert_eq!(schema.count("u"), 2);
}
