//! The NATS mesh's cost: Agent → Controller within one node versus across
//! two nodes, in the same run.
//!
//! Two uspmesh nodes (`Broker` + `NatsNode`, in this process), each on its
//! own `nats-server` (Debian's 2.9) of a two-server cluster with routes.
//! One Agent (MQTT 5, rumqttc) on node A; Controller `local` on node A,
//! Controller `remote` on node B. Records are valid USP Records from the
//! Agent (~90 bytes), QoS 1.
//!
//! * **latency**: one Record at a time, sent → received by the Controller
//!   (same process, same clock), alternating local and remote Record by
//!   Record so machine load falls on both alike; p50 and p99, and the added
//!   cost of the mesh (remote − local);
//! * **throughput**: the Agent sends a burst of Records (rumqttc keeps up to
//!   100 unacknowledged) to one Controller; Records/s from the first send to
//!   the last receipt, and Records lost; local and remote alternate, 3
//!   rounds each, medians shown;
//! * **registration**: 2,000 endpoints attach to node A (in-process links)
//!   until node B's registry has them all: the cost of one subscription and
//!   one KV put per endpoint, the price of per-endpoint subjects.
//!
//! Run: `cargo bench -p usp-broker --bench mesh` (needs `nats-server`);
//! `--quick` shrinks the counts by 10.

// A bench binary: a panic is a failed measurement.
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/common/nats_cluster.rs"]
mod nats_cluster;

use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::v5::{self, mqttbytes::QoS, mqttbytes::v5 as p5};
use tokio::sync::mpsc;
use usp_broker::{
    Broker, BrokerConfig, BrokerHandle,
    nats::{NatsConfig, NatsNode},
};
use usp_proto::{Msg, Record, usp::GetResp};

const AGENT: &str = "proto::bench-agent";
const LOCAL: &str = "proto::ctl-local";
const REMOTE: &str = "proto::ctl-remote";

struct Client {
    client: v5::AsyncClient,
    received: mpsc::UnboundedReceiver<Bytes>,
}

async fn connect(broker: &BrokerHandle, eid: &str) -> Client {
    let addr = broker.mqtt_addrs()[0];
    let mut options = v5::MqttOptions::new("", addr.ip().to_string(), addr.port());
    options.set_user_properties(vec![("usp-endpoint-id".into(), eid.into())]);
    options.set_request_response_info(Some(1));
    options.set_max_packet_size(Some(1 << 20));
    let (client, mut eventloop) = v5::AsyncClient::new(options, 1_000);
    let (tx, received) = mpsc::unbounded_channel();
    let (subscribed_tx, mut subscribed) = mpsc::unbounded_channel();
    let topic = if eid == AGENT { format!("usp/agent/{eid}") } else { format!("usp/controller/{eid}") };
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(v5::Event::Incoming(p5::Packet::Publish(p))) => {
                    if tx.send(p.payload).is_err() {
                        return;
                    }
                }
                Ok(v5::Event::Incoming(p5::Packet::SubAck(_))) => {
                    let _ = subscribed_tx.send(());
                }
                Ok(_) => {}
                // The brokers shut down at the end of the run.
                Err(_) => return,
            }
        }
    });
    client.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
    subscribed.recv().await.unwrap();
    Client { client, received }
}

async fn node(name: &str, url: String) -> (BrokerHandle, NatsNode) {
    let mut config = BrokerConfig::loopback_ephemeral();
    config.access.controllers = vec![LOCAL.into(), REMOTE.into()];
    let broker = Broker::start(config).await.unwrap();
    let nats =
        NatsConfig { servers: vec![url], site: "bench".into(), node: name.into(), ..NatsConfig::default() };
    let node = NatsNode::start(&broker, nats).await.unwrap();
    (broker, node)
}

fn record(to: &str, seq: usize) -> Bytes {
    let msg = Msg::response(format!("m{seq}"), GetResp::new(vec![]));
    Record::no_session_context_msg(to, AGENT, &msg).encode_to_bytes()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn send(agent: &Client, to: &str, seq: usize) {
    let topic = format!("usp/controller/{to}");
    agent.client.publish(topic, QoS::AtLeastOnce, false, record(to, seq)).await.unwrap();
}

async fn run(quick: bool) {
    let scale = if quick { 10 } else { 1 };
    let (samples, warm_up, burst) = (4_000 / scale, 400 / scale, 20_000 / scale);

    let cluster = nats_cluster::NatsCluster::start(2).await;
    let urls = cluster.urls();
    let (broker_a, node_a) = node("a", urls[0].clone()).await;
    let (broker_b, node_b) = node("b", urls[1].clone()).await;
    let agent = connect(&broker_a, AGENT).await;
    let mut local = connect(&broker_a, LOCAL).await;
    let mut remote = connect(&broker_b, REMOTE).await;
    tokio::time::timeout(Duration::from_secs(10), node_a.wait_located(REMOTE, Some("b"))).await.unwrap();

    // Latency, alternating.
    let (mut lat_local, mut lat_remote) = (Vec::new(), Vec::new());
    for i in 0..warm_up + samples {
        for (to, ctl, out) in [(LOCAL, &mut local, &mut lat_local), (REMOTE, &mut remote, &mut lat_remote)] {
            let t0 = Instant::now();
            send(&agent, to, i).await;
            ctl.received.recv().await.unwrap();
            if i >= warm_up {
                out.push(t0.elapsed());
            }
        }
    }
    lat_local.sort_unstable();
    lat_remote.sort_unstable();

    // Throughput, alternating rounds.
    let (mut rate_local, mut rate_remote, mut lost) = (Vec::new(), Vec::new(), [0usize; 2]);
    for _round in 0..3 {
        for (k, (to, ctl)) in [(LOCAL, &mut local), (REMOTE, &mut remote)].into_iter().enumerate() {
            let t0 = Instant::now();
            let receiver = async {
                let mut n = 0;
                while n < burst {
                    match tokio::time::timeout(Duration::from_secs(2), ctl.received.recv()).await {
                        Ok(Some(_)) => n += 1,
                        _ => break,
                    }
                }
                (n, t0.elapsed())
            };
            let sender = async {
                for i in 0..burst {
                    send(&agent, to, i).await;
                }
            };
            let ((n, elapsed), ()) = tokio::join!(receiver, sender);
            lost[k] += burst - n;
            let rate = n as f64 / elapsed.as_secs_f64();
            if k == 0 { rate_local.push(rate) } else { rate_remote.push(rate) }
        }
    }
    rate_local.sort_by(f64::total_cmp);
    rate_remote.sort_by(f64::total_cmp);

    // Registration: endpoints attach on node A (in-process links, so no
    // socket cost) and node B learns where they are. Each costs node A one
    // NATS subscription and one KV put, done in order.
    let links_n = 2_000 / scale;
    let t0 = Instant::now();
    let mut links = Vec::with_capacity(links_n);
    for i in 0..links_n {
        links.push(broker_a.link(&format!("proto::reg-{i}")).unwrap());
    }
    // (Attaching outruns the registry's event channel: node A then resyncs
    // from a snapshot, in no particular order, so wait for every one.)
    for i in 0..links_n {
        let eid = format!("proto::reg-{i}");
        tokio::time::timeout(Duration::from_secs(60), node_b.wait_located(&eid, Some("a"))).await.unwrap();
    }
    let registration = t0.elapsed();

    let (l50, l99) = (percentile(&lat_local, 0.5), percentile(&lat_local, 0.99));
    let (r50, r99) = (percentile(&lat_remote, 0.5), percentile(&lat_remote, 0.99));
    println!(
        "NATS mesh (issue 7): Agent -> Controller, MQTT 5 QoS 1, {}-byte Records",
        record(REMOTE, 0).len()
    );
    println!("latency over {samples} Records each (after {warm_up} of warm-up), alternating:");
    println!("  within one node   p50 {:8.1} us   p99 {:8.1} us", us(l50), us(l99));
    println!("  across two nodes  p50 {:8.1} us   p99 {:8.1} us", us(r50), us(r99));
    println!("  added by the mesh p50 {:8.1} us   p99 {:8.1} us", us(r50) - us(l50), us(r99) - us(l99));
    println!("throughput, bursts of {burst} Records, median of 3 rounds:");
    println!("  within one node   {:10.0} Records/s   lost {}", rate_local[1], lost[0]);
    println!("  across two nodes  {:10.0} Records/s   lost {}", rate_remote[1], lost[1]);
    println!("  ratio (across / within) {:.2}", rate_remote[1] / rate_local[1]);
    println!(
        "registration: {links_n} endpoints attached on node a, all located by node b in {:.0} ms ({:.0} endpoints/s)",
        registration.as_secs_f64() * 1e3,
        links_n as f64 / registration.as_secs_f64()
    );
    println!("node a: {:?}", node_a.stats());
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        // `cargo test --benches` / `cargo bench -- --list`: nothing to run.
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run(quick));
}
