//! Two appliances in-process on one real `nats-server` (`[nats]`, sites
//! `hq`, nodes `a` and `b`): a `uspmesh sim` Agent on A answers an MQTT 5
//! Controller on B through the mesh; a rule's `publish` event is
//! published to `usp.hq.notify.<engine>.<name>`; `/v1/nats` reports the
//! node.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod support;

use std::{net::SocketAddr, time::Duration};

use rumqttc::v5::{self, mqttbytes::QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use usp_broker::nats::{NatsConfig, Subjects};
use usp_testkit::NatsServer;
use uspmesh::appliance::{Appliance, ApplianceConfig, StartOptions};

const ROOM: &str = "proto::room-101";
/// The CLI's Endpoint ID on B: not `self::…`, which stays node-local in
/// the mesh (every node has its own `self::` endpoints).
const CONTROLLER: &str = "proto::ops-console";

fn node_config(nats: &NatsServer, node: &str) -> ApplianceConfig {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut config =
        ApplianceConfig { broker: usp_broker::BrokerConfig::loopback_ephemeral(), ..Default::default() };
    config.metrics.enabled = false;
    config.admin.bind = any;
    config.rules.timezone = Some("UTC".into());
    config.broker.access.controllers.push(CONTROLLER.into());
    config.nats = Some(NatsConfig {
        servers: vec![nats.url()],
        site: "hq".into(),
        node: node.into(),
        ..NatsConfig::default()
    });
    config
}

async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(format!("GET {path} HTTP/1.0\r\nHost: t\r\n\r\n").as_bytes()).await.unwrap();
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_string(&mut text)).await.unwrap().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.split_whitespace().nth(1).unwrap().parse().unwrap(), body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_on_a_answers_a_controller_on_b() {
    let nats = NatsServer::start();
    let a = Appliance::start(node_config(&nats, "a"), StartOptions::default()).await.unwrap();
    let b = Appliance::start(node_config(&nats, "b"), StartOptions::default()).await.unwrap();
    let a_mqtt = format!("mqtt://{}", a.broker().mqtt_addrs()[0]);

    let sim = tokio::task::spawn_blocking(move || {
        support::Sim::start(&a_mqtt, &["--rooms", "1", "--seed", "5", "--controller", CONTROLLER])
    })
    .await
    .unwrap();
    // B knows where the room is before the Controller asks.
    tokio::time::timeout(Duration::from_secs(20), b.nats().unwrap().wait_located(ROOM, Some("a")))
        .await
        .expect("B sees the room on A");

    // A one-shot CLI call on B: it connects and asks at once, before A's
    // copy of the shared registry lists it; the answer reaches it anyway
    // (A hands a Record for an endpoint it does not list to the mesh).
    let b_mqtt = format!("mqtt://{}", b.broker().mqtt_addrs()[0]);
    tokio::task::spawn_blocking(move || {
        support::uspmesh()
            .args(["get", "--broker", &b_mqtt, "--to", ROOM, "--from", CONTROLLER])
            .arg("Device.Node.1.IoTCapability.1.Name")
            .assert()
            .success()
            .stdout("Device.Node.1.IoTCapability.1.Name = r101-temp\n");
    })
    .await
    .unwrap();

    // The Controller: a long-lived MQTT 5 client on B.
    let mut controller = Controller::connect(b.broker().mqtt_addrs()[0]).await;
    tokio::time::timeout(Duration::from_secs(20), a.nats().unwrap().wait_located(CONTROLLER, Some("b")))
        .await
        .expect("A sees the Controller on B");
    let answer = controller.get(ROOM, "Device.Node.1.IoTCapability.1.Name").await;
    let Some(usp_proto::usp::response::RespType::GetResp(resp)) =
        answer.body.and_then(|b| match b.msg_body {
            Some(usp_proto::usp::body::MsgBody::Response(r)) => r.resp_type,
            _ => None,
        })
    else {
        panic!("not a GetResp")
    };
    let result = &resp.req_path_results[0];
    assert_eq!(result.err_code, 0, "{result:?}");
    let params = &result.resolved_path_results[0].result_params;
    assert_eq!(params.get("Name").map(String::as_str), Some("r101-temp"), "{params:?}");
    assert!(b.nats().unwrap().stats().forwarded >= 1, "the request went through NATS");
    assert!(a.nats().unwrap().stats().forwarded >= 1, "the response went through NATS");

    let (code, body) = http_get(b.admin_addr().unwrap(), "/v1/nats").await;
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["node"], "b");
    assert!(v["stats"]["forwarded"].as_u64().unwrap() >= 1, "{v}");

    tokio::task::spawn_blocking(move || sim.stop()).await.unwrap();
    let report = b.shutdown().await;
    assert!(report.nats_left && report.bridge_flushed, "{report:?}");
    // B left the registry: A no longer routes the Controller there.
    tokio::time::timeout(Duration::from_secs(10), a.nats().unwrap().wait_located(CONTROLLER, None))
        .await
        .expect("B's endpoints leave the shared registry");
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_event_is_published_to_nats() {
    let nats = NatsServer::start();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let config = node_config(&nats, "a");
    let engine = config.rules.engine_id();
    let subject = Subjects::new("hq").unwrap().notify(&engine, "door-alarm").unwrap();
    let mut events = client.subscribe(subject.clone()).await.unwrap();
    client.flush().await.unwrap();

    let rule = "[rule.ticker]\nwhen = { schedule = \"every 1s\" }\n\
                [[rule.ticker.then]]\npublish = \"door-alarm\"\nfields = { door = \"front\" }\n";
    let options =
        StartOptions { rules: Some(vec![usp_rules::Source::new("ticker.toml", rule)]), trace_events: false };
    let a = Appliance::start(config, options).await.unwrap();

    let message = tokio::time::timeout(Duration::from_secs(20), futures_next(&mut events)).await.unwrap();
    assert_eq!(message.subject.as_str(), subject);
    let event: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
    assert_eq!(event["name"], "door-alarm");
    assert_eq!(event["rule"], "ticker");
    assert_eq!(event["fields"]["door"], "front");
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_loaded_on_both_nodes_is_acted_on_once_per_firing() {
    let nats = NatsServer::start();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let config = node_config(&nats, "a");
    let subject = Subjects::new("hq").unwrap().notify(&config.rules.engine_id(), "tick").unwrap();
    let mut events = client.subscribe(subject).await.unwrap();
    client.flush().await.unwrap();

    let rule = "[rule.tick]\nwhen = { schedule = \"every 1s\" }\n[[rule.tick.then]]\npublish = \"tick\"\n";
    let options =
        || StartOptions { rules: Some(vec![usp_rules::Source::new("tick.toml", rule)]), trace_events: false };
    let a = Appliance::start(config, options()).await.unwrap();
    let b = Appliance::start(node_config(&nats, "b"), options()).await.unwrap();
    // Firings from the next whole second on find both engines running.
    let both_from = jiff::Timestamp::now().as_second() + 1;

    // Each event names its firing by the second it ran in (`every 1s` is
    // aligned to whole seconds). A second node acting on a firing would
    // publish within the same second: once the events of a later firing
    // have come, an earlier firing's count is final.
    let mut per_second = std::collections::BTreeMap::<i64, u32>::new();
    let mut firings_with_both_running = 0;
    while firings_with_both_running < 4 {
        let message = tokio::time::timeout(Duration::from_secs(20), futures_next(&mut events)).await.unwrap();
        let event: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
        let at: jiff::Timestamp = event["at"].as_str().unwrap().parse().unwrap();
        let second = at.as_second();
        if second < both_from {
            continue;
        }
        *per_second.entry(second).or_default() += 1;
        firings_with_both_running = per_second.len();
    }
    let counts: Vec<u32> = per_second.values().copied().collect();
    // The last firing may still be arriving; every earlier one is final.
    assert!(counts[..counts.len() - 1].iter().all(|&n| n == 1), "events per firing: {per_second:?}");
    let sent = |appliance: &Appliance| {
        let rules = appliance.rules().unwrap().clone();
        async move { rules.status().await.unwrap().counters.upstream_sent }
    };
    let (sent_a, sent_b) = (sent(&a).await, sent(&b).await);
    assert!(sent_a + sent_b >= 3, "a {sent_a}, b {sent_b}");
    // The firings went through the site's job queue: claimed and submitted
    // once, taken by one node, and run there (each event above is one run).
    let (sa, sb) = (a.nats().unwrap().stats(), b.nats().unwrap().stats());
    let taken = sa.rule_jobs_taken + sb.rule_jobs_taken;
    assert!(taken >= 3, "jobs taken: a {}, b {}", sa.rule_jobs_taken, sb.rule_jobs_taken);
    assert!(sa.rule_jobs_submitted + sb.rule_jobs_submitted >= 3, "{sa:?} {sb:?}");
    b.shutdown().await;
    a.shutdown().await;
}

/// A USP Controller over MQTT 5 (rumqttc): its reply topic from the
/// CONNACK's Response Information, as TR-369 has it.
struct Controller {
    client: v5::AsyncClient,
    reply_to: String,
    publishes: tokio::sync::mpsc::Receiver<Vec<u8>>,
}

impl Controller {
    async fn connect(addr: SocketAddr) -> Controller {
        let mut options = v5::MqttOptions::new("", addr.ip().to_string(), addr.port());
        options.set_request_response_info(Some(1));
        options.set_user_properties(vec![("usp-endpoint-id".into(), CONTROLLER.into())]);
        let (client, mut events) = v5::AsyncClient::new(options, 64);
        let (connack_tx, connack) = tokio::sync::oneshot::channel();
        let (suback_tx, mut suback) = tokio::sync::mpsc::channel(1);
        let (tx, publishes) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            let mut connack_tx = Some(connack_tx);
            while let Ok(event) = events.poll().await {
                match event {
                    v5::Event::Incoming(v5::Incoming::ConnAck(ack)) => {
                        let info = ack.properties.and_then(|p| p.response_information);
                        if let Some(t) = connack_tx.take() {
                            let _ = t.send(info);
                        }
                    }
                    v5::Event::Incoming(v5::Incoming::SubAck(_)) => {
                        let _ = suback_tx.send(()).await;
                    }
                    v5::Event::Incoming(v5::Incoming::Publish(p)) => {
                        let sent = tx.send(p.payload.to_vec()).await;
                        if sent.is_err() {
                            return;
                        }
                    }
                    _ => {}
                }
            }
        });
        let reply_to = tokio::time::timeout(Duration::from_secs(10), connack)
            .await
            .unwrap()
            .unwrap()
            .expect("Response Information in the CONNACK");
        client.subscribe(reply_to.as_str(), QoS::AtLeastOnce).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), suback.recv()).await.unwrap().unwrap();
        Controller { client, reply_to, publishes }
    }

    /// Sends a Get of `path` to `agent` and returns the answer's Msg.
    async fn get(&mut self, agent: &str, path: &str) -> usp_proto::usp::Msg {
        let msg = usp_proto::usp::Msg::request("get-1", usp_proto::usp::Get::new([path]));
        let record = usp_proto::usp_record::Record::no_session_context_msg(agent, CONTROLLER, &msg);
        let properties = v5::mqttbytes::v5::PublishProperties {
            response_topic: Some(self.reply_to.clone()),
            ..Default::default()
        };
        self.client
            .publish_with_properties(
                format!("usp/agent/{agent}"),
                QoS::AtLeastOnce,
                false,
                record.encode_to_bytes(),
                properties,
            )
            .await
            .unwrap();
        let bytes = tokio::time::timeout(Duration::from_secs(10), self.publishes.recv())
            .await
            .expect("an answer within 10 s")
            .unwrap();
        let record = usp_proto::decode::Limits::default().decode_record(bytes.into()).unwrap();
        assert_eq!(record.from_id, agent);
        record.msg().unwrap()
    }
}

/// The next message of a subscription (it ends only when the client does).
async fn futures_next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    use futures_util::StreamExt;
    sub.next().await.expect("subscription open")
}
