//! The mesh: Records between endpoints connected to different nodes.
//!
//! **Subjects.** Each node subscribes `usp.<site>.ep.<eid>` for every
//! endpoint connected to it (one subscription per Endpoint ID, however many
//! connections it has), and a Record for an endpoint of another node is
//! published there. Chosen over one subject per node because the NATS
//! cluster's own interest graph then does the routing — a node needs the
//! registry only to know *that* an endpoint is elsewhere, never which
//! server to send to — and because a cloud Controller on NATS reaches a site
//! Agent on the same subject, without knowing the node. The price is one
//! subscription per endpoint on the servers (about 200 bytes each there;
//! NATS servers carry millions) and one subscribe per connect.
//!
//! **Way out** ([`MeshRoute`], the broker's
//! [`RemoteRoute`](crate::RemoteRoute)): every Record a local endpoint
//! publishes is offered; its `to_id` is read zero-copy
//! ([`usp_proto::view::RecordView`]), and when that endpoint is not
//! connected here (nor a `local_only` one), the Record goes into a bounded
//! queue to the publisher task (full: dropped and counted — the publisher
//! is never blocked by NATS). The shared registry ([`super::registry_kv`])
//! is not waited for: an endpoint that connected to another node a moment
//! ago (a one-shot CLI Controller) is subscribed there before our copy of
//! the registry hears of it, and its answer must not be lost in that gap;
//! a Record for an endpoint connected nowhere is dropped by NATS, as by any
//! broker, and counted in `forwarded_unlisted`.
//!
//! **Way in**: a Record from the subject of a local endpoint must be a
//! Record (within `limits.max_record_size`) whose `to_id` is that endpoint;
//! it is routed to the MQTT topic the sender used (header `Usp-Topic`, if it
//! lies within the endpoint's own topics) or else to the endpoint's reply
//! topic, with the sender's reply topic (`Usp-Reply-To`), and is never
//! offered to the mesh again.
//!
//! **Cloud Controllers** on NATS join the same way a node does: they
//! put a heartbeat in `USP_<site>_NODES` (key: a name of their own, at
//! least every `node_ttl_ms`), their Endpoint ID in `USP_<site>_REGISTRY`
//! (key: the encoded ID, value: that name), and subscribe to their own
//! `usp.<site>.ep.<eid>`; they send with `Usp-Reply-To` set to the topic
//! the Agent should answer to. Answers then reach them like any Record for
//! another node.
//!
//! **Not carried** across the mesh: MQTT 5 properties other than the reply
//! topic (Correlation Data, user properties, expiry). USP does not need
//! them — responses are matched by `msg_id` — but a Controller that relies
//! on Correlation Data only gets it back within one node.
//!
//! **Trust.** The `from_id` of a Record from NATS was checked by the node
//! its sender is connected to; this node cannot check it again. Anyone who
//! may publish on `usp.<site>.ep.>` can therefore send Records in any
//! endpoint's name: the mesh is exactly as trusted as the NATS accounts
//! allowed to publish there. Give the nodes (and cloud Controllers) their
//! own NATS account or user with publish permission on `usp.<site>.>` and
//! nobody else.

use std::{
    collections::{HashMap, hash_map::Entry},
    sync::Arc,
    time::Duration,
};

use async_nats::{HeaderMap, Message as NatsMessage};
use bytes::Bytes;
use dashmap::DashSet;
use futures_util::StreamExt;
use tokio::{
    sync::{broadcast::error::RecvError, mpsc},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;
use usp_proto::view::RecordView;

use super::{headers, registry_kv::RegistryKv, stats::NatsStats, subject::Subjects};
use crate::{
    acl::check_publish_topic,
    broker::Shared,
    registry::{ConnectionId, EndpointInfo, RegistryEvent},
    remote::{Outbound, RemoteRoute},
};

/// A Record on its way to another node.
#[derive(Debug)]
pub(crate) struct Forward {
    to_id: String,
    topic: String,
    reply_to: Option<String>,
    record: Bytes,
}

/// Endpoint IDs connected here, read on every offered Record.
pub(crate) type LocalSet = Arc<DashSet<Box<str>>>;

/// The broker's remote route into the mesh.
#[derive(Debug)]
pub(crate) struct MeshRoute {
    pub(crate) registry: Arc<RegistryKv>,
    pub(crate) local: LocalSet,
    pub(crate) local_only: Vec<String>,
    pub(crate) queue: mpsc::Sender<Forward>,
    pub(crate) stats: Arc<NatsStats>,
}

impl RemoteRoute for MeshRoute {
    fn offer(&self, outbound: Outbound<'_>) -> bool {
        let Ok(view) = RecordView::parse(outbound.record) else { return false };
        let to = view.to_id;
        if to.is_empty()
            || self.local.contains(to)
            || self.local_only.iter().any(|p| to.starts_with(p.as_str()))
        {
            return false;
        }
        if !self.registry.is_remote(to) {
            NatsStats::add(&self.stats.forwarded_unlisted, 1);
        }
        let forward = Forward {
            to_id: to.to_owned(),
            topic: outbound.topic.to_owned(),
            reply_to: outbound.reply_to.map(str::to_owned),
            record: outbound.record.clone(),
        };
        match self.queue.try_send(forward) {
            Ok(()) => true,
            // Full, or the node is shutting down.
            Err(_) => {
                NatsStats::add(&self.stats.forward_dropped, 1);
                false
            }
        }
    }
}

/// Publishes forwarded Records until `stop`.
pub(crate) async fn publish_forwards(
    client: async_nats::Client,
    subjects: Subjects,
    node: String,
    mut queue: mpsc::Receiver<Forward>,
    stats: Arc<NatsStats>,
    stop: CancellationToken,
) {
    loop {
        let f = tokio::select! {
            _ = stop.cancelled() => return,
            f = queue.recv() => match f {
                Some(f) => f,
                None => return,
            },
        };
        let Ok(subject) = subjects.endpoint(&f.to_id) else { continue };
        let mut h = HeaderMap::new();
        h.insert(headers::TOPIC, f.topic.as_str());
        if let Some(reply_to) = &f.reply_to {
            h.insert(headers::REPLY_TO, reply_to.as_str());
        }
        h.insert(headers::NODE, node.as_str());
        match client.publish_with_headers(subject, h, f.record).await {
            Ok(()) => NatsStats::add(&stats.forwarded, 1),
            Err(e) => {
                tracing::warn!(error = %e, "mesh publish failed");
                NatsStats::add(&stats.forward_dropped, 1);
            }
        }
    }
}

/// Why a Record from NATS is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InboundRefusal {
    #[error("larger than max_record_size")]
    TooLarge,
    #[error("not a USP Record")]
    NotARecord,
    #[error("to_id {0:?} is not the endpoint of the subject")]
    WrongAddressee(String),
}

/// Where an inbound Record goes: its topic and the sender's reply topic.
pub(crate) fn inbound_route(
    shared: &Shared,
    eid: &str,
    headers: Option<&HeaderMap>,
    payload: &[u8],
) -> Result<(Bytes, Option<Arc<str>>), InboundRefusal> {
    if payload.len() > shared.limits.max_record_size {
        return Err(InboundRefusal::TooLarge);
    }
    let view = RecordView::parse(payload).map_err(|_| InboundRefusal::NotARecord)?;
    if view.to_id != eid {
        return Err(InboundRefusal::WrongAddressee(view.to_id.to_owned()));
    }
    let header = |name| headers.and_then(|h| h.get(name)).map(|v| v.as_str());
    let topic = match header(headers::TOPIC) {
        Some(t) if check_publish_topic(t).is_ok() && shared.policy.layout().owns(eid, t) => t.to_owned(),
        _ => shared.policy.reply_topic(eid),
    };
    let reply_to = header(headers::REPLY_TO).filter(|r| check_publish_topic(r).is_ok()).map(Arc::from);
    Ok((Bytes::from(topic), reply_to))
}

async fn deliver_inbound(shared: &Shared, eid: &str, message: NatsMessage, stats: &NatsStats) {
    match inbound_route(shared, eid, message.headers.as_ref(), &message.payload) {
        Ok((topic, reply_to)) => {
            NatsStats::add(&stats.received, 1);
            let dropped = crate::remote::deliver(shared, topic, reply_to, message.payload).await;
            NatsStats::add(&stats.received_dropped, dropped as u64);
        }
        Err(refusal) => {
            tracing::debug!(endpoint = eid, %refusal, "refused a Record from NATS");
            NatsStats::add(&stats.received_refused, 1);
        }
    }
}

/// First wait before a failed registration is tried again; it doubles up
/// to [`CLAIM_RETRY_MAX`].
const CLAIM_RETRY_MIN: Duration = Duration::from_millis(250);
/// Longest wait between registration attempts.
const CLAIM_RETRY_MAX: Duration = Duration::from_secs(5);

/// Registers `eid` as connected here, trying again while JetStream cannot
/// take the write (a server of the cluster lost, a leader election under
/// way): one failed attempt must not leave the endpoint listed on a node
/// that died.
async fn claim_until_done(registry: &RegistryKv, eid: &str) {
    let mut wait = CLAIM_RETRY_MIN;
    while let Err(error) = registry.claim(eid).await {
        tracing::warn!(endpoint = eid, %error, retry_in = ?wait, "cannot register a local endpoint in the mesh yet");
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(CLAIM_RETRY_MAX);
    }
}

/// Keeps the mesh in step with who is connected here: one NATS
/// subscription and one registry entry per local Endpoint ID.
pub(crate) struct LocalEndpoints {
    pub(crate) shared: Arc<Shared>,
    pub(crate) client: async_nats::Client,
    pub(crate) subjects: Subjects,
    pub(crate) registry: Arc<RegistryKv>,
    pub(crate) local: LocalSet,
    pub(crate) local_only: Vec<String>,
    pub(crate) stats: Arc<NatsStats>,
    /// Connection → its Endpoint ID.
    connections: HashMap<ConnectionId, Box<str>>,
    /// Endpoint ID → (connections, the task serving its subscription).
    endpoints: HashMap<Box<str>, (usize, JoinHandle<()>)>,
}

impl LocalEndpoints {
    pub(crate) fn new(
        shared: Arc<Shared>,
        client: async_nats::Client,
        subjects: Subjects,
        registry: Arc<RegistryKv>,
        local: LocalSet,
        local_only: Vec<String>,
        stats: Arc<NatsStats>,
    ) -> LocalEndpoints {
        LocalEndpoints {
            shared,
            client,
            subjects,
            registry,
            local,
            local_only,
            stats,
            connections: HashMap::new(),
            endpoints: HashMap::new(),
        }
    }

    /// Follows the broker's registry until `stop`.
    pub(crate) async fn run(mut self, stop: CancellationToken) {
        let mut events = self.shared.registry.events();
        self.resync().await;
        loop {
            let event = tokio::select! {
                _ = stop.cancelled() => break,
                event = events.recv() => event,
            };
            match event {
                Ok(RegistryEvent::Connected(info)) => self.connected(&info).await,
                Ok(RegistryEvent::Disconnected(info)) => self.disconnected(info.connection).await,
                // The endpoint's NATS subject is taken at connect already;
                // Records arriving on it are routed locally like any other,
                // so they reach the endpoint once it has subscribed.
                Ok(RegistryEvent::Reachable(_) | RegistryEvent::Unreachable(_)) => {}
                Err(RecvError::Lagged(_)) => self.resync().await,
                Err(RecvError::Closed) => break,
            }
        }
    }

    /// Brings the state in line with the registry's snapshot.
    async fn resync(&mut self) {
        let snapshot = self.shared.registry.snapshot();
        let live: HashMap<ConnectionId, &EndpointInfo> = snapshot.iter().map(|i| (i.connection, i)).collect();
        let gone: Vec<ConnectionId> =
            self.connections.keys().filter(|c| !live.contains_key(c)).copied().collect();
        for connection in gone {
            self.disconnected(connection).await;
        }
        for info in &snapshot {
            self.connected(info).await;
        }
    }

    async fn connected(&mut self, info: &EndpointInfo) {
        let eid = info.endpoint_id.as_str();
        if info.admin
            || self.local_only.iter().any(|p| eid.starts_with(p.as_str()))
            || self.connections.contains_key(&info.connection)
        {
            return;
        }
        self.connections.insert(info.connection, Box::from(eid));
        match self.endpoints.entry(Box::from(eid)) {
            Entry::Occupied(mut e) => e.get_mut().0 += 1,
            Entry::Vacant(e) => {
                let subscriber = match self.subjects.endpoint(eid) {
                    Ok(subject) => self.client.subscribe(subject).await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                let subscriber = match subscriber {
                    Ok(s) => s,
                    Err(e) => {
                        // Served locally only; it is tried again when it reconnects.
                        tracing::error!(endpoint = eid, error = %e, "cannot subscribe for a local endpoint");
                        self.connections.remove(&info.connection);
                        return;
                    }
                };
                self.local.insert(Box::from(eid));
                let (shared, stats, eid_owned) = (self.shared.clone(), self.stats.clone(), eid.to_owned());
                let registry = self.registry.clone();
                // One task serves the subscription and registers the
                // endpoint; a disconnect aborts both. The claim comes after
                // the subscription, on the same connection: when other
                // nodes learn the endpoint is here, the servers know it too.
                let task = tokio::spawn(async move {
                    let serve = async {
                        let mut subscriber = subscriber;
                        while let Some(message) = subscriber.next().await {
                            deliver_inbound(&shared, &eid_owned, message, &stats).await;
                        }
                    };
                    tokio::join!(serve, claim_until_done(&registry, &eid_owned));
                });
                e.insert((1, task));
            }
        }
    }

    async fn disconnected(&mut self, connection: ConnectionId) {
        let Some(eid) = self.connections.remove(&connection) else { return };
        let Entry::Occupied(mut e) = self.endpoints.entry(eid) else { return };
        e.get_mut().0 -= 1;
        if e.get().0 == 0 {
            let (eid, (_, task)) = e.remove_entry();
            task.abort();
            self.local.remove(&eid);
            self.registry.release(&eid).await;
        }
    }
}

impl Drop for LocalEndpoints {
    /// Ends the endpoints' subscriptions with their tasks (dropping a
    /// `JoinHandle` would leave them running), also when the node's task is
    /// aborted.
    fn drop(&mut self) {
        for (_, (_, task)) in self.endpoints.drain() {
            task.abort();
        }
    }
}

impl std::fmt::Debug for LocalEndpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEndpoints").field("endpoints", &self.endpoints.len()).finish_non_exhaustive()
    }
}
