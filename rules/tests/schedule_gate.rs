//! Gated schedules (`EngineConfig::gate_schedules`): a schedule that falls
//! due is announced as `Output::ScheduleDue` and its rule runs only when
//! `Input::ScheduleGranted` comes back — how a mesh makes one engine act.

mod common;

use common::*;
use usp_rules::{
    EngineConfig,
    engine::{Input, Output},
};

const TICK: &str = r#"
[rule.tick]
when = { schedule = "every 1h" }
[[rule.tick.then]]
publish = "tick"
"#;

fn gated() -> H {
    H::with(rules(TICK), EngineConfig { gate_schedules: true, ..config() }, T0)
}

fn due(out: &[Output]) -> Vec<(String, usize, u64)> {
    out.iter()
        .filter_map(|o| match o {
            Output::ScheduleDue { rule, trigger, at } => Some((rule.to_string(), *trigger, ms(*at))),
            _ => None,
        })
        .collect()
}

#[test]
fn a_gated_schedule_asks_and_runs_only_when_granted() {
    let mut h = gated();
    // Noticed a little late: the firing is named by its scheduled time.
    let out = h.advance(HOUR + 250);
    assert!(publishes(&out).is_empty(), "nothing runs before the grant");
    assert_eq!(due(&out), vec![("tick".to_owned(), 0, T0 + HOUR)]);
    let out = h.input(Input::ScheduleGranted { rule: "tick".into(), trigger: 0, at: at(T0 + HOUR) });
    assert_eq!(published_names(&out), vec!["tick"]);
    // The next hour asks again: one question per firing.
    let out = h.advance(HOUR);
    assert_eq!(due(&out), vec![("tick".to_owned(), 0, T0 + 2 * HOUR)]);
    assert!(publishes(&out).is_empty());
}

#[test]
fn a_firing_not_granted_is_skipped() {
    let mut h = gated();
    let out = h.advance(HOUR);
    assert_eq!(due(&out).len(), 1);
    // No grant; the next hour's question comes, nothing ran meanwhile.
    let out = h.advance(HOUR);
    assert_eq!(due(&out).len(), 1);
    assert!(publishes(&out).is_empty());
}

#[test]
fn a_grant_for_what_is_not_a_schedule_is_ignored() {
    let mut h = gated();
    for (rule, trigger) in [("nope", 0), ("tick", 5)] {
        let out = h.input(Input::ScheduleGranted { rule: rule.into(), trigger, at: at(T0) });
        assert!(out.is_empty(), "{rule}/{trigger}: {out:?}");
    }
}

#[test]
fn ungated_schedules_fire_at_once() {
    let mut h = H::with(rules(TICK), config(), T0);
    let out = h.advance(HOUR);
    assert!(due(&out).is_empty());
    assert_eq!(published_names(&out), vec!["tick"]);
}
