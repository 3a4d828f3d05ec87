//! The last will of a connection.
//!
//! A will is a publish made on the client's behalf later, so it is checked
//! like one, at CONNECT time: valid topic, and a USP Record whose `from_id`
//! is the connection's identity. A will that fails is discarded (and
//! counted) and the connection is still accepted — USP does not need wills
//! (mtp-mqtt.md §2), and refusing a client over one would only cut it off.
//!
//! Choice: the MQTT 5 Will Delay Interval is not honoured; the will is
//! published when the connection ends, since sessions are not kept.

use rumqttd::protocol::PublishProperties;

use super::{connect::ConnectPacket, publish::inbound_message};
use crate::{
    acl::check_publish_topic, broker::Shared, identity::Identity, record_check::check_record,
    registry::ConnectionId, router::Message, stats::DropReason,
};

/// The will of a CONNECT, ready to route, if it has one that passes.
pub(super) fn prepare(
    shared: &Shared,
    identity: &Identity,
    id: ConnectionId,
    packet: &ConnectPacket,
) -> Option<Message> {
    let will = packet.will.as_ref()?;
    let topic = std::str::from_utf8(&will.topic).ok().filter(|t| check_publish_topic(t).is_ok());
    let Some(topic) = topic else {
        shared.stats.drop_record(DropReason::InvalidTopic);
        return None;
    };
    if let Err(rejection) = check_record(&shared.record_limits, &will.message, identity.endpoint_id()) {
        tracing::debug!(%rejection, "last will discarded");
        shared.stats.drop_record(rejection.drop_reason());
        return None;
    }
    let properties = packet.will_properties.as_ref().map(|p| PublishProperties {
        payload_format_indicator: p.payload_format_indicator,
        message_expiry_interval: p.message_expiry_interval,
        topic_alias: None,
        response_topic: p.response_topic.clone(),
        correlation_data: p.correlation_data.clone(),
        user_properties: p.user_properties.clone(),
        subscription_identifiers: Vec::new(),
        content_type: p.content_type.clone(),
    });
    Some(inbound_message(&will.topic, topic, will.message.clone(), properties, will.qos, id))
}
