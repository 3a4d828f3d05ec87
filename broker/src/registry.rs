//! The endpoint registry: who is connected, over which MTP, since when, and
//! how many Records and bytes went each way.
//!
//! Used by the rules engine (reachable/disconnect events), the NATS mesh
//! (connect/disconnect events) and by `uspmesh endpoints` (a snapshot).
//! Entries live in a [`DashMap`] keyed by connection; counters are atomics
//! updated by the connection's own task.
//!
//! A connection's events come in this order: [`RegistryEvent::Connected`]
//! when its handshake is accepted, [`RegistryEvent::Reachable`] once Records
//! published for it are routed to it (and [`RegistryEvent::Unreachable`] /
//! `Reachable` again should it unsubscribe and subscribe again),
//! [`RegistryEvent::Disconnected`] at its end. `Reachable` is what a sender
//! waiting for an endpoint should wait for: an MQTT client is connected
//! after CONNACK but receives nothing until it subscribes, and a Record sent
//! in between is dropped as unrouted.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::SystemTime,
};

use dashmap::DashMap;
use tokio::sync::broadcast;

use crate::identity::{Identity, IdentitySource};

/// Identifies one connection (MQTT, WebSocket or in-process) for its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct ConnectionId(pub u64);

/// The transport an endpoint is connected over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mtp {
    /// MQTT 3.1.1.
    Mqtt311,
    /// MQTT 5.0.
    Mqtt5,
    /// The USP WebSocket binding.
    WebSocket,
    /// An in-process link (no socket).
    InProcess,
}

/// A registered connection.
#[derive(Debug)]
pub(crate) struct EndpointEntry {
    pub(crate) id: ConnectionId,
    pub(crate) identity: Identity,
    pub(crate) mtp: Mtp,
    pub(crate) tls: bool,
    pub(crate) client_id: Option<String>,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) since: SystemTime,
    pub(crate) reply_topic: String,
    /// Set by [`Registry::mark_reachable`], cleared by
    /// [`Registry::mark_unreachable`].
    reachable: AtomicBool,
    records_in: AtomicU64,
    bytes_in: AtomicU64,
    records_out: AtomicU64,
    bytes_out: AtomicU64,
}

impl EndpointEntry {
    /// Whether it is reachable now (see [`RegistryEvent::Reachable`]).
    pub(crate) fn is_reachable(&self) -> bool {
        self.reachable.load(Ordering::Acquire)
    }

    pub(crate) fn count_in(&self, records: u64, bytes: u64) {
        self.records_in.fetch_add(records, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn count_out(&self, records: u64, bytes: u64) {
        self.records_out.fetch_add(records, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes, Ordering::Relaxed);
    }

    fn info(&self) -> EndpointInfo {
        EndpointInfo {
            connection: self.id,
            endpoint_id: self.identity.endpoint_id().to_owned(),
            identity_source: self.identity.source(),
            admin: self.identity.is_admin(),
            mtp: self.mtp,
            tls: self.tls,
            client_id: self.client_id.clone(),
            peer: self.peer,
            connected_since: self.since,
            reply_topic: self.reply_topic.clone(),
            reachable: self.is_reachable(),
            records_in: self.records_in.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            records_out: self.records_out.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
        }
    }
}

/// What the registry knows about one connected endpoint, at one moment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EndpointInfo {
    /// The connection.
    pub connection: ConnectionId,
    /// Its identity (Endpoint ID, or an admin name).
    pub endpoint_id: String,
    /// Where the identity came from.
    pub identity_source: IdentitySource,
    /// Whether it is a configured admin.
    pub admin: bool,
    /// Transport.
    pub mtp: Mtp,
    /// Whether the transport is TLS.
    pub tls: bool,
    /// MQTT ClientId (MQTT only).
    pub client_id: Option<String>,
    /// Remote address (not for in-process links).
    pub peer: Option<SocketAddr>,
    /// When the connection was accepted.
    pub connected_since: SystemTime,
    /// The topic Records for it are published to.
    pub reply_topic: String,
    /// Whether Records published to `reply_topic` reach it: it holds a
    /// subscription matching that topic (WebSocket, in-process: from attach
    /// on), see [`RegistryEvent::Reachable`].
    pub reachable: bool,
    /// Records received from it.
    pub records_in: u64,
    /// Bytes of Records received from it.
    pub bytes_in: u64,
    /// Records delivered to it.
    pub records_out: u64,
    /// Bytes of Records delivered to it.
    pub bytes_out: u64,
}

/// A change in who is connected.
///
/// Per connection, in this order: `Connected`; then `Reachable` (possibly
/// never), followed by `Unreachable` and `Reachable` again in turn if it
/// drops and takes back its subscription; then `Disconnected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryEvent {
    /// An endpoint connected: its handshake was accepted (MQTT: CONNACK
    /// queued; WebSocket: upgrade accepted; in-process: link attached). It
    /// may not receive Records yet — wait for [`RegistryEvent::Reachable`].
    Connected(EndpointInfo),
    /// The endpoint can receive Records now: it holds a subscription whose
    /// filter matches its reply topic ([`EndpointInfo::reply_topic`], the
    /// topic announced in CONNACK and the one Records addressed to its
    /// Endpoint ID are published to), so a Record published there from this
    /// event on is queued for it.
    ///
    /// * MQTT: sent by the first SUBSCRIBE granting such a filter — the
    ///   exact topic (`usp/agent/<eid>`), its subtree (`usp/agent/<eid>/#`,
    ///   as 3.1.1 endpoints subscribe for the `/reply-to=` suffix) or any
    ///   wider filter the endpoint may hold (`#` for an admin). It is sent
    ///   before the SUBACK is written. A filter on the endpoint's *other*
    ///   own topic (its controller topic, for an Agent) does not count:
    ///   Records addressed to it are not published there.
    /// * WebSocket and in-process links: right after `Connected`, since
    ///   they are subscribed to their own topics as they attach (for
    ///   WebSocket, before the 101 response is written).
    ///
    /// A further matching SUBSCRIBE announces nothing more. An MQTT client
    /// that never subscribes to its reply topic (e.g. a publish-only tool)
    /// never becomes reachable: no event, and `reachable: false` in the
    /// snapshot, until it disconnects.
    Reachable(EndpointInfo),
    /// A reachable MQTT endpoint unsubscribed its last filter matching its
    /// reply topic: Records for it are unrouted again, though it stays
    /// connected. Not sent at disconnect (`Disconnected` says it all).
    Unreachable(EndpointInfo),
    /// An endpoint disconnected; the info carries its final counters.
    Disconnected(EndpointInfo),
}

/// The registry of connected endpoints.
#[derive(Debug)]
pub struct Registry {
    entries: DashMap<ConnectionId, Arc<EndpointEntry>>,
    events: broadcast::Sender<RegistryEvent>,
}

/// Parameters of a new registry entry.
pub(crate) struct NewEntry {
    pub(crate) identity: Identity,
    pub(crate) mtp: Mtp,
    pub(crate) tls: bool,
    pub(crate) client_id: Option<String>,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) reply_topic: String,
}

impl Registry {
    /// An empty registry whose event channel keeps `event_capacity` events
    /// for slow subscribers (older ones are skipped, see
    /// [`broadcast::error::RecvError::Lagged`]).
    pub(crate) fn new(event_capacity: usize) -> Registry {
        Registry { entries: DashMap::new(), events: broadcast::channel(event_capacity.max(1)).0 }
    }

    pub(crate) fn insert(&self, id: ConnectionId, new: NewEntry) -> Arc<EndpointEntry> {
        let entry = Arc::new(EndpointEntry {
            id,
            identity: new.identity,
            mtp: new.mtp,
            tls: new.tls,
            client_id: new.client_id,
            peer: new.peer,
            since: SystemTime::now(),
            reply_topic: new.reply_topic,
            reachable: AtomicBool::new(false),
            records_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        });
        self.entries.insert(id, entry.clone());
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(RegistryEvent::Connected(entry.info()));
        }
        entry
    }

    pub(crate) fn remove(&self, id: ConnectionId) {
        if let Some((_, entry)) = self.entries.remove(&id)
            && self.events.receiver_count() > 0
        {
            let _ = self.events.send(RegistryEvent::Disconnected(entry.info()));
        }
    }

    /// Marks a connection reachable and announces it
    /// ([`RegistryEvent::Reachable`]) unless it already was. The flag is set
    /// before the event is sent, so a reader that takes [`Registry::events`]
    /// and then [`Registry::snapshot`] sees the change in one or both.
    pub(crate) fn mark_reachable(&self, entry: &EndpointEntry) {
        if !entry.reachable.swap(true, Ordering::AcqRel) && self.events.receiver_count() > 0 {
            let _ = self.events.send(RegistryEvent::Reachable(entry.info()));
        }
    }

    /// Marks a connection unreachable and announces it
    /// ([`RegistryEvent::Unreachable`]) if it was reachable.
    pub(crate) fn mark_unreachable(&self, entry: &EndpointEntry) {
        if entry.reachable.swap(false, Ordering::AcqRel) && self.events.receiver_count() > 0 {
            let _ = self.events.send(RegistryEvent::Unreachable(entry.info()));
        }
    }

    /// Every connected endpoint, in no particular order.
    pub fn snapshot(&self) -> Vec<EndpointInfo> {
        self.entries.iter().map(|e| e.value().info()).collect()
    }

    /// The connections of one Endpoint ID (an endpoint may be connected more
    /// than once, e.g. over MQTT and WebSocket).
    pub fn find(&self, endpoint_id: &str) -> Vec<EndpointInfo> {
        self.entries
            .iter()
            .filter(|e| e.value().identity.endpoint_id() == endpoint_id)
            .map(|e| e.value().info())
            .collect()
    }

    /// Number of connections.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nobody is connected.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Connect, reachability and disconnect events from now on.
    pub fn events(&self) -> broadcast::Receiver<RegistryEvent> {
        self.events.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_counters_and_events() {
        let registry = Registry::new(16);
        let mut events = registry.events();
        let entry = registry.insert(
            ConnectionId(1),
            NewEntry {
                identity: Identity::new("proto::a", IdentitySource::ClientId, false),
                mtp: Mtp::Mqtt5,
                tls: false,
                client_id: Some("proto::a".into()),
                peer: None,
                reply_topic: "usp/agent/proto::a".into(),
            },
        );
        entry.count_in(1, 10);
        entry.count_out(1, 20);
        assert!(!registry.find("proto::a")[0].reachable, "not reachable before a subscription");
        registry.mark_reachable(&entry);
        registry.mark_reachable(&entry);
        registry.mark_unreachable(&entry);
        registry.mark_unreachable(&entry);
        assert!(!registry.find("proto::a")[0].reachable);
        let found = registry.find("proto::a");
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].records_in, found[0].bytes_in, found[0].bytes_out), (1, 10, 20));
        assert!(
            matches!(events.recv().await.unwrap(), RegistryEvent::Connected(i) if i.endpoint_id == "proto::a" && !i.reachable)
        );
        assert!(matches!(events.recv().await.unwrap(), RegistryEvent::Reachable(i) if i.reachable));
        assert!(matches!(events.recv().await.unwrap(), RegistryEvent::Unreachable(i) if !i.reachable));
        registry.remove(ConnectionId(1));
        assert!(registry.is_empty());
        // Each change marked twice, announced once: the next event is the
        // disconnect.
        assert!(matches!(events.recv().await.unwrap(), RegistryEvent::Disconnected(i) if i.records_out == 1));
    }
}
