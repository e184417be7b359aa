//! A server restart in the middle of a 1M-row load: the test starts a throwaway PostgreSQL
//! cluster of its own (`pg_createcluster`, as root, which `scripts/test` runs as on CI), loads
//! into it, stops it (fast shutdown) for two seconds mid-load, and checks that the load completes,
//! the table is exact, the last state is written and the log shows the retries.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::support::*;

const ROWS: usize = 1_000_000;

#[test]
fn a_server_restart_mid_load_is_ridden_out_with_retries() {
    let Some(cluster) = Cluster::create_for("the outage test", "tp_outage") else {
        return;
    };
    cluster.ctl("start");
    let config = json!({"url": cluster.url("postgres"), "schema": "outage", "max_parallelism": 2});
    let (mut child, _config) = spawn_target(&config, "warn", Stdio::piped());
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let schema = schema_msg(
            "t",
            json!({"id": {"type": "integer"}, "v": {"type": "string"}}),
            &["id"],
        );
        writeln!(stdin, "{schema}").expect("write");
        let mut out = std::io::BufWriter::new(stdin);
        for id in 0..ROWS {
            writeln!(
                out,
                r#"{{"type":"RECORD","stream":"t","record":{{"id":{id},"v":"value {id}"}}}}"#
            )
            .expect("write");
            if id == ROWS / 3 {
                // Slow the input a moment so the restart lands while rows are flowing.
                out.flush().expect("flush");
            }
        }
        writeln!(out, "{}", state(json!({"done": ROWS}))).expect("write");
    });
    // Down for two seconds while rows keep coming: flushes in flight break, and new ones
    // cannot connect until the server is back.
    std::thread::sleep(Duration::from_millis(1500));
    cluster.ctl("stop");
    std::thread::sleep(Duration::from_secs(2));
    cluster.ctl("start");
    writer.join().expect("writer");
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!(r#"{{"done":{ROWS}}}"#)
    );
    assert!(
        stderr.contains("retrying"),
        "no retry in the log:\n{stderr}"
    );

    let mut client =
        postgres::Client::connect(&cluster.url("postgres"), postgres::NoTls).expect("connect");
    let row = client
        .query_one(
            "SELECT count(*), count(DISTINCT id), min(id), max(id), \
                    bool_and(v = 'value ' || id) FROM outage.t",
            &[],
        )
        .expect("query");
    assert_eq!(row.get::<_, i64>(0), ROWS as i64, "rows lost or doubled");
    assert_eq!(row.get::<_, i64>(1), ROWS as i64);
    assert_eq!(row.get::<_, i64>(2), 0);
    assert_eq!(row.get::<_, i64>(3), ROWS as i64 - 1);
    assert!(row.get::<_, bool>(4));
}
