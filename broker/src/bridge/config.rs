//! [`BridgeConfig`]: the appliance's `[bridge]` section.
//!
//! Every field but `url` and `controllers` has a default. A full example
//! (TOML):
//!
//! ```toml
//! [bridge]
//! url = "mqtts://cloud.example.com:8883"
//! client_id = "site-42-bridge"
//! username = "site-42"
//! password = "secret"
//! tls = { ca = "/etc/uspmesh/cloud-ca.pem", certificate = "/etc/uspmesh/site.pem", private_key = "/etc/uspmesh/site.key" }
//! agent_topic_prefix = "sites/42/usp/agent/"
//! controllers = [
//!     { endpoint_id = "proto::cloud-acs" },
//!     { endpoint_id = "proto::cloud-ops", topic = "ops/usp/controller/proto::cloud-ops" },
//! ]
//!
//! [bridge.events]
//! topic = "sites/42/events/{eid}/{kind}"
//! filters = [{ endpoint_id = "proto::door-*", kinds = ["event", "value_change"] }]
//!
//! [bridge.queue]
//! dir = "/var/lib/uspmesh/bridge-queue"
//! max_bytes = 268435456
//! max_records = 1000000
//! overflow = "drop-oldest"
//! fsync = "always"
//! ```

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The cloud bridge: one MQTT 5 client connection to a cloud server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    /// The cloud MQTT server: `mqtt://host:port` (plain TCP, for tests and
    /// trusted networks) or `mqtts://host:port` (TLS 1.2+, rustls). The port
    /// defaults to 1883 / 8883.
    pub url: String,
    /// The MQTT ClientId the appliance uses on the cloud server. It should
    /// be stable (the cloud server may key sessions and ACLs on it).
    /// Default: `uspmesh-bridge`.
    #[serde(default = "default_client_id")]
    pub client_id: String,
    /// MQTT user name, if the cloud server wants one.
    #[serde(default)]
    pub username: Option<String>,
    /// MQTT password (sent only with a `username`).
    #[serde(default)]
    pub password: Option<String>,
    /// TLS material for `mqtts://`.
    #[serde(default)]
    pub tls: BridgeTlsConfig,
    /// The cloud Controllers reached through the bridge. Records from local
    /// endpoints addressed to one of them leave through the uplink; Records
    /// coming down the uplink are accepted only with one of them as `from_id`.
    pub controllers: Vec<CloudController>,
    /// Where local endpoints are reachable on the cloud server: a Record from
    /// the local endpoint `E` goes up with the MQTT 5 Response Topic
    /// `<agent_topic_prefix>E`, and the bridge subscribes to
    /// `<agent_topic_prefix>+` to receive what the cloud Controllers send
    /// back. Give each site its own prefix on a shared cloud server.
    /// Default: `usp/agent/`.
    #[serde(default = "default_agent_prefix")]
    pub agent_topic_prefix: String,
    /// MQTT keep alive, seconds. Default 60 (TR-181 `KeepAliveTime`).
    #[serde(default = "default_keep_alive")]
    pub keep_alive_s: u16,
    /// First reconnect wait in milliseconds (TR-181 `ConnectRetryTime`; the
    /// wait doubles per failed attempt, drawn at random within the TR-181
    /// range). Default 5000.
    #[serde(default = "default_retry_min")]
    pub retry_min_ms: u64,
    /// Longest reconnect wait in milliseconds (`ConnectRetryMaxInterval`).
    /// Default 300000.
    #[serde(default = "default_retry_max")]
    pub retry_max_ms: u64,
    /// QoS 1 PUBLISHes in flight at once on the uplink (unacknowledged).
    /// Default 64.
    #[serde(default = "default_inflight")]
    pub max_inflight: u16,
    /// The Endpoint ID of the bridge's own in-process link that watches site
    /// traffic for [`EventsConfig::filters`]. It must be listed in the
    /// broker's `[access] admins` (it subscribes outside its own topics).
    /// Only used when filters are configured. Default `self::bridge`.
    #[serde(default = "default_observer")]
    pub observer_id: String,
    /// Site events published upstream.
    #[serde(default)]
    pub events: EventsConfig,
    /// The on-disk outbound queue.
    pub queue: QueueConfig,
}

/// TLS material for the uplink (used with `mqtts://`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BridgeTlsConfig {
    /// PEM file with the CA certificates the cloud server's certificate is
    /// checked against. Default: the operating system's store.
    pub ca: Option<PathBuf>,
    /// PEM file with the appliance's client certificate chain (mutual TLS).
    pub certificate: Option<PathBuf>,
    /// PEM file with the private key of `certificate`.
    pub private_key: Option<PathBuf>,
}

/// One cloud Controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudController {
    /// Its Endpoint ID (`from_id` of what it sends, `to_id` of what it gets).
    pub endpoint_id: String,
    /// The topic it listens on at the cloud server. Default
    /// `usp/controller/<endpoint_id>`. The Response Topic of its requests is
    /// deliberately not used instead: the destination of site traffic stays
    /// what the appliance's owner configured, whatever a peer on the cloud
    /// server claims.
    #[serde(default)]
    pub topic: Option<String>,
}

impl CloudController {
    /// The topic Records for this Controller are published to upstream.
    pub fn upstream_topic(&self) -> String {
        self.topic.clone().unwrap_or_else(|| format!("usp/controller/{}", self.endpoint_id))
    }
}

/// Site events published upstream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// The topic a matching Notify is published to; `{eid}` is replaced by
    /// the notifying Agent's Endpoint ID and `{kind}` by the notification
    /// kind (`value_change`, `event`, `obj_creation`, `obj_deletion`,
    /// `oper_complete`, `on_board_req`). Default `usp/events/{eid}/{kind}`.
    pub topic: String,
    /// Which Notify messages are site events: one matching filter suffices.
    /// Empty (the default): no site events.
    pub filters: Vec<EventFilter>,
    /// The local topic filter the observer link watches for Notify messages.
    /// Default `usp/controller/#` (Agents notify Controllers).
    pub local_filter: String,
    /// Prefix put before the topic of each event handed in through
    /// [`BridgeHandle::events`](super::BridgeHandle::events) (rule-driven
    /// events). Default `usp/rules/`.
    pub rule_topic_prefix: String,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            topic: "usp/events/{eid}/{kind}".to_owned(),
            filters: Vec::new(),
            local_filter: "usp/controller/#".to_owned(),
            rule_topic_prefix: "usp/rules/".to_owned(),
        }
    }
}

/// One site-event filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFilter {
    /// Glob over the notifying Agent's Endpoint ID: `*` matches any run of
    /// characters, `?` one character. Default `*`.
    #[serde(default = "default_glob")]
    pub endpoint_id: String,
    /// Notification kinds (see [`EventsConfig::topic`]); empty: all kinds.
    #[serde(default)]
    pub kinds: Vec<String>,
}

/// The on-disk outbound queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Directory of the queue's segment files (created if missing). One
    /// bridge per directory: a second one is refused at start (the queue
    /// holds an exclusive lock on it).
    pub dir: PathBuf,
    /// Most bytes of queued entries (on-disk frame sizes). Default 64 MiB.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// Most queued entries. Default 100,000.
    #[serde(default = "default_max_records")]
    pub max_records: u64,
    /// What happens to an entry that does not fit. Default `drop-oldest`.
    #[serde(default)]
    pub overflow: OverflowPolicy,
    /// When appended entries are forced to disk. Default `always`.
    #[serde(default)]
    pub fsync: FsyncPolicy,
    /// Size at which the queue starts a new segment file; a segment is
    /// deleted once all its entries are delivered, so the disk holds at most
    /// about `max_bytes` plus one segment. Default 8 MiB.
    #[serde(default = "default_segment_bytes")]
    pub segment_bytes: u64,
}

/// What to do with an entry when the queue is full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverflowPolicy {
    /// Discard the oldest queued entries to make room (the cloud sees the
    /// newest state). Counted in `usp_broker_bridge_dropped_total{reason="oldest"}`.
    #[default]
    DropOldest,
    /// Discard the new entry. Counted in
    /// `usp_broker_bridge_dropped_total{reason="newest"}`.
    DropNewest,
    /// Wait for room: the bridge stops taking Records from the broker, whose
    /// own per-connection queue policy (`limits.queue_full_wait_ms`) then
    /// applies to the senders.
    Block,
}

/// When the queue forces appended entries to stable storage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FsyncPolicy {
    /// `fdatasync` after each batch of appends (group commit) and after
    /// each write of the delivery cursor: an entry survives a power loss
    /// once its batch is written.
    #[default]
    Always,
    /// Leave flushing to the operating system: entries survive a crash of
    /// the process, but the last seconds may be lost on a power loss.
    Never,
}

fn default_client_id() -> String {
    "uspmesh-bridge".to_owned()
}
fn default_agent_prefix() -> String {
    "usp/agent/".to_owned()
}
fn default_keep_alive() -> u16 {
    60
}
fn default_retry_min() -> u64 {
    5_000
}
fn default_retry_max() -> u64 {
    300_000
}
fn default_inflight() -> u16 {
    64
}
fn default_observer() -> String {
    "self::bridge".to_owned()
}
fn default_glob() -> String {
    "*".to_owned()
}
fn default_max_bytes() -> u64 {
    64 << 20
}
fn default_max_records() -> u64 {
    100_000
}
fn default_segment_bytes() -> u64 {
    8 << 20
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_toml_gets_the_defaults() {
        let config: BridgeConfig = toml::from_str(
            r#"
            url = "mqtt://127.0.0.1:1883"
            controllers = [{ endpoint_id = "proto::cloud" }]
            queue = { dir = "/tmp/q" }
            "#,
        )
        .unwrap();
        assert_eq!(config.client_id, "uspmesh-bridge");
        assert_eq!(config.agent_topic_prefix, "usp/agent/");
        assert_eq!(config.queue.overflow, OverflowPolicy::DropOldest);
        assert_eq!(config.queue.fsync, FsyncPolicy::Always);
        assert_eq!(config.controllers[0].upstream_topic(), "usp/controller/proto::cloud");
        assert!(config.events.filters.is_empty());
    }

    #[test]
    fn policies_are_kebab_case_and_unknown_keys_refused() {
        let q: QueueConfig =
            toml::from_str("dir = \"q\"\noverflow = \"drop-newest\"\nfsync = \"never\"").unwrap();
        assert_eq!((q.overflow, q.fsync), (OverflowPolicy::DropNewest, FsyncPolicy::Never));
        let q: QueueConfig = toml::from_str("dir = \"q\"\noverflow = \"block\"").unwrap();
        assert_eq!(q.overflow, OverflowPolicy::Block);
        assert!(toml::from_str::<QueueConfig>("dir = \"q\"\nmax_bytez = 1").is_err());
    }

    #[test]
    fn the_documented_example_parses() {
        let doc: toml::Value = toml::from_str(EXAMPLE).unwrap();
        let config: BridgeConfig = doc["bridge"].clone().try_into().unwrap();
        assert_eq!(config.controllers[1].upstream_topic(), "ops/usp/controller/proto::cloud-ops");
        assert_eq!(config.events.filters[0].kinds, ["event", "value_change"]);
        assert_eq!(
            (config.queue.max_records, config.queue.overflow),
            (1_000_000, OverflowPolicy::DropOldest)
        );
        assert_eq!(config.tls.private_key.as_deref(), Some(std::path::Path::new("/etc/uspmesh/site.key")));
    }

    /// The module documentation's example, verbatim.
    const EXAMPLE: &str = r#"
[bridge]
url = "mqtts://cloud.example.com:8883"
client_id = "site-42-bridge"
username = "site-42"
password = "secret"
tls = { ca = "/etc/uspmesh/cloud-ca.pem", certificate = "/etc/uspmesh/site.pem", private_key = "/etc/uspmesh/site.key" }
agent_topic_prefix = "sites/42/usp/agent/"
controllers = [
    { endpoint_id = "proto::cloud-acs" },
    { endpoint_id = "proto::cloud-ops", topic = "ops/usp/controller/proto::cloud-ops" },
]

[bridge.events]
topic = "sites/42/events/{eid}/{kind}"
filters = [{ endpoint_id = "proto::door-*", kinds = ["event", "value_change"] }]

[bridge.queue]
dir = "/var/lib/uspmesh/bridge-queue"
max_bytes = 268435456
max_records = 1000000
overflow = "drop-oldest"
fsync = "always"
"#;
}
