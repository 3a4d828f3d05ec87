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

/// Longest wait for one KV request (the client's own timeout is 10 s).
const KV_TIMEOUT: Duration = Duration::from_secs(2);

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
        let registry = super::open_bucket(
            js,
            kv::Config {
                bucket: bucket(site, "REGISTRY"),
                description: "uspmesh: Endpoint ID -> node".into(),
                history: 1,
                num_replicas: config.replicas,
                ..kv::Config::default()
            },
        )
        .await?;
        let nodes = super::open_bucket(
            js,
            kv::Config {
                bucket: bucket(site, "NODES"),
                description: "uspmesh: node heartbeats".into(),
                history: 1,
                max_age: config.node_ttl(),
                num_replicas: config.replicas,
                ..kv::Config::default()
            },
        )
        .await?;
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

    /// Registers an endpoint connected here. On failure (the cluster is
    /// electing a leader, say) the endpoint stays owned and the heartbeat
    /// puts it again.
    pub(crate) async fn claim(&self, eid: &str) -> Result<(), NatsError> {
        let key = subject::encode_token(eid)?;
        self.owned.insert(eid.to_owned(), 0);
        let put = self.registry.put(&key, Bytes::copy_from_slice(self.node.as_bytes()));
        let revision = tokio::time::timeout(KV_TIMEOUT, put)
            .await
            .map_err(|_| NatsError::JetStream("registry put timed out".into()))?
            .map_err(|e| NatsError::JetStream(e.to_string()))?;
        if let Some(mut r) = self.owned.get_mut(eid) {
            *r = revision;
        }
        Ok(())
    }

    /// Unregisters an endpoint whose last connection here left, unless
    /// another node took it over meanwhile.
    pub(crate) async fn release(&self, eid: &str) {
        let Some((_, mut revision)) = self.owned.remove(eid) else { return };
        let Ok(key) = subject::encode_token(eid) else { return };
        if revision == 0 {
            // The claim's answer was not recorded (the claim was aborted by
            // a disconnect or a shutdown, or is still on its way): release
            // the entry if it still names this node.
            match tokio::time::timeout(KV_TIMEOUT, self.registry.entry(&key)).await {
                Ok(Ok(Some(entry)))
                    if entry.operation == Operation::Put && entry.value == self.node.as_bytes() =>
                {
                    revision = entry.revision;
                }
                _ => return,
            }
        }
        // A failed revision check means another node holds it now: fine.
        // One that times out leaves the entry to housekeeping.
        let delete = self.registry.delete_expect_revision(&key, Some(revision));
        let _ = tokio::time::timeout(KV_TIMEOUT, delete).await;
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
        let store = self.registry.clone();
        follow(&store, &stop, None, |entry| {
            let eid = subject::decode_token(&entry.key);
            match (entry.operation, eid) {
                (Operation::Put, Ok(eid)) => match std::str::from_utf8(&entry.value) {
                    Ok(node) => {
                        self.cache.insert(eid, Location { node: Arc::from(node), revision: entry.revision });
                    }
                    Err(_) => tracing::warn!(key = %entry.key, "foreign value in the mesh registry"),
                },
                (Operation::Delete | Operation::Purge, Ok(eid)) => {
                    self.cache.remove(&eid);
                }
                (_, Err(_)) => tracing::warn!(key = %entry.key, "foreign key in the mesh registry"),
            }
            self.bump();
        })
        .await;
    }

    /// Follows the heartbeats of every node until `stop`.
    pub(crate) async fn watch_nodes(self: Arc<Self>, stop: CancellationToken) {
        let store = self.nodes.clone();
        // This node's own heartbeat comes by every third of the TTL: a
        // watch silent for a whole TTL has stalled (a JetStream server of
        // the cluster lost under it), and every other node would soon look
        // dead; it is watched again.
        let ttl = self.ttl;
        follow(&store, &stop, Some(ttl), |entry| {
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
        })
        .await;
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
            match tokio::time::timeout(KV_TIMEOUT, self.nodes.put(&*self.node, Bytes::new())).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "mesh heartbeat failed"),
                Err(_) => tracing::warn!("mesh heartbeat timed out"),
            }
            self.reassert().await;
            self.collect_garbage().await;
        }
    }

    /// Puts again the entries of endpoints connected here that the
    /// registry does not show: a claim that failed, or an entry removed by
    /// a node that took this one for dead during a network split.
    async fn reassert(&self) {
        let missing: Vec<String> = self
            .owned
            .iter()
            .filter(|e| !self.cache.contains_key(e.key()))
            .map(|e| e.key().clone())
            .collect();
        for eid in missing {
            if let Err(e) = self.claim(&eid).await {
                tracing::warn!(endpoint = %eid, error = %e, "cannot register a local endpoint yet");
            }
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
            let delete = self.registry.delete_expect_revision(&key, Some(revision));
            if let Ok(Ok(())) = tokio::time::timeout(KV_TIMEOUT, delete).await {
                tracing::info!(endpoint = %eid, "removed a stale mesh registry entry");
            }
        }
    }
}

/// Feeds every change of `store` to `apply` until `stop`. A watch that ends
/// or fails (its server died, its consumer was lost) is opened again from
/// the revision after the last one applied, so no change is missed; so is
/// one silent for longer than `stall`, when given.
async fn follow(
    store: &kv::Store,
    stop: &CancellationToken,
    stall: Option<Duration>,
    mut apply: impl FnMut(kv::Entry),
) {
    let mut next_revision = 0u64;
    loop {
        let watch = if next_revision == 0 {
            // The current value of every key first, then changes
            // (`watch_all` would start with the next change only).
            store.watch_with_history(">").await
        } else {
            store.watch_all_from_revision(next_revision).await
        };
        match watch {
            Ok(mut watch) => loop {
                let next = async {
                    match stall {
                        Some(limit) => tokio::time::timeout(limit, watch.next()).await.ok(),
                        None => Some(watch.next().await),
                    }
                };
                let entry = tokio::select! {
                    _ = stop.cancelled() => return,
                    entry = next => entry,
                };
                let Some(entry) = entry else {
                    tracing::warn!(bucket = store.name, "KV watch silent for too long; watching again");
                    break;
                };
                match entry {
                    Some(Ok(entry)) => {
                        next_revision = entry.revision + 1;
                        apply(entry);
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "KV watch failed; watching again");
                        break;
                    }
                    None => break,
                }
            },
            Err(e) => tracing::warn!(error = %e, "cannot watch a KV bucket; retrying"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            // Back off before watching again (a server may be down).
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}
