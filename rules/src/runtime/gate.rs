//! [`ScheduleGate`]: "may this engine act on this schedule firing?", asked
//! before a schedule-triggered rule runs.
//!
//! Several appliances of one mesh run the same rules; a schedule
//! (`every 15m`, `mon-fri at 22:00`) falls due on each of them at the same
//! moment, and its actions must happen once. The runtime asks the gate about
//! the [`Firing`] — named the same on every node by its [`Firing::key`] —
//! and runs the rule only on a yes. A gate may also answer no and hand the
//! firing to another engine, which runs it through
//! [`RulesHandle::run_firing`](super::RulesHandle::run_firing). The
//! appliance implements it on NATS (a lease per key, first claim wins, and
//! the winner puts the firing on the site's job queue); this crate does not
//! know NATS.

use std::{future::Future, pin::Pin, sync::Arc, time::SystemTime};

/// The answer of [`ScheduleGate::may_act`].
pub type GateFuture = Pin<Box<dyn Future<Output = bool> + Send + 'static>>;

/// One firing of a schedule trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    /// The rule.
    pub rule: Arc<str>,
    /// The index of the schedule among the rule's triggers.
    pub trigger: usize,
    /// When the schedule fell due (its scheduled time, the same on every
    /// node).
    pub at: SystemTime,
}

impl Firing {
    /// The firing's name on every node: see [`firing_key`].
    pub fn key(&self) -> String {
        firing_key(&self.rule, self.at)
    }
}

/// Decides which engine acts on a schedule firing.
pub trait ScheduleGate: Send + Sync + std::fmt::Debug + 'static {
    /// Whether this engine runs `firing` itself. Asked once per firing; a
    /// `false` skips it here (another engine acts, the gate handed it on,
    /// or the gate could not tell). An implementation should answer within
    /// seconds: the rule runs late by as much.
    fn may_act(&self, firing: Firing) -> GateFuture;
}

/// The key of one firing: `<rule>@<scheduled time in Unix ms>`. The
/// scheduled time (not the time the engine noticed it) makes the key equal
/// on every node whatever their timer jitter; nodes whose clocks differ by
/// more than a schedule's period could still both act.
pub fn firing_key(rule: &str, at: SystemTime) -> String {
    let ms = at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    format!("{rule}@{ms}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_names_rule_and_scheduled_time() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123);
        assert_eq!(firing_key("night-mode", at), "night-mode@1700000000123");
        let firing = Firing { rule: "night-mode".into(), trigger: 1, at };
        assert_eq!(firing.key(), "night-mode@1700000000123");
    }
}
