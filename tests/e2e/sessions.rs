//! Robust output and sessions: a closed stdout (`--about | head -1`, a reader that goes away
//! during a load), the server's timeouts (`session_timeouts`), and the warning for a flush
//! or catalog read that waits for a lock held by another session.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

/// How long a test waits for an event before giving up (a safety net, never a timing check).
const PATIENCE: Duration = Duration::from_secs(90);

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
/// forgotten `BEGIN; LOCK TABLE ...` would.
struct LockHolder {
    client: postgres::Client,
    pid: i32,
    application_name: String,
    since: Instant,
}

impl LockHolder {
    fn lock(table: &str, mode: &str) -> LockHolder {
        let mut client = connect();
        let application_name = format!("tp_lock_holder_{}", unique());
        let pid: i32 = client
            .query_one("SELECT pg_backend_pid()", &[])
            .expect("pid")
            .get(0);
        client
            .batch_execute(&format!(
                "SET application_name = {}; BEGIN; LOCK TABLE {table} IN {mode} MODE",
                ql(&application_name)
            ))
            .unwrap_or_else(|e| panic!("locking {table}: {}", db_err(&e)));
        LockHolder {
            client,
            pid,
            application_name,
            since: Instant::now(),
        }
    }

    /// Commits once the lock has been held for at least `held`.
    fn release_after(&mut self, held: Duration) {
        std::thread::sleep(held.saturating_sub(self.since.elapsed()));
        self.client.batch_execute("COMMIT").expect("commit");
    }
}

/// The target started on `config` with `input` (stdin closed after it), its stderr lines
/// sent to the returned channel as they come.
fn start_load(config: &Value, input: &str) -> (Child, TempFile, mpsc::Receiver<String>) {
    let (mut child, file) = spawn_target(config, "info", Stdio::piped());
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("write input");
    drop(stdin);
    let stderr = child.stderr.take().expect("stderr");
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    (child, file, lines)
}

/// Collects stderr lines until one contains `needle` (or [`PATIENCE`] runs out).
fn lines_until(lines: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) => {
                let found = line.contains(needle);
                seen.push(line);
                if found {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    seen
}

/// Waits for the run to end; returns its exit code, stdout, and every stderr line.
fn finish_load(
    child: Child,
    lines: mpsc::Receiver<String>,
    mut seen: Vec<String>,
) -> (Option<i32>, String, Vec<String>) {
    let output = child.wait_with_output().expect("wait");
    seen.extend(lines.iter());
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        seen,
    )
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

#[track_caller]
fn assert_loaded(role: &TimeoutRole, stdout: &str) {
    assert_eq!(
        role.schema.rows("t", "id"),
        vec![
            json!({"id": 1, "v": "a"}),
            json!({"id": 2, "v": "b"}),
            json!({"id": 3, "v": null}),
        ]
    );
    assert_eq!(stdout, "{\"bookmark\":3}\n");
}

/// Asserts that the warning names the holder's pid, user and application_name, and its
/// state and query when `visible` (the loader's role has pg_read_all_stats), else says
/// they are hidden.
#[track_caller]
fn assert_names_the_holder(warning: &str, holder: &LockHolder, visible: bool) {
    let mut needles = vec![format!(
        "held by pid {} (user \"postgres\", application_name \"{}\", ",
        holder.pid, holder.application_name
    )];
    if visible {
        needles.push("state \"idle in transaction\", query \"SET application_name".into());
    } else {
        needles.push("state and query hidden from this role".into());
    }
    for needle in needles {
        assert!(warning.contains(&needle), "{needle:?} not in: {warning}");
    }
}

/// Loads as `role` while another session holds `mode` on the table for at least 2 s, with a
/// 1 s lock-wait threshold; asserts the load is exact and returns the one lock-wait warning
/// and the holder it must name.
fn load_under_a_held_lock(role: &TimeoutRole, mode: &str) -> (String, LockHolder) {
    let table = role.schema.table("t");
    let mut holder = LockHolder::lock(&table, mode);
    let config = role.config(json!({"lock_wait_warning_seconds": 1}));
    let (child, _config, lines) = start_load(&config, &load_input());
    let seen = lines_until(&lines, "waits for");
    holder.release_after(Duration::from_secs(2));
    let (code, stdout, stderr) = finish_load(child, lines, seen);
    let text = stderr.join("\n");
    assert_eq!(code, Some(0), "{text}");
    assert_loaded(role, &stdout);
    let warnings: Vec<&String> = stderr.iter().filter(|l| l.contains("waits for")).collect();
    assert_eq!(warnings.len(), 1, "{text}");
    (warnings[0].clone(), holder)
}

#[test]
fn a_role_with_a_200ms_statement_timeout_loads_while_another_session_locks_the_table_2s() {
    let role = TimeoutRole::new("timeouts_access_exclusive");
    // It may see what other roles' sessions run, so the warning can name the query.
    role.schema
        .execute(&format!("GRANT pg_read_all_stats TO {}", role.name));
    let table = role.schema.table("t");
    // The reader's first look at the table waits for the lock; its warning comes after 1 s.
    let (warning, holder) = load_under_a_held_lock(&role, "ACCESS EXCLUSIVE");
    assert!(
        warning.starts_with(&format!(
            "WARN  reading the catalog for table {table} has run for"
        )),
        "{warning}"
    );
    assert!(
        warning.contains(&format!("waits for AccessShareLock on {table}")),
        "{warning}"
    );
    assert_names_the_holder(&warning, &holder, true);
}

#[test]
fn a_flush_waiting_for_a_lock_is_reported_once_naming_table_and_holder() {
    let role = TimeoutRole::new("timeouts_flush_waits");
    let table = role.schema.table("t");
    // EXCLUSIVE lets the reader's catalog read through and stops the flush's COPY.
    let (warning, holder) = load_under_a_held_lock(&role, "EXCLUSIVE");
    assert!(
        warning.starts_with(&format!(
            "WARN  flush of table {table} (stream \"t\") has run for"
        )),
        "{warning}"
    );
    assert!(
        warning.contains(&format!("waits for RowExclusiveLock on {table}")),
        "{warning}"
    );
    assert!(warning.ends_with("; it keeps waiting"), "{warning}");
    assert_names_the_holder(&warning, &holder, false);
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
