//! One SSH session to the bastion: the private key read (and decrypted), the TCP connection,
//! the host-key check and public-key authentication, each failure told apart so that the
//! tunnel can retry an unreachable bastion and refuse at once an untrusted one or a refused key.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::ssh_key::{Algorithm, HashAlg};
use russh::keys::{decode_secret_key, PrivateKey, PrivateKeyWithHashAlg};
use russh::{MethodKind, Preferred};

use super::host_key::HostKeyCheck;
use crate::config::{PemSource, SshTunnelSettings};
use crate::error::{Error, Result};

/// Formats the private key may be in, for the message about one we cannot read.
const KEY_FORMATS: &str = "OpenSSH (ssh-keygen's default), PKCS#8 (also encrypted), PKCS#1 RSA \
                           (also AES-128-CBC encrypted), SEC1 EC, or a PuTTY .ppk file; with \
                           Ed25519, RSA or ECDSA (P-256/384/521) keys";

/// What a failed session attempt was, so the tunnel can decide whether to try again.
#[derive(Debug)]
pub enum Failure {
    /// The bastion could not be reached or the session broke: worth another try.
    Unreachable(String),
    /// The bastion's host key is not trusted, or our key was refused: final.
    Refused(String),
}

impl Failure {
    /// The words for a user.
    pub fn cause(&self) -> &str {
        match self {
            Failure::Unreachable(cause) | Failure::Refused(cause) => cause,
        }
    }
}

/// Everything needed to open a session, fixed at start.
pub struct SessionConfig {
    /// Bastion host and port.
    host: String,
    port: u16,
    /// The user logged in as.
    username: String,
    /// Our key.
    key: Arc<PrivateKey>,
    /// The host-key policy.
    host_key: HostKeyCheck,
    /// russh's settings (algorithms, keepalives).
    russh: Arc<client::Config>,
    /// Bound on one connection attempt.
    timeout: Duration,
}

impl SessionConfig {
    /// Reads the key (a config error, exit 2, when it cannot be read or decrypted) and fixes
    /// the algorithms to ask for.
    pub fn new(settings: &SshTunnelSettings, timeout: Duration) -> Result<SessionConfig> {
        let key = read_key(settings)?;
        let host_key = HostKeyCheck::new(settings.host_key.clone(), &settings.host, settings.port);
        let defaults = Preferred::DEFAULT;
        let preferred = Preferred {
            key: host_key.preferred_algorithms(&defaults.key).into(),
            ..defaults
        };
        let russh = client::Config {
            preferred,
            // A bastion that stops answering is noticed within a minute, and the next
            // connection opens a new session instead of waiting on a dead one.
            keepalive_interval: Some(Duration::from_secs(15)),
            keepalive_max: 3,
            nodelay: true,
            // COPY data moves in large writes: a larger window keeps the pipe full.
            window_size: 8 * 1024 * 1024,
            ..client::Config::default()
        };
        Ok(SessionConfig {
            host: settings.host.clone(),
            port: settings.port,
            username: settings.username.clone(),
            key: Arc::new(key),
            host_key,
            russh: Arc::new(russh),
            timeout: timeout.max(Duration::from_secs(5)),
        })
    }

    /// Bound on one attempt to connect or to open a channel.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `user@host:port`, for messages.
    pub fn bastion(&self) -> String {
        format!("{}@{}", self.username, self.host_key.bastion())
    }

    /// Connects, checks the host key and logs in.
    pub async fn open(&self) -> std::result::Result<Handle<Client>, Failure> {
        let refusal = Arc::new(Mutex::new(None));
        let client = Client {
            host_key: self.host_key.clone(),
            refusal: refusal.clone(),
        };
        let address = (self.host.as_str(), self.port);
        let connecting = client::connect(self.russh.clone(), address, client);
        let mut handle = match tokio::time::timeout(self.timeout, connecting).await {
            Err(_) => {
                return Err(Failure::Unreachable(format!(
                    "no answer from {}:{} within {} s",
                    self.host,
                    self.port,
                    self.timeout.as_secs()
                )))
            }
            Ok(Ok(handle)) => handle,
            Ok(Err(russh::Error::UnknownKey)) => {
                let cause = refusal.lock().ok().and_then(|mut cause| cause.take());
                return Err(Failure::Refused(cause.unwrap_or_else(|| {
                    "the bastion's host key was refused".to_string()
                })));
            }
            Ok(Err(russh::Error::IO(error))) => {
                return Err(Failure::Unreachable(format!(
                    "cannot connect to {}:{}: {error}",
                    self.host, self.port
                )))
            }
            Ok(Err(other)) => {
                return Err(Failure::Unreachable(format!(
                    "the SSH handshake with {}:{} failed: {other}",
                    self.host, self.port
                )))
            }
        };
        let broken = |error: russh::Error| {
            Failure::Unreachable(format!("the SSH session broke while logging in: {error}"))
        };
        let hash = if matches!(self.key.algorithm(), Algorithm::Rsa { .. }) {
            handle
                .best_supported_rsa_hash()
                .await
                .map_err(broken)?
                .flatten()
        } else {
            None
        };
        let key = PrivateKeyWithHashAlg::new(self.key.clone(), hash);
        let outcome = handle
            .authenticate_publickey(&self.username, key)
            .await
            .map_err(broken)?;
        match outcome {
            client::AuthResult::Success => Ok(handle),
            client::AuthResult::Failure {
                remaining_methods,
                partial_success,
            } => Err(Failure::Refused(self.auth_refusal(
                remaining_methods.iter().copied().collect(),
                partial_success,
            ))),
        }
    }

    /// The bastion refused our key: say which key and for whom.
    fn auth_refusal(&self, remaining: Vec<MethodKind>, partial_success: bool) -> String {
        let fingerprint = self.key.public_key().fingerprint(HashAlg::Sha256);
        let mut message = format!(
            "the bastion refused ssh_tunnel.private_key ({} {fingerprint}) for user \"{}\": its public key \
             must be in that user's ~/.ssh/authorized_keys on the bastion",
            self.key.algorithm(),
            self.username
        );
        if partial_success {
            message.push_str(
                " (the key was accepted but the bastion asks for a second method, which is not supported)",
            );
        } else if !remaining.is_empty() && !remaining.contains(&MethodKind::PublicKey) {
            let names: Vec<&str> = remaining.iter().map(|m| m.into()).collect();
            message.push_str(&format!(
                " (the bastion accepts only: {}, not keys)",
                names.join(", ")
            ));
        }
        message
    }
}

/// russh's callbacks: the host-key check, whose refusal is kept for the error message.
pub struct Client {
    host_key: HostKeyCheck,
    refusal: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        offered: &russh::keys::PublicKeyOrCertificate,
    ) -> std::result::Result<bool, Self::Error> {
        let verdict = match offered {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => self.host_key.check(key),
            // Certificates are not asked for; a bastion sending one anyway is refused.
            russh::keys::PublicKeyOrCertificate::Certificate(_) => {
                Err("the bastion offered a host certificate, which is not supported".to_string())
            }
        };
        match verdict {
            Ok(()) => Ok(true),
            Err(cause) => {
                if let Ok(mut slot) = self.refusal.lock() {
                    *slot = Some(cause);
                }
                Ok(false)
            }
        }
    }
}

/// Reads and decrypts `ssh_tunnel.private_key`; what goes wrong is a config error naming the
/// setting (and the file), never the key's text or the passphrase.
fn read_key(settings: &SshTunnelSettings) -> Result<PrivateKey> {
    let (text, whence) = match &settings.private_key {
        PemSource::Text(text) => (text.clone(), "the key text".to_string()),
        PemSource::File(path) => match std::fs::read_to_string(path) {
            Ok(text) => (text, path.display().to_string()),
            Err(error) => {
                return Err(Error::config(
                    format!(
                        "\"ssh_tunnel.private_key\": cannot read {}: {error}",
                        path.display()
                    ),
                    &settings.origin,
                ))
            }
        },
        PemSource::System => {
            return Err(Error::config(
                "\"ssh_tunnel.private_key\" must be key text or a file path",
                &settings.origin,
            ))
        }
    };
    let password = settings.private_key_password.as_deref();
    let error = match decode_secret_key(&text, password) {
        Ok(key) => return Ok(key),
        Err(error) => error,
    };
    let message = match (&error, password) {
        (russh::keys::Error::KeyIsEncrypted, None) => format!(
            "\"ssh_tunnel.private_key\" ({whence}) is encrypted: set ssh_tunnel.private_key_password to its passphrase"
        ),
        (_, Some(_)) if is_encrypted(&text) => format!(
            "\"ssh_tunnel.private_key\" ({whence}) cannot be decrypted with ssh_tunnel.private_key_password: \
             the passphrase is wrong, or the encryption is not supported ({error})"
        ),
        _ => format!(
            "\"ssh_tunnel.private_key\" ({whence}) is not a private key that can be read ({error}); \
             supported: {KEY_FORMATS}"
        ),
    };
    Err(Error::config(message, &settings.origin))
}

/// Whether key text is passphrase-protected, judged as far as that can be without the
/// passphrase: an OpenSSH key whose cipher is not `none`, encrypted PKCS#8, or legacy PEM
/// with `Proc-Type: 4,ENCRYPTED`, or a PuTTY key with an encryption other than `none`.
fn is_encrypted(text: &str) -> bool {
    if text.contains("ENCRYPTED") {
        return true;
    }
    if text.starts_with("PuTTY-User-Key-File-") {
        return !text.contains("Encryption: none");
    }
    // Decoding without a passphrase tells an encrypted OpenSSH key apart.
    matches!(
        decode_secret_key(text, None),
        Err(russh::keys::Error::KeyIsEncrypted)
    )
}
