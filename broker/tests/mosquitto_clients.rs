//! Debian's `mosquitto_pub` / `mosquitto_sub` as foreign clients: an MQTT 5
//! Controller made of the two tools talks to a rumqttc Agent, and a 3.1.1
//! Agent made of the two tools talks to a rumqttc Controller.
//!
//! `mosquitto_sub -d` prints "received SUBACK" once subscribed; the tests
//! wait for that line (line-buffered through `stdbuf`) instead of sleeping.

// An integration test crate: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::{io::Write, net::SocketAddr, process::Stdio};

use common::*;
use rumqttc::v5::mqttbytes::QoS as Q5;
use tokio::io::{AsyncBufReadExt, BufReader};

/// A running `mosquitto_sub`, its stdout read line by line.
struct Sub {
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Sub {
    /// Starts `mosquitto_sub` with `args` and waits for its SUBACK.
    async fn start(addr: SocketAddr, args: &[&str]) -> Sub {
        // stdbuf: line-buffered stdout through the pipe, so lines arrive as printed.
        let mut child = tokio::process::Command::new("stdbuf")
            .args(["-oL", "mosquitto_sub"])
            .args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string(), "-d", "-C", "1"])
            .args(["-F", "%t|%R|%C|%x"])
            .args(args)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("mosquitto_sub is installed (apt-get install mosquitto-clients)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        within("mosquitto_sub's SUBACK", async {
            let mut seen = Vec::new();
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.contains("received SUBACK") {
                    return;
                }
                seen.push(line);
            }
            panic!("mosquitto_sub ended before subscribing: {seen:?}");
        })
        .await;
        Sub { child, lines }
    }

    /// The first message line: (topic, response topic, content type, payload).
    async fn message(mut self) -> (String, String, String, Vec<u8>) {
        let line = within("a message from mosquitto_sub", async {
            while let Some(line) = self.lines.next_line().await.unwrap() {
                if line.matches('|').count() == 3 {
                    return line;
                }
            }
            panic!("mosquitto_sub ended without a message");
        })
        .await;
        let _ = within("mosquitto_sub to exit", self.child.wait()).await;
        let mut parts = line.splitn(4, '|').map(str::to_owned);
        let (t, r, c, x) =
            (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        (t, r, c, hex(&x))
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Runs `mosquitto_pub` with `args`, the Record given as a file, and checks
/// it exits successfully.
async fn publish(addr: SocketAddr, record: &[u8], args: &[&str]) {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(record).unwrap();
    let status = tokio::process::Command::new("mosquitto_pub")
        .args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string(), "-q", "1"])
        .args(args)
        .arg("-f")
        .arg(file.path())
        .status();
    let status = within("mosquitto_pub", status).await.expect("mosquitto_pub is installed");
    assert!(status.success(), "mosquitto_pub failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_mqtt5_controller_and_rumqttc_agent() {
    let broker = broker(|c| c.access.controllers = vec!["proto::ms-ctl".into()]).await;
    let addr = broker.mqtt_addrs()[0];
    let mut agent = Mqtt5::connect(addr, "proto::rs-agent").await;
    agent.subscribe("usp/agent/proto::rs-agent", Q5::AtLeastOnce).await;

    // The Controller's listening half: same Endpoint ID, its own ClientId.
    let listener = Sub::start(
        addr,
        &[
            "-V",
            "5",
            "-i",
            "ms-ctl-sub",
            "-D",
            "connect",
            "user-property",
            "usp-endpoint-id",
            "proto::ms-ctl",
            "-t",
            "usp/controller/proto::ms-ctl",
            "-q",
            "1",
        ],
    )
    .await;
    let request = get_request("proto::ms-ctl", "proto::rs-agent", "ms-1");
    publish(
        addr,
        &request,
        &[
            "-V",
            "5",
            "-i",
            "ms-ctl-pub",
            "-D",
            "connect",
            "user-property",
            "usp-endpoint-id",
            "proto::ms-ctl",
            "-D",
            "publish",
            "response-topic",
            "usp/controller/proto::ms-ctl",
            "-D",
            "publish",
            "content-type",
            "usp.msg",
            "-t",
            "usp/agent/proto::rs-agent",
        ],
    )
    .await;
    let got = agent.next_publish().await;
    assert_eq!(got.payload, request);
    let reply_to = got.properties.unwrap().response_topic.unwrap();
    assert_eq!(reply_to, "usp/controller/proto::ms-ctl");

    let response = get_response("proto::rs-agent", "proto::ms-ctl", "ms-1");
    agent.publish(&reply_to, Q5::AtLeastOnce, response.clone(), Some("usp/agent/proto::rs-agent")).await;
    let (topic, response_topic, content_type, payload) = listener.message().await;
    assert_eq!(topic, "usp/controller/proto::ms-ctl");
    assert_eq!(response_topic, "usp/agent/proto::rs-agent");
    assert_eq!(content_type, "usp.msg");
    assert_eq!(payload, response.to_vec());
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_mqtt311_agent_and_rumqttc_controller() {
    let broker = broker(|c| c.access.controllers = vec!["proto::rs-ctl".into()]).await;
    let addr = broker.mqtt_addrs()[0];
    let mut ctl = Mqtt5::connect(addr, "proto::rs-ctl").await;
    ctl.subscribe("usp/controller/proto::rs-ctl", Q5::AtLeastOnce).await;

    // A 3.1.1 Agent: ClientId = Endpoint ID, subscribed to its topic and below.
    let agent = Sub::start(
        addr,
        &["-V", "mqttv311", "-i", "proto::ms-a311", "-t", "usp/agent/proto::ms-a311/#", "-q", "1"],
    )
    .await;
    let request = get_request("proto::rs-ctl", "proto::ms-a311", "ms-2");
    ctl.publish(
        "usp/agent/proto::ms-a311",
        Q5::AtLeastOnce,
        request.clone(),
        Some("usp/controller/proto::rs-ctl"),
    )
    .await;
    let (topic, _, _, payload) = agent.message().await;
    assert_eq!(topic, "usp/agent/proto::ms-a311/reply-to=usp%2Fcontroller%2Fproto::rs-ctl");
    assert_eq!(payload, request.to_vec());

    // The Agent answers as 3.1.1 does: recipient topic + its own reply-to.
    let (_, reply_to) = usp_broker::topics::split_reply_to(&topic);
    let response = get_response("proto::ms-a311", "proto::rs-ctl", "ms-2");
    let answer_topic = format!("{}/reply-to=usp%2Fagent%2Fproto::ms-a311", reply_to.unwrap());
    publish(addr, &response, &["-V", "mqttv311", "-i", "proto::ms-a311", "-t", &answer_topic]).await;
    let got = ctl.next_publish().await;
    assert_eq!(&got.topic[..], b"usp/controller/proto::rs-ctl");
    assert_eq!(got.properties.unwrap().response_topic.as_deref(), Some("usp/agent/proto::ms-a311"));
    assert_eq!(got.payload, response);
    broker.shutdown().await;
}
