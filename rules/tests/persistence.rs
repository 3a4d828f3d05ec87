//! State and timers survive a restart (through the redb store) and a reload.
//! (Helpers here unwrap: a failure there is a test failure.)
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::*;
use usp_rules::{Engine, LoadErrorKind, Source, Store, engine::Output, trace::Verdict};

const RULES: &str = r#"
[rule.hot]
when = { value_change = "Device.T", agents = "proto::room-{room}" }
if = "value > 26 and window == false"
for = "10m"
cooldown = "1h"
[rule.hot.values]
window = "Device.W"
[[rule.hot.then]]
publish = "alarm {room}"

[rule.later]
when = { value_change = "Device.Door", agents = "proto::room-{room}" }
rate_limit = "1 per 1h"
[[rule.later.then]]
delay = "5m"
[[rule.later.then]]
publish = "door was opened 5 minutes ago in {room}"
"#;

/// Runs `h`'s engine changes into the store.
fn save(h: &mut H, store: &Store) {
    store.apply(&h.engine.take_changes()).unwrap();
}

fn restart(store_path: &Path, text: &str, now: u64) -> (H, Vec<Output>) {
    let store = Store::open(store_path).unwrap();
    let mut engine = Engine::new(config(), rules(text), at(now));
    let notes = engine.restore(store.load().unwrap());
    (H { engine, now }, notes)
}

#[test]
fn a_restart_in_the_middle_of_a_for_duration_keeps_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.redb");
    {
        let store = Store::open(&path).unwrap();
        let mut h = H::new(RULES);
        h.vc("proto::room-1", "Device.W", "false");
        h.vc("proto::room-1", "Device.T", "27");
        assert_eq!(h.deadline(), Some(T0 + 10 * MIN));
        h.advance(4 * MIN);
        save(&mut h, &store);
    } // the process stops
    let (mut h, notes) = restart(&path, RULES, T0 + 6 * MIN);
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(h.deadline(), Some(T0 + 10 * MIN), "the original deadline, not restart + 10m");
    assert!(publishes(&h.advance_to(T0 + 10 * MIN - 1)).is_empty());
    assert_eq!(published_names(&h.advance_to(T0 + 10 * MIN)), vec!["alarm 1"]);
    // The cache came back too: `window` was read from it.
    let e = h.explain("hot");
    assert!(e.recent[0].checks.iter().any(|c| &*c.text == "window == false" && c.held));
}

#[test]
fn a_deadline_that_passed_while_down_runs_at_the_first_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.redb");
    {
        let store = Store::open(&path).unwrap();
        let mut h = H::new(RULES);
        h.vc("proto::room-1", "Device.W", "false");
        h.vc("proto::room-1", "Device.T", "27");
        save(&mut h, &store);
    }
    let (mut h, _) = restart(&path, RULES, T0 + 20 * MIN);
    assert_eq!(h.deadline(), Some(T0 + 10 * MIN));
    assert_eq!(published_names(&h.advance(0)), vec!["alarm 1"]);
}

#[test]
fn cooldowns_rate_windows_and_delays_survive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.redb");
    {
        let store = Store::open(&path).unwrap();
        let mut h = H::new(RULES);
        h.vc("proto::room-1", "Device.W", "false");
        h.vc("proto::room-1", "Device.T", "27");
        h.advance(10 * MIN); // alarm fires; cooldown until +1h10m
        h.vc("proto::room-1", "Device.T", "20"); // state ends
        h.vc("proto::room-2", "Device.Door", "open"); // delay 5m, rate window used
        save(&mut h, &store);
    }
    let (mut h, _) = restart(&path, RULES, T0 + 12 * MIN);
    assert_eq!(h.deadline(), Some(T0 + 15 * MIN), "the delayed step");
    assert_eq!(published_names(&h.advance_to(T0 + 15 * MIN)), vec!["door was opened 5 minutes ago in 2"]);
    assert!(publishes(&h.vc("proto::room-3", "Device.Door", "open")).is_empty());
    assert!(
        matches!(h.explain("later").recent[0].verdict, Verdict::RateLimited { .. }),
        "the rate window survived"
    );
    // Another excursion within the hour: the for-duration runs, then the cooldown holds it.
    h.vc("proto::room-1", "Device.T", "28");
    assert!(publishes(&h.advance(10 * MIN)).is_empty());
    assert!(matches!(h.explain("hot").recent[0].verdict, Verdict::Cooldown { .. }));
}

#[test]
fn a_sequence_waiting_for_a_response_is_reported_not_resumed() {
    let text = r#"
[rule.w]
when = { value_change = "Device.Go", agents = "proto::a" }
[[rule.w.then]]
set = "Device.A"
value = 1
wait = true
[[rule.w.then]]
publish = "after"
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.redb");
    {
        let store = Store::open(&path).unwrap();
        let mut h = H::new(text);
        h.vc("proto::a", "Device.Go", "1");
        save(&mut h, &store);
    }
    let (mut h, notes) = restart(&path, text, T0 + MIN);
    assert!(
        notes.iter().any(|o| matches!(o, Output::Notice(usp_rules::engine::Notice::ActionFailed { .. }))),
        "{notes:?}"
    );
    assert!(publishes(&h.advance(HOUR)).is_empty());
    // And it is gone from the store after the next save.
    let store = Store::open(&path).unwrap();
    store.apply(&h.engine.take_changes()).unwrap();
    assert!(store.load().unwrap().iter().all(|(t, _, _)| *t != usp_rules::engine::Table::Run));
}

#[test]
fn a_corrupt_record_is_skipped_with_a_notice() {
    let mut engine = Engine::new(config(), rules(RULES), at(T0));
    let notes = engine.restore(vec![
        (usp_rules::engine::Table::Instance, "hot\u{1f}k".into(), "{not json".into()),
        (usp_rules::engine::Table::Cache, "proto::a\u{1f}Device.W".into(), "false".into()),
    ]);
    assert_eq!(notes.len(), 1);
}

#[test]
fn a_good_reload_keeps_the_state_of_rules_that_remain() {
    let mut h = H::new(RULES);
    h.vc("proto::room-1", "Device.W", "false");
    h.vc("proto::room-1", "Device.T", "27");
    h.advance(5 * MIN);
    // New file: `hot` stays (with another action), `later` goes, `new` comes.
    let next = r#"
[rule.hot]
when = { value_change = "Device.T", agents = "proto::room-{room}" }
if = "value > 26 and window == false"
for = "10m"
[rule.hot.values]
window = "Device.W"
[[rule.hot.then]]
publish = "ALARM {room}"
[rule.new]
when = { value_change = "Device.N", agents = "proto::*" }
[[rule.new.then]]
publish = "new"
"#;
    let out = h.engine.reload(rules(next), at(h.now));
    assert!(
        out.iter().any(|o| matches!(o, Output::Notice(usp_rules::engine::Notice::Reloaded { rules: 2 })))
    );
    assert_eq!(h.deadline(), Some(T0 + 10 * MIN), "the armed for-duration kept its deadline");
    assert_eq!(published_names(&h.advance(5 * MIN)), vec!["ALARM 1"], "and fires with the new steps");
    assert!(h.engine.explain("later", at(h.now)).is_none());
    assert_eq!(published_names(&h.vc("proto::x", "Device.N", "1")), vec!["new"]);
    assert_eq!(h.explain("hot").counts.fired, 1);
}

#[test]
fn a_bad_file_is_refused_with_its_position_and_the_old_rules_keep_running() {
    let mut h = H::new(RULES);
    let bad = "[rule.hot]\nwhen = { value_change = \"Device.T\" }\nfro = \"10m\"\n";
    let err = usp_rules::load(&[Source::new("rules/hot.toml", bad)]).unwrap_err();
    let first = err.first().unwrap();
    assert_eq!((first.line, first.column), (3, 1));
    assert!(err.to_string().starts_with("rules/hot.toml:3:1: unknown key \"fro\""), "{err}");
    assert!(matches!(&first.kind, LoadErrorKind::UnknownKey { suggestion: Some("for"), .. }));
    // Nothing was swapped: the running rules still work.
    h.vc("proto::room-1", "Device.W", "false");
    h.vc("proto::room-1", "Device.T", "27");
    assert_eq!(published_names(&h.advance(10 * MIN)), vec!["alarm 1"]);
}

#[test]
fn a_reload_that_drops_for_cancels_its_timers() {
    let mut h = H::new(RULES);
    h.vc("proto::room-1", "Device.W", "false");
    h.vc("proto::room-1", "Device.T", "27");
    assert_eq!(h.deadline(), Some(T0 + 10 * MIN));
    let without_for = RULES.replace("for = \"10m\"\n", "");
    h.engine.reload(rules(&without_for), at(h.now));
    assert_eq!(h.deadline(), None);
    assert!(publishes(&h.advance(20 * MIN)).is_empty());
}

#[test]
fn the_engine_can_move_to_another_thread() {
    fn send<T: Send + 'static>(_: &T) {}
    let h = H::new(RULES);
    send(&h.engine);
    let store = Store::open(&tempfile::tempdir().unwrap().path().join("s.redb")).unwrap();
    send(&store);
}
