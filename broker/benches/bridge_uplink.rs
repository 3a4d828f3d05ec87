//! The cloud bridge end to end: Records from a local Agent (an MQTT 5
//! client of the embedded broker) through the bridge and its on-disk queue
//! to a cloud Controller subscribed at a real mosquitto — beside the
//! baseline of the same Agent client publishing straight to mosquitto, in
//! the same run.
//!
//! * throughput: 20,000 Records of 220 bytes at QoS 1, first publish to
//!   last arrival;
//! * latency: 2,000 single Records, each sent after the previous one
//!   arrived; median and 99th percentile.
//!
//! The queue runs with `fsync = "never"` and again with `"always"` (group
//! commit per batch).
//!
//! Run: `cargo bench -p usp-broker --bench bridge_uplink`

// A bench binary: a panic is a failed measurement.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    net::TcpListener,
    process::Stdio,
    time::{Duration, Instant},
};

use bytes::Bytes;
use rumqttc::v5::{AsyncClient, Event, MqttOptions, mqttbytes::QoS, mqttbytes::v5::Packet};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::mpsc,
};
use usp_broker::{
    Broker, BrokerConfig,
    bridge::{Bridge, BridgeConfig, CloudController, EventsConfig, FsyncPolicy, OverflowPolicy, QueueConfig},
};
use usp_proto::Record;

const CLOUD: &str = "proto::cloud";
const AGENT: &str = "proto::bench-agent";
const THROUGHPUT: usize = 20_000;
const LATENCY: usize = 2_000;

async fn mosquitto(dir: &std::path::Path) -> (Child, u16) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let conf = dir.join("m.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\nlog_dest stderr\nlog_type information\nmax_queued_messages 1000000\nmax_inflight_messages 0\n"),
    )
    .unwrap();
    let mut child = Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.contains(" running") {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, port)
}

/// An MQTT 5 client; its received PUBLISH payloads arrive on the channel.
async fn client(
    port: u16,
    id: &str,
    endpoint_id: Option<&str>,
) -> (AsyncClient, mpsc::UnboundedReceiver<Bytes>) {
    let mut options = MqttOptions::new(id, "127.0.0.1", port);
    options.set_outgoing_inflight_upper_limit(256);
    options.set_request_response_info(Some(1));
    if let Some(eid) = endpoint_id {
        options.set_user_properties(vec![("usp-endpoint-id".into(), eid.into())]);
    }
    let (client, mut eventloop) = AsyncClient::new(options, 1024);
    let (tx, rx) = mpsc::unbounded_channel();
    let (up_tx, mut up) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = up_tx.send(());
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = up_tx.send(());
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send(p.payload).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    up.recv().await.expect("CONNACK");
    (client, rx)
}

async fn subscribed(port: u16, id: &str, topic: &str) -> mpsc::UnboundedReceiver<Bytes> {
    let (client, mut rx) = client(port, id, None).await;
    client.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
    // The SUBACK is not surfaced separately: a round trip to ourselves
    // proves the subscription is active.
    client.publish(topic, QoS::AtLeastOnce, false, Bytes::from_static(b"ready")).await.unwrap();
    while rx.recv().await.unwrap() != Bytes::from_static(b"ready") {}
    std::mem::forget(client); // keep it connected for the rest of the run
    rx
}

/// A 220-byte Record from the Agent to the cloud Controller (its payload
/// is opaque to the bridge, which reads only the header).
fn record(i: usize) -> Bytes {
    let mut payload = vec![0x5a; 174];
    payload[..8].copy_from_slice(&(i as u64).to_be_bytes());
    Record::no_session_context_payload(CLOUD, AGENT, Bytes::from(payload)).encode_to_bytes()
}

struct Figures {
    records_per_s: f64,
    p50: Duration,
    p99: Duration,
}

async fn measure(publisher: &AsyncClient, topic: &str, rx: &mut mpsc::UnboundedReceiver<Bytes>) -> Figures {
    let start = Instant::now();
    for i in 0..THROUGHPUT {
        publisher.publish(topic, QoS::AtLeastOnce, false, record(i)).await.unwrap();
    }
    for _ in 0..THROUGHPUT {
        rx.recv().await.unwrap();
    }
    let records_per_s = THROUGHPUT as f64 / start.elapsed().as_secs_f64();
    let mut times = Vec::with_capacity(LATENCY);
    for i in 0..LATENCY {
        let start = Instant::now();
        publisher.publish(topic, QoS::AtLeastOnce, false, record(i)).await.unwrap();
        rx.recv().await.unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    Figures { records_per_s, p50: times[LATENCY / 2], p99: times[LATENCY * 99 / 100] }
}

async fn through_bridge(port: u16, fsync: FsyncPolicy, dir: &std::path::Path, tag: &str) -> Figures {
    let mut config = BrokerConfig::loopback_ephemeral();
    config.access.controllers.push(CLOUD.into());
    let broker = Broker::start(config).await.unwrap();
    let bridge = Bridge::start(
        &broker,
        BridgeConfig {
            url: format!("mqtt://127.0.0.1:{port}"),
            client_id: format!("bench-bridge-{tag}"),
            username: None,
            password: None,
            tls: Default::default(),
            controllers: vec![CloudController { endpoint_id: CLOUD.into(), topic: None }],
            agent_topic_prefix: format!("bench/{tag}/usp/agent/"),
            keep_alive_s: 60,
            retry_min_ms: 100,
            retry_max_ms: 1000,
            max_inflight: 64,
            observer_id: "self::bridge".into(),
            events: EventsConfig::default(),
            queue: QueueConfig {
                dir: dir.join(tag),
                max_bytes: 1 << 30,
                max_records: 10_000_000,
                overflow: OverflowPolicy::Block,
                fsync,
                segment_bytes: 8 << 20,
            },
        },
    )
    .await
    .unwrap();
    bridge.wait_for(|s| s.connected).await;
    let mut rx = subscribed(port, &format!("ctl-{tag}"), &format!("usp/controller/{CLOUD}")).await;
    let (agent, _) = client(broker.mqtt_addrs()[0].port(), "", Some(AGENT)).await;
    let figures = measure(&agent, &format!("usp/controller/{CLOUD}"), &mut rx).await;
    bridge.shutdown().await;
    broker.shutdown().await;
    figures
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (_mosquitto, port) = mosquitto(dir.path()).await;
        let topic = format!("direct/usp/controller/{CLOUD}");
        let mut rx = subscribed(port, "ctl-direct", &topic).await;
        let (agent, _) = client(port, "agent-direct", None).await;
        let direct = measure(&agent, &topic, &mut rx).await;
        let never = through_bridge(port, FsyncPolicy::Never, dir.path(), "never").await;
        let always = through_bridge(port, FsyncPolicy::Always, dir.path(), "always").await;
        println!("| path | Records/s | latency p50 | latency p99 |");
        println!("|---|---|---|---|");
        for (name, f) in [
            ("baseline: Agent client → mosquitto → Controller client", &direct),
            ("Agent → broker → bridge (fsync never) → mosquitto → Controller", &never),
            ("Agent → broker → bridge (fsync always) → mosquitto → Controller", &always),
        ] {
            println!(
                "| {name} | {:.0} | {:.0} µs | {:.0} µs |",
                f.records_per_s,
                f.p50.as_secs_f64() * 1e6,
                f.p99.as_secs_f64() * 1e6
            );
        }
    });
}
