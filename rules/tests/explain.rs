//! "Why did or didn't it fire": traces, their rendering, and metrics.

mod common;

use common::*;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use usp_rules::trace::Verdict;

const RULE: &str = r#"
[rule.too-hot]
description = "Alarm when a room stays above 26 °C"
when = { value_change = "Device.T", agents = "proto::room-{room}" }
if = "value > 26 and window == false"
for = "10m"
cooldown = "1h"
[rule.too-hot.values]
window = "Device.W"
[[rule.too-hot.then]]
publish = "hot {room}"
"#;

#[test]
fn explain_shows_conditions_values_and_timers() {
    let mut h = H::new(RULE);
    h.vc("proto::room-1", "Device.W", "true");
    h.vc("proto::room-1", "Device.T", "27");
    h.vc("proto::room-1", "Device.W", "false");
    h.advance(MIN);
    h.vc("proto::room-1", "Device.T", "27.5");
    let e = h.explain("too-hot");
    assert_eq!(e.counts.evaluations, 2);
    assert!(matches!(e.recent[0].verdict, Verdict::Armed { .. }));
    assert_eq!(e.recent[1].verdict, Verdict::NotHeld);
    let text = e.render(&jiff::tz::TimeZone::UTC);
    for needle in [
        "rule too-hot  (test.toml:2)",
        "Alarm when a room stays above 26 °C",
        "status: running",
        "when:   value change of Device.T on proto::room-{room}",
        "if:     value > 26 and window == false",
        "for:    10m",
        "cooldown: 1h",
        "publish hot {room}",
        "proto::room-1|Device.T: for-duration fires at 2024-01-01 00:11:00",
        "2024-01-01 00:01:00 value change of Device.T on proto::room-{room} on proto::room-1: Device.T = \"27.5\"",
        "window == false [\"false\" vs false] → held",
        "⇒ condition holds: timer armed, fires at 2024-01-01 00:11:00",
        "window == false [\"true\" vs false] → failed",
        "⇒ condition false: nothing done",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert!(h.engine.explain("nope", at(h.now)).is_none());
}

#[test]
fn explain_of_a_rule_that_never_matched() {
    let h = H::new(RULE);
    let text = h.explain("too-hot").render(&jiff::tz::TimeZone::UTC);
    assert!(text.contains("no evaluations yet"), "{text}");
}

#[test]
fn traces_are_bounded() {
    let cfg = usp_rules::EngineConfig { trace_len: 3, ..config() };
    let mut h = H::with(rules("[rule.r]\nwhen = { value_change = \"Device.X\" }\n"), cfg, T0);
    for i in 0..10 {
        h.vc("proto::a", "Device.X", &i.to_string());
    }
    let e = h.explain("r");
    assert_eq!(e.recent.len(), 3);
    assert_eq!(e.recent[0].value.as_deref(), Some("9"));
    assert_eq!(e.counts.evaluations, 10);
}

#[test]
fn metrics_per_rule() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        usp_rules::metrics::describe();
        let mut h = H::new(
            r#"
[rule.m]
when = { value_change = "Device.X", agents = "proto::a" }
cooldown = "1m"
[[rule.m.then]]
set = "Device.Y"
value = 1
"#,
        );
        h.now += 250; // the trigger arrived 250 ms before the engine saw it
        let out = h.input(usp_rules::engine::Input::Notify {
            agent: "proto::a".into(),
            notify: usp_proto::usp::Notify::value_change("", false, "Device.X", "1"),
            received_at: at(h.now - 250),
        });
        h.vc("proto::a", "Device.X", "2"); // suppressed by the cooldown
        let req = requests(&out)[0].clone();
        h.respond(&req, usp_rules::engine::Outcome::Failed("unreachable".into()));
    });
    let snap = snapshotter.snapshot().into_vec();
    let find = |name: &str, label: Option<(&str, &str)>| {
        snap.iter()
            .find(|(k, _, _, _)| {
                k.key().name() == name
                    && k.key().labels().any(|l| l.key() == "rule" && l.value() == "m")
                    && label.is_none_or(|(lk, lv)| k.key().labels().any(|l| l.key() == lk && l.value() == lv))
            })
            .map(|(_, _, _, v)| v)
    };
    assert_eq!(find("uspmesh_rule_fired_total", None), Some(&DebugValue::Counter(1)));
    assert_eq!(
        find("uspmesh_rule_suppressed_total", Some(("reason", "cooldown"))),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(find("uspmesh_rule_failed_total", None), Some(&DebugValue::Counter(1)));
    match find("uspmesh_rule_latency_seconds", None) {
        Some(DebugValue::Histogram(v)) => {
            assert_eq!(v.iter().map(|x| x.into_inner()).collect::<Vec<_>>(), vec![0.25])
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn trigger_latency_keeps_sub_millisecond_precision() {
    // The engine's instants are whole milliseconds; the latency histogram
    // must not be: a trigger that waited 250 µs is 250 µs, not 0 or 1 ms.
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let mut h = H::new(
            "[rule.quick]\nwhen = { value_change = \"Device.X\" }\n[[rule.quick.then]]\npublish = \"x\"\n",
        );
        let now = at(h.now);
        h.engine.handle(
            usp_rules::engine::Input::Notify {
                agent: "proto::a".into(),
                notify: usp_proto::usp::Notify::value_change("", false, "Device.X", "1"),
                received_at: now - std::time::Duration::from_micros(250),
            },
            now,
        );
    });
    let snap = snapshotter.snapshot().into_vec();
    let latency = snap
        .iter()
        .find(|(k, _, _, _)| k.key().name() == "uspmesh_rule_latency_seconds")
        .map(|(_, _, _, v)| v);
    match latency {
        Some(DebugValue::Histogram(v)) => {
            let secs: Vec<f64> = v.iter().map(|x| x.into_inner()).collect();
            assert_eq!(secs.len(), 1);
            assert!((secs[0] - 0.000_250).abs() < 1e-9, "{secs:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn trace_outputs_hand_out_each_evaluation_as_it_is_kept() {
    let quiet = H::new(RULE).vc("proto::room-1", "Device.T", "27");
    assert!(!quiet.iter().any(|o| matches!(o, usp_rules::engine::Output::Traced { .. })), "off by default");
    let cfg = usp_rules::EngineConfig { trace_outputs: true, ..config() };
    let mut h = H::with(rules(RULE), cfg, T0);
    let out = h.vc("proto::room-1", "Device.T", "27");
    let traced: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            usp_rules::engine::Output::Traced { rule, entry } => Some((rule.clone(), entry.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(traced.len(), 1);
    assert_eq!(&*traced[0].0, "too-hot");
    assert_eq!(traced[0].1, h.explain("too-hot").recent[0]);
}
