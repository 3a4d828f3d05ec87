//! `uspmesh serve` end to end: the binary started with a configuration
//! file on free loopback ports, `uspmesh sim` Agents connected to it over
//! MQTT, and the CLI talking to both — USP requests through the embedded
//! broker, `endpoints` and `rules …` through the admin API, `/metrics`
//! over HTTP; then SIGTERM and the state the rules engine left on disk.
//! Also `uspmesh demo --headless`, and the errors and exit statuses of bad
//! flags and bad configuration files.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod support;

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    process::Child,
    sync::mpsc,
    time::Duration,
};

use predicates::prelude::*;
use serde_json::Value;
use support::{Sim, free_port, spawn, terminate, uspmesh, wait_exit, wait_for_line};

const ROOM: &str = "proto::room-101";

/// A running `uspmesh serve`, killed on drop (tests that stop it send
/// SIGTERM first).
struct Serve {
    child: Child,
    mqtt: u16,
    ws: u16,
    metrics: u16,
    admin: u16,
    /// Standard error (the log).
    log: mpsc::Receiver<String>,
    dir: tempfile::TempDir,
}

impl Serve {
    /// Starts `uspmesh serve` with the example rules of `deploy/rules/` in
    /// a directory of its own, rule state in `rules.redb` beside them, and
    /// `extra` appended to its configuration.
    fn start(extra: &str) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules");
        std::fs::create_dir(&rules).unwrap();
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rules");
        for entry in std::fs::read_dir(examples).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                std::fs::copy(&path, rules.join(path.file_name().unwrap())).unwrap();
            }
        }
        let (mqtt, ws, metrics, admin) = (free_port(), free_port(), free_port(), free_port());
        let config = dir.path().join("uspmesh.toml");
        std::fs::write(
            &config,
            format!(
                "[[broker.mqtt]]\nbind = \"127.0.0.1:{mqtt}\"\n[[broker.websocket]]\nbind = \"127.0.0.1:{ws}\"\n\
                 [rules]\ndir = {rules:?}\nstate = {state:?}\ntimezone = \"UTC\"\n\
                 [metrics]\nbind = \"127.0.0.1:{metrics}\"\n[admin]\nbind = \"127.0.0.1:{admin}\"\n{extra}",
                rules = rules.display().to_string(),
                state = dir.path().join("rules.redb").display().to_string(),
            ),
        )
        .unwrap();
        let (mut child, _out, log) = spawn(&["serve", "--config", config.to_str().unwrap()]);
        if wait_for_line(&log, "uspmesh serving", Duration::from_secs(30)).is_none() {
            let _ = child.kill();
            panic!("serve did not start: {}", log.try_iter().collect::<Vec<_>>().join("\n"));
        }
        Serve { child, mqtt, ws, metrics, admin, log, dir }
    }

    fn broker(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.mqtt)
    }

    fn admin(&self) -> String {
        format!("127.0.0.1:{}", self.admin)
    }

    fn rules_dir(&self) -> PathBuf {
        self.dir.path().join("rules")
    }

    /// A building of `rooms` rooms against this appliance, fast enough for
    /// rooms to fill and empty within seconds.
    fn sim(&self, rooms: &str) -> Sim {
        Sim::start(&self.broker(), &["--rooms", rooms, "--seed", "5", "--speed", "600", "--tick", "100ms"])
    }

    /// `uspmesh <args> --admin <ours>`.
    fn admin_cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = uspmesh();
        cmd.args(args).args(["--admin", &self.admin()]);
        cmd
    }

    /// `uspmesh rules status --json`, parsed.
    fn rules_status(&self) -> Value {
        let out = self.admin_cmd(&["rules", "status", "--json"]).assert().success();
        serde_json::from_slice(&out.get_output().stdout).unwrap()
    }

    /// Waits (polling the admin API, at most 60 s) until `f` holds for
    /// the rules status.
    fn until_status(&self, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..600 {
            let status = self.rules_status();
            if f(&status) {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("rules status never showed {what}: {}", self.rules_status());
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` over a plain TCP socket (HTTP/1.0, so the server closes
/// when done); returns the status line and the body.
fn http_get(port: u16, path: &str) -> (String, String) {
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(tcp, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").unwrap();
    let mut text = String::new();
    tcp.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

#[test]
fn controller_commands_reach_sim_agents_through_serve() {
    let serve = Serve::start("");
    let _sim = serve.sim("2");
    let broker = serve.broker();
    let ask = |command: &str| {
        let mut cmd = uspmesh();
        cmd.args([command, "--broker", &broker, "--to", ROOM]);
        cmd
    };
    ask("get")
        .arg("Device.Node.1.IoTCapability.1.Name")
        .assert()
        .success()
        .stdout("Device.Node.1.IoTCapability.1.Name = r101-temp\n");
    ask("set")
        .arg("Device.Node.2.IoTCapability.2.LevelControl.Value=35")
        .assert()
        .success()
        .stdout("Device.Node.2.IoTCapability.2.LevelControl.Value = 35\n");
    ask("get")
        .arg("Device.Node.2.IoTCapability.2.LevelControl.Value")
        .assert()
        .success()
        .stdout("Device.Node.2.IoTCapability.2.LevelControl.Value = 35\n");
    ask("operate")
        .args(["Device.Node.3.IoTCapability.1.LevelControl.StepUp()", "--wait"])
        .assert()
        .success()
        .stdout("Device.Node.3.IoTCapability.1.LevelControl.StepUp() done\n");
    // A USP error travels back through the appliance too.
    ask("get").arg("Device.NoSuchThing.").assert().code(1).stderr(predicate::str::contains("7026"));

    // Who is connected: both rooms over MQTT 5, and the rules engine.
    let out = serve.admin_cmd(&["endpoints", "--json"]).assert().success();
    let list: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let list = list["endpoints"].as_array().unwrap();
    for room in [ROOM, "proto::room-102"] {
        let e =
            list.iter().find(|e| e["endpoint_id"] == room).unwrap_or_else(|| panic!("{room} in {list:?}"));
        assert_eq!(e["mtp"], "mqtt5");
        assert!(e["records_in"].as_u64().unwrap() > 0 && e["records_out"].as_u64().unwrap() > 0, "{e}");
        assert!(e["connected_since"].as_str().unwrap().ends_with('Z'), "{e}");
        assert_eq!(e["reachable"], true, "subscribed to its reply topic: {e}");
    }
    let rules = list.iter().find(|e| e["endpoint_id"] == "self::site1-rules").expect("the rules engine");
    assert_eq!(rules["mtp"], "in_process");
    serve
        .admin_cmd(&["endpoints"])
        .assert()
        .success()
        .stdout(
            predicate::str::is_match(r"(?m)^ENDPOINT +MTP +SINCE +RECORDS IN/OUT +BYTES IN/OUT +PEER$")
                .unwrap(),
        )
        .stdout(predicate::str::is_match(r"(?m)^proto::room-101 +mqtt 5 +\d{4}-\d\d-\d\dT").unwrap())
        .stdout(predicate::str::contains("proto::room-102"))
        .stdout(predicate::str::contains("warning").not());
}

#[test]
fn websocket_agents_are_served_and_listed() {
    let serve = Serve::start("");
    let url = format!("ws://127.0.0.1:{}/usp", serve.ws);
    let _sim = Sim::start(&url, &["--rooms", "1", "--ws", "--seed", "3"]);
    uspmesh()
        .args(["get", "--broker", &url, "--to", ROOM, "Device.Node.2.IoTCapability.1.Name"])
        .assert()
        .success()
        .stdout("Device.Node.2.IoTCapability.1.Name = r101-light-sw\n");
    let out = serve.admin_cmd(&["endpoints", "--json"]).assert().success();
    let list: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let room =
        list["endpoints"].as_array().unwrap().iter().find(|e| e["endpoint_id"] == ROOM).unwrap().clone();
    assert_eq!(room["mtp"], "web_socket", "{room}");
    serve
        .admin_cmd(&["endpoints"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"(?m)^proto::room-101 +ws +\d{4}-").unwrap());
}

#[test]
fn rules_commands_explain_status_and_reload() {
    let serve = Serve::start("");
    let _sim = serve.sim("4");
    // The example rules subscribe on the rooms and fire within seconds.
    let status = serve.until_status("every room synced and a rule firing", |s| {
        s["counters"]["syncs"].as_u64().unwrap_or(0) >= 4 && s["engine"]["fired"].as_u64().unwrap_or(0) > 0
    });
    let names: Vec<&str> =
        status["rules"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"light-follows-presence"), "{names:?}");
    serve
        .admin_cmd(&["rules", "status"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("rules engine self::site1-rules · 13 rules from "))
        .stdout(predicate::str::contains("light-follows-presence"));

    serve
        .admin_cmd(&["rules", "explain", "light-follows-presence"])
        .assert()
        .success()
        .stdout(predicate::str::contains("light-follows-presence"))
        .stdout(predicate::str::contains("Light on at 70 %"));
    serve
        .admin_cmd(&["rules", "explain", "no-such-rule"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no rule named \"no-such-rule\""));

    // A bad file refuses the reload, with its position; the rules stay.
    std::fs::write(
        serve.rules_dir().join("zz-bad.toml"),
        "[rule.broken]\nwhen = { value_change = \"Device.X\" }\nthne = []\n",
    )
    .unwrap();
    serve
        .admin_cmd(&["rules", "reload"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("reload refused, the running rules stay"))
        .stderr(predicate::str::contains("zz-bad.toml:3:1:"));
    assert_eq!(serve.rules_status()["rules"].as_array().unwrap().len(), 13);

    // Fixed — with the README's first rule: it runs beside the others.
    std::fs::write(serve.rules_dir().join("zz-bad.toml"), readme_first_rule()).unwrap();
    serve.admin_cmd(&["rules", "reload"]).assert().success().stdout("reloaded: 14 rules running\n");
    let names = serve.rules_status()["rules"].as_array().unwrap().len();
    assert_eq!(names, 14);
    serve
        .admin_cmd(&["rules", "explain", "hello-light"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Light on when someone enters"));
}

/// The rule of the README's "Write your first rule".
fn readme_first_rule() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start =
        readme.find("```toml\n# /etc/uspmesh/rules/my-first-rule.toml").expect("the README's rule") + 8;
    let len = readme[start..].find("```").unwrap();
    readme[start..start + len].to_owned()
}

#[test]
fn metrics_endpoint_serves_broker_and_rule_metrics() {
    let serve = Serve::start("");
    let _sim = serve.sim("2");
    serve.until_status("notifications", |s| s["counters"]["notifications"].as_u64().unwrap_or(0) > 0);
    let (status, body) = http_get(serve.metrics, "/metrics");
    assert!(status.contains("200"), "{status}");
    for metric in [
        "usp_broker_records_in_total",
        "usp_broker_connections",
        "uspmesh_rules_notifications_total",
        "uspmesh_rule_fired_total{rule=\"light-follows-presence\"}",
    ] {
        assert!(body.contains(metric), "{metric} missing from:\n{body}");
    }
    let records_in: f64 = body
        .lines()
        .find_map(|l| l.strip_prefix("usp_broker_records_in_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("a records_in sample");
    assert!(records_in > 0.0, "{body}");
    // The admin API is not on the metrics port, and vice versa.
    assert!(http_get(serve.metrics, "/v1/endpoints").0.contains("404"));
    assert!(http_get(serve.admin, "/metrics").0.contains("404"));
}

#[test]
fn sigterm_stops_gracefully_and_persists_rule_state() {
    let mut serve = Serve::start("");
    let sim = serve.sim("2");
    serve.until_status("the rooms synced", |s| s["counters"]["syncs"].as_u64().unwrap_or(0) >= 2);
    let (sim_status, _) = sim.stop();
    assert!(sim_status.success());
    terminate(&serve.child);
    let status = wait_exit(&mut serve.child, Duration::from_secs(30)).expect("serve stops on SIGTERM");
    assert_eq!(status.code(), Some(0));
    let log: Vec<String> = serve.log.try_iter().collect();
    assert!(log.iter().any(|l| l.contains("rules engine stopped, state written")), "{log:?}");
    assert!(log.iter().any(|l| l.contains("broker stopped, connections drained")), "{log:?}");
    // The state is on disk: the values the engine primed its cache with.
    let store = usp_rules::Store::open(&serve.dir.path().join("rules.redb")).unwrap();
    let records = store.load().unwrap();
    assert!(records.iter().any(|(_, key, _)| key.starts_with(ROOM)), "no state of {ROOM} in {records:?}");
}

#[test]
fn sighup_reloads_the_rules() {
    let serve = Serve::start("");
    assert_eq!(serve.rules_status()["rules"].as_array().unwrap().len(), 13);
    std::fs::write(serve.rules_dir().join("zz-new.toml"), readme_first_rule()).unwrap();
    let pid = rustix::process::Pid::from_child(&serve.child);
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();
    wait_for_line(&serve.log, "rules reloaded", Duration::from_secs(30)).expect("a reload on SIGHUP");
    assert_eq!(serve.rules_status()["rules"].as_array().unwrap().len(), 14);

    // A bad file: logged, and the rules stay.
    std::fs::write(serve.rules_dir().join("zz-new.toml"), "[rule.x]\nthne = 1\n").unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();
    let line = wait_for_line(&serve.log, "rules reload refused", Duration::from_secs(30)).expect("a refusal");
    assert!(line.contains("zz-new.toml:2:1"), "{line}");
    assert_eq!(serve.rules_status()["rules"].as_array().unwrap().len(), 14);
}

/// Every listener of `uspmesh demo` on a port of the system's choosing.
const DEMO_EPHEMERAL_PORTS: [&str; 8] =
    ["--mqtt", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--admin", "127.0.0.1:0"];

#[test]
fn demo_runs_headless_and_shows_rules_firing() {
    let out = uspmesh()
        .args(["demo", "--headless", "--for", "6s", "--rooms", "4", "--seed", "5"])
        .args(DEMO_EPHEMERAL_PORTS)
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "uspmesh demo: 4 rooms (proto::room-101 … proto::room-104), 13 example rules",
        ))
        .stdout(
            predicate::str::is_match(
                r"(?m)^\d\d:\d\d:\d\d\.\d{3}  light-follows-presence +(fired|cleared) +proto::room-10\d  ",
            )
            .unwrap(),
        )
        .stdout(
            predicate::str::is_match(
                r"(?m)^ +\d+ s · events in [1-9]\d* · actions out [1-9]\d* · rules fired [1-9]\d* · decided in p50 [\d.]+ (ns|µs|ms) p99 [\d.]+ (ns|µs|ms)$",
            )
            .unwrap(),
        );
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("demo stopped after "), "{text}");
}

#[test]
fn demo_runs_the_rules_of_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("first.toml"), readme_first_rule()).unwrap();
    uspmesh()
        .args(["demo", "--headless", "--for", "4s", "--rooms", "3", "--seed", "5", "--rules"])
        .arg(dir.path())
        .args(DEMO_EPHEMERAL_PORTS)
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "3 rooms (proto::room-101 … proto::room-103), 1 rules from {}",
            dir.path().display()
        )))
        .stdout(
            predicate::str::is_match(r"(?m)^\d\d:\d\d:\d\d\.\d{3}  hello-light +fired +proto::room-10\d  ")
                .unwrap(),
        );
}

#[test]
fn bad_config_files_exit_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("unknown.toml", "[rules]\nsite = \"a\"\nsiet = \"b\"\n", ":3:1: unknown field `siet`"),
        ("value.toml", "[metrics]\nbind = \"nowhere\"\n", ":2:8: "),
        ("bridge.toml", "[bridge]\nurl = \"mqtts://cloud\"\n", ":1:1: missing field `controllers`"),
        ("syntax.toml", "[rules\n", ":1:"),
        (
            "listener.toml",
            "[[broker.mqtt]]\nbind = \"127.0.0.1:1883\"\nport = 3\n",
            ":3:1: unknown field `port`",
        ),
    ];
    for (name, text, expected) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        uspmesh()
            .args(["serve", "--config", file.to_str().unwrap()])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!("error: invalid configuration: {}", file.display())))
            .stderr(predicate::str::contains(expected));
    }
    uspmesh()
        .args(["serve", "--config", "/nonexistent/uspmesh.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/uspmesh.toml: cannot read"));

    // A rule file that does not load refuses the start, before any port
    // is opened.
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("a.toml"), "[rule.x]\nwhen = { value_change = \"Device.X\" }\nthne = []\n")
        .unwrap();
    let file = dir.path().join("rules.toml");
    std::fs::write(&file, format!("[rules]\ndir = {:?}\n", rules.display().to_string())).unwrap();
    uspmesh()
        .args(["serve", "--config", file.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("rules refused"))
        .stderr(predicate::str::contains("a.toml:3:1:"));
}

#[test]
fn bad_flags_exit_2_a_port_in_use_1_and_an_absent_appliance_3() {
    uspmesh()
        .args(["serve", "--mqtt", "localhost"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--mqtt"));
    uspmesh().args(["serve", "--bogus"]).assert().code(2);
    uspmesh().args(["demo", "--rooms", "0"]).assert().code(2).stderr(predicate::str::contains("--rooms"));
    uspmesh().args(["endpoints", "--admin", "nowhere"]).assert().code(2);
    uspmesh().args(["rules", "frobnicate"]).assert().code(2);
    // A port in use is the system's refusal, not a usage error: status 1.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    uspmesh()
        .args(["serve", "--mqtt", &addr.to_string()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!("cannot listen on {addr}")));

    let port = free_port();
    uspmesh()
        .args(["endpoints", "--admin", &format!("127.0.0.1:{port}")])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(format!("cannot reach the admin API at 127.0.0.1:{port}")));
    uspmesh().args(["rules", "status", "--admin", &format!("127.0.0.1:{port}")]).assert().code(3);
}
