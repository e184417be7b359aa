//! Crash and restart: 200k keyed rows with a STATE every 1,000 records; the target is killed
//! with SIGKILL at seeded random moments, and each time the input is replayed from the message
//! after the last state it wrote — what a Singer orchestrator does. The final table must equal
//! a clean load exactly: nothing lost (every key, with its last value) and nothing doubled.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;

use crate::support::*;

const RECORDS: usize = 200_000;
const STATE_EVERY: usize = 1_000;

/// The input lines: the SCHEMA, then records of 2 streams with repeated keys (so replays and
/// merges overlap), a STATE every 1,000 records carrying how many came before it.
fn input() -> Vec<String> {
    let mut lines = Vec::with_capacity(RECORDS + RECORDS / STATE_EVERY + 2);
    for stream in ["a", "b"] {
        lines.push(schema_msg(
            stream,
            json!({"id": {"type": "integer"}, "v": {"type": "integer"}, "pad": {"type": "string"}}),
            &["id"],
        ));
    }
    for n in 0..RECORDS {
        let stream = if n % 3 == 0 { "b" } else { "a" };
        // Keys repeat across the input: the last record of a key decides its value.
        let id = (n * 7919) % 60_000;
        lines.push(record(
            stream,
            json!({"id": id, "v": n, "pad": "p".repeat(n % 50)}),
        ));
        if (n + 1) % STATE_EVERY == 0 {
            lines.push(state(json!({"records": n + 1})));
        }
    }
    lines
}

/// Runs the target on `lines`, killing it after `kill_after` if it is still running; returns
/// the last state it wrote and whether it finished on its own.
fn run_once(
    schema: &TestSchema,
    lines: &[String],
    kill_after: Option<Duration>,
) -> (Option<usize>, bool) {
    let config = merged(
        base_config(schema),
        json!({"batch_size_rows": 2_500, "max_parallelism": 3}),
    );
    let (mut child, _config) = spawn_target(&config, "error", Stdio::null());
    let mut stdin = child.stdin.take().expect("stdin");
    let input: Vec<String> = lines.to_vec();
    let writer = std::thread::spawn(move || {
        for line in input {
            if writeln!(stdin, "{line}").is_err() {
                return; // killed
            }
        }
    });
    let stdout = child.stdout.take().expect("stdout");
    let (states, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let value: serde_json::Value = serde_json::from_str(&line).expect("state is JSON");
            let _ = states.send(value["records"].as_u64().expect("records") as usize);
        }
    });
    let finished = match kill_after {
        Some(delay) => {
            std::thread::sleep(delay);
            match child.try_wait().expect("try_wait") {
                Some(status) => {
                    assert!(status.success(), "{status}");
                    true
                }
                None => {
                    child.kill().expect("SIGKILL");
                    let _ = child.wait();
                    false
                }
            }
        }
        None => {
            let status = child.wait().expect("wait");
            assert!(status.success(), "{status}");
            true
        }
    };
    let _ = writer.join();
    let _ = reader.join();
    (received.try_iter().last(), finished)
}

/// The lines to send after a crash whose last state covered `records`: the SCHEMAs, then
/// everything after that STATE message.
fn resume_from(lines: &[String], records: Option<usize>) -> Vec<String> {
    let schemas = lines.iter().take(2).cloned();
    match records {
        None => lines.to_vec(),
        Some(records) => {
            let marker = state(json!({"records": records}));
            let after = lines
                .iter()
                .position(|line| *line == marker)
                .map_or(lines.len(), |at| at + 1);
            schemas.chain(lines[after..].iter().cloned()).collect()
        }
    }
}

fn table_digest(schema: &TestSchema, table: &str) -> (i64, Option<String>) {
    let rows = text_rows(&format!(
        "SELECT count(*)::text, md5(string_agg(id::text || ':' || v::text || ':' || pad, ',' ORDER BY id)) FROM {}",
        schema.table(table)
    ));
    let count = rows[0][0].as_deref().unwrap_or("0").parse().unwrap_or(0);
    (count, rows[0][1].clone())
}

#[test]
fn killed_runs_replayed_from_their_last_state_equal_a_clean_load() {
    let lines = input();

    let clean = TestSchema::new("crash_clean");
    let (last, finished) = run_once(&clean, &lines, None);
    assert!(finished);
    assert_eq!(last, Some(RECORDS));

    let crashed = TestSchema::new("crash_replay");
    // Seeded kill moments, from early (before any commit) to mid-load.
    let mut seed: u64 = 20_261_124;
    let mut pending = lines.clone();
    let mut kills = 0;
    let mut last_state: Option<usize> = None;
    for attempt in 0..12 {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let kill_after = (attempt < 8).then(|| Duration::from_millis(30 + (seed >> 33) % 700));
        let (last, finished) = run_once(&crashed, &pending, kill_after);
        if let Some(records) = last {
            assert!(
                last_state.is_none_or(|previous| records >= previous),
                "states went backwards"
            );
            last_state = Some(records);
        }
        if finished {
            break;
        }
        kills += 1;
        pending = resume_from(&lines, last_state);
    }
    assert!(kills >= 5, "only {kills} runs were killed mid-load");
    assert_eq!(last_state, Some(RECORDS), "the replays never finished");
    for table in ["a", "b"] {
        assert_eq!(
            table_digest(&crashed, table),
            table_digest(&clean, table),
            "table {table} differs from a clean load"
        );
    }
}
