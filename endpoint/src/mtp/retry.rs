//! The TR-181 reconnect back-off shared by the MQTT and WebSocket MTPs.
//!
//! Both bindings use one formula: the wait before retry `n` (counted from
//! one) is a random value in `[m·(k/1000)^(n-1), m·(k/1000)^n]`, with `n`
//! capped at 10 (from the 10th retry on, the range stays the 10th's),
//! where
//!
//! * MQTT (`Device.MQTT.Client.{i}.`): `m = ConnectRetryTime` (5 s),
//!   `k = ConnectRetryIntervalMultiplier` (2000), and no wait is longer than
//!   `ConnectRetryMaxInterval` (30720 s) — R-MQTT.10 / R-MQTT.33;
//! * WebSocket (`Device.LocalAgent.Controller.{i}.MTP.{i}.WebSocket.`):
//!   `m = SessionRetryMinimumWaitInterval` (5 s),
//!   `k = SessionRetryIntervalMultiplier` (2000), no maximum — R-WS.19.
//!
//! The count restarts at 0 once a session is established (R-WS.20; the
//! MQTT client does the same after a CONNACK).
//!
//! [`RetryPolicy::delay`] takes the random fraction as an argument so the
//! formula is testable; [`RetryPolicy::random_delay`] draws it.

use std::time::Duration;

/// The retry number from which the range no longer grows.
pub const MAX_EXPONENT: u32 = 10;

/// Longest wait the policy ever returns when it has no maximum of its own:
/// one year, far above any range the parameters' domains produce with
/// sensible values, and small enough to stay a valid timer.
const CEILING: Duration = Duration::from_secs(365 * 24 * 3600);

/// A TR-181 reconnect back-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// `m`: the lower bound of the first wait.
    pub min_wait: Duration,
    /// `k`: the growth factor per retry, in thousandths (2000 = doubling).
    /// Values below 1000 are treated as 1000 (the parameters' domain is
    /// 1000–65535).
    pub multiplier: u32,
    /// Upper bound of every wait, if any.
    pub max_wait: Option<Duration>,
}

impl RetryPolicy {
    /// The MQTT client defaults: 5 s, ×2, at most 30720 s.
    pub const MQTT_DEFAULT: RetryPolicy = RetryPolicy {
        min_wait: Duration::from_secs(5),
        multiplier: 2000,
        max_wait: Some(Duration::from_secs(30720)),
    };

    /// The WebSocket session defaults: 5 s, ×2, no maximum.
    pub const WEBSOCKET_DEFAULT: RetryPolicy =
        RetryPolicy { min_wait: Duration::from_secs(5), multiplier: 2000, max_wait: None };

    /// The range `[low, high]` of the wait before retry `retry` (1-based; 0
    /// is treated as 1).
    pub fn range(&self, retry: u32) -> (Duration, Duration) {
        let n = retry.clamp(1, MAX_EXPONENT);
        let factor = f64::from(self.multiplier.max(1000)) / 1000.0;
        let base = self.min_wait.as_secs_f64();
        let low = self.clamp(base * factor.powi(n as i32 - 1));
        let high = self.clamp(base * factor.powi(n as i32));
        (low, high)
    }

    /// The wait before retry `retry`, at `fraction` (in `[0, 1]`) of the way
    /// through its range.
    pub fn delay(&self, retry: u32, fraction: f64) -> Duration {
        let (low, high) = self.range(retry);
        let fraction = if fraction.is_finite() { fraction.clamp(0.0, 1.0) } else { 0.0 };
        low + (high - low).mul_f64(fraction)
    }

    /// The wait before retry `retry`, at a random point of its range.
    pub fn random_delay(&self, retry: u32) -> Duration {
        self.delay(retry, random_fraction())
    }

    fn clamp(&self, secs: f64) -> Duration {
        let ceiling = self.max_wait.unwrap_or(CEILING).min(CEILING);
        Duration::try_from_secs_f64(secs).map_or(ceiling, |d| d.min(ceiling))
    }
}

/// A uniformly distributed value in `[0, 1)`; `0.5` if the system has no
/// randomness to give (the wait is then the middle of its range, which is
/// still within the spec).
fn random_fraction() -> f64 {
    match getrandom::u64() {
        Ok(bits) => (bits >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(d: Duration) -> f64 {
        d.as_secs_f64()
    }

    #[test]
    fn websocket_defaults_follow_the_spec_table() {
        let p = RetryPolicy::WEBSOCKET_DEFAULT;
        let expected = [(5., 10.), (10., 20.), (20., 40.), (40., 80.), (80., 160.)];
        for (n, (lo, hi)) in expected.iter().enumerate() {
            let (l, h) = p.range(n as u32 + 1);
            assert_eq!((secs(l), secs(h)), (*lo, *hi), "retry {}", n + 1);
        }
        assert_eq!(p.range(9), (Duration::from_secs(1280), Duration::from_secs(2560)));
        assert_eq!(p.range(10), (Duration::from_secs(2560), Duration::from_secs(5120)));
        assert_eq!(p.range(11), p.range(10), "the range stops growing at retry 10");
        assert_eq!(p.range(500), p.range(10));
        assert_eq!(p.range(0), p.range(1));
    }

    #[test]
    fn mqtt_waits_never_exceed_the_max_interval() {
        let p = RetryPolicy { max_wait: Some(Duration::from_secs(100)), ..RetryPolicy::MQTT_DEFAULT };
        assert_eq!(p.range(5), (Duration::from_secs(80), Duration::from_secs(100)));
        assert_eq!(p.range(7), (Duration::from_secs(100), Duration::from_secs(100)));
        assert_eq!(RetryPolicy::MQTT_DEFAULT.range(10).1, Duration::from_secs(5120));
    }

    #[test]
    fn delay_interpolates_and_random_delay_stays_in_range() {
        let p = RetryPolicy::WEBSOCKET_DEFAULT;
        assert_eq!(p.delay(1, 0.0), Duration::from_secs(5));
        assert_eq!(p.delay(1, 1.0), Duration::from_secs(10));
        assert_eq!(p.delay(2, 0.5), Duration::from_secs(15));
        assert_eq!(p.delay(1, f64::NAN), Duration::from_secs(5));
        assert_eq!(p.delay(1, 7.0), Duration::from_secs(10));
        for n in 1..=12 {
            let (lo, hi) = p.range(n);
            let d = p.random_delay(n);
            assert!(lo <= d && d <= hi, "retry {n}: {d:?} not in {lo:?}..{hi:?}");
        }
    }

    #[test]
    fn extreme_parameters_do_not_overflow() {
        let p = RetryPolicy { min_wait: Duration::from_secs(65535), multiplier: 65535, max_wait: None };
        assert_eq!(p.range(10).1, CEILING);
        let slow = RetryPolicy { min_wait: Duration::from_millis(10), multiplier: 1, max_wait: None };
        assert_eq!(
            slow.range(5),
            (Duration::from_millis(10), Duration::from_millis(10)),
            "k < 1000 acts as 1000"
        );
    }
}
