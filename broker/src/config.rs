//! [`BrokerConfig`]: listeners, credentials, access rules and limits.
//!
//! Deserializable with serde (the appliance reads it from TOML); every field
//! has a default, so an empty file starts a loopback-only broker:
//!
//! ```
//! let config: usp_broker::BrokerConfig = serde_json::from_str("{}").unwrap();
//! assert_eq!(config.mqtt[0].bind.to_string(), "127.0.0.1:1883");
//! assert_eq!(config.limits.max_record_size, 1 << 20);
//! ```
//!
//! A fuller example (TOML):
//!
//! ```toml
//! [[mqtt]]
//! bind = "0.0.0.0:8883"
//! tls = { certificate_chain = "/etc/uspmesh/broker.pem", private_key = "/etc/uspmesh/broker.key",
//!         client_ca = "/etc/uspmesh/ca.pem" }
//!
//! [[websocket]]
//! bind = "0.0.0.0:8443"
//! path = "/usp"
//!
//! [auth]
//! users = [{ username = "site", password = "secret" }]
//!
//! [access]
//! admins = ["uspmesh-watch"]
//! controllers = ["self::site-rules"]
//!
//! [limits]
//! max_record_size = 1048576
//! ```

use std::{net::SocketAddr, path::PathBuf};

use serde::{Deserialize, Serialize};

/// Everything the broker needs to start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerConfig {
    /// MQTT listeners (3.1.1 and 5 on the same port). Default: `127.0.0.1:1883`.
    pub mqtt: Vec<MqttListenerConfig>,
    /// USP WebSocket MTP listeners. Default: `127.0.0.1:8080`, path `/usp`.
    pub websocket: Vec<WebSocketListenerConfig>,
    /// Credentials.
    pub auth: AuthConfig,
    /// Topic layout, admins and controllers.
    pub access: AccessConfig,
    /// Sizes, queues and timeouts.
    pub limits: LimitsConfig,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            mqtt: vec![MqttListenerConfig { bind: SocketAddr::from(([127, 0, 0, 1], 1883)), tls: None }],
            websocket: vec![WebSocketListenerConfig {
                bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
                ..WebSocketListenerConfig::default()
            }],
            auth: AuthConfig::default(),
            access: AccessConfig::default(),
            limits: LimitsConfig::default(),
        }
    }
}

impl BrokerConfig {
    /// A configuration with one plain MQTT and one plain WebSocket listener on
    /// loopback, on ports the system picks (for tests and benches).
    pub fn loopback_ephemeral() -> BrokerConfig {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        BrokerConfig {
            mqtt: vec![MqttListenerConfig { bind: any, tls: None }],
            websocket: vec![WebSocketListenerConfig { bind: any, ..WebSocketListenerConfig::default() }],
            ..BrokerConfig::default()
        }
    }
}

/// One MQTT listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttListenerConfig {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// TLS settings; plain TCP when absent.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

/// One USP WebSocket listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSocketListenerConfig {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// The resource path clients connect to (R-WS.1); other paths get 404.
    pub path: String,
    /// TLS settings (`wss://`); plain when absent.
    pub tls: Option<TlsConfig>,
    /// The broker's own Endpoint ID, announced in the `bbf-usp-protocol`
    /// extension when a client offers it (R-WS.11a).
    pub server_eid: Option<String>,
    /// Seconds between the broker's Pings; a session with no frame at all for
    /// twice this long is closed (R-WS.17 practice). Minimum 1.
    pub ping_interval_s: u64,
}

impl Default for WebSocketListenerConfig {
    fn default() -> Self {
        WebSocketListenerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            path: "/usp".to_owned(),
            tls: None,
            server_eid: None,
            ping_interval_s: 60,
        }
    }
}

/// TLS (rustls) settings of a listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the server certificate followed by its chain.
    pub certificate_chain: PathBuf,
    /// PEM file with the server's private key (PKCS#8, PKCS#1 or SEC1).
    pub private_key: PathBuf,
    /// PEM file with the CA certificates client certificates are verified
    /// against. Without it, client certificates are not requested.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// With a `client_ca`: refuse clients that present no certificate.
    #[serde(default)]
    pub require_client_certificate: bool,
}

/// Username/password credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Accepted username/password pairs (MQTT CONNECT, or HTTP Basic on the
    /// WebSocket upgrade).
    pub users: Vec<UserConfig>,
    /// Whether a client with neither a verified certificate nor valid
    /// credentials is let in. Default: only when `users` is empty.
    pub allow_anonymous: Option<bool>,
}

impl AuthConfig {
    /// The effective anonymous-access setting.
    pub fn anonymous_allowed(&self) -> bool {
        self.allow_anonymous.unwrap_or(self.users.is_empty())
    }
}

/// One username/password pair.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// User name.
    pub username: String,
    /// Password (compared in constant time).
    pub password: String,
}

impl std::fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig").field("username", &self.username).field("password", &"***").finish()
    }
}

/// Topic layout and special identities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessConfig {
    /// Identities (Endpoint IDs or plain ClientIds) that may subscribe to any
    /// topic filter, e.g. the `uspmesh watch` client. They publish under the
    /// same `from_id` rule as everyone.
    pub admins: Vec<String>,
    /// Endpoint IDs that are Controllers: their reply topic is
    /// `<controller prefix><eid>`; everyone else's is `<agent prefix><eid>`.
    pub controllers: Vec<String>,
    /// Prefix of agent topics, default `usp/agent/`.
    pub agent_topic_prefix: String,
    /// Prefix of controller topics, default `usp/controller/`.
    pub controller_topic_prefix: String,
}

impl Default for AccessConfig {
    fn default() -> Self {
        AccessConfig {
            admins: Vec::new(),
            controllers: Vec::new(),
            agent_topic_prefix: "usp/agent/".to_owned(),
            controller_topic_prefix: "usp/controller/".to_owned(),
        }
    }
}

/// Sizes, queue bounds and timeouts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest USP Record accepted, in bytes (default 1 MiB). MQTT packets may
    /// be larger by [`LimitsConfig::MQTT_OVERHEAD`] for topic and properties.
    pub max_record_size: usize,
    /// Connections beyond this are refused at accept time.
    pub max_connections: usize,
    /// Length of each listener's accept queue (the kernel caps it at
    /// `net.core.somaxconn`). The usual 128 overflows when hundreds of
    /// agents reconnect at once — after a power cut, say — and each dropped
    /// SYN costs its agent a one-second retransmission.
    pub accept_backlog: u32,
    /// Deliveries a connection's outgoing queue holds before the overflow
    /// policy applies.
    pub queue_max_messages: usize,
    /// Bytes (payload + topic) a connection's outgoing queue holds before the
    /// overflow policy applies.
    pub queue_max_bytes: usize,
    /// How long a publish waits for room in a full subscriber queue before
    /// that delivery is dropped and counted (the publisher is not read
    /// meanwhile, and its PUBACK waits too). 0 drops at once.
    pub queue_full_wait_ms: u64,
    /// Unacknowledged QoS 1 deliveries per connection (also capped by the
    /// client's MQTT 5 Receive Maximum; 3.1.1 has no way to say less). A
    /// wide window lets a busy subscriber — a Controller hearing from many
    /// Agents — get its Records in large writes: with 128, QoS 1 fan-in
    /// measured about a fifth slower (`benches/load.rs`).
    pub max_inflight: u16,
    /// Time a new connection has to complete TLS and send CONNECT (or the
    /// WebSocket upgrade).
    pub connect_timeout_ms: u64,
    /// A write that makes no progress for this long closes the connection
    /// (peers that stopped reading).
    pub write_timeout_ms: u64,
    /// Largest keep-alive granted to MQTT 5 clients: a larger request (or 0,
    /// "none") is replaced with it and announced as Server Keep Alive. 3.1.1
    /// has no way to announce it, so 3.1.1 clients keep theirs. 0 here means
    /// no limit.
    pub max_keep_alive_s: u16,
}

impl LimitsConfig {
    /// Room allowed on top of `max_record_size` for the MQTT header, topic
    /// and properties of a PUBLISH.
    pub const MQTT_OVERHEAD: usize = 64 * 1024;

    /// The largest MQTT remaining length accepted.
    pub fn max_packet_size(&self) -> usize {
        self.max_record_size.saturating_add(Self::MQTT_OVERHEAD)
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_record_size: usp_proto::decode::DEFAULT_MAX_RECORD_SIZE,
            max_connections: 100_000,
            accept_backlog: 4096,
            queue_max_messages: 1024,
            queue_max_bytes: 16 << 20,
            queue_full_wait_ms: 2_000,
            max_inflight: 1024,
            connect_timeout_ms: 10_000,
            write_timeout_ms: 30_000,
            max_keep_alive_s: 0,
        }
    }
}
