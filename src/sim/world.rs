//! The world around the Agents: one task steps every room's physics on a
//! timer and reports what its sensors read to the room's Agent as provider
//! reports, so that the Agent notifies the change at once.
//!
//! Sensors report like real ones, on change beyond a dead band: the
//! temperature at 0.1 °C resolution, humidity at 1 %, each only when the
//! true value has moved at least three quarters of a step away from the
//! last report (so noise around a rounding boundary does not flap). A
//! reading also sets `LastChange`, `LastContactTime` and, for level
//! sensors, `LowLevel`/`HighLevel` against the thresholds Controllers set.
//!
//! Load mode (`--churn`): every step reports the temperature at 0.01 °C,
//! nudged by 0.01 when it would repeat the last report, so each room sends
//! exactly one ValueChange per step to whoever subscribed.
//!
//! Rooms are stepped in slices spread over the tick (a tenth of the rooms
//! every tenth of a tick) rather than all at once, so ten thousand Agents
//! do not notify in one burst.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};
use std::time::Duration;

use tokio::sync::watch;
use usp_endpoint::agent::runtime::system_now;
use usp_endpoint::datamodel::{DateTime, Decimal, ParamRef, Report, ReportQueue, Value};

use super::devices::{SharedSettings, Thresholds};
use super::physics::{Outside, Room};
use super::room::{BinaryIds, LevelIds, RoomIds};

/// What a room's sensors last reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Reported {
    /// Temperature, in hundredths of °C.
    pub(crate) temperature: i64,
    /// Temperature `LowLevel`, `HighLevel`.
    pub(crate) temperature_flags: (bool, bool),
    /// Humidity, in hundredths of %.
    pub(crate) humidity: i64,
    /// Humidity `LowLevel`, `HighLevel`.
    pub(crate) humidity_flags: (bool, bool),
    /// Presence.
    pub(crate) occupied: bool,
    /// Window contact.
    pub(crate) window_open: bool,
}

/// `value` rounded to a multiple of `step` hundredths.
fn quantize(value: f64, step: i64) -> i64 {
    ((value * 100.0 / step as f64).round() as i64) * step
}

impl Reported {
    /// What a room's sensors read at first (put into its data model).
    pub(crate) fn first(room: &Room, temperature: &Thresholds, humidity: &Thresholds) -> Reported {
        let t = quantize(room.temperature, 10);
        let h = quantize(room.humidity, 100);
        Reported {
            temperature: t,
            temperature_flags: flags(t, temperature),
            humidity: h,
            humidity_flags: flags(h, humidity),
            occupied: room.occupied,
            window_open: room.window_open,
        }
    }
}

fn flags(hundredths: i64, t: &Thresholds) -> (bool, bool) {
    let v = hundredths as f64 / 100.0;
    (v <= t.low, v >= t.high)
}

/// `hundredths` as a decimal value.
fn decimal(hundredths: i64) -> Value {
    Value::Decimal(Decimal::from_scaled(i128::from(hundredths) * 10_000_000_000_000_000))
}

/// The lexical form of a reading in hundredths (`21.5`, `44`).
pub(crate) fn text(hundredths: i64) -> String {
    match decimal(hundredths) {
        Value::Decimal(d) => d.to_string(),
        other => other.to_string(),
    }
}

/// One room as the world sees it.
#[derive(Debug)]
pub(crate) struct RoomSim {
    physics: Room,
    settings: SharedSettings,
    reports: ReportQueue,
    last: Reported,
    churn_up: bool,
}

impl RoomSim {
    /// A room whose Agent takes reports through `reports`.
    pub(crate) fn new(
        physics: Room,
        settings: SharedSettings,
        reports: ReportQueue,
        last: Reported,
    ) -> RoomSim {
        RoomSim { physics, settings, reports, last, churn_up: true }
    }

    fn push(&self, param: ParamRef, value: Value) {
        self.reports.push(Report::Value { param, value });
    }

    fn level(
        &self,
        ids: &LevelIds,
        value: i64,
        flags: (bool, bool),
        last_flags: (bool, bool),
        now: DateTime,
    ) {
        self.push(ids.value, decimal(value));
        self.push(ids.last_change, Value::DateTime(now));
        self.push(ids.last_contact, Value::DateTime(now));
        if flags.0 != last_flags.0 {
            self.push(ids.low, Value::Boolean(flags.0));
        }
        if flags.1 != last_flags.1 {
            self.push(ids.high, Value::Boolean(flags.1));
        }
    }

    fn binary(&self, ids: &BinaryIds, value: bool, now: DateTime) {
        self.push(ids.value, Value::Boolean(value));
        self.push(ids.last_change, Value::DateTime(now));
        self.push(ids.last_contact, Value::DateTime(now));
    }

    /// Advances the room by `dt` simulated seconds and reports what
    /// changed; returns the number of sensor readings reported.
    pub(crate) fn step(&mut self, dt: f64, outside: f64, now: DateTime, ids: &RoomIds, churn: bool) -> u64 {
        let settings = self.settings.get();
        self.physics.step(dt, &settings.controls, outside);
        let p = &self.physics;
        let mut readings = 0;

        let temperature = if churn {
            let mut t = quantize(p.temperature, 1);
            if t == self.last.temperature {
                t += if self.churn_up { 1 } else { -1 };
                self.churn_up = !self.churn_up;
            }
            Some(t)
        } else {
            let moved = (p.temperature * 100.0 - self.last.temperature as f64).abs() >= 7.5;
            let t = quantize(p.temperature, 10);
            (moved && t != self.last.temperature).then_some(t)
        };
        if let Some(t) = temperature {
            let f = flags(t, &settings.temperature);
            self.level(&ids.temperature, t, f, self.last.temperature_flags, now);
            self.last.temperature = t;
            self.last.temperature_flags = f;
            readings += 1;
        }

        let moved = (p.humidity * 100.0 - self.last.humidity as f64).abs() >= 75.0;
        let h = quantize(p.humidity, 100);
        if moved && h != self.last.humidity {
            let f = flags(h, &settings.humidity);
            self.level(&ids.humidity, h, f, self.last.humidity_flags, now);
            self.last.humidity = h;
            self.last.humidity_flags = f;
            readings += 1;
        }
        if p.occupied != self.last.occupied {
            self.binary(&ids.presence, p.occupied, now);
            self.last.occupied = p.occupied;
            readings += 1;
        }
        if p.window_open != self.last.window_open {
            self.binary(&ids.window, p.window_open, now);
            self.last.window_open = p.window_open;
            readings += 1;
        }
        readings
    }
}

/// How the world runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pace {
    /// Real time between two steps of a room.
    pub(crate) tick: Duration,
    /// Simulated seconds per real second.
    pub(crate) speed: f64,
    /// Load mode (see the module documentation).
    pub(crate) churn: bool,
}

/// Every room and the weather.
#[derive(Debug)]
pub(crate) struct World {
    rooms: Vec<RoomSim>,
    outside: Outside,
    ids: Arc<RoomIds>,
    pace: Pace,
    readings: Arc<AtomicU64>,
}

/// How many slices the rooms are stepped in per tick.
const SLICES: usize = 10;

impl World {
    /// A world; `readings` counts the sensor readings reported.
    pub(crate) fn new(
        rooms: Vec<RoomSim>,
        outside: Outside,
        ids: Arc<RoomIds>,
        pace: Pace,
        readings: Arc<AtomicU64>,
    ) -> World {
        World { rooms, outside, ids, pace, readings }
    }

    /// Steps the rooms until `stop` turns true (or its sender goes).
    pub(crate) async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let slices = self.rooms.len().clamp(1, SLICES);
        let period = self.pace.tick / slices as u32;
        let mut timer = tokio::time::interval(period.max(Duration::from_millis(1)));
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // An interval's first tick is immediate; the rooms were just made, so
        // their first step is one period away.
        timer.tick().await;
        let dt = self.pace.tick.as_secs_f64() * self.pace.speed;
        let mut phase = 0;
        loop {
            tokio::select! {
                _ = timer.tick() => {}
                changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
            }
            if phase == 0 {
                self.outside.step(dt);
            }
            let now = system_now();
            let outside = self.outside.temperature;
            let mut readings = 0;
            for room in self.rooms.iter_mut().skip(phase).step_by(slices) {
                readings += room.step(dt, outside, now, &self.ids, self.pace.churn);
            }
            self.readings.fetch_add(readings, Ordering::Relaxed);
            phase = (phase + 1) % slices;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::devices::{Settings, read_settings};
    use crate::sim::physics::{Controls, HvacMode};
    use crate::sim::rng::Rng;
    use crate::sim::room::{Initial, populate};
    use usp_endpoint::datamodel::{DataModel, Store, models};

    #[test]
    fn quantities() {
        assert_eq!(quantize(21.449, 10), 2140);
        assert_eq!(quantize(21.45, 1), 2145);
        assert_eq!(quantize(44.6, 100), 4500);
        assert_eq!(text(2150), "21.5");
        assert_eq!(text(4400), "44");
        assert_eq!(text(-50), "-0.5");
        assert_eq!(flags(2600, &Thresholds { low: 16.0, high: 26.0 }), (false, true));
        assert_eq!(flags(1600, &Thresholds { low: 16.0, high: 26.0 }), (true, false));
    }

    fn room(churn_seed: u64) -> (DataModel, Arc<RoomIds>, RoomSim) {
        let schema = Arc::new(models::agent_schema().unwrap());
        let ids = Arc::new(RoomIds::new(&schema).unwrap());
        let settings = Settings {
            controls: Controls { setpoint: 21.0, mode: HvacMode::Off },
            temperature: Thresholds { low: 16.0, high: 26.0 },
            humidity: Thresholds { low: 30.0, high: 70.0 },
        };
        let physics = Room::new(Rng::new(churn_seed, 0), &settings.controls);
        let first = Reported::first(&physics, &settings.temperature, &settings.humidity);
        let initial = Initial {
            at: DateTime::UNKNOWN,
            temperature: text(first.temperature),
            humidity: text(first.humidity),
            occupied: first.occupied,
            window_open: first.window_open,
        };
        let mut store = Store::new(schema);
        populate(&mut store, 1, "proto::room-1", "MQTT", &initial, &settings.temperature, &settings.humidity)
            .unwrap();
        assert_eq!(read_settings(&store, &ids).temperature, settings.temperature);
        let dm = DataModel::with_store(store);
        let sim = RoomSim::new(physics, SharedSettings::new(settings), dm.report_queue(), first);
        (dm, ids, sim)
    }

    #[test]
    fn readings_reach_the_data_model_with_their_flags() {
        let (mut dm, ids, mut sim) = room(3);
        let now = DateTime::from_unix(1_700_000_000, 0).unwrap();
        // Off, 0 °C outside, window open: the room cools below 16 °C.
        let mut reported = 0;
        for _ in 0..2000 {
            reported += sim.step(60.0, -10.0, now, &ids, false);
        }
        assert!(reported > 10, "{reported}");
        assert!(dm.poll(now).is_empty(), "every report applies");
        let value = dm.store().get(&ids.temperature.value).unwrap().to_string();
        assert_eq!(value, text(sim.last.temperature));
        assert!(sim.physics.temperature < 16.0);
        assert_eq!(dm.store().get(&ids.temperature.low), Some(&Value::Boolean(true)));
        assert_eq!(dm.store().get(&ids.temperature.last_change), Some(&Value::DateTime(now)));
        assert_eq!(dm.store().get(&ids.presence.value), Some(&Value::Boolean(sim.physics.occupied)));
    }

    #[test]
    fn churn_changes_the_temperature_every_step() {
        let (mut dm, ids, mut sim) = room(4);
        let now = DateTime::from_unix(1_700_000_000, 0).unwrap();
        let mut changes = Vec::new();
        dm.drain_changes(&mut changes);
        for _ in 0..20 {
            assert!(sim.step(0.001, 10.0, now, &ids, true) >= 1);
            dm.poll(now);
            changes.clear();
            dm.drain_changes(&mut changes);
            assert!(
                changes.iter().any(|c| matches!(c, usp_endpoint::datamodel::Change::Value { param, .. } if *param == ids.temperature.value)),
                "a temperature change every step"
            );
        }
    }

    #[test]
    fn a_dead_band_keeps_noise_quiet() {
        let (_dm, ids, mut sim) = room(5);
        let before = sim.last;
        // Tiny steps with the outside at the room's temperature: the true
        // value moves by noise only.
        for _ in 0..200 {
            let outside = sim.physics.temperature;
            sim.step(0.01, outside, DateTime::UNKNOWN, &ids, false);
        }
        assert_eq!((sim.last.temperature, sim.last.humidity), (before.temperature, before.humidity));
    }
}
