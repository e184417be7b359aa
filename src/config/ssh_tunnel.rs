//! The `ssh_tunnel` setting: MeltanoLabs target-postgres' object (`enable`, `host`, `port`,
//! `username`, `private_key`, `private_key_password`) plus our host-key settings
//! (`host_key_fingerprint`, `known_hosts`, `accept_any_host_key`), checked field by field.
//!
//! Every error names the field as `ssh_tunnel.<field>` and the file it came from; the private
//! key and its passphrase never appear in an error or a `Debug` line. Reading and decrypting
//! the key is the tunnel's job (`db::ssh`), which reports a bad key as a config error too.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::pem::PemSource;
use super::raw::RawConfig;
use crate::error::{Error, Result};

/// The fields `ssh_tunnel` may hold; any other is an error (a misspelt `private_key_pasword`
/// would otherwise be ignored, and the key would then fail to decrypt for no visible reason).
const FIELDS: &[&str] = &[
    "enable",
    "host",
    "port",
    "username",
    "private_key",
    "private_key_password",
    "host_key_fingerprint",
    "known_hosts",
    "accept_any_host_key",
];

/// A validated SSH tunnel: where the bastion is, who we are there, and which host keys we
/// accept from it.
#[derive(Clone)]
pub struct SshTunnelSettings {
    /// The bastion's host name or address.
    pub host: String,
    /// Its SSH port.
    pub port: u16,
    /// The user we log in as.
    pub username: String,
    /// The private key: PEM (or PuTTY) text, or a file.
    pub private_key: PemSource,
    /// Its passphrase, when it is encrypted.
    pub private_key_password: Option<String>,
    /// Which host keys are accepted.
    pub host_key: HostKeyPolicy,
    /// The file (or `environment`) the setting came from, for error messages.
    pub origin: String,
}

impl std::fmt::Debug for SshTunnelSettings {
    // Hand-written so that the passphrase never reaches a log (PemSource hides key text).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshTunnelSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("private_key", &self.private_key)
            .field(
                "private_key_password",
                &self.private_key_password.as_ref().map(|_| "***"),
            )
            .field("host_key", &self.host_key)
            .field("origin", &self.origin)
            .finish()
    }
}

/// Which host keys of the bastion are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// A key whose SHA256 fingerprint is one of these (`SHA256:<base64>`, as `ssh-keygen -lf`
    /// prints it), or that `known_hosts` records for the bastion, when given.
    Pinned {
        /// Accepted fingerprints.
        fingerprints: Vec<String>,
        /// A known_hosts file to consult as well.
        known_hosts: Option<PathBuf>,
    },
    /// Nothing pinned: the key must be recorded for the bastion in `~/.ssh/known_hosts`, as
    /// `ssh` itself would require.
    UserKnownHosts,
    /// Any key (MeltanoLabs' behaviour), with a warning naming its fingerprint on every run.
    AcceptAny,
}

impl RawConfig {
    /// `ssh_tunnel`, when it is set and enabled.
    pub(super) fn ssh_tunnel(&self) -> Result<Option<SshTunnelSettings>> {
        let Some(sourced) = self.get("ssh_tunnel") else {
            return Ok(None);
        };
        let origin = sourced.origin.clone();
        let object = match &sourced.value {
            Value::Object(object) => object,
            // The object holds a key: say what it is, never what it holds.
            _ => {
                return Err(Error::config(
                    "\"ssh_tunnel\" must be an object with enable, host, port, username, private_key and private_key_password",
                    origin,
                ))
            }
        };
        let fields = Fields {
            object,
            origin: &origin,
        };
        if let Some(unknown) = object.keys().find(|key| !FIELDS.contains(&key.as_str())) {
            return Err(fields.error(
                unknown,
                format!(
                    "is not a field of ssh_tunnel (its fields: {})",
                    FIELDS.join(", ")
                ),
            ));
        }
        if !fields.boolean("enable")?.unwrap_or(false) {
            if object.keys().any(|key| key != "enable") {
                // MeltanoLabs connects directly unless enable is true; say so, since a
                // forgotten `enable` otherwise looks like a tunnel that does not work.
                log::warn!(
                    "config: ssh_tunnel is set but ssh_tunnel.enable is not true, so no SSH tunnel is used ({origin})"
                );
            }
            return Ok(None);
        }
        let host = fields.required_string("host")?;
        let username = fields.required_string("username")?;
        let port = match fields.integer("port")? {
            None => 22,
            Some(port) => u16::try_from(port)
                .ok()
                .filter(|port| *port > 0)
                .ok_or_else(|| fields.error("port", format!("must be 1-65535, got {port}")))?,
        };
        let key_text = fields.required_string("private_key")?;
        Ok(Some(SshTunnelSettings {
            host,
            port,
            username,
            private_key: key_source(&key_text),
            private_key_password: fields
                .string("private_key_password")?
                .filter(|p| !p.is_empty()),
            host_key: fields.host_key_policy()?,
            origin,
        }))
    }
}

/// The fields of the `ssh_tunnel` object, with typed getters whose errors name
/// `ssh_tunnel.<field>`.
struct Fields<'a> {
    object: &'a Map<String, Value>,
    origin: &'a str,
}

impl Fields<'_> {
    fn error(&self, field: &str, message: impl std::fmt::Display) -> Error {
        Error::config(format!("\"ssh_tunnel.{field}\" {message}"), self.origin)
    }

    fn get(&self, field: &str) -> Option<&Value> {
        self.object.get(field).filter(|value| !value.is_null())
    }

    /// A string field; for the key and its passphrase the message never shows the value.
    fn string(&self, field: &str) -> Result<Option<String>> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(self.error(
                field,
                format!("must be a string, got {}", self.shown(field, other)),
            )),
        }
    }

    fn required_string(&self, field: &str) -> Result<String> {
        match self.string(field)? {
            Some(text) if !text.trim().is_empty() => Ok(text.trim().to_string()),
            _ => Err(self.error(field, "is required when ssh_tunnel.enable is true")),
        }
    }

    fn integer(&self, field: &str) -> Result<Option<i64>> {
        let Some(value) = self.get(field) else {
            return Ok(None);
        };
        let parsed = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| {
            self.error(
                field,
                format!("must be a whole number, got {}", self.shown(field, value)),
            )
        })
    }

    fn boolean(&self, field: &str) -> Result<Option<bool>> {
        let Some(value) = self.get(field) else {
            return Ok(None);
        };
        let parsed = match value {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Some(true),
                "false" | "0" | "no" | "off" | "" => Some(false),
                _ => None,
            },
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| {
            self.error(
                field,
                format!("must be true or false, got {}", self.shown(field, value)),
            )
        })
    }

    /// A value for an error message: the secrets' types only.
    fn shown(&self, field: &str, value: &Value) -> String {
        if field == "private_key" || field == "private_key_password" {
            match value {
                Value::Object(_) => "an object".into(),
                Value::Array(_) => "an array".into(),
                _ => "a value of another type".into(),
            }
        } else {
            crate::error::excerpt(&value.to_string())
        }
    }

    /// `host_key_fingerprint`, `known_hosts` and `accept_any_host_key`, which must agree.
    fn host_key_policy(&self) -> Result<HostKeyPolicy> {
        let fingerprints = self.fingerprints()?;
        let known_hosts = self
            .string("known_hosts")?
            .filter(|path| !path.trim().is_empty())
            .map(|path| expand_home(path.trim()));
        let accept_any = self.boolean("accept_any_host_key")?.unwrap_or(false);
        if accept_any {
            if !fingerprints.is_empty() || known_hosts.is_some() {
                return Err(self.error(
                    "accept_any_host_key",
                    "cannot be true together with host_key_fingerprint or known_hosts (which keys should be accepted?)",
                ));
            }
            return Ok(HostKeyPolicy::AcceptAny);
        }
        if let Some(path) = &known_hosts {
            if !path.is_file() {
                return Err(self.error(
                    "known_hosts",
                    format!("names {}, which is not a readable file", path.display()),
                ));
            }
        }
        if fingerprints.is_empty() && known_hosts.is_none() {
            return Ok(HostKeyPolicy::UserKnownHosts);
        }
        Ok(HostKeyPolicy::Pinned {
            fingerprints,
            known_hosts,
        })
    }

    /// `host_key_fingerprint`: one `SHA256:...` string or a list of them (a key rotation).
    fn fingerprints(&self) -> Result<Vec<String>> {
        let texts: Vec<String> = match self.get("host_key_fingerprint") {
            None => Vec::new(),
            Some(Value::String(text)) => vec![text.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text.clone()),
                    other => Err(self.error(
                        "host_key_fingerprint",
                        format!("must hold strings, got {}", self.shown("", other)),
                    )),
                })
                .collect::<Result<_>>()?,
            Some(other) => {
                return Err(self.error(
                    "host_key_fingerprint",
                    format!(
                        "must be a string or a list of strings, got {}",
                        self.shown("", other)
                    ),
                ))
            }
        };
        texts
            .iter()
            .map(|text| {
                normalize_fingerprint(text).ok_or_else(|| {
                    self.error(
                        "host_key_fingerprint",
                        format!(
                            "must be a SHA256 fingerprint as `ssh-keygen -lf` prints it (SHA256: and 43 base64 characters), got \"{}\"",
                            crate::error::excerpt(text)
                        ),
                    )
                })
            })
            .collect()
    }
}

/// `SHA256:<43 base64 characters>` with any `=` padding removed; `None` when it is not one.
pub fn normalize_fingerprint(text: &str) -> Option<String> {
    let digest = text.trim().strip_prefix("SHA256:")?.trim_end_matches('=');
    let base64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
    (digest.len() == 43 && digest.chars().all(base64)).then(|| format!("SHA256:{digest}"))
}

/// Key text (PEM, or a PuTTY key file's text) or a path (`~/` meaning the home directory).
/// Key text pasted into an environment variable often has `\n` written out: those become
/// line breaks, since a key on one line cannot be read.
fn key_source(value: &str) -> PemSource {
    let trimmed = value.trim();
    if trimmed.contains("-----BEGIN") || trimmed.starts_with("PuTTY-User-Key-File-") {
        if !trimmed.contains('\n') && trimmed.contains("\\n") {
            return PemSource::Text(trimmed.replace("\\n", "\n"));
        }
        PemSource::Text(value.to_string())
    } else {
        PemSource::File(expand_home(trimmed))
    }
}

/// A path with a leading `~/` taken from `HOME`, as a shell would.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::raw;
    use serde_json::json;

    fn tunnel(value: Value) -> Result<Option<SshTunnelSettings>> {
        raw(json!({ "ssh_tunnel": value })).ssh_tunnel()
    }

    const FINGERPRINT: &str = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";

    #[test]
    fn meltanolabs_fields_with_their_defaults() {
        let settings = tunnel(json!({"enable": true, "host": "bastion", "username": "u",
                                     "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n",
                                     "private_key_password": "pw"}))
        .unwrap()
        .unwrap();
        assert_eq!(settings.host, "bastion");
        assert_eq!(settings.port, 22);
        assert_eq!(settings.username, "u");
        assert!(matches!(settings.private_key, PemSource::Text(_)));
        assert_eq!(settings.private_key_password.as_deref(), Some("pw"));
        assert_eq!(settings.host_key, HostKeyPolicy::UserKnownHosts);
        assert_eq!(settings.origin, "test.json");
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("pw\"") && !shown.contains("\nx\n"),
            "{shown}"
        );
    }

    #[test]
    fn disabled_or_absent_means_no_tunnel() {
        assert!(tunnel(json!({"enable": false, "host": "b"}))
            .unwrap()
            .is_none());
        assert!(tunnel(json!({"host": "b"})).unwrap().is_none());
        assert!(raw(json!({})).ssh_tunnel().unwrap().is_none());
    }

    #[test]
    fn errors_name_the_field_and_never_the_secrets() {
        let base = json!({"enable": true, "host": "b", "username": "u", "private_key": "/k"});
        let with = |field: &str, value: Value| {
            let mut object = base.clone();
            object[field] = value;
            tunnel(object).unwrap_err().to_string()
        };
        let missing = tunnel(json!({"enable": true, "username": "u", "private_key": "/k"}))
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("\"ssh_tunnel.host\" is required"),
            "{missing}"
        );
        let err = with("port", json!(70000));
        assert!(err.contains("\"ssh_tunnel.port\" must be 1-65535"), "{err}");
        let err = with("private_key_pasword", json!("hunter2"));
        assert!(
            err.contains("\"ssh_tunnel.private_key_pasword\" is not a field"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
        let err = with("private_key_password", json!(["hunter2"]));
        assert!(err.contains("\"ssh_tunnel.private_key_password\""), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = with("host_key_fingerprint", json!("MD5:aa:bb"));
        assert!(
            err.contains("\"ssh_tunnel.host_key_fingerprint\" must be a SHA256"),
            "{err}"
        );
        let err = with("known_hosts", json!("/nonexistent/known_hosts"));
        assert!(err.contains("/nonexistent/known_hosts"), "{err}");
        // accept_any_host_key alone is accepted; with a pin it is a contradiction.
        let mut both = base.clone();
        both["accept_any_host_key"] = json!(true);
        both["host_key_fingerprint"] = json!(FINGERPRINT);
        let err = tunnel(both).unwrap_err().to_string();
        assert!(err.contains("accept_any_host_key"), "{err}");
        let err = tunnel(json!("a string")).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn fingerprints_are_pinned_one_or_several() {
        let settings = tunnel(json!({"enable": "true", "host": "b", "port": "2222", "username": "u",
                                     "private_key": "~/.ssh/id_ed25519",
                                     "host_key_fingerprint": [FINGERPRINT, format!("{FINGERPRINT}=")]}))
        .unwrap()
        .unwrap();
        assert_eq!(settings.port, 2222);
        assert_eq!(
            settings.host_key,
            HostKeyPolicy::Pinned {
                fingerprints: vec![FINGERPRINT.to_string(), FINGERPRINT.to_string()],
                known_hosts: None
            }
        );
        assert!(matches!(&settings.private_key, PemSource::File(p) if !p.starts_with("~")));
    }

    #[test]
    fn key_text_with_written_out_newlines_is_unfolded() {
        let folded =
            "-----BEGIN OPENSSH PRIVATE KEY-----\\nabc\\n-----END OPENSSH PRIVATE KEY-----";
        match key_source(folded) {
            PemSource::Text(text) => assert_eq!(text.lines().count(), 3),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(key_source(" /k/id_rsa "), PemSource::File(p) if p.as_os_str() == "/k/id_rsa")
        );
    }
}
