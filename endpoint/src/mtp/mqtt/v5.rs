//! The MQTT 5 driver: owns the rumqttc v5 event loop.

use std::sync::Arc;

use bytes::Bytes;
use rumqttc::v5::{
    AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Request, StateError,
    mqttbytes::{
        self, QoS,
        v5::{ConnAck, Filter, Packet, Publish, PublishProperties, SubAck, Subscribe, SubscribeReasonCode},
    },
};

use super::{
    CONTENT_TYPE, ENDPOINT_ID_PROPERTY, ReplyTo, Shared, back_off, is_usp_content_type, session, topic,
};

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
    let mut options = options(&shared.config, shared.lock().client_id.clone());
    if let Some(tls) = &shared.tls {
        options.set_transport(rumqttc::Transport::Tls(rumqttc::TlsConfiguration::Rustls(tls.clone())));
    }
    AsyncClient::new(options, 64)
}

/// The CONNECT options: ClientId (empty unless configured, R-MQTT.8),
/// Request Response Information (R-MQTT.12), `usp-endpoint-id`
/// (R-MQTT.13), keep-alive, credentials, TCP_NODELAY.
fn options(cfg: &super::MqttConfig, client_id: String) -> MqttOptions {
    let mut options = MqttOptions::new(client_id, cfg.host.clone(), cfg.port);
    options.set_keep_alive(cfg.keep_alive);
    options.set_clean_start(true);
    if let Some((user, password)) = &cfg.credentials {
        options.set_credentials(user.clone(), password.clone());
    }
    let max_packet = u32::try_from(cfg.max_record_size.saturating_add(64 * 1024)).unwrap_or(u32::MAX);
    options.set_max_packet_size(Some(max_packet));
    options.set_request_response_info(Some(1));
    options.set_user_properties(vec![(ENDPOINT_ID_PROPERTY.to_owned(), cfg.endpoint_id.clone())]);
    options.set_connection_timeout(cfg.connect_timeout.as_secs().max(1));
    // rumqttc allocates one slot per possible packet id up to this limit
    // when the client is made (see `MqttConfig::max_inflight`).
    options.set_outgoing_inflight_upper_limit(cfg.max_inflight.max(1));
    let mut net = rumqttc::NetworkOptions::new();
    net.set_tcp_nodelay(true);
    net.set_connection_timeout(cfg.connect_timeout.as_secs().max(1));
    options.set_network_options(net);
    options
}

/// Runs the session until shutdown.
pub(super) async fn run(shared: Arc<Shared>, mut eventloop: EventLoop) {
    let mut retry = 0u32;
    // Set between a CONNACK and the SUBACK of our SUBSCRIBE.
    let mut subscribing: Option<Subscribing> = None;
    loop {
        // A shutdown requested while no session is up (the task was
        // connecting) ends here; with a session up it ends at DISCONNECT.
        if shared.closing.load(std::sync::atomic::Ordering::SeqCst) && !shared.lock().up {
            break;
        }
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                subscribing = Some(on_connack(&shared, &mut eventloop, &ack));
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                if let Some(sub) = subscribing.take() {
                    if on_suback(&shared, &mut eventloop, &ack, sub) {
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
                let error = shared.connection_failed(error_cause(&error));
                if !back_off(&shared, &mut retry, error).await {
                    break;
                }
            }
        }
    }
    shared.session_down();
}

/// The error to describe and classify: rumqttc 0.25's v5
/// `StateError::Deserialization` does not expose its cause as a `source`,
/// which hides a TLS alert read while waiting for the CONNACK (how a
/// server refusing our client certificate shows up under TLS 1.3).
fn error_cause(error: &ConnectionError) -> &(dyn std::error::Error + 'static) {
    match error {
        ConnectionError::MqttState(StateError::Deserialization(mqttbytes::Error::Io(io))) => io,
        other => other,
    }
}

/// What the SUBACK of a connection's SUBSCRIBE completes.
struct Subscribing {
    reply_topic: String,
    qos: u8,
    max_packet: Option<u32>,
}

fn on_connack(shared: &Shared, eventloop: &mut EventLoop, ack: &ConnAck) -> Subscribing {
    let props = ack.properties.as_ref();
    if let Some(assigned) = props.and_then(|p| p.assigned_client_identifier.as_ref()) {
        // R-MQTT.9 / R-MQTT.11: keep using the id the server gave us.
        eventloop.options.set_client_id(assigned.clone());
        shared.lock().client_id.clone_from(assigned);
    }
    let topics = session::session_topics(
        &shared.config,
        props.and_then(|p| p.response_information.as_deref()),
        props.map_or(&[][..], |p| p.user_properties.as_slice()),
    );
    let max_qos = props.and_then(|p| p.max_qos).unwrap_or(2);
    let qos_level = shared.config.publish_qos.min(max_qos);
    let filters = topics.filters.iter().map(|f| Filter::new(f.clone(), qos(qos_level)));
    // Straight into the event loop's queue, ahead of anything the senders
    // queued: the broker sees SUBSCRIBE before any of our PUBLISHes.
    eventloop.pending.push_back(Request::Subscribe(Subscribe::new_many(filters, None)));
    Subscribing {
        reply_topic: topics.reply_topic,
        qos: qos_level,
        max_packet: props.and_then(|p| p.max_packet_size),
    }
}

/// Returns true when the session is up.
fn on_suback(shared: &Shared, eventloop: &mut EventLoop, ack: &SubAck, sub: Subscribing) -> bool {
    let granted = ack.return_codes.iter().filter(|c| matches!(c, SubscribeReasonCode::Success(_))).count();
    if granted == 0 {
        // R-MQTT.17: nothing subscribed, so publish nothing and disconnect;
        // the resulting connection error starts the retry cycle.
        tracing::warn!(codes = ?ack.return_codes, "every subscription refused, disconnecting");
        eventloop.pending.push_back(Request::Disconnect);
        return false;
    }
    if granted < ack.return_codes.len() {
        tracing::warn!(codes = ?ack.return_codes, "some subscriptions refused");
    }
    shared.session_up(sub.reply_topic, sub.qos, sub.max_packet);
    let reply_topic = shared.lock().reply_topic.clone();
    for (to_topic, record) in shared.connect_records() {
        eventloop.pending.push_back(Request::Publish(publish(to_topic, &reply_topic, sub.qos, record)));
    }
    true
}

fn publish(to_topic: String, reply_topic: &str, level: u8, payload: Bytes) -> Publish {
    let props = PublishProperties {
        content_type: Some(CONTENT_TYPE.to_owned()),
        response_topic: Some(reply_topic.to_owned()),
        ..Default::default()
    };
    Publish::new(to_topic, qos(level), payload, Some(props))
}

fn on_publish(shared: &Shared, eventloop: &mut EventLoop, p: Publish) {
    let props = p.properties.as_ref();
    if !is_usp_content_type(props.and_then(|p| p.content_type.as_deref())) {
        tracing::debug!("publish with a non-USP content type ignored");
        return;
    }
    let reply_to = match props.and_then(|p| p.response_topic.as_deref()) {
        Some(t) => ReplyTo::Property(t),
        // A 3.1.1 sender (bridged, or on the same server): its reply-to is
        // in the topic.
        None => match std::str::from_utf8(&p.topic).ok().and_then(topic::parse_reply_to) {
            Some(t) => ReplyTo::Suffix(t),
            None => ReplyTo::Missing,
        },
    };
    if let Some((to_topic, record)) = shared.deliver(p.payload.clone(), reply_to) {
        let (reply_topic, level) = {
            let st = shared.lock();
            (st.reply_topic.clone(), st.qos)
        };
        eventloop.pending.push_back(Request::Publish(publish(to_topic, &reply_topic, level, record)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mtp::{Role, mqtt::MqttConfig};

    #[test]
    fn connect_options_follow_the_binding() {
        let mut cfg = MqttConfig::new("proto::room101", Role::Agent, "127.0.0.1", 1883);
        cfg.credentials = Some(("user".into(), "secret".into()));
        let o = options(&cfg, String::new());
        assert_eq!(o.client_id(), "", "R-MQTT.8: empty ClientId, the server assigns one");
        assert_eq!(o.request_response_info(), Some(1), "R-MQTT.12");
        assert_eq!(
            o.user_properties(),
            [("usp-endpoint-id".to_owned(), "proto::room101".to_owned())],
            "R-MQTT.13"
        );
        assert_eq!(o.keep_alive(), std::time::Duration::from_secs(60), "R-MQTT.14");
        assert_eq!(o.credentials().map(|l| l.username), Some("user".to_owned()), "R-MQTT.7");
        assert!(o.clean_start());
        assert_eq!(o.get_outgoing_inflight_upper_limit(), Some(100), "not rumqttc's 65535 slots");
        assert_eq!(qos(0), QoS::AtMostOnce);
        assert_eq!(qos(1), QoS::AtLeastOnce);
        assert_eq!(qos(2), QoS::ExactlyOnce);
    }
}
