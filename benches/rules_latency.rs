//! Load scenario: trigger→action latency and throughput of the rules engine
//! in the appliance, with a baseline in the same run.
//!
//! Everything goes through the embedded broker (`usp_broker::Broker`) on
//! loopback TCP, with real MQTT clients (`usp_endpoint::mtp::mqtt`):
//!
//! * **rules**: a sensor endpoint publishes ValueChange Notifies (value =
//!   sequence number) for the rules engine `self::rules`, which runs on the
//!   broker's in-process link through the appliance's own wiring
//!   (`uspmesh::wiring::local_link`) with 1,000 rules loaded (rule *k*
//!   watches `Device.Node.{k}.IoTCapability.1.LevelSensor.Value`; the
//!   notifications go round all 1,000). The firing rule sends an Operate
//!   (`Toggle()` with the value as its `Seq` argument) to the target Agent,
//!   an MQTT client that decodes each Record, takes the time, and answers
//!   an OperateResp as an Agent would. Latency ends when the target has
//!   decoded the Operate.
//! * **baseline**: the same Notify records, same rates, same broker and MQTT
//!   client, published to an echo endpoint that decodes each one and
//!   publishes a new one to a receiver (publish → echo → receive), which
//!   decodes it and takes the time. The broker only carries USP Records
//!   whose `from_id` is the sender's own, so the echo re-encodes rather than
//!   forwarding bytes (as the rules engine must too).
//!
//! Sending is paced on a 1 ms tick (the rate's share per millisecond is
//! sent in a burst), for `USPMESH_RULES_BENCH_SECS` seconds (default 3) per
//! rate; the figures are p50 and p99 of every message delivered after a
//! 250 ms warm-up, and the messages not delivered. Each rate runs
//! `USPMESH_RULES_BENCH_ROUNDS` times (default 3), baseline and rules
//! alternating; the medians of the rounds are printed. Other knobs:
//! `USPMESH_RULES_BENCH_RATES=1000,10000`, `USPMESH_RULES_BENCH_PARTS=
//! baseline,rules,throughput`, `USPMESH_RULES_BENCH_DEBUG=1` (counters,
//! the slowest messages and, every 250 ms of the rules path, how many
//! notifications are due, taken in, sent on and in flight, on stderr).
//! `--quick` (a smoke run): 0.5 s per rate, one round, a throughput run of
//! 40,000 notifications.
//!
//! Throughput: four sensor connections publish as fast as QoS 1 lets them;
//! the 1,000 rules' conditions are false, so the engine evaluates every
//! notification and acts on none; the figure is notifications evaluated per
//! second, checked against the number sent. Its baseline: the same four
//! connections publishing the same records to an MQTT client that only
//! counts them (the broker's own ceiling on this machine).
//!
//! ```text
//! cargo bench -p uspmesh --bench rules_latency
//! cargo bench -p uspmesh --bench rules_latency -- --quick
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // a bench harness

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use tokio::sync::Mutex;
use usp_broker::{Broker, BrokerConfig, BrokerHandle};
use usp_endpoint::mtp::{
    Link, RecordSender,
    mqtt::{MqttClient, MqttConfig, MqttSender, Role},
};
use usp_proto::{
    Msg, Record,
    decode::Limits,
    usp::{
        Notify, OperateResp, body::MsgBody, notify::Notification, operate_resp::OperationResult,
        request::ReqType,
    },
};
use usp_rules::{
    EngineConfig, Source,
    runtime::{RulesRuntime, RuntimeConfig},
};
use uspmesh::wiring::local_link;

const RULES: &str = "self::rules";
const RULE_COUNT: usize = 1000;
const COMMAND: &str = "Device.IoTCapability.3.BinaryControl.Toggle()";

/// How long and how often: `--quick` for a smoke run, else the
/// environment's knobs.
struct Plan {
    secs: f64,
    rounds: usize,
    rates: Vec<u64>,
    /// Notifications per sensor in the throughput run (four sensors).
    per_sensor: u64,
}

impl Plan {
    fn get() -> Plan {
        let env = |k: &str| std::env::var(k).ok();
        let quick = std::env::args().any(|a| a == "--quick");
        let secs = env("USPMESH_RULES_BENCH_SECS").and_then(|s| s.parse().ok()).unwrap_or(if quick {
            0.5
        } else {
            3.0
        });
        let rounds = env("USPMESH_RULES_BENCH_ROUNDS").and_then(|s| s.parse().ok()).unwrap_or(if quick {
            1
        } else {
            3
        });
        let rates = env("USPMESH_RULES_BENCH_RATES")
            .map(|s| s.split(',').filter_map(|r| r.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![1_000, 10_000, 50_000]);
        let per_sensor = if quick { 10_000 } else { 75_000 };
        Plan { secs, rounds, rates, per_sensor }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
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
    // `max_inflight` stays at the client's default (100): a window of
    // 1,000 QoS 1 publishes made queues, not throughput — at 50k/s p50
    // went from 3.5 ms to 490 ms, and the throughput run gained nothing
    // measurable.
    MqttClient::connect(config).await.unwrap()
}

/// A ValueChange Notify Record carrying `seq`; `send_resp` is false in both
/// paths, so nobody answers it with a NotifyResp.
fn notify(from: &str, to: &str, seq: u64, path: &str) -> Bytes {
    let msg = Msg::request(format!("n{seq}"), Notify::value_change("bench", false, path, seq.to_string()));
    Record::no_session_context_msg(to, from, &msg).encode_to_bytes()
}

fn node_path(k: usize) -> String {
    format!("Device.Node.{}.IoTCapability.1.LevelSensor.Value", k + 1)
}

/// The request of a Record's Msg, with its `msg_id`.
fn request(record: Bytes) -> Option<(String, ReqType)> {
    let record = Limits::default().decode_record(record).ok()?;
    let msg = record.msg().ok()?;
    let id = msg.header.map(|h| h.msg_id).unwrap_or_default();
    let MsgBody::Request(req) = msg.body?.msg_body? else { return None };
    Some((id, req.req_type?))
}

/// The value of a ValueChange Notify record.
fn notify_value(record: Bytes) -> Option<String> {
    let (_, ReqType::Notify(n)) = request(record)? else { return None };
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

fn debug() -> bool {
    std::env::var_os("USPMESH_RULES_BENCH_DEBUG").is_some()
}

/// p50 and p99 in microseconds, and how many were lost.
fn summarize(sent: &[Instant], received: &[Option<Instant>]) -> (f64, f64, usize) {
    let skip = sent.iter().take_while(|s| s.duration_since(sent[0]) < WARM_UP).count();
    let (sent, received) = (&sent[skip..], &received[skip.min(received.len())..]);
    if debug() {
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

/// Receipt times by sequence number, and how many arrived.
type Received = Arc<Mutex<(Vec<Option<Instant>>, usize)>>;

/// Waits until `received` holds `n` entries or nothing new arrived for 2 s.
async fn settle(received: &Received, n: usize) {
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
            let Some(value) = notify_value(record) else { continue };
            let at = Instant::now();
            let Ok(seq) = value.parse() else { continue };
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

/// 1,000 rules on `agents`; rule *k* watches [`node_path`]`(k)`. With a
/// `target`, a firing Operates [`COMMAND`] there with `Seq` = the value;
/// without one, it publishes (and never fires: see the throughput run).
fn rule_set(condition: &str, agents: &str, target: Option<&str>) -> usp_rules::RuleSet {
    let mut text = String::new();
    for k in 0..RULE_COUNT {
        text.push_str(&format!(
            "[rule.r{k:04}]\nwhen = {{ value_change = \"{}\", agents = \"{agents}\" }}\nif = \"{condition}\"\n",
            node_path(k)
        ));
        if let Some(target) = target {
            text.push_str(&format!(
                "[[rule.r{k:04}.then]]\nagent = \"{target}\"\noperate = \"{COMMAND}\"\nargs = {{ Seq = \"{{value}}\" }}\n"
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

/// The target Agent's side: takes the time of each Operate it decodes and
/// answers it (a synchronous command's OperateResp), as an Agent does.
async fn target(mut link: Link<MqttSender>, eid: &'static str, received: Received) {
    while let Some(record) = link.incoming.recv().await {
        let Some((id, ReqType::Operate(op))) = request(record) else { continue };
        let at = Instant::now();
        if let Some(seq) = op.input_args.get("Seq").and_then(|v| v.parse().ok()) {
            record_receipt(&mut *received.lock().await, seq, at);
        }
        let resp = OperateResp::new(vec![OperationResult::output(op.command, [("Done", "true")])]);
        let answer = Record::no_session_context_msg(RULES, eid, &Msg::response(id, resp)).encode_to_bytes();
        let _ = link.sender.send(RULES, answer).await;
    }
}

/// Sensor Notify → rules engine (in-process) → Operate on the target Agent.
async fn rules_path(rate: u64, secs: f64) -> (f64, f64, usize) {
    let broker = broker().await;
    let (sensor, light) = ("proto::bench-sensor-1", "proto::bench-light-1");
    let link = local_link::attach(broker.link(RULES).unwrap(), 4096);
    let runtime =
        RulesRuntime::start(runtime_config(), rule_set("value >= 0", sensor, Some(light)), link).unwrap();
    let (light_mqtt, light_link) =
        mqtt(&broker, light, Role::Agent, &[(RULES, format!("usp/controller/{RULES}"))]).await;
    let (sensor_mqtt, sensor_link) =
        mqtt(&broker, sensor, Role::Agent, &[(RULES, format!("usp/controller/{RULES}"))]).await;
    let total = (rate as f64 * secs) as usize;
    let received: Received = Arc::new(Mutex::new((vec![None; total], 0)));
    let light_task = tokio::spawn(target(light_link, light, received.clone()));
    // Debug: where a backlog sits, every 250 ms (sent is the pacing's count).
    let sampler = debug().then(|| {
        let (api, received) = (runtime.handle(), received.clone());
        tokio::spawn(async move {
            let start = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let Ok(status) = api.status().await else { break };
                let got = received.lock().await.1;
                eprintln!(
                    "{:>5} ms: due {:>7} engine notified {:>7} requests {:>7} in flight {:>6} target got {:>7}",
                    start.elapsed().as_millis(),
                    (start.elapsed().as_secs_f64() * rate as f64) as u64,
                    status.counters.notifications,
                    status.counters.requests,
                    status.requests_in_flight,
                    got,
                );
            }
        })
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
    if let Some(sampler) = sampler {
        sampler.abort();
    }
    let result = summarize(&sent, &received.lock().await.0);
    if debug() {
        let status = runtime.handle().status().await.unwrap();
        eprintln!(
            "runtime: {:?} in flight {} engine {:?}",
            status.counters, status.requests_in_flight, status.engine
        );
        eprintln!("broker: {:?}", broker.stats());
    }
    runtime.shutdown().await.unwrap();
    light_task.abort();
    for m in [sensor_mqtt, light_mqtt] {
        m.shutdown(Duration::from_millis(200)).await;
    }
    broker.shutdown().await;
    result
}

/// Four sensors publishing `per_sensor` Notifies each as fast as QoS 1
/// lets them, to `to`; returns once every send was accepted.
async fn flood(sensors: &[(String, MqttClient, Link<MqttSender>)], to: &'static str, per_sensor: u64) {
    let mut tasks = Vec::new();
    for (eid, _, link) in sensors {
        let sender = link.sender.clone();
        let eid = eid.clone();
        tasks.push(tokio::spawn(async move {
            for seq in 0..per_sensor {
                let record = notify(&eid, to, seq, &node_path(seq as usize % RULE_COUNT));
                if sender.send(to, record).await.is_err() {
                    break;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Four sensor Agents on MQTT that know where `to` (a `to_role`) listens.
async fn sensors(
    broker: &BrokerHandle,
    to: &str,
    to_role: Role,
) -> Vec<(String, MqttClient, Link<MqttSender>)> {
    let mut sensors = Vec::new();
    for i in 1..=4 {
        let eid = format!("proto::bench-sensor-{i}");
        let (m, l) =
            mqtt(broker, &eid, Role::Agent, &[(to, format!("usp/{}/{to}", role_topic(to_role)))]).await;
        sensors.push((eid, m, l));
    }
    sensors
}

/// The topic level of a role's default topics (`usp/agent/…`, `usp/controller/…`).
fn role_topic(role: Role) -> &'static str {
    match role {
        Role::Controller => "controller",
        Role::Agent => "agent",
    }
}

/// Polls `count` until it reaches `expected` or stops moving for 3 s;
/// returns the count and when it last moved.
async fn drain(expected: u64, mut count: impl AsyncFnMut() -> u64) -> (u64, Instant) {
    let mut last = (0, Instant::now());
    loop {
        let n = count().await;
        if n >= expected {
            return (n, Instant::now());
        }
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(3) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Four sensors publishing as fast as they can to a client that counts
/// (the broker's ceiling): notifications received per second, how many,
/// and how many the broker dropped for a full subscriber queue.
async fn throughput_baseline(per_sensor: u64) -> (f64, u64, u64) {
    let broker = broker().await;
    let sink = "proto::bench-sink";
    let (sink_mqtt, mut sink_link) = mqtt(&broker, sink, Role::Agent, &[]).await;
    let count = Arc::new(AtomicU64::new(0));
    let c = count.clone();
    let counter = tokio::spawn(async move {
        while let Some(record) = sink_link.incoming.recv().await {
            if notify_value(record).is_some() {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let sensors = sensors(&broker, sink, Role::Agent).await;
    let start = Instant::now();
    flood(&sensors, sink, per_sensor).await;
    let (n, done_at) = drain(per_sensor * 4, async || count.load(Ordering::Relaxed)).await;
    let dropped = broker.stats().dropped(usp_broker::DropReason::QueueFull);
    counter.abort();
    for (_, m, _) in sensors {
        m.shutdown(Duration::from_millis(200)).await;
    }
    sink_mqtt.shutdown(Duration::from_millis(200)).await;
    broker.shutdown().await;
    (n as f64 / done_at.duration_since(start).as_secs_f64(), n, dropped)
}

/// Four sensors publishing as fast as they can to the rules engine;
/// conditions false. Notifications evaluated per second, how many arrived,
/// and how many rule evaluations they made.
async fn throughput(per_sensor: u64) -> (f64, u64, u64) {
    let broker = broker().await;
    let link = local_link::attach(broker.link(RULES).unwrap(), 4096);
    let runtime =
        RulesRuntime::start(runtime_config(), rule_set("value < 0", "proto::bench-sensor-*", None), link)
            .unwrap();
    let api = runtime.handle();
    let sensors = sensors(&broker, RULES, Role::Controller).await;
    let start = Instant::now();
    flood(&sensors, RULES, per_sensor).await;
    let (n, done_at) = drain(per_sensor * 4, async || api.status().await.unwrap().engine.notifications).await;
    let evaluations = api.status().await.unwrap().engine.evaluations;
    runtime.shutdown().await.unwrap();
    for (_, m, _) in sensors {
        m.shutdown(Duration::from_millis(200)).await;
    }
    broker.shutdown().await;
    (n as f64 / done_at.duration_since(start).as_secs_f64(), n, evaluations)
}

fn part(name: &str) -> bool {
    std::env::var("USPMESH_RULES_BENCH_PARTS").map_or(true, |p| p.split(',').any(|x| x.trim() == name))
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let plan = Plan::get();
    let secs = plan.secs;
    rt.block_on(async {
        println!(
            "rules engine trigger→action latency, 1,000 rules, {secs} s per rate, median of {} rounds (µs; lost: total)",
            plan.rounds
        );
        println!(
            "{:>8} | {:>13} {:>13} {:>5} | {:>10} {:>10} {:>5} | {:>9} {:>9}",
            "rate/s", "baseline p50", "baseline p99", "lost", "rules p50", "rules p99", "lost", "p50 ratio", "p99 ratio"
        );
        for &rate in &plan.rates {
            let (mut b, mut r) = (Vec::new(), Vec::new());
            for _ in 0..plan.rounds {
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
                "{rate:>8} | {bp50:>13.0} {bp99:>13.0} {blost:>5} | {rp50:>10.0} {rp99:>10.0} {rlost:>5} | {:>9.2} {:>9.2}",
                rp50 / bp50.max(1.0),
                rp99 / bp99.max(1.0)
            );
            if debug() {
                eprintln!("rounds: baseline {b:?} rules {r:?}");
            }
        }
        if !part("throughput") {
            return;
        }
        let sent = plan.per_sensor * 4;
        let (base_rate, base_seen, base_dropped) = throughput_baseline(plan.per_sensor).await;
        println!(
            "throughput baseline: {base_rate:.0} notifications/s through the broker to a counting client ({base_seen} of {sent} arrived; {base_dropped} dropped by the broker, subscriber queue full)"
        );
        let (rate, seen, evaluations) = throughput(plan.per_sensor).await;
        println!(
            "throughput: {rate:.0} notifications/s evaluated by the rules engine ({seen} of {sent} arrived, {evaluations} rule evaluations; {:.2} of the baseline)",
            rate / base_rate.max(1.0)
        );
    });
}
