//! Robust output and sessions: a closed stdout (`--about | head -1`, a reader that goes away
//! during a load), and the server's timeouts (`session_timeouts`).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{ChildStdin, Command, Stdio};

use serde_json::{json, Value};

use crate::support::*;

/// The write end of a pipe whose reader has already gone: writing to it fails with EPIPE.
fn closed_pipe() -> ChildStdin {
    let mut reader = Command::new("true")
        .stdin(Stdio::piped())
        .spawn()
        .expect("start true");
    let pipe = reader.stdin.take().expect("piped stdin");
    reader.wait().expect("wait for true");
    pipe
}

/// Runs the binary with `args`, `input` on stdin and a stdout whose reader is gone;
/// returns the exit code and stderr.
fn run_into_closed_stdout(args: &[&str], input: &[u8]) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::from(closed_pipe()))
        .stderr(Stdio::piped())
        .spawn()
        .expect("start target-postgres");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    // The target stops reading when stdout breaks: a broken pipe here is expected then.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let status = child.wait().expect("wait");
    let _ = writer.join();
    (status.code(), stderr)
}

#[test]
fn about_into_a_reader_that_closes_after_one_line_exits_0_quietly_200_times() {
    for run in 1..=200 {
        let mut child = Command::new(BIN)
            .arg("--about")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start target-postgres");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("read the first line");
        // The reader is dropped: stdout is closed, as `head -1` closes it.
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut stderr)
            .expect("read stderr");
        let status = child.wait().expect("wait");
        assert!(
            first.starts_with("target-postgres "),
            "run {run}: {first:?}"
        );
        assert_eq!(status.code(), Some(0), "run {run}: stderr: {stderr}");
        assert_eq!(stderr, "", "run {run}");
    }
}

#[test]
fn informational_output_into_a_closed_stdout_exits_0_without_a_word() {
    for args in [
        &["--about"][..],
        &["--about", "--format", "json"],
        &["--about", "--format", "markdown"],
        &["--show_templates"],
        &["--help"],
        &["--version"],
    ] {
        let (code, stderr) = run_into_closed_stdout(args, b"");
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
}

#[test]
fn a_load_whose_stdout_is_closed_stops_reading_at_the_first_state() {
    let schema = TestSchema::new("closed_stdout_first_state");
    let config = TempFile::new(".json", base_config(&schema).to_string().as_bytes());
    // The state before any record goes out at once, so the run stops before the records.
    let input = jsonl(&[
        state(json!({"bookmark": 0})),
        schema_msg("t", json!({"id": {"type": "integer"}}), &["id"]),
        record("t", json!({"id": 1})),
    ]);
    let (code, stderr) = run_into_closed_stdout(&["--config", &config.arg()], input.as_bytes());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("stdout was closed by its reader, so states can no longer be delivered"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !schema.has_table("t"),
        "the run read on after stdout closed"
    );
}

#[test]
fn a_load_whose_stdout_closes_before_a_committed_state_fails_after_the_commit() {
    let schema = TestSchema::new("closed_stdout_after_commit");
    let config = TempFile::new(".json", base_config(&schema).to_string().as_bytes());
    let input = jsonl(&[
        schema_msg("t", json!({"id": {"type": "integer"}}), &["id"]),
        record("t", json!({"id": 1})),
        state(json!({"bookmark": 1})),
    ]);
    let (code, stderr) = run_into_closed_stdout(&["--config", &config.arg()], input.as_bytes());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("stdout was closed by its reader"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The state follows the commit: the row is stored, only its state could not be told.
    assert_eq!(schema.count("t"), 1);
}

/// A login role whose own settings cancel any statement after 200 ms, any lock wait after
/// 100 ms and any idle transaction after 200 ms (as shared servers set for people), owning
/// the test's schema and its table `t (id bigint PRIMARY KEY, v text)`.
struct TimeoutRole {
    name: String,
    schema: TestSchema,
}

impl TimeoutRole {
    fn new(test: &str) -> TimeoutRole {
        let schema = TestSchema::new(test);
        let name = format!("tp_timeouts_{}_{}", std::process::id(), unique());
        let table = schema.table("t");
        schema.execute(&format!(
            "CREATE ROLE {name} LOGIN; \
             ALTER ROLE {name} SET statement_timeout = '200ms'; \
             ALTER ROLE {name} SET lock_timeout = '100ms'; \
             ALTER ROLE {name} SET idle_in_transaction_session_timeout = '200ms'; \
             CREATE SCHEMA {} AUTHORIZATION {name}; \
             CREATE TABLE {table} (id bigint PRIMARY KEY, v text); \
             ALTER TABLE {table} OWNER TO {name}",
            qi(&schema.name)
        ));
        TimeoutRole { name, schema }
    }

    /// A config connecting as the role, loading into its schema, with `extra` keys.
    fn config(&self, extra: Value) -> Value {
        merged(
            json!({"host": "127.0.0.1", "port": 5432, "user": self.name,
                   "database": "postgres", "schema": self.schema.name}),
            extra,
        )
    }
}

impl Drop for TimeoutRole {
    fn drop(&mut self) {
        self.schema.drop_now();
        if let Ok(mut client) = postgres::Client::connect(&db_url(), postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP ROLE IF EXISTS {}", self.name));
        }
    }
}

/// Another session holding a lock on a table in an open transaction, as someone's
/// forgotten `BEGIN; LOCK TABLE ...` would; released when dropped.
struct LockHolder {
    _client: postgres::Client,
}

impl LockHolder {
    fn lock(table: &str, mode: &str) -> LockHolder {
        let mut client = connect();
        client
            .batch_execute(&format!("BEGIN; LOCK TABLE {table} IN {mode} MODE"))
            .unwrap_or_else(|e| panic!("locking {table}: {}", db_err(&e)));
        LockHolder { _client: client }
    }
}

fn load_input() -> String {
    jsonl(&[
        schema_msg(
            "t",
            json!({"id": {"type": "integer"}, "v": nullable("string")}),
            &["id"],
        ),
        record("t", json!({"id": 1, "v": "a"})),
        record("t", json!({"id": 2, "v": "b"})),
        record("t", json!({"id": 3, "v": null})),
        state(json!({"bookmark": 3})),
    ])
}

#[test]
fn a_role_with_a_200ms_statement_timeout_loads_while_another_session_locks_the_table_2s() {
    let role = TimeoutRole::new("timeouts_access_exclusive");
    let holder = LockHolder::lock(&role.schema.table("t"), "ACCESS EXCLUSIVE");
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(2));
        drop(holder);
    });
    let out = run_with_config(&role.config(json!({})), &[], load_input().as_bytes());
    release.join().expect("release the lock");
    out.assert_success();
    assert_eq!(
        role.schema.rows("t", "id"),
        vec![
            json!({"id": 1, "v": "a"}),
            json!({"id": 2, "v": "b"}),
            json!({"id": 3, "v": null}),
        ]
    );
    assert_eq!(out.stdout, "{\"bookmark\":3}\n");
}

#[test]
fn session_timeouts_server_keeps_the_roles_statement_timeout() {
    let role = TimeoutRole::new("timeouts_server");
    role.schema
        .execute(&format!("ALTER ROLE {} RESET lock_timeout", role.name));
    let holder = LockHolder::lock(&role.schema.table("t"), "ACCESS EXCLUSIVE");
    let config = role.config(json!({"session_timeouts": "server"}));
    let out = run_with_config(&config, &[], load_input().as_bytes());
    drop(holder);
    out.assert_load_failure().assert_stderr_has(&[
        "SQLSTATE 57014",
        "canceling statement due to statement timeout",
    ]);
    assert_eq!(out.stdout, "");
}

#[test]
fn a_timeout_in_the_url_options_wins_over_session_timeouts_off() {
    let schema = TestSchema::new("timeouts_url_options");
    schema.create();
    let table = schema.table("t");
    schema.execute(&format!(
        "CREATE TABLE {table} (id bigint PRIMARY KEY, v text)"
    ));
    // The flush, on a pooled session, waits for the lock: the URL's 300 ms cancel it.
    let holder = LockHolder::lock(&table, "EXCLUSIVE");
    let url = format!(
        "{}{}options=-c%20statement_timeout%3D300",
        db_url(),
        if db_url().contains('?') { "&" } else { "?" }
    );
    let config = json!({"url": url, "schema": schema.name});
    let out = run_with_config(&config, &[], load_input().as_bytes());
    drop(holder);
    out.assert_load_failure().assert_stderr_has(&[
        &format!("table {table}"),
        "SQLSTATE 57014",
        "canceling statement due to statement timeout",
    ]);
    assert_eq!(out.stdout, "");
}

#[test]
fn a_bad_session_timeouts_value_is_a_config_error() {
    let schema = TestSchema::new("timeouts_bad_value");
    let out = run_target(&schema, json!({"session_timeouts": "none"}), "");
    assert_eq!(out.code, Some(2), "{out}");
    out.assert_stderr_has(&["\"session_timeouts\" must be off or server, got \"none\""]);
}
