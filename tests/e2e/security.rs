//! Hostile names and least privilege: stream and property names full of quotes, semicolons,
//! comments and dollar quotes load as plain names; a role that may not create schemas loads
//! into an existing one with `skip_schema_creation`; a second signal stops at once.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::support::*;

const HOSTILE: &str = "x\"; DROP TABLE victim; -- $$ $tag$ ' \\";

#[test]
fn hostile_stream_and_property_names_cannot_inject_sql() {
    let schema = TestSchema::new("hostile");
    schema.create();
    schema.execute(&format!("CREATE TABLE {} (id int)", schema.table("victim")));
    let stream = format!("src-{HOSTILE}");
    let input = jsonl(&[
        schema_msg(
            &stream,
            json!({"id": {"type": "integer"}, HOSTILE: {"type": "string"}}),
            &["id"],
        ),
        record(&stream, json!({"id": 1, HOSTILE: HOSTILE})),
    ]);
    run_target(
        &schema,
        json!({"lower_case": false, "allow_reserved_words": true}),
        &input,
    )
    .assert_success();
    assert!(schema.has_table("victim"), "the victim table must survive");
    // Names are cleaned (not a letter, digit or _ → _), so the table and column are plain.
    let tables = schema.tables();
    assert_eq!(tables.len(), 2, "{tables:?}");
    let table = tables
        .iter()
        .find(|t| *t != "victim")
        .expect("loaded table");
    assert!(
        table.chars().all(|c| c.is_alphanumeric() || c == '_'),
        "{table}"
    );
    let values = strings(&format!("SELECT t::text FROM {} t", schema.table(table)));
    assert_eq!(values.len(), 1);
    assert!(values[0].contains("DROP TABLE victim"), "{values:?}");
}

#[test]
fn a_role_without_create_on_the_database_loads_into_an_existing_schema() {
    let schema = TestSchema::new("least_privilege");
    schema.create();
    let role = format!("tp_loader_{}_{}", std::process::id(), unique());
    schema.execute(&format!(
        "CREATE ROLE {role} LOGIN; REVOKE CREATE ON DATABASE postgres FROM {role}; \
         GRANT USAGE, CREATE ON SCHEMA {} TO {role}",
        qi(&schema.name)
    ));
    let config = merged(
        base_config(&schema),
        json!({"url": serde_json::Value::Null, "host": "127.0.0.1", "port": 5432,
               "user": role, "database": "postgres", "skip_schema_creation": true}),
    );
    let input = jsonl(&[
        schema_msg("t", json!({"id": {"type": "integer"}}), &["id"]),
        record("t", json!({"id": 1})),
    ]);
    let out = run_with_config(&config, &[], input.as_bytes());
    // Drop what the role owns before the schema guard drops the schema.
    let cleanup = format!(
        "DROP TABLE IF EXISTS {}; DROP OWNED BY {role}; DROP ROLE IF EXISTS {role}",
        schema.table("t")
    );
    let count = if out.code == Some(0) {
        schema.count("t")
    } else {
        -1
    };
    schema.execute(&cleanup);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(count, 1);
}

#[test]
fn a_second_signal_exits_at_once_without_writing_state() {
    let schema = TestSchema::new("second_signal");
    let config = merged(base_config(&schema), json!({"max_batch_age_seconds": 3600}));
    // Hold the first flush: a lock on the table makes the graceful stop wait.
    schema.create();
    schema.execute(&format!(
        "CREATE TABLE {} (id bigint PRIMARY KEY)",
        schema.table("t")
    ));
    let mut blocker = connect();
    let mut lock = blocker.transaction().expect("begin");
    lock.batch_execute(&format!(
        "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
        schema.table("t")
    ))
    .expect("lock");
    let (mut child, _config) = spawn_target(&config, "warn", Stdio::null());
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(
        stdin,
        "{}",
        schema_msg("t", json!({"id": {"type": "integer"}}), &["id"])
    )
    .expect("write");
    writeln!(stdin, "{}", record("t", json!({"id": 1}))).expect("write");
    writeln!(stdin, "{}", state(json!({"s": 1}))).expect("write");
    stdin.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(700));
    let signal = |pid: u32| {
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill")
    };
    signal(child.id());
    // The graceful stop is now waiting for the locked table; a second signal ends it.
    std::thread::sleep(Duration::from_millis(500));
    signal(child.id());
    let output = child.wait_with_output().expect("wait");
    lock.rollback().expect("rollback");
    assert_eq!(output.status.code(), Some(130));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "",
        "no state written"
    );
    drop(stdin);
}
