//! TLS for every connection, in pure Rust (rustls with the ring provider): the connector built
//! from `ssl_mode` and the certificate settings, and the user-facing cause of a failed
//! handshake.
//!
//! The driver's own `sslmode` only decides whether to ask the server for TLS; what is checked
//! of the server's certificate is decided here, by the rustls verifier, as libpq does:
//!
//! - `verify-full`: the chain up to a trusted CA, and the host name;
//! - `verify-ca`: the chain only;
//! - `require` and `prefer`: nothing, unless a root certificate is given, and then the chain.
//!
//! Without `ssl_root_cert`, `verify-ca` and `verify-full` trust the operating system's CA store
//! (libpq would look for `~/.postgresql/root.crt` instead; we do not).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, WebPkiServerVerifier};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore,
    SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{PemSetting, PemSource, SslMode};
use crate::error::{Error, Result};

/// The connector type of every connection and of the pool, whatever the mode (with
/// `disable` the driver never calls it).
pub type TlsConnector = MakeRustlsConnect;

/// What the TLS layer of a connection needs to know, gathered from the settings and the URL.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    /// The policy.
    pub mode: SslMode,
    /// CA certificates to trust for the server's certificate.
    pub root_cert: Option<PemSetting>,
    /// Our certificate, for `cert` authentication.
    pub client_cert: Option<PemSetting>,
    /// Its private key.
    pub client_key: Option<PemSetting>,
}

/// A ready connector and what it trusts, to explain a refused certificate.
#[derive(Clone)]
pub struct Tls {
    /// Handed to the driver for every connection.
    pub connector: TlsConnector,
    /// The policy it enforces.
    pub mode: SslMode,
    /// Where the trusted CA certificates came from (`None`: the server's certificate is not
    /// checked).
    pub trusted: Option<String>,
}

impl Tls {
    /// Builds the connector for `options`, reading every certificate and key now so that a
    /// missing file or bad PEM is a config error (exit 2) before any connection is tried.
    pub fn build(options: &TlsOptions) -> Result<Tls> {
        let provider = Arc::new(ring::default_provider());
        if options.mode == SslMode::Disable {
            // libpq ignores the certificate settings without TLS; so do we.
            let config = client_config(&provider, Arc::new(LenientVerifier::new(None, &provider)))?
                .with_no_client_auth();
            return Ok(Tls {
                connector: MakeRustlsConnect::new(config),
                mode: options.mode,
                trusted: None,
            });
        }
        let verifies_chain = matches!(options.mode, SslMode::VerifyCa | SslMode::VerifyFull);
        let roots = match &options.root_cert {
            Some(setting) => Some(load_roots(setting)?),
            None if verifies_chain => Some(system_roots(options.mode)?),
            None => None,
        };
        let (verifier, trusted): (Arc<dyn ServerCertVerifier>, Option<String>) = match roots {
            Some((store, trusted)) if options.mode == SslMode::VerifyFull => {
                let verifier =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                        .build()
                        .map_err(|e| {
                            Error::config(
                                format!("cannot use the CA certificates ({trusted}): {e}"),
                                "ssl_root_cert",
                            )
                        })?;
                (verifier, Some(trusted))
            }
            Some((store, trusted)) => (
                Arc::new(LenientVerifier::new(Some(Arc::new(store)), &provider)),
                Some(trusted),
            ),
            None => (Arc::new(LenientVerifier::new(None, &provider)), None),
        };
        let builder = client_config(&provider, verifier)?;
        let config = match (&options.client_cert, &options.client_key) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                let chain = load_certificates(cert)?;
                let private_key = load_private_key(key)?;
                builder
                    .with_client_auth_cert(chain, private_key)
                    .map_err(|e| {
                        Error::config(
                            format!(
                                "\"{}\" cannot be used with \"{}\": {}",
                                key.key,
                                cert.key,
                                describe_key_error(&e)
                            ),
                            &key.origin,
                        )
                    })?
            }
            (Some(cert), None) => {
                return Err(Error::config(
                    format!("\"{}\" needs \"ssl_client_key\" too", cert.key),
                    &cert.origin,
                ))
            }
            (None, Some(key)) => {
                return Err(Error::config(
                    format!("\"{}\" needs \"ssl_client_cert\" too", key.key),
                    &key.origin,
                ))
            }
        };
        Ok(Tls {
            connector: MakeRustlsConnect::new(config),
            mode: options.mode,
            trusted,
        })
    }

    /// Why a connection failed in its TLS step, in words a user can act on; `None` when the
    /// failure has nothing to do with TLS.
    pub fn explain(&self, error: &postgres::Error) -> Option<String> {
        if server_refused_tls(error) {
            return Some(
                "the server does not accept TLS connections (its ssl setting is off, or this \
                 is a Unix socket)"
                    .to_string(),
            );
        }
        let tls = rustls_cause(error)?;
        let trusted = self.trusted.as_deref().unwrap_or("none");
        Some(match tls {
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => format!(
                "the server's certificate is not signed by a trusted CA (trusted: {trusted})"
            ),
            rustls::Error::InvalidCertificate(CertificateError::NotValidForName) => {
                "the server's certificate is not valid for the host name".to_string()
            }
            rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                expected,
                presented,
            }) => {
                let names: Vec<&str> = presented.iter().map(|name| bare_name(name)).collect();
                format!(
                    "certificate not valid for name \"{}\"; it is only valid for {} \
                     (connect by one of those names, or use ssl_mode verify-ca)",
                    expected.to_str(),
                    if names.is_empty() {
                        "no name".to_string()
                    } else {
                        names.join(", ")
                    }
                )
            }
            rustls::Error::InvalidCertificate(certificate) => {
                format!("the server's certificate was refused: {certificate}")
            }
            rustls::Error::AlertReceived(
                alert @ (AlertDescription::UnknownCA
                | AlertDescription::BadCertificate
                | AlertDescription::CertificateRequired
                | AlertDescription::CertificateUnknown
                | AlertDescription::CertificateExpired),
            ) => format!(
                "the server refused our client certificate ({alert:?}): ssl_client_cert must be \
                 signed by a CA in the server's ssl_ca_file and be current"
            ),
            other => format!("the TLS handshake failed: {other}"),
        })
    }
}

/// `localhost` for rustls' `DnsName("localhost")`, `127.0.0.1` for `IpAddress(127.0.0.1)`.
fn bare_name(presented: &str) -> &str {
    presented
        .strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .or_else(|| {
            presented
                .strip_prefix("IpAddress(")
                .and_then(|rest| rest.strip_suffix(')'))
        })
        .unwrap_or(presented)
}

/// Whether a connection failure is a TLS refusal that retrying cannot cure (a certificate,
/// a handshake alert, a server without TLS), as opposed to a network failure.
pub fn is_tls_refusal(error: &postgres::Error) -> bool {
    server_refused_tls(error) || rustls_cause(error).is_some()
}

/// The driver's words when the server answers `N` to the TLS request under `require`.
fn server_refused_tls(error: &postgres::Error) -> bool {
    std::error::Error::source(error).is_some_and(|cause| {
        let text = cause.to_string();
        text == "server does not support TLS" || text == "no hostname provided for TLS handshake"
    })
}

/// The rustls error under a driver error: the driver wraps tokio-rustls' `io::Error`, which
/// wraps rustls' error (reachable only through `get_ref`, not `source`).
fn rustls_cause(error: &postgres::Error) -> Option<&rustls::Error> {
    let mut cause = std::error::Error::source(error);
    while let Some(current) = cause {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(tls) = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(tls);
        }
        cause = current.source();
    }
    None
}

fn client_config(
    provider: &Arc<CryptoProvider>,
    verifier: Arc<dyn ServerCertVerifier>,
) -> Result<rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>> {
    Ok(ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("TLS protocol versions: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier))
}

/// The server certificate check of `verify-ca` (the chain, not the name) and of `require` and
/// `prefer` (the chain when a root certificate is given, else nothing). The handshake
/// signatures are always checked, so the server must hold the key of the certificate it shows.
#[derive(Debug)]
struct LenientVerifier {
    /// CA certificates the chain must end in; `None` accepts any certificate.
    roots: Option<Arc<RootCertStore>>,
    /// Signature algorithms for the chain and the handshake.
    provider: Arc<CryptoProvider>,
}

impl LenientVerifier {
    fn new(roots: Option<Arc<RootCertStore>>, provider: &Arc<CryptoProvider>) -> LenientVerifier {
        LenientVerifier {
            roots,
            provider: provider.clone(),
        }
    }
}

impl ServerCertVerifier for LenientVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let certificate = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(
                &certificate,
                roots,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The PEM bytes of a file or text setting.
fn pem_bytes(setting: &PemSetting) -> Result<Vec<u8>> {
    match &setting.source {
        PemSource::Text(text) => Ok(text.as_bytes().to_vec()),
        PemSource::File(path) => std::fs::read(path).map_err(|e| {
            // A key's value may be key material that merely lacks its PEM header: never
            // repeat it.
            let shown = if setting.is_secret() {
                "the file it names".to_string()
            } else {
                path.display().to_string()
            };
            Error::config(
                format!(
                    "\"{}\": neither PEM text nor a readable file: cannot read {shown}: {e}",
                    setting.key
                ),
                &setting.origin,
            )
        }),
        PemSource::System => Err(Error::config(
            format!("\"{}\" must be a file path or PEM text", setting.key),
            &setting.origin,
        )),
    }
}

/// How a setting's value is named in messages: its path, or "the PEM text in <key>" (never
/// the text itself).
fn describe_source(setting: &PemSetting) -> String {
    match &setting.source {
        PemSource::File(path) => path.display().to_string(),
        PemSource::Text(_) => format!("the PEM text in {}", setting.key),
        PemSource::System => "the system trust store".to_string(),
    }
}

/// Every certificate in a setting, in order (at least one).
fn load_certificates(setting: &PemSetting) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = pem_bytes(setting)?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::config(
                format!(
                    "\"{}\": {} is not valid PEM: {e}",
                    setting.key,
                    describe_source(setting)
                ),
                &setting.origin,
            )
        })?;
    if certificates.is_empty() {
        return Err(Error::config(
            format!(
                "\"{}\": {} holds no certificate (-----BEGIN CERTIFICATE-----)",
                setting.key,
                describe_source(setting)
            ),
            &setting.origin,
        ));
    }
    Ok(certificates)
}

/// The trusted CA certificates of `ssl_root_cert`, and how to name them in messages.
fn load_roots(setting: &PemSetting) -> Result<(RootCertStore, String)> {
    if matches!(setting.source, PemSource::System) {
        return system_roots(SslMode::VerifyFull).map_err(|_| {
            Error::config(
                format!(
                    "\"{}\": system, but no CA certificates were found in the system trust store",
                    setting.key
                ),
                &setting.origin,
            )
        });
    }
    let mut store = RootCertStore::empty();
    for (index, certificate) in load_certificates(setting)?.into_iter().enumerate() {
        store.add(certificate).map_err(|e| {
            Error::config(
                format!(
                    "\"{}\": certificate {} of {} is not a usable CA certificate: {e}",
                    setting.key,
                    index + 1,
                    describe_source(setting)
                ),
                &setting.origin,
            )
        })?;
    }
    Ok((store, describe_source(setting)))
}

/// The operating system's CA store, for verify-ca / verify-full without `ssl_root_cert`.
fn system_roots(mode: SslMode) -> Result<(RootCertStore, String)> {
    let found = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    let (added, _unusable) = store.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(Error::config(
            format!(
                "\"ssl_mode\" {} checks the server's certificate, but \"ssl_root_cert\" is not \
                 set and no CA certificates were found in the system trust store",
                mode.as_str()
            ),
            "ssl_root_cert",
        ));
    }
    Ok((store, "the system trust store".to_string()))
}

/// The private key of a setting: PKCS#8, PKCS#1 (RSA) or SEC1 (EC), unencrypted.
fn load_private_key(setting: &PemSetting) -> Result<PrivateKeyDer<'static>> {
    let bytes = pem_bytes(setting)?;
    let bad = |why: &str| {
        // Never the text: it is the key.
        Error::config(
            format!("\"{}\": {} {why}", setting.key, describe_source(setting)),
            &setting.origin,
        )
    };
    if bytes.windows(9).any(|w| w == b"ENCRYPTED") {
        return Err(bad(
            "is an encrypted key; give it unencrypted (pass phrases are not supported)",
        ));
    }
    PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|_| bad("holds no private key (PEM of PKCS#8, PKCS#1 RSA or SEC1 EC expected)"))
}

/// Why rustls refused a certificate and key pair, without echoing either.
fn describe_key_error(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InconsistentKeys(_) => "the key is not the certificate's key".to_string(),
        rustls::Error::General(why) => format!("unsupported key ({why})"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_setting(text: &str) -> PemSetting {
        PemSetting {
            key: "ssl_client_key",
            origin: "test.json".into(),
            source: PemSource::Text(text.into()),
        }
    }

    #[test]
    fn unusable_key_text_is_refused_by_kind_and_never_echoed() {
        let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nc2VjcmV0LWtleQ==\n\
                         -----END ENCRYPTED PRIVATE KEY-----\n";
        let err = load_private_key(&key_setting(encrypted)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config: \"ssl_client_key\": the PEM text in ssl_client_key is an encrypted key; \
             give it unencrypted (pass phrases are not supported) (test.json)"
        );
        let certificate_only = "-----BEGIN CERTIFICATE-----\nc2VjcmV0LWtleQ==\n\
                                -----END CERTIFICATE-----\n";
        let err = load_private_key(&key_setting(certificate_only)).unwrap_err();
        assert!(err.to_string().contains("holds no private key"), "{err}");
        assert!(!err.to_string().contains("c2VjcmV0"), "{err}");
    }

    #[test]
    fn key_material_without_its_pem_header_is_never_repeated() {
        // Without `-----BEGIN`, a value is taken for a file path; for a key it may be the
        // key itself with its header lost.
        let bare = PemSetting {
            key: "ssl_client_key",
            origin: "test.json".into(),
            source: PemSource::parse("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", false),
        };
        let err = load_private_key(&bare).unwrap_err();
        assert!(!err.to_string().contains("MIIEvQIB"), "{err}");
        assert!(err
            .to_string()
            .contains("neither PEM text nor a readable file"));
        // A certificate path is named, to be fixed.
        let root = PemSetting {
            key: "ssl_root_cert",
            ..bare
        };
        let root = PemSetting {
            source: PemSource::parse("/nonexistent/ca.pem", true),
            ..root
        };
        let err = pem_bytes(&root).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn presented_names_lose_their_rustls_wrapping() {
        assert_eq!(bare_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(bare_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(bare_name("other"), "other");
    }
}
