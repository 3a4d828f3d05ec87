//! `uspmesh sim`: run a simulated building (see [`crate::sim`]) until
//! Ctrl-C, SIGTERM or `--for`.
//!
//! Standard output gets one line when every room is connected (with the
//! time it took and the memory per room), a status line every
//! `--status-every`, and a last line on exit; standard error gets the
//! progress while rooms connect.

use std::time::{Duration, Instant, SystemTime};

use clap::Args;
use usp_endpoint::mtp::Role;

use super::{
    BrokerUrl, CliError, DEFAULT_CONTROLLER_ID,
    args::{BrokerArgs, endpoint_id},
    duration,
    progress::Counter,
    render,
};
use crate::mtp::ConnectError;
use crate::signal::StopSignals;
use crate::sim::{
    self, Building, DEFAULT_SITE, Pace, SimConfig, SimError, Status, ensure_open_files, rss_bytes,
    rules_engine_id,
};

/// Most rooms one process simulates.
const MAX_ROOMS: usize = 100_000;

/// Arguments of `uspmesh sim`.
#[derive(Debug, Args)]
#[command(after_long_help = "\
Rooms are numbered floor by floor (101..120, 201..220, ... with 20 rooms a
floor); room 101 is the Agent proto::room-101 with capabilities named
r101-temp, r101-presence, r101-humidity, r101-light-sw, r101-light-dim,
r101-setpoint, r101-hvac-mode and r101-window under Device.Node.1-4, as the
example rules in deploy/rules/ expect.

Every Agent trusts (full access) the rules engine self::<site>-rules, the
CLI's default Controller self::uspmesh-cli and each --controller; other
Controllers may only read Device.DeviceInfo. and Device.Node..

Examples:
  uspmesh sim --rooms 20
  uspmesh get --to proto::room-101 'Device.Node.1.IoTCapability.*.LevelSensor.Value'
  uspmesh watch --to proto::room-101 Device.Node.1.
  uspmesh sim --rooms 10000 --speed 60 --status-every 5s")]
pub(crate) struct SimArgs {
    /// How many rooms (one USP Agent each).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = rooms)]
    rooms: usize,
    /// Connect the rooms over the USP WebSocket MTP instead of MQTT (with
    /// no --broker: to ws://127.0.0.1:8080/usp).
    #[arg(long)]
    ws: bool,
    /// Another Controller every room trusts with full access (repeat for
    /// several); rooms also announce themselves to it.
    #[arg(long = "controller", value_name = "EID", value_parser = endpoint_id)]
    controllers: Vec<String>,
    /// The site's name: rooms trust its rules engine self::<SITE>-rules.
    #[arg(long, value_name = "SITE", default_value = DEFAULT_SITE, value_parser = site)]
    site: String,
    /// Seed of every random draw: the same seed gives the same building
    /// (default: a random one, printed so that a run can be replayed).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Rooms a floor, for the numbering (1 to 99).
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=99))]
    rooms_per_floor: u32,
    /// Real time between two steps of each room's physics.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = positive_duration)]
    tick: Duration,
    /// Simulated seconds per real second (60: an hour a minute).
    #[arg(long, value_name = "FACTOR", default_value_t = 1.0, value_parser = speed)]
    speed: f64,
    /// Load test: every room reports its temperature (to 0.01 °C) at every
    /// tick, so each subscriber gets one ValueChange per room per tick.
    #[arg(long)]
    churn: bool,
    /// How often to print a status line.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = positive_duration)]
    status_every: Duration,
    /// Stop after this long (default: run until Ctrl-C or SIGTERM).
    #[arg(long = "for", value_name = "DURATION", value_parser = duration::parse)]
    run_for: Option<Duration>,
    /// Most rooms connecting at the same time.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65536))]
    connect_concurrency: u32,
    #[command(flatten)]
    broker: BrokerArgs,
}

fn rooms(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_ROOMS).contains(&n) => Ok(n),
        _ => Err(format!("{text:?}: give a number of rooms from 1 to {MAX_ROOMS}")),
    }
}

fn site(text: &str) -> Result<String, String> {
    endpoint_id(&rules_engine_id(text)).map(|_| text.to_owned()).map_err(|_| {
        format!("{text:?} cannot be a site name: self::{text}-rules must be an Endpoint ID (letters, digits, - . _)")
    })
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    match duration::parse(text)? {
        d if d.is_zero() => Err(format!("{text:?} must be longer than 0")),
        d => Ok(d),
    }
}

fn speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 100_000.0 => Ok(s),
        _ => Err(format!("{text:?}: give a speed factor above 0 and at most 100000")),
    }
}

impl SimArgs {
    fn config(&mut self) -> Result<SimConfig, CliError> {
        if self.ws {
            match &self.broker.broker {
                None => self.broker.broker = Some(BrokerUrl::default_ws()),
                Some(url) if !url.scheme.is_websocket() => {
                    return Err(CliError::Usage(format!("--ws needs a ws:// or wss:// --broker, not {url}")));
                }
                Some(_) => {}
            }
        }
        self.broker.check()?;
        let rules = rules_engine_id(&self.site);
        let mut trusted = vec![rules.clone(), DEFAULT_CONTROLLER_ID.to_owned()];
        let mut announce_to = vec![rules];
        for c in &self.controllers {
            if !trusted.contains(c) {
                trusted.push(c.clone());
            }
            if !announce_to.contains(c) {
                announce_to.push(c.clone());
            }
        }
        let seed = self.seed.unwrap_or_else(|| getrandom::u64().unwrap_or(0x5EED));
        self.seed = Some(seed);
        Ok(SimConfig {
            rooms: self.rooms,
            per_floor: self.rooms_per_floor,
            mtp: self.broker.mtp(&sim::endpoint_id(sim::room_number(0, self.rooms_per_floor)), Role::Agent),
            trusted,
            announce_to,
            seed,
            pace: Pace { tick: self.tick, speed: self.speed, churn: self.churn },
            connect_concurrency: self.connect_concurrency as usize,
        })
    }
}

/// Runs `uspmesh sim` on a multi-threaded runtime.
pub(crate) fn run(mut args: SimArgs) -> Result<(), CliError> {
    let config = args.config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| CliError::Io { context: "cannot start the async runtime".into(), source })?;
    runtime.block_on(simulate(args, config))
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

async fn simulate(args: SimArgs, config: SimConfig) -> Result<(), CliError> {
    let mut signals = StopSignals::install();
    let broker = args.broker.url();
    let total = config.rooms;
    // One socket per room, plus room for the rest of the process.
    let needed = total as u64 + 64;
    if let Some(limit) = ensure_open_files(needed) {
        if limit < needed {
            eprintln!(
                "warning: {total} rooms need about {needed} open files, the limit is {limit}: \
                 raise it (`ulimit -n`) or some rooms will not connect"
            );
        }
    }
    let seed = config.seed;
    let first = sim::endpoint_id(sim::room_number(0, config.per_floor));
    let last = sim::endpoint_id(sim::room_number(total - 1, config.per_floor));
    eprintln!("starting {total} rooms ({first} … {last}) on {broker}, seed {seed}");
    let rss_before = rss_bytes().unwrap_or(0);
    let started = Instant::now();
    let mut counter = Counter::new();
    let starting = Building::start(config, |done, total| {
        if done == total || done % 100 == 0 || total <= 100 {
            counter.show(&format!("connected {done}/{total}"));
        }
    });
    let building = tokio::select! {
        b = starting => b.map_err(|e| start_error(&broker, e))?,
        () = signals.recv() => {
            eprintln!("interrupted while connecting");
            return Ok(());
        }
    };
    let took = started.elapsed();
    counter.finish(&format!("connected {total}/{total}"));
    let rss = rss_bytes().unwrap_or(0);
    let per_room = rss.saturating_sub(rss_before) / total as u64;
    render::print(&format!(
        "{total} rooms connected in {:.2} s ({first} … {last}); RSS {}, {:.1} KiB per room; seed {seed}\n",
        took.as_secs_f64(),
        mib(rss),
        per_room as f64 / 1024.0
    ))?;
    let reach = if args.broker.broker.is_some() { format!(" --broker {broker}") } else { String::new() };
    eprintln!(
        "try: uspmesh watch{reach} --to {first} Device.Node.1.IoTCapability.1.LevelSensor.Value   (Ctrl-C stops the building)"
    );

    let deadline = args.run_for.map(|d| tokio::time::Instant::now() + d);
    let mut status_timer = tokio::time::interval(args.status_every);
    status_timer.tick().await;
    let mut previous = (Instant::now(), building.status());
    loop {
        tokio::select! {
            _ = status_timer.tick() => {
                let now = (Instant::now(), building.status());
                render::print(&status_line(&previous, &now))?;
                previous = now;
            }
            () = signals.recv() => break,
            () = sleep_until(deadline) => break,
        }
    }
    let status = building.status();
    building.shutdown(Duration::from_secs(2)).await;
    render::print(&format!(
        "stopped after {:.0} s: {} rooms disconnected, {} sensor readings, {} records sent\n",
        started.elapsed().as_secs_f64(),
        status.rooms,
        status.readings,
        status.records_sent
    ))
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// `12:00:10Z 10000/10000 connected · readings 1234 (12.3/s) · records sent 567 (5.6/s) · RSS 812 MiB`.
fn status_line(before: &(Instant, Status), now: &(Instant, Status)) -> String {
    let secs = now.0.duration_since(before.0).as_secs_f64().max(1e-3);
    let rate = |a: u64, b: u64| b.saturating_sub(a) as f64 / secs;
    let time = render::timestamp(SystemTime::now());
    let clock = time.get(11..19).unwrap_or(&time);
    let s = &now.1;
    format!(
        "{clock}Z {}/{} connected · readings {} ({:.1}/s) · records sent {} ({:.1}/s) · RSS {}\n",
        s.connected,
        s.rooms,
        s.readings,
        rate(before.1.readings, s.readings),
        s.records_sent,
        rate(before.1.records_sent, s.records_sent),
        mib(rss_bytes().unwrap_or(0))
    )
}

fn start_error(broker: &BrokerUrl, error: SimError) -> CliError {
    match error {
        SimError::Connect { error: ConnectError::Config(e), .. } => CliError::Usage(e),
        SimError::Connect { room, error } => CliError::Unreachable(format!(
            "{room} cannot connect to {broker}: {error}\n  check that the server runs there (`uspmesh serve` \
             listens on mqtt://127.0.0.1:1883 and ws://127.0.0.1:8080/usp by default) or give its address with \
             --broker"
        )),
        e @ SimError::Room { .. } => CliError::BadInput(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_checks() {
        assert_eq!(rooms("10000"), Ok(10_000));
        assert!(rooms("0").is_err() && rooms("100001").is_err() && rooms("x").is_err());
        assert_eq!(site("site1"), Ok("site1".into()));
        assert!(site("a b").is_err());
        assert!(positive_duration("0s").is_err());
        assert_eq!(speed("60"), Ok(60.0));
        assert!(speed("0").is_err() && speed("inf").is_err() && speed("-1").is_err());
    }

    #[test]
    fn a_status_line() {
        let t0 = Instant::now();
        let before = (t0, Status { connected: 9, rooms: 10, readings: 100, records_sent: 10 });
        let after = (
            t0 + Duration::from_secs(10),
            Status { connected: 10, rooms: 10, readings: 200, records_sent: 60 },
        );
        let line = status_line(&before, &after);
        assert!(
            line.contains("10/10 connected · readings 200 (10.0/s) · records sent 60 (5.0/s) · RSS "),
            "{line}"
        );
    }
}
