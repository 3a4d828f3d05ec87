//! The NATS node over TLS to a real nats-server that verifies its clients:
//! with the CA and a client certificate the node joins and its events land
//! in the stream; without the client certificate, or trusting another CA,
//! it is refused with an error that says so, at once (no hang).

// An integration test crate: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use async_nats::jetstream;
use bytes::Bytes;
use common::*;
use futures_util::StreamExt;
use rumqttc::v5::mqttbytes::QoS as Q5;
use usp_broker::nats::{NatsConfig, NatsError, NatsNode, NatsTlsConfig};
use usp_proto::{Msg, Record, usp::Notify};
use usp_testkit::{NatsServer, pki::Ca, temp_dir};

const CTL: &str = "proto::ctl";
const AGENT: &str = "proto::sensor";

/// A nats-server with TLS that requires a client certificate from `ca`.
fn tls_server(ca: &Ca) -> NatsServer {
    let server = ca.server("nats-server");
    NatsServer::start_with(&format!(
        "tls {{\n  cert_file: {:?}\n  key_file: {:?}\n  ca_file: {:?}\n  verify: true\n  timeout: 2\n}}",
        server.cert_file, server.key_file, ca.cert.cert_file
    ))
}

fn config(server: &NatsServer, tls: NatsTlsConfig) -> NatsConfig {
    NatsConfig {
        servers: vec![format!("tls://127.0.0.1:{}", server.port())],
        site: "hq".into(),
        node: "a".into(),
        tls: Some(tls),
        ..NatsConfig::default()
    }
}

fn trust(ca: &Path) -> NatsTlsConfig {
    NatsTlsConfig { ca_file: Some(ca.to_owned()), ..NatsTlsConfig::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_joins_over_mutual_tls_and_its_events_arrive() {
    let dir = temp_dir("nats-tls");
    let ca = Ca::new(dir.path(), "nats-ca");
    let server = tls_server(&ca);
    let client = ca.client("uspmesh-node", None);
    let tls = NatsTlsConfig {
        client_cert: Some(client.cert_file.clone()),
        client_key: Some(client.key_file.clone()),
        ..trust(&ca.cert.cert_file)
    };

    let broker = broker(|c| c.access.controllers = vec![CTL.into()]).await;
    let node = within("node start over TLS", NatsNode::start(&broker, config(&server, tls))).await.unwrap();
    let agent = Mqtt5::connect(broker.mqtt_addrs()[0], AGENT).await;
    let record: Bytes = Record::no_session_context_msg(
        CTL,
        AGENT,
        &Msg::request("n-1", Notify::value_change("sub-1", false, "Device.Temp.Value", "21.5")),
    )
    .encode_to_bytes();
    agent.publish(&format!("usp/controller/{CTL}"), Q5::AtLeastOnce, record.clone(), None).await;

    // A reader over TLS with its own client certificate sees the event.
    let reader_cert = ca.client("reader", None);
    let reader = async_nats::ConnectOptions::new()
        .require_tls(true)
        .add_root_certificates(ca.cert.cert_file.clone())
        .add_client_certificate(reader_cert.cert_file.clone(), reader_cert.key_file.clone())
        .connect(format!("tls://127.0.0.1:{}", server.port()))
        .await
        .unwrap();
    let stream = jetstream::new(reader).get_stream(node.stream_name().unwrap()).await.unwrap();
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let event = within("the event over TLS", messages.next()).await.unwrap().unwrap();
    assert_eq!(event.payload, record, "the Notify Record, as sent");
    node.shutdown().await;
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_client_certificate_or_the_right_ca_the_node_is_refused() {
    let dir = temp_dir("nats-tls-refused");
    let ca = Ca::new(dir.path(), "nats-ca");
    let other = Ca::new(dir.path(), "other-ca");
    let server = tls_server(&ca);
    let broker = broker(|_| {}).await;

    // The server verifies clients: no certificate, no entry.
    let refused =
        within("a refusal", NatsNode::start(&broker, config(&server, trust(&ca.cert.cert_file)))).await;
    assert!(matches!(refused, Err(NatsError::Nats(_))), "{refused:?}");

    // The node verifies the server: a certificate from another CA is refused.
    let client = other.client("uspmesh-node", None);
    let tls = NatsTlsConfig {
        client_cert: Some(client.cert_file.clone()),
        client_key: Some(client.key_file.clone()),
        ..trust(&other.cert.cert_file)
    };
    let refused = within("a refusal", NatsNode::start(&broker, config(&server, tls))).await;
    let Err(NatsError::Nats(reason)) = &refused else { panic!("refused: {refused:?}") };
    assert!(reason.to_lowercase().contains("certificate") || reason.contains("tls"), "{reason}");

    // A certificate without its key is a configuration error.
    let half = NatsTlsConfig { client_cert: Some(client.cert_file.clone()), ..trust(&ca.cert.cert_file) };
    let refused = NatsNode::start(&broker, config(&server, half)).await;
    assert!(matches!(refused, Err(NatsError::Config(_))), "{refused:?}");
    broker.shutdown().await;
}
