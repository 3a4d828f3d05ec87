//! `uspmesh demo`: the appliance, a simulated building and the example
//! rules of `deploy/rules/` in one process, with a live view of what
//! happens — which rule fired on which room and why, how many
//! notifications came in and requests went out, and the rules' latency.
//!
//! The example rules are built into the binary, so the demo runs from any
//! directory; `--rules DIR` runs a directory's instead (and `uspmesh rules
//! reload` then re-reads it). The simulated building runs fast (600
//! simulated seconds a real second by default), so rooms fill and empty
//! within seconds.
//!
//! The view: one line per rule firing (or clearing, or failing) on
//! standard output, and a status line — on a terminal, redrawn in place on
//! standard error; with `--headless` (or when standard error is not a
//! terminal), printed on standard output every few seconds.

use std::{
    io::{IsTerminal, Write},
    net::SocketAddr,
    path::PathBuf,
    time::{Duration, Instant, SystemTime},
};

use clap::Args;
use tokio::sync::broadcast::{self, error::RecvError};
use usp_endpoint::mtp::{Role, mqtt::MqttConfig};
use usp_rules::{
    Source,
    engine::Notice,
    runtime::{RuntimeEvent, RuntimeStatus},
    trace::{TraceEntry, Verdict},
};
use uspmesh::appliance::{Appliance, ApplianceConfig, CLI_CONTROLLER_ID, StartOptions, logging, metrics};

use super::{
    CliError, duration,
    progress::Counter,
    render::{self, timestamp},
    serve::{Overrides, start_error},
};
use crate::{
    mtp::Mtp,
    signal::StopSignals,
    sim::{self, Building, Pace, SimConfig},
};

/// The example rules, as built into the binary (the same files as
/// `deploy/rules/`; a test checks that none is missing).
pub(crate) const EXAMPLE_RULES: [(&str, &str); 6] = [
    ("device-lifecycle.toml", include_str!("../../deploy/rules/device-lifecycle.toml")),
    ("hvac-window-setback.toml", include_str!("../../deploy/rules/hvac-window-setback.toml")),
    ("lights-follow-occupancy.toml", include_str!("../../deploy/rules/lights-follow-occupancy.toml")),
    ("night-mode.toml", include_str!("../../deploy/rules/night-mode.toml")),
    ("tags.toml", include_str!("../../deploy/rules/tags.toml")),
    ("temperature-alarm.toml", include_str!("../../deploy/rules/temperature-alarm.toml")),
];

/// Arguments of `uspmesh demo`.
#[derive(Debug, Args)]
#[command(after_long_help = "\
While the demo runs, the appliance serves as `uspmesh serve` does, so another
terminal can look at it:
  uspmesh endpoints
  uspmesh get --to proto::room-101 'Device.Node.2.IoTCapability.*.'
  uspmesh rules explain light-follows-presence
  curl -s http://127.0.0.1:9464/metrics | grep uspmesh_rule

Examples:
  uspmesh demo
  uspmesh demo --rooms 100 --for 1m --headless")]
pub(crate) struct DemoArgs {
    /// How many rooms (one USP Agent each).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    rooms: u32,
    /// Stop after this long (default: run until Ctrl-C).
    #[arg(long = "for", value_name = "DURATION", value_parser = duration::parse)]
    run_for: Option<Duration>,
    /// Plain output for logs and scripts: no line redrawn in place.
    #[arg(long)]
    headless: bool,
    /// Simulated seconds per real second.
    #[arg(long, value_name = "FACTOR", default_value_t = 600.0, value_parser = speed)]
    speed: f64,
    /// Seed of the simulated building (default: a random one, printed).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Run the rule files of this directory instead of the built-in
    /// examples.
    #[arg(long, value_name = "DIR")]
    rules: Option<PathBuf>,
    /// Address of the MQTT listener.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1883")]
    mqtt: SocketAddr,
    /// Address of the USP WebSocket listener.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    ws: SocketAddr,
    /// Address of the Prometheus endpoint.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
    metrics: SocketAddr,
    /// Address of the admin API.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9465")]
    admin: SocketAddr,
}

fn speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 100_000.0 => Ok(s),
        _ => Err(format!("{text:?}: give a speed factor above 0 and at most 100000")),
    }
}

/// Runs `uspmesh demo`.
pub(crate) fn run(args: DemoArgs) -> Result<(), CliError> {
    // The view is the output; logs only say what goes wrong.
    logging::init("warn");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| CliError::Io { context: "cannot start the async runtime".into(), source })?;
    runtime.block_on(demo(args))
}

async fn demo(args: DemoArgs) -> Result<(), CliError> {
    let mut signals = StopSignals::install();
    let mut config = ApplianceConfig::default();
    Overrides {
        mqtt: Some(args.mqtt),
        ws: Some(args.ws),
        metrics: Some(args.metrics),
        admin: Some(args.admin),
    }
    .apply(&mut config);
    let sources = match &args.rules {
        Some(dir) => {
            config.rules.dir = Some(dir.clone());
            None
        }
        None => Some(EXAMPLE_RULES.iter().map(|(name, text)| Source::new(*name, *text)).collect()),
    };
    let appliance = Appliance::start(config, StartOptions { rules: sources, trace_events: true })
        .await
        .map_err(|e| match e {
            uspmesh::appliance::StartError::Broker(usp_broker::StartError::Bind { .. })
            | uspmesh::appliance::StartError::Bind { .. } => CliError::Unreachable(format!(
                "{e}\n  is another uspmesh running? give other addresses with --mqtt, --ws, --metrics, --admin"
            )),
            e => start_error(e),
        })?;
    let (Some(rules), Some(engine_id)) = (appliance.rules().cloned(), appliance.rules_endpoint_id()) else {
        return Err(CliError::Usage("the demo needs the rules engine".into()));
    };
    let engine_id = engine_id.to_owned();
    let mut events = rules.events();
    let rule_count = rules.status().await.map_or(0, |s| s.rules.len());
    let mqtt = appliance.broker().mqtt_addrs().first().copied().unwrap_or(args.mqtt);

    let rooms = args.rooms as usize;
    let seed = args.seed.unwrap_or_else(|| getrandom::u64().unwrap_or(0x5EED));
    let first = sim::endpoint_id(sim::room_number(0, 20));
    let last = sim::endpoint_id(sim::room_number(rooms - 1, 20));
    let mut out = View::new(args.headless);
    let rules_from = match &args.rules {
        Some(dir) => format!("{rule_count} rules from {}", dir.display()),
        None => format!("{rule_count} example rules"),
    };
    out.line(&format!(
        "uspmesh demo: {rooms} rooms ({first} … {last}), {rules_from}, the building at {}× speed (seed {seed})",
        args.speed
    ))?;
    out.line(&format!(
        "  broker mqtt://{mqtt} · rules engine {engine_id} · metrics http://{}/metrics · admin {}",
        appliance.metrics_addr().map_or("-".into(), |a| a.to_string()),
        appliance.admin_addr().map_or("-".into(), |a| a.to_string()),
    ))?;
    let sim_config = SimConfig {
        rooms,
        per_floor: 20,
        mtp: Mtp::Mqtt(MqttConfig::new(first.as_str(), Role::Agent, mqtt.ip().to_string(), mqtt.port())),
        trusted: vec![engine_id.clone(), CLI_CONTROLLER_ID.to_owned()],
        // As `uspmesh sim` does: each room's MQTTConnect Record tells the
        // rules engine it now listens. The broker's registry reports the
        // connection earlier (at CONNECT, before the room subscribed), so
        // a subscription sync started then can go unanswered; the Record
        // restarts it.
        announce_to: vec![engine_id.clone()],
        seed,
        pace: Pace { tick: Duration::from_millis(200), speed: args.speed, churn: false },
        connect_concurrency: 256,
    };
    let started = Instant::now();
    let mut counter = Counter::new();
    let connecting = Building::start(sim_config, |done, total| {
        if done == total || done % 100 == 0 {
            counter.show(&format!("connecting rooms {done}/{total}"));
        }
    });
    let building = tokio::select! {
        b = connecting => b.map_err(|e| CliError::Unreachable(e.to_string()))?,
        () = signals.recv() => {
            appliance.shutdown().await;
            return Ok(());
        }
    };
    counter.finish(&format!("connected {rooms}/{rooms}"));
    out.line(&format!(
        "  {rooms} rooms connected in {:.2} s; watching the rules (Ctrl-C stops)",
        started.elapsed().as_secs_f64()
    ))?;

    let deadline = args.run_for.map(|d| tokio::time::Instant::now() + d);
    let mut tick =
        tokio::time::interval(if out.in_place { Duration::from_millis(500) } else { Duration::from_secs(5) });
    tick.tick().await;
    let mut shown = Shown::default();
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => shown.event(&event, &mut out)?,
                Err(RecvError::Lagged(n)) => out.line(&format!("  ({n} events not shown: the view fell behind)"))?,
                Err(RecvError::Closed) => break,
            },
            _ = tick.tick() => {
                if let Ok(status) = rules.status().await {
                    out.status(&status_line(started, &status))?;
                }
            }
            () = signals.recv() => break,
            () = sleep_until(deadline) => break,
        }
    }
    drain(&mut events, &mut shown, &mut out)?;
    let status = rules.status().await.ok();
    building.shutdown(Duration::from_secs(1)).await;
    appliance.shutdown().await;
    out.finish();
    let fired = status.map_or(0, |s| s.engine.fired);
    render::print(&format!(
        "demo stopped after {:.0} s: {fired} rule firings, {} shown above\n",
        started.elapsed().as_secs_f64(),
        shown.firings
    ))
}

/// Shows what is still queued (the last moments before the stop).
fn drain(
    events: &mut broadcast::Receiver<RuntimeEvent>,
    shown: &mut Shown,
    out: &mut View,
) -> Result<(), CliError> {
    while let Ok(event) = events.try_recv() {
        shown.event(&event, out)?;
    }
    Ok(())
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What the view has shown so far.
#[derive(Debug, Default)]
struct Shown {
    firings: u64,
}

impl Shown {
    fn event(&mut self, event: &RuntimeEvent, out: &mut View) -> Result<(), CliError> {
        match event {
            RuntimeEvent::Evaluated { rule, entry } => {
                if let Some(line) = evaluation_line(rule, entry) {
                    if matches!(entry.verdict, Verdict::Fired | Verdict::Cleared) {
                        self.firings += 1;
                    }
                    out.line(&line)?;
                }
            }
            RuntimeEvent::Notice(Notice::ActionFailed { rule, step, reason }) => {
                out.line(&format!("{}  {rule:<28} step {step} failed: {reason}", clock(SystemTime::now())))?;
            }
            RuntimeEvent::RuleStopped { rule, reason } => {
                out.line(&format!("{}  {rule:<28} STOPPED: {reason:?}", clock(SystemTime::now())))?;
            }
            RuntimeEvent::SyncFailed { agent, error } => {
                out.line(&format!(
                    "{}  {agent}: subscriptions not in place: {error}",
                    clock(SystemTime::now())
                ))?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// `12:00:01.234  light-follows-presence  fired    proto::room-101  …BinarySensor.Value = true`,
/// for the verdicts worth a line (fired, cleared, armed, failed).
fn evaluation_line(rule: &str, entry: &TraceEntry) -> Option<String> {
    let verdict = match &entry.verdict {
        Verdict::Fired => "fired".to_owned(),
        Verdict::Cleared => "cleared".to_owned(),
        Verdict::Armed { until } => format!("armed until {}", clock(*until)),
        Verdict::Cancelled => "cancelled".to_owned(),
        Verdict::StepFailed { step, .. } => format!("step {step} failed"),
        _ => return None,
    };
    let mut line = format!("{}  {rule:<28} {verdict:<9}", clock(entry.at));
    if let Some(agent) = &entry.agent {
        line.push_str(&format!("  {agent}"));
    }
    match (&entry.path, &entry.value) {
        (Some(path), Some(value)) => line.push_str(&format!("  {} = {value}", short_path(path))),
        (Some(path), None) => line.push_str(&format!("  {}", short_path(path))),
        (None, _) => line.push_str(&format!("  ({})", entry.trigger)),
    }
    Some(line)
}

/// The end of a parameter path: `…IoTCapability.2.BinarySensor.Value`.
fn short_path(path: &str) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.len() <= 4 {
        return path.to_owned();
    }
    format!("…{}", parts[parts.len() - 4..].join("."))
}

/// `12:00:01.234` (UTC).
fn clock(at: SystemTime) -> String {
    let t = timestamp(at);
    t.get(11..23).unwrap_or(&t).to_owned()
}

/// `12 s · events in 340 · actions out 52 · rules fired 21 · decided in p50 420 ns p99 4.2 µs`:
/// "decided in" is `uspmesh_rule_latency_seconds`, from the notification
/// taken off the engine's queue to the rule's first step issued.
fn status_line(started: Instant, status: &RuntimeStatus) -> String {
    let latency = metrics::recorder()
        .map(|h| rule_latency(&h.render()))
        .and_then(|(p50, p99)| Some(format!(" · decided in p50 {} p99 {}", duration(p50?), duration(p99?))))
        .unwrap_or_default();
    format!(
        "{:>4.0} s · events in {} · actions out {} · rules fired {}{latency}",
        started.elapsed().as_secs_f64(),
        status.counters.notifications,
        status.counters.requests,
        status.engine.fired,
    )
}

/// `420 ns`, `4.2 µs`, `38 µs`, `1.9 ms`: the engine measures with the
/// clock's resolution.
fn duration(seconds: f64) -> String {
    if seconds < 0.000_001 {
        format!("{:.0} ns", seconds * 1e9)
    } else if seconds < 0.000_01 {
        format!("{:.1} µs", seconds * 1e6)
    } else if seconds < 0.001 {
        format!("{:.0} µs", seconds * 1e6)
    } else {
        format!("{:.1} ms", seconds * 1e3)
    }
}

/// The worst p50 and p99 of `uspmesh_rule_latency_seconds` over the rules,
/// from the Prometheus text (a summary per rule).
fn rule_latency(text: &str) -> (Option<f64>, Option<f64>) {
    let mut p50: Option<f64> = None;
    let mut p99: Option<f64> = None;
    for line in text.lines().filter(|l| l.starts_with("uspmesh_rule_latency_seconds{")) {
        let Some((labels, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        if !value.is_finite() {
            continue;
        }
        let slot = if labels.contains("quantile=\"0.5\"") {
            &mut p50
        } else if labels.contains("quantile=\"0.99\"") {
            &mut p99
        } else {
            continue;
        };
        *slot = Some(slot.map_or(value, |v: f64| v.max(value)));
    }
    (p50, p99)
}

/// Where the view goes.
struct View {
    /// Status redrawn in place on a terminal's standard error.
    in_place: bool,
    /// Width of the status line on screen.
    width: usize,
    status: String,
}

impl View {
    fn new(headless: bool) -> View {
        View { in_place: !headless && std::io::stderr().is_terminal(), width: 0, status: String::new() }
    }

    /// An event line (the status line is erased first and redrawn after).
    fn line(&mut self, text: &str) -> Result<(), CliError> {
        if self.in_place && self.width > 0 {
            let _ = write!(std::io::stderr(), "\r{:w$}\r", "", w = self.width);
        }
        render::print(&format!("{text}\n"))?;
        if self.in_place && !self.status.is_empty() {
            let _ = write!(std::io::stderr(), "{}", self.status);
            let _ = std::io::stderr().flush();
        }
        Ok(())
    }

    fn status(&mut self, text: &str) -> Result<(), CliError> {
        if !self.in_place {
            return render::print(&format!("{text}\n"));
        }
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{text:<w$}", w = self.width);
        let _ = err.flush();
        self.width = text.chars().count();
        self.status = text.to_owned();
        Ok(())
    }

    fn finish(&mut self) {
        if self.in_place && self.width > 0 {
            let _ = writeln!(std::io::stderr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_rule_file_is_built_in() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rules");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml"))
            .collect();
        on_disk.sort();
        let built_in: Vec<&str> = EXAMPLE_RULES.iter().map(|(n, _)| *n).collect();
        assert_eq!(on_disk, built_in);
        let sources: Vec<Source> = EXAMPLE_RULES.iter().map(|(n, t)| Source::new(*n, *t)).collect();
        assert!(usp_rules::load(&sources).is_ok());
    }

    #[test]
    fn latency_from_the_prometheus_text() {
        let text = "uspmesh_rule_latency_seconds{rule=\"a\",quantile=\"0.5\"} 0.001\n\
                    uspmesh_rule_latency_seconds{rule=\"a\",quantile=\"0.99\"} 0.004\n\
                    uspmesh_rule_latency_seconds{rule=\"b\",quantile=\"0.5\"} 0.002\n\
                    uspmesh_rule_latency_seconds_count{rule=\"b\"} 3\n";
        assert_eq!(rule_latency(text), (Some(0.002), Some(0.004)));
        assert_eq!(rule_latency(""), (None, None));
    }

    #[test]
    fn latency_text() {
        assert_eq!(duration(0.0), "0 ns");
        assert_eq!(duration(0.000_000_42), "420 ns");
        assert_eq!(duration(0.000_004_2), "4.2 µs");
        assert_eq!(duration(0.000_038_4), "38 µs");
        assert_eq!(duration(0.0042), "4.2 ms");
    }

    #[test]
    fn short_paths() {
        assert_eq!(
            short_path("Device.Node.1.IoTCapability.2.BinarySensor.Value"),
            "…IoTCapability.2.BinarySensor.Value"
        );
        assert_eq!(short_path("Device.Boot!"), "Device.Boot!");
    }
}
