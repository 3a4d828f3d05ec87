//! `uspmesh serve` with TLS from its configuration file: an MQTT listener
//! requiring client certificates (made per test with rcgen), a simulated
//! room over `mqtts://` identified by its certificate, the CLI with its
//! own, and `uspmesh endpoints` showing both as TLS with certificate
//! identities.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod support;

use std::time::Duration;

use predicates::prelude::*;
use serde_json::Value;
use support::{Sim, free_port, spawn, uspmesh, wait_for_line};
use usp_testkit::{pki::Ca, temp_dir};

#[test]
fn mutual_tls_from_the_configuration_file() {
    let dir = temp_dir("serve-tls");
    let d = dir.path();
    let ca = Ca::new(d, "ca");
    let server = ca.server("server");
    let ((ca_file, _), (server_cert, server_key)) = (ca.cert.files(), server.files());
    let (cli_cert, cli_key) = ca.client("cli", Some("self::uspmesh-cli")).files();
    let (room_cert, room_key) = ca.client("room", Some("proto::room-101")).files();

    let (mqtts, ws, metrics, admin) = (free_port(), free_port(), free_port(), free_port());
    let config = d.join("uspmesh.toml");
    std::fs::write(
        &config,
        format!(
            "[[broker.mqtt]]\nbind = \"127.0.0.1:{mqtts}\"\n\
             tls = {{ certificate_chain = {server_cert:?}, private_key = {server_key:?}, client_ca = {ca_file:?}, \
             require_client_certificate = true }}\n\
             [[broker.websocket]]\nbind = \"127.0.0.1:{ws}\"\n\
             [metrics]\nbind = \"127.0.0.1:{metrics}\"\n[admin]\nbind = \"127.0.0.1:{admin}\"\n"
        ),
    )
    .unwrap();
    let (mut child, _out, log) = spawn(&["serve", "--config", config.to_str().unwrap()]);
    if wait_for_line(&log, "uspmesh serving", Duration::from_secs(30)).is_none() {
        let _ = child.kill();
        panic!("serve did not start: {}", log.try_iter().collect::<Vec<_>>().join("\n"));
    }

    let url = format!("mqtts://127.0.0.1:{mqtts}");
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
    // Without a client certificate the listener refuses the handshake.
    get(&["--ca", &ca_file]).assert().code(3);

    let out =
        uspmesh().args(["endpoints", "--json", "--admin", &format!("127.0.0.1:{admin}")]).assert().success();
    let list: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let room =
        list["endpoints"].as_array().unwrap().iter().find(|e| e["endpoint_id"] == "proto::room-101").unwrap();
    assert_eq!((room["mtp"].as_str(), room["tls"].as_bool()), (Some("mqtt5"), Some(true)), "{room}");
    uspmesh()
        .args(["endpoints", "--admin", &format!("127.0.0.1:{admin}")])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"(?m)^proto::room-101 +mqtts 5 ").unwrap());
    let _ = child.kill();
    let _ = child.wait();
}
