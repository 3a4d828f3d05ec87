//! Topic filter → subscribers, looked up by topic without scanning.
//!
//! Filters fall in three kinds:
//!
//! * **exact** (no wildcard): a hash map from the filter to its subscribers;
//! * **subtree** (`P/#` with no wildcard in `P`, and `#` itself): a hash map
//!   from `P` (`""` for `#`), probed with every `/`-prefix of the topic —
//!   three probes for `usp/agent/<eid>`. Every 3.1.1 endpoint subscribes
//!   like this (`usp/agent/<eid>/#`);
//! * **other** wildcard filters (with `+`, or `#` after `+`): a list scanned
//!   with rumqttd's `matches`; only admin tools use these, and the scan is
//!   skipped entirely while the list is empty.
//!
//! The maps are [`DashMap`]s: lookups from many publishing connections run in
//! parallel, and no shard lock is held beyond copying the subscriber entries
//! out.

use std::sync::{
    Arc, RwLock,
    atomic::{AtomicUsize, Ordering},
};

use dashmap::DashMap;
use rumqttd::protocol::QoS;

use super::Outbox;
use crate::registry::ConnectionId;

/// One subscription of one connection.
#[derive(Debug, Clone)]
pub(crate) struct Subscriber {
    pub(crate) connection: ConnectionId,
    pub(crate) outbox: Arc<Outbox>,
    /// Granted QoS (0 or 1).
    pub(crate) qos: QoS,
    /// MQTT 5 No Local: do not deliver the connection's own messages.
    pub(crate) no_local: bool,
}

#[derive(Debug, Default)]
pub(crate) struct SubscriptionIndex {
    exact: DashMap<Box<str>, Vec<Subscriber>>,
    subtree: DashMap<Box<str>, Vec<Subscriber>>,
    subtree_count: AtomicUsize,
    other: RwLock<Vec<(Box<str>, Subscriber)>>,
    other_count: AtomicUsize,
}

enum Kind<'a> {
    Exact(&'a str),
    Subtree(&'a str),
    Other,
}

fn kind(filter: &str) -> Kind<'_> {
    if filter == "#" {
        return Kind::Subtree("");
    }
    match filter.strip_suffix("/#") {
        Some(prefix) if !prefix.contains(['+', '#']) => Kind::Subtree(prefix),
        _ if !filter.contains(['+', '#']) => Kind::Exact(filter),
        _ => Kind::Other,
    }
}

/// Inserts or replaces (same connection) a subscriber; true if it was new.
fn upsert(list: &mut Vec<Subscriber>, sub: Subscriber) -> bool {
    match list.iter_mut().find(|s| s.connection == sub.connection) {
        Some(existing) => {
            *existing = sub;
            false
        }
        None => {
            list.push(sub);
            true
        }
    }
}

fn remove_from(map: &DashMap<Box<str>, Vec<Subscriber>>, key: &str, connection: ConnectionId) -> bool {
    let mut removed = false;
    map.remove_if_mut(key, |_, list| {
        let before = list.len();
        list.retain(|s| s.connection != connection);
        removed = list.len() != before;
        list.is_empty()
    });
    removed
}

impl SubscriptionIndex {
    /// Adds (or replaces, for the same connection) a subscription. Returns
    /// true if the connection had no subscription with this filter before.
    pub(crate) fn insert(&self, filter: &str, sub: Subscriber) -> bool {
        match kind(filter) {
            Kind::Exact(f) => upsert(&mut self.exact.entry(Box::from(f)).or_default(), sub),
            Kind::Subtree(p) => {
                let new = upsert(&mut self.subtree.entry(Box::from(p)).or_default(), sub);
                if new {
                    self.subtree_count.fetch_add(1, Ordering::Relaxed);
                }
                new
            }
            Kind::Other => {
                let mut other = self.other.write().unwrap_or_else(std::sync::PoisonError::into_inner);
                match other.iter_mut().find(|(f, s)| &**f == filter && s.connection == sub.connection) {
                    Some((_, existing)) => {
                        *existing = sub;
                        false
                    }
                    None => {
                        other.push((Box::from(filter), sub));
                        self.other_count.fetch_add(1, Ordering::Relaxed);
                        true
                    }
                }
            }
        }
    }

    /// Removes a connection's subscription; true if there was one.
    pub(crate) fn remove(&self, filter: &str, connection: ConnectionId) -> bool {
        match kind(filter) {
            Kind::Exact(f) => remove_from(&self.exact, f, connection),
            Kind::Subtree(p) => {
                let removed = remove_from(&self.subtree, p, connection);
                if removed {
                    self.subtree_count.fetch_sub(1, Ordering::Relaxed);
                }
                removed
            }
            Kind::Other => {
                let mut other = self.other.write().unwrap_or_else(std::sync::PoisonError::into_inner);
                let before = other.len();
                other.retain(|(f, s)| !(&**f == filter && s.connection == connection));
                let removed = other.len() != before;
                if removed {
                    self.other_count.fetch_sub(1, Ordering::Relaxed);
                }
                removed
            }
        }
    }

    /// Appends every subscription matching `topic` to `out` (a connection
    /// may appear more than once, once per matching filter).
    pub(crate) fn collect(&self, topic: &str, out: &mut Vec<Subscriber>) {
        if let Some(list) = self.exact.get(topic) {
            out.extend(list.iter().cloned());
        }
        if self.subtree_count.load(Ordering::Relaxed) > 0 {
            let probe = |prefix: &str, out: &mut Vec<Subscriber>| {
                if let Some(list) = self.subtree.get(prefix) {
                    out.extend(list.iter().cloned());
                }
            };
            probe("", out);
            for (at, _) in topic.match_indices('/') {
                probe(&topic[..at], out);
            }
            probe(topic, out);
        }
        if self.other_count.load(Ordering::Relaxed) > 0 {
            let other = self.other.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            for (filter, sub) in other.iter() {
                if rumqttd::protocol::matches(topic, filter) {
                    out.push(sub.clone());
                }
            }
        }
    }

    /// Number of subscriptions held (for tests and figures).
    pub(crate) fn len(&self) -> usize {
        let exact: usize = self.exact.iter().map(|e| e.value().len()).sum();
        exact + self.subtree_count.load(Ordering::Relaxed) + self.other_count.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sub(id: u64) -> Subscriber {
        Subscriber {
            connection: ConnectionId(id),
            outbox: Arc::new(Outbox::new(1, 1)),
            qos: QoS::AtMostOnce,
            no_local: false,
        }
    }

    fn matching(index: &SubscriptionIndex, topic: &str) -> Vec<u64> {
        let mut out = Vec::new();
        index.collect(topic, &mut out);
        let mut ids: Vec<u64> = out.iter().map(|s| s.connection.0).collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn all_three_kinds_match() {
        let index = SubscriptionIndex::default();
        assert!(index.insert("usp/agent/a", sub(1)));
        assert!(index.insert("usp/agent/a/#", sub(2)));
        assert!(index.insert("#", sub(3)));
        assert!(index.insert("usp/+/a", sub(4)));
        assert!(index.insert("usp/agent/b", sub(5)));
        assert!(!index.insert("usp/agent/a", sub(1)), "same connection, same filter: replaced");
        assert_eq!(index.len(), 5);
        assert_eq!(matching(&index, "usp/agent/a"), vec![1, 2, 3, 4]);
        assert_eq!(matching(&index, "usp/agent/a/x"), vec![2, 3]);
        assert_eq!(matching(&index, "usp/agent/ab"), vec![3]);
        assert!(index.remove("usp/agent/a/#", ConnectionId(2)));
        assert!(!index.remove("usp/agent/a/#", ConnectionId(2)));
        assert!(index.remove("usp/+/a", ConnectionId(4)));
        assert!(index.remove("#", ConnectionId(3)));
        assert_eq!(matching(&index, "usp/agent/a"), vec![1]);
        assert_eq!(index.len(), 2);
    }

    proptest! {
        /// The index agrees with rumqttd's `matches` on every filter kind.
        #[test]
        fn agrees_with_matches(
            filters in proptest::collection::vec("(a|b|\\+)(/(a|b|\\+)){0,2}(/#)?|#", 1..6),
            topic in "(a|b)(/(a|b)){0,3}",
        ) {
            let index = SubscriptionIndex::default();
            for (i, f) in filters.iter().enumerate() {
                index.insert(f, sub(i as u64));
            }
            let mut expected: Vec<u64> = filters
                .iter()
                .enumerate()
                .filter(|(_, f)| rumqttd::protocol::matches(&topic, f))
                .map(|(i, _)| i as u64)
                .collect();
            expected.sort_unstable();
            prop_assert_eq!(matching(&index, &topic), expected);
        }
    }
}
