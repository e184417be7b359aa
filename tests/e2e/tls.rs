//! TLS connections against a throwaway cluster of our own that speaks TLS only: its
//! `pg_hba.conf` has `hostssl` lines and no `host` line, so any load that succeeds over TCP
//! went through TLS, pooled connections included. Its certificate (SAN `localhost` and
//! `127.0.0.1`) is signed by a test CA that `openssl` makes at test time; a second CA signs
//! nothing the server trusts. User `tls_client` must authenticate with a client certificate
//! (`cert` in `pg_hba.conf`).
//!
//! The cluster is made once per test process and shared; it is dropped when the process exits.
//! Without `pg_createcluster` (Debian's postgresql-common, as root) the tests say so and pass.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::support::*;

/// The role that logs in with a client certificate only.
const CERT_USER: &str = "tls_client";

/// The shared TLS-only cluster and the files of its test PKI.
struct TlsServer {
    /// The running cluster.
    cluster: Cluster,
    /// Where the CA, server and client certificates and keys are.
    pki: PathBuf,
}

impl TlsServer {
    /// A file of the test PKI, as a config value.
    fn file(&self, name: &str) -> String {
        self.pki.join(name).to_string_lossy().into_owned()
    }

    /// The PEM text of a file of the test PKI.
    fn pem(&self, name: &str) -> String {
        std::fs::read_to_string(self.pki.join(name)).expect("reading PEM")
    }

    /// Connection settings as separate fields (no URL).
    fn fields(&self, host: &str, user: &str) -> Value {
        json!({"host": host, "port": self.cluster.port, "user": user, "database": "postgres"})
    }
}

/// The shared cluster, made on first use; `None` when this machine cannot make one.
fn server() -> Option<&'static TlsServer> {
    static SERVER: OnceLock<Option<TlsServer>> = OnceLock::new();
    let server = SERVER.get_or_init(|| {
        if !Cluster::available() {
            return None;
        }
        let cluster = Cluster::create("tp_tls");
        let pki = cluster.data_dir.join("test_pki");
        make_pki(&pki, &cluster.data_dir);
        cluster.configure(&format!(
            "ssl = on\nssl_cert_file = '{0}/server.crt'\nssl_key_file = '{0}/server.key'\n\
             ssl_ca_file = '{0}/ca.crt'\nlisten_addresses = 'localhost'",
            pki.display()
        ));
        cluster.set_hba(&format!(
            "local all all trust\n\
             hostssl all {CERT_USER} 127.0.0.1/32 cert\n\
             hostssl all {CERT_USER} ::1/128 cert\n\
             hostssl all all 127.0.0.1/32 trust\n\
             hostssl all all ::1/128 trust\n"
        ));
        cluster.ctl("start");
        cluster
            .local_client()
            .batch_execute(&format!("CREATE ROLE {CERT_USER} LOGIN SUPERUSER"))
            .expect("creating the certificate user");
        cluster.drop_when_this_process_exits();
        Some(TlsServer { cluster, pki })
    });
    if server.is_none() {
        eprintln!("TLS tests need pg_createcluster (Debian's postgresql-common) and root");
    }
    server.as_ref()
}

/// Runs `openssl` in `dir`; fails the test with its output when it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Makes the test PKI in `dir`: CA `ca`, another CA `other_ca`, the server's certificate
/// (SAN localhost and 127.0.0.1) and client certificates for [`CERT_USER`] with keys in each
/// PEM form (PKCS#8 EC, PKCS#1 RSA, SEC1 EC), plus one signed by the other CA. The server's
/// key goes to the data directory's owner (the postgres user), mode 0600, as PostgreSQL wants.
fn make_pki(dir: &Path, data_dir: &Path) {
    std::fs::create_dir_all(dir).expect("creating the PKI directory");
    std::fs::write(
        dir.join("openssl.cnf"),
        "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n\
         [ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier = hash\n\
         [server]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
         extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost,IP:127.0.0.1\n\
         [client]\nbasicConstraints = critical,CA:FALSE\n\
         keyUsage = critical,digitalSignature,keyEncipherment\nextendedKeyUsage = clientAuth\n",
    )
    .expect("writing openssl.cnf");
    for ca in ["ca", "other_ca"] {
        openssl(
            dir,
            &[
                "req",
                "-config",
                "openssl.cnf",
                "-x509",
                "-new",
                "-nodes",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.crt"),
                "-days",
                "3",
                "-subj",
                &format!("/CN=target-postgres test {ca}"),
                "-extensions",
                "ca",
            ],
        );
    }
    let ec_key = |name: &str| {
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                name,
            ],
        )
    };
    let sign = |key: &str, subject: &str, ca: &str, extensions: &str, out: &str| {
        let csr = format!("{out}.csr");
        openssl(
            dir,
            &[
                "req",
                "-config",
                "openssl.cnf",
                "-new",
                "-key",
                key,
                "-subj",
                subject,
                "-out",
                &csr,
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &format!("{ca}.crt"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-days",
                "3",
                "-extfile",
                "openssl.cnf",
                "-extensions",
                extensions,
                "-out",
                out,
            ],
        );
    };
    ec_key("server.key");
    sign("server.key", "/CN=localhost", "ca", "server", "server.crt");
    let client = format!("/CN={CERT_USER}");
    ec_key("client_pkcs8.key");
    sign(
        "client_pkcs8.key",
        &client,
        "ca",
        "client",
        "client_pkcs8.crt",
    );
    openssl(
        dir,
        &["genrsa", "-traditional", "-out", "client_rsa.key", "2048"],
    );
    sign("client_rsa.key", &client, "ca", "client", "client_rsa.crt");
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "client_sec1.key",
        ],
    );
    sign(
        "client_sec1.key",
        &client,
        "ca",
        "client",
        "client_sec1.crt",
    );
    sign(
        "client_pkcs8.key",
        &client,
        "other_ca",
        "client",
        "client_other_ca.crt",
    );
    for (file, header) in [
        ("client_pkcs8.key", "BEGIN PRIVATE KEY"),
        ("client_rsa.key", "BEGIN RSA PRIVATE KEY"),
        ("client_sec1.key", "BEGIN EC PRIVATE KEY"),
    ] {
        let text = std::fs::read_to_string(dir.join(file)).expect("reading a key");
        assert!(
            text.contains(header),
            "{file} is not in the expected PEM form"
        );
    }

    let owner = std::fs::metadata(data_dir).expect("data directory");
    for entry in std::fs::read_dir(dir).expect("listing the PKI") {
        let path = entry.expect("PKI entry").path();
        std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid()))
            .expect("giving the PKI to the postgres user");
    }
    std::fs::set_permissions(
        dir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod server.key");
}

/// A schema of the shared cluster for one test.
fn schema_name(test: &str) -> String {
    format!("tls_{test}_{}", unique())
}

/// Loads three records into `<schema>.t` with `connection` settings, and checks the run, the
/// state and the rows (read back over the Unix socket).
fn assert_loads(server: &TlsServer, schema: &str, connection: Value) {
    let input = jsonl(&[
        schema_msg(
            "t",
            json!({"id": {"type": "integer"}, "v": {"type": "string"}}),
            &["id"],
        ),
        record("t", json!({"id": 1, "v": "a"})),
        record("t", json!({"id": 2, "v": "b"})),
        record("t", json!({"id": 3, "v": "c"})),
        state(json!({"done": 3})),
    ]);
    let config = merged(connection, json!({"schema": schema, "max_parallelism": 2}));
    let output = run_with_config(&config, &[], input.as_bytes());
    output.assert_success();
    assert_eq!(output.states(), vec![json!({"done": 3})], "{output}");
    let rows = server
        .cluster
        .local_client()
        .query(
            &format!("SELECT id, v FROM {}.t ORDER BY id", qi(schema)),
            &[],
        )
        .expect("reading the loaded rows");
    let rows: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        rows,
        vec![(1, "a".into()), (2, "b".into()), (3, "c".into())]
    );
}

/// `--test-connection` with `connection`: the run's output.
fn test_connection(connection: &Value) -> Output {
    run_with_config(connection, &["--test-connection"], b"")
}

/// Asserts that `--test-connection` succeeds and reports that the server saw TLS.
fn assert_connects_over_tls(connection: &Value) {
    let output = test_connection(connection);
    output
        .assert_success()
        .assert_stderr_has(&["connection ok (TLS, TLSv1."]);
}

/// Asserts a refused connection: exit 1, the one error line with the target and the mode,
/// the cause, and no retries.
fn assert_refused(connection: &Value, ssl_mode: &str, cause: &str) -> Output {
    let output = test_connection(connection);
    output.assert_load_failure().assert_stderr_has(&[
        &format!("(ssl_mode {ssl_mode}): {cause}"),
        "cannot connect to ",
    ]);
    assert!(!output.stderr.contains("retrying"), "retried:\n{output}");
    output
}

#[test]
fn verify_full_with_the_servers_ca_and_host_name_loads_over_tls() {
    let Some(server) = server() else { return };
    let connection = merged(
        server.fields("localhost", "postgres"),
        json!({"ssl_mode": "verify-full", "ssl_root_cert": server.file("ca.crt")}),
    );
    assert_connects_over_tls(&connection);
    assert_loads(server, &schema_name("verify_full"), connection);
}

#[test]
fn verify_full_accepts_an_ip_address_the_certificate_names() {
    let Some(server) = server() else { return };
    let connection = merged(
        server.fields("127.0.0.1", "postgres"),
        json!({"sslmode": "verify-full", "ssl_certificate_authority": server.pem("ca.crt")}),
    );
    assert_connects_over_tls(&connection);
    assert_loads(server, &schema_name("verify_full_ip"), connection);
}

#[test]
fn verify_full_refuses_a_certificate_from_another_ca() {
    let Some(server) = server() else { return };
    let schema = schema_name("wrong_ca");
    let connection = merged(
        server.fields("localhost", "postgres"),
        json!({"ssl_mode": "verify-full", "ssl_root_cert": server.file("other_ca.crt"),
               "schema": schema}),
    );
    let cause = format!(
        "the server's certificate is not signed by a trusted CA (trusted: {})",
        server.file("other_ca.crt")
    );
    let output = assert_refused(&connection, "verify-full", &cause);
    output.assert_stderr_has(&[&format!(
        "cannot connect to localhost:{}/postgres as postgres",
        server.cluster.port
    )]);
    // A load fails the same way, before reading anything.
    let output = run_with_config(&connection, &[], b"");
    output.assert_load_failure().assert_stderr_has(&[&cause]);
}

#[test]
fn verify_full_refuses_a_host_name_the_certificate_does_not_name() {
    let Some(server) = server() else { return };
    // `hostaddr` reaches the server while the certificate is checked against the host name.
    let url = format!(
        "postgres://postgres:hunter2@db.wrong.test:{}/postgres?hostaddr=127.0.0.1\
         &sslmode=verify-full&sslrootcert={}",
        server.cluster.port,
        server.file("ca.crt")
    );
    let output = assert_refused(
        &json!({ "url": url }),
        "verify-full",
        "certificate not valid for name \"db.wrong.test\"; it is only valid for localhost, 127.0.0.1",
    );
    assert!(
        !output.stderr.contains("hunter2"),
        "password shown:\n{output}"
    );
}

#[test]
fn verify_ca_accepts_a_name_mismatch_but_not_another_ca() {
    let Some(server) = server() else { return };
    let url = |ca: &str| {
        format!(
            "postgres://postgres@db.wrong.test:{}/postgres?hostaddr=127.0.0.1\
             &sslmode=verify-ca&sslrootcert={}",
            server.cluster.port,
            server.file(ca)
        )
    };
    assert_connects_over_tls(&json!({ "url": url("ca.crt") }));
    assert_loads(
        server,
        &schema_name("verify_ca"),
        json!({ "url": url("ca.crt") }),
    );
    assert_refused(
        &json!({ "url": url("other_ca.crt") }),
        "verify-ca",
        "the server's certificate is not signed by a trusted CA",
    );
}

#[test]
fn require_without_a_root_certificate_loads_over_tls_unchecked() {
    let Some(server) = server() else { return };
    // By a name the certificate does not hold: require checks nothing.
    let url = format!(
        "postgres://postgres@db.wrong.test:{}/postgres?hostaddr=127.0.0.1",
        server.cluster.port
    );
    let connection = json!({"url": url, "ssl_mode": "require"});
    assert_connects_over_tls(&connection);
    assert_loads(server, &schema_name("require"), connection);
}

#[test]
fn require_with_a_root_certificate_checks_the_chain_as_libpq_does() {
    let Some(server) = server() else { return };
    let connection = merged(
        server.fields("127.0.0.1", "postgres"),
        json!({"ssl_mode": "require", "ssl_root_cert": server.file("other_ca.crt")}),
    );
    assert_refused(
        &connection,
        "require",
        "the server's certificate is not signed by a trusted CA",
    );
    let connection = merged(connection, json!({"ssl_root_cert": server.file("ca.crt")}));
    assert_connects_over_tls(&connection);
}

#[test]
fn a_client_certificate_authenticates_the_cert_user_from_paths_or_pem_text() {
    let Some(server) = server() else { return };
    let base = merged(
        server.fields("localhost", CERT_USER),
        json!({"ssl_mode": "verify-full", "ssl_root_cert": server.file("ca.crt")}),
    );
    // Without a certificate the server refuses the user (pg_hba says `cert`).
    let output = test_connection(&base);
    output
        .assert_load_failure()
        .assert_stderr_has(&["connection requires a valid client certificate"]);

    let by_path = merged(
        base.clone(),
        json!({"ssl_client_cert": server.file("client_pkcs8.crt"),
               "ssl_client_key": server.file("client_pkcs8.key")}),
    );
    assert_connects_over_tls(&by_path);
    assert_loads(server, &schema_name("client_cert"), by_path);

    for form in ["rsa", "sec1"] {
        let key = server.pem(&format!("client_{form}.key"));
        let by_text = merged(
            base.clone(),
            json!({"ssl_client_certificate": server.pem(&format!("client_{form}.crt")),
                   "ssl_client_private_key": key}),
        );
        assert_connects_over_tls(&by_text);
        // A wrong key for the certificate is a config error that never shows the key.
        let mismatched = merged(
            by_text,
            json!({"ssl_client_cert": server.pem("client_pkcs8.crt")}),
        );
        let output = test_connection(&mismatched);
        assert_eq!(output.code, Some(2), "{output}");
        output.assert_stderr_has(&["\"ssl_client_key\" cannot be used with \"ssl_client_cert\""]);
        let key_body = key.lines().nth(1).expect("a PEM body line");
        assert!(!output.stderr.contains(key_body), "key shown:\n{output}");
    }
}

#[test]
fn a_client_certificate_from_an_unknown_ca_is_refused_by_the_server() {
    let Some(server) = server() else { return };
    let connection = merged(
        server.fields("localhost", CERT_USER),
        json!({"ssl_mode": "verify-full", "ssl_root_cert": server.file("ca.crt"),
               "ssl_client_cert": server.file("client_other_ca.crt"),
               "ssl_client_key": server.file("client_pkcs8.key")}),
    );
    assert_refused(
        &connection,
        "verify-full",
        "the server refused our client certificate",
    );
}

#[test]
fn the_url_form_takes_sslmode_root_and_client_certificates() {
    let Some(server) = server() else { return };
    let url = format!(
        "postgresql://postgres@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}\
         &application_name=tls_url_test",
        server.cluster.port,
        server.file("ca.crt")
    );
    assert_connects_over_tls(&json!({ "url": url }));
    assert_loads(server, &schema_name("url"), json!({ "url": url }));

    let url = format!(
        "postgres://{CERT_USER}@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}\
         &sslcert={}&sslkey={}",
        server.cluster.port,
        server.file("ca.crt"),
        server.file("client_sec1.crt"),
        server.file("client_sec1.key")
    );
    assert_connects_over_tls(&json!({ "url": url }));
}

#[test]
fn require_fails_clearly_against_a_server_without_tls_and_prefer_falls_back() {
    let Some(cluster) = Cluster::create_for("this TLS test", "tp_notls") else {
        return;
    };
    cluster.configure("ssl = off");
    cluster.ctl("start");
    let url = cluster.url("postgres");
    assert_refused(
        &json!({"url": url, "ssl_mode": "require"}),
        "require",
        "the server does not accept TLS connections",
    );
    let output = test_connection(&json!({"url": url, "ssl_mode": "prefer"}));
    output
        .assert_success()
        .assert_stderr_has(&["connection ok (no TLS)"]);
}

#[test]
fn prefer_connects_without_tls_when_the_handshake_fails_and_require_does_not() {
    // The server offers TLS, but only versions rustls refuses to speak: libpq's `prefer`
    // then connects without TLS, and so must we (the reader's connection and the pool's).
    let Some(cluster) = Cluster::create_for("this TLS test", "tp_oldtls") else {
        return;
    };
    cluster.configure(
        "ssl = on\nssl_min_protocol_version = 'TLSv1'\nssl_max_protocol_version = 'TLSv1.1'",
    );
    cluster.ctl("start");
    let url = cluster.url("postgres");
    let output = test_connection(&json!({"url": url, "ssl_mode": "prefer"}));
    output
        .assert_success()
        .assert_stderr_has(&["connecting without TLS", "connection ok (no TLS)"]);
    let input = jsonl(&[
        schema_msg("users", json!({"id": {"type": "integer"}}), &["id"]),
        record("users", json!({"id": 1})),
        state(json!({"done": true})),
    ]);
    let loaded = run_with_config(
        &json!({"url": url, "schema": "prefer_fallback"}),
        &[],
        input.as_bytes(),
    );
    loaded.assert_success();
    assert_eq!(loaded.states(), [json!({"done": true})]);
    let output = test_connection(&json!({"url": url, "ssl_mode": "require"}));
    output.assert_load_failure();
}
