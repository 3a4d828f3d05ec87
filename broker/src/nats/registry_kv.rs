//! The mesh's shared endpoint registry: which node each Endpoint ID is
//! connected to, in JetStream KV, with node liveness.
//!
//! Two buckets per site:
//!
//! * `USP_<site>_REGISTRY`: key = the encoded Endpoint ID
//!   ([`super::subject::encode_token`]), value = the node name. A node puts
//!   the entry when the endpoint's first connection arrives and deletes it —
//!   only if it is still its own, by revision (compare-and-delete) — when the
//!   last one leaves. An endpoint that reconnects elsewhere is simply put by
//!   the new node: the entry moves (takeover), and the old node's later
//!   delete fails its revision check and changes nothing.
//! * `USP_<site>_NODES`: key = node name, refreshed every third of
//!   `mesh.node_ttl_ms`, with the bucket's max age set to that TTL.
//!
//! Every node watches both buckets into an in-memory cache, so routing never
//! waits for the KV. A node whose heartbeat was last seen longer than the TTL
//! ago is dead: [`RegistryKv::locate`] ignores its entries, and the
//! housekeeping tick of every live node deletes them (by revision, so a
//! takeover that raced it wins). That is how a crashed node's entries expire
//! without the node's help.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use async_nats::jetstream::{
    self,
    kv::{self, Operation},
};
use bytes::Bytes;
use dashmap::DashMap;
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{NatsError, config::MeshConfig, subject};

/// Where an endpoint is, as last seen in the bucket.
#[derive(Debug, Clone)]
struct Location {
    node: Arc<str>,
    revision: u64,
}

/// The cached registry and this node's part in it.
#[derive(Debug)]
pub(crate) struct RegistryKv {
    registry: kv::Store,
    nodes: kv::Store,
    node: Arc<str>,
    ttl: Duration,
    /// Endpoint ID (decoded from the key) → location.
    cache: DashMap<String, Location>,
    /// Node → when its heartbeat was last seen.
    alive: DashMap<Arc<str>, Instant>,
    /// Endpoint IDs this node holds, with the revision of its put (0 while
    /// the put is under way).
    owned: DashMap<String, u64>,
    /// Bumped on every cache change, for waiters.
    changed: watch::Sender<u64>,
    /// Housekeeping judges liveness only after one TTL: by then every live
    /// node's heartbeat has been seen.
    started: Instant,
}

fn bucket(site: &str, what: &str) -> String {
    format!("USP_{site}_{what}")
}

impl RegistryKv {
    /// Creates (or opens) the buckets.
    pub(crate) async fn open(
        js: &jetstream::Context,
        site: &str,
        node: &str,
        config: &MeshConfig,
    ) -> Result<RegistryKv, NatsError> {
        let registry = js
            .create_key_value(kv::Config {
                bucket: bucket(site, "REGISTRY"),
                description: "uspmesh: Endpoint ID -> node".into(),
                history: 1,
                num_replicas: config.replicas,
                ..kv::Config::default()
            })
            .await
            .map_err(|e| NatsError::JetStream(e.to_string()))?;
        let nodes = js
            .create_key_value(kv::Config {
                bucket: bucket(site, "NODES"),
                description: "uspmesh: node heartbeats".into(),
                history: 1,
                max_age: config.node_ttl(),
                num_replicas: config.replicas,
                ..kv::Config::default()
            })
            .await
            .map_err(|e| NatsError::JetStream(e.to_string()))?;
        Ok(RegistryKv {
            registry,
            nodes,
            node: Arc::from(node),
            ttl: config.node_ttl(),
            cache: DashMap::new(),
            alive: DashMap::new(),
            owned: DashMap::new(),
            changed: watch::channel(0).0,
            started: Instant::now(),
        })
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn is_alive(&self, node: &str) -> bool {
        &*self.node == node || self.alive.get(node).is_some_and(|seen| seen.elapsed() < self.ttl)
    }

    /// The live node `eid` is connected to, if any (this node included).
    pub(crate) fn locate(&self, eid: &str) -> Option<Arc<str>> {
        let location = self.cache.get(eid)?;
        self.is_alive(&location.node).then(|| location.node.clone())
    }

    /// True when `eid` is registered on another node (alive or not: a
    /// Record for a dead node's endpoint finds no subscriber and is dropped
    /// by NATS, exactly as if it had stayed here).
    pub(crate) fn is_remote(&self, eid: &str) -> bool {
        self.cache.get(eid).is_some_and(|l| *l.node != *self.node)
    }

    /// Waits until `check` holds for the cache.
    pub(crate) async fn wait_until(&self, mut check: impl FnMut(&RegistryKv) -> bool) {
        let mut changes = self.changed.subscribe();
        while !check(self) {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// Registers an endpoint connected here.
    pub(crate) async fn claim(&self, eid: &str) -> Result<(), NatsError> {
        let key = subject::encode_token(eid)?;
        self.owned.insert(eid.to_owned(), 0);
        let revision = self
            .registry
            .put(&key, Bytes::copy_from_slice(self.node.as_bytes()))
            .await
            .map_err(|e| NatsError::JetStream(e.to_string()))?;
        if let Some(mut r) = self.owned.get_mut(eid) {
            *r = revision;
        }
        Ok(())
    }

    /// Unregisters an endpoint whose last connection here left, unless
    /// another node took it over meanwhile.
    pub(crate) async fn release(&self, eid: &str) {
        let Some((_, revision)) = self.owned.remove(eid) else { return };
        let Ok(key) = subject::encode_token(eid) else { return };
        // A failed revision check means another node holds it now: fine.
        let _ = self.registry.delete_expect_revision(&key, Some(revision)).await;
    }

    /// Whether this node currently holds `eid`.
    pub(crate) fn owns(&self, eid: &str) -> bool {
        self.owned.contains_key(eid)
    }

    /// Releases every endpoint this node holds (graceful shutdown).
    pub(crate) async fn release_all(&self) {
        let keys: Vec<String> = self.owned.iter().map(|e| e.key().clone()).collect();
        for key in keys {
            self.release(&key).await;
        }
        let _ = self.nodes.delete(&*self.node).await;
    }

    /// Follows the registry bucket into the cache until `stop`.
    pub(crate) async fn watch_registry(self: Arc<Self>, stop: CancellationToken) {
        let mut watch = match self.registry.watch_all().await {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %e, "cannot watch the mesh registry");
                return;
            }
        };
        loop {
            let entry = tokio::select! {
                _ = stop.cancelled() => return,
                entry = watch.next() => entry,
            };
            match entry {
                Some(Ok(entry)) => {
                    match entry.operation {
                        Operation::Put => {
                            match (subject::decode_token(&entry.key), std::str::from_utf8(&entry.value)) {
                                (Ok(eid), Ok(node)) => {
                                    let node = Arc::from(node);
                                    self.cache.insert(eid, Location { node, revision: entry.revision });
                                }
                                _ => tracing::warn!(key = %entry.key, "foreign entry in the mesh registry"),
                            }
                        }
                        Operation::Delete | Operation::Purge => {
                            if let Ok(eid) = subject::decode_token(&entry.key) {
                                self.cache.remove(&eid);
                            }
                        }
                    }
                    self.bump();
                }
                Some(Err(e)) => tracing::warn!(error = %e, "mesh registry watch"),
                None => return,
            }
        }
    }

    /// Follows the heartbeats of every node until `stop`.
    pub(crate) async fn watch_nodes(self: Arc<Self>, stop: CancellationToken) {
        let mut watch = match self.nodes.watch_all().await {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %e, "cannot watch mesh heartbeats");
                return;
            }
        };
        loop {
            let entry = tokio::select! {
                _ = stop.cancelled() => return,
                entry = watch.next() => entry,
            };
            match entry {
                Some(Ok(entry)) => {
                    match entry.operation {
                        Operation::Put => {
                            self.alive.insert(Arc::from(entry.key.as_str()), Instant::now());
                        }
                        // A node that left gracefully.
                        Operation::Delete | Operation::Purge => {
                            self.alive.remove(entry.key.as_str());
                        }
                    }
                    self.bump();
                }
                Some(Err(e)) => tracing::warn!(error = %e, "mesh heartbeat watch"),
                None => return,
            }
        }
    }

    /// Heartbeats and housekeeping until `stop`: every third of the TTL,
    /// put this node's heartbeat, then delete entries of dead nodes and
    /// stale entries of this node (left by an earlier run of it).
    pub(crate) async fn heartbeat(self: Arc<Self>, stop: CancellationToken) {
        let mut tick = tokio::time::interval(self.ttl / 3);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.nodes.put(&*self.node, Bytes::new()).await {
                tracing::warn!(error = %e, "mesh heartbeat failed");
            }
            self.collect_garbage().await;
        }
    }

    async fn collect_garbage(&self) {
        if self.started.elapsed() < self.ttl {
            return;
        }
        let stale: Vec<(String, u64)> = self
            .cache
            .iter()
            .filter(|e| {
                let node = &*e.value().node;
                if node == &*self.node { !self.owns(e.key()) } else { !self.is_alive(node) }
            })
            .map(|e| (e.key().clone(), e.value().revision))
            .collect();
        if !stale.is_empty() {
            // Liveness changed what `locate` answers even before the deletes
            // come back through the watch.
            self.bump();
        }
        for (eid, revision) in stale {
            let Ok(key) = subject::encode_token(&eid) else { continue };
            if self.registry.delete_expect_revision(&key, Some(revision)).await.is_ok() {
                tracing::info!(endpoint = %eid, "removed a stale mesh registry entry");
            }
        }
    }
}
