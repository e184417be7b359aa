//! Robust output and sessions: a closed stdout (`--about | head -1`, a reader that goes away
//! during a load).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{ChildStdin, Command, Stdio};

use serde_json::json;

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
