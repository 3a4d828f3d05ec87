//! The engine's timers: deadlines in a sorted map.
//!
//! A timer is identified by its deadline and a sequence number, so it can be
//! cancelled in O(log n) and the next deadline is the map's first key.
//! Timers name rules by name (not index) so they survive a reload.

use std::{collections::BTreeMap, sync::Arc};

use crate::time::Ms;

/// Identifies an armed timer (its deadline comes first, for ordering).
pub(crate) type TimerId = (Ms, u64);

/// What a timer does when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TimerKind {
    /// A for-duration of a rule instance has elapsed.
    Hold { rule: Arc<str>, key: Arc<str> },
    /// A debounced rule instance has been quiet long enough.
    Debounce { rule: Arc<str>, key: Arc<str> },
    /// A sequence's `delay` step is over.
    Delay { run: u64 },
    /// An Operate followed to its OperationComplete took too long.
    Operation { command_key: Arc<str> },
    /// A schedule trigger is due (`trigger` = index in the rule's triggers).
    Schedule { rule: Arc<str>, trigger: usize },
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    map: BTreeMap<TimerId, TimerKind>,
    seq: u64,
}

impl Timers {
    pub(crate) fn arm(&mut self, at: Ms, kind: TimerKind) -> TimerId {
        self.seq += 1;
        let id = (at, self.seq);
        self.map.insert(id, kind);
        id
    }

    pub(crate) fn cancel(&mut self, id: TimerId) -> Option<TimerKind> {
        self.map.remove(&id)
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Ms> {
        self.map.keys().next().map(|(at, _)| *at)
    }

    /// Takes the earliest timer if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Ms) -> Option<(TimerId, TimerKind)> {
        let (&id, _) = self.map.iter().next()?;
        if id.0 > now {
            return None;
        }
        self.map.remove(&id).map(|k| (id, k))
    }

    /// Cancels every timer `drop` selects.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&TimerKind) -> bool) {
        self.map.retain(|_, k| keep(k));
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_in_deadline_order_and_cancellable() {
        let mut t = Timers::default();
        let a = t.arm(30, TimerKind::Delay { run: 1 });
        t.arm(10, TimerKind::Delay { run: 2 });
        t.arm(10, TimerKind::Delay { run: 3 });
        assert_eq!(t.next(), Some(10));
        assert_eq!(t.pop_due(5), None);
        assert_eq!(
            t.pop_due(10).map(|(_, k)| k),
            Some(TimerKind::Delay { run: 2 }),
            "same deadline: armed first"
        );
        assert_eq!(t.pop_due(10).map(|(_, k)| k), Some(TimerKind::Delay { run: 3 }));
        assert_eq!(t.cancel(a), Some(TimerKind::Delay { run: 1 }));
        assert_eq!(t.next(), None);
        t.arm(1, TimerKind::Delay { run: 9 });
        t.retain(|k| *k != TimerKind::Delay { run: 9 });
        assert_eq!(t.len(), 0);
    }
}
