//! Outstanding requests and their deadlines.
//!
//! Two indexes over the same entries: by request id (to match a response)
//! and by deadline (to find what timed out, and when to wake up next). A
//! `BTreeSet` of `(deadline, id)` keeps the earliest deadline exact after
//! every removal, so [`PendingTable::next_deadline`] never reports a request
//! that was already answered and memory stays proportional to what is
//! outstanding.

use std::{
    collections::{BTreeSet, HashMap},
    time::{Duration, Instant},
};

use usp_proto::MsgKind;

/// One outstanding request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pending {
    /// The request's kind, to check the response kind against.
    pub(crate) kind: MsgKind,
    /// When it times out; `None` if `now + timeout` is not representable.
    pub(crate) deadline: Option<Instant>,
    /// The timeout it was given.
    pub(crate) timeout: Duration,
}

/// Outstanding requests by id and by deadline.
#[derive(Debug, Default)]
pub(crate) struct PendingTable {
    by_id: HashMap<u64, Pending>,
    by_deadline: BTreeSet<(Instant, u64)>,
}

impl PendingTable {
    pub(crate) fn insert(&mut self, id: u64, kind: MsgKind, now: Instant, timeout: Duration) {
        let deadline = now.checked_add(timeout);
        if let Some(old) = self.by_id.insert(id, Pending { kind, deadline, timeout }) {
            // Ids are unique per generator; a reused id replaces its entry.
            if let Some(d) = old.deadline {
                self.by_deadline.remove(&(d, id));
            }
        }
        if let Some(d) = deadline {
            self.by_deadline.insert((d, id));
        }
    }

    pub(crate) fn remove(&mut self, id: u64) -> Option<Pending> {
        let p = self.by_id.remove(&id)?;
        if let Some(d) = p.deadline {
            self.by_deadline.remove(&(d, id));
        }
        Some(p)
    }

    /// Removes and returns one request whose deadline is at or before `now`.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<(u64, Pending)> {
        let &(deadline, id) = self.by_deadline.first()?;
        if deadline > now {
            return None;
        }
        self.by_deadline.pop_first();
        self.by_id.remove(&id).map(|p| (id, p))
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.by_deadline.first().map(|&(d, _)| d)
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (u64, Pending)> + '_ {
        self.by_deadline.clear();
        self.by_id.drain()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_order_and_exact_next_deadline() {
        let t0 = Instant::now();
        let mut p = PendingTable::default();
        p.insert(1, MsgKind::Get, t0, Duration::from_secs(5));
        p.insert(2, MsgKind::Set, t0, Duration::from_secs(1));
        p.insert(3, MsgKind::Add, t0, Duration::from_secs(3));
        assert_eq!(p.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert!(p.remove(2).is_some());
        assert_eq!(p.next_deadline(), Some(t0 + Duration::from_secs(3)), "answered requests leave no trace");
        assert!(p.pop_expired(t0 + Duration::from_secs(2)).is_none());
        assert_eq!(p.pop_expired(t0 + Duration::from_secs(10)).map(|(id, _)| id), Some(3));
        assert_eq!(p.pop_expired(t0 + Duration::from_secs(10)).map(|(id, _)| id), Some(1));
        assert_eq!((p.len(), p.next_deadline()), (0, None));
    }

    #[test]
    fn an_unrepresentable_deadline_never_expires() {
        let t0 = Instant::now();
        let mut p = PendingTable::default();
        p.insert(1, MsgKind::Get, t0, Duration::MAX);
        assert_eq!(p.next_deadline(), None);
        assert_eq!(p.len(), 1);
        assert_eq!(p.remove(1).map(|e| e.kind), Some(MsgKind::Get));
    }

    #[test]
    fn reinserting_an_id_replaces_its_deadline() {
        let t0 = Instant::now();
        let mut p = PendingTable::default();
        p.insert(1, MsgKind::Get, t0, Duration::from_secs(1));
        p.insert(1, MsgKind::Get, t0, Duration::from_secs(9));
        assert_eq!(p.next_deadline(), Some(t0 + Duration::from_secs(9)));
        assert_eq!(p.drain().count(), 1);
        assert_eq!(p.next_deadline(), None);
    }
}
