//! Recognising retried Notify messages.
//!
//! An Agent that gets no NotifyResp re-sends the same Msg with the same
//! `msg_id` (agent-datamodel.md §4.2, R-NOT.1). The Controller must answer
//! every copy — the first answer may be what got lost — but act on it once.
//!
//! Entries are keyed by a keyed hash (std's randomly seeded SipHash) of
//! `(from_id, msg_id)`: no allocation per notification, and a peer cannot
//! aim collisions at another's ids because it cannot know the key. Entries
//! live for a window after their first sighting and the table is bounded;
//! past either bound, a late retry is delivered again. The defaults (one
//! hour, 16 384 entries) cover the default retry schedule up to the 8th
//! retry (cumulative 1275–2550 s).

use std::{
    collections::{HashMap, VecDeque},
    hash::{BuildHasher, RandomState},
    time::{Duration, Instant},
};

#[derive(Debug)]
pub(crate) struct NotifyDedup {
    hasher: RandomState,
    seen: HashMap<u64, Instant>,
    order: VecDeque<(Instant, u64)>,
    window: Duration,
    capacity: usize,
}

impl NotifyDedup {
    pub(crate) fn new(window: Duration, capacity: usize) -> NotifyDedup {
        NotifyDedup {
            hasher: RandomState::new(),
            seen: HashMap::new(),
            order: VecDeque::new(),
            window,
            capacity: capacity.max(1),
        }
    }

    fn key(&self, from: &str, msg_id: &str) -> u64 {
        self.hasher.hash_one((from, msg_id))
    }

    /// Records a sighting; true if `(from, msg_id)` was not seen within the
    /// window.
    pub(crate) fn first_sighting(&mut self, from: &str, msg_id: &str, now: Instant) -> bool {
        self.expire(now);
        let key = self.key(from, msg_id);
        if self.seen.contains_key(&key) {
            return false;
        }
        while self.seen.len() >= self.capacity {
            let Some((at, old)) = self.order.pop_front() else { break };
            self.remove_if_at(old, at);
        }
        self.seen.insert(key, now);
        self.order.push_back((now, key));
        true
    }

    /// Forgets a sighting, so the next copy is delivered as new.
    pub(crate) fn forget(&mut self, from: &str, msg_id: &str) {
        let key = self.key(from, msg_id);
        self.seen.remove(&key);
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(at, key)) = self.order.front() {
            if now.saturating_duration_since(at) < self.window {
                break;
            }
            self.order.pop_front();
            self.remove_if_at(key, at);
        }
    }

    /// Removes `key` only if it is still the sighting made at `at` (a
    /// forgotten and re-seen key has a newer entry that must stay).
    fn remove_if_at(&mut self, key: u64, at: Instant) {
        if self.seen.get(&key) == Some(&at) {
            self.seen.remove(&key);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_within_the_window_are_recognised() {
        let t0 = Instant::now();
        let mut d = NotifyDedup::new(Duration::from_secs(60), 100);
        assert!(d.first_sighting("proto::a", "n1", t0));
        assert!(!d.first_sighting("proto::a", "n1", t0 + Duration::from_secs(10)));
        assert!(d.first_sighting("proto::b", "n1", t0), "ids are per sender");
        assert!(d.first_sighting("proto::a", "n1", t0 + Duration::from_secs(61)), "expired");
    }

    #[test]
    fn capacity_evicts_the_oldest() {
        let t0 = Instant::now();
        let mut d = NotifyDedup::new(Duration::from_secs(60), 2);
        assert!(d.first_sighting("a", "1", t0));
        assert!(d.first_sighting("a", "2", t0));
        assert!(d.first_sighting("a", "3", t0));
        assert_eq!(d.len(), 2);
        assert!(!d.first_sighting("a", "3", t0));
        assert!(d.first_sighting("a", "1", t0), "evicted, so new again");
    }

    #[test]
    fn forgetting_lets_the_retry_through_and_keeps_it_afterwards() {
        let t0 = Instant::now();
        let mut d = NotifyDedup::new(Duration::from_secs(60), 100);
        assert!(d.first_sighting("a", "1", t0));
        d.forget("a", "1");
        let t1 = t0 + Duration::from_secs(30);
        assert!(d.first_sighting("a", "1", t1));
        // The first sighting's expiry must not remove the second one.
        assert!(!d.first_sighting("a", "1", t0 + Duration::from_secs(70)));
        assert!(d.first_sighting("a", "1", t1 + Duration::from_secs(61)));
    }
}
