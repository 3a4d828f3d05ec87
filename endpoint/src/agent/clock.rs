//! Time arithmetic on [`DateTime`], the Agent's only notion of time.
//!
//! The Agent reads no clock: every call takes `now` as a TR-106
//! `dateTime` (UTC), the same type the data model stores in
//! `CreationDate`. Deadlines (notification retries, TimeToLive) are
//! `DateTime`s too; the runtime turns them into sleeps with
//! [`duration_until`].

use std::time::Duration;

use crate::datamodel::DateTime;

/// The latest time a [`DateTime`] can hold.
fn max_time() -> DateTime {
    // 9999-12-31T23:59:59.999999999Z, the end of TR-106's range.
    DateTime::from_unix(253_402_300_799, 999_999_999).unwrap_or(DateTime::UNKNOWN)
}

/// `t + d`, saturating at the end of year 9999.
pub fn after(t: DateTime, d: Duration) -> DateTime {
    let (secs, nanos) = t.to_unix();
    let total_nanos = u64::from(nanos) + u64::from(d.subsec_nanos());
    let carry = i64::from(total_nanos >= 1_000_000_000);
    let nanos = (total_nanos % 1_000_000_000) as u32;
    i64::try_from(d.as_secs())
        .ok()
        .and_then(|s| secs.checked_add(s))
        .and_then(|s| s.checked_add(carry))
        .and_then(|s| DateTime::from_unix(s, nanos))
        .unwrap_or_else(max_time)
}

/// `t + secs` seconds.
pub fn after_secs(t: DateTime, secs: u32) -> DateTime {
    after(t, Duration::from_secs(u64::from(secs)))
}

/// How long from `now` until `deadline`; zero when it has passed.
pub fn duration_until(now: DateTime, deadline: DateTime) -> Duration {
    if deadline <= now {
        return Duration::ZERO;
    }
    let (s1, n1) = now.to_unix();
    let (s2, n2) = deadline.to_unix();
    let nanos = (i128::from(s2) - i128::from(s1)) * 1_000_000_000 + i128::from(n2) - i128::from(n1);
    u64::try_from(nanos).map(Duration::from_nanos).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_and_measures() {
        let t = DateTime::from_unix(1_700_000_000, 900_000_000).unwrap();
        let later = after(t, Duration::from_millis(250));
        assert_eq!(later.to_unix(), (1_700_000_001, 150_000_000));
        assert_eq!(duration_until(t, later), Duration::from_millis(250));
        assert_eq!(duration_until(later, t), Duration::ZERO);
        assert_eq!(after_secs(t, 10).to_unix().0, 1_700_000_010);
        assert_eq!(after(t, Duration::MAX), max_time(), "saturates");
    }
}
