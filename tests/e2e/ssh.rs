//! The SSH tunnel (`ssh_tunnel`) against a real OpenSSH server that each test starts for
//! itself: Debian's `/usr/sbin/sshd` on a free loopback port, with a private `sshd_config`,
//! host key and authorized keys in a temporary directory (`ssh-keygen` makes the keys), and
//! forwarding allowed to the test database's host and port only.
//!
//! sshd's own log (`LogLevel DEBUG1`) shows each `direct-tcpip` request, which is how the tests
//! know that the rows really went through the bastion. Without sshd, or without root (sshd's
//! privilege separation needs it), the tests say loudly that they are skipped; on CI
//! (`CI=true`, where `scripts/test` installs openssh-server as root) they fail instead.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

const SSHD: &str = "/usr/sbin/sshd";
/// The passphrase of the protected test keys.
const PASSPHRASE: &str = "correct horse battery staple";

/// One sshd of a test, with its keys; stopped (with every session process) when dropped.
struct SshServer {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
    /// The database's host and port, as the URL names them (and sshd permits).
    db_host: String,
    db_port: u16,
}

impl SshServer {
    /// Starts sshd for `test`, or says why it cannot and gives `None` (failing on CI).
    fn start_for(test: &str) -> Option<SshServer> {
        let missing = if !Path::new(SSHD).exists() {
            Some(format!(
                "{SSHD} is missing (Debian's openssh-server; scripts/test installs it)"
            ))
        } else if !is_root() {
            Some("sshd's privilege separation needs root".to_string())
        } else {
            None
        };
        if let Some(why) = missing {
            assert!(
                std::env::var("CI").ok().as_deref() != Some("true"),
                "{test} cannot run on CI: {why}"
            );
            eprintln!("*** SKIPPED {test}: {why} ***");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("tp_sshd_{}_{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let config = postgres::Config::from_str(&db_url()).expect("test URL");
        let db_host = match config.get_hosts().first() {
            Some(postgres::config::Host::Tcp(host)) => host.clone(),
            _ => "127.0.0.1".to_string(),
        };
        let db_port = config.get_ports().first().copied().unwrap_or(5432);
        let mut server = SshServer {
            dir,
            port: free_port(),
            child: None,
            db_host,
            db_port,
        };
        server.keygen("host_key", "ed25519", None, &[]);
        server.keygen("user_key", "ed25519", None, &[]);
        server.keygen("protected_key", "ed25519", Some(PASSPHRASE), &[]);
        server.keygen(
            "protected_rsa_pem",
            "rsa",
            Some(PASSPHRASE),
            &["-b", "2048", "-m", "PEM"],
        );
        server.keygen("stranger_key", "ed25519", None, &[]);
        let authorized: String = ["user_key", "protected_key", "protected_rsa_pem"]
            .iter()
            .map(|name| server.read(&format!("{name}.pub")))
            .collect();
        std::fs::write(server.dir.join("authorized_keys"), authorized).expect("authorized_keys");
        // sshd's privilege separation directory (made by the service, which does not run here).
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        std::fs::write(
            server.dir.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\nPidFile {dir}/sshd.pid\n\
                 AuthorizedKeysFile {dir}/authorized_keys\nStrictModes no\nUsePAM no\n\
                 PermitRootLogin prohibit-password\nPubkeyAuthentication yes\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nAllowTcpForwarding local\n\
                 PermitOpen {host}:{db_port}\nLogLevel DEBUG1\n",
                port = server.port,
                dir = server.dir.display(),
                host = server.db_host,
                db_port = server.db_port,
            ),
        )
        .expect("sshd_config");
        server.launch();
        Some(server)
    }

    /// `ssh-keygen` of a key pair `<name>` and `<name>.pub` in the directory.
    fn keygen(&self, name: &str, kind: &str, passphrase: Option<&str>, extra: &[&str]) {
        let path = self.dir.join(name);
        let status = Command::new("ssh-keygen")
            .args([
                "-q",
                "-t",
                kind,
                "-C",
                "",
                "-N",
                passphrase.unwrap_or(""),
                "-f",
            ])
            .arg(&path)
            .args(extra)
            .status()
            .expect("running ssh-keygen");
        assert!(status.success(), "ssh-keygen {name} failed");
    }

    /// A file of the directory as text.
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// A file of the directory as a config value.
    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    /// The host key's fingerprint as `ssh-keygen -lf` prints it.
    fn host_fingerprint(&self) -> String {
        let out = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(self.dir.join("host_key.pub"))
            .output()
            .expect("ssh-keygen -lf");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .expect("a fingerprint")
            .to_string()
    }

    /// Starts sshd (in the foreground, logging to sshd.log) and waits until it listens.
    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("sshd.log"))
            .expect("sshd.log");
        let child = Command::new(SSHD)
            .arg("-f")
            .arg(self.dir.join("sshd_config"))
            .args(["-D", "-e"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting sshd");
        self.child = Some(child);
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "sshd did not listen on port {}:\n{}",
                self.port,
                self.read("sshd.log")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills sshd and every session process it forked (SIGKILL: no goodbye to the client),
    /// as a crashed or rebooted bastion would vanish.
    fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let mut pids = descendants(child.id());
        pids.push(child.id());
        let _ = Command::new("kill")
            .arg("-9")
            .args(pids.iter().map(u32::to_string))
            .stderr(Stdio::null())
            .status();
        let _ = child.wait();
    }

    /// How many `direct-tcpip` forwards sshd has logged (each one a database connection).
    fn forwards(&self) -> usize {
        self.read("sshd.log")
            .lines()
            .filter(|line| line.contains("server_request_direct_tcpip"))
            .count()
    }

    /// The `ssh_tunnel` setting for this server with `key` (a file of the directory) and
    /// the host key pinned by fingerprint, plus `extra` fields.
    fn tunnel(&self, key: &str, extra: Value) -> Value {
        let mut tunnel = json!({
            "enable": true,
            "host": "127.0.0.1",
            "port": self.port,
            "username": current_user(),
            "private_key": self.path(key),
            "host_key_fingerprint": self.host_fingerprint(),
        });
        if let (Some(object), Value::Object(extra)) = (tunnel.as_object_mut(), extra) {
            for (k, v) in extra {
                if v.is_null() {
                    object.remove(&k);
                } else {
                    object.insert(k, v);
                }
            }
        }
        tunnel
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The processes descended from `pid` (sshd's session processes), read from /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...; comm may hold spaces, so split after its ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|ppid| ppid.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.push((child, ppid));
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (child, ppid) in &parents {
            if *ppid == parent && !found.contains(child) {
                found.push(*child);
                frontier.push(*child);
            }
        }
    }
    found
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

fn current_user() -> String {
    Command::new("id")
        .arg("-un")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_else(|_| "root".to_string())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("no free port")
}

/// `n` keyed records of stream `t`, with a schema first and a state last.
fn keyed_input(n: usize) -> String {
    let mut input = schema_msg(
        "t",
        json!({"id": {"type": "integer"}, "v": {"type": "string"}}),
        &["id"],
    );
    input.push('\n');
    for id in 0..n {
        input.push_str(&format!(
            "{{\"type\":\"RECORD\",\"stream\":\"t\",\"record\":{{\"id\":{id},\"v\":\"value {id}\"}}}}\n"
        ));
    }
    input.push_str(&state(json!({"done": n})));
    input.push('\n');
    input
}

/// Runs the target with a HOME of its own (no ~/.ssh/known_hosts of the machine's user).
fn run_home(config: &Value, home: &Path, input: &str) -> Output {
    let file = TempFile::new(".json", config.to_string().as_bytes());
    run_args(
        &["--config", &file.arg()],
        input.as_bytes(),
        &[("HOME", &home.to_string_lossy())],
    )
}

/// Asserts that the table holds exactly ids 0..n with their values.
#[track_caller]
fn assert_exact(schema: &TestSchema, n: usize) {
    let row = connect()
        .query_one(
            &format!(
                "SELECT count(*), count(DISTINCT id), min(id), max(id), bool_and(v = 'value ' || id) FROM {}",
                schema.table("t")
            ),
            &[],
        )
        .expect("reading the table back");
    assert_eq!(row.get::<_, i64>(0), n as i64, "rows lost or doubled");
    assert_eq!(row.get::<_, i64>(1), n as i64);
    assert_eq!(row.get::<_, i64>(2), 0);
    assert_eq!(row.get::<_, i64>(3), n as i64 - 1);
    assert!(row.get::<_, bool>(4));
}

#[test]
fn a_load_through_the_tunnel_is_exact_and_every_connection_is_forwarded_by_the_bastion() {
    let Some(server) = SshServer::start_for("the SSH tunnel load test") else {
        return;
    };
    let schema = TestSchema::new("ssh_load");
    // Several flushes in parallel: the direct connection and pooled ones, all tunnelled.
    let config = merged(
        base_config(&schema),
        json!({"ssh_tunnel": server.tunnel("user_key", json!({})),
               "batch_size_rows": 2000, "max_parallelism": 3}),
    );
    let n = 20_000;
    let out = run_with_config(&config, &[], keyed_input(n).as_bytes());
    out.assert_success();
    assert_eq!(out.states(), vec![json!({"done": n})]);
    out.assert_stderr_has(&["SSH tunnel through"]);
    assert_exact(&schema, n);
    // The direct connection plus at least one pooled one went through sshd.
    assert!(
        server.forwards() >= 2,
        "sshd forwarded {} connections:\n{}",
        server.forwards(),
        server.read("sshd.log")
    );
}

#[test]
fn passphrase_protected_keys_as_text_and_as_a_pem_file_with_a_known_hosts_file() {
    let Some(server) = SshServer::start_for("the SSH passphrase test") else {
        return;
    };
    let known_hosts = server.dir.join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!(
            "[127.0.0.1]:{} {}",
            server.port,
            server.read("host_key.pub")
        ),
    )
    .expect("known_hosts");
    for (key, as_text) in [("protected_key", true), ("protected_rsa_pem", false)] {
        let schema = TestSchema::new("ssh_passphrase");
        let private_key = if as_text {
            Value::String(server.read(key))
        } else {
            Value::String(server.path(key))
        };
        let tunnel = server.tunnel(
            key,
            json!({"private_key": private_key, "private_key_password": PASSPHRASE,
                   "host_key_fingerprint": null, "known_hosts": known_hosts.to_string_lossy()}),
        );
        let out = run_target(&schema, json!({"ssh_tunnel": tunnel}), &keyed_input(10));
        out.assert_success();
        assert_exact(&schema, 10);
        assert!(!out.stderr.contains(PASSPHRASE), "{out}");
    }
}

#[test]
fn a_wrong_key_or_passphrase_is_refused_with_a_clear_message() {
    let Some(server) = SshServer::start_for("the SSH wrong key test") else {
        return;
    };
    let schema = TestSchema::new("ssh_wrong_key");
    // A key the bastion does not know: refused at login, exit 1 like a wrong password.
    let out = run_target(
        &schema,
        json!({"ssh_tunnel": server.tunnel("stranger_key", json!({}))}),
        &keyed_input(1),
    );
    out.assert_load_failure().assert_stderr_has(&[
        "SSH tunnel through",
        "the bastion refused ssh_tunnel.private_key",
        "authorized_keys",
    ]);
    assert!(!schema.exists(), "nothing may be created");
    // The wrong passphrase, and none for an encrypted key: config errors, exit 2.
    for (password, needle) in [
        (
            json!("not the passphrase"),
            "cannot be decrypted with ssh_tunnel.private_key_password",
        ),
        (
            Value::Null,
            "is encrypted: set ssh_tunnel.private_key_password",
        ),
    ] {
        let out = run_target(
            &schema,
            json!({"ssh_tunnel": server.tunnel("protected_key",
                                               json!({"private_key_password": password}))}),
            &keyed_input(1),
        );
        assert_eq!(out.code, Some(2), "{out}");
        out.assert_stderr_has(&["\"ssh_tunnel.private_key\"", needle]);
        assert!(!out.stderr.contains("not the passphrase"), "{out}");
        assert!(!out.stderr.contains("BEGIN OPENSSH"), "{out}");
    }
}

#[test]
fn an_unknown_host_key_is_refused_and_the_right_fingerprint_or_known_hosts_entry_accepted() {
    let Some(server) = SshServer::start_for("the SSH host key test") else {
        return;
    };
    let home = server.dir.join("home");
    std::fs::create_dir_all(home.join(".ssh")).expect("home");
    let schema = TestSchema::new("ssh_host_key");
    let fingerprint = server.host_fingerprint();
    let config = |tunnel: Value| merged(base_config(&schema), json!({ "ssh_tunnel": tunnel }));

    // Nothing pinned and nothing in ~/.ssh/known_hosts: refused, naming the key to pin.
    let unpinned = server.tunnel("user_key", json!({"host_key_fingerprint": null}));
    let out = run_home(&config(unpinned.clone()), &home, &keyed_input(1));
    out.assert_load_failure().assert_stderr_has(&[
        "is not trusted",
        &format!("ssh_tunnel.host_key_fingerprint to \"{fingerprint}\""),
    ]);
    // Another fingerprint pinned: refused too.
    let other = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
    let out = run_home(
        &config(server.tunnel("user_key", json!({"host_key_fingerprint": other}))),
        &home,
        &keyed_input(1),
    );
    out.assert_load_failure()
        .assert_stderr_has(&["is not trusted", other]);
    assert!(!schema.exists(), "nothing may be created");

    // Another key recorded for the bastion in ~/.ssh/known_hosts: refused as changed.
    let user_known_hosts = home.join(".ssh").join("known_hosts");
    std::fs::write(
        &user_known_hosts,
        format!(
            "[127.0.0.1]:{} {}",
            server.port,
            server.read("stranger_key.pub")
        ),
    )
    .expect("known_hosts");
    let out = run_home(&config(unpinned.clone()), &home, &keyed_input(1));
    out.assert_load_failure()
        .assert_stderr_has(&["host key has CHANGED"]);

    // The right key in ~/.ssh/known_hosts (as `ssh` would have it), then the right pin.
    std::fs::write(
        &user_known_hosts,
        format!(
            "[127.0.0.1]:{} {}",
            server.port,
            server.read("host_key.pub")
        ),
    )
    .expect("known_hosts");
    let out = run_home(&config(unpinned), &home, &keyed_input(3));
    out.assert_success();
    std::fs::remove_file(&user_known_hosts).expect("rm known_hosts");
    let out = run_home(
        &config(server.tunnel("user_key", json!({}))),
        &home,
        &keyed_input(5),
    );
    out.assert_success();
    assert_exact(&schema, 5);

    // accept_any_host_key: accepted, with a warning naming the key.
    let out = run_home(
        &config(server.tunnel(
            "user_key",
            json!({"host_key_fingerprint": null, "accept_any_host_key": true}),
        )),
        &home,
        &keyed_input(5),
    );
    out.assert_success()
        .assert_stderr_has(&["WITHOUT being checked", &fingerprint]);
}

#[test]
fn a_forward_the_bastion_does_not_permit_is_refused_with_its_reason() {
    let Some(server) = SshServer::start_for("the SSH refused forward test") else {
        return;
    };
    let schema = TestSchema::new("ssh_refused_forward");
    // sshd permits forwarding to the test database's port only.
    let url = postgres::Config::from_str(&db_url()).expect("URL");
    let other_port = if server.db_port == 1 {
        2
    } else {
        server.db_port - 1
    };
    let config = json!({
        "host": server.db_host, "port": other_port,
        "user": url.get_user().unwrap_or("postgres"),
        "password": url.get_password().map(|p| String::from_utf8_lossy(p).into_owned()),
        "database": url.get_dbname().unwrap_or("postgres"),
        "schema": schema.name, "connect_timeout_seconds": 1,
        "ssh_tunnel": server.tunnel("user_key", json!({})),
    });
    let out = run_with_config(&config, &[], keyed_input(1).as_bytes());
    out.assert_load_failure().assert_stderr_has(&[
        &format!(
            "the bastion refused to forward to {}:{other_port}",
            server.db_host
        ),
        "not allowed",
    ]);
}

#[test]
fn the_bastion_killed_mid_load_is_reconnected_and_the_load_finishes_exact() {
    let Some(mut server) = SshServer::start_for("the SSH tunnel outage test") else {
        return;
    };
    let schema = TestSchema::new("ssh_outage");
    let n = 200_000;
    let config = merged(
        base_config(&schema),
        json!({"ssh_tunnel": server.tunnel("user_key", json!({})),
               "batch_size_rows": 5000, "flush_chunk_mb": 1, "max_parallelism": 2}),
    );
    let (mut child, _config) = spawn_target(&config, "warn", Stdio::piped());
    let mut stdin = child.stdin.take().expect("stdin");
    let input = keyed_input(n);
    let (first, second) = input.split_at(input.len() / 2);
    let (first, second) = (first.to_string(), second.to_string());
    let (go_on, resume) = std::sync::mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        stdin.write_all(first.as_bytes()).expect("write");
        stdin.flush().expect("flush");
        let _ = resume.recv();
        stdin.write_all(second.as_bytes()).expect("write");
    });
    // Once rows have arrived through the tunnel, lock the table: the flushes of the second
    // half then wait inside their transactions, so that killing the bastion breaks a flush
    // in flight (not only idle connections), whatever the timing.
    let started = Instant::now();
    while scalar_rows(&schema) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no rows arrived through the tunnel"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut locker = connect();
    let mut lock = locker.transaction().expect("begin");
    lock.batch_execute(&format!(
        "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
        schema.table("t")
    ))
    .expect("lock");
    let _ = go_on.send(());
    let started = Instant::now();
    while waiting_flushes(&schema) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no flush came to wait for the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill();
    lock.commit().expect("unlock");
    std::thread::sleep(Duration::from_secs(1));
    server.launch();
    writer.join().expect("writer");
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!(r#"{{"done":{n}}}"#)
    );
    assert!(
        stderr.contains("was lost; connecting again"),
        "the lost session was not noticed:\n{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("flush of table") && l.contains("retrying")),
        "the broken flush was not replayed:\n{stderr}"
    );
    assert_exact(&schema, n);
}

/// Backends of the target waiting for a lock on the outage test's table.
fn waiting_flushes(schema: &TestSchema) -> i64 {
    connect()
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
             AND pid <> pg_backend_pid() AND query LIKE '%' || $1 || '%'",
            &[&schema.name],
        )
        .map(|row| row.get::<_, i64>(0))
        .unwrap_or(0)
}

/// Rows in the outage test's table so far (0 while it does not exist).
fn scalar_rows(schema: &TestSchema) -> i64 {
    if !schema.has_table("t") {
        return 0;
    }
    connect()
        .query_one(&format!("SELECT count(*) FROM {}", schema.table("t")), &[])
        .map(|row| row.get::<_, i64>(0))
        .unwrap_or(0)
}
