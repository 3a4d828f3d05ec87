//! In-core figures of the rules engine (issue 5): no sockets, no broker.
//!
//! * `evaluate`: a ValueChange Notify in, on the subscription the engine
//!   made for it, its rule evaluated (condition false, nothing sent) —
//!   notifications evaluated per second.
//! * `trigger_to_set`: a ValueChange Notify in, the rule fires and the Set
//!   request comes out — the in-core part of trigger→action latency (the
//!   response is answered outside the timed section).
//!
//! Each is measured with 1,000 rules loaded and, as the baseline in the same
//! run, with only the one rule that matches: with the index the two should
//! be close (cost follows the rules a notification matches, not the rules
//! loaded).
//!
//! Run: `cargo bench -p usp-rules --bench engine -- --warm-up-time 1 --measurement-time 3`

use std::{
    hint::black_box,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_main};
use usp_proto::usp::{Notify, SetResp, response::RespType, set_resp};
use usp_rules::{
    Engine, EngineConfig, Source,
    engine::{Input, Outcome, Output},
};

const MATCHING: &str = r#"
[rule.light]
when = { value_change = "Device.Node.1.IoTCapability.2.BinarySensor.Value", agents = "proto::room-{room}" }
if = "value == true"
[[rule.light.then]]
set = 'Device.Node.2.IoTCapability.[Name=="r{room}-light-sw"].BinaryControl.Value'
value = true
"#;

/// The matching rule plus `fill` rules that do not match the notification:
/// half on other parameters of the same Agents, half on the same parameter
/// of other Agents.
fn rules(fill: usize) -> String {
    let mut text = MATCHING.to_owned();
    for i in 0..fill {
        if i % 2 == 0 {
            text.push_str(&format!(
                "[rule.p{i}]\nwhen = {{ value_change = \"Device.Node.{}.IoTCapability.{}.LevelSensor.Value\", agents = \"proto::room-*\" }}\nif = \"value > 26\"\n[[rule.p{i}.then]]\npublish = \"x\"\n",
                i % 40 + 3,
                i / 40 + 1
            ));
        } else {
            text.push_str(&format!(
                "[rule.a{i}]\nwhen = {{ value_change = \"Device.Node.1.IoTCapability.2.BinarySensor.Value\", agents = \"proto::hall-{i}\" }}\nif = \"value == true\"\n[[rule.a{i}.then]]\npublish = \"x\"\n"
            ));
        }
    }
    text
}

fn engine(fill: usize) -> Engine {
    let set = usp_rules::load(&[Source::new("bench.toml", rules(fill))]).expect("bench rules load");
    assert_eq!(set.len(), fill + 1);
    // No fuse: the bench fires the same rule millions of times on purpose.
    let cfg = EngineConfig { timezone: jiff::tz::TimeZone::UTC, fuse: None, ..EngineConfig::default() };
    Engine::new(cfg, set, now())
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_704_067_200)
}

/// The ID of the subscription the engine made for the sensor: an Agent
/// names it in every Notify, and it leads straight to the rule.
fn sensor_subscription(e: &mut Engine) -> String {
    let (subs, _) = e.subscriptions_for("proto::room-101");
    subs.into_iter()
        .find(|s| s.reference == "Device.Node.1.IoTCapability.2.BinarySensor.Value")
        .expect("a subscription for the sensor")
        .id
}

fn notify(sub: &str, value: &str) -> Input {
    Input::Notify {
        agent: "proto::room-101".into(),
        notify: Notify::value_change(sub, false, "Device.Node.1.IoTCapability.2.BinarySensor.Value", value),
        received_at: now(),
    }
}

fn evaluate(c: &mut Criterion) {
    let mut g = c.benchmark_group("evaluate");
    g.throughput(Throughput::Elements(1));
    for fill in [0usize, 999] {
        let mut e = engine(fill);
        let sub = sensor_subscription(&mut e);
        let mut out = Vec::new();
        g.bench_function(BenchmarkId::new("rules", fill + 1), |b| {
            b.iter_batched(
                || notify(&sub, "false"),
                |input| {
                    e.handle_into(input, now(), &mut out);
                    out.clear();
                },
                BatchSize::SmallInput,
            )
        });
        let s = e.stats();
        assert_eq!(s.evaluations, s.notifications, "one evaluation per notification");
        assert_eq!(s.candidates, s.notifications, "one candidate per notification");
    }
    g.finish();
}

fn trigger_to_set(c: &mut Criterion) {
    let mut g = c.benchmark_group("trigger_to_set");
    g.throughput(Throughput::Elements(1));
    for fill in [0usize, 999] {
        let mut e = engine(fill);
        let sub = sensor_subscription(&mut e);
        let mut out: Vec<Output> = Vec::new();
        let ok =
            Outcome::Response(RespType::SetResp(SetResp::new(vec![set_resp::UpdatedObjectResult::success(
                "Device.Node.2.IoTCapability.[Name==\"r101-light-sw\"].BinaryControl.",
                vec![],
            )])));
        g.bench_function(BenchmarkId::new("rules", fill + 1), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let input = notify(&sub, "true");
                    let start = Instant::now();
                    e.handle_into(input, now(), &mut out);
                    timed += start.elapsed();
                    let Some(Output::Request(r)) = out.first() else { panic!("no Set: {out:?}") };
                    let id = black_box(r.id);
                    out.clear();
                    // Answer it (untimed), as the runtime would.
                    e.handle_into(Input::Response { id, outcome: ok.clone() }, now(), &mut out);
                    out.clear();
                }
                timed
            })
        });
        assert_eq!(e.stats().fired, e.stats().requests);
    }
    g.finish();
}

// criterion_group! generates an undocumented `pub fn benches`.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::evaluate, super::trigger_to_set);
}
criterion_main!(group::benches);
