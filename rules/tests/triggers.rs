//! Every trigger kind, through the sans-I/O engine.

mod common;

use std::collections::BTreeMap;

use common::*;
use usp_proto::usp::Notify;
use usp_rules::engine::{Input, NotifType};

#[test]
fn value_change_with_wildcards_and_captures() {
    let mut h = H::new(
        r#"
[rule.r]
when = { value_change = "Device.Node.{node}.IoTCapability.*.LevelSensor.Value", agents = "proto::room-{room}" }
[[rule.r.then]]
publish = "seen"
fields = { room = "{room}", node = "{node}", value = "{value}", agent = "{agent}", path = "{path}" }
"#,
    );
    let out = h.vc("proto::room-101", "Device.Node.3.IoTCapability.2.LevelSensor.Value", "21.5");
    let p = publishes(&out);
    assert_eq!(p.len(), 1);
    let f = &p[0].fields;
    assert_eq!(f["room"], "101");
    assert_eq!(f["node"], "3");
    assert_eq!(f["value"], "21.5");
    assert_eq!(f["agent"], "proto::room-101");
    assert_eq!(f["path"], "Device.Node.3.IoTCapability.2.LevelSensor.Value");
    // Other parameters, other Agents: nothing.
    assert!(
        publishes(&h.vc("proto::room-101", "Device.Node.3.IoTCapability.2.LevelSensor.Unit", "degC"))
            .is_empty()
    );
    assert!(
        publishes(&h.vc("proto::hall-1", "Device.Node.3.IoTCapability.2.LevelSensor.Value", "1")).is_empty()
    );
    assert!(
        publishes(&h.vc("proto::room-101", "Device.Node.x.IoTCapability.2.LevelSensor.Value", "1"))
            .is_empty()
    );
}

#[test]
fn an_object_path_watches_every_parameter_below_it() {
    let mut h = H::new(
        r#"
[rule.r]
when = { value_change = "Device.Node.2.", agents = "proto::a" }
[[rule.r.then]]
publish = "{path}"
"#,
    );
    assert_eq!(
        published_names(&h.vc("proto::a", "Device.Node.2.IoTCapability.1.BinaryControl.Value", "true")),
        vec!["Device.Node.2.IoTCapability.1.BinaryControl.Value"]
    );
    assert!(publishes(&h.vc("proto::a", "Device.Node.3.Alias", "x")).is_empty());
}

const PRESENCE: &str = r#"
[rule.presence]
when = { value_change = 'Device.Node.1.IoTCapability.[Name=="r{room}-presence"].BinarySensor.Value', agents = "proto::room-{room}" }
[[rule.presence.then]]
publish = "presence"
"#;

#[test]
fn search_expression_matches_from_the_subscription_it_came_on() {
    let mut h = H::new(PRESENCE);
    let path = "Device.Node.1.IoTCapability.2.BinarySensor.Value";
    // Without the key in the cache, and not on our subscription: no match.
    assert!(publishes(&h.vc("proto::room-101", path, "true")).is_empty());
    // The subscription the engine asked for on that Agent has the search
    // filled in; a Notify on it is a match (the Agent evaluated the search).
    let (subs, _) = h.engine.subscriptions_for("proto::room-101");
    let sub =
        subs.iter().find(|s| s.notif_type == NotifType::ValueChange).expect("a ValueChange subscription");
    assert_eq!(sub.reference, r#"Device.Node.1.IoTCapability.[Name=="r101-presence"].BinarySensor.Value"#);
    assert_eq!(published_names(&h.vc_sub("proto::room-101", &sub.id, path, "false")), vec!["presence"]);
    // Another room's subscription id does not match room 101's rule.
    let (other, _) = h.engine.subscriptions_for("proto::room-102");
    let other_id = &other.iter().find(|s| s.notif_type == NotifType::ValueChange).unwrap().id;
    assert_ne!(other_id, &sub.id);
    assert!(publishes(&h.vc_sub("proto::room-101", other_id, path, "true")).is_empty());
}

#[test]
fn search_expression_matches_from_the_cache() {
    let mut h = H::new(PRESENCE);
    // The priming Get tells the engine the capability names.
    h.input(Input::Values {
        agent: "proto::room-101".into(),
        resp: get_resp(&[
            ("Device.Node.1.IoTCapability.1.", "Name", "r101-temp"),
            ("Device.Node.1.IoTCapability.2.", "Name", "r101-presence"),
        ]),
    });
    assert_eq!(
        published_names(&h.vc("proto::room-101", "Device.Node.1.IoTCapability.2.BinarySensor.Value", "true")),
        vec!["presence"]
    );
    assert!(
        publishes(&h.vc("proto::room-101", "Device.Node.1.IoTCapability.1.BinarySensor.Value", "true"))
            .is_empty()
    );
    // Unique keys of a created object feed the cache too.
    h.notify(
        "proto::room-101",
        Notify::object_creation("", false, "Device.Node.1.IoTCapability.5.", [("Name", "r101-presence")]),
    );
    assert_eq!(
        published_names(&h.vc("proto::room-101", "Device.Node.1.IoTCapability.5.BinarySensor.Value", "true")),
        vec!["presence"]
    );
    // ...and deletion forgets them.
    h.notify("proto::room-101", Notify::object_deletion("", false, "Device.Node.1.IoTCapability.5."));
    assert!(
        publishes(&h.vc("proto::room-101", "Device.Node.1.IoTCapability.5.BinarySensor.Value", "true"))
            .is_empty()
    );
}

#[test]
fn event_by_name_with_argument_matches() {
    let mut h = H::new(
        r#"
[rule.fw]
when = { event = "Device.Boot!", args = { FirmwareUpdated = "true" } }
if = 'args.Cause == "RemoteReboot"'
[[rule.fw.then]]
publish = "fw"
fields = { cause = "{args.Cause}" }
"#,
    );
    let boot = |fw: &str, cause: &str| {
        Notify::event(
            "",
            false,
            "Device.",
            "Boot!",
            [("FirmwareUpdated", fw), ("Cause", cause), ("CommandKey", "")],
        )
    };
    let out = h.notify("proto::x", boot("true", "RemoteReboot"));
    assert_eq!(publishes(&out)[0].fields["cause"], "RemoteReboot");
    assert!(publishes(&h.notify("proto::x", boot("false", "RemoteReboot"))).is_empty());
    assert!(publishes(&h.notify("proto::x", boot("true", "LocalReboot"))).is_empty());
    // Same name on another object: not this event.
    let other = Notify::event("", false, "Device.LocalAgent.", "Boot!", [("FirmwareUpdated", "true")]);
    assert!(publishes(&h.notify("proto::x", other)).is_empty());
}

#[test]
fn object_creation_and_deletion() {
    let mut h = H::new(
        r#"
[rule.joined]
when = { object_created = "Device.ProxiedDevice.", agents = "proto::gw-*" }
[[rule.joined.then]]
publish = "joined"
fields = { path = "{path}", alias = "{keys.Alias}" }

[rule.left]
when = { object_deleted = "Device.ProxiedDevice.*.", agents = "proto::gw-*" }
[[rule.left.then]]
publish = "left"
fields = { path = "{path}" }
"#,
    );
    let out = h.notify(
        "proto::gw-1",
        Notify::object_creation("", false, "Device.ProxiedDevice.4.", [("Alias", "cpe-4")]),
    );
    let p = publishes(&out);
    assert_eq!(p.len(), 1);
    assert_eq!((p[0].name.as_str(), p[0].fields["alias"].as_str()), ("joined", "cpe-4"));
    assert_eq!(p[0].fields["path"], "Device.ProxiedDevice.4.");
    // A row of a nested table is not a row of ProxiedDevice.
    assert!(
        publishes(&h.notify(
            "proto::gw-1",
            Notify::object_creation("", false, "Device.ProxiedDevice.4.Node.1.", [("Alias", "x")])
        ))
        .is_empty()
    );
    let out = h.notify("proto::gw-1", Notify::object_deletion("", false, "Device.ProxiedDevice.4."));
    assert_eq!(published_names(&out), vec!["left"]);
    assert!(
        publishes(&h.notify("proto::other", Notify::object_deletion("", false, "Device.ProxiedDevice.4.")))
            .is_empty()
    );
}

#[test]
fn agent_online_and_offline() {
    let mut h = H::new(
        r#"
[tags]
rooms = "proto::room-*"
[rule.up]
when = { agent_status = "online", tag = "rooms" }
[[rule.up.then]]
publish = "up {agent}"
[rule.down]
when = { agent_status = "offline", tag = "rooms" }
[[rule.down.then]]
publish = "down {agent}"
"#,
    );
    assert_eq!(published_names(&h.online("proto::room-1")), vec!["up proto::room-1"]);
    // The same connection reported again (broker event, then Connect Record).
    assert!(publishes(&h.online("proto::room-1")).is_empty(), "one arrival, one firing");
    assert_eq!(published_names(&h.offline("proto::room-1")), vec!["down proto::room-1"]);
    assert!(publishes(&h.offline("proto::room-1")).is_empty(), "one departure, one firing");
    assert_eq!(published_names(&h.online("proto::room-1")), vec!["up proto::room-1"], "back again");
    assert!(publishes(&h.online("proto::hall-1")).is_empty(), "not in the tag");
}

#[test]
fn schedules_fire_at_local_times_on_their_days() {
    let mut h = H::new(
        r#"
[tags]
rooms = "proto::room-*"
[rule.night]
when = { schedule = "mon-fri at 22:00" }
[[rule.night.then]]
tag = "rooms"
set = "Device.Node.3.IoTCapability.1.LevelControl.Value"
value = 17
"#,
    );
    h.online("proto::room-101");
    h.online("proto::room-102");
    h.online("proto::room-103");
    h.offline("proto::room-103");
    assert_eq!(h.deadline(), Some(T0 + 22 * HOUR), "Monday 22:00 is the next deadline");
    assert!(sets(&h.advance_to(T0 + 22 * HOUR - 1)).is_empty());
    let out = h.advance_to(T0 + 22 * HOUR);
    assert_eq!(
        sets(&out),
        vec![
            (
                "proto::room-101".into(),
                "Device.Node.3.IoTCapability.1.LevelControl.Value".into(),
                "17".into()
            ),
            (
                "proto::room-102".into(),
                "Device.Node.3.IoTCapability.1.LevelControl.Value".into(),
                "17".into()
            ),
        ],
        "every connected room, not the offline one"
    );
    h.ack_all(&out);
    // Next: Tuesday 22:00; after Friday comes Monday.
    assert_eq!(h.deadline().map(|d| d - T0), Some(46 * HOUR));
    let friday = T0 + 4 * 24 * HOUR + 22 * HOUR;
    for day in 1..=4 {
        let out = h.advance_to(T0 + day * 24 * HOUR + 22 * HOUR);
        assert_eq!(sets(&out).len(), 2);
        h.ack_all(&out);
    }
    assert_eq!(h.deadline(), Some(friday + 3 * 24 * HOUR));
}

#[test]
fn signals_carry_the_source_context() {
    let mut h = H::new(
        r#"
[rule.hot]
when = { value_change = "Device.T", agents = "proto::room-{room}" }
hysteresis = { on_above = 26, off_below = 25 }
[rule.on-hot]
when = { signal = "hot" }
[[rule.on-hot.then]]
publish = "hot {room} {value}"
[rule.on-normal]
when = { signal = "hot", edge = "cleared" }
[[rule.on-normal.then]]
publish = "normal {room}"
"#,
    );
    assert_eq!(published_names(&h.vc("proto::room-7", "Device.T", "27")), vec!["hot 7 27"]);
    assert!(publishes(&h.vc("proto::room-7", "Device.T", "26")).is_empty());
    assert_eq!(published_names(&h.vc("proto::room-7", "Device.T", "24")), vec!["normal 7"]);
}

#[test]
fn agents_by_glob_list_and_tag() {
    let mut h = H::new(
        r#"
[tags]
lobby = ["proto::lobby-*", "os::00D09E-*"]
[rule.a]
when = { value_change = "Device.X", agents = ["proto::a-*", "proto::b-1"] }
[[rule.a.then]]
publish = "a"
[rule.t]
when = { value_change = "Device.X", tag = "lobby" }
[[rule.t.then]]
publish = "t"
"#,
    );
    let fired = |h: &mut H, agent: &str| published_names(&h.vc(agent, "Device.X", "1"));
    assert_eq!(fired(&mut h, "proto::a-9"), vec!["a"]);
    assert_eq!(fired(&mut h, "proto::b-1"), vec!["a"]);
    assert!(fired(&mut h, "proto::b-2").is_empty());
    assert_eq!(fired(&mut h, "os::00D09E-SN1"), vec!["t"]);
    assert_eq!(fired(&mut h, "proto::lobby-east"), vec!["t"]);
}

#[test]
fn triggers_through_unknown_notifications_do_nothing() {
    let mut h = H::new(PRESENCE);
    let empty = Notify { subscription_id: "x".into(), send_resp: true, notification: None };
    assert!(h.notify("proto::room-1", empty).is_empty());
    let obr = Notify::on_board_request("00D09E", "c", "s", "1.4");
    assert!(h.notify("proto::room-1", obr).is_empty());
    let _ = BTreeMap::<String, String>::new();
}
