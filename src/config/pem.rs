//! [`PemSource`]: where certificate or key data is — a file, the text itself, or (for root
//! certificates) the system's trust store. Shared by the TLS settings and `ssh_tunnel`.

use std::path::PathBuf;

/// Where PEM data is: SPEC §2 takes a file path or the PEM text itself.
#[derive(Clone)]
pub enum PemSource {
    /// A file to read.
    File(PathBuf),
    /// The PEM text itself (the value contains `-----BEGIN`).
    Text(String),
    /// libpq's `sslrootcert=system`: the operating system's trust store.
    System,
}

impl PemSource {
    /// Text holding a PEM header is PEM; `system` (where allowed) is the OS trust store;
    /// anything else is a path.
    pub fn parse(value: &str, system_allowed: bool) -> PemSource {
        if value.contains("-----BEGIN") {
            PemSource::Text(value.to_string())
        } else if system_allowed && value.trim() == "system" {
            PemSource::System
        } else {
            PemSource::File(PathBuf::from(value.trim()))
        }
    }
}

impl std::fmt::Debug for PemSource {
    // Hand-written so that key material never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PemSource::File(path) => write!(f, "File({path:?})"),
            PemSource::Text(_) => f.write_str("Text(***)"),
            PemSource::System => f.write_str("System"),
        }
    }
}
