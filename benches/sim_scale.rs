//! Load scenario: `uspmesh sim` with many Agents against a broker — how
//! long until every Agent is connected and subscribed, and what memory the
//! building (and the broker) takes per Agent.
//!
//! Brokers: mosquitto (Debian's, the baseline). Sizes: 1,000 and 10,000
//! Agents, each run `RUNS` times; the median is printed. Override with
//! `USPMESH_SIM_SCALE=1000,5000` and `USPMESH_SIM_RUNS=5`.
//!
//! ```text
//! cargo bench -p uspmesh --bench sim_scale
//! ```
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
    for (name, start) in [("mosquitto", mosquitto as fn() -> Broker)] {
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
}
