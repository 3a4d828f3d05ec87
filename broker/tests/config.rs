//! `BrokerConfig` from TOML, as the appliance loads it, and start-up
//! refusals for unusable configurations.

// An integration test crate: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use rumqttc::v5::mqttbytes::QoS as Q5;
use usp_broker::{Broker, BrokerConfig, StartError, topics::Role};

const TOML: &str = r#"
[[mqtt]]
bind = "127.0.0.1:0"

[[websocket]]
bind = "127.0.0.1:0"
path = "/usp/broker"
server_eid = "self::site-broker"
ping_interval_s = 30

[auth]
users = [{ username = "site", password = "secret" }]
allow_anonymous = true

[access]
admins = ["uspmesh-watch"]
controllers = ["self::site-rules"]
agent_topic_prefix = "site/agent/"
controller_topic_prefix = "site/controller/"

[limits]
max_record_size = 65536
queue_max_messages = 100
max_inflight = 16
max_keep_alive_s = 120
"#;

#[test]
fn reads_the_documented_toml() {
    let config: BrokerConfig = toml::from_str(TOML).unwrap();
    assert_eq!(config.websocket[0].path, "/usp/broker");
    assert_eq!(config.websocket[0].server_eid.as_deref(), Some("self::site-broker"));
    assert_eq!(config.auth.users[0].username, "site");
    assert!(config.auth.anonymous_allowed());
    assert_eq!(config.access.controllers, vec!["self::site-rules".to_owned()]);
    assert_eq!((config.limits.max_record_size, config.limits.max_inflight), (65536, 16));
    // Unset limits keep their defaults.
    assert_eq!(config.limits.queue_max_bytes, 16 << 20);
    assert!(format!("{:?}", config.auth.users[0]).contains("***"), "passwords stay out of logs");

    let empty: BrokerConfig = toml::from_str("").unwrap();
    assert_eq!(empty, BrokerConfig::default());
    assert!(!empty.auth.users.is_empty() || empty.auth.anonymous_allowed());

    let typo = toml::from_str::<BrokerConfig>("[limits]\nmax_record_sise = 1\n");
    assert!(typo.unwrap_err().to_string().contains("max_record_sise"), "unknown fields are refused");
}

/// The configured topic layout is what endpoints are told and held to.
#[tokio::test]
async fn a_broker_runs_from_toml() {
    let config: BrokerConfig = toml::from_str(TOML).unwrap();
    let broker = Broker::start(config).await.unwrap();
    let addr = broker.mqtt_addrs()[0];
    let mut agent = Mqtt5::connect(addr, "proto::t").await;
    assert_eq!(agent.response_information().as_deref(), Some("site/agent/proto::t"));
    assert_eq!(
        agent.subscribe("usp/agent/proto::t", Q5::AtMostOnce).await,
        vec![rumqttc::v5::mqttbytes::v5::SubscribeReasonCode::NotAuthorized]
    );
    let link = broker.link("self::site-rules").unwrap();
    assert_eq!(link.reply_topic(), "site/controller/self::site-rules");
    assert_eq!(serde_json::to_value(Role::Controller).unwrap(), "controller");
    broker.shutdown().await;
}

#[tokio::test]
async fn unusable_configurations_do_not_start() {
    let mut config = BrokerConfig::loopback_ephemeral();
    config.access.agent_topic_prefix = "usp/+/".into();
    assert!(matches!(Broker::start(config).await, Err(StartError::TopicPrefix(_))));

    let mut config = BrokerConfig::loopback_ephemeral();
    config.websocket[0].ping_interval_s = 0;
    assert!(matches!(Broker::start(config).await, Err(StartError::Invalid(_))));

    let mut config = BrokerConfig::loopback_ephemeral();
    config.limits.max_record_size = 0;
    assert!(matches!(Broker::start(config).await, Err(StartError::Invalid(_))));

    let running = broker(|_| {}).await;
    let mut config = BrokerConfig::loopback_ephemeral();
    config.mqtt[0].bind = running.mqtt_addrs()[0];
    assert!(matches!(Broker::start(config).await, Err(StartError::Bind { .. })));

    let mut config = BrokerConfig::loopback_ephemeral();
    config.mqtt[0].tls = Some(usp_broker::config::TlsConfig {
        certificate_chain: "/nonexistent/cert.pem".into(),
        private_key: "/nonexistent/key.pem".into(),
        client_ca: None,
        require_client_certificate: false,
    });
    assert!(matches!(Broker::start(config).await, Err(StartError::Tls(_))));
    running.shutdown().await;
}
