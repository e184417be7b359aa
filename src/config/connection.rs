//! Where and how to connect: [`ConnectionSettings`], the TLS policy and the certificate and
//! key settings, built from the raw config.
//!
//! Each field falls back as libpq does: a setting wins, then its `PG*` environment variable,
//! then libpq's default. Meltano's `ssl_enable: false` switches every other TLS setting off.
//! Secrets (the password, a URL that may hold one, key material) never reach a `Debug` line
//! or an error message.

use std::time::Duration;

use super::pem::PemSource;
use super::raw::RawConfig;
use super::spec::is_sensitive;
use super::ssh_tunnel::SshTunnelSettings;
use crate::error::{Error, Result};

/// TLS policy, as libpq names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS if the server offers it.
    Prefer,
    /// TLS, no certificate check.
    Require,
    /// TLS, certificate chain checked.
    VerifyCa,
    /// TLS, chain and host name checked.
    VerifyFull,
}

impl SslMode {
    /// libpq's names (and `allow`, taken as prefer); `None` for anything else.
    pub fn parse(text: &str) -> Option<SslMode> {
        match text.trim().to_ascii_lowercase().as_str() {
            "disable" => Some(SslMode::Disable),
            "allow" | "prefer" => Some(SslMode::Prefer),
            "require" => Some(SslMode::Require),
            "verify-ca" | "verify_ca" => Some(SslMode::VerifyCa),
            "verify-full" | "verify_full" => Some(SslMode::VerifyFull),
            _ => None,
        }
    }

    /// The libpq name.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// `session_timeouts`: what the loader's sessions do with the server's timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionTimeouts {
    /// Set every timeout that can cancel a statement or end a transaction to 0.
    Off,
    /// Keep what the role, database or server sets.
    Server,
}

/// Where and how to connect.
#[derive(Clone)]
pub struct ConnectionSettings {
    /// Host name or socket directory.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Role name.
    pub user: String,
    /// Password, when given (else ~/.pgpass is consulted).
    pub password: Option<String>,
    /// Database name.
    pub database: String,
    /// A full URL that wins over the fields above.
    pub url: Option<String>,
    /// TLS policy (a `sslmode` in the URL wins).
    pub ssl_mode: SslMode,
    /// CA certificates to trust (a `sslrootcert` in the URL wins).
    pub ssl_root_cert: Option<PemSetting>,
    /// Client certificate (a `sslcert` in the URL wins).
    pub ssl_client_cert: Option<PemSetting>,
    /// Client certificate's private key (a `sslkey` in the URL wins).
    pub ssl_client_key: Option<PemSetting>,
    /// Reported to the server.
    pub application_name: String,
    /// How long to keep trying at start.
    pub connect_timeout: Duration,
    /// What the sessions do with the server's statement and transaction timeouts.
    pub session_timeouts: SessionTimeouts,
    /// Connect through this SSH bastion (`ssh_tunnel`, when enabled).
    pub ssh_tunnel: Option<SshTunnelSettings>,
}

impl std::fmt::Debug for ConnectionSettings {
    // Hand-written so a password or a URL holding one never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("database", &self.database)
            .field("url", &self.url.as_ref().map(|_| "***"))
            .field("ssl_mode", &self.ssl_mode)
            .field("ssl_root_cert", &self.ssl_root_cert)
            .field("ssl_client_cert", &self.ssl_client_cert)
            .field("ssl_client_key", &self.ssl_client_key)
            .field("session_timeouts", &self.session_timeouts)
            .field("ssh_tunnel", &self.ssh_tunnel)
            .finish()
    }
}

/// A certificate or key setting, with where it came from for error messages.
#[derive(Debug, Clone)]
pub struct PemSetting {
    /// The key it was given under (`ssl_root_cert`, or `sslrootcert` in the URL).
    pub key: &'static str,
    /// The config file, `environment`, a libpq variable or `url`.
    pub origin: String,
    /// The file or the text.
    pub source: PemSource,
}

impl PemSetting {
    /// Whether it holds a private key, which no message may repeat.
    pub fn is_secret(&self) -> bool {
        // The settings table marks secrets; `sslkey` is the same key given in the URL.
        is_sensitive(self.key) || self.key == "sslkey"
    }
}

impl RawConfig {
    /// Validates the connection settings.
    pub(super) fn connection(&self) -> Result<ConnectionSettings> {
        let port = self.port()?;
        let tls = self.tls()?;
        let user = self
            .string("user")?
            .or_else(|| libpq_env("PGUSER"))
            .or_else(|| libpq_env("USER"))
            .unwrap_or_else(|| "postgres".to_string());
        let database = self
            .string("database")?
            .or_else(|| libpq_env("PGDATABASE"))
            .unwrap_or_else(|| user.clone());
        let host = self
            .string("host")?
            .or_else(|| libpq_env("PGHOST"))
            .unwrap_or_else(|| "localhost".to_string());
        let url = self.url()?;
        let connect_timeout = self.positive("connect_timeout_seconds", 10)?.min(86_400);
        Ok(ConnectionSettings {
            host,
            port,
            user,
            password: self.string("password")?.or_else(|| libpq_env("PGPASSWORD")),
            database,
            url,
            ssl_mode: tls.mode,
            ssl_root_cert: tls.root_cert,
            ssl_client_cert: tls.client_cert,
            ssl_client_key: tls.client_key,
            application_name: self
                .string("application_name")?
                .unwrap_or_else(|| "target-postgres".to_string()),
            connect_timeout: Duration::from_secs(connect_timeout as u64),
            session_timeouts: self.session_timeouts()?,
            ssh_tunnel: self.ssh_tunnel()?,
        })
    }

    /// `session_timeouts`: off unless told otherwise.
    fn session_timeouts(&self) -> Result<SessionTimeouts> {
        match self.string("session_timeouts")?.as_deref() {
            None | Some("off") => Ok(SessionTimeouts::Off),
            Some("server") => Ok(SessionTimeouts::Server),
            Some(other) => Err(Error::config(
                format!("\"session_timeouts\" must be off or server, got \"{other}\""),
                self.origin("session_timeouts"),
            )),
        }
    }

    /// `port`, else `PGPORT`, else 5432.
    fn port(&self) -> Result<u16> {
        match self.integer("port")? {
            Some(port) => u16::try_from(port).map_err(|_| {
                Error::config(
                    format!("\"port\" must be 1-65535, got {port}"),
                    self.origin("port"),
                )
            }),
            None => Ok(libpq_env("PGPORT")
                .and_then(|p| p.parse().ok())
                .unwrap_or(5432)),
        }
    }

    /// `url`, which must be a PostgreSQL URL; empty means unset.
    fn url(&self) -> Result<Option<String>> {
        let url = self.string("url")?.filter(|u| !u.is_empty());
        if let Some(url) = &url {
            let scheme = url.split("://").next().unwrap_or_default();
            let base = scheme.split('+').next().unwrap_or_default();
            if !url.contains("://") || !(base == "postgres" || base == "postgresql") {
                // The URL may hold a password: name the key, not the value.
                return Err(Error::config(
                    "\"url\" must start with postgres:// or postgresql://",
                    self.origin("url"),
                ));
            }
        }
        Ok(url)
    }

    /// The TLS mode and the certificate and key settings.
    fn tls(&self) -> Result<Tls> {
        // Meltano's `ssl_enable: false` switches its other ssl_* settings off, however they
        // are set (its hub definition fills them with defaults such as verify-full).
        let ssl_disabled_by_meltano = self.boolean("ssl_enable")? == Some(false);
        if ssl_disabled_by_meltano {
            if [
                "ssl_mode",
                "ssl_root_cert",
                "ssl_client_cert",
                "ssl_client_key",
            ]
            .iter()
            .any(|key| self.get(key).is_some())
            {
                log::info!(
                    "config: ssl_enable is false, so ssl_mode and the ssl certificate settings are ignored ({})",
                    self.origin("ssl_enable")
                );
            }
            return Ok(Tls {
                mode: libpq_ssl_mode(),
                root_cert: None,
                client_cert: None,
                client_key: None,
            });
        }
        let mode = match self.string("ssl_mode")? {
            Some(mode) => SslMode::parse(&mode).ok_or_else(|| {
                Error::config(
                    format!("\"ssl_mode\" must be disable, prefer, require, verify-ca or verify-full, got \"{mode}\""),
                    self.origin("ssl_mode"),
                )
            })?,
            None if self.boolean("ssl_enable")?.unwrap_or(false) => SslMode::Require,
            None => libpq_ssl_mode(),
        };
        Ok(Tls {
            mode,
            root_cert: self.pem_setting("ssl_root_cert", "PGSSLROOTCERT", true)?,
            client_cert: self.pem_setting("ssl_client_cert", "PGSSLCERT", false)?,
            client_key: self.pem_setting("ssl_client_key", "PGSSLKEY", false)?,
        })
    }

    /// A certificate or key setting, else its libpq environment variable; empty means unset.
    fn pem_setting(
        &self,
        name: &'static str,
        variable: &'static str,
        system_allowed: bool,
    ) -> Result<Option<PemSetting>> {
        let (value, origin) = match self.string(name)?.filter(|v| !v.trim().is_empty()) {
            Some(value) => (value, self.origin(name)),
            None => match std::env::var(variable)
                .ok()
                .filter(|v| !v.trim().is_empty())
            {
                Some(value) => (value, variable.to_string()),
                None => return Ok(None),
            },
        };
        Ok(Some(PemSetting {
            key: name,
            origin,
            source: PemSource::parse(&value, system_allowed),
        }))
    }
}

/// The TLS part of [`ConnectionSettings`], validated together.
struct Tls {
    /// TLS policy.
    mode: SslMode,
    /// CA certificates to trust.
    root_cert: Option<PemSetting>,
    /// Client certificate.
    client_cert: Option<PemSetting>,
    /// Client certificate's private key.
    client_key: Option<PemSetting>,
}

/// `PGSSLMODE` when it names a mode, else prefer.
fn libpq_ssl_mode() -> SslMode {
    libpq_env("PGSSLMODE")
        .and_then(|m| SslMode::parse(&m))
        .unwrap_or(SslMode::Prefer)
}

/// A libpq environment variable; empty counts as unset.
fn libpq_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::raw;
    use serde_json::json;

    #[test]
    fn meltano_ssl_enable_false_turns_the_other_ssl_settings_off() {
        let settings = raw(json!({"ssl_enable": false, "ssl_mode": "verify-full",
                                  "ssl_certificate_authority": "~/.postgresql/root.crl"}))
        .validate(false)
        .unwrap();
        assert_eq!(settings.connection.ssl_mode.as_str(), "prefer");
        assert!(settings.connection.ssl_root_cert.is_none());
        let settings = raw(json!({"ssl_enable": true})).validate(false).unwrap();
        assert_eq!(settings.connection.ssl_mode.as_str(), "require");
        let settings = raw(json!({"sslmode": "verify-ca"}))
            .validate(false)
            .unwrap();
        assert_eq!(settings.connection.ssl_mode.as_str(), "verify-ca");
    }

    #[test]
    fn sensitive_values_are_never_echoed() {
        let err = raw(json!({"url": "mysql://u:hunter2@h/d"}))
            .validate(false)
            .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let settings = raw(json!({"password": "hunter2"})).validate(false).unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn certificate_settings_are_pem_text_system_or_a_path_and_key_text_is_never_shown() {
        let key_text = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----";
        let settings = raw(json!({
            "ssl_mode": "verify-full",
            "ssl_certificate_authority": "system",
            "ssl_client_certificate": " /etc/client.pem ",
            "ssl_client_private_key": key_text,
        }))
        .validate(false)
        .unwrap();
        let connection = &settings.connection;
        assert_eq!(connection.ssl_mode, SslMode::VerifyFull);
        let root = connection.ssl_root_cert.as_ref().unwrap();
        assert!(matches!(root.source, PemSource::System));
        assert_eq!(root.origin, "test.json");
        let cert = connection.ssl_client_cert.as_ref().unwrap();
        assert!(
            matches!(&cert.source, PemSource::File(p) if p.as_os_str() == "/etc/client.pem"),
            "{cert:?}"
        );
        let key = connection.ssl_client_key.as_ref().unwrap();
        assert!(matches!(&key.source, PemSource::Text(t) if t == key_text));
        assert!(!format!("{settings:?}").contains("c2VjcmV0"));
        // `system` means the trust store only for root certificates.
        assert!(matches!(
            PemSource::parse("system", false),
            PemSource::File(_)
        ));
    }
}
