//! Broker-wide counters, kept as atomics (read with [`BrokerHandle::stats`])
//! and mirrored to the `metrics` facade (exported by whatever recorder the
//! embedding program installs, e.g. Prometheus).
//!
//! Metric names: `usp_broker_records_in_total`, `usp_broker_records_out_total`,
//! `usp_broker_bytes_in_total`, `usp_broker_bytes_out_total`,
//! `usp_broker_records_dropped_total{reason}`, `usp_broker_records_unrouted_total`,
//! `usp_broker_connections_total{result="accepted"|"refused"}`,
//! `usp_broker_connections` (gauge), `usp_broker_protocol_errors_total`,
//! `usp_broker_subscriptions_refused_total`.
//!
//! The metric handles are created once, when the broker starts, so counting a
//! record is an atomic add, not a registry lookup; install the recorder
//! before [`Broker::start`](crate::Broker::start).
//!
//! [`BrokerHandle::stats`]: crate::BrokerHandle::stats

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use metrics::{Counter, Gauge, counter, gauge};

/// Why a record (or one delivery of it) was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The payload is not a USP Record.
    NotARecord,
    /// The Record's `from_id` is not the sender's identity.
    SpoofedFromId,
    /// The Record is over the maximum Record size.
    RecordTooLarge,
    /// The topic name is invalid or reserved.
    InvalidTopic,
    /// The subscriber's queue was full (QoS 0), or stayed full until the
    /// deadline (QoS 1).
    QueueFull,
    /// The subscriber disconnected before the delivery was written.
    SubscriberGone,
    /// The delivery is larger than the subscriber's MQTT 5 Maximum Packet
    /// Size, or cannot be expressed in its MQTT version.
    TooLargeForSubscriber,
    /// An in-process link or WebSocket Record names no `to_id`.
    NoDestination,
}

impl DropReason {
    /// Every reason, in a fixed order.
    pub const ALL: [DropReason; 8] = [
        DropReason::NotARecord,
        DropReason::SpoofedFromId,
        DropReason::RecordTooLarge,
        DropReason::InvalidTopic,
        DropReason::QueueFull,
        DropReason::SubscriberGone,
        DropReason::TooLargeForSubscriber,
        DropReason::NoDestination,
    ];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::NotARecord => "not_a_record",
            DropReason::SpoofedFromId => "spoofed_from_id",
            DropReason::RecordTooLarge => "record_too_large",
            DropReason::InvalidTopic => "invalid_topic",
            DropReason::QueueFull => "queue_full",
            DropReason::SubscriberGone => "subscriber_gone",
            DropReason::TooLargeForSubscriber => "too_large_for_subscriber",
            DropReason::NoDestination => "no_destination",
        }
    }

    fn index(self) -> usize {
        DropReason::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// An atomic counter and its `metrics` twin.
#[derive(Debug)]
struct Metric {
    value: AtomicU64,
    counter: Counter,
}

impl Metric {
    fn new(counter: Counter) -> Metric {
        Metric { value: AtomicU64::new(0), counter }
    }

    fn add(&self, n: u64) {
        self.value.fetch_add(n, Ordering::Relaxed);
        self.counter.increment(n);
    }

    fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
}

/// The broker's counters.
#[derive(Debug)]
pub struct Stats {
    records_in: Metric,
    bytes_in: Metric,
    records_out: Metric,
    bytes_out: Metric,
    unrouted: Metric,
    accepted: Metric,
    refused: Metric,
    protocol_errors: Metric,
    subscriptions_refused: Metric,
    dropped: [Metric; DropReason::ALL.len()],
    connections: AtomicI64,
    connections_gauge: Gauge,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

impl Stats {
    /// Counters registered with the current `metrics` recorder.
    pub fn new() -> Stats {
        Stats {
            records_in: Metric::new(counter!("usp_broker_records_in_total")),
            bytes_in: Metric::new(counter!("usp_broker_bytes_in_total")),
            records_out: Metric::new(counter!("usp_broker_records_out_total")),
            bytes_out: Metric::new(counter!("usp_broker_bytes_out_total")),
            unrouted: Metric::new(counter!("usp_broker_records_unrouted_total")),
            accepted: Metric::new(counter!("usp_broker_connections_total", "result" => "accepted")),
            refused: Metric::new(counter!("usp_broker_connections_total", "result" => "refused")),
            protocol_errors: Metric::new(counter!("usp_broker_protocol_errors_total")),
            subscriptions_refused: Metric::new(counter!("usp_broker_subscriptions_refused_total")),
            dropped: DropReason::ALL
                .map(|r| Metric::new(counter!("usp_broker_records_dropped_total", "reason" => r.as_str()))),
            connections: AtomicI64::new(0),
            connections_gauge: gauge!("usp_broker_connections"),
        }
    }

    pub(crate) fn records_in(&self, records: u64, bytes: u64) {
        self.records_in.add(records);
        self.bytes_in.add(bytes);
    }

    pub(crate) fn records_out(&self, records: u64, bytes: u64) {
        self.records_out.add(records);
        self.bytes_out.add(bytes);
    }

    pub(crate) fn drop_record(&self, reason: DropReason) {
        self.drop_records(reason, 1);
    }

    pub(crate) fn drop_records(&self, reason: DropReason, n: u64) {
        if let Some(m) = self.dropped.get(reason.index()) {
            m.add(n);
        }
    }

    pub(crate) fn unrouted(&self) {
        self.unrouted.add(1);
    }

    pub(crate) fn protocol_error(&self) {
        self.protocol_errors.add(1);
    }

    pub(crate) fn subscription_refused(&self) {
        self.subscriptions_refused.add(1);
    }

    pub(crate) fn connection_refused(&self) {
        self.refused.add(1);
    }

    pub(crate) fn connection_opened(&self) {
        self.accepted.add(1);
        let now = self.connections.fetch_add(1, Ordering::Relaxed) + 1;
        self.connections_gauge.set(now as f64);
    }

    pub(crate) fn connection_closed(&self) {
        let now = self.connections.fetch_sub(1, Ordering::Relaxed) - 1;
        self.connections_gauge.set(now as f64);
    }

    /// The current values.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            records_in: self.records_in.get(),
            bytes_in: self.bytes_in.get(),
            records_out: self.records_out.get(),
            bytes_out: self.bytes_out.get(),
            unrouted: self.unrouted.get(),
            connections_accepted: self.accepted.get(),
            connections_refused: self.refused.get(),
            connections: self.connections.load(Ordering::Relaxed).max(0) as u64,
            protocol_errors: self.protocol_errors.get(),
            subscriptions_refused: self.subscriptions_refused.get(),
            dropped: DropReason::ALL.map(|r| self.dropped.get(r.index()).map_or(0, Metric::get)),
        }
    }
}

/// Counter values at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Records accepted from clients (after the `from_id` check).
    pub records_in: u64,
    /// Bytes of those Records.
    pub bytes_in: u64,
    /// Deliveries written to subscribers.
    pub records_out: u64,
    /// Bytes of those Records.
    pub bytes_out: u64,
    /// Accepted Records no subscription matched.
    pub unrouted: u64,
    /// Connections accepted (after CONNECT or the WebSocket upgrade), and
    /// in-process links attached.
    pub connections_accepted: u64,
    /// Connections refused (credentials, identity, limits, handshake).
    pub connections_refused: u64,
    /// Connections (and in-process links) open now.
    pub connections: u64,
    /// Connections closed for breaking the MQTT or WebSocket protocol.
    pub protocol_errors: u64,
    /// Topic filters refused in SUBSCRIBE.
    pub subscriptions_refused: u64,
    dropped: [u64; DropReason::ALL.len()],
}

impl StatsSnapshot {
    /// Records (or deliveries) dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped.get(reason.index()).copied().unwrap_or(0)
    }

    /// Records (or deliveries) dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }
}
