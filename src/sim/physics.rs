//! The physics of one room, sans-I/O: [`Room::step`] advances the state by
//! `dt` simulated seconds given what the room's controls say and the
//! outside temperature. No clock, no I/O; every random draw comes from the
//! room's own [`Rng`], so a room replays exactly from its seed.
//!
//! The model, chosen to look right on a dashboard rather than to be a
//! building-physics simulation:
//!
//! * **Temperature** loses heat to the outside through the envelope
//!   (first order, time constant [`ENVELOPE_TAU_CLOSED_S`], much shorter with
//!   the window open), gains a little from occupants, and is held by a
//!   bang-bang thermostat: `Heat` switches heating on below setpoint − 0.3 °C
//!   and off above setpoint + 0.1 °C, `Cool` the mirror image, `Auto` both
//!   (cooling only above setpoint + 1 °C, so it does not fight the heating),
//!   `Off` nothing. Heating and cooling move the temperature at
//!   [`HVAC_RATE_PER_S`]. Plus a small random walk (sensor and air noise).
//! * **Humidity** relaxes towards 40 % (50 % occupied, 65 % with the window
//!   open) with a random walk.
//! * **Occupancy** alternates between empty and occupied with exponential
//!   dwell times (means [`MEAN_EMPTY_S`], [`MEAN_OCCUPIED_S`]).
//! * **The window** is opened only by occupants (mean
//!   [`MEAN_CLOSED_WHILE_OCCUPIED_S`] of occupied time until someone does)
//!   and closes after a mean of [`MEAN_OPEN_S`].
//!
//! The HVAC is not switched off by an open window here: that is what the
//! rules engine's `hvac-window-setback` rule is for.

use super::rng::Rng;

/// Mean time a room stays empty, seconds.
pub(crate) const MEAN_EMPTY_S: f64 = 20.0 * 60.0;
/// Mean time a room stays occupied, seconds.
pub(crate) const MEAN_OCCUPIED_S: f64 = 45.0 * 60.0;
/// Mean occupied time until someone opens the window, seconds.
pub(crate) const MEAN_CLOSED_WHILE_OCCUPIED_S: f64 = 2.0 * 3600.0;
/// Mean time the window stays open, seconds.
pub(crate) const MEAN_OPEN_S: f64 = 10.0 * 60.0;
/// Envelope time constant with the window closed, seconds.
pub(crate) const ENVELOPE_TAU_CLOSED_S: f64 = 6.0 * 3600.0;
/// Envelope time constant with the window open, seconds.
pub(crate) const ENVELOPE_TAU_OPEN_S: f64 = 3600.0;
/// How fast heating or cooling moves the temperature, °C per second
/// (6 °C an hour: about twice what the envelope loses on a cold day, and
/// much less than an open window does).
pub(crate) const HVAC_RATE_PER_S: f64 = 6.0 / 3600.0;
/// Heat from occupants, °C per second (0.5 °C an hour).
const OCCUPANT_RATE_PER_S: f64 = 0.5 / 3600.0;
/// Temperature random walk, °C per √second.
const TEMPERATURE_NOISE: f64 = 0.003;
/// Humidity time constant, seconds, and random walk, % per √second.
const HUMIDITY_TAU_S: f64 = 1800.0;
const HUMIDITY_NOISE: f64 = 0.02;
/// Most state changes one step may make (a huge `dt` still terminates).
const MAX_FLIPS_PER_STEP: u32 = 64;

/// The HVAC mode (`EnumControl` `ThermostatMode` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HvacMode {
    /// No heating or cooling.
    Off,
    /// Heating only.
    Heat,
    /// Cooling only.
    Cool,
    /// Both, as needed.
    Auto,
}

impl HvacMode {
    /// The mode named by an `EnumControl.Value`; an unknown name is `Off`
    /// (a device that does not understand its mode does nothing).
    pub(crate) fn from_name(name: &str) -> HvacMode {
        match name {
            "Heat" => HvacMode::Heat,
            "Cool" => HvacMode::Cool,
            "Auto" => HvacMode::Auto,
            _ => HvacMode::Off,
        }
    }
}

/// What the room's controls say: written by Controllers (Set, Operate),
/// read by the physics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Controls {
    /// HVAC setpoint, °C.
    pub(crate) setpoint: f64,
    /// HVAC mode.
    pub(crate) mode: HvacMode,
}

impl Default for Controls {
    /// The room's factory settings: 21 °C, `Auto`.
    fn default() -> Controls {
        Controls { setpoint: 21.0, mode: HvacMode::Auto }
    }
}

/// What the HVAC is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hvac {
    /// Neither heating nor cooling.
    Idle,
    /// Heating.
    Heating,
    /// Cooling.
    Cooling,
}

/// The physical state of a room.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Room {
    /// Air temperature, °C.
    pub(crate) temperature: f64,
    /// Relative humidity, %.
    pub(crate) humidity: f64,
    /// Someone is in the room.
    pub(crate) occupied: bool,
    /// The window is open.
    pub(crate) window_open: bool,
    /// What the HVAC does.
    pub(crate) hvac: Hvac,
    /// Seconds until occupancy changes.
    occupancy_left: f64,
    /// Seconds (of occupied time, while closed) until the window changes.
    window_left: f64,
    rng: Rng,
}

impl Room {
    /// A room in a plausible first state drawn from `rng`: near the
    /// setpoint, moderately humid, occupied three times in ten, window
    /// closed.
    pub(crate) fn new(mut rng: Rng, controls: &Controls) -> Room {
        let occupied = rng.chance(0.3);
        let occupancy_left = rng.exponential(if occupied { MEAN_OCCUPIED_S } else { MEAN_EMPTY_S });
        Room {
            temperature: controls.setpoint + rng.between(-1.5, 1.5),
            humidity: rng.between(35.0, 50.0),
            occupied,
            window_open: false,
            hvac: Hvac::Idle,
            occupancy_left,
            window_left: rng.exponential(MEAN_CLOSED_WHILE_OCCUPIED_S),
            rng,
        }
    }

    /// Advances the room by `dt` seconds (non-negative, finite).
    pub(crate) fn step(&mut self, dt: f64, controls: &Controls, outside: f64) {
        if !(dt.is_finite() && dt > 0.0) {
            return;
        }
        self.occupancy(dt);
        self.window(dt);
        self.thermostat(controls);
        let tau = if self.window_open { ENVELOPE_TAU_OPEN_S } else { ENVELOPE_TAU_CLOSED_S };
        let mut t = self.temperature + (outside - self.temperature) * (1.0 - (-dt / tau).exp());
        t += match self.hvac {
            Hvac::Heating => HVAC_RATE_PER_S * dt,
            Hvac::Cooling => -HVAC_RATE_PER_S * dt,
            Hvac::Idle => 0.0,
        };
        if self.occupied {
            t += OCCUPANT_RATE_PER_S * dt;
        }
        t += TEMPERATURE_NOISE * dt.sqrt() * self.rng.normal();
        self.temperature = t.clamp(-30.0, 60.0);

        let target = if self.window_open {
            65.0
        } else if self.occupied {
            50.0
        } else {
            40.0
        };
        let h = self.humidity + (target - self.humidity) * (1.0 - (-dt / HUMIDITY_TAU_S).exp());
        self.humidity = (h + HUMIDITY_NOISE * dt.sqrt() * self.rng.normal()).clamp(5.0, 95.0);
    }

    fn occupancy(&mut self, dt: f64) {
        self.occupancy_left -= dt;
        let mut flips = 0;
        while self.occupancy_left <= 0.0 && flips < MAX_FLIPS_PER_STEP {
            self.occupied = !self.occupied;
            let mean = if self.occupied { MEAN_OCCUPIED_S } else { MEAN_EMPTY_S };
            self.occupancy_left += self.rng.exponential(mean);
            flips += 1;
        }
    }

    fn window(&mut self, dt: f64) {
        // Closed windows are opened only while someone is there; open ones
        // close whoever is there.
        if !self.window_open && !self.occupied {
            return;
        }
        self.window_left -= dt;
        if self.window_left <= 0.0 {
            self.window_open = !self.window_open;
            let mean = if self.window_open { MEAN_OPEN_S } else { MEAN_CLOSED_WHILE_OCCUPIED_S };
            self.window_left = self.rng.exponential(mean);
        }
    }

    fn thermostat(&mut self, c: &Controls) {
        let (t, s) = (self.temperature, c.setpoint);
        let may_heat = matches!(c.mode, HvacMode::Heat | HvacMode::Auto);
        let may_cool = matches!(c.mode, HvacMode::Cool | HvacMode::Auto);
        let cool_above = if c.mode == HvacMode::Auto { 1.0 } else { 0.3 };
        self.hvac = match self.hvac {
            Hvac::Heating if may_heat && t < s + 0.1 => Hvac::Heating,
            Hvac::Cooling if may_cool && t > s - 0.1 => Hvac::Cooling,
            _ if may_heat && t < s - 0.3 => Hvac::Heating,
            _ if may_cool && t > s + cool_above => Hvac::Cooling,
            _ => Hvac::Idle,
        };
    }
}

/// The outside temperature of a building: a slow, mean-reverting random
/// walk around a base drawn from the seed (5–15 °C).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outside {
    /// Current temperature, °C.
    pub(crate) temperature: f64,
    base: f64,
    rng: Rng,
}

impl Outside {
    /// The weather of a building.
    pub(crate) fn new(mut rng: Rng) -> Outside {
        let base = rng.between(5.0, 15.0);
        Outside { temperature: base, base, rng }
    }

    /// Advances the weather by `dt` seconds.
    pub(crate) fn step(&mut self, dt: f64) {
        if !(dt.is_finite() && dt > 0.0) {
            return;
        }
        let t = self.temperature + (self.base - self.temperature) * (1.0 - (-dt / (6.0 * 3600.0)).exp());
        self.temperature = t + 0.002 * dt.sqrt() * self.rng.normal();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(room: &mut Room, controls: &Controls, outside: f64, seconds: f64, dt: f64) {
        let steps = (seconds / dt) as usize;
        for _ in 0..steps {
            room.step(dt, controls, outside);
        }
    }

    fn room(seed: u64, controls: &Controls) -> Room {
        Room::new(Rng::new(seed, 1), controls)
    }

    #[test]
    fn heating_holds_the_setpoint() {
        let controls = Controls { setpoint: 22.0, mode: HvacMode::Heat };
        let mut r = room(1, &controls);
        // Nobody there, so nobody opens the window.
        r.occupied = false;
        r.occupancy_left = f64::MAX;
        r.temperature = 17.0;
        run(&mut r, &controls, 5.0, 3.0 * 3600.0, 10.0);
        assert!((r.temperature - 22.0).abs() < 0.5, "{}", r.temperature);
        // It stays there for hours (the thermostat cycles).
        let (mut lowest, mut highest) = (f64::MAX, f64::MIN);
        for _ in 0..6 * 360 {
            r.step(10.0, &controls, 5.0);
            lowest = lowest.min(r.temperature);
            highest = highest.max(r.temperature);
        }
        assert!(lowest > 21.5 && highest < 22.5, "{lowest}..{highest}");
    }

    #[test]
    fn off_drifts_towards_outside_and_an_open_window_is_faster() {
        let controls = Controls { setpoint: 21.0, mode: HvacMode::Off };
        let mut closed = room(2, &controls);
        closed.temperature = 21.0;
        closed.occupied = false;
        closed.occupancy_left = f64::MAX;
        let mut open = closed.clone();
        open.window_open = true;
        open.window_left = f64::MAX;
        run(&mut closed, &controls, 5.0, 3600.0, 10.0);
        run(&mut open, &controls, 5.0, 3600.0, 10.0);
        assert!(closed.temperature < 20.0 && closed.temperature > 17.0, "{}", closed.temperature);
        assert!(
            open.temperature < closed.temperature - 3.0,
            "{} vs {}",
            open.temperature,
            closed.temperature
        );
        assert!(open.humidity > closed.humidity + 5.0, "open windows bring humid air");
    }

    #[test]
    fn cooling_and_auto() {
        let cool = Controls { setpoint: 20.0, mode: HvacMode::Cool };
        let mut r = room(3, &cool);
        r.temperature = 26.0;
        run(&mut r, &cool, 30.0, 3.0 * 3600.0, 10.0);
        assert!(r.temperature < 21.0, "{}", r.temperature);
        let auto = Controls { setpoint: 21.0, mode: HvacMode::Auto };
        let mut cold = room(3, &auto);
        cold.temperature = 15.0;
        run(&mut cold, &auto, 0.0, 3.0 * 3600.0, 10.0);
        assert!(cold.temperature > 20.0, "{}", cold.temperature);
    }

    #[test]
    fn occupancy_and_window_have_plausible_dwell_times() {
        let controls = Controls::default();
        let mut r = room(4, &controls);
        let (dt, hours) = (10.0, 200.0);
        let (mut occupied, mut open, mut entries, mut openings) = (0usize, 0usize, 0usize, 0usize);
        let steps = (hours * 3600.0 / dt) as usize;
        for _ in 0..steps {
            let (was_occupied, was_open) = (r.occupied, r.window_open);
            r.step(dt, &controls, 10.0);
            occupied += usize::from(r.occupied);
            open += usize::from(r.window_open);
            entries += usize::from(r.occupied && !was_occupied);
            openings += usize::from(r.window_open && !was_open);
        }
        let share = occupied as f64 / steps as f64;
        let expected = MEAN_OCCUPIED_S / (MEAN_OCCUPIED_S + MEAN_EMPTY_S);
        assert!((share - expected).abs() < 0.08, "{share} vs {expected}");
        // About one entry per 65 minutes.
        assert!((120..=260).contains(&entries), "{entries}");
        assert!(openings > 20 && open > 0, "{openings} openings");
        assert!((open as f64 / steps as f64) < 0.2, "windows are mostly closed");
    }

    #[test]
    fn deterministic_per_seed() {
        let controls = Controls::default();
        let (mut a, mut b, mut c) = (room(9, &controls), room(9, &controls), room(10, &controls));
        for _ in 0..1000 {
            a.step(5.0, &controls, 8.0);
            b.step(5.0, &controls, 8.0);
            c.step(5.0, &controls, 8.0);
        }
        assert_eq!(a, b);
        assert_ne!(a.temperature, c.temperature);
    }

    #[test]
    fn odd_steps_are_harmless() {
        let controls = Controls::default();
        let mut r = room(5, &controls);
        let before = r.clone();
        r.step(0.0, &controls, 5.0);
        r.step(f64::NAN, &controls, 5.0);
        r.step(-3.0, &controls, 5.0);
        assert_eq!(r, before);
        r.step(1e12, &controls, 5.0);
        assert!(r.temperature.is_finite() && r.humidity.is_finite());
        assert_eq!(HvacMode::from_name("Heat"), HvacMode::Heat);
        assert_eq!(HvacMode::from_name("X_Vendor"), HvacMode::Off);
        let mut o = Outside::new(Rng::new(1, 0));
        let base = o.temperature;
        o.step(3600.0);
        assert!((o.temperature - base).abs() < 2.0 && (5.0..=15.0).contains(&base));
    }
}
