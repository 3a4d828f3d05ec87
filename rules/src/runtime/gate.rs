//! [`ScheduleGate`]: "may this engine act on this schedule firing?", asked
//! before a schedule-triggered rule runs.
//!
//! Several appliances of one mesh run the same rules; a schedule
//! (`every 15m`, `mon-fri at 22:00`) falls due on each of them at the same
//! moment, and its actions must happen once. The runtime asks the gate with
//! a key that names the firing — the same on every node — and runs the
//! rule only on a yes. The appliance implements it on NATS (a lease per
//! key, first claim wins); this crate does not know NATS.

use std::{future::Future, pin::Pin, time::SystemTime};

/// The answer of [`ScheduleGate::may_act`].
pub type GateFuture = Pin<Box<dyn Future<Output = bool> + Send + 'static>>;

/// Decides which engine acts on a schedule firing.
pub trait ScheduleGate: Send + Sync + std::fmt::Debug + 'static {
    /// Whether this engine may act on the firing `key` (see
    /// [`firing_key`]). Asked once per firing; a `false` (another engine
    /// acts, or the gate could not tell) skips the firing here. An
    /// implementation should answer within seconds: the rule runs late by
    /// as much.
    fn may_act(&self, key: String) -> GateFuture;
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
    }
}
