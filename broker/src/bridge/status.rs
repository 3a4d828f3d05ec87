//! The bridge's counters: atomics read by [`BridgeHandle::status`](super::BridgeHandle::status),
//! mirrored to `metrics`, and a change signal tests and operators can await.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use metrics::{counter, gauge};
use tokio::sync::watch;

use super::queue::Recovery;

/// A snapshot of the bridge's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeStatus {
    /// The uplink session is up (CONNACK received).
    pub connected: bool,
    /// Entries waiting in the on-disk queue (including those in flight).
    pub queued: u64,
    /// Bytes of those entries.
    pub queued_bytes: u64,
    /// Entries acknowledged by the cloud server (PUBACK) since start.
    pub delivered: u64,
    /// Entries the queue discarded under `drop-oldest` since start.
    pub dropped_oldest: u64,
    /// Entries the queue refused under `drop-newest` since start.
    pub dropped_newest: u64,
    /// Entries discarded for other reasons since start (too large for the
    /// queue, refused by the cloud server with an error PUBACK, a disk error).
    pub dropped_other: u64,
    /// Records from the cloud handed to the local broker since start.
    pub received: u64,
    /// Records from the cloud refused since start (not a Record, `from_id`
    /// not a configured cloud Controller, `to_id` a cloud Controller, or the
    /// local broker refused them).
    pub refused: u64,
    /// Uplink sessions established since start.
    pub sessions: u64,
    /// Undelivered entries found on disk at start (left by an earlier run).
    pub recovered: u64,
    /// Queue segments found damaged at start (a truncated or corrupt tail,
    /// skipped from the damage on; logged).
    pub damaged_segments: u64,
}

#[derive(Debug)]
pub(crate) struct Status {
    connected: AtomicBool,
    queued: AtomicU64,
    queued_bytes: AtomicU64,
    delivered: AtomicU64,
    dropped_oldest: AtomicU64,
    dropped_newest: AtomicU64,
    dropped_other: AtomicU64,
    received: AtomicU64,
    refused: AtomicU64,
    sessions: AtomicU64,
    recovered: u64,
    damaged_segments: u64,
    changed: watch::Sender<()>,
}

/// Which drop counter to bump.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dropped {
    Oldest,
    Newest,
    Other,
}

impl Status {
    pub(crate) fn new(recovery: Recovery) -> Status {
        Status {
            connected: AtomicBool::new(false),
            queued: AtomicU64::new(0),
            queued_bytes: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            dropped_oldest: AtomicU64::new(0),
            dropped_newest: AtomicU64::new(0),
            dropped_other: AtomicU64::new(0),
            received: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            sessions: AtomicU64::new(0),
            recovered: recovery.entries as u64,
            damaged_segments: recovery.damaged_segments as u64,
            changed: watch::channel(()).0,
        }
    }

    pub(crate) fn snapshot(&self) -> BridgeStatus {
        BridgeStatus {
            connected: self.connected.load(Ordering::Acquire),
            queued: self.queued.load(Ordering::Acquire),
            queued_bytes: self.queued_bytes.load(Ordering::Acquire),
            delivered: self.delivered.load(Ordering::Acquire),
            dropped_oldest: self.dropped_oldest.load(Ordering::Acquire),
            dropped_newest: self.dropped_newest.load(Ordering::Acquire),
            dropped_other: self.dropped_other.load(Ordering::Acquire),
            received: self.received.load(Ordering::Acquire),
            refused: self.refused.load(Ordering::Acquire),
            sessions: self.sessions.load(Ordering::Acquire),
            recovered: self.recovered,
            damaged_segments: self.damaged_segments,
        }
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<()> {
        self.changed.subscribe()
    }

    fn changed(&self) {
        self.changed.send_replace(());
    }

    pub(crate) fn set_connected(&self, up: bool) {
        self.connected.store(up, Ordering::Release);
        if up {
            self.sessions.fetch_add(1, Ordering::AcqRel);
        }
        gauge!("usp_broker_bridge_connected").set(if up { 1.0 } else { 0.0 });
        self.changed();
    }

    pub(crate) fn set_queue(&self, entries: u64, bytes: u64) {
        self.queued.store(entries, Ordering::Release);
        self.queued_bytes.store(bytes, Ordering::Release);
        gauge!("usp_broker_bridge_queued").set(entries as f64);
        gauge!("usp_broker_bridge_queued_bytes").set(bytes as f64);
        self.changed();
    }

    pub(crate) fn delivered(&self) {
        self.delivered.fetch_add(1, Ordering::AcqRel);
        counter!("usp_broker_bridge_delivered_total").increment(1);
    }

    pub(crate) fn dropped(&self, why: Dropped, n: u64) {
        if n == 0 {
            return;
        }
        let (cell, reason) = match why {
            Dropped::Oldest => (&self.dropped_oldest, "oldest"),
            Dropped::Newest => (&self.dropped_newest, "newest"),
            Dropped::Other => (&self.dropped_other, "other"),
        };
        cell.fetch_add(n, Ordering::AcqRel);
        counter!("usp_broker_bridge_dropped_total", "reason" => reason).increment(n);
        self.changed();
    }

    pub(crate) fn received(&self) {
        self.received.fetch_add(1, Ordering::AcqRel);
        counter!("usp_broker_bridge_received_total").increment(1);
        self.changed();
    }

    pub(crate) fn refused(&self) {
        self.refused.fetch_add(1, Ordering::AcqRel);
        counter!("usp_broker_bridge_refused_total").increment(1);
        self.changed();
    }
}

#[cfg(test)]
mod tests {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;

    #[test]
    fn counters_and_gauges_reach_metrics() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let status = Status::new(Recovery { entries: 4, damaged_segments: 1 });
        metrics::with_local_recorder(&recorder, || {
            status.dropped(Dropped::Oldest, 3);
            status.dropped(Dropped::Newest, 2);
            status.dropped(Dropped::Other, 0);
            status.delivered();
            status.set_queue(7, 700);
            status.set_connected(true);
        });
        let snapshot = snapshotter.snapshot().into_vec();
        let value = |name: &str, label: Option<&str>| {
            snapshot
                .iter()
                .find(|(k, ..)| {
                    k.key().name() == name && label.is_none_or(|l| k.key().labels().any(|x| x.value() == l))
                })
                .map(|(.., v)| v)
        };
        assert_eq!(value("usp_broker_bridge_dropped_total", Some("oldest")), Some(&DebugValue::Counter(3)));
        assert_eq!(value("usp_broker_bridge_dropped_total", Some("newest")), Some(&DebugValue::Counter(2)));
        assert_eq!(
            value("usp_broker_bridge_dropped_total", Some("other")),
            None,
            "nothing dropped, nothing counted"
        );
        assert_eq!(value("usp_broker_bridge_delivered_total", None), Some(&DebugValue::Counter(1)));
        assert_eq!(value("usp_broker_bridge_queued", None), Some(&DebugValue::Gauge(7.0.into())));
        assert_eq!(value("usp_broker_bridge_connected", None), Some(&DebugValue::Gauge(1.0.into())));
        let s = status.snapshot();
        assert_eq!(
            (
                s.dropped_oldest,
                s.dropped_newest,
                s.delivered,
                s.queued,
                s.queued_bytes,
                s.connected,
                s.sessions
            ),
            (3, 2, 1, 7, 700, true, 1)
        );
        assert_eq!((s.recovered, s.damaged_segments), (4, 1));
    }
}
