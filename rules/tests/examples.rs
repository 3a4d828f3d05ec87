//! The worked examples in `deploy/rules/` load, and do what their comments say.

mod common;

use std::path::PathBuf;

use common::*;
use usp_proto::usp::Notify;
use usp_rules::{Engine, RuleSet, engine::Input};

fn examples() -> RuleSet {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/rules");
    usp_rules::load_dir(&dir, &[]).unwrap_or_else(|e| panic!("{e}"))
}

fn building() -> H {
    let mut h = H { engine: Engine::new(config(), examples(), at(T0)), now: T0 };
    // Two rooms with the names of the data-model worked example.
    for room in ["101", "102"] {
        let agent = format!("proto::room-{room}");
        h.online(&agent);
        h.input(Input::Values {
            agent: agent.clone(),
            resp: get_resp(&[
                ("Device.Node.1.IoTCapability.1.", "Name", &format!("r{room}-temp")),
                ("Device.Node.1.IoTCapability.2.", "Name", &format!("r{room}-presence")),
                ("Device.Node.2.IoTCapability.1.", "Name", &format!("r{room}-light-sw")),
                ("Device.Node.2.IoTCapability.2.", "Name", &format!("r{room}-light-dim")),
                ("Device.Node.3.IoTCapability.2.EnumControl.", "Value", "Auto"),
                ("Device.Node.1.IoTCapability.1.LevelSensor.", "Value", "21"),
            ]),
        });
    }
    h
}

#[test]
fn every_example_file_loads() {
    let set = examples();
    let names: Vec<&str> = set.names().collect();
    for rule in [
        "light-follows-presence",
        "meeting-room-ceiling-sensor",
        "hvac-setback-window-open",
        "room-too-hot",
        "cool-down-hot-room",
        "night-mode",
        "day-mode",
        "after-hours-presence",
        "firmware-updated",
        "device-joined",
        "device-left",
        "room-controller-offline",
        "room-controller-back",
    ] {
        assert!(names.contains(&rule), "{rule} missing from {names:?}");
    }
}

#[test]
fn lights_follow_occupancy_room_by_room() {
    let mut h = building();
    let morning = h.advance_to(T0 + 9 * HOUR); // the day-mode schedule at 06:30
    h.ack_all(&morning);
    let out = h.vc("proto::room-102", "Device.Node.1.IoTCapability.2.BinarySensor.Value", "true");
    assert_eq!(
        sets(&out),
        vec![
            (
                "proto::room-102".into(),
                r#"Device.Node.2.IoTCapability.[Name=="r102-light-dim"].LevelControl.Value"#.into(),
                "70".into()
            ),
            (
                "proto::room-102".into(),
                r#"Device.Node.2.IoTCapability.[Name=="r102-light-sw"].BinaryControl.Value"#.into(),
                "true".into()
            ),
        ]
    );
    h.ack_all(&out);
    let out = h.vc("proto::room-102", "Device.Node.1.IoTCapability.2.BinarySensor.Value", "false");
    assert_eq!(
        sets(&out),
        vec![(
            "proto::room-102".into(),
            r#"Device.Node.2.IoTCapability.[Name=="r102-light-sw"].BinaryControl.Value"#.into(),
            "false".into()
        )]
    );
    // The meeting-room ceiling sensor switches its room controller's light, debounced.
    h.ack_all(&out);
    assert!(
        sets(&h.vc("proto::occupancy-301", "Device.IoTCapability.1.BinarySensor.Value", "true")).is_empty()
    );
    let out = h.advance(5 * SEC);
    assert_eq!(
        sets(&out),
        vec![(
            "proto::room-301".into(),
            "Device.Node.2.IoTCapability.1.BinaryControl.Value".into(),
            "true".into()
        )]
    );
}

#[test]
fn a_presence_change_fires_light_follows_presence_once() {
    // `light-follows-presence` names the sensor, `after-hours-presence` numbers
    // it: two subscriptions on the room controller select the same
    // parameter, and the Agent sends the change on both.
    let mut h = building();
    let morning = h.advance_to(T0 + 9 * HOUR);
    h.ack_all(&morning);
    let (subs, _) = h.engine.subscriptions_for("proto::room-101");
    let sensor = "Device.Node.1.IoTCapability.2.BinarySensor.Value";
    let carrying: Vec<String> = subs
        .iter()
        .filter(|s| {
            s.reference == sensor
                || s.reference == r#"Device.Node.1.IoTCapability.[Name=="r101-presence"].BinarySensor.Value"#
        })
        .map(|s| s.id.clone())
        .collect();
    assert_eq!(carrying.len(), 2, "{subs:#?}");
    let mut out = Vec::new();
    for id in &carrying {
        out.extend(h.vc_sub("proto::room-101", id, sensor, "true"));
    }
    assert_eq!(sets(&out).len(), 2, "dimmer and switch, once each: {:?}", sets(&out));
    assert_eq!(h.explain("light-follows-presence").counts.evaluations, 1);
    assert_eq!(h.explain("after-hours-presence").counts.evaluations, 1);
}

#[test]
fn hvac_setback_when_a_window_stays_open() {
    let mut h = building();
    let morning = h.advance_to(T0 + 9 * HOUR);
    h.ack_all(&morning);
    let window = "Device.Node.4.IoTCapability.1.BinarySensor.Value";
    h.vc("proto::room-101", window, "true");
    h.advance(MIN);
    assert!(
        requests(&h.vc("proto::room-101", window, "false")).is_empty(),
        "closed within 2 minutes: nothing"
    );
    h.vc("proto::room-101", window, "true");
    let out = h.advance(2 * MIN);
    assert_eq!(
        sets(&out),
        vec![(
            "proto::room-101".into(),
            "Device.Node.3.IoTCapability.2.EnumControl.Value".into(),
            "Off".into()
        )]
    );
    assert_eq!(publishes(&out)[0].fields["reason"], "window open");
    h.ack_all(&out);
    let out = h.vc("proto::room-101", window, "false");
    assert_eq!(
        sets(&out),
        vec![(
            "proto::room-101".into(),
            "Device.Node.3.IoTCapability.2.EnumControl.Value".into(),
            "Auto".into()
        )]
    );
}

#[test]
fn temperature_alarm_after_ten_minutes_then_cooling() {
    let mut h = building();
    let morning = h.advance_to(T0 + 9 * HOUR);
    assert_eq!(sets(&morning).len(), 2, "day mode in both rooms");
    h.ack_all(&morning);
    let temp = "Device.Node.1.IoTCapability.1.LevelSensor.Value";
    h.vc("proto::room-101", temp, "26.4");
    h.advance(6 * MIN);
    h.vc("proto::room-101", temp, "25.6"); // inside the band: still "too hot"
    assert!(publishes(&h.advance(3 * MIN)).is_empty());
    let out = h.advance(MIN);
    let p = publishes(&out);
    assert_eq!(p[0].name, "room-too-hot");
    assert_eq!((p[0].fields["room"].as_str(), p[0].fields["temperature"].as_str()), ("101", "25.6"));
    // The signal made cool-down-hot-room step the setpoint down, following the command.
    let ops = operates(&out);
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].1, "Device.Node.3.IoTCapability.1.LevelControl.StepDown()");
    let req = requests(&out)[0].clone();
    h.respond(&req, success(&req));
    let done = Notify::operation_complete(
        "",
        false,
        "Device.Node.3.IoTCapability.1.LevelControl.",
        "StepDown()",
        ops[0].2.clone(),
        Vec::<(String, String)>::new(),
    );
    assert_eq!(published_names(&h.notify("proto::room-101", done)), vec!["setpoint-lowered"]);
    // Back to normal below 25.
    assert_eq!(published_names(&h.vc("proto::room-101", temp, "24.5")), vec!["room-temperature-normal"]);
    // With the HVAC off, cooling is not attempted.
    h.vc("proto::room-102", "Device.Node.3.IoTCapability.2.EnumControl.Value", "Off");
    h.vc("proto::room-102", temp, "27");
    let out = h.advance(10 * MIN);
    assert_eq!(published_names(&out), vec!["room-too-hot"]);
    assert!(operates(&out).is_empty());
}

#[test]
fn night_mode_on_schedule() {
    let mut h = building();
    let morning = h.advance_to(T0 + 9 * HOUR);
    h.ack_all(&morning);
    // Monday 22:00: every connected room.
    let out = h.advance_to(T0 + 22 * HOUR);
    let s = sets(&out);
    assert_eq!(s.len(), 4);
    assert!(s.contains(&(
        "proto::room-101".into(),
        "Device.Node.3.IoTCapability.1.LevelControl.Value".into(),
        "17".into()
    )));
    assert!(s.contains(&(
        "proto::room-102".into(),
        "Device.Node.2.IoTCapability.1.BinaryControl.Value".into(),
        "false".into()
    )));
    assert_eq!(published_names(&out), vec!["night-mode"]);
    h.ack_all(&out);
    // Someone in room 101 at 23:00: security is told, once per 15 minutes.
    h.advance_to(T0 + 23 * HOUR);
    let out = h.vc("proto::room-101", "Device.Node.1.IoTCapability.2.BinarySensor.Value", "true");
    assert!(published_names(&out).contains(&"after-hours-presence".to_string()));
    h.ack_all(&out);
    let out = h.vc("proto::room-102", "Device.Node.1.IoTCapability.2.BinarySensor.Value", "true");
    assert!(!published_names(&out).contains(&"after-hours-presence".to_string()));
    h.ack_all(&out);
    // Tuesday 06:30: day setpoint.
    let out = h.advance_to(T0 + 24 * HOUR + 6 * HOUR + 30 * MIN);
    assert_eq!(sets(&out).len(), 2);
    assert!(sets(&out).iter().all(|(_, p, v)| p.ends_with("LevelControl.Value") && v == "21"));
    // Saturday: night mode at 23:00, not 22:00.
    h.ack_all(&out);
    for day in 1..=4 {
        let out = h.advance_to(T0 + day * 24 * HOUR + 22 * HOUR);
        assert_eq!(published_names(&out), vec!["night-mode"]);
        h.ack_all(&out);
        if day < 4 {
            let out = h.advance_to(T0 + (day + 1) * 24 * HOUR + 6 * HOUR + 30 * MIN);
            h.ack_all(&out);
        }
    }
    let sat = T0 + 5 * 24 * HOUR;
    let out = h.advance_to(sat + 22 * HOUR);
    assert!(!published_names(&out).contains(&"night-mode".to_string()));
    h.ack_all(&out);
    assert!(published_names(&h.advance_to(sat + 23 * HOUR)).contains(&"night-mode".to_string()));
}

#[test]
fn device_lifecycle_events() {
    let mut h = building();
    let boot = Notify::event(
        "",
        false,
        "Device.",
        "Boot!",
        [("FirmwareUpdated", "true"), ("Cause", "RemoteReboot")],
    );
    let out = h.notify("proto::room-101", boot);
    let p = publishes(&out);
    assert_eq!((p[0].name.as_str(), p[0].fields["cause"].as_str()), ("firmware-updated", "RemoteReboot"));
    let joined = Notify::object_creation("", false, "Device.ProxiedDevice.7.", [("Alias", "zwave-7")]);
    assert_eq!(publishes(&h.notify("proto::gateway-1", joined))[0].fields["name"], "zwave-7");
    let left = Notify::object_deletion("", false, "Device.ProxiedDevice.7.");
    assert_eq!(published_names(&h.notify("proto::gateway-1", left)), vec!["device-left"]);
    assert_eq!(published_names(&h.offline("proto::room-101")), vec!["agent-offline"]);
    assert_eq!(published_names(&h.online("proto::room-101")), vec!["agent-online"]);
}
