//! Time triggers: a schedule notation for people, and its next occurrence.
//!
//! ```text
//! schedule := "every" DURATION                       every 15m
//!           | [days] ["at"] TIME ("," TIME)*           22:00 · daily at 22:00 · mon-fri at 07:30, 18:00
//! days     := "daily" | "weekdays" | "weekends"
//!           | DAY ["-" DAY] ("," DAY ["-" DAY])*        sat,sun · mon-fri · fri-mon (wraps)
//! DAY      := mon | tue | ... | sun   (or the full English name, any case)
//! ```
//!
//! Chosen instead of cron: a facility operator reads `mon-fri at 07:30`
//! without a manual, and the errors can say exactly what is wrong.
//!
//! Times are local to the engine's time zone. Choices, tested below:
//! * a time that does not exist on a day (the hour skipped when clocks go
//!   forward) fires at the same wall-clock offset after the gap (jiff's
//!   "compatible" rule: 02:30 becomes 03:30); a time that occurs twice (clocks
//!   go back) fires once, at its first occurrence;
//! * `every D` fires at multiples of D since the Unix epoch (so `every 15m`
//!   fires at :00, :15, :30, :45 UTC) — predictable and independent of when
//!   the rules were loaded;
//! * occurrences missed while the process was down are not caught up: the
//!   next occurrence is counted from the time the rules are (re)loaded.

use std::{fmt, time::Duration};

use crate::time::{Ms, TimeOfDay, WEEKDAYS, dur_ms, format_duration, parse_duration, weekday_index};

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Fires every `Duration`, aligned to the Unix epoch.
    Every(Duration),
    /// Fires at the given local times on the given weekdays.
    At {
        /// Allowed weekdays, index 0 = Monday.
        days: [bool; 7],
        /// Times of day, sorted, without duplicates.
        times: Vec<TimeOfDay>,
    },
}

/// Why a schedule was refused; `at` is the byte offset in the string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} (at offset {at}); write e.g. \"daily at 22:00\", \"mon-fri at 07:30\" or \"every 15m\"")]
pub struct ScheduleError {
    /// Byte offset of the problem.
    pub at: usize,
    /// What is wrong.
    pub reason: String,
}

fn err(at: usize, reason: impl Into<String>) -> ScheduleError {
    ScheduleError { at, reason: reason.into() }
}

impl Schedule {
    /// Parses a schedule (see the module documentation for the notation).
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let words: Vec<(usize, &str)> = words(text);
        let Some(&(first_at, first)) = words.first() else {
            return Err(err(0, "empty schedule"));
        };
        if first.eq_ignore_ascii_case("every") {
            let Some(&(at, d)) = words.get(1) else {
                return Err(err(text.len(), "\"every\" needs a duration"));
            };
            let every = parse_duration(d).map_err(|e| err(at, e.to_string()))?;
            if let Some(&(extra, _)) = words.get(2) {
                return Err(err(extra, "unexpected text after the duration"));
            }
            if every < Duration::from_secs(1) {
                return Err(err(at, "the shortest period is 1s"));
            }
            return Ok(Schedule::Every(every));
        }
        // The days part ends at "at" or at the first word that starts with a digit.
        let split = words
            .iter()
            .position(|(_, w)| w.eq_ignore_ascii_case("at") || w.starts_with(|c: char| c.is_ascii_digit()));
        let Some(split) = split else {
            return Err(err(text.len(), "no time of day; add e.g. \"at 22:00\""));
        };
        let days = if split == 0 {
            [true; 7]
        } else {
            let end = words[split].0;
            parse_days(&text[first_at..end], first_at)?
        };
        let times_from = if words[split].1.eq_ignore_ascii_case("at") { split + 1 } else { split };
        let Some(&(times_at, _)) = words.get(times_from) else {
            return Err(err(text.len(), "no time of day after \"at\""));
        };
        let mut times = Vec::new();
        let mut offset = times_at;
        for piece in text[times_at..].split(',') {
            let trimmed = piece.trim();
            let at = offset + (piece.len() - piece.trim_start().len());
            let t = TimeOfDay::parse(trimmed).map_err(|e| err(at, e.to_string()))?;
            times.push(t);
            offset += piece.len() + 1;
        }
        times.sort();
        times.dedup();
        Ok(Schedule::At { days, times })
    }

    /// The first occurrence strictly after `now`, in milliseconds since the
    /// epoch; `None` if there is none (no day selected).
    pub(crate) fn next_after(&self, now: Ms, tz: &jiff::tz::TimeZone) -> Option<Ms> {
        match self {
            Schedule::Every(d) => {
                let step = dur_ms(*d).max(1);
                now.checked_div(step)?.checked_add(1)?.checked_mul(step)
            }
            Schedule::At { days, times } => {
                let ts = jiff::Timestamp::from_millisecond(i64::try_from(now).ok()?).ok()?;
                let mut date = tz.to_datetime(ts).date();
                // Eight days cover "same weekday next week" for a time earlier today.
                for _ in 0..8 {
                    let wd = usize::try_from(date.weekday().to_monday_zero_offset()).ok()?;
                    if days[wd] {
                        for t in times {
                            let dt = date.at(
                                i8::try_from(t.hour()).ok()?,
                                i8::try_from(t.minute()).ok()?,
                                i8::try_from(t.second()).ok()?,
                                0,
                            );
                            let Ok(at) = tz.to_ambiguous_zoned_datetime(dt).compatible() else { continue };
                            let at = u64::try_from(at.timestamp().as_millisecond()).ok()?;
                            if at > now {
                                return Some(at);
                            }
                        }
                    }
                    date = date.tomorrow().ok()?;
                }
                None
            }
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Every(d) => write!(f, "every {}", format_duration(*d)),
            Schedule::At { days, times } => {
                if days.iter().all(|d| *d) {
                    f.write_str("daily")?;
                } else {
                    let names: Vec<&str> = (0..7).filter(|i| days[*i]).map(|i| WEEKDAYS[i]).collect();
                    f.write_str(&names.join(","))?;
                }
                f.write_str(" at ")?;
                let times: Vec<String> = times.iter().map(ToString::to_string).collect();
                f.write_str(&times.join(", "))
            }
        }
    }
}

fn words(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                out.push((s, &text[s..i]));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    out
}

fn parse_days(part: &str, base: usize) -> Result<[bool; 7], ScheduleError> {
    let trimmed = part.trim();
    match trimmed.to_ascii_lowercase().as_str() {
        "daily" | "every day" => return Ok([true; 7]),
        "weekdays" => return Ok([true, true, true, true, true, false, false]),
        "weekends" => return Ok([false, false, false, false, false, true, true]),
        _ => {}
    }
    let mut days = [false; 7];
    let mut offset = base;
    for piece in part.split(',') {
        let at = offset + (piece.len() - piece.trim_start().len());
        let p = piece.trim();
        let day = |name: &str, at: usize| {
            weekday_index(name).ok_or_else(|| {
                err(at, format!("unknown day {name:?}; days are mon tue wed thu fri sat sun, daily, weekdays, weekends"))
            })
        };
        match p.split_once('-') {
            Some((a, b)) => {
                let (from, to) = (day(a.trim(), at)?, day(b.trim(), at + a.len() + 1)?);
                let mut d = from;
                loop {
                    days[d] = true;
                    if d == to {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days[day(p, at)?] = true,
        }
        offset += piece.len() + 1;
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2024-01-01T00:00:00Z, a Monday.
    const MON: Ms = 1_704_067_200_000;
    const H: Ms = 3_600_000;

    #[test]
    fn parses_the_documented_forms() {
        let weekdays = [true, true, true, true, true, false, false];
        let t = |s| TimeOfDay::parse(s).unwrap();
        assert_eq!(
            Schedule::parse("22:00").unwrap(),
            Schedule::At { days: [true; 7], times: vec![t("22:00")] }
        );
        assert_eq!(Schedule::parse("daily at 22:00").unwrap().to_string(), "daily at 22:00");
        assert_eq!(
            Schedule::parse("mon-fri at 18:00, 07:30").unwrap(),
            Schedule::At { days: weekdays, times: vec![t("07:30"), t("18:00")] }
        );
        assert_eq!(Schedule::parse("weekdays 07:30").unwrap().to_string(), "mon,tue,wed,thu,fri at 07:30");
        assert_eq!(Schedule::parse("sat, sun at 09:00").unwrap().to_string(), "sat,sun at 09:00");
        assert_eq!(Schedule::parse("fri-mon at 09:00").unwrap().to_string(), "mon,fri,sat,sun at 09:00");
        assert_eq!(Schedule::parse("every 15m").unwrap(), Schedule::Every(Duration::from_secs(900)));
    }

    #[test]
    fn refuses_with_the_offset() {
        assert_eq!(Schedule::parse("mon-fir at 07:30").unwrap_err().at, 4);
        assert_eq!(Schedule::parse("daily at 25:00").unwrap_err().at, 9);
        assert_eq!(Schedule::parse("daily at 07:30, 7pm").unwrap_err().at, 16);
        assert_eq!(Schedule::parse("every 15 minutes").unwrap_err().at, 6);
        assert_eq!(Schedule::parse("every 500ms").unwrap_err().at, 6);
        assert!(Schedule::parse("").is_err());
        assert!(Schedule::parse("weekdays").is_err());
        assert!(Schedule::parse("daily at").is_err());
    }

    #[test]
    fn next_occurrences() {
        let utc = jiff::tz::TimeZone::UTC;
        let s = Schedule::parse("daily at 22:00").unwrap();
        assert_eq!(s.next_after(MON, &utc), Some(MON + 22 * H));
        assert_eq!(s.next_after(MON + 22 * H, &utc), Some(MON + 46 * H), "strictly after");
        let wd = Schedule::parse("weekdays at 07:30").unwrap();
        // Friday 08:00 → Monday 07:30.
        let fri8 = MON + 4 * 24 * H + 8 * H;
        assert_eq!(wd.next_after(fri8, &utc), Some(MON + 7 * 24 * H + 7 * H + 30 * 60_000));
        let every = Schedule::parse("every 15m").unwrap();
        assert_eq!(every.next_after(MON + 1, &utc), Some(MON + 15 * 60_000));
        let none = Schedule::At { days: [false; 7], times: vec![TimeOfDay::parse("01:00").unwrap()] };
        assert_eq!(none.next_after(MON, &utc), None);
    }

    #[test]
    fn local_time_and_daylight_saving() {
        let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        // 2024-03-31: clocks go from 02:00 to 03:00 CET→CEST; 02:30 does not exist.
        let march30_noon = 1_711_800_000_000; // 2024-03-30T12:00:00Z
        let s = Schedule::parse("daily at 02:30").unwrap();
        let next = s.next_after(march30_noon, &tz).unwrap();
        // 03:30 CEST = 01:30 UTC on 2024-03-31.
        assert_eq!(next, 1_711_848_600_000);
        // 22:00 in Berlin in winter is 21:00 UTC.
        let s = Schedule::parse("daily at 22:00").unwrap();
        assert_eq!(s.next_after(MON, &tz), Some(MON + 21 * H));
    }
}
