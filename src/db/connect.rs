//! Connections: settings → the driver's `postgres::Config` plus our TLS connector, a first
//! direct connection for a fast and specific error, and the r2d2 pool the flush workers draw
//! from.
//!
//! r2d2 would otherwise open every connection eagerly and wait 30 s on failure, hiding the
//! server's actual complaint; so we connect once ourselves (retrying for
//! `connect_timeout_seconds` while the server is down) and build the pool lazily.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::Client;

use crate::config::{ConnectionSettings, PemSetting, PemSource, SslMode};
use crate::db::pool::PoolConnectError;
use crate::db::retry::{is_driver_config_error, is_transient_db_error};
use crate::db::session::{Session, SessionSetup};
use crate::db::ssh::{self, Tunnel};
use crate::db::tls::{Tls, TlsOptions};
use crate::error::{driver_error_text, Error, Result};
use crate::percent::{self, BadEscape};

/// The pool of sessions flush workers use (made by [`Endpoint`], see `db::session`).
pub type Pool = r2d2::Pool<Endpoint>;

/// Where to connect and how: the driver's configuration, the TLS connector for it, and the
/// setup each session runs.
#[derive(Clone)]
pub struct Endpoint {
    /// Host, port, user, database, password and timeouts, for the driver.
    pub config: postgres::Config,
    /// The TLS connector and the policy it enforces.
    pub tls: Tls,
    /// Run once on each new connection (`session_timeouts`, the backend pid).
    pub setup: SessionSetup,
    /// The SSH tunnel the connections go through (`ssh_tunnel`).
    pub tunnel: Option<Arc<Tunnel>>,
}

impl Endpoint {
    /// The same endpoint without TLS: libpq's `prefer` connects so when a server offers TLS
    /// but the handshake fails.
    pub fn without_tls(&self) -> Result<Endpoint> {
        let mut config = self.config.clone();
        config.ssl_mode(postgres::config::SslMode::Disable);
        Ok(Endpoint {
            config,
            tls: Tls::build(&TlsOptions {
                mode: SslMode::Disable,
                root_cert: None,
                client_cert: None,
                client_key: None,
            })?,
            setup: self.setup.clone(),
            tunnel: self.tunnel.clone(),
        })
    }

    /// Opens one connection and sets its session up (`db::session`), without retry.
    pub fn open_session(&self) -> std::result::Result<Session, postgres::Error> {
        let client = self.config.connect(self.tls.connector.clone())?;
        self.setup.run(client)
    }

    /// The error for a failed connection: a TLS refusal is named as such (`cannot connect
    /// to ... (ssl_mode ...): cause`), a password the server asks for and we lack is a config
    /// error saying where a password comes from, anything else keeps the driver's or
    /// server's words.
    pub fn connect_error(&self, error: postgres::Error) -> Error {
        if is_missing_password(&error) {
            return Error::config(
                missing_password_message(&self.config),
                format!("connecting to {}", self.describe_target()),
            );
        }
        // A connection the tunnel closed because it could not forward it: say why.
        if let Some(tunnel) = self
            .tunnel
            .as_ref()
            .filter(|_| error.as_db_error().is_none())
        {
            if let Some(cause) = tunnel.failure() {
                return Error::SshTunnel {
                    bastion: tunnel.bastion(),
                    cause,
                };
            }
        }
        match self.tls.explain(&error) {
            Some(cause) => Error::Tls {
                target: self.describe_target(),
                ssl_mode: self.tls.mode.as_str().to_string(),
                cause,
            },
            None => Error::db(format!("connecting to {}", self.describe_target()), error),
        }
    }

    /// `host:port/database as user`, naming the bastion when connecting through one.
    fn describe_target(&self) -> String {
        match &self.tunnel {
            Some(tunnel) => format!(
                "{}/{} as {} through the SSH tunnel via {}",
                tunnel.destination(),
                self.config.get_dbname().unwrap_or(""),
                self.config.get_user().unwrap_or(""),
                tunnel.bastion()
            ),
            None => describe_target(&self.config),
        }
    }
}

/// The pool makes its sessions like the first one.
impl r2d2::ManageConnection for Endpoint {
    type Connection = Session;
    type Error = PoolConnectError;

    fn connect(&self) -> std::result::Result<Session, PoolConnectError> {
        self.open_session()
            .map_err(|source| PoolConnectError::new("opening a pooled connection", source))
    }

    /// An empty query: one round trip, to find connections a server restart killed.
    fn is_valid(&self, session: &mut Session) -> std::result::Result<(), PoolConnectError> {
        session
            .client
            .simple_query("")
            .map(|_| ())
            .map_err(|source| PoolConnectError::new("checking a pooled connection", source))
    }

    fn has_broken(&self, session: &mut Session) -> bool {
        session.client.is_closed()
    }
}

/// Builds the driver configuration and the TLS connector from our settings (a URL wins over
/// the fields, its TLS parameters over the `ssl_*` settings).
pub fn endpoint(settings: &ConnectionSettings) -> Result<Endpoint> {
    let mut tls_options = TlsOptions {
        mode: settings.ssl_mode,
        root_cert: settings.ssl_root_cert.clone(),
        client_cert: settings.ssl_client_cert.clone(),
        client_key: settings.ssl_client_key.clone(),
    };
    let mut config = match &settings.url {
        Some(url) => {
            // Accept SQLAlchemy's `postgresql+psycopg2://` spelling.
            let normalized = match url.split_once("://") {
                Some((scheme, rest)) if scheme.contains('+') => {
                    format!("postgresql://{rest}")
                }
                _ => url.clone(),
            };
            let (driver_url, url_tls) = take_tls_parameters(&normalized)?;
            url_tls.apply(&mut tls_options);
            postgres::Config::from_str(&driver_url).map_err(|_| {
                // The driver's message may quote the URL, password included.
                Error::config("\"url\" is not a valid PostgreSQL connection URL", "url")
            })?
        }
        None => {
            let mut config = postgres::Config::new();
            config
                .host(&settings.host)
                .port(settings.port)
                .user(&settings.user)
                .dbname(&settings.database);
            config
        }
    };
    // The driver only decides whether to ask for TLS; the checks are the connector's.
    config.ssl_mode(match tls_options.mode {
        SslMode::Disable => postgres::config::SslMode::Disable,
        SslMode::Prefer => postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            postgres::config::SslMode::Require
        }
    });
    if let Some(password) = &settings.password {
        config.password(password.as_bytes());
    } else if config.get_password().is_none() {
        if let Some(password) = pgpass_password(&config) {
            config.password(password.as_bytes());
        }
    }
    if config.get_application_name().is_none() {
        config.application_name(&settings.application_name);
    }
    config.connect_timeout(settings.connect_timeout.min(Duration::from_secs(10)));
    let setup = SessionSetup::new(settings.session_timeouts, config.get_options());
    let tls = Tls::build(&tls_options)?;
    // Last, so that .pgpass above was looked up by the database's own host and port.
    let tunnel = match &settings.ssh_tunnel {
        Some(tunnel) => Some(ssh::route(&mut config, tunnel, settings.connect_timeout)?),
        None => None,
    };
    Ok(Endpoint {
        config,
        tls,
        setup,
        tunnel,
    })
}

/// libpq's TLS query parameters of a URL, which the driver rejects (`verify-*` modes,
/// certificate files): taken out before the driver parses the rest.
#[derive(Debug, Default)]
struct UrlTlsParameters {
    /// `sslmode`.
    mode: Option<SslMode>,
    /// `sslrootcert`.
    root_cert: Option<String>,
    /// `sslcert`.
    client_cert: Option<String>,
    /// `sslkey`.
    client_key: Option<String>,
}

impl UrlTlsParameters {
    /// The URL's parameters win over the `ssl_*` settings.
    fn apply(self, options: &mut TlsOptions) {
        let setting = |key: &'static str, value: String, system_allowed: bool| PemSetting {
            key,
            origin: "url".to_string(),
            source: PemSource::parse(&value, system_allowed),
        };
        if let Some(mode) = self.mode {
            options.mode = mode;
        }
        if let Some(value) = self.root_cert {
            options.root_cert = Some(setting("sslrootcert", value, true));
        }
        if let Some(value) = self.client_cert {
            options.client_cert = Some(setting("sslcert", value, false));
        }
        if let Some(value) = self.client_key {
            options.client_key = Some(setting("sslkey", value, false));
        }
    }
}

/// Splits `sslmode`, `sslrootcert`, `sslcert` and `sslkey` off a URL's query; the other
/// parameters stay, as written, for the driver.
fn take_tls_parameters(url: &str) -> Result<(String, UrlTlsParameters)> {
    let mut found = UrlTlsParameters::default();
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), found));
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = || {
            percent_decode(raw_value).ok_or_else(|| {
                Error::config(
                    format!("\"url\": the {key} parameter is not valid percent-encoded UTF-8"),
                    "url",
                )
            })
        };
        match key {
            "sslmode" => {
                let text = value()?;
                found.mode = Some(SslMode::parse(&text).ok_or_else(|| {
                    Error::config(
                        format!("\"url\": sslmode must be disable, prefer, require, verify-ca or verify-full, got \"{text}\""),
                        "url",
                    )
                })?);
            }
            "sslrootcert" => found.root_cert = Some(value()?),
            "sslcert" => found.client_cert = Some(value()?),
            "sslkey" => found.client_key = Some(value()?),
            _ => kept.push(pair),
        }
    }
    let driver_url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((driver_url, found))
}

/// Undoes `%XX` escapes as libpq does; `None` for a bad escape or invalid UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    String::from_utf8(percent::decode(text, BadEscape::Refuse)?).ok()
}

/// Connects once, retrying while the server is unreachable, for at most the configured
/// connect timeout; then fails with the server's own message.
pub fn connect_direct(settings: &ConnectionSettings) -> Result<Session> {
    connect_settled(settings).map(|(session, _)| session)
}

/// [`connect_direct`], also returning the endpoint that worked, for the pool: under
/// `prefer`, a server that offers TLS but fails the handshake is connected to without TLS
/// (with a warning), as libpq does, and so are the pool's connections.
pub fn connect_settled(settings: &ConnectionSettings) -> Result<(Session, Endpoint)> {
    let endpoint = endpoint(settings)?;
    match connect_with_retries(&endpoint, settings.connect_timeout) {
        Err(error @ Error::Tls { .. }) if endpoint.tls.mode == SslMode::Prefer => {
            log::warn!("{error}; connecting without TLS (ssl_mode prefer)");
            let plain = endpoint.without_tls()?;
            let session = connect_with_retries(&plain, settings.connect_timeout)?;
            Ok((session, plain))
        }
        outcome => outcome.map(|session| (session, endpoint)),
    }
}

fn connect_with_retries(endpoint: &Endpoint, timeout: Duration) -> Result<Session> {
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(100);
    loop {
        let remaining = deadline
            .saturating_duration_since(Instant::now())
            .max(MIN_ATTEMPT);
        match connect_within(endpoint, remaining) {
            Ok(session) => return Ok(session),
            Err(Attempt::NoAnswer) => {
                return Err(Error::Io {
                    what: format!("the answer of the server at {}", endpoint.describe_target()),
                    source: std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "none came within {}s: it accepted the connection but never spoke \
                             PostgreSQL's protocol",
                            timeout.as_secs()
                        ),
                    ),
                })
            }
            Err(Attempt::Failed(error))
                if is_transient_db_error(&error) && Instant::now() + delay < deadline =>
            {
                log::warn!(
                    "cannot connect yet ({}); retrying",
                    driver_error_text(&error)
                );
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(Attempt::Failed(error)) => return Err(endpoint.connect_error(error)),
        }
    }
}

/// The least time one connection attempt is given, however little is left of the timeout.
const MIN_ATTEMPT: Duration = Duration::from_secs(1);

/// How one connection attempt ended, when it did not connect.
enum Attempt {
    /// The driver's error (refused, unreachable, TLS, authentication, ...).
    Failed(postgres::Error),
    /// Nothing within the time given.
    NoAnswer,
}

/// One connection attempt that gives up after `limit`. The driver's `connect_timeout`
/// bounds only the TCP connect: a server that accepts connections but never answers
/// (overloaded, or not PostgreSQL) would hang the start, and Mage's connection test, which
/// Mage kills after 10 s. The attempt runs on a thread of its own, left behind on timeout
/// (the run then stops anyway).
fn connect_within(endpoint: &Endpoint, limit: Duration) -> std::result::Result<Session, Attempt> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let attempt = endpoint.clone();
    let spawned = std::thread::Builder::new()
        .name("connect".into())
        .spawn(move || {
            // The receiver may be gone (timed out): nobody wants the result then.
            let _ = sender.send(attempt.open_session());
        });
    if spawned.is_err() {
        // No thread to spare: connect here, bounded by the driver's timeout alone.
        return endpoint.open_session().map_err(Attempt::Failed);
    }
    match receiver.recv_timeout(limit) {
        Ok(outcome) => outcome.map_err(Attempt::Failed),
        Err(_) => Err(Attempt::NoAnswer),
    }
}

/// A lazily filled pool of `size` connections to `endpoint` (the one that worked for
/// [`connect_settled`]).
pub fn build_pool(endpoint: Endpoint, settings: &ConnectionSettings, size: usize) -> Result<Pool> {
    // One idle connection is opened in the background at once, so the first flush does not
    // wait for a backend to start. Checked out connections are tested (an empty query, one
    // round trip per flush): after a server restart every idle connection is dead, and a
    // flush must not spend its retries discovering them one by one.
    Ok(r2d2::Pool::builder()
        .max_size(u32::try_from(size.max(1)).unwrap_or(64))
        .min_idle(Some(1))
        .test_on_check_out(true)
        .error_handler(Box::new(WarnOnConnectError))
        .connection_timeout(settings.connect_timeout.max(Duration::from_secs(1)))
        .build_unchecked(endpoint))
}

/// r2d2 logs failed connection attempts at ERROR level by default; while it keeps retrying
/// (a server restarting) that is a warning, and only a flush that finally fails is an error.
/// The warning names the SQLSTATE and the server's message.
#[derive(Debug)]
struct WarnOnConnectError;

impl r2d2::HandleError<PoolConnectError> for WarnOnConnectError {
    fn handle_error(&self, error: PoolConnectError) {
        log::warn!("{error}; retrying");
    }
}

/// Whether the server asked for a password and none was given (the driver's words for it:
/// its configuration error, caused by "password missing").
fn is_missing_password(error: &postgres::Error) -> bool {
    is_driver_config_error(error)
        && std::error::Error::source(error)
            .is_some_and(|cause| cause.to_string() == "password missing")
}

/// What to do when the server wants a password we do not have: the three places a
/// password comes from.
fn missing_password_message(config: &postgres::Config) -> String {
    let pgpass = match std::env::var_os("PGPASSFILE") {
        Some(path) => format!("{} (PGPASSFILE)", PathBuf::from(path).display()),
        None => "~/.pgpass".to_string(),
    };
    format!(
        "the server asks for a password for user \"{}\" and none was given: set \"password\" \
         in the config, or the PGPASSWORD environment variable, or add a line for this server \
         to {pgpass}",
        config.get_user().unwrap_or("")
    )
}

/// `host:port/database as user`, never the password.
fn describe_target(config: &postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{host}:{port}/{} as {}",
        config.get_dbname().unwrap_or(""),
        config.get_user().unwrap_or("")
    )
}

/// Looks the password up in `PGPASSFILE` or `~/.pgpass`, as libpq does.
fn pgpass_password(config: &postgres::Config) -> Option<String> {
    let path = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".pgpass")))?;
    let text = std::fs::read_to_string(path).ok()?;
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "localhost".to_string(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let wanted = [
        host.as_str(),
        port.as_str(),
        config.get_dbname().unwrap_or(""),
        config.get_user().unwrap_or(""),
    ];
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let fields = split_pgpass_line(line);
            if fields.len() != 5 {
                return None;
            }
            let matches = fields
                .iter()
                .zip(wanted.iter())
                .all(|(field, want)| field == "*" || field == want);
            matches.then(|| fields[4].clone())
        })
}

/// Splits a `.pgpass` line on unescaped colons, undoing `\:` and `\\`.
fn split_pgpass_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    if let Some(field) = fields.last_mut() {
                        field.push(next);
                    }
                }
            }
            ':' => fields.push(String::new()),
            c => {
                if let Some(field) = fields.last_mut() {
                    field.push(c);
                }
            }
        }
    }
    fields
}

/// What `--test-connection` reports: whether the session uses TLS, and the server version.
pub fn describe(client: &mut Client) -> Result<String> {
    // pg_stat_ssl shows every session its own row, so no privilege is needed; servers that
    // speak the protocol without that view (proxies, Redshift) still get the version.
    let with_tls = client.query_one(
        "SELECT version(), s.ssl, s.version FROM (SELECT 1) one \
         LEFT JOIN pg_stat_ssl s ON s.pid = pg_backend_pid()",
        &[],
    );
    let row = match with_tls {
        Ok(row) => row,
        Err(error) if error.as_db_error().is_some() => {
            let version: Option<String> = client
                .query_one("SELECT version()", &[])
                .map_err(|e| Error::db("checking the connection", e))?
                .try_get(0)
                .ok();
            return Ok(format!("(TLS unknown): {}", version.unwrap_or_default()));
        }
        Err(error) => return Err(Error::db("checking the connection", error)),
    };
    let version: String = row.try_get(0).unwrap_or_default();
    let tls = match (
        row.try_get::<_, Option<bool>>(1).ok().flatten(),
        row.try_get::<_, Option<String>>(2).ok().flatten(),
    ) {
        (Some(true), Some(protocol)) => format!("TLS, {protocol}"),
        (Some(true), None) => "TLS".to_string(),
        _ => "no TLS".to_string(),
    };
    Ok(format!("({tls}): {version}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_lines_unescape_colons() {
        assert_eq!(
            split_pgpass_line(r"h:5432:db:u:pa\:ss\\"),
            vec!["h", "5432", "db", "u", r"pa:ss\"]
        );
    }

    fn settings_with_url(url: &str) -> ConnectionSettings {
        ConnectionSettings {
            host: "ignored".into(),
            port: 1,
            user: "x".into(),
            password: None,
            database: "x".into(),
            url: Some(url.into()),
            ssl_mode: SslMode::Prefer,
            ssl_root_cert: None,
            ssl_client_cert: None,
            ssl_client_key: None,
            application_name: "t".into(),
            connect_timeout: Duration::from_secs(1),
            session_timeouts: crate::config::SessionTimeouts::Off,
            ssh_tunnel: None,
        }
    }

    fn pem_setting(key: &'static str, value: &str) -> Option<PemSetting> {
        Some(PemSetting {
            key,
            origin: "test.json".into(),
            source: PemSource::parse(value, true),
        })
    }

    #[test]
    fn sqlalchemy_urls_are_accepted() {
        let settings =
            settings_with_url("postgresql+psycopg2://alice:secret@db.example:6000/warehouse");
        let config = endpoint(&settings).unwrap().config;
        assert_eq!(config.get_user(), Some("alice"));
        assert_eq!(config.get_dbname(), Some("warehouse"));
        assert_eq!(config.get_ports(), &[6000]);
        assert_eq!(
            describe_target(&config),
            "db.example:6000/warehouse as alice"
        );
    }

    #[test]
    fn url_tls_parameters_are_taken_out_and_decoded_the_rest_is_kept() {
        let (driver_url, found) = take_tls_parameters(
            "postgres://u:p@h:1/d?sslmode=verify-full&application_name=a%20b\
             &sslrootcert=%2Ftmp%2Fmy%20ca.pem&sslcert=c.pem&sslkey=k+1.pem",
        )
        .unwrap();
        assert_eq!(driver_url, "postgres://u:p@h:1/d?application_name=a%20b");
        assert_eq!(found.mode, Some(SslMode::VerifyFull));
        assert_eq!(found.root_cert.as_deref(), Some("/tmp/my ca.pem"));
        assert_eq!(found.client_cert.as_deref(), Some("c.pem"));
        assert_eq!(found.client_key.as_deref(), Some("k+1.pem"));
        let (driver_url, found) = take_tls_parameters("postgres://h/d?sslmode=disable").unwrap();
        assert_eq!(driver_url, "postgres://h/d");
        assert_eq!(found.mode, Some(SslMode::Disable));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%e2%82%ac"), Some("€".to_string()));
    }

    #[test]
    fn the_urls_sslmode_wins_over_the_setting() {
        let mut settings = settings_with_url("postgres://u@h:1/d?sslmode=require");
        settings.ssl_mode = SslMode::Disable;
        let built = endpoint(&settings).unwrap();
        assert_eq!(built.tls.mode, SslMode::Require);
        assert_eq!(
            built.config.get_ssl_mode(),
            postgres::config::SslMode::Require
        );
        // Without one in the URL, the setting applies to the URL's connection too.
        let mut settings = settings_with_url("postgres://u@h:1/d");
        settings.ssl_mode = SslMode::Disable;
        let built = endpoint(&settings).unwrap();
        assert_eq!(built.tls.mode, SslMode::Disable);
        assert_eq!(
            built.config.get_ssl_mode(),
            postgres::config::SslMode::Disable
        );
    }

    #[test]
    fn a_bad_sslmode_in_the_url_is_a_config_error_without_the_password() {
        let Err(err) = endpoint(&settings_with_url(
            "postgres://u:hunter2@h:1/d?sslmode=verify",
        )) else {
            panic!("accepted");
        };
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("sslmode must be"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn a_missing_root_certificate_file_is_a_config_error_naming_it() {
        let mut settings = settings_with_url("postgres://u@h:1/d");
        settings.ssl_mode = SslMode::VerifyFull;
        settings.ssl_root_cert = pem_setting("ssl_root_cert", "/nonexistent/ca.pem");
        let Err(err) = endpoint(&settings) else {
            panic!("accepted");
        };
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().starts_with(
                "config: \"ssl_root_cert\": neither PEM text nor a readable file: cannot read /nonexistent/ca.pem"
            ),
            "{err}"
        );
        // Without TLS the certificate settings are not read at all, as in libpq.
        settings.ssl_mode = SslMode::Disable;
        assert!(endpoint(&settings).is_ok());
    }

    #[test]
    fn a_client_certificate_needs_its_key_and_bad_key_text_is_never_echoed() {
        let mut settings = settings_with_url("postgres://u@h:1/d?sslmode=require");
        settings.ssl_client_key = pem_setting(
            "ssl_client_key",
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n",
        );
        let Err(err) = endpoint(&settings) else {
            panic!("accepted");
        };
        assert!(
            err.to_string().contains("needs \"ssl_client_cert\""),
            "{err}"
        );
        assert!(!err.to_string().contains("c2VjcmV0"), "{err}");
        settings.ssl_client_cert = pem_setting("ssl_client_cert", "/nonexistent/client.pem");
        let Err(err) = endpoint(&settings) else {
            panic!("accepted");
        };
        assert!(err.to_string().contains("/nonexistent/client.pem"), "{err}");
    }
}
