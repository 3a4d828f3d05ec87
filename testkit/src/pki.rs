//! Test certificates made on the spot with rcgen: a CA, server certificates
//! for the loopback names, client certificates carrying a USP Endpoint ID
//! (`urn:bbf:usp:id:` URI SAN), each written as PEM files for the
//! components that read files (mosquitto, the appliance's configuration)
//! and kept as DER for those that take bytes (rustls).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};

/// A certificate and its private key, as files and as DER.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate, PEM file.
    pub cert_file: PathBuf,
    /// Its private key, PEM (PKCS #8) file.
    pub key_file: PathBuf,
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// Its private key, PKCS #8 DER.
    pub key_der: Vec<u8>,
}

impl Issued {
    /// The certificate's and the key's file names as text, for command
    /// lines and configuration files.
    pub fn files(&self) -> (String, String) {
        (self.cert_file.display().to_string(), self.key_file.display().to_string())
    }
}

/// A test certificate authority; what it issues is written to `dir`.
pub struct Ca {
    dir: PathBuf,
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// The CA's own certificate (the file to trust).
    pub cert: Issued,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").field("dir", &self.dir).field("cert", &self.cert).finish_non_exhaustive()
    }
}

/// The URI SAN naming a USP Endpoint ID (`urn:bbf:usp:id:<eid>`).
pub fn usp_id(eid: &str) -> SanType {
    SanType::URI(format!("urn:bbf:usp:id:{eid}").try_into().unwrap())
}

/// The loopback names a test server answers to: DNS `localhost`, IP
/// 127.0.0.1.
pub fn loopback_names() -> Vec<SanType> {
    vec![SanType::DnsName("localhost".try_into().unwrap()), SanType::IpAddress([127, 0, 0, 1].into())]
}

impl Ca {
    /// A new CA called `name`, its files (`<name>.pem`, `<name>.key`) and
    /// everything it issues written to `dir` (which must exist).
    pub fn new(dir: &Path, name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, format!("uspmesh test {name}"));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let issued = write(dir, name, &cert.pem(), cert.der(), &key);
        let issuer = CertifiedIssuer::self_signed(params, key).unwrap();
        Ca { dir: dir.to_owned(), issuer, cert: issued }
    }

    /// A server certificate for the loopback names.
    pub fn server(&self, name: &str) -> Issued {
        self.leaf(name, loopback_names(), ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate, with the Endpoint ID SAN when `eid` is given.
    pub fn client(&self, name: &str, eid: Option<&str>) -> Issued {
        self.leaf(name, eid.map(usp_id).into_iter().collect(), ExtendedKeyUsagePurpose::ClientAuth)
    }

    /// A certificate with these SANs for this purpose, named `name` (also
    /// its files' names).
    pub fn leaf(&self, name: &str, sans: Vec<SanType>, usage: ExtendedKeyUsagePurpose) -> Issued {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.subject_alt_names = sans;
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        write(&self.dir, name, &cert.pem(), cert.der(), &key)
    }
}

fn write(dir: &Path, name: &str, pem: &str, der: &[u8], key: &KeyPair) -> Issued {
    let file_name = name.replace([':', '/'], "_");
    let cert_file = dir.join(format!("{file_name}.pem"));
    let key_file = dir.join(format!("{file_name}.key"));
    std::fs::write(&cert_file, pem).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    Issued { cert_file, key_file, cert_der: der.to_vec(), key_der: key.serialize_der() }
}
