//! Lanes: one table loaded over several connections at once. Every version of a key travels
//! one lane, so last-wins holds across chunks; a state waits for every lane, including one
//! held back by a lock on purpose; a lane whose connection is killed mid-COPY is retried on
//! its own; overwrite and ACTIVATE_VERSION end exact with lanes.
//!
//! The sessions that hold a lane back are observed in `pg_stat_activity` (the target runs
//! with an `application_name` of the test's own), never by waiting a fixed time.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

/// How long to wait for a session state the test provokes before calling it a hang. A
/// safety net, never a performance assertion.
const OBSERVE_LIMIT: Duration = Duration::from_secs(120);

fn keyed_schema(stream: &str) -> String {
    schema_msg(
        stream,
        json!({"id": {"type": "integer"}, "v": {"type": "string"}, "pad": {"type": "string"}}),
        &["id"],
    )
}

/// A record of `items` padded to `kib` KiB: a batch must be big enough to be worth
/// splitting over lanes (smaller ones run whole).
fn item(id: impl Into<Value>, v: String, kib: usize) -> String {
    record(
        "items",
        json!({"id": id.into(), "v": v, "pad": "x".repeat(kib * 1024)}),
    )
}

/// The lanes the debug log says the flushes of `output` ran in.
fn lanes_used(stderr: &str) -> BTreeSet<String> {
    stderr
        .lines()
        .filter(|line| line.contains("flushed") && line.contains("(lane "))
        .filter_map(|line| line.split("(lane ").nth(1))
        .filter_map(|rest| rest.split(')').next())
        .map(str::to_string)
        .collect()
}

fn run_debug(schema: &TestSchema, extra: Value, input: &str) -> Output {
    let config = merged(base_config(schema), extra);
    let file = TempFile::new(".json", config.to_string().as_bytes());
    run_args(
        &["--config", &file.arg()],
        input.as_bytes(),
        &[("RUST_LOG", "debug")],
    )
}

#[test]
fn keys_repeated_across_many_chunks_end_last_wins_with_four_lanes() {
    let schema = TestSchema::new("lanes_last_wins");
    let table = schema.table("items");
    // Each chunk holds every key once, so consecutive chunks carry consecutive versions of
    // the same keys: were a key's versions spread over lanes, they would race.
    const KEYS: usize = 37;
    const VERSIONS: usize = 60;
    let lanes = json!({"lanes": 4, "max_parallelism": 4, "batch_size_rows": KEYS});
    for round in 0..2 {
        let mut lines = vec![keyed_schema("items")];
        for version in 0..VERSIONS {
            for id in 0..KEYS {
                lines.push(item(id, format!("r{round}-v{version}-{id}"), 8));
            }
        }
        lines.push(state(json!({"round": round})));
        let output = run_debug(&schema, lanes.clone(), &jsonl(&lines));
        output.assert_success();
        assert_eq!(output.states(), vec![json!({"round": round})]);
        let lanes = lanes_used(&output.stderr);
        assert!(lanes.len() > 1, "expected several lanes, saw {lanes:?}");
        assert_eq!(schema.count("items"), KEYS as i64);
        let stale = scalar_i64(&format!(
            "SELECT count(*) FROM {table} WHERE v <> 'r{round}-v{}-' || id",
            VERSIONS - 1
        ));
        assert_eq!(stale, 0, "round {round}: some key kept an older version");
    }
}

/// The target started on `input` with stdout to a file, so that what it has written can be
/// read while it runs.
struct Running {
    child: Child,
    stdout: TempFile,
    _config: TempFile,
}

impl Running {
    fn start(schema: &TestSchema, extra: Value, input: &str) -> Running {
        let config = TempFile::new(
            ".json",
            merged(base_config(schema), extra).to_string().as_bytes(),
        );
        let stdout = TempFile::new(".out", b"");
        let out = std::fs::File::create(stdout.arg()).expect("stdout file");
        let mut child = Command::new(BIN)
            .args(["--config", &config.arg()])
            .env("RUST_LOG", "debug")
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the target");
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(input.as_bytes()).expect("write input");
        drop(stdin);
        Running {
            child,
            stdout,
            _config: config,
        }
    }

    fn written(&self) -> String {
        std::fs::read_to_string(self.stdout.arg()).unwrap_or_default()
    }

    fn finish(self) -> (std::process::ExitStatus, String, String) {
        let output = self.child.wait_with_output().expect("wait for the target");
        let stdout = std::fs::read_to_string(self.stdout.arg()).unwrap_or_default();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status, stdout, stderr)
    }
}

/// Waits until `sql` (a boolean query) holds.
fn wait_until(what: &str, sql: &str, running: &mut Running) {
    let started = Instant::now();
    while !scalar_bool(sql) {
        if let Ok(Some(status)) = running.child.try_wait() {
            panic!("the target exited ({status}) before {what}");
        }
        assert!(started.elapsed() < OBSERVE_LIMIT, "never saw {what}");
        sleep(Duration::from_millis(50));
    }
}

/// The pid of the target's session (by application name) that waits for a lock, if any.
fn lock_waiter(app: &str) -> String {
    format!(
        "SELECT pid FROM pg_stat_activity WHERE application_name = {} AND wait_event_type = 'Lock'",
        ql(app)
    )
}

/// `count` records of 1 KiB: 200 of them make one batch (the first flush is 256 KiB) that
/// two lanes split.
fn rows_of(count: i64, tag: &str, kib: usize) -> Vec<String> {
    (1..=count)
        .map(|id| item(id, format!("{tag}{id}"), kib))
        .collect()
}

/// Starts the target with two lanes on 200 records of `items` (values `tag` + id) and a
/// state, under an application name of its own (returned), and waits until one lane waits
/// for a lock the test holds (on key 7) while the other lane's rows are committed.
fn start_with_a_lane_held(schema: &TestSchema, tag: &str) -> (Running, String) {
    let app = format!("tp-lanes-{}", unique());
    let table = schema.table("items");
    let mut lines = vec![keyed_schema("items")];
    lines.extend(rows_of(200, tag, 1));
    lines.push(state(json!({"done": true})));
    let extra = json!({"lanes": 2, "max_parallelism": 2, "application_name": app});
    let mut running = Running::start(schema, extra, &jsonl(&lines));
    wait_until(
        "a lane waiting for key 7",
        &format!("SELECT EXISTS ({})", lock_waiter(&app)),
        &mut running,
    );
    wait_until(
        "the other lane's rows committed",
        &format!("SELECT count(*) > 0 FROM {table} WHERE v LIKE '{tag}%'"),
        &mut running,
    );
    (running, app)
}

/// Waits for the target to exit 0 with the state out and all 200 rows of `tag` in
/// `table`; returns its stderr.
fn finishes_with_every_row(running: Running, table: &str, tag: &str) -> String {
    let (status, stdout, stderr) = running.finish();
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout.trim(), json!({"done": true}).to_string());
    assert_eq!(
        scalar_i64(&format!(
            "SELECT count(*) FROM {table} WHERE v = '{tag}' || id"
        )),
        200
    );
    stderr
}

#[test]
fn a_state_waits_for_a_lane_held_back_by_a_row_lock() {
    let schema = TestSchema::new("lanes_state_lock");
    schema.create();
    let table = schema.table("items");
    schema.execute(&format!(
        "CREATE TABLE {table} (id bigint PRIMARY KEY, v text, pad text);
         INSERT INTO {table} SELECT g, 'old' FROM generate_series(1, 200) g"
    ));
    let mut locker = connect();
    let mut lock = locker.transaction().expect("begin");
    lock.batch_execute(&format!("SELECT * FROM {table} WHERE id = 7 FOR UPDATE"))
        .expect("lock row 7");
    let (running, _) = start_with_a_lane_held(&schema, "new");
    assert_eq!(
        running.written(),
        "",
        "a state went out while a lane still held uncommitted rows"
    );
    lock.rollback().expect("release the lock");
    finishes_with_every_row(running, &table, "new");
}

#[test]
fn a_lane_whose_connection_is_killed_mid_copy_is_retried_alone() {
    let schema = TestSchema::new("lanes_kill");
    schema.create();
    let table = schema.table("items");
    schema.execute(&format!(
        "CREATE TABLE {table} (id bigint PRIMARY KEY, v text, pad text)"
    ));
    // An uncommitted row with key 7: the direct COPY of the lane carrying key 7 waits on it.
    let mut holder = connect();
    let mut hold = holder.transaction().expect("begin");
    hold.batch_execute(&format!("INSERT INTO {table} VALUES (7, 'held', '')"))
        .expect("insert key 7");
    let (mut running, app) = start_with_a_lane_held(&schema, "row");
    let committed_before_kill = scalar_i64(&format!("SELECT count(*) FROM {table}"));
    let killed = scalar_i64(&format!(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM ({}) w",
        lock_waiter(&app)
    ));
    assert_eq!(killed, 1);
    wait_until(
        "the retried lane waiting on key 7 again",
        &format!(
            "SELECT EXISTS ({}) AND (SELECT count(*) FROM {table}) = {committed_before_kill}",
            lock_waiter(&app)
        ),
        &mut running,
    );
    assert_eq!(running.written(), "");
    hold.rollback().expect("release key 7");
    let stderr = finishes_with_every_row(running, &table, "row");
    let retries = stderr.lines().filter(|l| l.contains("retrying")).count();
    assert_eq!(retries, 1, "only the killed lane retries:\n{stderr}");
    let flushes = stderr
        .lines()
        .filter(|l| l.contains("flushed") && l.contains("rows of stream"))
        .count();
    assert_eq!(flushes, 2, "each lane commits its part once:\n{stderr}");
}

#[test]
fn overwrite_with_lanes_keeps_the_last_version_of_each_key_and_drops_the_rest() {
    let schema = TestSchema::new("lanes_overwrite");
    schema.create();
    let table = schema.table("items");
    schema.execute(&format!(
        "CREATE TABLE {table} (id bigint PRIMARY KEY, v text, pad text);
         INSERT INTO {table} SELECT g, 'stale' FROM generate_series(1000, 1100) g"
    ));
    let mut lines = vec![keyed_schema("items")];
    for version in 0..5 {
        lines.extend(rows_of(300, &format!("v{version}-"), 8));
    }
    lines.push(state(json!({"done": true})));
    let extra = json!({"lanes": 4, "max_parallelism": 4, "batch_size_rows": 41,
                       "load_method": "overwrite"});
    let output = run_debug(&schema, extra, &jsonl(&lines));
    output.assert_success();
    assert_eq!(output.states(), vec![json!({"done": true})]);
    assert!(lanes_used(&output.stderr).len() > 1);
    assert_eq!(schema.count("items"), 300);
    assert_eq!(
        scalar_i64(&format!(
            "SELECT count(*) FROM {table} WHERE v = 'v4-' || id"
        )),
        300
    );
}

#[test]
fn activate_version_with_lanes_deletes_exactly_the_older_versions() {
    let schema = TestSchema::new("lanes_activate");
    let table = schema.table("items");
    let extra = json!({"lanes": 3, "max_parallelism": 3, "batch_size_rows": 29,
                       "add_record_metadata": true, "hard_delete": true});
    let versioned = |id: i64, version: i64| {
        json!({"type": "RECORD", "stream": "items", "version": version,
               "record": {"id": id, "v": format!("{version}-{id}"), "pad": "x".repeat(8192)}})
        .to_string()
    };
    let activate = |version: i64| {
        json!({"type": "ACTIVATE_VERSION", "stream": "items", "version": version}).to_string()
    };
    let mut lines = vec![keyed_schema("items")];
    lines.extend((1..=400).map(|id| versioned(id, 1)));
    lines.push(activate(1));
    // Version 2 keeps the even keys only; its ACTIVATE_VERSION deletes the odd ones.
    lines.extend(
        (1..=400)
            .filter(|id| id % 2 == 0)
            .map(|id| versioned(id, 2)),
    );
    lines.push(activate(2));
    lines.extend((401..=450).map(|id| versioned(id, 2)));
    lines.push(state(json!({"done": true})));
    let output = run_debug(&schema, extra, &jsonl(&lines));
    output.assert_success();
    assert!(lanes_used(&output.stderr).len() > 1);
    assert_eq!(schema.count("items"), 250);
    assert_eq!(
        scalar_i64(&format!(
            "SELECT count(*) FROM {table} WHERE v = '2-' || id AND (id % 2 = 0 OR id > 400)"
        )),
        250
    );
}
