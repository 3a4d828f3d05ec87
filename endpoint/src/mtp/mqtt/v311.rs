//! The MQTT 3.1.1 driver: owns the rumqttc (v4 protocol level) event loop.
//!
//! Differences from MQTT 5: no CONNACK properties (the reply-to topic is
//! the configured or default one), no Response Topic (the `/reply-to=`
//! suffix carries it both ways), no Content Type.

use std::sync::Arc;

use bytes::Bytes;
use rumqttc::{
    AsyncClient, ConnAck, ConnectReturnCode, Event, EventLoop, MqttOptions, Packet, Publish, QoS, Request,
    SubAck, Subscribe, SubscribeFilter, SubscribeReasonCode,
};

use super::{ReplyTo, Shared, back_off, session, topic};

/// The rumqttc QoS for a `PublishQoS` value (validated to 0–2).
pub(super) fn qos(level: u8) -> QoS {
    match level {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// Builds the rumqttc client and event loop from the configuration.
pub(super) fn new(shared: &Shared) -> (AsyncClient, EventLoop) {
    let cfg = &shared.config;
    let mut options = options(cfg, shared.lock().client_id.clone());
    if let Some(tls) = &shared.tls {
        options.set_transport(rumqttc::Transport::Tls(rumqttc::TlsConfiguration::Rustls(tls.clone())));
    }
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    let mut net = rumqttc::NetworkOptions::new();
    net.set_tcp_nodelay(true);
    net.set_connection_timeout(cfg.connect_timeout.as_secs().max(1));
    eventloop.set_network_options(net);
    (client, eventloop)
}

/// The CONNECT options: ClientId (the Endpoint ID unless configured,
/// R-MQTT.8), keep-alive, credentials, packet size.
fn options(cfg: &super::MqttConfig, client_id: String) -> MqttOptions {
    let mut options = MqttOptions::new(client_id, cfg.host.clone(), cfg.port);
    options.set_keep_alive(cfg.keep_alive);
    options.set_clean_session(true);
    if let Some((user, password)) = &cfg.credentials {
        options.set_credentials(user.clone(), password.clone());
    }
    // Room for the topic (with its suffix) besides the Record.
    let max_packet = cfg.max_record_size.saturating_add(64 * 1024);
    options.set_max_packet_size(max_packet, max_packet);
    options.set_inflight(cfg.max_inflight.max(1));
    options
}

/// Runs the session until shutdown.
pub(super) async fn run(shared: Arc<Shared>, mut eventloop: EventLoop) {
    let mut retry = 0u32;
    let mut subscribing: Option<(String, u8)> = None;
    loop {
        // A shutdown requested while no session is up (the task was
        // connecting) ends here; with a session up it ends at DISCONNECT.
        if shared.closing.load(std::sync::atomic::Ordering::SeqCst) && !shared.lock().up {
            break;
        }
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                subscribing = on_connack(&shared, &mut eventloop, &ack);
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                if let Some((reply_topic, level)) = subscribing.take() {
                    if on_suback(&shared, &mut eventloop, &ack, reply_topic, level) {
                        retry = 0;
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => on_publish(&shared, &mut eventloop, publish),
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => {
                if shared.closing.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
            }
            Ok(_) => {}
            Err(error) => {
                subscribing = None;
                let error = shared.connection_failed(&error);
                if !back_off(&shared, &mut retry, error).await {
                    break;
                }
            }
        }
    }
    shared.session_down();
}

fn on_connack(shared: &Shared, eventloop: &mut EventLoop, ack: &ConnAck) -> Option<(String, u8)> {
    if ack.code != ConnectReturnCode::Success {
        // rumqttc turns a refused CONNACK into an error on the next poll.
        return None;
    }
    let topics = session::session_topics(&shared.config, None, &[]);
    let level = shared.config.publish_qos;
    let filters = topics.filters.iter().map(|f| SubscribeFilter::new(f.clone(), qos(level)));
    eventloop.pending.push_back(Request::Subscribe(Subscribe::new_many(filters)));
    Some((topics.reply_topic, level))
}

fn on_suback(
    shared: &Shared,
    eventloop: &mut EventLoop,
    ack: &SubAck,
    reply_topic: String,
    level: u8,
) -> bool {
    let granted = ack.return_codes.iter().filter(|c| matches!(c, SubscribeReasonCode::Success(_))).count();
    if granted == 0 {
        tracing::warn!(codes = ?ack.return_codes, "every subscription refused, disconnecting");
        eventloop.pending.push_back(Request::Disconnect(rumqttc::Disconnect));
        return false;
    }
    shared.session_up(reply_topic, level, None);
    for (to_topic, record) in shared.connect_records() {
        eventloop.pending.push_back(Request::Publish(publish(to_topic, level, record)));
    }
    true
}

fn publish(topic: String, level: u8, payload: Bytes) -> Publish {
    Publish::from_bytes(topic, qos(level), payload)
}

fn on_publish(shared: &Shared, eventloop: &mut EventLoop, p: Publish) {
    let reply_to = match topic::parse_reply_to(&p.topic) {
        Some(t) => ReplyTo::Suffix(t),
        // An MQTT 5 sender whose Response Topic was lost on the way to us.
        None => ReplyTo::Missing,
    };
    if let Some((to_topic, record)) = shared.deliver(p.payload.clone(), reply_to) {
        let level = shared.lock().qos;
        eventloop.pending.push_back(Request::Publish(publish(to_topic, level, record)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mtp::{Role, mqtt::MqttConfig};
    use usp_proto::usp_record::mqtt_connect_record::MqttVersion;

    #[test]
    fn connect_options_follow_the_binding() {
        let cfg =
            MqttConfig::new("proto::room101", Role::Agent, "127.0.0.1", 1883).with_version(MqttVersion::V311);
        let o = options(&cfg, cfg.endpoint_id.clone());
        assert_eq!(o.client_id(), "proto::room101", "R-MQTT.8: a 3.1.1 client uses its Endpoint ID");
        assert_eq!(o.keep_alive(), std::time::Duration::from_secs(60));
        assert!(o.clean_session());
        assert_eq!(o.max_packet_size(), cfg.max_record_size + 64 * 1024);
        assert_eq!(o.inflight(), 100);
    }
}
