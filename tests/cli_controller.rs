//! The Controller commands end to end: the `uspmesh` binary against the
//! Agents of a running `uspmesh sim`, through a real MQTT broker
//! (mosquitto on a free port), checking output, `--json` documents and
//! exit statuses.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod support;

use std::time::Duration;

use predicates::prelude::*;
use serde_json::Value;
use support::{Broker, Sim, ask, spawn, terminate, uspmesh, wait_exit, wait_for_line};

const ROOM: &str = "proto::room-101";
const SETPOINT: &str = "Device.Node.3.IoTCapability.1.LevelControl.Value";

fn building() -> (Broker, Sim) {
    let broker = Broker::start();
    let sim = Sim::start(&broker.url(), &["--rooms", "2", "--seed", "7"]);
    (broker, sim)
}

fn json(output: &[u8]) -> Value {
    serde_json::from_slice(output)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(output)))
}

#[test]
fn get_reads_the_room_model() {
    let (broker, _sim) = building();
    ask(&broker.url(), "get", ROOM)
        .args(["Device.Node.*.IoTCapability.*.Name", "Device.Node.1.IoTCapability.1.LevelSensor.Unit"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Device.Node.1.IoTCapability.1.Name = r101-temp\n"))
        .stdout(predicate::str::contains("Device.Node.2.IoTCapability.2.Name = r101-light-dim\n"))
        .stdout(predicate::str::contains("Device.Node.4.IoTCapability.1.Name = r101-window\n"))
        .stdout(predicate::str::contains("Device.Node.1.IoTCapability.1.LevelSensor.Unit = degC\n"));

    // --max-depth 1 on a node: its own parameters, not its capabilities'.
    let out = ask(&broker.url(), "get", ROOM).args(["Device.Node.1.", "--max-depth", "1"]).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("Device.Node.1.Alias = r101-sensor"), "{text}");
    assert!(!text.contains("LevelSensor"), "{text}");

    let out = ask(&broker.url(), "get", ROOM)
        .args(["--json", "Device.Node.1.IoTCapability.[Name==\"r101-temp\"].LevelSensor.Value"])
        .assert()
        .success();
    let doc = json(&out.get_output().stdout);
    let value = &doc["results"][0]["params"]["Device.Node.1.IoTCapability.1.LevelSensor.Value"];
    let reading: f64 = value.as_str().unwrap().parse().unwrap();
    assert!((15.0..30.0).contains(&reading), "{reading}");
}

#[test]
fn a_usp_error_exits_1_with_its_code() {
    let (broker, _sim) = building();
    ask(&broker.url(), "get", ROOM)
        .args(["Device.NoSuchThing.", "Device.DeviceInfo.SerialNumber"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Device.DeviceInfo.SerialNumber = SIM-101"))
        .stderr(predicate::str::contains("error: 7026 Invalid path: Device.NoSuchThing."));
    let out = ask(&broker.url(), "get", ROOM).args(["--json", "Device.NoSuchThing."]).assert().code(1);
    let doc = json(&out.get_output().stdout);
    assert_eq!(doc["results"][0]["error"]["code"], 7026);
    assert_eq!(doc["results"][0]["error"]["name"], "Invalid path");
}

#[test]
fn set_changes_values_and_refuses_what_is_out_of_range() {
    let (broker, _sim) = building();
    let dim = r#"Device.Node.2.IoTCapability.[Name=="r101-light-dim"].LevelControl.Value=70"#;
    ask(&broker.url(), "set", ROOM)
        .args([dim, "Device.Node.2.IoTCapability.1.BinaryControl.Value=true"])
        .assert()
        .success()
        .stdout("Device.Node.2.IoTCapability.2.LevelControl.Value = 70\nDevice.Node.2.IoTCapability.1.BinaryControl.Value = true\n");
    ask(&broker.url(), "get", ROOM)
        .arg("Device.Node.2.IoTCapability.2.LevelControl.Value")
        .assert()
        .success()
        .stdout("Device.Node.2.IoTCapability.2.LevelControl.Value = 70\n");

    // All or nothing: the Agent answers with an Error (7012 on the value).
    ask(&broker.url(), "set", ROOM)
        .arg(format!("{SETPOINT}=40"))
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("7012 Invalid value"))
        .stderr(predicate::str::contains(SETPOINT));
    // With --allow-partial the failure is per object, in the JSON document.
    let out = ask(&broker.url(), "set", ROOM)
        .args(["--allow-partial", "--json", &format!("{SETPOINT}=40")])
        .assert()
        .code(1);
    let doc = json(&out.get_output().stdout);
    assert_eq!(doc["results"][0]["errors"][0]["code"], 7012);
    assert_eq!(doc["results"][0]["errors"][0]["path"], SETPOINT);
    // Message-level errors are a JSON document too.
    let out = ask(&broker.url(), "set", ROOM).args(["--json", &format!("{SETPOINT}=40")]).assert().code(1);
    assert_eq!(json(&out.get_output().stdout)["error"]["code"], 7021);
}

#[test]
fn add_lists_and_deletes_a_row() {
    let (broker, _sim) = building();
    ask(&broker.url(), "add", ROOM)
        .args([
            "Device.LocalAgent.Subscription.",
            "ID=cli-test",
            "Enable=true",
            "NotifType=ValueChange",
            &format!("ReferenceList={SETPOINT}"),
        ])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"^Device\.LocalAgent\.Subscription\.\d+\.\n").unwrap())
        .stdout(predicate::str::contains("  ID = cli-test\n"));
    let out = ask(&broker.url(), "instances", ROOM)
        .args(["--json", "Device.LocalAgent.Subscription."])
        .assert()
        .success();
    let doc = json(&out.get_output().stdout);
    let rows = doc["results"][0]["instances"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["unique_keys"]["ID"], "cli-test");
    let row = rows[0]["path"].as_str().unwrap().to_owned();

    ask(&broker.url(), "delete", ROOM)
        .arg(r#"Device.LocalAgent.Subscription.[ID=="cli-test"]."#)
        .assert()
        .success()
        .stdout(format!("{row}\n"));
    ask(&broker.url(), "instances", ROOM)
        .arg("Device.LocalAgent.Subscription.")
        .assert()
        .success()
        .stdout("");

    // Rows of the IoT tables are the Agent's: 7019.
    ask(&broker.url(), "add", ROOM)
        .args(["Device.Node.", "Alias=x"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("error: 70"));
}

#[test]
fn operate_runs_async_commands_and_waits_for_them() {
    let (broker, _sim) = building();
    let toggle = "Device.Node.2.IoTCapability.1.BinaryControl.Toggle()";
    let switch = "Device.Node.2.IoTCapability.1.BinaryControl.Value";
    ask(&broker.url(), "operate", ROOM)
        .arg(toggle)
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"^Device\.Node\.2\.IoTCapability\.1\.BinaryControl\.Toggle\(\) started: Device\.LocalAgent\.Request\.\d+\.\n$").unwrap());
    ask(&broker.url(), "get", ROOM).arg(switch).assert().success().stdout(format!("{switch} = true\n"));
    ask(&broker.url(), "operate", ROOM)
        .args([toggle, "--wait"])
        .assert()
        .success()
        .stdout(format!("{toggle} done\n"));
    ask(&broker.url(), "get", ROOM).arg(switch).assert().success().stdout(format!("{switch} = false\n"));

    // A search path, several matches, JSON, our own command key.
    let out = ask(&broker.url(), "operate", ROOM)
        .args([
            r#"Device.Node.3.IoTCapability.[Name=="r101-setpoint"].LevelControl.StepUp()"#,
            "--wait",
            "--json",
            "--command-key",
            "k-42",
        ])
        .assert()
        .success();
    let doc = json(&out.get_output().stdout);
    assert_eq!(doc["command_key"], "k-42");
    assert_eq!(doc["results"][0]["status"], "done");
    assert_eq!(doc["results"][0]["command"], "Device.Node.3.IoTCapability.1.LevelControl.StepUp()");
    ask(&broker.url(), "get", ROOM).arg(SETPOINT).assert().success().stdout(format!("{SETPOINT} = 21.5\n"));
    // The --wait subscription is gone.
    ask(&broker.url(), "instances", ROOM)
        .arg("Device.LocalAgent.Subscription.")
        .assert()
        .success()
        .stdout("");

    // A synchronous command with a failure: Reboot is fine, FactoryReset
    // is not implemented by the simulated room.
    ask(&broker.url(), "operate", ROOM)
        .arg("Device.Reboot()")
        .assert()
        .success()
        .stdout("Device.Reboot() done\n");
    ask(&broker.url(), "operate", ROOM)
        .arg("Device.FactoryReset()")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("error: 7022 Command failure: Device.FactoryReset()"));
}

#[test]
fn instances_supported_dm_and_protocol() {
    let (broker, _sim) = building();
    ask(&broker.url(), "instances", ROOM)
        .args(["Device.Node.", "--first-level-only"])
        .assert()
        .success()
        .stdout("Device.Node.1.  Alias=r101-sensor\nDevice.Node.2.  Alias=r101-light\nDevice.Node.3.  Alias=r101-hvac\nDevice.Node.4.  Alias=r101-window\n");
    ask(&broker.url(), "supported-dm", ROOM)
        .arg("Device.Node.{i}.IoTCapability.{i}.BinaryControl.")
        .assert()
        .success()
        .stdout(predicate::str::contains("Device.Node.{i}.IoTCapability.{i}.BinaryControl.  (read-only)"))
        .stdout(predicate::str::contains("  Value  boolean  read-write\n"))
        .stdout(predicate::str::contains("  Toggle()  async\n"));
    let out = ask(&broker.url(), "supported-dm", ROOM).args(["--json", "Device."]).assert().success();
    let doc = json(&out.get_output().stdout);
    let objects = doc["results"][0]["objects"].as_array().unwrap();
    let root = objects.iter().find(|o| o["path"] == "Device.").unwrap();
    assert!(root["events"].as_array().unwrap().iter().any(|e| e["name"] == "Boot!"));
    assert!(objects.iter().any(|o| o["path"] == "Device.LocalAgent.Subscription.{i}."));
    ask(&broker.url(), "supported-protocol", ROOM).assert().success().stdout("1.3,1.4\n");
    let out = ask(&broker.url(), "supported-protocol", ROOM).arg("--json").assert().success();
    assert_eq!(json(&out.get_output().stdout)["versions"], serde_json::json!(["1.3", "1.4"]));
}

#[test]
fn watch_prints_notifications_and_removes_its_subscription() {
    let (broker, _sim) = building();
    let url = broker.url();
    let (mut watcher, stdout, stderr) =
        spawn(&["watch", "--broker", &url, "--to", ROOM, "--count", "2", "--json", SETPOINT]);
    wait_for_line(&stderr, "watching ValueChange", Duration::from_secs(30)).expect("the watch subscribed");
    for value in ["22", "23"] {
        ask(&url, "set", ROOM).arg(format!("{SETPOINT}={value}")).assert().success();
    }
    let status = wait_exit(&mut watcher, Duration::from_secs(30)).expect("watch --count 2 ends");
    assert!(status.success());
    let lines: Vec<Value> = stdout.try_iter().map(|l| serde_json::from_str(&l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (line, value) in lines.iter().zip(["22", "23"]) {
        assert_eq!(line["type"], "ValueChange");
        assert_eq!(line["from"], ROOM);
        assert_eq!(line["path"], SETPOINT);
        assert_eq!(line["value"], value);
        assert!(line["subscription_id"].as_str().unwrap().starts_with("uspmesh-watch-"));
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
    }
    ask(&url, "instances", ROOM).arg("Device.LocalAgent.Subscription.").assert().success().stdout("");
}

#[test]
fn watch_stops_on_sigterm_and_cleans_up() {
    let (broker, _sim) = building();
    let url = broker.url();
    let (mut watcher, stdout, stderr) =
        spawn(&["watch", "--broker", &url, "--to", ROOM, "--notif", "Event", "Device.Boot!"]);
    wait_for_line(&stderr, "watching Event", Duration::from_secs(30)).expect("the watch subscribed");
    ask(&url, "instances", ROOM)
        .arg("Device.LocalAgent.Subscription.")
        .assert()
        .success()
        .stdout(predicate::str::contains("ID=uspmesh-watch-"));
    // An event, readable.
    ask(&url, "operate", ROOM).arg("Device.Reboot()").assert().success();
    let line = wait_for_line(&stdout, "Event", Duration::from_secs(30)).expect("Boot! arrives");
    assert!(line.contains(" proto::room-101 Event Device.Boot! "), "{line}");
    assert!(line.contains("Cause=RemoteReboot"), "{line}");
    terminate(&watcher);
    let status = wait_exit(&mut watcher, Duration::from_secs(30)).expect("watch stops on SIGTERM");
    assert!(status.success(), "{status:?}");
    ask(&url, "instances", ROOM).arg("Device.LocalAgent.Subscription.").assert().success().stdout("");
}

#[test]
fn other_controllers_are_untrusted() {
    let (broker, _sim) = building();
    ask(&broker.url(), "get", ROOM)
        .args(["--from", "proto::visitor", "Device.Node.1.IoTCapability.1.Name"])
        .assert()
        .success()
        .stdout("Device.Node.1.IoTCapability.1.Name = r101-temp\n");
    ask(&broker.url(), "set", ROOM)
        .args(["--from", "proto::visitor", &format!("{SETPOINT}=22")])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("7006 Permission denied"));
    ask(&broker.url(), "operate", ROOM)
        .args(["--from", "proto::visitor", "Device.Reboot()"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("7006 Permission denied"));
}

#[test]
fn extra_controllers_are_trusted() {
    let broker = Broker::start();
    let _sim = Sim::start(&broker.url(), &["--rooms", "1", "--controller", "proto::ops"]);
    ask(&broker.url(), "set", ROOM)
        .args(["--from", "proto::ops", &format!("{SETPOINT}=22")])
        .assert()
        .success()
        .stdout(format!("{SETPOINT} = 22\n"));
}

#[test]
fn mqtt_3_1_1_controllers_reach_mqtt_5_agents() {
    let (broker, _sim) = building();
    ask(&broker.url(), "get", "proto::room-102")
        .args(["--mqtt-version", "3.1.1", "Device.LocalAgent.EndpointID"])
        .assert()
        .success()
        .stdout("Device.LocalAgent.EndpointID = proto::room-102\n");
}

#[test]
fn unreachable_broker_or_agent_exits_3() {
    let port = support::free_port();
    for url in [format!("mqtt://127.0.0.1:{port}"), format!("ws://127.0.0.1:{port}/usp")] {
        uspmesh()
            .args(["get", "--broker", &url, "--to", ROOM, "Device."])
            .assert()
            .code(3)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains(format!("cannot connect to {url}")))
            .stderr(predicate::str::contains("check that the server runs there"));
    }
    let broker = Broker::start();
    ask(&broker.url(), "get", "proto::room-999")
        .args(["--timeout", "500ms", "Device."])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("no answer from proto::room-999 within 500ms"))
        .stderr(predicate::str::contains("check that the Agent is connected"));
}

#[test]
fn bad_command_lines_exit_2() {
    let cases: &[&[&str]] = &[
        &["get"],
        &["get", "--to", ROOM],
        &["get", "--to", "room-101", "Device."],
        &["get", "--to", ROOM, "--timeout", "soon", "Device."],
        &["get", "--to", ROOM, "--broker", "localhost:1883", "Device."],
        &["get", "--to", ROOM, "--broker", "mqtt://h", "--ca", "ca.pem", "Device."],
        &["get", "--to", ROOM, "--broker", "mqtts://h", "--cert", "c.pem", "Device."],
        &["get", "--to", ROOM, "--no-such-flag", "Device."],
        &["set", "--to", ROOM, "Device.X.Y"],
        &["add", "--to", ROOM, "Device.LocalAgent.Subscription", "ID=x"],
        &["delete", "--to", ROOM, "Device.LocalAgent.Subscription.1"],
        &["operate", "--to", ROOM, "Device.Reboot"],
        &["watch", "--to", ROOM, "--notif", "Sometimes", "Device."],
        &["sim", "--rooms", "0"],
        &["sim", "--ws", "--broker", "mqtt://127.0.0.1:1"],
        &["sim", "--site", "a b"],
        &["frobnicate"],
    ];
    for args in cases {
        uspmesh()
            .args(*args)
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::is_empty().not());
    }
}

#[test]
fn help_texts_are_complete() {
    let top = uspmesh().arg("--help").assert().success();
    let text = String::from_utf8(top.get_output().stdout.clone()).unwrap();
    for command in [
        "get",
        "set",
        "add",
        "delete",
        "operate",
        "instances",
        "supported-dm",
        "supported-protocol",
        "watch",
        "sim",
        "decode",
        "encode",
    ] {
        assert!(text.contains(&format!("  {command}")), "{command} missing from:\n{text}");
    }
    assert!(text.contains("Exit status"), "{text}");
    let shared = [
        "--to <EID>",
        "--from <EID>",
        "--timeout <DURATION>",
        "--json",
        "--broker <URL>",
        "--mqtt-version",
        "--username",
        "--password",
        "--ca <FILE>",
        "--cert <FILE>",
        "--key <FILE>",
    ];
    let specific: &[(&str, &[&str])] = &[
        ("get", &["--max-depth <N>", "<PATH>..."]),
        ("set", &["--allow-partial", "<SETTING>..."]),
        ("add", &["<TABLE>", "--allow-partial"]),
        ("delete", &["<ROW>..."]),
        ("operate", &["--wait", "--arg <NAME=VALUE>", "--command-key <KEY>"]),
        ("instances", &["--first-level-only"]),
        ("supported-dm", &["--first-level-only", "--no-params", "--no-commands", "--no-events"]),
        ("supported-protocol", &["--versions <VERSIONS>"]),
        (
            "watch",
            &[
                "--notif <TYPE>",
                "--count <N>",
                "--for <DURATION>",
                "--ttl <SECONDS>",
                "ValueChange",
                "OperationComplete",
            ],
        ),
    ];
    for (command, options) in specific {
        let out = uspmesh().args([command, "--help"]).assert().success();
        let help = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        for option in shared.iter().chain(options.iter()) {
            assert!(help.contains(option), "`{command} --help` lacks {option}:\n{help}");
        }
    }
    let out = uspmesh().args(["sim", "--help"]).assert().success();
    let help = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for option in [
        "--rooms <N>",
        "--ws",
        "--controller <EID>",
        "--site <SITE>",
        "--seed <N>",
        "--speed",
        "--churn",
        "--for",
        "proto::room-101",
        "self::<site>-rules",
        "self::uspmesh-cli",
    ] {
        assert!(help.contains(option), "`sim --help` lacks {option}:\n{help}");
    }
}
