//! `--ca`, `--cert` and `--key` end to end: mosquitto with a TLS listener
//! that requires client certificates (made per test with rcgen), a
//! simulated room over `mqtts://`, and the CLI with and without the right
//! material.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod support;

use std::path::{Path, PathBuf};

use predicates::prelude::*;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use support::{Broker, Sim, uspmesh};

/// A directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write(dir: &Path, name: &str, pem: &str, key: &KeyPair) -> (String, String) {
    let (cert, key_file) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
    std::fs::write(&cert, pem).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (cert.display().to_string(), key_file.display().to_string())
}

fn ca(dir: &Path, name: &str) -> (CertifiedIssuer<'static, KeyPair>, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, format!("uspmesh cli test {name}"));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().unwrap();
    let (cert, _) = write(dir, name, &params.self_signed(&key).unwrap().pem(), &key);
    (CertifiedIssuer::self_signed(params, key).unwrap(), cert)
}

fn leaf(
    dir: &Path,
    name: &str,
    issuer: &CertifiedIssuer<'static, KeyPair>,
    sans: Vec<SanType>,
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.subject_alt_names = sans;
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    write(dir, name, &cert.pem(), &key)
}

#[test]
fn mutual_tls_with_the_right_material_and_clear_failures_without() {
    let dir = TempDir(std::env::temp_dir().join(format!("uspmesh-cli-tls-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let d = dir.0.as_path();
    let (issuer, ca_file) = ca(d, "ca");
    let (_, other_ca_file) = ca(d, "other-ca");
    let server_sans =
        vec![SanType::DnsName("localhost".try_into().unwrap()), SanType::IpAddress([127, 0, 0, 1].into())];
    let (server_cert, server_key) =
        leaf(d, "server", &issuer, server_sans, ExtendedKeyUsagePurpose::ServerAuth);
    let uri = |eid: &str| SanType::URI(format!("urn:bbf:usp:id:{eid}").try_into().unwrap());
    let (cli_cert, cli_key) =
        leaf(d, "cli", &issuer, vec![uri("self::uspmesh-cli")], ExtendedKeyUsagePurpose::ClientAuth);
    let (room_cert, room_key) =
        leaf(d, "room", &issuer, vec![uri("proto::room-101")], ExtendedKeyUsagePurpose::ClientAuth);

    let broker = Broker::start_with(&format!(
        "cafile {ca_file}\ncertfile {server_cert}\nkeyfile {server_key}\nrequire_certificate true\n"
    ));
    let url = format!("mqtts://127.0.0.1:{}", broker.port());
    let _sim =
        Sim::start(&url, &["--rooms", "1", "--ca", &ca_file, "--cert", &room_cert, "--key", &room_key]);

    let get = |extra: &[&str]| {
        let mut cmd = uspmesh();
        cmd.args(["get", "--broker", &url, "--to", "proto::room-101", "--timeout", "5s"]).args(extra);
        cmd.arg("Device.LocalAgent.EndpointID");
        cmd
    };
    get(&["--ca", &ca_file, "--cert", &cli_cert, "--key", &cli_key])
        .assert()
        .success()
        .stdout("Device.LocalAgent.EndpointID = proto::room-101\n");
    // No client certificate: the server refuses the handshake.
    get(&["--ca", &ca_file])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(format!("cannot connect to {url}")))
        .stderr(predicate::str::contains("--cert/--key"));
    // A CA that did not sign the server's certificate.
    get(&["--ca", &other_ca_file, "--cert", &cli_cert, "--key", &cli_key])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("not signed by a trusted CA"));
    // Material that cannot be read is a command-line error.
    get(&["--ca", "/nonexistent/ca.pem"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/ca.pem"));
}
