//! Bad input never panics: rule files, and notifications from Agents.

mod common;

use common::*;
use proptest::prelude::*;
use usp_proto::usp::Notify;
use usp_rules::{Source, load, schedule::Schedule, time::parse_duration};

const KEYS: &[&str] = &[
    "when",
    "if",
    "for",
    "then",
    "else",
    "value_change",
    "event",
    "set",
    "value",
    "agents",
    "tag",
    "schedule",
    "signal",
    "hysteresis",
    "on_above",
    "off_below",
    "publish",
    "delay",
    "operate",
    "values",
    "key",
    "cooldown",
    "rate_limit",
];
const VALUES: &[&str] = &[
    "\"Device.X\"",
    "\"Device.Node.{n}.Y\"",
    "\"proto::room-{room}\"",
    "\"value > 1\"",
    "\"10m\"",
    "1",
    "true",
    "{ value_change = \"Device.X\" }",
    "[{ publish = \"x\" }]",
    "\"{room}\"",
    "\"Device.Boot!\"",
    "\"daily at 22:00\"",
    "{ on_above = 2, off_below = 1 }",
    "\"a\"",
    "[]",
    "{}",
];

fn rule_like() -> impl Strategy<Value = String> {
    prop::collection::vec((0..KEYS.len(), 0..VALUES.len(), any::<bool>()), 0..12).prop_map(|items| {
        let mut s = String::from("[rule.a]\n");
        for (k, v, sub) in items {
            if sub {
                s.push_str(&format!("[[rule.a.{}]]\n", KEYS[k]));
            } else {
                s.push_str(&format!("{} = {}\n", KEYS[k], VALUES[v]));
            }
        }
        s
    })
}

proptest! {
    #[test]
    fn any_text_loads_or_is_refused_cleanly(text in "\\PC{0,200}") {
        let _ = load(&[Source::new("x.toml", text)]);
    }

    #[test]
    fn rule_shaped_files_load_or_are_refused_with_a_position(text in rule_like()) {
        match load(&[Source::new("x.toml", text.clone())]) {
            Ok(_) => {}
            Err(e) => {
                let lines = text.lines().count().max(1);
                for err in &e.0 {
                    prop_assert!(err.line >= 1 && err.line <= lines + 1, "{err} in\n{text}");
                    prop_assert!(err.column >= 1);
                }
            }
        }
    }

    #[test]
    fn schedules_and_durations_never_panic(text in "\\PC{0,40}", now in 0u64..4_000_000_000_000) {
        if let Ok(s) = Schedule::parse(&text) {
            prop_assert!(Schedule::parse(&s.to_string()).is_ok());
        }
        let _ = parse_duration(&text);
        let _ = now;
    }

    #[test]
    fn hostile_notifications_never_panic(
        path in "[A-Za-z0-9.{}\\[\\]\"=*!()_-]{0,80}",
        value in "\\PC{0,20}",
        agent in "[a-z:{}*0-9-]{0,30}",
    ) {
        let mut h = H::new(r#"
[rule.a]
when = { value_change = 'Device.Node.{n}.IoTCapability.[Name=="r{room}-x"].BinarySensor.Value', agents = "proto::room-{room}" }
if = "value > 1 and Device.Node.{n}.Alias != previous"
[[rule.a.then]]
set = "Device.Node.{n}.Y"
value = "{value}"
[rule.b]
when = { object_created = "Device.Node.", agents = "*" }
[[rule.b.then]]
publish = "{keys.Name}"
[rule.c]
when = { event = "Device.Boot!" }
"#);
        h.vc(&agent, &path, &value);
        h.vc("proto::room-1", &path, &value);
        h.notify("proto::room-1", Notify::object_creation("", false, &path, [("Name", value.as_str())]));
        h.notify("proto::room-1", Notify::object_deletion("", false, &path));
        h.notify(&agent, Notify::event("", false, &path, &value, [("a", "b")]));
        h.advance(HOUR);
    }
}
