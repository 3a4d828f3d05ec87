//! The appliance with a `[bridge]`: a real mosquitto as the cloud server,
//! a rule's `publish` event arriving there as the documented JSON, the
//! bridge in the admin API and on `/metrics`; and `uspmesh serve --config`
//! with a `[bridge]` section.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod support;

use std::{net::SocketAddr, path::Path, time::Duration};

use predicates::prelude::*;
use rumqttc::v5::{self, mqttbytes::QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use usp_broker::bridge::{BridgeConfig, EventFilter, EventsConfig};
use usp_testkit::Mosquitto;
use uspmesh::appliance::{Appliance, ApplianceConfig, StartOptions};

const CLOUD: &str = "proto::cloud-acs";

/// A rule that publishes `door-alarm` every second.
const TICKING_RULE: &str = "[rule.ticker]\nwhen = { schedule = \"every 1s\" }\n\
     [[rule.ticker.then]]\npublish = \"door-alarm\"\nfields = { door = \"front\" }\n";

fn bridge_config(cloud: &Mosquitto, queue: &Path) -> BridgeConfig {
    toml::from_str::<BridgeConfig>(&format!(
        "url = {:?}\ncontrollers = [{{ endpoint_id = {CLOUD:?} }}]\nqueue = {{ dir = {:?}, fsync = \"never\" }}\n",
        cloud.url(),
        queue.display().to_string(),
    ))
    .unwrap()
}

/// `GET path` over HTTP/1.0; the status code and the body.
async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(format!("GET {path} HTTP/1.0\r\nHost: t\r\n\r\n").as_bytes()).await.unwrap();
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_string(&mut text)).await.unwrap().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.split_whitespace().nth(1).unwrap().parse().unwrap(), body.to_owned())
}

/// An MQTT 5 client on the cloud server subscribed to `filter`; returns
/// once the subscription is acknowledged, with the channel of publishes.
async fn cloud_subscriber(cloud: &Mosquitto, filter: &str) -> tokio::sync::mpsc::Receiver<(String, Vec<u8>)> {
    let mut options = v5::MqttOptions::new("cloud-consumer", "127.0.0.1", cloud.port());
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut events) = v5::AsyncClient::new(options, 64);
    client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let _client = client; // keeps the connection alive
        let mut subscribed_tx = Some(subscribed_tx);
        while let Ok(event) = events.poll().await {
            match event {
                v5::Event::Incoming(v5::Incoming::SubAck(_)) => {
                    if let Some(s) = subscribed_tx.take() {
                        let _ = s.send(());
                    }
                }
                v5::Event::Incoming(v5::Incoming::Publish(p)) => {
                    let topic = String::from_utf8_lossy(&p.topic).into_owned();
                    let sent = tx.send((topic, p.payload.to_vec())).await;
                    if sent.is_err() {
                        return;
                    }
                }
                _ => {}
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), subscribed).await.unwrap().unwrap();
    rx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_event_reaches_the_cloud_server_through_the_bridge() {
    let cloud = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut received = cloud_subscriber(&cloud, "usp/rules/#").await;

    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut config =
        ApplianceConfig { broker: usp_broker::BrokerConfig::loopback_ephemeral(), ..Default::default() };
    config.metrics.bind = any;
    config.admin.bind = any;
    config.rules.timezone = Some("UTC".into());
    let mut bridge = bridge_config(&cloud, &dir.path().join("queue"));
    // Event filters need the observer among the broker's admins: the
    // appliance lists it itself (the broker's [access] admins stay empty
    // here, and Bridge::start refuses an observer that is not an admin).
    bridge.events = EventsConfig {
        filters: vec![EventFilter { endpoint_id: "proto::*".into(), kinds: Vec::new() }],
        ..EventsConfig::default()
    };
    assert!(config.broker.access.admins.is_empty());
    config.bridge = Some(bridge);
    let options = StartOptions {
        rules: Some(vec![usp_rules::Source::new("ticker.toml", TICKING_RULE)]),
        trace_events: false,
    };
    let appliance = Appliance::start(config, options).await.unwrap();
    let engine = appliance.rules_endpoint_id().unwrap().to_owned();

    let (topic, payload) =
        tokio::time::timeout(Duration::from_secs(20), received.recv()).await.unwrap().unwrap();
    assert_eq!(topic, "usp/rules/door-alarm");
    let event: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(event["name"], "door-alarm");
    assert_eq!(event["rule"], "ticker");
    assert!(event["agent"].is_null(), "{event}");
    assert_eq!(event["fields"], serde_json::json!({ "door": "front" }));
    assert!(event["at"].as_str().unwrap().ends_with('Z'), "{event}");

    let bridge = appliance.bridge().unwrap();
    let status =
        tokio::time::timeout(Duration::from_secs(10), bridge.wait_for(|s| s.delivered >= 1)).await.unwrap();
    assert!(status.connected);

    let admin = appliance.admin_addr().unwrap();
    let (code, body) = http_get(admin, "/v1/bridge").await;
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["connected"], true);
    assert!(v["delivered"].as_u64().unwrap() >= 1, "{v}");
    let (code, _) = http_get(admin, "/v1/nats").await;
    assert_eq!(code, 404, "no [nats] configured");
    let (code, metrics) = http_get(appliance.metrics_addr().unwrap(), "/metrics").await;
    assert_eq!(code, 200);
    assert!(metrics.contains("usp_broker_bridge_connected"), "{metrics}");
    assert!(metrics.contains("usp_broker_bridge_delivered_total"), "{metrics}");
    // The rules engine counted the event as handed to the sink.
    let rules = appliance.rules().unwrap().status().await.unwrap();
    assert!(
        rules.counters.upstream_sent >= 1 && rules.counters.upstream_dropped == 0,
        "{:?}",
        rules.counters
    );
    assert!(!engine.is_empty());

    let report = appliance.shutdown().await;
    assert!(
        report.rules_persisted && report.drained && report.bridge_flushed && report.nats_left,
        "{report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_bridge_the_admin_api_says_so() {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut config =
        ApplianceConfig { broker: usp_broker::BrokerConfig::loopback_ephemeral(), ..Default::default() };
    config.metrics.enabled = false;
    config.admin.bind = any;
    let appliance = Appliance::start(config, StartOptions::default()).await.unwrap();
    let (code, body) = http_get(appliance.admin_addr().unwrap(), "/v1/bridge").await;
    assert_eq!(code, 404);
    assert!(body.contains("no cloud bridge is configured"), "{body}");
    appliance.shutdown().await;
}

/// `uspmesh serve --config` with a `[bridge]` section starts, connects its
/// uplink (seen in `/v1/bridge`), and stops on SIGTERM.
#[test]
fn serve_with_a_bridge_section_starts_and_connects() {
    let cloud = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let (mqtt, ws, admin) = (support::free_port(), support::free_port(), support::free_port());
    let file = dir.path().join("uspmesh.toml");
    std::fs::write(
        &file,
        format!(
            "[[broker.mqtt]]\nbind = \"127.0.0.1:{mqtt}\"\n[[broker.websocket]]\nbind = \"127.0.0.1:{ws}\"\n[metrics]\nenabled = false\n\
             [admin]\nbind = \"127.0.0.1:{admin}\"\n\
             [bridge]\nurl = {url:?}\ncontrollers = [{{ endpoint_id = {CLOUD:?} }}]\n\
             [bridge.queue]\ndir = {queue:?}\n",
            url = cloud.url(),
            queue = dir.path().join("queue").display().to_string(),
        ),
    )
    .unwrap();
    let (mut child, _out, log) = support::spawn(&["serve", "--config", file.to_str().unwrap()]);
    // Serving (the admin API is up) and the uplink connected, in either order.
    let waited = support::wait_for_lines(
        &log,
        &["uspmesh serving", "bridge uplink connected"],
        Duration::from_secs(30),
    );
    let body = blocking_get(admin, "/v1/bridge");
    support::terminate(&child);
    let status = support::wait_exit(&mut child, Duration::from_secs(30)).expect("serve stops on SIGTERM");
    assert_eq!(waited, Ok(()), "not seen in the log: {}", log.try_iter().collect::<Vec<_>>().join("\n"));
    assert!(body.contains("\"connected\":true"), "/v1/bridge: {body}");
    assert!(status.success(), "{status:?}");
    assert!(dir.path().join("queue").is_dir(), "the queue directory was created");
}

/// `GET path` on `127.0.0.1:port` over HTTP/1.0, blocking; the whole
/// answer (empty when nothing listens).
fn blocking_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut tcp) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return String::new() };
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(format!("GET {path} HTTP/1.0\r\nHost: t\r\n\r\n").as_bytes()).unwrap();
    let mut text = String::new();
    let _ = tcp.read_to_string(&mut text);
    text
}

#[test]
fn bad_bridge_and_nats_values_exit_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("missing.toml", "[rules]\nsite = \"a\"\n[bridge]\nurl = \"mqtt://x\"\n", ":3:1: missing field"),
        (
            "policy.toml",
            "[bridge]\nurl = \"mqtt://x\"\ncontrollers = []\n[bridge.queue]\ndir = \"q\"\noverflow = \"drop-all\"\n",
            ":6:12: unknown variant `drop-all`",
        ),
        ("nats.toml", "[nats]\nsite = \"hq\"\nnode = 7\n", ":3:8: invalid type"),
    ];
    for (name, text, expected) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        support::uspmesh()
            .args(["serve", "--config", file.to_str().unwrap()])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!("error: invalid configuration: {}", file.display())))
            .stderr(predicate::str::contains(expected));
    }

    // Values only the bridge or the NATS node can judge (a URL's scheme, a
    // site name that cannot be part of a stream name) are refused at start,
    // also with exit status 2, naming the section.
    let ephemeral = "[[broker.mqtt]]\nbind = \"127.0.0.1:0\"\n[[broker.websocket]]\nbind = \"127.0.0.1:0\"\n\
                     [metrics]\nenabled = false\n[admin]\nenabled = false\n";
    let queue = dir.path().join("q").display().to_string();
    let cases = [
        (
            "scheme.toml",
            format!("[bridge]\nurl = \"http://x\"\ncontrollers = []\nqueue = {{ dir = {queue:?} }}\n"),
            "[bridge]: bridge url \"http://x\"",
        ),
        (
            "site.toml",
            "[nats]\nservers = [\"nats://127.0.0.1:1\"]\nsite = \"h.q\"\nnode = \"a\"\n".to_owned(),
            "[nats]: invalid [nats] configuration: site \"h.q\"",
        ),
    ];
    for (name, text, expected) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, format!("{ephemeral}{text}")).unwrap();
        support::uspmesh()
            .args(["serve", "--config", file.to_str().unwrap()])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(expected));
    }
}
