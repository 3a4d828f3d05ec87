//! "Why did or didn't it fire": each rule's recent evaluations, and the
//! text `uspmesh rules explain NAME` prints.
//!
//! Every evaluation of a rule leaves a [`TraceEntry`]: which trigger (and
//! its Agent, path, value), each comparison of the condition with the values
//! it compared and whether it held, the hysteresis latch, and the verdict
//! (fired, condition false, timer armed / still armed / cancelled,
//! suppressed by cooldown or rate limit, stopped). Entries are kept in a
//! bounded ring per rule, newest last; they live in memory only.

use std::{collections::VecDeque, fmt::Write as _, sync::Arc, time::SystemTime};

use crate::{engine::io::StopReason, expr::Value, time::to_ms};

/// One compared condition part.
#[derive(Debug, Clone, PartialEq)]
pub struct TracedCheck {
    /// The comparison as written (canonical form).
    pub text: Arc<str>,
    /// The left-hand value.
    pub lhs: Value,
    /// The right-hand value, for comparisons.
    pub rhs: Option<Value>,
    /// Whether it held.
    pub held: bool,
}

/// One evaluation of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceEntry {
    /// When.
    pub at: SystemTime,
    /// The trigger, described.
    pub trigger: Arc<str>,
    /// The trigger's Agent.
    pub agent: Option<Arc<str>>,
    /// The trigger's path.
    pub path: Option<Arc<str>>,
    /// The trigger's value.
    pub value: Option<Arc<str>>,
    /// The rule instance (its state key), for stateful rules.
    pub key: Option<Arc<str>>,
    /// The comparisons made, in order (short-circuited ones are absent).
    pub checks: Vec<TracedCheck>,
    /// The hysteresis value seen and the latch after it.
    pub hysteresis: Option<(Value, bool)>,
    /// What came of it.
    pub verdict: Verdict,
}

/// The outcome of an evaluation (or a later event of the rule).
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The rule fired: its `then` steps started.
    Fired,
    /// The rule cleared: its `else` steps started.
    Cleared,
    /// The condition did not hold; nothing to do.
    NotHeld,
    /// Debounced: evaluated when triggers stay quiet until then.
    Debounced {
        /// When.
        until: SystemTime,
    },
    /// The condition holds: for-duration timer armed.
    Armed {
        /// When it fires if the condition keeps holding.
        until: SystemTime,
    },
    /// The condition still holds; the armed timer keeps its deadline.
    StillArmed {
        /// The deadline.
        until: SystemTime,
    },
    /// The condition stopped holding: the for-duration timer was cancelled.
    Cancelled,
    /// The condition holds and the rule already fired for this state.
    AlreadyActive,
    /// The for-duration elapsed but the condition no longer holds.
    HoldEndedNotHeld,
    /// Suppressed: in cooldown until then.
    Cooldown {
        /// End of the cooldown.
        until: SystemTime,
    },
    /// Suppressed: the rate limit is reached.
    RateLimited {
        /// The limit.
        count: u32,
        /// Its window, in milliseconds.
        per_ms: u64,
    },
    /// The rule was stopped now, for this reason.
    Stopped(StopReason),
    /// The rule is stopped; the trigger was ignored.
    IsStopped,
    /// A step failed.
    StepFailed {
        /// 1-based step number.
        step: usize,
        /// The step's kind (`set`, `operate`, …).
        action: &'static str,
        /// Why.
        reason: String,
    },
    /// An Operate was followed to its OperationComplete, which reported success.
    OperationDone {
        /// 1-based step number.
        step: usize,
    },
}

/// A rule's recent evaluations.
#[derive(Debug, Clone)]
pub(crate) struct Trace {
    entries: VecDeque<TraceEntry>,
    cap: usize,
    /// The check buffer of the last evicted entry, reused by the next
    /// evaluation (no allocation per evaluation once the ring is full).
    spare: Vec<TracedCheck>,
}

impl Trace {
    pub(crate) fn new(cap: usize) -> Trace {
        Trace { entries: VecDeque::with_capacity(cap.min(64)), cap: cap.max(1), spare: Vec::new() }
    }

    pub(crate) fn push(&mut self, e: TraceEntry) {
        if self.entries.len() >= self.cap {
            if let Some(old) = self.entries.pop_front() {
                self.spare = old.checks;
                self.spare.clear();
            }
        }
        self.entries.push_back(e);
    }

    /// An empty buffer for the checks of the next entry.
    pub(crate) fn take_spare(&mut self) -> Vec<TracedCheck> {
        std::mem::take(&mut self.spare)
    }

    /// Newest first.
    pub(crate) fn recent(&self) -> Vec<TraceEntry> {
        self.entries.iter().rev().cloned().collect()
    }
}

/// Counters of a rule since it was loaded (or the engine started).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Evaluations (triggers that reached the rule).
    pub evaluations: u64,
    /// Firings.
    pub fired: u64,
    /// Clearings (`else`).
    pub cleared: u64,
    /// Firings suppressed by cooldown, rate limit or a stop.
    pub suppressed: u64,
    /// Failed steps.
    pub failed: u64,
}

/// The state of one instance of a stateful rule.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceState {
    /// The instance key (by default `agent|path`).
    pub key: Arc<str>,
    /// Hysteresis latch.
    pub latched: bool,
    /// Fired and not yet cleared.
    pub active: bool,
    /// Pending for-duration deadline.
    pub hold_until: Option<SystemTime>,
    /// Pending debounce deadline.
    pub debounce_until: Option<SystemTime>,
    /// End of the cooldown, if still ahead.
    pub cooldown_until: Option<SystemTime>,
}

/// Everything `rules explain NAME` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The rule.
    pub rule: String,
    /// Its description.
    pub description: Option<String>,
    /// `file:line`.
    pub origin: String,
    /// Whether enabled in its file.
    pub enabled: bool,
    /// Why it is stopped, and since when.
    pub stopped: Option<(SystemTime, StopReason)>,
    /// Its triggers, described (with their Agents).
    pub triggers: Vec<String>,
    /// Its condition, conditions of state and limits, described.
    pub conditions: Vec<String>,
    /// Its steps, described.
    pub steps: Vec<String>,
    /// Counters.
    pub counts: Counts,
    /// Current instances of a stateful rule.
    pub instances: Vec<InstanceState>,
    /// Firings in the current rate-limit window.
    pub rate_used: Option<(usize, u32)>,
    /// Recent evaluations, newest first.
    pub recent: Vec<TraceEntry>,
}

fn time(t: SystemTime, tz: &jiff::tz::TimeZone) -> String {
    let ms = i64::try_from(to_ms(t)).unwrap_or(i64::MAX);
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => tz.to_datetime(ts).strftime("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => format!("{ms}ms"),
    }
}

impl Verdict {
    /// The verdict in words.
    pub fn describe(&self, tz: &jiff::tz::TimeZone) -> String {
        match self {
            Verdict::Fired => "FIRED".into(),
            Verdict::Cleared => "cleared (else steps ran)".into(),
            Verdict::NotHeld => "condition false: nothing done".into(),
            Verdict::Debounced { until } => {
                format!("debounced: evaluated at {} if no trigger comes first", time(*until, tz))
            }
            Verdict::Armed { until } => {
                format!("condition holds: timer armed, fires at {}", time(*until, tz))
            }
            Verdict::StillArmed { until } => {
                format!("condition still holds: timer keeps its deadline {}", time(*until, tz))
            }
            Verdict::Cancelled => "condition no longer holds: timer cancelled".into(),
            Verdict::AlreadyActive => "condition holds, already fired for this state".into(),
            Verdict::HoldEndedNotHeld => "for-duration elapsed but the condition no longer holds".into(),
            Verdict::Cooldown { until } => format!("suppressed: cooldown until {}", time(*until, tz)),
            Verdict::RateLimited { count, per_ms } => format!(
                "suppressed: rate limit of {count} per {} reached",
                crate::time::format_duration(std::time::Duration::from_millis(*per_ms))
            ),
            Verdict::Stopped(r) => format!("STOPPED: {r}"),
            Verdict::IsStopped => "ignored: the rule is stopped".into(),
            Verdict::StepFailed { step, action, reason } => {
                format!("step {step} ({action}) failed: {reason}")
            }
            Verdict::OperationDone { step } => format!("step {step} (operate) completed"),
        }
    }
}

impl Explanation {
    /// The text `uspmesh rules explain NAME` prints, times in `tz`.
    pub fn render(&self, tz: &jiff::tz::TimeZone) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "rule {}  ({})", self.rule, self.origin);
        if let Some(d) = &self.description {
            let _ = writeln!(s, "  {d}");
        }
        let status = match (&self.stopped, self.enabled) {
            (Some((at, r)), _) => format!("STOPPED since {}: {r}", time(*at, tz)),
            (None, false) => "disabled in its file".into(),
            (None, true) => "running".into(),
        };
        let _ = writeln!(s, "  status: {status}");
        for t in &self.triggers {
            let _ = writeln!(s, "  when:   {t}");
        }
        for c in &self.conditions {
            let _ = writeln!(s, "  {c}");
        }
        for (i, st) in self.steps.iter().enumerate() {
            let _ = writeln!(s, "  step {}: {st}", i + 1);
        }
        let c = &self.counts;
        let _ = writeln!(
            s,
            "  counts: {} evaluated, {} fired, {} cleared, {} suppressed, {} failed",
            c.evaluations, c.fired, c.cleared, c.suppressed, c.failed
        );
        if let Some((used, max)) = self.rate_used {
            let _ = writeln!(s, "  rate limit: {used} of {max} used in the current window");
        }
        if !self.instances.is_empty() {
            let _ = writeln!(s, "  state:");
            for i in &self.instances {
                let mut parts = Vec::new();
                if i.latched {
                    parts.push("latched".to_owned());
                }
                if i.active {
                    parts.push("active (fired)".to_owned());
                }
                if let Some(t) = i.hold_until {
                    parts.push(format!("for-duration fires at {}", time(t, tz)));
                }
                if let Some(t) = i.debounce_until {
                    parts.push(format!("debounce ends {}", time(t, tz)));
                }
                if let Some(t) = i.cooldown_until {
                    parts.push(format!("cooldown until {}", time(t, tz)));
                }
                if parts.is_empty() {
                    parts.push("idle".into());
                }
                let _ = writeln!(s, "    {}: {}", i.key, parts.join(", "));
            }
        }
        if self.recent.is_empty() {
            let _ = writeln!(s, "  no evaluations yet: no trigger has matched since the rules were loaded");
        } else {
            let _ = writeln!(s, "  recent evaluations (newest first):");
        }
        for e in &self.recent {
            let mut head = format!("    {} {}", time(e.at, tz), e.trigger);
            if let Some(a) = &e.agent {
                let _ = write!(head, " on {a}");
            }
            if let Some(p) = &e.path {
                let _ = write!(head, ": {p}");
            }
            if let Some(v) = &e.value {
                let _ = write!(head, " = {v:?}");
            }
            let _ = writeln!(s, "{head}");
            for c in &e.checks {
                let vals = match &c.rhs {
                    Some(r) => format!("{} vs {}", c.lhs, r),
                    None => c.lhs.to_string(),
                };
                let _ =
                    writeln!(s, "      {} [{}] → {}", c.text, vals, if c.held { "held" } else { "failed" });
            }
            if let Some((v, latched)) = &e.hysteresis {
                let _ =
                    writeln!(s, "      hysteresis: {v} → {}", if *latched { "latched on" } else { "off" });
            }
            let _ = writeln!(s, "      ⇒ {}", e.verdict.describe(tz));
        }
        s
    }
}
