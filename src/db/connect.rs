//! Connections: settings → `postgres::Config`, a first direct connection for a fast and
//! specific error, and the r2d2 pool the flush workers draw from.
//!
//! r2d2 would otherwise open every connection eagerly and wait 30 s on failure, hiding the
//! server's actual complaint; so we connect once ourselves (retrying for
//! `connect_timeout_seconds` while the server is down) and build the pool lazily.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};
use r2d2_postgres::PostgresConnectionManager;

use crate::config::{ConnectionSettings, SslMode};
use crate::error::{is_transient_db_error, Error, Result};

/// The pool of connections flush workers use.
pub type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// Builds the driver configuration from our settings (a URL wins over the fields).
pub fn pg_config(settings: &ConnectionSettings) -> Result<postgres::Config> {
    let mut config = match &settings.url {
        Some(url) => {
            // Accept SQLAlchemy's `postgresql+psycopg2://` spelling.
            let normalized = match url.split_once("://") {
                Some((scheme, rest)) if scheme.contains('+') => {
                    format!("postgresql://{rest}")
                }
                _ => url.clone(),
            };
            postgres::Config::from_str(&normalized).map_err(|_| {
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
            config.ssl_mode(match settings.ssl_mode {
                SslMode::Disable => postgres::config::SslMode::Disable,
                _ => postgres::config::SslMode::Prefer,
            });
            config
        }
    };
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
    Ok(config)
}

/// Connects once, retrying while the server is unreachable, for at most the configured
/// connect timeout; then fails with the server's own message.
pub fn connect_direct(settings: &ConnectionSettings) -> Result<Client> {
    let config = pg_config(settings)?;
    let deadline = Instant::now() + settings.connect_timeout;
    let mut delay = Duration::from_millis(100);
    loop {
        match config.connect(NoTls) {
            Ok(client) => return Ok(client),
            Err(error) if is_transient_db_error(&error) && Instant::now() + delay < deadline => {
                log::warn!("cannot connect yet ({error}); retrying");
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(error) => {
                return Err(Error::db(
                    format!("connecting to {}", describe_target(&config)),
                    error,
                ))
            }
        }
    }
}

/// A lazily filled pool of `size` connections.
pub fn build_pool(settings: &ConnectionSettings, size: usize) -> Result<Pool> {
    let config = pg_config(settings)?;
    let manager = PostgresConnectionManager::new(config, NoTls);
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
        .build_unchecked(manager))
}

/// r2d2 logs failed connection attempts at ERROR level by default; while it keeps retrying
/// (a server restarting) that is a warning, and only a flush that finally fails is an error.
#[derive(Debug)]
struct WarnOnConnectError;

impl r2d2::HandleError<postgres::Error> for WarnOnConnectError {
    fn handle_error(&self, error: postgres::Error) {
        log::warn!("opening a pooled connection failed ({error}); retrying");
    }
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

    #[test]
    fn sqlalchemy_urls_are_accepted() {
        let settings = ConnectionSettings {
            host: "ignored".into(),
            port: 1,
            user: "x".into(),
            password: None,
            database: "x".into(),
            url: Some("postgresql+psycopg2://alice:secret@db.example:6000/warehouse".into()),
            ssl_mode: SslMode::Prefer,
            application_name: "t".into(),
            connect_timeout: Duration::from_secs(1),
        };
        let config = pg_config(&settings).unwrap();
        assert_eq!(config.get_user(), Some("alice"));
        assert_eq!(config.get_dbname(), Some("warehouse"));
        assert_eq!(config.get_ports(), &[6000]);
        assert_eq!(
            describe_target(&config),
            "db.example:6000/warehouse as alice"
        );
    }
}
