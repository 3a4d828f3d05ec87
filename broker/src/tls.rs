//! TLS for the MQTT and WebSocket listeners (rustls with the *ring*
//! provider, TLS 1.2 and 1.3, R-MQTT.48).
//!
//! A listener with a `client_ca` requests a client certificate and verifies
//! it against those CAs (required or optional, per
//! [`TlsConfig::require_client_certificate`]); a verified certificate is a
//! credential, and its `urn:bbf:usp:id:` subjectAltName (R-SEC.0a) is the
//! connection's identity.

use std::{path::Path, sync::Arc};

use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{RootCertStore, ServerConfig, server::WebPkiClientVerifier},
};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::{config::TlsConfig, mqtt::PeerCertificate};

/// The SAN URI prefix of a USP Endpoint ID (TR-369 "Endpoint Identifier").
pub const ENDPOINT_ID_URN_PREFIX: &str = "urn:bbf:usp:id:";

/// Why a TLS configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("{path}: {source}")]
    Pem {
        /// The file.
        path: String,
        /// What went wrong.
        source: rustls_pki_types::pem::Error,
    },
    /// The file holds no certificate.
    #[error("{0}: no certificate found")]
    NoCertificate(String),
    /// rustls refused the configuration (key does not match, bad CA, ...).
    #[error("rustls: {0}")]
    Rustls(String),
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = |source| TlsError::Pem { path: path.display().to_string(), source };
    let certs =
        CertificateDer::pem_file_iter(path).map_err(pem)?.collect::<Result<Vec<_>, _>>().map_err(pem)?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.display().to_string()));
    }
    Ok(certs)
}

/// Builds the acceptor of a listener.
pub fn acceptor(config: &TlsConfig) -> Result<TlsAcceptor, TlsError> {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let chain = certificates(&config.certificate_chain)?;
    let key = PrivateKeyDer::from_pem_file(&config.private_key)
        .map_err(|source| TlsError::Pem { path: config.private_key.display().to_string(), source })?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = match &config.client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca)? {
                roots.add(cert).map_err(|e| TlsError::Rustls(e.to_string()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier =
                if config.require_client_certificate { verifier } else { verifier.allow_unauthenticated() };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| TlsError::Rustls(e.to_string()))?)
        }
        None => builder.with_no_client_auth(),
    };
    let server = builder.with_single_cert(chain, key).map_err(|e| TlsError::Rustls(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}

/// The Endpoint ID in a certificate's `urn:bbf:usp:id:` URI subjectAltName
/// (the first one; the URN prefix is matched case-insensitively, as URN
/// namespace identifiers are). `None` for unparsable certificates.
pub fn endpoint_id_from_certificate(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    san.value.general_names.iter().find_map(|name| match name {
        GeneralName::URI(uri) => {
            let prefix = uri.get(..ENDPOINT_ID_URN_PREFIX.len())?;
            prefix
                .eq_ignore_ascii_case(ENDPOINT_ID_URN_PREFIX)
                .then(|| uri[ENDPOINT_ID_URN_PREFIX.len()..].to_owned())
                .filter(|eid| !eid.is_empty())
        }
        _ => None,
    })
}

/// What a completed handshake proved. Certificates are only requested (and
/// then always verified by rustls) when the listener has a client CA.
pub(crate) fn peer_certificate(certs: Option<&[CertificateDer<'static>]>) -> PeerCertificate {
    match certs.and_then(<[_]>::first) {
        Some(leaf) => PeerCertificate { verified: true, endpoint_id: endpoint_id_from_certificate(leaf) },
        None => PeerCertificate::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_with_sans(sans: Vec<rcgen::SanType>) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = sans;
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn reads_the_endpoint_id_san() {
        let der = cert_with_sans(vec![
            rcgen::SanType::DnsName("gw.local".try_into().unwrap()),
            rcgen::SanType::URI("URN:bbf:usp:id:proto::agent-7".try_into().unwrap()),
        ]);
        assert_eq!(endpoint_id_from_certificate(&der).as_deref(), Some("proto::agent-7"));
        let der = cert_with_sans(vec![rcgen::SanType::URI("https://example.org".try_into().unwrap())]);
        assert_eq!(endpoint_id_from_certificate(&der), None);
        assert_eq!(endpoint_id_from_certificate(b"not a certificate"), None);
    }
}
