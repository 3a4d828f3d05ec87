//! Load scenario: `uspmesh sim` with many Agents against a broker — how
//! long until every Agent is connected and subscribed, and what memory the
//! building (and the broker) takes per Agent.
//!
//! Brokers: mosquitto (Debian's, the baseline) and `uspmesh serve` (the
//! appliance, running the example rules of `deploy/rules/`). Sizes: 1,000
//! and 10,000 Agents, each run `RUNS` times; the median is printed.
//! Override with `USPMESH_SIM_SCALE=1000,5000`, `USPMESH_SIM_RUNS=5` and
//! `USPMESH_SIM_BROKERS=serve` (or `mosquitto`).
//!
//! ```text
//! cargo bench -p uspmesh --bench sim_scale
//! ```
//!
//! Against `uspmesh serve` a second table follows, under load: the sim
//! runs with `--churn --tick 1s` (every Agent reports its temperature once
//! a second, one ValueChange Notify to the rules engine, which subscribed
//! to it for `temperature-alarm`), and the bench reads
//! * the time until the rules engine has put its subscriptions in place
//!   on every Agent (admin API `counters.syncs`), from the sim's start;
//! * Records/s through the broker (in and out, from `/metrics` over 10 s),
//!   and the notifications/s the rules engine handled;
//! * the RSS of both processes meanwhile;
//! * the rules' trigger-to-firing latency p50/p99 from `/metrics` in µs
//!   (the engine measures with the clock's resolution; the worst rule's
//!   quantile is shown), with the firings counted meanwhile.
//!
//! "Connected" is what `uspmesh sim` reports: the time from its first
//! connection attempt until the last Agent's MQTT session is up *and* its
//! SUBSCRIBE acknowledged (the MTP client reports a session only then). RSS
//! is read from `/proc/<pid>/status` once every Agent is up.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // a bench harness

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const RUNS: usize = 3;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn mosquitto_binary() -> PathBuf {
    ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("mosquitto (apt-get install -y mosquitto)")
}

/// A broker under test: its URL and the process whose memory it uses.
struct Broker {
    url: String,
    pid: u32,
    child: Option<Child>,
    _dir: Option<PathBuf>,
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(dir) = &self._dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn mosquitto() -> Broker {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("uspmesh-sim-scale-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\nmax_connections -1\n"))
        .unwrap();
    let child = Command::new(mosquitto_binary())
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    Broker { url: format!("mqtt://127.0.0.1:{port}"), pid: child.id(), child: Some(child), _dir: Some(dir) }
}

/// One run's figures.
#[derive(Debug, Clone, Copy)]
struct Figures {
    connect_s: f64,
    sim_kib_per_agent: f64,
    sim_rss_mib: f64,
    broker_rss_mib: f64,
}

/// `N rooms connected in X s (…); RSS Y MiB, Z KiB per room; seed S`.
fn parse_ready(line: &str) -> (f64, f64, f64) {
    let number_after = |marker: &str| -> f64 {
        let at = line.find(marker).unwrap_or_else(|| panic!("{marker:?} in {line:?}")) + marker.len();
        line[at..].split_whitespace().next().unwrap().trim_end_matches(',').parse().unwrap()
    };
    (number_after("connected in "), number_after("RSS "), number_after("MiB, "))
}

fn run(broker: &Broker, agents: usize) -> Figures {
    let broker_before = rss_kib(broker.pid);
    let mut sim = Command::new(env!("CARGO_BIN_EXE_uspmesh"))
        .args(["sim", "--broker", &broker.url, "--rooms", &agents.to_string(), "--seed", "1"])
        .args(["--status-every", "1h", "--for", "3s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(sim.stdout.take().unwrap()).lines();
    let started = Instant::now();
    let ready = loop {
        let line = lines.next().expect("sim output").unwrap();
        if line.contains("rooms connected in") {
            break line;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "the sim did not connect");
    };
    let broker_rss = rss_kib(broker.pid).max(broker_before);
    let (connect_s, sim_rss_mib, sim_kib_per_agent) = parse_ready(&ready);
    for _ in lines.by_ref() {}
    assert!(sim.wait().unwrap().success());
    Figures { connect_s, sim_kib_per_agent, sim_rss_mib, broker_rss_mib: broker_rss as f64 / 1024.0 }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// `uspmesh serve` on free loopback ports, with the example rules.
struct Appliance {
    broker: Broker,
    admin: u16,
    metrics: u16,
}

fn serve() -> Appliance {
    let (mqtt, ws, metrics, admin) = (free_port(), free_port(), free_port(), free_port());
    let dir = std::env::temp_dir().join(format!("uspmesh-sim-scale-serve-{}-{mqtt}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rules");
    let conf = dir.join("uspmesh.toml");
    std::fs::write(
        &conf,
        format!(
            "[[broker.mqtt]]\nbind = \"127.0.0.1:{mqtt}\"\n[[broker.websocket]]\nbind = \"127.0.0.1:{ws}\"\n\
             [rules]\ndir = {:?}\n[metrics]\nbind = \"127.0.0.1:{metrics}\"\n[admin]\nbind = \"127.0.0.1:{admin}\"\n\
             [log]\nfilter = \"error\"\n",
            rules.display().to_string()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_uspmesh"))
        .args(["serve", "--config", conf.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while std::net::TcpStream::connect(("127.0.0.1", admin)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    Appliance {
        broker: Broker {
            url: format!("mqtt://127.0.0.1:{mqtt}"),
            pid: child.id(),
            child: Some(child),
            _dir: Some(dir),
        },
        admin,
        metrics,
    }
}

/// `GET path` (HTTP/1.0); the body.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(tcp, "GET {path} HTTP/1.0\r\nHost: bench\r\n\r\n").unwrap();
    let mut text = String::new();
    tcp.read_to_string(&mut text).unwrap();
    text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
}

/// Sum of the samples of `name` (any labels) in Prometheus text.
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{')))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// The worst quantile `q` of `uspmesh_rule_latency_seconds` over the rules.
fn worst_latency(text: &str, q: &str) -> Option<f64> {
    text.lines()
        .filter(|l| {
            l.starts_with("uspmesh_rule_latency_seconds{") && l.contains(&format!("quantile=\"{q}\""))
        })
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .reduce(f64::max)
}

/// Figures of one loaded run against the appliance.
#[derive(Debug, Clone, Copy)]
struct LoadFigures {
    connect_s: f64,
    synced_s: f64,
    records_in_per_s: f64,
    records_out_per_s: f64,
    notifications_per_s: f64,
    sim_rss_mib: f64,
    serve_rss_mib: f64,
    latency_p50_us: f64,
    latency_p99_us: f64,
    fired: f64,
}

fn run_loaded(appliance: &Appliance, agents: usize) -> LoadFigures {
    let started = Instant::now();
    let mut sim = Command::new(env!("CARGO_BIN_EXE_uspmesh"))
        .args(["sim", "--broker", &appliance.broker.url, "--rooms", &agents.to_string(), "--seed", "1"])
        .args(["--status-every", "1h", "--churn", "--tick", "1s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(sim.stdout.take().unwrap()).lines();
    let ready = loop {
        let line = lines.next().expect("sim output").unwrap();
        if line.contains("rooms connected in") {
            break line;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "the sim did not connect");
    };
    std::thread::spawn(move || for _ in lines.by_ref() {});
    let (connect_s, _, _) = parse_ready(&ready);
    // The rules engine's subscriptions on every Agent.
    let synced_s = loop {
        let status: serde_json::Value =
            serde_json::from_str(&http_get(appliance.admin, "/v1/rules/status")).unwrap();
        if status["counters"]["syncs"].as_u64().unwrap_or(0) >= agents as u64 {
            break started.elapsed().as_secs_f64();
        }
        assert!(started.elapsed() < Duration::from_secs(600), "the rules engine did not sync: {status}");
        std::thread::sleep(Duration::from_millis(200));
    };
    // Settle, then measure over a window.
    std::thread::sleep(Duration::from_secs(3));
    let window = Duration::from_secs(10);
    let before = http_get(appliance.metrics, "/metrics");
    let t0 = Instant::now();
    std::thread::sleep(window);
    let after = http_get(appliance.metrics, "/metrics");
    let secs = t0.elapsed().as_secs_f64();
    let rate = |name: &str| (metric_sum(&after, name) - metric_sum(&before, name)) / secs;
    let figures = LoadFigures {
        connect_s,
        synced_s,
        records_in_per_s: rate("usp_broker_records_in_total"),
        records_out_per_s: rate("usp_broker_records_out_total"),
        notifications_per_s: rate("uspmesh_rules_notifications_total"),
        sim_rss_mib: rss_kib(sim.id()) as f64 / 1024.0,
        serve_rss_mib: rss_kib(appliance.broker.pid) as f64 / 1024.0,
        latency_p50_us: worst_latency(&after, "0.5").unwrap_or(f64::NAN) * 1e6,
        latency_p99_us: worst_latency(&after, "0.99").unwrap_or(f64::NAN) * 1e6,
        fired: metric_sum(&after, "uspmesh_rule_fired_total")
            - metric_sum(&before, "uspmesh_rule_fired_total"),
    };
    let pid = rustix::process::Pid::from_child(&sim);
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    let _ = sim.wait();
    figures
}

fn main() {
    // Each Agent holds one socket, and so does the broker for it.
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let _ = setrlimit(Resource::Nofile, Rlimit { current: limit.maximum, maximum: limit.maximum });

    let sizes: Vec<usize> = std::env::var("USPMESH_SIM_SCALE")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000]);
    let runs: usize = std::env::var("USPMESH_SIM_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(RUNS);
    println!(
        "broker     agents  connected+subscribed  sim RSS    sim per agent  broker RSS  (median of {runs})"
    );
    let brokers: Vec<String> = std::env::var("USPMESH_SIM_BROKERS")
        .ok()
        .map(|s| s.split(',').map(|b| b.trim().to_owned()).collect())
        .unwrap_or_else(|| vec!["mosquitto".into(), "serve".into()]);
    let serve_broker = || serve().broker;
    let starters: [(&str, &dyn Fn() -> Broker); 2] = [("mosquitto", &mosquitto), ("serve", &serve_broker)];
    for (name, start) in starters.into_iter().filter(|(n, _)| brokers.iter().any(|b| b == n)) {
        for &agents in &sizes {
            let figures: Vec<Figures> = (0..runs)
                .map(|_| {
                    let broker = start();
                    run(&broker, agents)
                })
                .collect();
            let m = |f: fn(&Figures) -> f64| median(figures.iter().map(f).collect());
            println!(
                "{name:<10} {agents:>6}  {:>17.2} s  {:>6.0} MiB  {:>9.1} KiB  {:>6.0} MiB",
                m(|f| f.connect_s),
                m(|f| f.sim_rss_mib),
                m(|f| f.sim_kib_per_agent),
                m(|f| f.broker_rss_mib),
            );
        }
    }
    if !brokers.iter().any(|b| b == "serve") {
        return;
    }
    println!();
    println!(
        "uspmesh serve + example rules, sim --churn --tick 1s (one ValueChange per Agent per second), median of {runs}"
    );
    println!(
        "agents  connected  rules synced  records in/s  records out/s  rule notifs/s  sim RSS  serve RSS  rule latency p50/p99  firings in 10 s"
    );
    for &agents in &sizes {
        let figures: Vec<LoadFigures> = (0..runs).map(|_| run_loaded(&serve(), agents)).collect();
        let m = |f: fn(&LoadFigures) -> f64| median(figures.iter().map(f).collect());
        println!(
            "{agents:>6}  {:>7.2} s  {:>10.2} s  {:>12.0}  {:>13.0}  {:>13.0}  {:>3.0} MiB  {:>5.0} MiB  {:>7.2} / {:>5.2} µs  {:>15.0}",
            m(|f| f.connect_s),
            m(|f| f.synced_s),
            m(|f| f.records_in_per_s),
            m(|f| f.records_out_per_s),
            m(|f| f.notifications_per_s),
            m(|f| f.sim_rss_mib),
            m(|f| f.serve_rss_mib),
            m(|f| f.latency_p50_us),
            m(|f| f.latency_p99_us),
            m(|f| f.fired),
        );
    }
}
