//! Time as the engine sees it, and the small time notations of rule files.
//!
//! The engine never reads a clock: every input carries `now` as a
//! [`SystemTime`], and every deadline it hands out is one. Inside, instants are
//! milliseconds since the Unix epoch (`u64`), because deadlines must survive a
//! restart of the process (a monotonic `Instant` does not) and because plain
//! integers are cheap to compare, store and persist.
//!
//! Rule files write durations the way people say them (`"10m"`, `"1h30m"`,
//! `"500ms"`) and times of day on a 24-hour clock (`"22:00"`, `"06:30:15"`).

use std::{
    fmt,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// Milliseconds since the Unix epoch: the engine's instants.
pub(crate) type Ms = u64;

/// Converts a wall-clock time to engine milliseconds (times before 1970
/// count as the epoch itself).
pub(crate) fn to_ms(t: SystemTime) -> Ms {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Converts engine milliseconds back to a wall-clock time.
pub(crate) fn from_ms(ms: Ms) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// Milliseconds of a duration, saturating.
pub(crate) fn dur_ms(d: Duration) -> Ms {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Why a duration string was refused; `at` is the byte offset in the string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The string is empty.
    #[error("empty duration; write e.g. \"10m\", \"1h30m\", \"500ms\"")]
    Empty,
    /// A number was expected.
    #[error("expected a number at offset {at}; write e.g. \"10m\", \"1h30m\", \"500ms\"")]
    ExpectedNumber {
        /// Byte offset.
        at: usize,
    },
    /// A number has no unit after it.
    #[error("number at offset {at} has no unit; units are ms, s, m, h, d")]
    MissingUnit {
        /// Byte offset.
        at: usize,
    },
    /// The unit is not one of `ms s m h d`.
    #[error("unknown unit {unit:?} at offset {at}; units are ms, s, m, h, d")]
    UnknownUnit {
        /// Byte offset.
        at: usize,
        /// The unit as written.
        unit: String,
    },
    /// The duration does not fit in 64-bit milliseconds.
    #[error("duration too long")]
    Overflow,
}

/// Parses a duration: one or more `<integer><unit>` groups, units `ms`,
/// `s`, `m`, `h`, `d` (`"10m"`, `"1h30m"`, `"2s"`, `"500ms"`, `"1d"`).
///
/// Surrounding whitespace is ignored; there is no whitespace inside.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let lead = text.len() - text.trim_start().len();
    let s = text.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: u64 = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(DurationError::ExpectedNumber { at: lead + start });
        }
        let n: u64 = s[start..i].parse().map_err(|_| DurationError::Overflow)?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[ustart..i];
        let mult: u64 = match unit {
            "" => return Err(DurationError::MissingUnit { at: lead + start }),
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(DurationError::UnknownUnit { at: lead + ustart, unit: unit.to_owned() }),
        };
        total = n.checked_mul(mult).and_then(|v| total.checked_add(v)).ok_or(DurationError::Overflow)?;
    }
    Ok(Duration::from_millis(total))
}

/// Writes a duration the way [`parse_duration`] reads it (`"1h30m"`).
pub fn format_duration(d: Duration) -> String {
    let mut ms = dur_ms(d);
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// A time of day on the 24-hour clock, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay {
    secs: u32,
}

/// Why a time of day was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad time of day {0:?}; write HH:MM or HH:MM:SS on a 24-hour clock, e.g. \"22:00\"")]
pub struct TimeOfDayError(pub String);

impl TimeOfDay {
    /// A time from its parts; `None` when out of range.
    pub fn new(hour: u32, minute: u32, second: u32) -> Option<TimeOfDay> {
        (hour < 24 && minute < 60 && second < 60)
            .then_some(TimeOfDay { secs: hour * 3600 + minute * 60 + second })
    }

    /// Parses `HH:MM` or `HH:MM:SS` (one- or two-digit hour, two-digit
    /// minutes and seconds).
    pub fn parse(s: &str) -> Result<TimeOfDay, TimeOfDayError> {
        let bad = || TimeOfDayError(s.to_owned());
        let mut parts = s.split(':');
        let h = parts.next().ok_or_else(bad)?;
        let m = parts.next().ok_or_else(bad)?;
        let sec = parts.next();
        if parts.next().is_some() {
            return Err(bad());
        }
        let num = |p: &str, min_len: usize| -> Result<u32, TimeOfDayError> {
            if p.len() < min_len || p.len() > 2 || !p.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        let (h, m) = (num(h, 1)?, num(m, 2)?);
        let sec = match sec {
            Some(p) => num(p, 2)?,
            None => 0,
        };
        TimeOfDay::new(h, m, sec).ok_or_else(bad)
    }

    /// Seconds since midnight.
    pub fn seconds(self) -> u32 {
        self.secs
    }

    /// The hour (0–23).
    pub fn hour(self) -> u32 {
        self.secs / 3600
    }

    /// The minute (0–59).
    pub fn minute(self) -> u32 {
        self.secs / 60 % 60
    }

    /// The second (0–59).
    pub fn second(self) -> u32 {
        self.secs % 60
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())?;
        if self.second() != 0 {
            write!(f, ":{:02}", self.second())?;
        }
        Ok(())
    }
}

/// Day names as rule files write them, Monday first (index = days since Monday).
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The index (0 = Monday) of a day name: three-letter or full English name,
/// any case.
pub fn weekday_index(name: &str) -> Option<usize> {
    const FULL: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let lower = name.to_ascii_lowercase();
    WEEKDAYS.iter().position(|d| *d == lower).or_else(|| FULL.iter().position(|d| *d == lower))
}

/// The local time of day and weekday (0 = Monday) of an instant.
pub(crate) fn local(ms: Ms, tz: &jiff::tz::TimeZone) -> (TimeOfDay, usize) {
    let ts = jiff::Timestamp::from_millisecond(i64::try_from(ms).unwrap_or(i64::MAX))
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let dt = tz.to_datetime(ts);
    let tod = TimeOfDay::new(
        u32::try_from(dt.hour()).unwrap_or(0),
        u32::try_from(dt.minute()).unwrap_or(0),
        u32::try_from(dt.second()).unwrap_or(0),
    )
    .unwrap_or(TimeOfDay { secs: 0 });
    let wd = usize::try_from(dt.weekday().to_monday_zero_offset()).unwrap_or(0);
    (tod, wd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration(" 1h30m "), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1d2s"), Ok(Duration::from_secs(86_402)));
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(parse_duration("10"), Err(DurationError::MissingUnit { at: 0 }));
        assert_eq!(parse_duration("10 m"), Err(DurationError::MissingUnit { at: 0 }));
        assert_eq!(parse_duration("10min"), Err(DurationError::UnknownUnit { at: 2, unit: "min".into() }));
        assert_eq!(parse_duration("m"), Err(DurationError::ExpectedNumber { at: 0 }));
        assert_eq!(parse_duration("99999999999999999999s"), Err(DurationError::Overflow));
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn times_of_day() {
        assert_eq!(TimeOfDay::parse("22:00").unwrap().seconds(), 22 * 3600);
        assert_eq!(TimeOfDay::parse("6:30").unwrap().to_string(), "06:30");
        assert_eq!(TimeOfDay::parse("06:30:15").unwrap().to_string(), "06:30:15");
        for bad in ["24:00", "22:60", "22", "22:0", "2a:00", "22:00:00:00", "", "-1:00", "123:00"] {
            assert!(TimeOfDay::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn weekdays_and_local_time() {
        assert_eq!(weekday_index("Sat"), Some(5));
        assert_eq!(weekday_index("sunday"), Some(6));
        assert_eq!(weekday_index("sun."), None);
        // 2024-01-01T00:00:00Z was a Monday.
        let ms = 1_704_067_200_000 + 3_600_000 * 22 + 60_000 * 5;
        let (tod, wd) = local(ms, &jiff::tz::TimeZone::UTC);
        assert_eq!((tod.to_string().as_str(), wd), ("22:05", 0));
        assert_eq!(to_ms(from_ms(ms)), ms);
    }
}
