//! Conditions: comparisons, cached values, boolean logic, time windows,
//! hysteresis, for-duration, debounce, cooldown, rate limits.

mod common;

use common::*;
use usp_rules::{engine::Input, expr::Value, trace::Verdict};

fn fired(out: &[usp_rules::engine::Output]) -> Vec<String> {
    published_names(out)
}

#[test]
fn comparisons_boolean_logic_and_cached_values() {
    let mut h = H::new(
        r#"
[rule.r]
when = { value_change = "Device.Node.1.IoTCapability.1.LevelSensor.Value", agents = "proto::room-{room}" }
# The window is on the same Agent; the outside temperature on another one.
if = 'value > 24 and not window and (outside < value or previous == "unknown")'
[rule.r.values]
window = "Device.Node.4.IoTCapability.1.BinarySensor.Value"
outside = { agent = "proto::weather", path = "Device.IoTCapability.1.LevelSensor.Value" }
[[rule.r.then]]
publish = "cool {room}"
"#,
    );
    let t = "Device.Node.1.IoTCapability.1.LevelSensor.Value";
    // No window value, no outside value: missing compares false.
    assert!(fired(&h.vc("proto::room-1", t, "26")).is_empty());
    h.vc("proto::room-1", "Device.Node.4.IoTCapability.1.BinarySensor.Value", "false");
    h.vc("proto::weather", "Device.IoTCapability.1.LevelSensor.Value", "18");
    assert_eq!(fired(&h.vc("proto::room-1", t, "26.5")), vec!["cool 1"]);
    assert!(fired(&h.vc("proto::room-1", t, "23")).is_empty(), "value > 24 fails");
    h.vc("proto::room-1", "Device.Node.4.IoTCapability.1.BinarySensor.Value", "true");
    assert!(fired(&h.vc("proto::room-1", t, "27")).is_empty(), "window open");
    h.vc("proto::room-1", "Device.Node.4.IoTCapability.1.BinarySensor.Value", "0");
    h.vc("proto::weather", "Device.IoTCapability.1.LevelSensor.Value", "30");
    assert!(fired(&h.vc("proto::room-1", t, "28")).is_empty(), "outside warmer and previous is 27");
    // The trace shows which part failed, with its values.
    let e = h.explain("r");
    let last = &e.recent[0];
    assert_eq!(last.verdict, Verdict::NotHeld);
    let failed: Vec<_> = last.checks.iter().filter(|c| !c.held).map(|c| c.text.to_string()).collect();
    // `window` read "0": false on its own, so `not window` held.
    assert_eq!(
        failed,
        vec!["window".to_string(), "outside < value".to_string(), "previous == \"unknown\"".to_string()]
    );
    assert_eq!(last.checks[0].lhs, Value::Str("28".into()));
    // Another room's window is not this room's.
    h.vc("proto::room-2", "Device.Node.4.IoTCapability.1.BinarySensor.Value", "true");
    h.vc("proto::weather", "Device.IoTCapability.1.LevelSensor.Value", "10");
    assert_eq!(fired(&h.vc("proto::room-1", t, "29")), vec!["cool 1"]);
}

#[test]
fn values_on_a_templated_agent_and_search_reads() {
    let mut h = H::new(
        r#"
[rule.r]
when = { value_change = "Device.IoTCapability.1.BinarySensor.Value", agents = "proto::occupancy-{room}" }
if = 'value == true and mode == "Auto"'
[rule.r.values]
mode = { agent = "proto::room-{room}", path = 'Device.Node.3.IoTCapability.[Name=="r{room}-hvac-mode"].EnumControl.Value' }
[[rule.r.then]]
publish = "ok {room} {mode}"
"#,
    );
    h.input(Input::Values {
        agent: "proto::room-5".into(),
        resp: get_resp(&[
            ("Device.Node.3.IoTCapability.1.", "Name", "r5-setpoint"),
            ("Device.Node.3.IoTCapability.2.", "Name", "r5-hvac-mode"),
            ("Device.Node.3.IoTCapability.2.EnumControl.", "Value", "Auto"),
            ("Device.Node.3.IoTCapability.1.LevelControl.", "Value", "21"),
        ]),
    });
    assert_eq!(
        fired(&h.vc("proto::occupancy-5", "Device.IoTCapability.1.BinarySensor.Value", "true")),
        vec!["ok 5 Auto"]
    );
    assert!(
        fired(&h.vc("proto::occupancy-6", "Device.IoTCapability.1.BinarySensor.Value", "true")).is_empty()
    );
    h.vc("proto::room-5", "Device.Node.3.IoTCapability.2.EnumControl.Value", "Off");
    assert!(
        fired(&h.vc("proto::occupancy-5", "Device.IoTCapability.1.BinarySensor.Value", "true")).is_empty()
    );
}

#[test]
fn time_of_day_windows_and_weekdays() {
    let text = r#"
[rule.night]
when = { value_change = "Device.P", agents = "proto::a" }
if = "time >= 22:00 or time < 06:00"
[[rule.night.then]]
publish = "night"
[rule.weekend]
when = { value_change = "Device.P", agents = "proto::a" }
if = 'weekday in ["sat", "sun"]'
[[rule.weekend.then]]
publish = "weekend"
"#;
    let mut h = H::new(text);
    h.now = T0 + 12 * HOUR; // Monday noon
    assert!(fired(&h.vc("proto::a", "Device.P", "1")).is_empty());
    h.now = T0 + 23 * HOUR;
    assert_eq!(fired(&h.vc("proto::a", "Device.P", "2")), vec!["night"]);
    h.now = T0 + 24 * HOUR + 5 * HOUR + 59 * MIN; // Tuesday 05:59
    assert_eq!(fired(&h.vc("proto::a", "Device.P", "3")), vec!["night"]);
    h.now = T0 + 5 * 24 * HOUR + 12 * HOUR; // Saturday noon
    assert_eq!(fired(&h.vc("proto::a", "Device.P", "4")), vec!["weekend"]);
    // The time zone is the engine's: noon UTC is 13:00 in Berlin in winter.
    let cfg =
        usp_rules::EngineConfig { timezone: jiff::tz::TimeZone::get("Europe/Berlin").unwrap(), ..config() };
    let mut b = H::with(
        rules(
            r#"
[rule.afternoon]
when = { value_change = "Device.P", agents = "proto::a" }
if = "time >= 13:00"
[[rule.afternoon.then]]
publish = "pm"
"#,
        ),
        cfg,
        T0 + 12 * HOUR,
    );
    assert_eq!(fired(&b.vc("proto::a", "Device.P", "1")), vec!["pm"]);
}

const HOT: &str = r#"
[rule.hot]
when = { value_change = "Device.T", agents = "proto::room-{room}" }
hysteresis = { on_above = 26, off_below = 25 }
[[rule.hot.then]]
publish = "hot"
[[rule.hot.else]]
publish = "normal"
"#;

#[test]
fn hysteresis_switches_on_above_and_off_below() {
    let mut h = H::new(HOT);
    let mut step = |v: &str| fired(&h.vc("proto::room-1", "Device.T", v));
    assert!(step("25.5").is_empty());
    assert_eq!(step("26.5"), vec!["hot"]);
    assert!(step("25.5").is_empty(), "inside the band: still on");
    assert!(step("26.8").is_empty(), "already on");
    assert_eq!(step("24.9"), vec!["normal"]);
    assert!(step("25.9").is_empty(), "inside the band: still off");
    assert_eq!(step("26.1"), vec!["hot"]);
    assert!(step("not a number").is_empty(), "unreadable values leave the latch alone");
    // Instances are per Agent.
    assert!(fired(&h.vc("proto::room-2", "Device.T", "25.9")).is_empty());
}

#[test]
fn falling_hysteresis() {
    let mut h = H::new(
        r#"
[rule.cold]
when = { value_change = "Device.T", agents = "proto::a" }
hysteresis = { on_below = 16, off_above = 18 }
[[rule.cold.then]]
publish = "cold"
[[rule.cold.else]]
publish = "warm"
"#,
    );
    let mut step = |v: &str| fired(&h.vc("proto::a", "Device.T", v));
    assert!(step("17").is_empty());
    assert_eq!(step("15.5"), vec!["cold"]);
    assert!(step("17.5").is_empty());
    assert_eq!(step("18.5"), vec!["warm"]);
}

const HOLD: &str = r#"
[rule.hot]
when = { value_change = "Device.T", agents = "proto::a" }
if = "value > 26"
for = "10m"
[[rule.hot.then]]
publish = "alarm"
[[rule.hot.else]]
publish = "clear"
"#;

#[test]
fn for_duration_fires_once_when_the_condition_held_long_enough() {
    let mut h = H::new(HOLD);
    assert!(fired(&h.vc("proto::a", "Device.T", "27")).is_empty());
    assert_eq!(h.deadline(), Some(T0 + 10 * MIN), "timer armed");
    h.advance(5 * MIN);
    assert!(fired(&h.vc("proto::a", "Device.T", "28")).is_empty());
    assert_eq!(h.deadline(), Some(T0 + 10 * MIN), "still holding: the deadline does not move");
    assert!(fired(&h.advance_to(T0 + 10 * MIN - 1)).is_empty());
    assert_eq!(fired(&h.advance_to(T0 + 10 * MIN)), vec!["alarm"]);
    assert_eq!(h.deadline(), None);
    h.advance(MIN);
    assert!(fired(&h.vc("proto::a", "Device.T", "29")).is_empty(), "already fired for this excursion");
    assert_eq!(fired(&h.vc("proto::a", "Device.T", "24")), vec!["clear"]);
    let verdicts: Vec<_> = h.explain("hot").recent.iter().map(|e| e.verdict.clone()).collect();
    assert!(
        matches!(
            verdicts[..],
            [
                Verdict::Cleared,
                Verdict::AlreadyActive,
                Verdict::Fired,
                Verdict::StillArmed { .. },
                Verdict::Armed { .. }
            ]
        ),
        "{verdicts:?}"
    );
}

#[test]
fn for_duration_is_cancelled_when_the_condition_stops_holding() {
    let mut h = H::new(HOLD);
    h.vc("proto::a", "Device.T", "27");
    h.advance(9 * MIN);
    assert!(fired(&h.vc("proto::a", "Device.T", "25")).is_empty(), "not active yet: no else");
    assert_eq!(h.deadline(), None, "timer cancelled");
    assert!(fired(&h.advance(10 * MIN)).is_empty());
    assert_eq!(h.explain("hot").recent[0].verdict, Verdict::Cancelled);
    // Re-armed from scratch on the next excursion.
    h.vc("proto::a", "Device.T", "27");
    assert_eq!(h.deadline(), Some(h.now + 10 * MIN));
    assert_eq!(h.engine.rules().len(), 1);
}

#[test]
fn for_duration_with_hysteresis() {
    let mut h = H::new(
        r#"
[rule.hot]
when = { value_change = "Device.T", agents = "proto::a" }
hysteresis = { on_above = 26, off_below = 25 }
for = "10m"
[[rule.hot.then]]
publish = "alarm"
[[rule.hot.else]]
publish = "clear"
"#,
    );
    h.vc("proto::a", "Device.T", "26.5");
    h.advance(5 * MIN);
    assert!(fired(&h.vc("proto::a", "Device.T", "25.5")).is_empty(), "in the band: the timer keeps running");
    assert_eq!(fired(&h.advance(5 * MIN)), vec!["alarm"]);
    assert!(fired(&h.vc("proto::a", "Device.T", "25.2")).is_empty());
    assert_eq!(fired(&h.vc("proto::a", "Device.T", "24.8")), vec!["clear"]);
}

#[test]
fn debounce_waits_for_quiet_and_uses_the_last_trigger() {
    let mut h = H::new(
        r#"
[rule.d]
when = { value_change = "Device.P", agents = "proto::a" }
debounce = "2s"
if = "value == true"
[[rule.d.then]]
publish = "on"
[[rule.d.else]]
publish = "off"
"#,
    );
    assert!(fired(&h.vc("proto::a", "Device.P", "true")).is_empty());
    h.advance(SEC);
    assert!(fired(&h.vc("proto::a", "Device.P", "false")).is_empty());
    h.advance(SEC);
    assert!(fired(&h.vc("proto::a", "Device.P", "true")).is_empty());
    assert_eq!(h.deadline(), Some(T0 + 4 * SEC));
    assert!(fired(&h.advance(SEC)).is_empty());
    assert_eq!(fired(&h.advance(SEC)), vec!["on"], "one evaluation, of the last value");
    h.vc("proto::a", "Device.P", "false");
    assert_eq!(fired(&h.advance(2 * SEC)), vec!["off"]);
    assert_eq!(h.explain("d").counts.fired, 1);
}

#[test]
fn cooldown_suppresses_per_instance() {
    let mut h = H::new(
        r#"
[rule.c]
when = { value_change = "Device.P", agents = "proto::*" }
cooldown = "1m"
[[rule.c.then]]
publish = "{agent}"
"#,
    );
    assert_eq!(fired(&h.vc("proto::a", "Device.P", "1")), vec!["proto::a"]);
    h.advance(30 * SEC);
    assert!(fired(&h.vc("proto::a", "Device.P", "2")).is_empty());
    assert_eq!(fired(&h.vc("proto::b", "Device.P", "2")), vec!["proto::b"], "another instance");
    assert!(matches!(h.explain("c").recent[1].verdict, Verdict::Cooldown { .. }));
    h.advance(30 * SEC);
    assert_eq!(fired(&h.vc("proto::a", "Device.P", "3")), vec!["proto::a"]);
    assert_eq!(h.explain("c").counts.suppressed, 1);
}

#[test]
fn rate_limit_caps_the_rule_as_a_whole() {
    let mut h = H::new(
        r#"
[rule.r]
when = { value_change = "Device.P", agents = "proto::*" }
rate_limit = "2 per 1m"
[[rule.r.then]]
publish = "{agent}"
"#,
    );
    assert_eq!(fired(&h.vc("proto::a", "Device.P", "1")).len(), 1);
    h.advance(10 * SEC);
    assert_eq!(fired(&h.vc("proto::b", "Device.P", "1")).len(), 1);
    assert!(fired(&h.vc("proto::c", "Device.P", "1")).is_empty());
    assert_eq!(h.explain("r").recent[0].verdict, Verdict::RateLimited { count: 2, per_ms: MIN });
    assert_eq!(h.explain("r").rate_used, Some((2, 2)));
    h.advance(50 * SEC); // the first firing leaves the window
    assert_eq!(fired(&h.vc("proto::c", "Device.P", "2")).len(), 1);
}

#[test]
fn a_primed_value_arms_a_state_rule_but_does_not_fire_an_event_rule() {
    let mut h = H::new(&format!(
        "{HOLD}\n[rule.plain]\nwhen = {{ value_change = \"Device.T\", agents = \"proto::a\" }}\n[[rule.plain.then]]\npublish = \"plain\"\n"
    ));
    let out = h.input(Input::Values { agent: "proto::a".into(), resp: get_resp(&[("Device.", "T", "30")]) });
    assert!(fired(&out).is_empty());
    assert_eq!(h.deadline(), Some(T0 + 10 * MIN), "already above 26 at start: the for-duration runs");
    // The same value again is no news.
    h.input(Input::Values { agent: "proto::a".into(), resp: get_resp(&[("Device.", "T", "30")]) });
    assert_eq!(h.explain("hot").counts.evaluations, 1);
    assert_eq!(fired(&h.advance(10 * MIN)), vec!["alarm"]);
}

#[test]
fn a_key_makes_triggers_share_one_instance() {
    let mut h = H::new(
        r#"
[rule.room]
when = [
  { value_change = "Device.Motion", agents = "proto::room-{room}" },
  { value_change = "Device.Door", agents = "proto::door-{room}" },
]
key = "{room}"
cooldown = "1m"
[[rule.room.then]]
publish = "activity {room}"
"#,
    );
    assert_eq!(fired(&h.vc("proto::room-4", "Device.Motion", "1")), vec!["activity 4"]);
    assert!(
        fired(&h.vc("proto::door-4", "Device.Door", "open")).is_empty(),
        "same room: same instance, in cooldown"
    );
    assert_eq!(fired(&h.vc("proto::door-5", "Device.Door", "open")), vec!["activity 5"]);
    let keys: Vec<String> = h.explain("room").instances.iter().map(|i| i.key.to_string()).collect();
    assert_eq!(keys, vec!["4".to_string(), "5".to_string()]);
}

#[test]
fn a_disabled_rule_does_nothing() {
    let mut h = H::new(
        r#"
[rule.off]
enabled = false
when = { value_change = "Device.X", agents = "proto::a" }
[[rule.off.then]]
publish = "x"
"#,
    );
    assert!(fired(&h.vc("proto::a", "Device.X", "1")).is_empty());
    assert!(h.engine.subscriptions_for("proto::a").0.is_empty(), "nothing to subscribe to");
    let text = h.explain("off").render(&jiff::tz::TimeZone::UTC);
    assert!(text.contains("disabled in its file"), "{text}");
    assert_eq!(h.engine.rule_status(), vec![(std::sync::Arc::from("off"), false)]);
}
