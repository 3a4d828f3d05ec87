//! QoS 1 deliveries sent to a client and not yet acknowledged (sans-I/O).
//!
//! The window is the smaller of `limits.max_inflight` and the client's MQTT 5
//! Receive Maximum. Packet identifiers are handed out in increasing order,
//! skipping 0 and any still in flight. Sessions are not kept, so nothing here
//! is ever retransmitted: what is in flight when the connection ends is lost
//! and counted.

use std::collections::VecDeque;

/// Identifiers run 1..=65535.
const IDS: u64 = u16::MAX as u64;

/// The packet identifiers in flight, oldest first, each with the sequence
/// number of its allocation (nothing else is needed: nothing is
/// retransmitted).
#[derive(Debug)]
pub(crate) struct Inflight {
    window: usize,
    /// Allocations made so far.
    allocated: u64,
    slots: VecDeque<(u16, u64)>,
}

impl Inflight {
    pub(crate) fn new(window: u16) -> Inflight {
        Inflight { window: usize::from(window.max(1)), allocated: 0, slots: VecDeque::new() }
    }

    /// How many more QoS 1 deliveries may be sent now.
    pub(crate) fn room(&self) -> usize {
        self.window.saturating_sub(self.slots.len())
    }

    /// Takes a packet identifier for a delivery, or `None` when the window
    /// is full.
    pub(crate) fn push(&mut self) -> Option<u16> {
        if self.room() == 0 {
            return None;
        }
        // The next identifier can be in flight only if an identifier
        // allocated a whole cycle (65535 allocations) ago still is: look only
        // then. At most `window` (< 65535) identifiers are in use, so a free
        // one is found within `window + 1` steps.
        let oldest = self.slots.front().map_or(self.allocated, |(_, seq)| *seq);
        loop {
            let seq = self.allocated;
            self.allocated += 1;
            let id = (seq % IDS) as u16 + 1;
            if seq - oldest < IDS || !self.slots.iter().any(|(i, _)| *i == id) {
                self.slots.push_back((id, seq));
                return Some(id);
            }
        }
    }

    /// Handles a PUBACK; false if the identifier was not in flight.
    pub(crate) fn ack(&mut self, pkid: u16) -> bool {
        // Clients acknowledge in order almost always: look at the front first.
        let acked = match self.slots.iter().position(|(id, _)| *id == pkid) {
            Some(0) => self.slots.pop_front().is_some(),
            Some(at) => self.slots.remove(at).is_some(),
            None => false,
        };
        if self.slots.is_empty() && self.slots.capacity() > 16 {
            // An idle connection keeps no window storage.
            self.slots = VecDeque::new();
        }
        acked
    }

    /// Gives up everything in flight; returns how many deliveries were lost.
    pub(crate) fn clear(&mut self) -> usize {
        std::mem::take(&mut self.slots).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn window_and_identifiers() {
        let mut w = Inflight::new(2);
        assert_eq!(w.push(), Some(1));
        assert_eq!(w.push(), Some(2));
        assert_eq!(w.push(), None);
        assert!(w.ack(2));
        assert!(!w.ack(2));
        assert_eq!(w.push(), Some(3));
        assert_eq!(w.clear(), 2);
    }

    #[test]
    fn identifiers_wrap_skipping_zero_and_those_in_flight() {
        let mut w = Inflight::new(3);
        assert_eq!(w.push(), Some(1), "held for a whole cycle");
        for _ in 0..IDS - 2 {
            let id = w.push().unwrap();
            assert!(w.ack(id));
        }
        assert_eq!(w.push(), Some(u16::MAX));
        assert_eq!(w.push(), Some(2), "1 is still in flight, 0 is never used");
    }

    proptest! {
        /// Identifiers in flight are never 0 and never repeated.
        #[test]
        fn identifiers_in_flight_are_distinct(window in 1u16..20, acks in proptest::collection::vec(any::<bool>(), 0..3000)) {
            let mut w = Inflight::new(window);
            for ack_oldest in acks {
                if ack_oldest {
                    if let Some(&(id, _)) = w.slots.front() {
                        prop_assert!(w.ack(id));
                    }
                } else if let Some(id) = w.push() {
                    prop_assert_ne!(id, 0);
                    prop_assert_eq!(w.slots.iter().filter(|(i, _)| *i == id).count(), 1);
                }
                prop_assert!(w.slots.len() <= usize::from(window));
            }
        }
    }
}
