//! TR-106 `dateTime`: ISO 8601 in UTC, with the Unknown Time
//! `0001-01-01T00:00:00Z`.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

const SECS_PER_DAY: i64 = 86_400;
/// Days from 0001-01-01 to 1970-01-01.
const UNIX_EPOCH_DAYS: i64 = 719_162;
/// Seconds from 0001-01-01T00:00:00Z to 10000-01-01T00:00:00Z (exclusive end).
const MAX_SECS: i64 = 3_652_059 * SECS_PER_DAY;

/// A point in time, UTC, from year 1 to year 9999, with nanoseconds.
///
/// Ordered chronologically. [`DateTime::UNKNOWN`] (`0001-01-01T00:00:00Z`)
/// is the TR-106 "Unknown Time"; search expressions allow only `==` and `!=`
/// against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    /// Seconds since 0001-01-01T00:00:00Z.
    secs: i64,
    nanos: u32,
}

/// Why a string is not a [`DateTime`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DateTimeError {
    /// Not of the form `YYYY-MM-DDThh:mm:ss[.f]Z` (or with `±hh:mm`).
    #[error("not an ISO 8601 dateTime with time zone")]
    Syntax,
    /// A field is out of range (month 13, February 30, hour 24, ...).
    #[error("dateTime field out of range")]
    Field,
    /// Outside years 1–9999 once converted to UTC.
    #[error("dateTime outside years 1-9999")]
    OutOfRange,
}

impl DateTime {
    /// The TR-106 Unknown Time, `0001-01-01T00:00:00Z`.
    pub const UNKNOWN: DateTime = DateTime { secs: 0, nanos: 0 };

    /// True for the Unknown Time.
    pub fn is_unknown(self) -> bool {
        self == DateTime::UNKNOWN
    }

    /// From seconds and nanoseconds since the Unix epoch; `None` outside
    /// years 1–9999 or with `nanos >= 10⁹`.
    pub fn from_unix(secs: i64, nanos: u32) -> Option<DateTime> {
        let secs = secs.checked_add(UNIX_EPOCH_DAYS * SECS_PER_DAY)?;
        ((0..MAX_SECS).contains(&secs) && nanos < 1_000_000_000).then_some(DateTime { secs, nanos })
    }

    /// From a [`SystemTime`] (the caller's clock: this crate reads none).
    pub fn from_system_time(t: SystemTime) -> Option<DateTime> {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => DateTime::from_unix(i64::try_from(d.as_secs()).ok()?, d.subsec_nanos()),
            Err(e) => {
                let d = e.duration();
                let secs = -i64::try_from(d.as_secs()).ok()?;
                match d.subsec_nanos() {
                    0 => DateTime::from_unix(secs, 0),
                    n => DateTime::from_unix(secs - 1, 1_000_000_000 - n),
                }
            }
        }
    }

    /// Seconds and nanoseconds since the Unix epoch.
    pub fn to_unix(self) -> (i64, u32) {
        (self.secs - UNIX_EPOCH_DAYS * SECS_PER_DAY, self.nanos)
    }

    /// Parses `YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm)`. A time zone is
    /// required (TR-106 times are UTC; an offset is converted); up to nine
    /// fractional digits.
    pub fn parse(s: &str) -> Result<DateTime, DateTimeError> {
        let b = s.as_bytes();
        if b.len() < 20 {
            return Err(DateTimeError::Syntax);
        }
        let num = |from: usize, len: usize| -> Result<i64, DateTimeError> {
            let digits = b.get(from..from + len).ok_or(DateTimeError::Syntax)?;
            digits.iter().try_fold(0i64, |acc, &c| {
                if c.is_ascii_digit() {
                    Ok(acc * 10 + i64::from(c - b'0'))
                } else {
                    Err(DateTimeError::Syntax)
                }
            })
        };
        let sep = |at: usize, c: u8| if b.get(at) == Some(&c) { Ok(()) } else { Err(DateTimeError::Syntax) };
        let year = num(0, 4)?;
        sep(4, b'-')?;
        let month = num(5, 2)?;
        sep(7, b'-')?;
        let day = num(8, 2)?;
        sep(10, b'T')?;
        let hour = num(11, 2)?;
        sep(13, b':')?;
        let minute = num(14, 2)?;
        sep(16, b':')?;
        let second = num(17, 2)?;
        let mut at = 19;
        let mut nanos: u32 = 0;
        if b.get(at) == Some(&b'.') {
            at += 1;
            let start = at;
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            let len = at - start;
            if len == 0 || len > 9 {
                return Err(DateTimeError::Syntax);
            }
            let frac = num(start, len)?;
            nanos = u32::try_from(frac * 10i64.pow(9 - len as u32)).map_err(|_| DateTimeError::Syntax)?;
        }
        let offset = match b.get(at..) {
            Some(b"Z") => 0,
            Some([sign @ (b'+' | b'-'), _, _, b':', _, _]) => {
                let (h, m) = (num(at + 1, 2)?, num(at + 4, 2)?);
                if h > 14 || m > 59 {
                    return Err(DateTimeError::Field);
                }
                let off = h * 3600 + m * 60;
                if *sign == b'+' { off } else { -off }
            }
            _ => return Err(DateTimeError::Syntax),
        };
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
            || year == 0
        {
            return Err(DateTimeError::Field);
        }
        let days = days_from_civil(year, month, day) + UNIX_EPOCH_DAYS;
        let secs = days * SECS_PER_DAY + hour * 3600 + minute * 60 + second - offset;
        if !(0..MAX_SECS).contains(&secs) {
            return Err(DateTimeError::OutOfRange);
        }
        Ok(DateTime { secs, nanos })
    }
}

impl FromStr for DateTime {
    type Err = DateTimeError;
    fn from_str(s: &str) -> Result<DateTime, DateTimeError> {
        DateTime::parse(s)
    }
}

/// Canonical form: `YYYY-MM-DDThh:mm:ssZ`, with the fractional seconds
/// (trailing zeros removed) only when they are not zero.
impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.secs.div_euclid(SECS_PER_DAY);
        let tod = self.secs.rem_euclid(SECS_PER_DAY);
        let (y, m, d) = civil_from_days(days - UNIX_EPOCH_DAYS);
        write!(f, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", tod / 3600, tod / 60 % 60, tod % 60)?;
        if self.nanos != 0 {
            let mut frac = self.nanos;
            let mut width = 9;
            while frac % 10 == 0 {
                frac /= 10;
                width -= 1;
            }
            write!(f, ".{frac:0width$}")?;
        }
        f.write_str("Z")
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn unknown_time() {
        let t = DateTime::parse("0001-01-01T00:00:00Z").unwrap();
        assert!(t.is_unknown());
        assert_eq!(t.to_string(), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn canonical_forms() {
        for (input, canonical) in [
            ("2021-06-06T08:00:00Z", "2021-06-06T08:00:00Z"),
            ("2021-06-06T08:00:00.500Z", "2021-06-06T08:00:00.5Z"),
            ("2021-06-06T10:00:00+02:00", "2021-06-06T08:00:00Z"),
            ("2021-06-05T23:30:00-08:30", "2021-06-06T08:00:00Z"),
            ("2024-02-29T23:59:59.000000001Z", "2024-02-29T23:59:59.000000001Z"),
            ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
        ] {
            assert_eq!(DateTime::parse(input).unwrap().to_string(), canonical, "{input}");
        }
    }

    #[test]
    fn rejects() {
        for bad in [
            "2021-06-06T08:00:00",
            "2021-06-06 08:00:00Z",
            "21-06-06T08:00:00Z",
            "2021-06-06T08:00:00.Z",
            "2021-06-06T08:00:00.1234567890Z",
            "2021-06-06T08:00:00+0200",
            "2021-06-06T08:00:00z",
            "",
        ] {
            assert_eq!(DateTime::parse(bad), Err(DateTimeError::Syntax), "{bad}");
        }
        for bad in
            ["2021-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2021-06-06T24:00:00Z", "0000-06-06T00:00:00Z"]
        {
            assert_eq!(DateTime::parse(bad), Err(DateTimeError::Field), "{bad}");
        }
        assert_eq!(DateTime::parse("0001-01-01T00:00:00+01:00"), Err(DateTimeError::OutOfRange));
    }

    #[test]
    fn unix_conversion_and_order() {
        let epoch = DateTime::from_unix(0, 0).unwrap();
        assert_eq!(epoch.to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(epoch.to_unix(), (0, 0));
        let t = DateTime::parse("2021-06-06T08:00:00Z").unwrap();
        assert_eq!(t.to_unix().0, 1_622_966_400);
        assert!(DateTime::UNKNOWN < epoch && epoch < t);
        assert_eq!(
            DateTime::from_system_time(UNIX_EPOCH + std::time::Duration::from_secs(1_622_966_400)),
            Some(t)
        );
    }

    proptest! {
        #[test]
        fn display_round_trips(secs in 0i64..MAX_SECS, nanos in 0u32..1_000_000_000) {
            let t = DateTime { secs, nanos };
            prop_assert_eq!(DateTime::parse(&t.to_string()), Ok(t));
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = DateTime::parse(&s);
        }
    }
}
