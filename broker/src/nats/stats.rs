//! Counters of the NATS side, read with [`NatsStats::snapshot`].

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters (atomics, updated where things happen).
#[derive(Debug, Default)]
pub(crate) struct NatsStats {
    pub(crate) forwarded: AtomicU64,
    pub(crate) forward_dropped: AtomicU64,
    pub(crate) forwarded_unlisted: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) received_refused: AtomicU64,
    pub(crate) received_dropped: AtomicU64,
    pub(crate) events_published: AtomicU64,
    pub(crate) events_dropped: AtomicU64,
    pub(crate) events_failed: AtomicU64,
    pub(crate) rule_jobs_submitted: AtomicU64,
    pub(crate) rule_jobs_taken: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct NatsStatsSnapshot {
    /// Records sent to other nodes.
    pub forwarded: u64,
    /// Records for other nodes dropped because the send queue was full.
    pub forward_dropped: u64,
    /// Of `forwarded`, those whose addressee the shared registry did not
    /// list yet (just connected elsewhere, or connected nowhere: NATS then
    /// drops it, as a broker drops a PUBLISH nobody subscribed to).
    pub forwarded_unlisted: u64,
    /// Records received from other nodes (or NATS clients) and routed here.
    pub received: u64,
    /// Records received that were refused (not a Record, too large, or
    /// `to_id` not the endpoint of the subject).
    pub received_refused: u64,
    /// Deliveries of received Records dropped on full local queues.
    pub received_dropped: u64,
    /// Events stored by the stream (acknowledged).
    pub events_published: u64,
    /// Events dropped because the event queue was full.
    pub events_dropped: u64,
    /// Events the stream did not acknowledge.
    pub events_failed: u64,
    /// Rule jobs this node submitted to the site's queue group.
    pub rule_jobs_submitted: u64,
    /// Rule jobs the queue group gave this node.
    pub rule_jobs_taken: u64,
}

impl NatsStats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The current values.
    pub(crate) fn snapshot(&self) -> NatsStatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        NatsStatsSnapshot {
            forwarded: get(&self.forwarded),
            forward_dropped: get(&self.forward_dropped),
            forwarded_unlisted: get(&self.forwarded_unlisted),
            received: get(&self.received),
            received_refused: get(&self.received_refused),
            received_dropped: get(&self.received_dropped),
            events_published: get(&self.events_published),
            events_dropped: get(&self.events_dropped),
            events_failed: get(&self.events_failed),
            rule_jobs_submitted: get(&self.rule_jobs_submitted),
            rule_jobs_taken: get(&self.rule_jobs_taken),
        }
    }
}
