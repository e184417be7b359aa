//! Parallel flushes, watched live: while the target runs with several streams flushing at once,
//! every state line it writes is checked against the database at the moment it appears — all
//! records before that state must already be committed — and states must come in input order.
//! Also: a slow tap's rows and state go out after `max_batch_age_seconds`, and SIGTERM flushes
//! what was read, writes the state and exits 0.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

const STREAMS: usize = 3;

fn start_target(schema: &TestSchema, extra: Value) -> (std::process::Child, TempFile) {
    spawn_target(
        &merged(base_config(schema), extra),
        "warn",
        Stdio::inherit(),
    )
}

fn schema_lines() -> Vec<String> {
    (0..STREAMS)
        .map(|s| {
            schema_msg(
                &format!("s{s}"),
                json!({"id": {"type": "integer"}, "payload": {"type": "string"}}),
                &["id"],
            )
        })
        .collect()
}

#[test]
fn every_state_written_during_parallel_flushes_covers_committed_rows_only() {
    let schema = TestSchema::new("live_state");
    let (mut child, _config) = start_target(
        &schema,
        json!({"batch_size_rows": 37, "max_parallelism": 4}),
    );
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");

    // Records are spread unevenly over the streams, so flushes of different tables finish
    // in varying order. A STATE every 50 records carries how many records came before it.
    const RECORDS: usize = 3_000;
    let writer = std::thread::spawn(move || {
        for line in schema_lines() {
            writeln!(stdin, "{line}").expect("write");
        }
        for n in 0..RECORDS {
            let stream = (n * n) % STREAMS;
            let line = record(
                &format!("s{stream}"),
                json!({"id": n, "payload": "x".repeat(n % 200)}),
            );
            writeln!(stdin, "{line}").expect("write");
            if (n + 1) % 50 == 0 {
                writeln!(stdin, "{}", state(json!({"records": n + 1}))).expect("write");
                // Let the target flush and emit while input is still arriving.
                if (n + 1) % 500 == 0 {
                    std::thread::sleep(Duration::from_millis(30));
                }
            }
        }
    });

    let mut db = connect();
    let mut last_seen = 0u64;
    let mut states_seen = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read stdout");
        let value: Value = serde_json::from_str(&line).expect("state line is JSON");
        let records = value["records"].as_u64().expect("records");
        assert!(
            records > last_seen,
            "states out of order: {records} after {last_seen}"
        );
        last_seen = records;
        states_seen += 1;
        // Every record before this state must be committed right now.
        let committed: i64 = (0..STREAMS)
            .map(|s| {
                let sql = format!(
                    "SELECT count(*) FROM {} WHERE id < {records}",
                    schema.table(&format!("s{s}"))
                );
                db.query_one(sql.as_str(), &[])
                    .map(|row| row.get::<_, i64>(0))
                    .unwrap_or(0)
            })
            .sum();
        assert_eq!(
            committed, records as i64,
            "state {line} was written before its records were committed"
        );
    }
    writer.join().expect("writer thread");
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status}");
    assert_eq!(last_seen, RECORDS as u64, "the last state must be written");
    assert!(
        states_seen > 1,
        "states should flow during the load, saw {states_seen}"
    );
    for s in 0..STREAMS {
        let expected = (0..RECORDS).filter(|n| (n * n) % STREAMS == s).count() as i64;
        assert_eq!(schema.count(&format!("s{s}")), expected);
    }
}

#[test]
fn a_slow_tap_gets_its_state_after_max_batch_age_seconds() {
    let schema = TestSchema::new("batch_age");
    let (mut child, _config) = start_target(&schema, json!({"max_batch_age_seconds": 1}));
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    for line in schema_lines() {
        writeln!(stdin, "{line}").expect("write");
    }
    writeln!(stdin, "{}", record("s0", json!({"id": 1, "payload": "a"}))).expect("write");
    writeln!(stdin, "{}", state(json!({"records": 1}))).expect("write");
    stdin.flush().expect("flush");
    // The tap now goes quiet, with stdin still open: the state must arrive anyway.
    let started = Instant::now();
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read state");
    assert_eq!(line.trim(), r#"{"records":1}"#);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the state only came at end of input"
    );
    assert_eq!(schema.count("s0"), 1);
    drop(stdin);
    assert!(child.wait().expect("wait").success());
}

#[test]
fn sigterm_flushes_buffered_rows_writes_the_state_and_exits_zero() {
    let schema = TestSchema::new("sigterm");
    let (mut child, _config) = start_target(&schema, json!({"max_batch_age_seconds": 3600}));
    let mut stdin = child.stdin.take().expect("stdin");
    for line in schema_lines() {
        writeln!(stdin, "{line}").expect("write");
    }
    for id in 0..10 {
        writeln!(stdin, "{}", record("s1", json!({"id": id, "payload": "p"}))).expect("write");
    }
    writeln!(stdin, "{}", state(json!({"records": 10}))).expect("write");
    stdin.flush().expect("flush");
    // Give the target time to read the lines, then stop it while stdin is still open.
    std::thread::sleep(Duration::from_millis(500));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(0), "graceful stop exits 0");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.trim(), r#"{"records":10}"#);
    assert_eq!(schema.count("s1"), 10);
    drop(stdin);
}
