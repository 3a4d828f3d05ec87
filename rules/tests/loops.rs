//! Loop protection: rules that retrigger themselves through their own
//! writes are stopped and reported; rules that merely react to them are not.

mod common;

use common::*;
use usp_rules::{
    EngineConfig, Fuse,
    engine::{Output, StopReason},
    trace::Verdict,
};

fn stopped(out: &[Output]) -> Vec<(String, StopReason)> {
    out.iter()
        .filter_map(|o| match o {
            Output::RuleStopped { rule, reason } => Some((rule.to_string(), reason.clone())),
            _ => None,
        })
        .collect()
}

/// Feeds back the ValueChange each Set of `out` causes on the Agent.
fn echo(h: &mut H, out: &[Output]) -> Vec<Output> {
    let mut next = h.ack_all(out);
    for (agent, path, value) in sets(out) {
        next.extend(h.vc(&agent, &path, &value));
    }
    next
}

#[test]
fn a_rule_that_retriggers_itself_is_stopped() {
    let mut h = H::new(
        r#"
[rule.flip]
description = "Broken: inverts the switch whenever it changes"
when = { value_change = "Device.Switch", agents = "proto::a" }
if = "value == true"
[[rule.flip.then]]
set = "Device.Switch"
value = false
[[rule.flip.else]]
set = "Device.Switch"
value = true
"#,
    );
    let out = h.vc("proto::a", "Device.Switch", "true");
    assert_eq!(sets(&out), vec![("proto::a".into(), "Device.Switch".into(), "false".into())]);
    let out = echo(&mut h, &out);
    assert!(sets(&out).is_empty(), "the echo does not fire it again");
    assert_eq!(
        stopped(&out),
        vec![("flip".into(), StopReason::Loop { chain: vec!["flip".into(), "flip".into()] })]
    );
    let e = h.explain("flip");
    assert!(e.stopped.is_some());
    assert!(matches!(e.recent[0].verdict, Verdict::Stopped(StopReason::Loop { .. })));
    assert!(e.render(&jiff::tz::TimeZone::UTC).contains("STOPPED"));
    // Stopped means stopped: even an outside change does nothing now.
    assert!(requests(&h.vc("proto::a", "Device.Switch", "true")).is_empty());
    assert_eq!(h.explain("flip").recent[0].verdict, Verdict::IsStopped);
    // Until someone restarts it.
    assert!(h.engine.restart_rule("flip"));
    assert_eq!(sets(&h.vc("proto::a", "Device.Switch", "true")).len(), 1);
}

#[test]
fn a_loop_through_two_rules_is_stopped() {
    let mut h = H::new(
        r#"
[rule.a]
when = { value_change = "Device.A", agents = "proto::x" }
[[rule.a.then]]
set = "Device.B"
value = "{value}"
[rule.b]
when = { value_change = "Device.B", agents = "proto::x" }
[[rule.b.then]]
set = "Device.A"
value = "x{value}"
"#,
    );
    let out = h.vc("proto::x", "Device.A", "1");
    let out = echo(&mut h, &out); // B changes → rule b sets A
    assert_eq!(sets(&out), vec![("proto::x".into(), "Device.A".into(), "x1".into())]);
    let out = echo(&mut h, &out); // A changes because of b, which was because of a → a is looping
    assert_eq!(
        stopped(&out),
        vec![("a".into(), StopReason::Loop { chain: vec!["a".into(), "b".into(), "a".into()] })]
    );
    assert!(sets(&out).is_empty());
}

#[test]
fn reacting_to_own_writes_without_firing_again_is_fine() {
    let mut h = H::new(
        r#"
[rule.clamp]
description = "Keeps the setpoint at or below 28"
when = { value_change = "Device.Setpoint", agents = "proto::a" }
if = "value > 28"
[[rule.clamp.then]]
set = "Device.Setpoint"
value = 28
[rule.mirror]
description = "Shows the setpoint on a display: reacts to clamp's write, once"
when = { value_change = "Device.Setpoint", agents = "proto::a" }
[[rule.mirror.then]]
set = "Device.Display"
value = "{value}"
"#,
    );
    let out = h.vc("proto::a", "Device.Setpoint", "30");
    assert_eq!(sets(&out).len(), 2);
    let out = echo(&mut h, &out);
    assert!(stopped(&out).is_empty(), "{out:?}");
    assert!(h.explain("clamp").stopped.is_none());
    assert!(h.explain("mirror").stopped.is_none());
    // A write that does not match (another value) is not the engine's doing.
    let out = h.vc("proto::a", "Device.Setpoint", "31");
    assert_eq!(sets(&out).len(), 2);
    assert!(stopped(&out).is_empty());
}

#[test]
fn the_fuse_stops_loops_the_chain_cannot_see() {
    let cfg = EngineConfig {
        fuse: Some(Fuse { max_firings: 5, window: std::time::Duration::from_secs(10) }),
        ..config()
    };
    let mut h = H::with(
        rules(
            r#"
[rule.chatty]
when = { value_change = "Device.Counter", agents = "proto::a" }
[[rule.chatty.then]]
publish = "tick"
"#,
        ),
        cfg,
        T0,
    );
    for i in 0..5 {
        assert_eq!(published_names(&h.vc("proto::a", "Device.Counter", &i.to_string())).len(), 1);
    }
    let out = h.vc("proto::a", "Device.Counter", "6");
    assert!(publishes(&out).is_empty());
    assert_eq!(stopped(&out), vec![("chatty".into(), StopReason::Fuse { max: 5, window_ms: 10_000 })]);
}

#[test]
fn a_stopped_rule_loses_its_pending_timers() {
    let mut h = H::new(
        r#"
[rule.slow-flip]
when = { value_change = "Device.S", agents = "proto::a" }
[[rule.slow-flip.then]]
set = "Device.S"
value = "{value}x"
[[rule.slow-flip.then]]
delay = "1m"
[[rule.slow-flip.then]]
publish = "later"
"#,
    );
    let out = h.vc("proto::a", "Device.S", "a");
    assert_eq!(h.deadline().map(|d| d - T0), Some(30 * SEC), "the Set's response deadline comes first");
    let out = echo(&mut h, &out);
    assert_eq!(stopped(&out).len(), 1);
    assert!(publishes(&h.advance(2 * MIN)).is_empty(), "the delayed step was cancelled");
}
