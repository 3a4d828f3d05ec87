//! Load scenario: trigger→action latency and throughput of the rules engine
//! in the appliance, with a baseline in the same run.
//!
//! Everything goes through the embedded broker on loopback TCP:
//!
//! * **rules**: a sensor endpoint publishes ValueChange Notifies (value =
//!   sequence number) for the rules engine `self::rules`, which runs on the
//!   broker's in-process link through the appliance's own wiring
//!   (`uspmesh::wiring::local_link`) with 1,000 rules loaded (rule *k*
//!   watches `Device.Node.{k}.IoTCapability.1.LevelSensor.Value`; the
//!   notifications go round all 1,000). The firing rule Sets
//!   `Device.X_Sim.Note.1.Text` to the value on a target Agent — a real
//!   `Agent` runtime on its own MQTT connection; latency ends when the
//!   target's provider is asked to apply the Set.
//! * **baseline**: the same Notify records, same rates, same broker and MQTT
//!   client, published to an echo endpoint that decodes each one and
//!   publishes a new one to a receiver (publish → echo → receive). The
//!   broker only carries USP Records whose `from_id` is the sender's own, so
//!   the echo re-encodes rather than forwarding bytes (as the rules engine
//!   must too).
//!
//! Sending is paced on a 1 ms tick (the rate's share per millisecond is
//! sent in a burst), for `USPMESH_RULES_BENCH_SECS` seconds (default 3) per
//! rate; the figures are p50 and p99 of every message delivered after a
//! 250 ms warm-up, and the messages not delivered. Each rate runs
//! `USPMESH_RULES_BENCH_ROUNDS` times (default 3), baseline and rules
//! alternating; the medians of the rounds are printed. Other knobs:
//! `USPMESH_RULES_BENCH_RATES=1000,10000`, `USPMESH_RULES_BENCH_PARTS=
//! baseline,rules,throughput`, `USPMESH_RULES_BENCH_DEBUG=1` (counters and
//! the slowest messages on stderr).
//!
//! Throughput: four sensor connections publish as fast as QoS 1 lets them;
//! the 1,000 rules' conditions are false, so the engine evaluates every
//! notification and acts on none; the figure is notifications evaluated per
//! second, checked against the number sent.
//!
//! ```text
//! cargo bench -p uspmesh --bench rules_latency
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // a bench harness

#[path = "../rules/tests/support/sim_agent.rs"]
mod sim;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use tokio::sync::Mutex;
use usp_broker::{Broker, BrokerConfig, BrokerHandle};
use usp_endpoint::{
    agent::runtime as agent_runtime,
    mtp::{
        Link, RecordSender,
        mqtt::{MqttClient, MqttConfig, MqttSender, Role},
    },
};
use usp_proto::{
    Msg, Record,
    decode::Limits,
    usp::{Notify, notify::Notification},
};
use usp_rules::{
    EngineConfig, Source,
    runtime::{RulesRuntime, RuntimeConfig},
};
use uspmesh::wiring::local_link;

const RULES: &str = "self::rules";
const RULE_COUNT: usize = 1000;

fn rounds() -> usize {
    std::env::var("USPMESH_RULES_BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn seconds() -> f64 {
    std::env::var("USPMESH_RULES_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0)
}

async fn broker() -> BrokerHandle {
    let mut config = BrokerConfig::loopback_ephemeral();
    config.access.controllers = vec![RULES.into()];
    Broker::start(config).await.unwrap()
}

async fn mqtt(
    broker: &BrokerHandle,
    eid: &str,
    role: Role,
    peers: &[(&str, String)],
) -> (MqttClient, Link<MqttSender>) {
    let port = broker.mqtt_addrs()[0].port();
    let mut config = MqttConfig::new(eid, role, "127.0.0.1", port);
    for (peer, topic) in peers {
        config = config.with_peer(*peer, topic.clone());
    }
    config.incoming_capacity = 65536;
    MqttClient::connect(config).await.unwrap()
}

fn notify(from: &str, to: &str, seq: u64, path: &str) -> Bytes {
    let msg = Msg::request(format!("n{seq}"), Notify::value_change("bench", false, path, seq.to_string()));
    Record::no_session_context_msg(to, from, &msg).encode_to_bytes()
}

fn node_path(k: usize) -> String {
    format!("Device.Node.{}.IoTCapability.1.LevelSensor.Value", k + 1)
}

/// The value of a ValueChange Notify record.
fn notify_value(record: Bytes) -> Option<String> {
    let record = Limits::default().decode_record(record).ok()?;
    let msg = record.msg().ok()?;
    let usp_proto::usp::body::MsgBody::Request(req) = msg.body?.msg_body? else { return None };
    let usp_proto::usp::request::ReqType::Notify(n) = req.req_type? else { return None };
    match n.notification? {
        Notification::ValueChange(vc) => Some(vc.param_value),
        _ => None,
    }
}

/// Sends `count(t)` messages paced at `rate` for `secs`; `send(seq)` sends
/// one. Returns the send instants by sequence number.
async fn paced<F, Fut>(rate: u64, secs: f64, mut send: F) -> Vec<Instant>
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let total = (rate as f64 * secs) as u64;
    let mut sent = Vec::with_capacity(total as usize);
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let start = Instant::now();
    let mut seq = 0;
    while seq < total {
        tick.tick().await;
        let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        while seq < due {
            sent.push(Instant::now());
            send(seq).await;
            seq += 1;
        }
    }
    sent
}

/// Messages sent in the first [`WARM_UP`] are not counted (connections,
/// first allocations, caches).
const WARM_UP: Duration = Duration::from_millis(250);

/// p50 and p99 in microseconds, and how many were lost.
fn summarize(sent: &[Instant], received: &[Option<Instant>]) -> (f64, f64, usize) {
    let skip = sent.iter().take_while(|s| s.duration_since(sent[0]) < WARM_UP).count();
    let (sent, received) = (&sent[skip..], &received[skip.min(received.len())..]);
    if std::env::var_os("USPMESH_RULES_BENCH_DEBUG").is_some() {
        let t0 = sent[0];
        let mut worst: Vec<(u64, usize, u64)> = sent
            .iter()
            .zip(received)
            .enumerate()
            .filter_map(|(i, (s, r))| {
                r.map(|r| {
                    (
                        r.saturating_duration_since(*s).as_micros() as u64,
                        i,
                        s.duration_since(t0).as_millis() as u64,
                    )
                })
            })
            .collect();
        worst.sort_unstable();
        let slow: Vec<_> = worst.iter().rev().take(40).map(|(l, i, t)| format!("{i}@{t}ms:{l}")).collect();
        eprintln!("slowest: {}", slow.join(" "));
    }
    let mut lat: Vec<u64> = sent
        .iter()
        .zip(received)
        .filter_map(|(s, r)| r.map(|r| r.saturating_duration_since(*s).as_micros() as u64))
        .collect();
    let lost = sent.len() - lat.len();
    lat.sort_unstable();
    let pct = |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied();
    (pct(0.50).unwrap_or(0) as f64, pct(0.99).unwrap_or(0) as f64, lost)
}

/// Waits until `received` holds `n` entries or nothing new arrived for 2 s.
async fn settle(received: &Mutex<(Vec<Option<Instant>>, usize)>, n: usize) {
    let mut last = 0;
    let mut quiet = Instant::now();
    loop {
        let got = received.lock().await.1;
        if got >= n {
            return;
        }
        if got != last {
            last = got;
            quiet = Instant::now();
        } else if quiet.elapsed() > Duration::from_secs(2) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

type Received = Arc<Mutex<(Vec<Option<Instant>>, usize)>>;

fn record_receipt(received: &mut (Vec<Option<Instant>>, usize), seq: u64, at: Instant) {
    if let Some(slot) = received.0.get_mut(seq as usize) {
        if slot.is_none() {
            *slot = Some(at);
            received.1 += 1;
        }
    }
}

/// Publish → echo → receive through the broker.
async fn baseline(rate: u64, secs: f64) -> (f64, f64, usize) {
    let broker = broker().await;
    let (src, echo, sink) = ("proto::bench-src", "proto::bench-echo", "proto::bench-sink");
    let (sink_mqtt, mut sink_link) = mqtt(&broker, sink, Role::Agent, &[]).await;
    let (echo_mqtt, mut echo_link) =
        mqtt(&broker, echo, Role::Agent, &[(sink, format!("usp/agent/{sink}"))]).await;
    let (src_mqtt, src_link) = mqtt(&broker, src, Role::Agent, &[(echo, format!("usp/agent/{echo}"))]).await;
    let total = (rate as f64 * secs) as usize;
    let received: Received = Arc::new(Mutex::new((vec![None; total], 0)));
    let echo_task = tokio::spawn(async move {
        while let Some(record) = echo_link.incoming.recv().await {
            let Some(value) = notify_value(record) else { continue };
            let seq: u64 = value.parse().unwrap_or(0);
            let _ = echo_link.sender.send(sink, notify(echo, sink, seq, "Device.Echo")).await;
        }
    });
    let r = received.clone();
    let sink_task = tokio::spawn(async move {
        while let Some(record) = sink_link.incoming.recv().await {
            let at = Instant::now();
            let Some(seq) = notify_value(record).and_then(|v| v.parse().ok()) else { continue };
            record_receipt(&mut *r.lock().await, seq, at);
        }
    });
    let sender = src_link.sender.clone();
    let sent = paced(rate, secs, |seq| {
        let sender = sender.clone();
        async move {
            let _ = sender.send(echo, notify(src, echo, seq, &node_path(seq as usize % RULE_COUNT))).await;
        }
    })
    .await;
    settle(&received, total).await;
    let result = summarize(&sent, &received.lock().await.0);
    echo_task.abort();
    sink_task.abort();
    for m in [src_mqtt, echo_mqtt, sink_mqtt] {
        m.shutdown(Duration::from_millis(200)).await;
    }
    broker.shutdown().await;
    result
}

fn rule_set(condition: &str, agents: &str, target: Option<&str>) -> usp_rules::RuleSet {
    let mut text = String::new();
    for k in 0..RULE_COUNT {
        text.push_str(&format!(
            "[rule.r{k:04}]\nwhen = {{ value_change = \"{}\", agents = \"{agents}\" }}\nif = \"{condition}\"\n",
            node_path(k)
        ));
        if let Some(target) = target {
            text.push_str(&format!(
                "[[rule.r{k:04}.then]]\nagent = \"{target}\"\nset = \"Device.X_Sim.Note.1.Text\"\nvalue = \"{{value}}\"\n"
            ));
        } else {
            text.push_str(&format!("[[rule.r{k:04}.then]]\npublish = \"never\"\n"));
        }
    }
    usp_rules::load(&[Source::new("bench.toml", text)]).unwrap()
}

fn runtime_config() -> RuntimeConfig {
    RuntimeConfig {
        // No fuse: a thousand firings a second is the point here.
        engine: EngineConfig { fuse: None, ..EngineConfig::default() },
        notification_capacity: 1 << 17,
        ..RuntimeConfig::new(RULES)
    }
}

/// Sensor Notify → rules engine (in-process) → Set on the target Agent.
async fn rules_path(rate: u64, secs: f64) -> (f64, f64, usize) {
    let broker = broker().await;
    let (sensor, light) = ("proto::bench-sensor-1", "proto::bench-light-1");
    let link = local_link::attach(broker.link(RULES).unwrap(), 4096);
    let runtime =
        RulesRuntime::start(runtime_config(), rule_set("value >= 0", sensor, Some(light)), link).unwrap();
    let (mut agent, _reports, mut touches) = sim::room_agent(light, "21");
    sim::add_note(&mut agent, "0");
    let (light_mqtt, light_link) =
        mqtt(&broker, light, Role::Agent, &[(RULES, format!("usp/controller/{RULES}"))]).await;
    let light_agent = agent_runtime::spawn(agent, light_link);
    let (sensor_mqtt, sensor_link) =
        mqtt(&broker, sensor, Role::Agent, &[(RULES, format!("usp/controller/{RULES}"))]).await;
    let total = (rate as f64 * secs) as usize;
    let received: Received = Arc::new(Mutex::new((vec![None; total], 0)));
    let r = received.clone();
    let collector = tokio::spawn(async move {
        while let Some((touch, at)) = touches.recv().await {
            if let sim::Touch::Set { value, .. } = touch {
                if let Ok(seq) = value.parse() {
                    record_receipt(&mut *r.lock().await, seq, at);
                }
            }
        }
    });
    let sender = sensor_link.sender.clone();
    let sent = paced(rate, secs, |seq| {
        let sender = sender.clone();
        async move {
            let _ =
                sender.send(RULES, notify(sensor, RULES, seq, &node_path(seq as usize % RULE_COUNT))).await;
        }
    })
    .await;
    settle(&received, total).await;
    let result = summarize(&sent, &received.lock().await.0);
    if std::env::var_os("USPMESH_RULES_BENCH_DEBUG").is_some() {
        let status = runtime.handle().status().await.unwrap();
        eprintln!(
            "runtime: {:?} in flight {} engine {:?}",
            status.counters, status.requests_in_flight, status.engine
        );
        eprintln!("broker: {:?}", broker.stats());
    }
    collector.abort();
    runtime.shutdown().await.unwrap();
    drop(light_agent);
    for m in [sensor_mqtt, light_mqtt] {
        m.shutdown(Duration::from_millis(200)).await;
    }
    broker.shutdown().await;
    result
}

/// Four sensors publishing as fast as they can; conditions false.
async fn throughput(per_sensor: u64) -> (f64, u64, u64) {
    let broker = broker().await;
    let link = local_link::attach(broker.link(RULES).unwrap(), 4096);
    let runtime =
        RulesRuntime::start(runtime_config(), rule_set("value < 0", "proto::bench-sensor-*", None), link)
            .unwrap();
    let api = runtime.handle();
    let mut sensors = Vec::new();
    for i in 1..=4 {
        let eid = format!("proto::bench-sensor-{i}");
        let (m, l) = mqtt(&broker, &eid, Role::Agent, &[(RULES, format!("usp/controller/{RULES}"))]).await;
        sensors.push((eid, m, l));
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (eid, _, link) in &sensors {
        let sender = link.sender.clone();
        let eid = eid.clone();
        tasks.push(tokio::spawn(async move {
            for seq in 0..per_sensor {
                let record = notify(&eid, RULES, seq, &node_path(seq as usize % RULE_COUNT));
                if sender.send(RULES, record).await.is_err() {
                    break;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let expected = per_sensor * 4;
    let mut last = (0, Instant::now());
    let mut done_at = Instant::now();
    loop {
        let status = api.status().await.unwrap();
        let n = status.engine.notifications;
        if n >= expected {
            done_at = Instant::now();
            last.0 = n;
            break;
        }
        if n != last.0 {
            last = (n, Instant::now());
            done_at = last.1;
        } else if last.1.elapsed() > Duration::from_secs(3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let evaluations = api.status().await.unwrap().engine.evaluations;
    let rate = last.0 as f64 / done_at.duration_since(start).as_secs_f64();
    runtime.shutdown().await.unwrap();
    for (_, m, _) in sensors {
        m.shutdown(Duration::from_millis(200)).await;
    }
    broker.shutdown().await;
    (rate, last.0, evaluations.min(expected).max(evaluations))
}

/// `USPMESH_RULES_BENCH_RATES=1000,10000` picks rates; `..._PARTS=rules`
/// (or `baseline`, `throughput`) picks parts.
fn rates() -> Vec<u64> {
    std::env::var("USPMESH_RULES_BENCH_RATES")
        .ok()
        .map(|s| s.split(',').filter_map(|r| r.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 50_000])
}

fn part(name: &str) -> bool {
    std::env::var("USPMESH_RULES_BENCH_PARTS").map_or(true, |p| p.split(',').any(|x| x.trim() == name))
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let secs = seconds();
    rt.block_on(async {
        println!(
            "rules engine trigger→action latency, 1,000 rules, {secs} s per rate, median of {} rounds (µs; lost: total)",
            rounds()
        );
        println!("{:>8} | {:>14} {:>14} {:>6} | {:>14} {:>14} {:>6} | {:>9} {:>9}", "rate/s", "baseline p50", "baseline p99", "lost", "rules p50", "rules p99", "lost", "p50 ratio", "p99 ratio");
        for rate in rates() {
            let (mut b, mut r) = (Vec::new(), Vec::new());
            for _ in 0..rounds() {
                if part("baseline") {
                    b.push(baseline(rate, secs).await);
                }
                if part("rules") {
                    r.push(rules_path(rate, secs).await);
                }
            }
            let med = |v: &[(f64, f64, usize)]| {
                (
                    median(v.iter().map(|x| x.0).collect()),
                    median(v.iter().map(|x| x.1).collect()),
                    v.iter().map(|x| x.2).sum::<usize>(),
                )
            };
            let ((bp50, bp99, blost), (rp50, rp99, rlost)) = (med(&b), med(&r));
            println!(
                "{rate:>8} | {bp50:>14.0} {bp99:>14.0} {blost:>6} | {rp50:>14.0} {rp99:>14.0} {rlost:>6} | {:>9.2} {:>9.2}",
                rp50 / bp50.max(1.0),
                rp99 / bp99.max(1.0)
            );
            if std::env::var_os("USPMESH_RULES_BENCH_DEBUG").is_some() {
                eprintln!("rounds: baseline {b:?} rules {r:?}");
            }
        }
        if !part("throughput") {
            return;
        }
        let per_sensor = ((100_000.0 * secs) / 4.0) as u64;
        let (rate, seen, evaluations) = throughput(per_sensor).await;
        println!(
            "throughput: {rate:.0} notifications/s evaluated ({seen} of {} sent arrived, {evaluations} evaluations)",
            per_sensor * 4
        );
    });
}
