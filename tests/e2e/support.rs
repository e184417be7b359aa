//! Shared helpers for the end-to-end tests: where the test database is, a per-test schema that
//! is dropped afterwards, running the built `target-postgres` binary with a config file and
//! JSONL on stdin, building Singer messages, reading tables back as strings or JSON, and
//! throwaway PostgreSQL clusters for tests that need a server of their own.
//!
//! Every test gets its own schema (`tp_<test>_<pid>_<n>`), so the tests of this binary run in
//! parallel against one server without seeing each other's tables.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The built binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_target-postgres");

/// A run that takes longer than this is treated as hung: the process is killed and the test
/// fails. It is a safety net against a deadlock, never a performance assertion.
const HANG_LIMIT: Duration = Duration::from_secs(180);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The database the tests load into: `TARGET_POSTGRES_TEST_URL`, or the local default.
pub fn db_url() -> String {
    std::env::var("TARGET_POSTGRES_TEST_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A fresh synchronous connection to the test database, with `TimeZone` UTC so timestamps
/// read back the same on every machine.
pub fn connect() -> postgres::Client {
    let mut client = postgres::Client::connect(&db_url(), postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to the test database {}: {e}", db_url()));
    client
        .batch_execute("SET TIME ZONE 'UTC'")
        .unwrap_or_else(|e| panic!("setting the time zone: {e}"));
    client
}

/// The server's message for a database error, or the client error itself.
pub fn db_err(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// A unique number for this process (schema names, temp file names).
pub fn unique() -> usize {
    COUNTER.fetch_add(1, Ordering::SeqCst)
}

/// Quotes an identifier for SQL text written by the tests.
pub fn qi(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string literal for SQL text written by the tests.
pub fn ql(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A uniquely named schema for one test. Creating the guard creates nothing in the database
/// (the target creates the schema); dropping it drops the schema with everything in it.
pub struct TestSchema {
    /// The schema name, exactly as it is in the database.
    pub name: String,
}

impl TestSchema {
    /// A lower-case schema name `tp_<test>_<pid>_<n>`, at most 63 bytes.
    pub fn new(test: &str) -> TestSchema {
        let test: String = test
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(32)
            .collect();
        let name = format!("tp_{test}_{}_{}", std::process::id(), unique());
        TestSchema::named(name)
    }

    /// A guard for an exact schema name (for tests about verbatim names).
    pub fn named(name: String) -> TestSchema {
        assert!(name.len() <= 63, "test schema name too long: {name}");
        let schema = TestSchema { name };
        // A leftover from an earlier crashed run with the same pid must not leak into this one.
        schema.drop_now();
        schema
    }

    /// `"schema"."table"`, quoted.
    pub fn table(&self, table: &str) -> String {
        format!("{}.{}", qi(&self.name), qi(table))
    }

    /// Creates the schema (for tests that prepare tables the way another loader would).
    pub fn create(&self) {
        connect()
            .batch_execute(&format!("CREATE SCHEMA {}", qi(&self.name)))
            .unwrap_or_else(|e| panic!("creating schema {}: {}", self.name, db_err(&e)));
    }

    /// Runs SQL text (several statements allowed) against the test database.
    pub fn execute(&self, sql: &str) {
        connect()
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("running {sql}: {}", db_err(&e)));
    }

    /// Whether the schema exists.
    pub fn exists(&self) -> bool {
        scalar_bool(&format!(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = {})",
            ql(&self.name)
        ))
    }

    /// The tables (relkind `r`) in the schema, sorted by name.
    pub fn tables(&self) -> Vec<String> {
        strings(&format!(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = {} AND c.relkind IN ('r', 'p') ORDER BY c.relname",
            ql(&self.name)
        ))
    }

    /// Whether `table` exists in the schema.
    pub fn has_table(&self, table: &str) -> bool {
        self.tables().iter().any(|t| t == table)
    }

    /// `(column name, format_type)` of every live column of `table`, in column order.
    pub fn columns(&self, table: &str) -> Vec<(String, String)> {
        let mut client = connect();
        let rows = client
            .query(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) \
                 FROM pg_attribute a \
                 JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped \
                 ORDER BY a.attnum",
                &[&self.name, &table],
            )
            .unwrap_or_else(|e| panic!("reading columns of {table}: {}", db_err(&e)));
        rows.iter().map(|r| (r.get(0), r.get(1))).collect()
    }

    /// The column names of `table`, in column order.
    pub fn column_names(&self, table: &str) -> Vec<String> {
        self.columns(table).into_iter().map(|(n, _)| n).collect()
    }

    /// The primary key columns of `table`, in key order (empty without a primary key).
    pub fn primary_key(&self, table: &str) -> Vec<String> {
        strings(&format!(
            "SELECT a.attname::text FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = {}::regclass AND i.indisprimary \
             ORDER BY array_position(i.indkey::int2[], a.attnum)",
            ql(&self.table(table))
        ))
    }

    /// Every row of `table` as a JSON object (`to_jsonb`), ordered by `order_by` (SQL text).
    pub fn rows(&self, table: &str, order_by: &str) -> Vec<Value> {
        json_rows(&format!(
            "SELECT to_jsonb(t)::text FROM {} t ORDER BY {order_by}",
            self.table(table)
        ))
    }

    /// Number of rows in `table`.
    pub fn count(&self, table: &str) -> i64 {
        scalar_i64(&format!("SELECT count(*) FROM {}", self.table(table)))
    }

    /// Drops the schema now (also done on drop).
    pub fn drop_now(&self) {
        if let Ok(mut client) = postgres::Client::connect(&db_url(), postgres::NoTls) {
            let _ =
                client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", qi(&self.name)));
        }
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        self.drop_now();
    }
}

/// One column of every row of `sql`, each cell as text (`NULL` → `None`). The query must
/// return one `text` column.
pub fn opt_strings(sql: &str) -> Vec<Option<String>> {
    let mut client = connect();
    let rows = client
        .query(sql, &[])
        .unwrap_or_else(|e| panic!("running {sql}: {}", db_err(&e)));
    rows.iter().map(|r| r.get::<_, Option<String>>(0)).collect()
}

/// One non-null `text` column of every row of `sql`.
pub fn strings(sql: &str) -> Vec<String> {
    opt_strings(sql)
        .into_iter()
        .map(|s| s.unwrap_or_else(|| panic!("unexpected NULL from {sql}")))
        .collect()
}

/// Every row of `sql` as text cells: the query's columns are cast by the caller as needed;
/// each cell is read as `text` (use `::text` in the query).
pub fn text_rows(sql: &str) -> Vec<Vec<Option<String>>> {
    let mut client = connect();
    let rows = client
        .query(sql, &[])
        .unwrap_or_else(|e| panic!("running {sql}: {}", db_err(&e)));
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.get::<_, Option<String>>(i))
                .collect()
        })
        .collect()
}

/// One `text` column of JSON per row, parsed.
pub fn json_rows(sql: &str) -> Vec<Value> {
    strings(sql)
        .iter()
        .map(|s| serde_json::from_str(s).unwrap_or_else(|e| panic!("bad JSON {s}: {e}")))
        .collect()
}

/// The single `text` value of `sql`.
pub fn scalar(sql: &str) -> Option<String> {
    let mut all = opt_strings(sql);
    assert_eq!(all.len(), 1, "expected one row from {sql}");
    all.remove(0)
}

/// The single `bigint` value of `sql`.
pub fn scalar_i64(sql: &str) -> i64 {
    let mut client = connect();
    client
        .query_one(sql, &[])
        .unwrap_or_else(|e| panic!("running {sql}: {}", db_err(&e)))
        .get(0)
}

/// The single `boolean` value of `sql`.
pub fn scalar_bool(sql: &str) -> bool {
    let mut client = connect();
    client
        .query_one(sql, &[])
        .unwrap_or_else(|e| panic!("running {sql}: {}", db_err(&e)))
        .get(0)
}

/// What a run of the binary left behind.
#[derive(Debug)]
pub struct Output {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

impl Output {
    /// The stdout lines (without line ends).
    pub fn lines(&self) -> Vec<String> {
        self.stdout.lines().map(str::to_string).collect()
    }

    /// Every stdout line parsed as JSON: the state values written, in order.
    pub fn states(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l:?}\n{self}"))
            })
            .collect()
    }

    /// Asserts exit code 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert_eq!(self.code, Some(0), "expected success\n{self}");
        self
    }

    /// Asserts exit code 1 (a failed load; never a panic's 101 or a signal).
    #[track_caller]
    pub fn assert_load_failure(&self) -> &Self {
        assert_eq!(self.code, Some(1), "expected exit code 1\n{self}");
        self
    }

    /// Asserts that stderr contains every one of `needles`.
    #[track_caller]
    pub fn assert_stderr_has(&self, needles: &[&str]) -> &Self {
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "stderr does not mention {needle:?}\n{self}"
            );
        }
        self
    }

    /// The stderr lines that contain `needle`.
    pub fn stderr_lines_with(&self, needle: &str) -> Vec<&str> {
        self.stderr.lines().filter(|l| l.contains(needle)).collect()
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code: {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The base config of a test: the connection as `url` and the test's schema.
pub fn base_config(schema: &TestSchema) -> Value {
    json!({ "url": db_url(), "schema": schema.name })
}

/// `base` with every key of `extra` set (later wins).
pub fn merged(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
    base
}

/// A temporary file that is removed when dropped.
pub struct TempFile {
    /// Where the file is.
    pub path: PathBuf,
}

impl TempFile {
    /// Writes `contents` to a new uniquely named file ending in `suffix`.
    pub fn new(suffix: &str, contents: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!(
            "tp_e2e_{}_{}{suffix}",
            std::process::id(),
            unique()
        ));
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("writing {path:?}: {e}"));
        TempFile { path }
    }

    /// The path as a string argument.
    pub fn arg(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Starts the binary on `config` (written to a temp file, kept alive by the returned guard)
/// with stdin and stdout piped, for tests that feed input while watching what comes out.
pub fn spawn_target(
    config: &Value,
    log_level: &str,
    stderr: Stdio,
) -> (std::process::Child, TempFile) {
    let file = TempFile::new(".json", config.to_string().as_bytes());
    let child = Command::new(BIN)
        .args(["--config", &file.arg()])
        .env("RUST_LOG", log_level)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));
    (child, file)
}

/// Runs the target with the test's connection and schema plus `extra_config`, `input` on stdin.
pub fn run_target(schema: &TestSchema, extra_config: Value, input: &str) -> Output {
    run_target_bytes(schema, extra_config, input.as_bytes())
}

/// [`run_target`] with raw stdin bytes (gzip, invalid UTF-8).
pub fn run_target_bytes(schema: &TestSchema, extra_config: Value, input: &[u8]) -> Output {
    let config = merged(base_config(schema), extra_config);
    run_with_config(&config, &[], input)
}

/// Writes `config` to a temp file and runs `--config <file>` plus `args`, `input` on stdin.
pub fn run_with_config(config: &Value, args: &[&str], input: &[u8]) -> Output {
    let file = TempFile::new(".json", config.to_string().as_bytes());
    let mut all = vec!["--config".to_string(), file.arg()];
    all.extend(args.iter().map(|a| a.to_string()));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    run_args(&refs, input, &[])
}

/// Runs the binary with exactly `args`, `input` on stdin and extra environment variables.
/// `RUST_LOG` is fixed to `info` so tests see warnings whatever the caller's environment says.
pub fn run_args(args: &[&str], input: &[u8], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));

    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    // The target may stop reading early (on an error); a broken pipe here is expected then.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().expect("piped stdout");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let mut stderr = child.stderr.take().expect("piped stderr");
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });

    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > HANG_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("target-postgres {args:?} did not finish within {HANG_LIMIT:?}");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("waiting for target-postgres: {e}"),
        }
    };
    let _ = writer.join();
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    Output {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// The path of a file under `fixtures/`.
pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// The contents of a file under `fixtures/`.
pub fn fixture(name: &str) -> String {
    let path = fixture_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path:?}: {e}"))
}

/// A SCHEMA message line for `stream` with these JSON Schema `properties` and keys.
pub fn schema_msg(stream: &str, properties: Value, keys: &[&str]) -> String {
    json!({
        "type": "SCHEMA",
        "stream": stream,
        "schema": { "type": "object", "properties": properties },
        "key_properties": keys,
    })
    .to_string()
}

/// A RECORD message line.
pub fn record(stream: &str, record: Value) -> String {
    json!({ "type": "RECORD", "stream": stream, "record": record }).to_string()
}

/// A STATE message line.
pub fn state(value: Value) -> String {
    json!({ "type": "STATE", "value": value }).to_string()
}

/// Joins message lines into JSONL input (each line ends in `\n`).
pub fn jsonl<S: AsRef<str>>(lines: &[S]) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(line.as_ref());
        out.push('\n');
    }
    out
}

/// The JSON Schema of a nullable value of `ty`.
pub fn nullable(ty: &str) -> Value {
    json!({ "type": ["null", ty] })
}

/// A throwaway PostgreSQL cluster of the tests' own, made with Debian's `pg_createcluster`
/// (root needed, as `scripts/test` runs on CI), on a free port, trust authentication.
/// Dropped (stopped and deleted) when the guard is dropped, or, for a cluster shared by
/// several tests, when the test process exits ([`Cluster::drop_when_this_process_exits`]).
pub struct Cluster {
    /// PostgreSQL major version, e.g. `15`.
    pub version: String,
    /// Cluster name: `<prefix>_<pid>`.
    pub name: String,
    /// Its TCP port.
    pub port: u16,
    /// Its data directory (owned by the postgres user).
    pub data_dir: PathBuf,
    /// Its configuration directory (`postgresql.conf`, `pg_hba.conf`).
    pub config_dir: PathBuf,
}

impl Cluster {
    /// Whether this machine can make clusters; when not, the caller says so and skips.
    pub fn available() -> bool {
        Command::new("pg_createcluster")
            .arg("--help")
            .output()
            .is_ok()
            && newest_postgres_version().is_some()
    }

    /// [`Cluster::create`] where this machine can make clusters; elsewhere says that `test`
    /// is skipped and gives `None`.
    pub fn create_for(test: &str, prefix: &str) -> Option<Cluster> {
        if !Cluster::available() {
            eprintln!("{test} needs pg_createcluster (Debian's postgresql-common) and root");
            return None;
        }
        Some(Cluster::create(prefix))
    }

    /// Creates a stopped cluster named `<prefix>_<pid>` on a free port, after dropping the
    /// clusters with that prefix that earlier test processes left behind.
    pub fn create(prefix: &str) -> Cluster {
        let version = newest_postgres_version().expect("no PostgreSQL under /etc/postgresql");
        drop_stale_clusters(prefix);
        let name = format!("{prefix}_{}", std::process::id());
        let port = free_port();
        let created = Command::new("pg_createcluster")
            .args([&version, &name, "--port", &port.to_string()])
            .args(["--", "--auth=trust"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status()
            .expect("running pg_createcluster");
        assert!(
            created.success(),
            "cannot create a throwaway cluster (run as root)"
        );
        let listing = Command::new("pg_lsclusters")
            .args(["-h", &version, &name])
            .output()
            .expect("running pg_lsclusters");
        let listing = String::from_utf8_lossy(&listing.stdout);
        let data_dir = listing
            .split_whitespace()
            .nth(5)
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("no data directory in pg_lsclusters output: {listing}"));
        let config_dir = PathBuf::from(format!("/etc/postgresql/{version}/{name}"));
        Cluster {
            version,
            name,
            port,
            data_dir,
            config_dir,
        }
    }

    /// `pg_ctlcluster <action>` (start, stop, restart), fast shutdown.
    pub fn ctl(&self, action: &str) {
        let status = Command::new("pg_ctlcluster")
            .args([
                "--skip-systemctl-redirect",
                &self.version,
                &self.name,
                action,
            ])
            .args(["-m", "fast"])
            .status()
            .expect("pg_ctlcluster");
        assert!(
            status.success(),
            "pg_ctlcluster {action} {} failed",
            self.name
        );
    }

    /// Appends settings to `postgresql.conf` (later lines win).
    pub fn configure(&self, lines: &str) {
        let path = self.config_dir.join("postgresql.conf");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("opening {path:?}: {e}"));
        writeln!(file, "\n{lines}").unwrap_or_else(|e| panic!("writing {path:?}: {e}"));
    }

    /// Replaces `pg_hba.conf`.
    pub fn set_hba(&self, text: &str) {
        let path = self.config_dir.join("pg_hba.conf");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {path:?}: {e}"));
    }

    /// The URL of the `postgres` database over TCP, for `user`.
    pub fn url(&self, user: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/postgres", self.port)
    }

    /// A connection as `postgres` over the Unix socket (no TLS, whatever `pg_hba.conf` asks
    /// of TCP connections), for preparing and checking.
    pub fn local_client(&self) -> postgres::Client {
        postgres::Config::new()
            .host("/var/run/postgresql")
            .port(self.port)
            .user("postgres")
            .dbname("postgres")
            .connect(postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to cluster {} locally: {e}", self.name))
    }

    /// For a cluster shared by several tests (kept in a static, so never dropped): a watcher
    /// process drops it once this test process has exited.
    pub fn drop_when_this_process_exits(&self) {
        // The shell starts the watcher in the background and exits at once, so the watcher
        // belongs to no one here and outlives this process.
        let script = format!(
            "(while kill -0 {} 2>/dev/null; do sleep 1; done; pg_dropcluster --stop {} {}) &",
            std::process::id(),
            self.version,
            self.name
        );
        let started = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("starting the cluster watcher");
        assert!(started.success(), "starting the cluster watcher failed");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("pg_dropcluster")
            .args(["--stop", &self.version, &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// The newest PostgreSQL version with Debian cluster configuration.
fn newest_postgres_version() -> Option<String> {
    std::fs::read_dir("/etc/postgresql")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .max_by_key(|v| v.parse::<u32>().unwrap_or(0))
}

/// A TCP port nobody listens on now (the kernel's pick for an ephemeral bind).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("no free port")
}

/// Drops `<prefix>_<pid>` clusters whose process is gone (a run killed before its cleanup),
/// and one with this process's pid (a reused pid), so they cannot pile up or collide.
fn drop_stale_clusters(prefix: &str) {
    let Ok(listing) = Command::new("pg_lsclusters").arg("-h").output() else {
        return;
    };
    for line in String::from_utf8_lossy(&listing.stdout).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(version), Some(name)) = (fields.first(), fields.get(1)) else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('_'))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("pg_dropcluster")
                .args(["--stop", version, name])
                .status();
        }
    }
}

/// A full-table sync of stream `t` (`id` key, `v` text): `ids` as table version `version`,
/// then its ACTIVATE_VERSION and a state.
pub fn full_table_sync(version: i64, ids: &[i64]) -> String {
    let mut lines = vec![schema_msg(
        "t",
        json!({"id": {"type": "integer"}, "v": nullable("string")}),
        &["id"],
    )];
    for id in ids {
        lines.push(format!(
            r#"{{"type":"RECORD","stream":"t","record":{{"id":{id},"v":"v{version}"}},"version":{version}}}"#
        ));
    }
    lines.push(format!(
        r#"{{"type":"ACTIVATE_VERSION","stream":"t","version":{version}}}"#
    ));
    lines.push(state(json!({"version": version})));
    jsonl(&lines)
}
