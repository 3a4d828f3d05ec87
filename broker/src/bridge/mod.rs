//! The cloud bridge: the appliance as an MQTT 5 client of a cloud MQTT
//! server, carrying chosen site traffic up and cloud Controllers' Records
//! down, with a bounded on-disk queue while the link is down.
//!
//! ```no_run
//! # async fn demo(broker: &usp_broker::BrokerHandle, config: usp_broker::bridge::BridgeConfig)
//! # -> Result<(), usp_broker::bridge::BridgeError> {
//! let bridge = usp_broker::bridge::Bridge::start(broker, config).await?;
//! let rule_events = bridge.events(); // hand this to the rules runtime (through an adapter)
//! println!("{:?}", bridge.status());
//! bridge.shutdown().await;
//! # drop(rule_events); Ok(()) }
//! ```
//!
//! ## How traffic flows
//!
//! ```text
//!  local Agent ──▶ broker ──▶ link "cloud ctl" ─┐                        ┌─▶ <controller topic>
//!  Notify ──▶ broker ──▶ observer link ─filter──┼─▶ appender ─▶ disk queue ─▶ uplink ─┼─▶ <events topic>
//!  rules runtime ──▶ BridgeHandle::events() ────┘                        └─▶ <rule prefix><topic>
//!
//!  cloud Controller ─▶ <agent prefix><eid> ─▶ uplink ─from_id check─▶ link "cloud ctl" ─▶ broker ─▶ local Agent
//! ```
//!
//! * Outbound, everything goes through the queue — also while connected —
//!   so there is one ordered path and one rule for what is lost: nothing
//!   within the bound. The uplink publishes at QoS 1 from the queue's head
//!   and an entry leaves the disk when its PUBACK arrives (`uplink.rs`).
//! * Records up carry the MQTT 5 Response Topic `<agent_topic_prefix><from_id>`;
//!   the bridge subscribes to `<agent_topic_prefix>+` so the cloud
//!   Controller's answers (and its own requests) come back.
//! * Inbound Records must come from a configured cloud Controller
//!   (`from_id`), must not be addressed to one (no loops), and enter the
//!   broker through that Controller's link, under the broker's usual checks.
//! * Site events: Notify Records seen by the observer link whose sender and
//!   kind match a filter, published as they are (Content Type `usp.msg`)
//!   with User Properties `usp-endpoint-id` and `usp-notify-kind`.

pub mod config;
pub mod filter;
mod local;
pub mod queue;
mod status;
mod store;
mod uplink;

use std::{collections::HashMap, sync::Arc};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

pub use self::{
    config::{
        BridgeConfig, CloudController, EventFilter, EventsConfig, FsyncPolicy, OverflowPolicy, QueueConfig,
    },
    local::{EVENT_ENDPOINT_PROPERTY, EVENT_KIND_PROPERTY},
    queue::QueueError,
    status::BridgeStatus,
};
use self::{
    filter::{EventMatcher, UnknownKind},
    queue::{
        DiskQueue,
        format::{Entry, EntryKind},
    },
    status::Status,
    store::Store,
    uplink::{Target, Uplink},
};
use crate::{BrokerHandle, LinkError, acl::SubscribeRefusal};

/// Capacity of the channel into the queue's appender.
const APPEND_CHANNEL: usize = 1024;
/// Capacity of each cloud Controller's channel of Records from the cloud.
const INBOUND_CHANNEL: usize = 1024;

/// Why the bridge could not start.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The server URL is not `mqtt://host[:port]` or `mqtts://host[:port]`.
    #[error("bridge url {url:?}: {why}")]
    Url {
        /// The configured URL.
        url: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The TLS material could not be loaded.
    #[error("bridge TLS: {0}")]
    Tls(String),
    /// A cloud Controller is listed twice.
    #[error("cloud controller {0:?} is listed twice")]
    DuplicateController(String),
    /// A cloud Controller's (or the observer's) link could not be attached.
    #[error("cannot attach {endpoint_id:?} to the broker: {source}")]
    Link {
        /// The Endpoint ID.
        endpoint_id: String,
        /// Why.
        source: LinkError,
    },
    /// The observer link may not watch the local topic filter (its id is
    /// not in the broker's `[access] admins`, or the filter is invalid).
    #[error(
        "bridge observer {endpoint_id:?} may not subscribe to {filter:?}: {source} (list it in [access] admins)"
    )]
    Observer {
        /// The observer's Endpoint ID.
        endpoint_id: String,
        /// The filter.
        filter: String,
        /// Why.
        source: SubscribeRefusal,
    },
    /// An event filter names an unknown notification kind.
    #[error(transparent)]
    Filter(#[from] UnknownKind),
    /// The queue directory could not be opened.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// An event to publish upstream, handed in through [`BridgeHandle::events`]
/// (the appliance adapts the rules runtime's `UpstreamEvent` to it). It is
/// queued like any outbound entry and published at QoS 1 on
/// `<events.rule_topic_prefix><topic>`, payload as given, no Content Type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamMessage {
    /// Topic below the configured rule prefix (e.g. `door-alarm`).
    pub topic: String,
    /// The payload (e.g. the event as JSON).
    pub payload: Bytes,
}

/// The cloud bridge.
#[derive(Debug)]
pub struct Bridge;

impl Bridge {
    /// Opens the queue (recovering what an earlier run left), attaches the
    /// bridge's links to `broker` and starts the uplink. Returns once the
    /// local side is attached; the uplink connects in the background (see
    /// [`BridgeHandle::status`]).
    pub async fn start(broker: &BrokerHandle, config: BridgeConfig) -> Result<BridgeHandle, BridgeError> {
        let target = Target::new(&config)?;
        let matcher = EventMatcher::new(&config.events)?;
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = config.controllers.iter().find(|c| !seen.insert(c.endpoint_id.as_str())) {
            return Err(BridgeError::DuplicateController(dup.endpoint_id.clone()));
        }
        let attach = |eid: &str| {
            broker.link(eid).map_err(|source| BridgeError::Link { endpoint_id: eid.to_owned(), source })
        };
        let mut links = Vec::with_capacity(config.controllers.len());
        for controller in &config.controllers {
            links.push((controller, attach(&controller.endpoint_id)?));
        }
        let observer = if matcher.is_empty() {
            None
        } else {
            let mut link = attach(&config.observer_id)?;
            let filter = &config.events.local_filter;
            link.subscribe(filter).map_err(|source| BridgeError::Observer {
                endpoint_id: config.observer_id.clone(),
                filter: filter.clone(),
                source,
            })?;
            Some(link)
        };
        let queue_config = config.queue.clone();
        let (queue, recovery) =
            tokio::task::spawn_blocking(move || DiskQueue::open(&queue_config)).await.map_err(|e| {
                QueueError::Io { path: config.queue.dir.clone(), source: std::io::Error::other(e) }
            })??;
        if recovery.entries > 0 || recovery.damaged_segments > 0 {
            tracing::info!(
                entries = recovery.entries,
                damaged_segments = recovery.damaged_segments,
                "bridge queue recovered"
            );
        }

        let status = Arc::new(Status::new(recovery));
        let store = Arc::new(Store::new(queue, status.clone()));
        let (producers_stop, core_stop) = (CancellationToken::new(), CancellationToken::new());
        let (producers, core) = (TaskTracker::new(), TaskTracker::new());
        let (to_queue, entries) = mpsc::channel(APPEND_CHANNEL);
        let agent_prefix: Arc<str> = Arc::from(config.agent_topic_prefix.as_str());
        let mut routes = HashMap::new();
        for (controller, link) in links {
            let (tx, rx) = mpsc::channel(INBOUND_CHANNEL);
            routes.insert(controller.endpoint_id.clone(), tx);
            producers.spawn(local::run_controller(
                link,
                Arc::from(controller.upstream_topic()),
                agent_prefix.clone(),
                rx,
                to_queue.clone(),
                status.clone(),
                producers_stop.clone(),
            ));
        }
        if let Some(link) = observer {
            producers.spawn(local::run_observer(link, matcher, to_queue.clone(), producers_stop.clone()));
        }
        let (events, events_rx) = mpsc::channel(APPEND_CHANNEL);
        producers.spawn(run_rule_events(
            events_rx,
            config.events.rule_topic_prefix.clone(),
            to_queue,
            producers_stop.clone(),
        ));
        core.spawn(store::run_appender(store.clone(), entries, core_stop.clone()));
        let config = Arc::new(config);
        core.spawn(
            Uplink {
                config: config.clone(),
                target,
                store,
                status: status.clone(),
                routes,
                shutdown: core_stop.clone(),
            }
            .run(),
        );
        producers.close();
        core.close();
        Ok(BridgeHandle { status, events, producers_stop, core_stop, producers, core })
    }
}

/// Queues the events handed in through [`BridgeHandle::events`].
async fn run_rule_events(
    mut events: mpsc::Receiver<UpstreamMessage>,
    prefix: String,
    to_queue: mpsc::Sender<Entry>,
    shutdown: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = shutdown.cancelled() => return,
        };
        let Some(event) = event else { return };
        let entry = Entry {
            kind: EntryKind::RuleEvent,
            topic: format!("{prefix}{}", event.topic),
            response_topic: None,
            properties: Vec::new(),
            payload: event.payload,
        };
        if to_queue.send(entry).await.is_err() {
            return;
        }
    }
}

/// A running bridge. Dropping it stops the bridge without waiting.
#[derive(Debug)]
pub struct BridgeHandle {
    status: Arc<Status>,
    events: mpsc::Sender<UpstreamMessage>,
    producers_stop: CancellationToken,
    core_stop: CancellationToken,
    producers: TaskTracker,
    core: TaskTracker,
}

impl BridgeHandle {
    /// Current state and counters.
    pub fn status(&self) -> BridgeStatus {
        self.status.snapshot()
    }

    /// Waits until `condition` holds for the status (checked now and after
    /// every change) and returns that status.
    pub async fn wait_for(&self, mut condition: impl FnMut(&BridgeStatus) -> bool) -> BridgeStatus {
        let mut changes = self.status.subscribe();
        loop {
            let now = self.status.snapshot();
            if condition(&now) {
                return now;
            }
            if changes.changed().await.is_err() {
                return self.status.snapshot();
            }
        }
    }

    /// A sender for rule-driven (or any other) events to publish upstream.
    /// Sending waits when the bridge is behind; the rules runtime uses
    /// `try_send` and counts what it could not hand over.
    pub fn events(&self) -> mpsc::Sender<UpstreamMessage> {
        self.events.clone()
    }

    /// Stops the bridge: the local links detach first, what they handed
    /// over is written to the queue, then the uplink says DISCONNECT. What is
    /// still queued stays on disk for the next start. (Under `block` with a
    /// full queue, the entries still waiting for room are not written: they
    /// were never accepted.)
    pub async fn shutdown(self) {
        self.producers_stop.cancel();
        self.producers.wait().await;
        self.core_stop.cancel();
        self.core.wait().await;
    }
}

impl Drop for BridgeHandle {
    fn drop(&mut self) {
        self.producers_stop.cancel();
        self.core_stop.cancel();
    }
}
