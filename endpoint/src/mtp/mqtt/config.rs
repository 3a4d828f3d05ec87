//! Configuration of the MQTT client MTP, mapped to the TR-181 parameters it
//! stands for.

use std::{sync::Arc, time::Duration};

use usp_proto::{EndpointId, usp_record::mqtt_connect_record::MqttVersion};

use super::topic;
use crate::mtp::{
    Role,
    retry::RetryPolicy,
    tls::{TlsConfig, TlsError},
};

/// A peer endpoint and the topic it is reached at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its Endpoint ID.
    pub endpoint_id: String,
    /// The topic to publish to (`Controller.{i}.MTP.{i}.MQTT.Topic` for an
    /// Agent's Controller).
    pub topic: String,
}

/// Configuration of an [`MqttClient`](super::MqttClient).
#[derive(Debug, Clone, PartialEq)]
pub struct MqttConfig {
    /// Our Endpoint ID.
    pub endpoint_id: String,
    /// Agent or Controller.
    pub role: Role,
    /// `Device.MQTT.Client.{i}.BrokerAddress`.
    pub host: String,
    /// `BrokerPort` (default 1883).
    pub port: u16,
    /// `ProtocolVersion`: `V5` (default, R-MQTT.1) or `V311`.
    pub version: MqttVersion,
    /// `ClientID`. `None`: an MQTT 5 client sends an empty ClientId and
    /// keeps the one the server assigns for later connections (R-MQTT.8,
    /// R-MQTT.9, R-MQTT.11); an MQTT 3.1.1 client uses its Endpoint ID.
    pub client_id: Option<String>,
    /// `Username` and `Password` (R-MQTT.7).
    pub credentials: Option<(String, String)>,
    /// `KeepAliveTime` (default 60 s). MQTT 5: at least 5 s (rumqttc's
    /// floor); MQTT 3.1.1: 0 disables it, else at least 1 s.
    pub keep_alive: Duration,
    /// `ResponseTopicConfigured`: our reply-to topic when the CONNACK gives
    /// none (MQTT 5) or always (3.1.1). `None`: `usp/agent/<eid>` or
    /// `usp/controller/<eid>`.
    pub reply_topic: Option<String>,
    /// `Device.MQTT.Client.{i}.Subscription.{i}.Topic`: further topic
    /// filters to subscribe to.
    pub subscriptions: Vec<String>,
    /// Subscribe to `<reply topic>/#` instead of the exact reply topic.
    /// Needed to receive from MQTT 3.1.1 senders, which append
    /// `/reply-to=…` to our topic (R-MQTT.15 d asks it of 3.1.1 Agents);
    /// the filter also matches the exact topic. Default true; always on for
    /// 3.1.1.
    pub reply_topic_wildcard: bool,
    /// `PublishQoS` (0–2, default 1), lowered to the CONNACK's Maximum QoS.
    pub publish_qos: u8,
    /// Peers reachable at a known topic. An Agent sends its MQTTConnect
    /// Record to each of them after every connection.
    pub peers: Vec<Peer>,
    /// `ConnectRetryTime`, `ConnectRetryIntervalMultiplier`,
    /// `ConnectRetryMaxInterval` (defaults 5 s, 2000, 30720 s).
    pub retry: RetryPolicy,
    /// Largest Record sent or accepted (MQTT 5: announced as Maximum Packet
    /// Size). Default 1 MiB.
    pub max_record_size: usize,
    /// Records received and not yet read by the application; beyond it,
    /// records are dropped (logged) rather than stalling the MQTT session
    /// (its keep-alive and acknowledgements). Default 1024.
    pub incoming_capacity: usize,
    /// TCP connect and CONNACK timeout (whole seconds, at least 1; default
    /// 5 s).
    pub connect_timeout: Duration,
    /// How many peers learned from received Records are remembered
    /// (configured peers do not count). Default 65 536.
    pub max_learned_peers: usize,
    /// `TransportProtocol = TLS`: connect over TLS (`mqtts`, usually port
    /// 8883) with these settings. `None` (default): plain TCP, which
    /// TR-369 allows only inside one network (R-MTP.0).
    pub tls: Option<TlsConfig>,
    /// What to do when a peer uses the other MQTT version (R-MQTT.26a).
    /// Default [`VersionMismatch::Tolerate`].
    pub version_mismatch: VersionMismatch,
    /// Most QoS 1/2 PUBLISHes in flight (sent, not yet acknowledged);
    /// an MQTT 5 server's Receive Maximum lowers it further. Default 100.
    /// Beyond flow control it sizes memory: rumqttc keeps one slot per
    /// in-flight packet id, allocated up front — left at its MQTT 5
    /// default (65 535) that is about 13 MB per client, which a process
    /// running thousands of Agents cannot afford. At least 1.
    pub max_inflight: u16,
}

/// What the client does about an MQTT version mismatch (TR-369
/// R-MQTT.26a; mtp-mqtt.md §4.5).
///
/// A mismatch is evidence that a peer uses the other MQTT version than we
/// do: the `version` of its MQTTConnect Record, or how a PUBLISH from it
/// carries its reply-to topic — a Response Topic property means MQTT 5, a
/// `/reply-to=` suffix without one means 3.1.1, and (seen by a 3.1.1 client)
/// a PUBLISH with no reply-to at all means an MQTT 5 sender whose Response
/// Topic was lost on the way. TR-369 names the MQTTConnect Record and the
/// suffix-less 3.1.1 PUBLISH; the suffix-only PUBLISH seen by an MQTT 5
/// client is the same situation seen from the other side, so it counts too.
///
/// The rule exists because each version's reply-to mechanism is invisible
/// to the other: a 3.1.1 client cannot read a Response Topic and cannot
/// send one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VersionMismatch {
    /// Keep delivering (the default): this client reads a reply-to in
    /// either form — a Response Topic, or a `/reply-to=` suffix even as an
    /// MQTT 5 client — and a 3.1.1 client answers a suffix-less PUBLISH on
    /// the sender's learned, configured or default topic, so exchanges
    /// between the versions work on a server that serves both (as
    /// mosquitto does). Mismatches are only logged (at debug level).
    /// This departs from the letter of R-MQTT.26a (which asks to stop) in
    /// favour of what the rule protects: that answers reach their
    /// requester.
    #[default]
    Tolerate,
    /// R-MQTT.26a as written: when a Record shows a mismatch and its
    /// sender's reply-to topic is known (announced in the MQTTConnect
    /// Record, carried by the PUBLISH, learned earlier or configured), the
    /// Record is not delivered; if it is a Request to us (the R-MTP.5
    /// conditions), an Error (7100, "MQTT version mismatch") is published
    /// to that topic; and communication with the sender ceases — its
    /// further Records are dropped and sending to it fails with
    /// [`LinkError::VersionMismatch`](crate::mtp::LinkError::VersionMismatch)
    /// — until a Record from it shows our version (an MQTTConnect Record
    /// with our version, or a PUBLISH carrying its reply-to our way). A
    /// mismatched Record whose sender's topic is unknown is delivered as
    /// before: the rule does not cover it.
    Refuse,
}

/// Why an [`MqttConfig`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The Endpoint ID is not valid.
    #[error("invalid endpoint id: {0}")]
    EndpointId(#[from] usp_proto::endpoint_id::EndpointIdError),
    /// The keep-alive is outside what the MQTT version allows here.
    #[error("keep alive {0:?} is not allowed (MQTT 5: >= 5 s; 3.1.1: 0 or >= 1 s)")]
    KeepAlive(Duration),
    /// `publish_qos` is not 0, 1 or 2.
    #[error("publish QoS {0} is not 0, 1 or 2")]
    Qos(u8),
    /// `max_inflight` is 0.
    #[error("max_inflight must be at least 1")]
    Inflight,
    /// A topic name is empty or holds a wildcard or NUL.
    #[error("{0:?} is not a valid topic name (empty, or contains '+', '#' or NUL)")]
    Topic(String),
    /// A subscription filter is empty or malformed.
    #[error("{0:?} is not a valid topic filter")]
    Filter(String),
    /// The TLS material cannot be loaded or used.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
}

impl MqttConfig {
    /// A configuration with the TR-181 defaults: MQTT 5, port as given,
    /// keep-alive 60 s, QoS 1, default topics.
    pub fn new(endpoint_id: impl Into<String>, role: Role, host: impl Into<String>, port: u16) -> MqttConfig {
        MqttConfig {
            endpoint_id: endpoint_id.into(),
            role,
            host: host.into(),
            port,
            version: MqttVersion::V5,
            client_id: None,
            credentials: None,
            keep_alive: Duration::from_secs(60),
            reply_topic: None,
            subscriptions: Vec::new(),
            reply_topic_wildcard: true,
            publish_qos: 1,
            peers: Vec::new(),
            retry: RetryPolicy::MQTT_DEFAULT,
            max_record_size: usp_proto::decode::DEFAULT_MAX_RECORD_SIZE,
            incoming_capacity: 1024,
            connect_timeout: Duration::from_secs(5),
            max_learned_peers: 65536,
            tls: None,
            version_mismatch: VersionMismatch::Tolerate,
            max_inflight: 100,
        }
    }

    /// The same configuration over TLS.
    pub fn with_tls(mut self, tls: TlsConfig) -> MqttConfig {
        self.tls = Some(tls);
        self
    }

    /// The same configuration with another MQTT version.
    pub fn with_version(mut self, version: MqttVersion) -> MqttConfig {
        self.version = version;
        self
    }

    /// The same configuration with a peer at a known topic.
    pub fn with_peer(mut self, endpoint_id: impl Into<String>, topic: impl Into<String>) -> MqttConfig {
        self.peers.push(Peer { endpoint_id: endpoint_id.into(), topic: topic.into() });
        self
    }

    /// Checks everything a connection would otherwise fail (or panic, in
    /// rumqttc's option setters) on, including that the TLS material loads
    /// and fits together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.prepare().map(drop)
    }

    /// Validates, and builds the TLS client configuration if TLS is on.
    pub(crate) fn prepare(&self) -> Result<Option<Arc<rustls::ClientConfig>>, ConfigError> {
        EndpointId::parse(&self.endpoint_id)?;
        let ka = self.keep_alive;
        let ka_ok = match self.version {
            MqttVersion::V5 => ka >= Duration::from_secs(5) && ka.as_secs() <= u64::from(u16::MAX),
            MqttVersion::V311 => {
                ka.is_zero() || (ka >= Duration::from_secs(1) && ka.as_secs() <= u64::from(u16::MAX))
            }
        };
        if !ka_ok {
            return Err(ConfigError::KeepAlive(ka));
        }
        if self.publish_qos > 2 {
            return Err(ConfigError::Qos(self.publish_qos));
        }
        if self.max_inflight == 0 {
            return Err(ConfigError::Inflight);
        }
        let topics = self.reply_topic.iter().chain(self.peers.iter().map(|p| &p.topic));
        if let Some(bad) = topics.into_iter().find(|t| !topic::is_valid_name(t)) {
            return Err(ConfigError::Topic(bad.clone()));
        }
        if let Some(bad) = self.subscriptions.iter().find(|f| !topic::is_valid_filter(f)) {
            return Err(ConfigError::Filter(bad.clone()));
        }
        for p in &self.peers {
            EndpointId::parse(&p.endpoint_id)?;
        }
        Ok(self.tls.as_ref().map(TlsConfig::client_config).transpose()?)
    }

    /// The reply-to topic used when the server tells none.
    pub(crate) fn configured_reply_topic(&self) -> String {
        self.reply_topic.clone().unwrap_or_else(|| topic::default_topic(self.role, &self.endpoint_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> MqttConfig {
        MqttConfig::new("proto::agent-1", Role::Agent, "127.0.0.1", 1883)
    }

    #[test]
    fn defaults_are_valid_and_follow_tr181() {
        let c = cfg();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!((c.version, c.publish_qos, c.keep_alive), (MqttVersion::V5, 1, Duration::from_secs(60)));
        assert_eq!(c.retry, RetryPolicy::MQTT_DEFAULT);
        assert_eq!(c.configured_reply_topic(), "usp/agent/proto::agent-1");
        let ctrl = MqttConfig::new("self::rules", Role::Controller, "h", 1);
        assert_eq!(ctrl.configured_reply_topic(), "usp/controller/self::rules");
    }

    #[test]
    fn invalid_settings_are_refused_before_rumqttc_sees_them() {
        assert!(matches!(
            MqttConfig { endpoint_id: "x".into(), ..cfg() }.validate(),
            Err(ConfigError::EndpointId(_))
        ));
        let ka = |v, d| MqttConfig { keep_alive: d, ..cfg().with_version(v) }.validate();
        assert_eq!(
            ka(MqttVersion::V5, Duration::from_secs(4)),
            Err(ConfigError::KeepAlive(Duration::from_secs(4)))
        );
        assert_eq!(ka(MqttVersion::V5, Duration::ZERO), Err(ConfigError::KeepAlive(Duration::ZERO)));
        assert_eq!(ka(MqttVersion::V311, Duration::ZERO), Ok(()));
        assert!(ka(MqttVersion::V311, Duration::from_millis(500)).is_err());
        assert!(ka(MqttVersion::V311, Duration::from_secs(70000)).is_err());
        assert_eq!(MqttConfig { publish_qos: 3, ..cfg() }.validate(), Err(ConfigError::Qos(3)));
        assert_eq!(MqttConfig { max_inflight: 0, ..cfg() }.validate(), Err(ConfigError::Inflight));
        assert!(matches!(
            MqttConfig { reply_topic: Some("usp/+/x".into()), ..cfg() }.validate(),
            Err(ConfigError::Topic(_))
        ));
        assert!(matches!(cfg().with_peer("self::c", "a/#").validate(), Err(ConfigError::Topic(_))));
        assert!(matches!(cfg().with_peer("bad", "a/b").validate(), Err(ConfigError::EndpointId(_))));
        assert!(matches!(
            MqttConfig { subscriptions: vec!["a/#/b".into()], ..cfg() }.validate(),
            Err(ConfigError::Filter(_))
        ));
    }
}
