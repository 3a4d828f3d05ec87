//! Rule `publish` events on their way out: the rules runtime's
//! [`UpstreamEvent`]s, adapted to the cloud bridge's [`UpstreamMessage`]
//! and to a NATS subject, by one task.
//!
//! The payload is the same JSON document on both ways out (UTF-8, one
//! object):
//!
//! ```json
//! {"name": "door-alarm", "rule": "door-left-open", "agent": "proto::door-1",
//!  "at": "2026-11-25T21:34:54.123Z", "fields": {"door": "front"}}
//! ```
//!
//! `agent` is `null` for a rule without an Agent in its trigger (a
//! schedule); `fields` are the rule's `fields`, filled in, as strings.
//!
//! * Bridge: topic `<bridge.events.rule_topic_prefix><name>` (default
//!   `usp/rules/<name>`). MQTT wildcards cannot be part of a topic name, so
//!   `+` and `#` in the name are written `_`.
//! * NATS: subject `usp.<site>.notify.<engine-eid>.<name>` — the rules
//!   engine is the endpoint that raised the event and the event's name its
//!   kind; both tokens encoded by [`usp_broker::nats::Subjects`] (so a `.`
//!   never splits a token). The site's event stream (`usp.<site>.notify.>`)
//!   keeps them like any other site event.
//!
//! The runtime never waits for this task (it `try_send`s and counts what
//! did not fit); this task waits for the bridge's queue (the bridge's own
//! overflow policy then applies) and for the NATS client.

use bytes::Bytes;
use serde_json::json;
use tokio::{sync::mpsc, task::JoinHandle};
use usp_broker::{bridge::UpstreamMessage, nats::Subjects};
use usp_rules::engine::UpstreamEvent;

use super::admin::rfc3339;

/// Rule events waiting for this task; the runtime drops (and counts) more.
pub(crate) const SINK_CAPACITY: usize = 4096;

/// Where rule events go.
#[derive(Debug, Default)]
pub(crate) struct Sinks {
    /// The bridge's event sender.
    pub(crate) bridge: Option<mpsc::Sender<UpstreamMessage>>,
    /// The NATS client, the site's subjects and the engine's Endpoint ID.
    pub(crate) nats: Option<NatsSink>,
}

/// Rule events to NATS.
#[derive(Debug)]
pub(crate) struct NatsSink {
    pub(crate) client: async_nats::Client,
    pub(crate) subjects: Subjects,
    pub(crate) engine_id: String,
}

impl Sinks {
    /// Whether there is anywhere to send events.
    pub(crate) fn is_empty(&self) -> bool {
        self.bridge.is_none() && self.nats.is_none()
    }

    /// The runtime's sink and the task that drains it; the task ends when
    /// the runtime drops its sender (at its shutdown) and everything handed
    /// over has been passed on.
    pub(crate) fn spawn(self) -> (mpsc::Sender<UpstreamEvent>, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<UpstreamEvent>(SINK_CAPACITY);
        let task = tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let payload = Bytes::from(payload(&event));
                if let Some(bridge) = &self.bridge {
                    let message =
                        UpstreamMessage { topic: bridge_topic(&event.name), payload: payload.clone() };
                    if bridge.send(message).await.is_err() {
                        tracing::warn!(name = %event.name, "bridge stopped; rule event not sent upstream");
                    }
                }
                if let Some(nats) = &self.nats {
                    match nats.subjects.notify(&nats.engine_id, &event.name) {
                        Ok(subject) => {
                            if let Err(error) = nats.client.publish(subject, payload).await {
                                tracing::warn!(name = %event.name, %error, "rule event not published to NATS");
                            }
                        }
                        Err(error) => {
                            tracing::warn!(name = %event.name, %error, "rule event name cannot be a NATS subject token");
                        }
                    }
                }
            }
            if let Some(nats) = &self.nats {
                // Published messages sit in the client's buffer until flushed.
                if let Err(error) = nats.client.flush().await {
                    tracing::warn!(%error, "NATS flush of rule events failed");
                }
            }
        });
        (tx, task)
    }
}

/// The event's JSON document (see the module doc).
pub(crate) fn payload(event: &UpstreamEvent) -> Vec<u8> {
    let doc = json!({
        "name": event.name,
        "rule": &*event.rule,
        "agent": event.agent.as_deref(),
        "at": rfc3339(event.at),
        "fields": event.fields,
    });
    doc.to_string().into_bytes()
}

/// The topic below the bridge's rule prefix: the name, MQTT wildcards
/// written `_`.
pub(crate) fn bridge_topic(name: &str) -> String {
    name.replace(['+', '#'], "_")
}

#[cfg(test)]
mod tests {
    use std::{collections::BTreeMap, sync::Arc, time::SystemTime};

    use super::*;

    #[test]
    fn payload_is_the_documented_json() {
        let event = UpstreamEvent {
            name: "door-alarm".into(),
            rule: Arc::from("door-left-open"),
            agent: Some(Arc::from("proto::door-1")),
            at: SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_500),
            fields: BTreeMap::from([("door".to_owned(), "front".to_owned())]),
        };
        let v: serde_json::Value = serde_json::from_slice(&payload(&event)).unwrap();
        assert_eq!(
            v,
            json!({"name": "door-alarm", "rule": "door-left-open", "agent": "proto::door-1",
                   "at": "1970-01-01T00:00:01.500Z", "fields": {"door": "front"}})
        );
        let none = UpstreamEvent { agent: None, ..event };
        let v: serde_json::Value = serde_json::from_slice(&payload(&none)).unwrap();
        assert!(v["agent"].is_null());
    }

    #[test]
    fn wildcards_leave_the_topic() {
        assert_eq!(bridge_topic("a/+/b#"), "a/_/b_");
        assert_eq!(bridge_topic("door-alarm"), "door-alarm");
    }
}
