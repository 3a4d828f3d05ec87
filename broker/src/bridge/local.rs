//! The bridge's local side: in-process links on the embedded broker.
//!
//! * One [`LocalLink`] per cloud Controller, attached under that
//!   Controller's Endpoint ID: local Agents reach the cloud Controller
//!   exactly as they reach a local one (its topics, the broker's `from_id`
//!   check on their side), and Records from the cloud are sent through the
//!   link whose identity is their `from_id` — so the broker's anti-spoofing
//!   rule holds for them too.
//! * An observer link (an admin identity) watching site traffic for the
//!   Notify messages the event filters select.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use usp_proto::{decode::Limits, usp::request::ReqType, view::RecordView};

use super::{
    filter::EventMatcher,
    queue::format::{Entry, EntryKind},
    status::Status,
};
use crate::link::LocalLink;

/// User Property naming the notifying Agent on a site event.
pub const EVENT_ENDPOINT_PROPERTY: &str = "usp-endpoint-id";
/// User Property naming the notification kind on a site event.
pub const EVENT_KIND_PROPERTY: &str = "usp-notify-kind";

/// Carries Records between one cloud Controller's link and the uplink.
pub(crate) async fn run_controller(
    mut link: LocalLink,
    upstream_topic: Arc<str>,
    agent_prefix: Arc<str>,
    mut from_cloud: mpsc::Receiver<Bytes>,
    to_queue: mpsc::Sender<Entry>,
    status: Arc<Status>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            delivered = link.recv() => {
                let Some(delivered) = delivered else { return };
                let record = delivered.record().clone();
                // The broker admitted it, so it parses; its from_id is the
                // local sender, who is reachable upstream under the prefix.
                let Ok(view) = RecordView::parse(&record) else { continue };
                let entry = Entry {
                    kind: EntryKind::Record,
                    topic: upstream_topic.to_string(),
                    response_topic: Some(format!("{agent_prefix}{}", view.from_id)),
                    properties: Vec::new(),
                    payload: record,
                };
                if to_queue.send(entry).await.is_err() {
                    return;
                }
            }
            record = from_cloud.recv() => {
                let Some(record) = record else { return };
                match link.send(record).await {
                    Ok(()) => status.received(),
                    Err(e) => {
                        tracing::debug!(controller = %link.endpoint_id(), error = %e, "bridge: local broker refused a Record from the cloud");
                        status.refused();
                    }
                }
            }
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Watches site traffic and queues the Notify messages the filters select.
pub(crate) async fn run_observer(
    mut link: LocalLink,
    matcher: EventMatcher,
    to_queue: mpsc::Sender<Entry>,
    shutdown: CancellationToken,
) {
    let limits = Limits::default();
    loop {
        let delivered = tokio::select! {
            delivered = link.recv() => delivered,
            _ = shutdown.cancelled() => return,
        };
        let Some(delivered) = delivered else { return };
        let record = delivered.record();
        let Some((from, kind)) = notify_of(&limits, record) else { continue };
        if !matcher.matches(&from, kind) {
            continue;
        }
        let entry = Entry {
            kind: EntryKind::Event,
            topic: matcher.topic(&from, kind),
            response_topic: None,
            properties: vec![
                (EVENT_ENDPOINT_PROPERTY.to_owned(), from),
                (EVENT_KIND_PROPERTY.to_owned(), kind.to_owned()),
            ],
            payload: record.clone(),
        };
        if to_queue.send(entry).await.is_err() {
            return;
        }
    }
}

/// The sender and notification kind of a Notify Record; `None` for
/// anything else (other messages, undecodable bytes).
pub(crate) fn notify_of(limits: &Limits, record: &Bytes) -> Option<(String, &'static str)> {
    let decoded = limits.decode_msg_record(record).ok()?;
    match decoded.msg.as_request()? {
        ReqType::Notify(notify) => Some((decoded.header.from_id.to_owned(), notify.kind_name())),
        _ => None,
    }
}
