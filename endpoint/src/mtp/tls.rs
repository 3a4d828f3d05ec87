//! TLS for the MTP clients (`mqtts`, `wss`), and the loading of TLS
//! material (PEM files → rustls types) that servers reuse.
//!
//! Everything here uses rustls with the *ring* crypto provider
//! ([`crypto_provider`]), chosen for the whole workspace: it builds with a C
//! compiler only (aws-lc-rs needs cmake and is larger). Configurations are
//! built with that provider explicitly, never with rustls's process-wide
//! default, so a second provider compiled in by some other crate cannot
//! make a builder panic. Protocol versions are TLS 1.3 and 1.2 (R-MQTT.48;
//! rustls implements nothing older).
//!
//! What a client checks (TR-369 "Receiving a X.509 Certificate", R-MTP.1):
//! the server must present a certificate that chains to one of the
//! configured [`TrustRoots`], whose dates are valid (by the system clock)
//! and that is valid for the host name or IP address connected to (wildcard
//! DNS names allowed, R-MQTT.49 / R-WS.24). A client may present its own
//! certificate ([`Identity`]); for a USP Endpoint it carries
//! `urn:bbf:usp:id:<endpoint id>` as a subjectAltName URI (R-SEC.0a), which
//! is how a broker learns who connected.
//!
//! Misconfiguration is reported when the configuration is built, as a
//! [`TlsError`] that names the file (or in-memory item) and the problem; a
//! failed handshake is reported as a [`TlsFailure`] that says which side
//! refused what.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, OnceLock},
};

use rustls::{
    AlertDescription, CertificateError, ClientConfig, RootCertStore, ServerConfig,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::WebPkiClientVerifier,
    sign::CertifiedKey,
};

/// The TLS versions used: 1.3, and 1.2 for older peers (R-MQTT.48).
static VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The crypto provider of every TLS configuration in uspmesh: rustls's
/// *ring* provider, built once.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())).clone()
}

/// Why TLS material or a TLS configuration cannot be used. Each variant
/// names where the material came from: a file path, or `in-memory …` for
/// DER given directly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be read (missing, no permission, …).
    #[error("{path}: cannot read: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's answer.
        reason: String,
    },
    /// The file is not well-formed PEM.
    #[error("{path}: malformed PEM: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The file holds no `CERTIFICATE` section.
    #[error("{path}: no CERTIFICATE section found")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The file holds no private key section.
    #[error(
        "{path}: no private key found (expected a PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY section)"
    )]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// A certificate cannot be parsed or used.
    #[error("{origin}: certificate {index} is not usable: {reason}")]
    BadCertificate {
        /// Where it came from.
        origin: String,
        /// Its position in that file or list (0 = first).
        index: usize,
        /// What rustls / webpki found.
        reason: String,
    },
    /// A private key cannot be parsed, or its algorithm is not supported
    /// (RSA, ECDSA P-256/P-384 and Ed25519 are).
    #[error("{origin}: private key not usable: {reason}")]
    BadPrivateKey {
        /// Where it came from.
        origin: String,
        /// What rustls found.
        reason: String,
    },
    /// The private key does not belong to the certificate.
    #[error("the private key in {key} does not match the certificate in {certificate}")]
    KeyMismatch {
        /// Where the certificate came from.
        certificate: String,
        /// Where the key came from.
        key: String,
    },
    /// An identity was given an empty certificate chain.
    #[error("{origin}: the certificate chain is empty")]
    EmptyChain {
        /// Where the chain came from.
        origin: String,
    },
    /// The platform's certificate store gave no CA certificate.
    #[error("no CA certificate found in the platform store ({reason})")]
    NoPlatformRoots {
        /// What the platform store reported.
        reason: String,
    },
    /// rustls refused the assembled configuration.
    #[error("TLS configuration refused: {0}")]
    Rustls(String),
}

/// Reads every `CERTIFICATE` section of a PEM file (a chain, or a bundle
/// of CA certificates), in order. At least one must be present.
pub fn load_certificates(path: impl AsRef<Path>) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let path = path.as_ref();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate { path: path.to_owned() });
    }
    Ok(certs)
}

/// Reads the first private key of a PEM file: PKCS#8 (`PRIVATE KEY`),
/// PKCS#1 (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`).
pub fn load_private_key(path: impl AsRef<Path>) -> Result<PrivateKeyDer<'static>, TlsError> {
    let path = path.as_ref();
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoPrivateKey { path: path.to_owned() },
        other => pem_error(path, other),
    })
}

fn pem_error(path: &Path, error: rustls::pki_types::pem::Error) -> TlsError {
    use rustls::pki_types::pem::Error;
    match error {
        Error::Io(io) => TlsError::Read { path: path.to_owned(), reason: io.to_string() },
        other => TlsError::Pem { path: path.to_owned(), reason: other.to_string() },
    }
}

/// A certificate chain (leaf first) and the private key of its leaf,
/// checked to belong together.
///
/// Cloning is cheap (the material is shared).
#[derive(Clone)]
pub struct Identity {
    chain: Arc<[CertificateDer<'static>]>,
    key: Arc<PrivateKeyDer<'static>>,
}

impl Identity {
    /// Loads a chain and a key from PEM files and checks that the key
    /// belongs to the chain's first certificate.
    pub fn from_pem_files(
        certificate_chain: impl AsRef<Path>,
        private_key: impl AsRef<Path>,
    ) -> Result<Identity, TlsError> {
        let (cert_path, key_path) = (certificate_chain.as_ref(), private_key.as_ref());
        let chain = load_certificates(cert_path)?;
        let key = load_private_key(key_path)?;
        Identity::checked(chain, key, &cert_path.display().to_string(), &key_path.display().to_string())
    }

    /// An identity from DER material, with the same checks.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Identity, TlsError> {
        Identity::checked(chain, key, "in-memory certificate chain", "in-memory private key")
    }

    fn checked(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        cert_origin: &str,
        key_origin: &str,
    ) -> Result<Identity, TlsError> {
        if chain.is_empty() {
            return Err(TlsError::EmptyChain { origin: cert_origin.to_owned() });
        }
        let signing_key = crypto_provider()
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|e| TlsError::BadPrivateKey { origin: key_origin.to_owned(), reason: e.to_string() })?;
        // rustls's own `from_der` lets an undecidable comparison pass; so
        // do we (a key type whose public half rustls cannot derive).
        match CertifiedKey::new(chain.clone(), signing_key).keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
            Err(rustls::Error::InconsistentKeys(_)) => {
                return Err(TlsError::KeyMismatch {
                    certificate: cert_origin.to_owned(),
                    key: key_origin.to_owned(),
                });
            }
            Err(e) => {
                return Err(TlsError::BadCertificate {
                    origin: cert_origin.to_owned(),
                    index: 0,
                    reason: e.to_string(),
                });
            }
        }
        Ok(Identity { chain: chain.into(), key: Arc::new(key) })
    }

    /// The certificate chain, leaf first.
    pub fn certificate_chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// A copy of the private key (rustls's builders take it by value).
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        self.key.clone_key()
    }
}

impl PartialEq for Identity {
    fn eq(&self, other: &Self) -> bool {
        self.chain == other.chain && self.key == other.key
    }
}

impl std::fmt::Debug for Identity {
    /// Shows the chain length, never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("certificates", &self.chain.len()).finish_non_exhaustive()
    }
}

/// Who may sign the certificate of the server a client connects to.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum TrustRoots {
    /// The operating system's CA store (on Debian `/etc/ssl/certs`, read
    /// through rustls-native-certs; `SSL_CERT_FILE` / `SSL_CERT_DIR`
    /// override it).
    #[default]
    Platform,
    /// The CA certificates of a PEM file (one or several).
    PemFile(PathBuf),
    /// CA certificates given as DER.
    Der(Vec<CertificateDer<'static>>),
}

impl TrustRoots {
    /// Loads the roots into a rustls store; every configured certificate
    /// must be usable as a trust anchor (except with
    /// [`TrustRoots::Platform`], where unusable entries of the system store
    /// are skipped, as long as one remains).
    pub fn load(&self) -> Result<RootCertStore, TlsError> {
        let mut store = RootCertStore::empty();
        match self {
            TrustRoots::Platform => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _ignored) = store.add_parsable_certificates(found.certs);
                if added == 0 {
                    let reason = if found.errors.is_empty() {
                        "the store is empty".to_owned()
                    } else {
                        found.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
                    };
                    return Err(TlsError::NoPlatformRoots { reason });
                }
            }
            TrustRoots::PemFile(path) => {
                add_all(&mut store, load_certificates(path)?, &path.display().to_string())?;
            }
            TrustRoots::Der(certs) => {
                if certs.is_empty() {
                    return Err(TlsError::EmptyChain { origin: "in-memory CA certificates".into() });
                }
                add_all(&mut store, certs.clone(), "in-memory CA certificates")?;
            }
        }
        Ok(store)
    }
}

fn add_all(
    store: &mut RootCertStore,
    certs: Vec<CertificateDer<'static>>,
    origin: &str,
) -> Result<(), TlsError> {
    for (index, cert) in certs.into_iter().enumerate() {
        store.add(cert).map_err(|e| TlsError::BadCertificate {
            origin: origin.to_owned(),
            index,
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

/// Where a client's certificate and key come from.
#[derive(Debug, Clone, PartialEq)]
pub enum IdentitySource {
    /// PEM files, read when the client is configured.
    PemFiles {
        /// The certificate chain, leaf first.
        certificate_chain: PathBuf,
        /// The leaf's private key.
        private_key: PathBuf,
    },
    /// Material already loaded.
    Loaded(Identity),
}

impl IdentitySource {
    /// Loads (or returns) the identity.
    pub fn load(&self) -> Result<Identity, TlsError> {
        match self {
            IdentitySource::PemFiles { certificate_chain, private_key } => {
                Identity::from_pem_files(certificate_chain, private_key)
            }
            IdentitySource::Loaded(identity) => Ok(identity.clone()),
        }
    }
}

/// The TLS settings of an MTP client.
///
/// The server name checked is the host the client connects to (the MQTT
/// `host`, the `wss://` URL's host): a DNS name or an IP address, which the
/// server's certificate must list among its subjectAltNames.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TlsConfig {
    /// Who may sign the server's certificate. Default: the platform store.
    pub trust: TrustRoots,
    /// Our certificate and key, presented when the server asks for one
    /// (mutual TLS). `None`: we present none.
    pub identity: Option<IdentitySource>,
}

impl TlsConfig {
    /// Trust the CA certificates of a PEM file.
    pub fn with_ca_file(path: impl Into<PathBuf>) -> TlsConfig {
        TlsConfig { trust: TrustRoots::PemFile(path.into()), identity: None }
    }

    /// Trust the given CA certificates.
    pub fn with_ca_der(certs: Vec<CertificateDer<'static>>) -> TlsConfig {
        TlsConfig { trust: TrustRoots::Der(certs), identity: None }
    }

    /// The same settings, presenting the certificate and key of these PEM
    /// files.
    pub fn with_identity_files(
        mut self,
        certificate_chain: impl Into<PathBuf>,
        private_key: impl Into<PathBuf>,
    ) -> TlsConfig {
        self.identity = Some(IdentitySource::PemFiles {
            certificate_chain: certificate_chain.into(),
            private_key: private_key.into(),
        });
        self
    }

    /// The same settings, presenting this identity.
    pub fn with_identity(mut self, identity: Identity) -> TlsConfig {
        self.identity = Some(IdentitySource::Loaded(identity));
        self
    }

    /// Loads the material and builds the rustls client configuration.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let roots = self.trust.load()?;
        let builder = ClientConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| TlsError::Rustls(e.to_string()))?
            .with_root_certificates(roots);
        let config = match &self.identity {
            Some(source) => {
                let identity = source.load()?;
                builder
                    .with_client_auth_cert(identity.chain.to_vec(), identity.private_key())
                    .map_err(|e| TlsError::Rustls(e.to_string()))?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}

/// Whether a server asks its clients for a certificate.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// It does not.
    None,
    /// It asks; a client may present none, but one it presents must chain
    /// to these roots.
    Optional(Arc<RootCertStore>),
    /// It requires a certificate chaining to these roots.
    Required(Arc<RootCertStore>),
}

/// A rustls server configuration with our identity and client
/// authentication policy (TLS 1.3 and 1.2, *ring*): what a TLS listener
/// (the broker's MQTT and WebSocket servers, a test server) needs.
pub fn server_config(identity: &Identity, client_auth: ClientAuth) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = crypto_provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = match client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Optional(roots) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(roots, provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::Rustls(e.to_string()))?,
        ),
        ClientAuth::Required(roots) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| TlsError::Rustls(e.to_string()))?,
        ),
    };
    let config = builder
        .with_single_cert(identity.chain.to_vec(), identity.private_key())
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    Ok(Arc::new(config))
}

/// What went wrong in a TLS handshake, seen from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TlsFailureKind {
    /// The server's certificate does not chain to a trusted CA (or its
    /// signature is bad, or it is revoked or unusable).
    #[error("the server's certificate is not signed by a trusted CA")]
    UntrustedServer,
    /// The server's certificate is not valid for the name connected to.
    #[error("the server's certificate is not valid for the name connected to")]
    NameMismatch,
    /// The server's certificate is expired or not yet valid.
    #[error("the server's certificate is expired or not yet valid")]
    CertificateDates,
    /// The server aborted because of our certificate: none was presented
    /// where one is required, or it did not accept the one we presented.
    #[error("the server refused the client certificate (or its absence)")]
    ClientCertificateRefused,
    /// Any other handshake failure (no common protocol version or cipher
    /// suite, a generic alert, …).
    #[error("the TLS handshake failed")]
    Other,
}

/// A failed TLS handshake: with whom, what kind of failure, and rustls's
/// own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TLS with {peer}: {kind} ({detail})")]
pub struct TlsFailure {
    /// The server (`host:port`).
    pub peer: String,
    /// What kind of failure.
    pub kind: TlsFailureKind,
    /// rustls's description.
    pub detail: String,
}

impl TlsFailure {
    /// Finds a rustls error in `error` or its sources (rustls errors travel
    /// inside `std::io::Error`s through tokio-rustls, rumqttc and
    /// tungstenite) and classifies it. `None` when the failure was not a
    /// TLS one.
    pub fn find(peer: &str, error: &(dyn std::error::Error + 'static)) -> Option<TlsFailure> {
        let rustls_error = find_rustls_error(error)?;
        Some(TlsFailure {
            peer: peer.to_owned(),
            kind: classify(rustls_error),
            detail: rustls_error.to_string(),
        })
    }
}

fn find_rustls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(error);
    // Bounded: error chains are short, but a cyclic `source` must not hang us.
    for _ in 0..16 {
        let current = next?;
        if let Some(found) = current.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        // `io::Error::source` skips the wrapped error itself, so look inside.
        if let Some(inner) = current.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            if let Some(found) = inner.downcast_ref::<rustls::Error>() {
                return Some(found);
            }
        }
        next = current.source();
    }
    None
}

fn classify(error: &rustls::Error) -> TlsFailureKind {
    match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsFailureKind::NameMismatch
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => TlsFailureKind::CertificateDates,
            _ => TlsFailureKind::UntrustedServer,
        },
        rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnknownCA
            | AlertDescription::AccessDenied,
        ) => TlsFailureKind::ClientCertificateRefused,
        _ => TlsFailureKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustls_errors_are_found_inside_io_errors_and_classified() {
        let wrapped = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        let f = TlsFailure::find("h:1", &wrapped).unwrap();
        assert_eq!((f.peer.as_str(), f.kind), ("h:1", TlsFailureKind::UntrustedServer));
        let name = rustls::Error::InvalidCertificate(CertificateError::NotValidForName);
        assert_eq!(TlsFailure::find("h", &name).unwrap().kind, TlsFailureKind::NameMismatch);
        let alert = rustls::Error::AlertReceived(AlertDescription::CertificateRequired);
        assert_eq!(TlsFailure::find("h", &alert).unwrap().kind, TlsFailureKind::ClientCertificateRefused);
        let expired = rustls::Error::InvalidCertificate(CertificateError::Expired);
        assert_eq!(TlsFailure::find("h", &expired).unwrap().kind, TlsFailureKind::CertificateDates);
        let other = rustls::Error::AlertReceived(AlertDescription::HandshakeFailure);
        assert_eq!(TlsFailure::find("h", &other).unwrap().kind, TlsFailureKind::Other);
        let plain = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(TlsFailure::find("h", &plain), None, "not a TLS failure");
    }

    #[test]
    fn empty_material_is_refused() {
        assert!(matches!(TrustRoots::Der(vec![]).load(), Err(TlsError::EmptyChain { .. })));
        let key = PrivateKeyDer::Pkcs8(Vec::new().into());
        assert!(matches!(Identity::new(vec![], key), Err(TlsError::EmptyChain { .. })));
    }
}
