//! `--ca`, `--cert` and `--key` end to end: mosquitto with a TLS listener
//! that requires client certificates (made per test with rcgen), a
//! simulated room over `mqtts://`, and the CLI with and without the right
//! material.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod support;

use predicates::prelude::*;
use support::{Broker, Sim, uspmesh};
use usp_testkit::{pki::Ca, temp_dir};

#[test]
fn mutual_tls_with_the_right_material_and_clear_failures_without() {
    let dir = temp_dir("cli-tls");
    let (ca, other_ca) = (Ca::new(dir.path(), "ca"), Ca::new(dir.path(), "other-ca"));
    let server = ca.server("server");
    let cli = ca.client("cli", Some("self::uspmesh-cli"));
    let room = ca.client("room", Some("proto::room-101"));
    let ((ca_file, _), (other_ca_file, _)) = (ca.cert.files(), other_ca.cert.files());
    let ((server_cert, server_key), (cli_cert, cli_key), (room_cert, room_key)) =
        (server.files(), cli.files(), room.files());

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
