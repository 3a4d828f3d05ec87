//! Site events: Notify Records from local Agents, published to
//! `usp.<site>.notify.<eid>.<kind>` and kept by a JetStream stream for
//! consumers that were offline.
//!
//! **The tap.** A subscriber of the broker's own router on the configured
//! MQTT topic filters (default `usp/controller/#`, where Agents send their
//! notifications), with a queue of its own — like a connection, but with no
//! socket and no registry entry. It sees every Record published to those
//! topics by a *local* endpoint; Records that came from another node are
//! skipped (that node's tap published them already), so each event is
//! published once in the mesh. This is the one place where the broker reads
//! a USP Msg: only Records on the tapped topics, and only to learn whether
//! they carry a Notify and of which kind.
//!
//! **Headers**: `Usp-From`, `Usp-To`, `Usp-Msg-Id`, `Usp-Kind` (the
//! notification kind's proto name, as in the subject), `Usp-Node`. The
//! payload is the Record, unchanged.
//!
//! **Back-pressure.** The tap's queue is drained at once into a bounded
//! channel; when that is full (JetStream slower than the site), events are
//! dropped and counted — a slow stream never slows the Agents down.
//! Publishing is pipelined: acknowledgements are awaited apart from the
//! sends, and one that fails is counted.

use std::{future::IntoFuture, sync::Arc, time::Duration};

use async_nats::{
    HeaderMap,
    jetstream::{self, context::PublishAckFuture, stream},
};
use bytes::Bytes;
use futures_util::{StreamExt, stream::FuturesUnordered};
use rumqttd::protocol::QoS;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use usp_proto::usp::request::ReqType;

use super::{
    NatsError,
    config::{EventsConfig, Storage},
    headers,
    stats::NatsStats,
    subject::Subjects,
};
use crate::{
    broker::Shared,
    registry::ConnectionId,
    remote::REMOTE_PUBLISHER,
    router::{Delivery, Outbox, Subscriber},
};

/// The default stream name of a site: `USP_<SITE>_EVENTS`.
pub fn default_stream_name(site: &str) -> String {
    let site: String = site
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_uppercase() } else { '_' })
        .collect();
    format!("USP_{site}_EVENTS")
}

/// Creates the event stream, or updates it to the configured limits.
pub(crate) async fn ensure_stream(
    js: &jetstream::Context,
    subjects: &Subjects,
    site: &str,
    config: &EventsConfig,
) -> Result<String, NatsError> {
    let s = &config.stream;
    let name = s.name.clone().unwrap_or_else(|| default_stream_name(site));
    let config = stream::Config {
        name: name.clone(),
        description: Some("uspmesh site events (USP Notify Records)".to_owned()),
        subjects: vec![subjects.notify_all()],
        max_age: Duration::from_secs(s.max_age_s),
        max_bytes: s.max_bytes,
        max_messages: s.max_msgs,
        num_replicas: s.replicas,
        storage: match s.storage {
            Storage::File => stream::StorageType::File,
            Storage::Memory => stream::StorageType::Memory,
        },
        ..stream::Config::default()
    };
    // Create (a no-op when it exists with this very configuration); one
    // that exists with other limits is updated to these. (Updating first
    // would wait for a request timeout in a cluster when the stream does
    // not exist: nobody answers.)
    if js.create_stream(config.clone()).await.is_err() {
        js.update_stream(&config).await.map_err(|e| NatsError::JetStream(e.to_string()))?;
    }
    Ok(name)
}

/// The router subscription of the event tap; removed on drop.
#[derive(Debug)]
pub(crate) struct Tap {
    shared: Arc<Shared>,
    id: ConnectionId,
    outbox: Arc<Outbox>,
    filters: Vec<String>,
}

impl Tap {
    /// Subscribes the tap to `filters` on the broker's router.
    pub(crate) fn attach(shared: &Arc<Shared>, filters: &[String], queue: usize) -> Tap {
        let id = shared.next_connection_id();
        let outbox = Arc::new(Outbox::new(queue.max(1), shared.limits.queue_max_bytes));
        for filter in filters {
            let sub =
                Subscriber { connection: id, outbox: outbox.clone(), qos: QoS::AtLeastOnce, no_local: false };
            shared.router.subscribe(filter, sub);
        }
        Tap { shared: shared.clone(), id, outbox, filters: filters.to_vec() }
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        for filter in &self.filters {
            self.shared.router.unsubscribe(filter, self.id);
        }
        self.outbox.close();
    }
}

/// One event ready to publish.
#[derive(Debug)]
struct Event {
    subject: String,
    headers: HeaderMap,
    record: Bytes,
}

/// Reads a delivery: `Some` when it is a Notify of a wanted kind.
fn event_of(
    delivery: &Delivery,
    limits: &usp_proto::decode::Limits,
    subjects: &Subjects,
    kinds: &[String],
    node: &str,
) -> Option<Event> {
    let message = &delivery.message;
    if message.publisher() == REMOTE_PUBLISHER {
        return None;
    }
    let decoded = limits.decode_msg_record(message.payload()).ok()?;
    let Some(ReqType::Notify(notify)) = decoded.msg.as_request() else { return None };
    let kind = notify.kind_name();
    if !kinds.is_empty() && !kinds.iter().any(|k| k == kind) {
        return None;
    }
    let from = decoded.header.from_id;
    let subject = subjects.notify(from, kind).ok()?;
    let mut h = HeaderMap::new();
    h.insert(headers::FROM, from);
    h.insert(headers::TO, decoded.header.to_id);
    h.insert(headers::MSG_ID, decoded.msg.msg_id());
    h.insert(headers::KIND, kind);
    h.insert(headers::NODE, node);
    Some(Event { subject, headers: h, record: message.payload().clone() })
}

/// Moves tapped Records that are events into the publish queue until
/// `stop`.
pub(crate) async fn drain_tap(
    tap: Tap,
    subjects: Subjects,
    kinds: Vec<String>,
    node: String,
    queue: mpsc::Sender<(String, HeaderMap, Bytes)>,
    stats: Arc<NatsStats>,
    stop: CancellationToken,
) {
    let mut batch = Vec::with_capacity(64);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tap.outbox.wait_ready() => {}
        }
        tap.outbox.pop_into(&mut batch, 64);
        for delivery in batch.drain(..) {
            let Some(event) = event_of(&delivery, &tap.shared.record_limits, &subjects, &kinds, &node) else {
                continue;
            };
            if queue.try_send((event.subject, event.headers, event.record)).is_err() {
                NatsStats::add(&stats.events_dropped, 1);
            }
        }
    }
}

/// Publishes events to JetStream until the queue closes, awaiting the
/// acknowledgements apart from the sends (at most 256 outstanding).
pub(crate) async fn publish_events(
    js: jetstream::Context,
    mut queue: mpsc::Receiver<(String, HeaderMap, Bytes)>,
    stats: Arc<NatsStats>,
) {
    const MAX_OUTSTANDING: usize = 256;
    let mut acks: FuturesUnordered<<PublishAckFuture as IntoFuture>::IntoFuture> = FuturesUnordered::new();
    let count = |result: Result<_, _>| match result {
        Ok(_) => NatsStats::add(&stats.events_published, 1),
        Err(e) => {
            tracing::warn!(error = %e, "event not stored by the stream");
            NatsStats::add(&stats.events_failed, 1);
        }
    };
    loop {
        tokio::select! {
            Some(ack) = acks.next(), if !acks.is_empty() => count(ack),
            event = queue.recv(), if acks.len() < MAX_OUTSTANDING => {
                let Some((subject, h, record)) = event else { break };
                match js.publish_with_headers(subject, h, record).await {
                    Ok(ack) => acks.push(ack.into_future()),
                    Err(e) => count(Err(e)),
                }
            }
        }
    }
    while let Some(ack) = acks.next().await {
        count(ack);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::Message;
    use usp_proto::{Msg, Record, usp::Notify};

    fn delivery(record: Bytes, publisher: ConnectionId) -> Delivery {
        let topic = Bytes::from_static(b"usp/controller/proto::c");
        Delivery {
            message: Arc::new(Message::new(topic, None, record, None, QoS::AtLeastOnce, publisher)),
            qos: QoS::AtLeastOnce,
        }
    }

    fn value_change() -> Bytes {
        let msg = Msg::request("n-9", Notify::value_change("s", false, "Device.X", "1"));
        Record::no_session_context_msg("proto::c", "proto::a", &msg).encode_to_bytes()
    }

    #[test]
    fn a_notify_becomes_an_event_with_its_metadata() {
        let (limits, subjects) = (usp_proto::decode::Limits::default(), Subjects::new("hq").unwrap());
        let event =
            event_of(&delivery(value_change(), ConnectionId(5)), &limits, &subjects, &[], "n1").unwrap();
        assert_eq!(event.subject, "usp.hq.notify.proto__a.value=5Fchange");
        let h = |name| event.headers.get(name).map(|v| v.as_str().to_owned());
        assert_eq!(h(headers::FROM).as_deref(), Some("proto::a"));
        assert_eq!(h(headers::TO).as_deref(), Some("proto::c"));
        assert_eq!(h(headers::MSG_ID).as_deref(), Some("n-9"));
        assert_eq!(h(headers::KIND).as_deref(), Some("value_change"));
        assert_eq!(h(headers::NODE).as_deref(), Some("n1"));
        assert_eq!(event.record, value_change());
    }

    #[test]
    fn remote_records_other_kinds_and_non_notifies_are_not_events() {
        let (limits, subjects) = (usp_proto::decode::Limits::default(), Subjects::new("hq").unwrap());
        let remote = delivery(value_change(), REMOTE_PUBLISHER);
        assert!(event_of(&remote, &limits, &subjects, &[], "n1").is_none(), "its own node published it");
        let local = delivery(value_change(), ConnectionId(5));
        assert!(event_of(&local, &limits, &subjects, &["event".to_owned()], "n1").is_none());
        let get = Record::no_session_context_msg(
            "proto::c",
            "proto::a",
            &Msg::request("g", usp_proto::usp::Get::new(["Device."])),
        )
        .encode_to_bytes();
        assert!(event_of(&delivery(get, ConnectionId(5)), &limits, &subjects, &[], "n1").is_none());
        let garbage = delivery(Bytes::from_static(b"\xff\xff"), ConnectionId(5));
        assert!(event_of(&garbage, &limits, &subjects, &[], "n1").is_none());
    }

    #[test]
    fn default_stream_names() {
        assert_eq!(default_stream_name("hq"), "USP_HQ_EVENTS");
        assert_eq!(default_stream_name("north_wing-2"), "USP_NORTH_WING-2_EVENTS");
    }
}
