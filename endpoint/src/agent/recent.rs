//! The requests seen last, to drop repeats (R-MSG.4).
//!
//! R-MSG.4 asks that a request whose `msg_id` repeats one not yet answered
//! be ignored. This core answers every request before it takes the next,
//! so a repeat always comes after the answer; whether an id may be reused
//! then is left to the implementation. **Choice:** the last N `(sender,
//! msg_id)` pairs are remembered and a repeat among them is ignored — a
//! request the MTP delivers twice (an MQTT redelivery, the same request
//! over two MTPs) runs once. Controllers use a fresh msg_id per request
//! (R-MSG.8), so none is refused by this.

use std::collections::VecDeque;

/// A bounded memory of `(sender, msg_id)` pairs.
#[derive(Debug)]
pub(crate) struct Recent {
    seen: VecDeque<(Box<str>, Box<str>)>,
    capacity: usize,
}

impl Recent {
    pub(crate) fn new(capacity: usize) -> Recent {
        Recent { seen: VecDeque::with_capacity(capacity.min(1024)), capacity }
    }

    /// True if `(from, msg_id)` was seen among the last N; remembers it
    /// otherwise.
    pub(crate) fn repeat(&mut self, from: &str, msg_id: &str) -> bool {
        if self.capacity == 0 {
            return false;
        }
        if self.seen.iter().any(|(f, m)| &**f == from && &**m == msg_id) {
            return true;
        }
        if self.seen.len() >= self.capacity {
            self.seen.pop_front();
        }
        self.seen.push_back((from.into(), msg_id.into()));
        false
    }

    /// Forgets a sender (it disconnected: its ids start afresh).
    pub(crate) fn forget(&mut self, from: &str) {
        self.seen.retain(|(f, _)| &**f != from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_within_the_window_only() {
        let mut r = Recent::new(2);
        assert!(!r.repeat("a", "1"));
        assert!(r.repeat("a", "1"));
        assert!(!r.repeat("b", "1"), "per sender");
        assert!(!r.repeat("a", "2"));
        assert!(!r.repeat("a", "1"), "pushed out of the window");
        r.forget("a");
        assert!(!r.repeat("a", "2"));
        assert!(!Recent::new(0).repeat("a", "1"));
    }
}
