//! The notification retry schedule of TR-369 R-NOT.1 / R-NOT.2.
//!
//! Retry n (n ≥ 1) waits a random time in
//! `[m·(k/1000)^(n-1), m·(k/1000)^n]` seconds after the previous attempt,
//! with m = `Controller.{i}.USPNotifRetryMinimumWaitInterval` and k =
//! `USPNotifRetryIntervalMultiplier` of the Recipient; from the 10th retry
//! on, the 10th's range is used again. With the defaults (5, 2000):
//! 5–10 s, 10–20 s, …, 2560–5120 s.

use std::time::Duration;

/// The last retry number with a range of its own (R-NOT.2).
const LAST_RANGE: u32 = 10;

/// The range of retry `n`, in seconds.
pub(crate) fn range(m: u32, k: u32, n: u32) -> (f64, f64) {
    // The data model bounds m to 1..=65535 and k to 1000..=65535; an
    // out-of-range value read from elsewhere is clamped, not trusted.
    let m = f64::from(m.clamp(1, 65_535));
    let ratio = f64::from(k.clamp(1000, 65_535)) / 1000.0;
    let n = n.clamp(1, LAST_RANGE) as i32;
    (m * ratio.powi(n - 1), m * ratio.powi(n))
}

/// The wait before retry `n`, with `unit` a uniform random number in
/// `[0, 1)` picking the point in the range.
pub(crate) fn wait(m: u32, k: u32, n: u32, unit: f64) -> Duration {
    let (lo, hi) = range(m, k, n);
    let secs = lo + (hi - lo) * unit.clamp(0.0, 1.0);
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::from_secs(u64::from(u32::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ranges_of_the_spec() {
        let expected = [
            (5.0, 10.0),
            (10.0, 20.0),
            (20.0, 40.0),
            (40.0, 80.0),
            (80.0, 160.0),
            (160.0, 320.0),
            (320.0, 640.0),
            (640.0, 1280.0),
            (1280.0, 2560.0),
            (2560.0, 5120.0),
            (2560.0, 5120.0),
            (2560.0, 5120.0),
        ];
        for (i, want) in expected.iter().enumerate() {
            assert_eq!(range(5, 2000, i as u32 + 1), *want, "retry {}", i + 1);
        }
        assert_eq!(wait(5, 2000, 1, 0.0), Duration::from_secs(5));
        assert_eq!(wait(5, 2000, 1, 0.5), Duration::from_millis(7500));
        assert_eq!(wait(1, 1000, 30, 0.9), Duration::from_secs(1), "k=1000: a constant wait");
        assert_eq!(range(0, 0, 0), (1.0, 1.0), "out-of-range inputs are clamped");
    }
}
