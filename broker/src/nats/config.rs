//! [`NatsConfig`]: the appliance's `[nats]` section.
//!
//! Every field has a default except what identifies the node in the mesh;
//! a minimal section:
//!
//! ```toml
//! [nats]
//! servers = ["nats://10.0.0.5:4222", "nats://10.0.0.6:4222"]
//! site = "hq"
//! node = "appliance-1"
//! ```
//!
//! and a fuller one:
//!
//! ```toml
//! [nats]
//! servers = ["tls://nats.hq.example:4222"]
//! site = "hq"
//! node = "appliance-1"
//! credentials_file = "/etc/uspmesh/nats.creds"   # or user/password, or token
//! tls = { ca_file = "/etc/uspmesh/nats-ca.pem", client_cert = "/etc/uspmesh/nats.pem", client_key = "/etc/uspmesh/nats.key" }
//!
//! [nats.events]
//! filters = ["usp/controller/#"]      # MQTT topic filters the event tap listens on
//! kinds = ["value_change", "event"]   # empty: every Notify kind
//! stream = { name = "USP_HQ_EVENTS", max_age_s = 604800, max_bytes = 1073741824, replicas = 3, storage = "file" }
//!
//! [nats.mesh]
//! node_ttl_ms = 6000
//! replicas = 3
//! local_only = ["self::"]
//! ```

use std::{path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

/// Connection to a NATS cluster, and what this node does on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    /// Server URLs (`nats://host:port`, `tls://host:port`); the client
    /// connects to one and fails over to the others.
    pub servers: Vec<String>,
    /// The site: the second token of every subject (`usp.<site>. ...`) and
    /// part of the stream and bucket names.
    pub site: String,
    /// This node's name in the mesh (unique per site; the registry maps
    /// Endpoint IDs to it).
    pub node: String,
    /// User name (with `password`).
    pub user: Option<String>,
    /// Password (with `user`).
    pub password: Option<String>,
    /// Authentication token.
    pub token: Option<String>,
    /// A `.creds` file (JWT and NKey seed) for decentralized auth.
    pub credentials_file: Option<PathBuf>,
    /// TLS towards the servers.
    pub tls: Option<NatsTlsConfig>,
    /// Time to reach a server at start.
    pub connect_timeout_ms: u64,
    /// How long start-up keeps retrying JetStream set-up (stream and
    /// buckets) while a fresh cluster elects its leaders.
    pub startup_timeout_ms: u64,
    /// Site events to JetStream.
    pub events: EventsConfig,
    /// Scale-out across nodes.
    pub mesh: MeshConfig,
    /// Shared rule work.
    pub rules: RulesWorkConfig,
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            servers: vec!["nats://127.0.0.1:4222".to_owned()],
            site: "site".to_owned(),
            node: "node-1".to_owned(),
            user: None,
            password: None,
            token: None,
            credentials_file: None,
            tls: None,
            connect_timeout_ms: 5_000,
            startup_timeout_ms: 30_000,
            events: EventsConfig::default(),
            mesh: MeshConfig::default(),
            rules: RulesWorkConfig::default(),
        }
    }
}

impl NatsConfig {
    /// `connect_timeout_ms` as a duration.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
}

/// TLS towards the NATS servers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsTlsConfig {
    /// PEM CA certificates the servers are verified against (else the
    /// system's roots).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for servers that verify clients.
    pub client_cert: Option<PathBuf>,
    /// PEM key of `client_cert`.
    pub client_key: Option<PathBuf>,
}

/// Where a JetStream stream keeps its messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// On disk (survives a server restart).
    #[default]
    File,
    /// In memory.
    Memory,
}

/// Site events: Notify Records from local Agents published to
/// `usp.<site>.notify.<eid>.<kind>` and kept by a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// Whether events are published at all.
    pub enabled: bool,
    /// MQTT topic filters whose Records are inspected for Notify messages
    /// (the topics Agents send notifications to). Default: every Controller
    /// topic, `usp/controller/#`.
    pub filters: Vec<String>,
    /// Notify kinds published, by their proto names (`value_change`,
    /// `event`, `obj_creation`, `obj_deletion`, `oper_complete`,
    /// `on_board_req`); empty: all.
    pub kinds: Vec<String>,
    /// The stream that keeps them.
    pub stream: StreamConfig,
    /// Events waiting for the publisher task; beyond this they are dropped
    /// and counted rather than slowing the site's Agents.
    pub queue: usize,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            enabled: true,
            filters: vec!["usp/controller/#".to_owned()],
            kinds: Vec::new(),
            stream: StreamConfig::default(),
            queue: 4096,
        }
    }
}

/// The JetStream stream of site events, created or updated at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamConfig {
    /// Stream name; default `USP_<SITE>_EVENTS` (site upper-cased, other
    /// characters than letters, digits, `-` and `_` written `_`).
    pub name: Option<String>,
    /// Oldest event kept, in seconds (0: no limit). Default 7 days.
    pub max_age_s: u64,
    /// Bytes kept (-1: no limit). Default 1 GiB.
    pub max_bytes: i64,
    /// Events kept (-1: no limit).
    pub max_msgs: i64,
    /// Copies in a cluster (1, 3 or 5).
    pub replicas: usize,
    /// File or memory.
    pub storage: Storage,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            name: None,
            max_age_s: 7 * 24 * 3600,
            max_bytes: 1 << 30,
            max_msgs: -1,
            replicas: 1,
            storage: Storage::File,
        }
    }
}

/// The mesh: routing to endpoints of other nodes, and the shared registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeshConfig {
    /// Whether this node joins the mesh.
    pub enabled: bool,
    /// A node whose heartbeat is older than this is dead: its registry
    /// entries are ignored and then removed. Heartbeats go out every third
    /// of it.
    pub node_ttl_ms: u64,
    /// Copies of the registry buckets in a cluster (1, 3 or 5).
    pub replicas: usize,
    /// Endpoint ID prefixes that stay local: every node has its own (the
    /// embedded rules engine, `self::...`), so they are neither registered
    /// nor routed through the mesh.
    pub local_only: Vec<String>,
    /// Records waiting to be sent to other nodes; beyond this they are
    /// dropped and counted.
    pub queue: usize,
}

impl Default for MeshConfig {
    fn default() -> Self {
        MeshConfig {
            enabled: true,
            node_ttl_ms: 6_000,
            replicas: 1,
            local_only: vec!["self::".to_owned()],
            queue: 8192,
        }
    }
}

impl MeshConfig {
    /// `node_ttl_ms` as a duration.
    pub fn node_ttl(&self) -> Duration {
        Duration::from_millis(self.node_ttl_ms.max(300))
    }

    /// Whether `eid` stays out of the mesh.
    pub fn is_local_only(&self, eid: &str) -> bool {
        self.local_only.iter().any(|p| eid.starts_with(p.as_str()))
    }
}

/// Rule work shared by the nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesWorkConfig {
    /// How long a claim on a job key ("who acts") is kept: a second claim of
    /// the same key within it loses. Longer than any clock skew between the
    /// nodes' schedulers.
    pub lease_ttl_s: u64,
    /// Copies of the lease bucket in a cluster.
    pub replicas: usize,
}

impl Default for RulesWorkConfig {
    fn default() -> Self {
        RulesWorkConfig { lease_ttl_s: 300, replicas: 1 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let text = r#"
            servers = ["tls://nats.hq.example:4222"]
            site = "hq"
            node = "appliance-1"
            credentials_file = "/etc/uspmesh/nats.creds"
            tls = { ca_file = "/etc/uspmesh/nats-ca.pem", client_cert = "/c.pem", client_key = "/c.key" }
            [events]
            filters = ["usp/controller/#"]
            kinds = ["value_change", "event"]
            stream = { name = "USP_HQ_EVENTS", max_age_s = 604800, max_bytes = 1073741824, replicas = 3, storage = "file" }
            [mesh]
            node_ttl_ms = 6000
            replicas = 3
            local_only = ["self::"]
        "#;
        let c: NatsConfig = toml::from_str(text).unwrap();
        assert_eq!(c.node, "appliance-1");
        assert_eq!(c.events.stream.replicas, 3);
        assert_eq!(c.events.kinds, ["value_change", "event"]);
        assert!(c.mesh.is_local_only("self::hq-rules"));
        assert!(!c.mesh.is_local_only("proto::self::x"));
        let empty: NatsConfig = toml::from_str("").unwrap();
        assert_eq!(empty, NatsConfig::default());
        assert!(toml::from_str::<NatsConfig>("sever = []").is_err(), "unknown keys are refused");
    }
}
