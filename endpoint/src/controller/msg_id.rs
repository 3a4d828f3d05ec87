//! Message ids: a per-instance boot prefix and a counter.
//!
//! A Controller must not reuse a `msg_id` while a request with it is
//! outstanding (R-MSG.4 makes the Agent drop such duplicates), and a
//! restarted Controller must not pick up ids its previous life used: a late
//! response to the old request would be taken for the answer to the new
//! one. Ids are therefore `"<prefix>-<n>"`, where the prefix is 64 random
//! bits drawn once per [`MsgIdGen`] (so per process start) and `n` counts
//! up from 1. Building an id is one small formatting step, and matching a
//! response back is a prefix check and an integer parse — no string map.

use std::fmt::Write;

/// Generates and recognises message ids.
#[derive(Debug, Clone)]
pub struct MsgIdGen {
    prefix: String,
    next: u64,
}

impl MsgIdGen {
    /// A generator with a random 64-bit prefix (16 hex digits).
    ///
    /// Without an OS random source, the prefix is derived from the wall
    /// clock and the process id, which still differs between restarts.
    pub fn random() -> MsgIdGen {
        let bits = getrandom::u64().unwrap_or_else(|_| fallback_seed());
        MsgIdGen::with_prefix(format!("{bits:016x}"))
    }

    /// A generator with a fixed prefix (tests, or a prefix persisted by the
    /// caller).
    pub fn with_prefix(prefix: impl Into<String>) -> MsgIdGen {
        MsgIdGen { prefix: prefix.into(), next: 1 }
    }

    /// The prefix every id of this generator starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The next id and its counter value.
    pub fn next_id(&mut self) -> (u64, String) {
        let n = self.next;
        self.next = self.next.wrapping_add(1).max(1);
        let mut id = String::with_capacity(self.prefix.len() + 21);
        id.push_str(&self.prefix);
        // Writing to a String cannot fail.
        let _ = write!(id, "-{n}");
        (n, id)
    }

    /// The counter value of an id this generator made, or `None` for any
    /// other string (another prefix, or not exactly the canonical decimal
    /// form, so that `"p-007"` or `"p-+7"` do not alias `"p-7"`).
    pub fn parse(&self, msg_id: &str) -> Option<u64> {
        let digits = msg_id.strip_prefix(self.prefix.as_str())?.strip_prefix('-')?;
        let canonical = !digits.is_empty()
            && digits.len() <= 20
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits.len() == 1 || !digits.starts_with('0'));
        if !canonical {
            return None;
        }
        digits.parse().ok()
    }
}

fn fallback_seed() -> u64 {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_count_up_and_parse_back() {
        let mut g = MsgIdGen::with_prefix("abc");
        assert_eq!(g.next_id(), (1, "abc-1".to_owned()));
        assert_eq!(g.next_id(), (2, "abc-2".to_owned()));
        assert_eq!(g.parse("abc-2"), Some(2));
        for other in ["abd-2", "abc2", "abc-", "abc-02", "abc-+2", "abc-2x", "", "abc-99999999999999999999"] {
            assert_eq!(g.parse(other), None, "{other}");
        }
        assert_eq!(g.parse("abc-0"), Some(0), "canonical, even if never issued");
    }

    #[test]
    fn random_prefixes_differ_between_instances() {
        let (a, b) = (MsgIdGen::random(), MsgIdGen::random());
        assert_eq!(a.prefix().len(), 16);
        assert_ne!(a.prefix(), b.prefix());
    }

    #[test]
    fn the_counter_skips_zero_when_it_wraps() {
        let mut g = MsgIdGen { prefix: "p".into(), next: u64::MAX };
        assert_eq!(g.next_id().0, u64::MAX);
        assert_eq!(g.next_id().0, 1);
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(s in ".{0,40}", n in 1u64..u64::MAX) {
            let g = MsgIdGen::with_prefix("p");
            let _ = g.parse(&s);
            let mut g2 = MsgIdGen { prefix: "p".into(), next: n };
            let (k, id) = g2.next_id();
            prop_assert_eq!(g.parse(&id), Some(k));
        }
    }
}
