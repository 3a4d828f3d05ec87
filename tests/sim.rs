//! `uspmesh sim` end to end: rooms that answer with the IoT model, values
//! that change by themselves and reach a watcher, determinism from
//! `--seed`, announcement to the rules engine and a clean shutdown, and
//! the exit status when the broker is unreachable.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod support;

use std::{
    process::{Command as Process, Stdio},
    time::Duration,
};

use predicates::prelude::*;
use serde_json::Value;
use support::{Broker, Sim, ask, uspmesh};

#[test]
fn rooms_answer_with_the_iot_model() {
    let broker = Broker::start();
    let sim = Sim::start(&broker.url(), &["--rooms", "5", "--rooms-per-floor", "2"]);
    assert!(sim.ready.starts_with("5 rooms connected in "), "{}", sim.ready);
    assert!(sim.ready.contains("(proto::room-101 … proto::room-301)"), "{}", sim.ready);
    assert!(sim.ready.contains("KiB per room"), "{}", sim.ready);
    for room in [101, 102, 201, 202, 301] {
        let out = ask(&broker.url(), "get", &format!("proto::room-{room}"))
            .args([
                "--json",
                "Device.Node.*.IoTCapability.*.Name",
                "Device.Node.*.Type",
                "Device.DeviceInfo.SerialNumber",
            ])
            .assert()
            .success();
        let doc: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        let names = &doc["results"][0]["params"];
        for (path, name) in [
            ("Device.Node.1.IoTCapability.1.Name", "temp"),
            ("Device.Node.1.IoTCapability.2.Name", "presence"),
            ("Device.Node.1.IoTCapability.3.Name", "humidity"),
            ("Device.Node.2.IoTCapability.1.Name", "light-sw"),
            ("Device.Node.2.IoTCapability.2.Name", "light-dim"),
            ("Device.Node.3.IoTCapability.1.Name", "setpoint"),
            ("Device.Node.3.IoTCapability.2.Name", "hvac-mode"),
            ("Device.Node.4.IoTCapability.1.Name", "window"),
        ] {
            assert_eq!(names[path], format!("r{room}-{name}"), "{path}");
        }
        let types = &doc["results"][1]["params"];
        assert_eq!(
            [1, 2, 3, 4].map(|n| types[format!("Device.Node.{n}.Type")].as_str().unwrap().to_owned()),
            ["Sensor", "Light", "HVAC", "Sensor"]
        );
        assert_eq!(doc["results"][2]["params"]["Device.DeviceInfo.SerialNumber"], format!("SIM-{room}"));
    }
    // The classes and units of §8.7.
    ask(&broker.url(), "get", "proto::room-101")
        .args([
            "Device.Node.1.IoTCapability.2.BinarySensor.Type",
            "Device.Node.1.IoTCapability.2.BinarySensor.HoldTime",
            "Device.Node.3.IoTCapability.2.EnumControl.ValidValues",
            "Device.Node.4.IoTCapability.1.BinarySensor.Type",
        ])
        .assert()
        .success()
        .stdout(
            "Device.Node.1.IoTCapability.2.BinarySensor.Type = MotionDetected\n\
             Device.Node.1.IoTCapability.2.BinarySensor.HoldTime = 300000\n\
             Device.Node.3.IoTCapability.2.EnumControl.ValidValues = Off,Heat,Cool,Auto\n\
             Device.Node.4.IoTCapability.1.BinarySensor.Type = WindowOpen\n",
        );
}

#[test]
fn a_simulated_change_reaches_a_watcher() {
    let broker = Broker::start();
    // 100 simulated seconds every 100 ms: temperatures, humidity and
    // presence move within a second or two.
    let _sim =
        Sim::start(&broker.url(), &["--rooms", "3", "--speed", "1000", "--tick", "100ms", "--seed", "3"]);
    let out = ask(&broker.url(), "watch", "proto::room-102")
        .args([
            "--json",
            "--count",
            "1",
            "Device.Node.1.IoTCapability.*.LevelSensor.Value",
            "Device.Node.1.IoTCapability.2.BinarySensor.Value",
            "Device.Node.4.IoTCapability.1.BinarySensor.Value",
        ])
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
    let line: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(line["type"], "ValueChange");
    assert_eq!(line["from"], "proto::room-102");
    let path = line["path"].as_str().unwrap();
    assert!(path.starts_with("Device.Node.1.IoTCapability.") || path.starts_with("Device.Node.4."), "{path}");
    let value = line["value"].as_str().unwrap();
    assert!(value.parse::<f64>().is_ok() || value == "true" || value == "false", "{value}");
}

/// The first readings of rooms 101–103 (temperature and humidity).
fn readings(broker: &str, seed: &str) -> Vec<String> {
    // A tick of an hour: nothing moves while we read.
    let sim = Sim::start(broker, &["--rooms", "3", "--seed", seed, "--tick", "1h"]);
    assert!(sim.ready.ends_with(&format!("seed {seed}")), "{}", sim.ready);
    let mut values = Vec::new();
    for room in ["proto::room-101", "proto::room-102", "proto::room-103"] {
        let out = ask(broker, "get", room)
            .args([
                "Device.Node.1.IoTCapability.1.LevelSensor.Value",
                "Device.Node.1.IoTCapability.3.LevelSensor.Value",
            ])
            .assert()
            .success();
        values.push(String::from_utf8(out.get_output().stdout.clone()).unwrap());
    }
    let (status, _) = sim.stop();
    assert!(status.success());
    values
}

#[test]
fn the_same_seed_builds_the_same_building() {
    let broker = Broker::start();
    let first = readings(&broker.url(), "42");
    assert_eq!(readings(&broker.url(), "42"), first);
    assert_ne!(readings(&broker.url(), "43"), first);
}

#[test]
fn rooms_announce_themselves_and_leave_cleanly() {
    let broker = Broker::start();
    let topic = "usp/controller/self::site1-rules";
    // What reaches the rules engine's topic, one hexadecimal line per
    // message.
    let mut listener = Process::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &broker.port().to_string(), "-t", topic, "-F", "%x"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto_sub (apt-get install -y mosquitto-clients)");
    let lines = support::lines(listener.stdout.take().unwrap());
    // It is subscribed once a probe published to the topic comes back.
    let probe = "70726f6265"; // "probe"
    let subscribed = (0..50).any(|_| {
        Process::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &broker.port().to_string(), "-t", topic, "-m", "probe"])
            .status()
            .unwrap();
        support::wait_for_line(&lines, probe, Duration::from_millis(200)).is_some()
    });
    assert!(subscribed, "mosquitto_sub subscribed");

    let sim = Sim::start(&broker.url(), &["--rooms", "2", "--site", "site1"]);
    let (status, rest) = sim.stop();
    assert!(status.success(), "{status:?}");
    assert!(
        rest.iter().any(|l| l.starts_with("stopped after ") && l.contains("2 rooms disconnected")),
        "{rest:?}"
    );

    // Two announcements and two goodbyes, decoded by `uspmesh decode`.
    let mut decoded = Vec::new();
    while decoded.len() < 4 {
        let hex = support::wait_for_line(&lines, "", Duration::from_secs(10)).expect("four records");
        if hex == probe {
            continue; // a late echo of one of the probes
        }
        let out = uspmesh().args(["decode", "--hex"]).write_stdin(hex).assert().success();
        decoded.push(String::from_utf8(out.get_output().stdout.clone()).unwrap());
    }
    let _ = listener.kill();
    let _ = listener.wait();
    for room in ["proto::room-101", "proto::room-102"] {
        let from = |kind: &str| {
            decoded
                .iter()
                .any(|d| d.starts_with(&format!("USP 1.4 {kind} record, {room} → self::site1-rules")))
        };
        assert!(from("mqtt_connect"), "{room} announced itself: {decoded:?}");
        assert!(from("disconnect"), "{room} said goodbye: {decoded:?}");
    }
}

#[test]
fn an_unreachable_broker_exits_3() {
    let port = support::free_port();
    uspmesh()
        .args(["sim", "--rooms", "3", "--broker", &format!("mqtt://127.0.0.1:{port}")])
        .assert()
        .code(3)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("proto::room-101 cannot connect to mqtt://127.0.0.1:"))
        .stderr(predicate::str::contains("check that the server runs there"));
}
