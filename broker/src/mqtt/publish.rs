//! An inbound PUBLISH: checks, then routing, then the acknowledgement.
//!
//! Checks, in order:
//! * MQTT 5 protocol rules the CONNACK announced: no QoS 2 (Maximum QoS 1,
//!   DISCONNECT 0x9B), no retain (Retain Available 0, DISCONNECT 0x9A), no
//!   Topic Alias (Topic Alias Maximum 0, DISCONNECT 0x94). A 3.1.1 client may
//!   use QoS 2 (handled with PUBREC/PUBREL/PUBCOMP, routed as QoS 1) and
//!   retain (delivered, not retained);
//! * the topic name ([`crate::acl::check_publish_topic`]);
//! * the payload: a USP Record whose `from_id` is the connection's identity
//!   ([`crate::record_check`]).
//!
//! A refused publish is dropped and counted, never delivered; a QoS 1 one is
//! still acknowledged so the client does not resend it — with reason Not
//! Authorized (0x87) for a spoofed `from_id`, Implementation Specific Error
//! (0x83) for a payload that is not a Record or is too large, Topic Name
//! Invalid (0x90) for a bad topic (MQTT 5 only; 3.1.1 PUBACKs have no
//! reason). The deprecated 0x99 for bad payloads (R-MQTT.28–32) is not
//! used.

use std::sync::Arc;

use bytes::Bytes;
use rumqttd::protocol::{
    DisconnectReasonCode, Packet, PubAck, PubAckReason, PubRec, PubRecReason, Publish, PublishProperties, QoS,
};

use super::{Version, session::Exit, session::Session};
use crate::{
    acl::check_publish_topic, record_check::RecordRejection, registry::ConnectionId, router::Message,
    stats::DropReason, topics::split_reply_to,
};

/// Builds the routed message of an accepted publish (or will): the base
/// topic is a slice of `topic`, the reply topic comes from the Response
/// Topic property or else from a `/reply-to=` suffix.
pub(super) fn inbound_message(
    topic: &Bytes,
    topic_str: &str,
    payload: Bytes,
    properties: Option<PublishProperties>,
    qos: QoS,
    publisher: ConnectionId,
) -> Message {
    let (base, suffix_reply) = split_reply_to(topic_str);
    let reply_to: Option<Arc<str>> = match properties.as_ref().and_then(|p| p.response_topic.as_deref()) {
        Some(response_topic) => Some(Arc::from(response_topic)),
        None => suffix_reply.map(|r| Arc::from(&*r)),
    };
    Message::new(topic.slice(..base.len()), reply_to, payload, properties, qos, publisher)
}

/// The acknowledgement of an inbound QoS 1 or 2 PUBLISH, kept small while
/// the publish waits for room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ack {
    /// PUBACK with its reason (MQTT 5) for QoS 1.
    PubAck(u16, PubAckReason),
    /// PUBREC for QoS 2 (3.1.1 only).
    PubRec(u16),
}

impl Ack {
    pub(super) fn into_packet(self) -> Packet {
        match self {
            Ack::PubAck(pkid, reason) => Packet::PubAck(PubAck { pkid, reason }, None),
            Ack::PubRec(pkid) => Packet::PubRec(PubRec { pkid, reason: PubRecReason::Success }, None),
        }
    }
}

impl Session {
    pub(super) fn handle_publish(
        &mut self,
        publish: Publish,
        properties: Option<PublishProperties>,
        qos: QoS,
        pkid: u16,
    ) -> Result<(), Exit> {
        let v5 = self.version() == Version::V5;
        if v5 {
            if qos == QoS::ExactlyOnce {
                return Err(Exit::Protocol(DisconnectReasonCode::QoSNotSupported));
            }
            if publish.retain {
                return Err(Exit::Protocol(DisconnectReasonCode::RetainNotSupported));
            }
            if properties.as_ref().is_some_and(|p| p.topic_alias.is_some()) {
                return Err(Exit::Protocol(DisconnectReasonCode::TopicAliasInvalid));
            }
        }
        if qos == QoS::ExactlyOnce && self.awaiting_release.contains(&pkid) {
            // A resent QoS 2 publish: already routed once.
            return self.acknowledge(qos, pkid, None);
        }

        let Ok(topic) = std::str::from_utf8(&publish.topic) else {
            return Err(Exit::Protocol(DisconnectReasonCode::TopicNameInvalid));
        };
        if check_publish_topic(topic).is_err() {
            self.att.shared().stats.drop_record(DropReason::InvalidTopic);
            return self.acknowledge(qos, pkid, Some(PubAckReason::TopicNameInvalid));
        }
        if let Err(rejection) = self.att.admit(&publish.payload) {
            let reason = match rejection {
                RecordRejection::SpoofedFromId { .. } => PubAckReason::NotAuthorized,
                RecordRejection::NotARecord | RecordRejection::TooLarge { .. } => {
                    PubAckReason::ImplementationSpecificError
                }
            };
            return self.acknowledge(qos, pkid, Some(reason));
        }

        let message = inbound_message(&publish.topic, topic, publish.payload, properties, qos, self.att.id());
        self.routed = true;
        match self.att.publish(message) {
            None => self.acknowledge(qos, pkid, None),
            Some(pending) => {
                let ack = self.ack_packet(qos, pkid, None);
                if qos == QoS::ExactlyOnce {
                    self.awaiting_release.push(pkid);
                }
                self.pending = Some((pending, ack));
                Ok(())
            }
        }
    }

    fn ack_packet(&self, qos: QoS, pkid: u16, refused: Option<PubAckReason>) -> Option<Ack> {
        let v5 = self.version() == Version::V5;
        match qos {
            QoS::AtMostOnce => None,
            QoS::AtLeastOnce => {
                Some(Ack::PubAck(pkid, refused.filter(|_| v5).unwrap_or(PubAckReason::Success)))
            }
            // 3.1.1 only (MQTT 5 QoS 2 is refused above); PUBREC has no reason there.
            QoS::ExactlyOnce => Some(Ack::PubRec(pkid)),
        }
    }

    fn acknowledge(&mut self, qos: QoS, pkid: u16, refused: Option<PubAckReason>) -> Result<(), Exit> {
        if qos == QoS::ExactlyOnce && !self.awaiting_release.contains(&pkid) {
            // 3.1.1 has no Receive Maximum; bound the QoS 2 state anyway.
            if self.awaiting_release.len() >= usize::from(self.att.shared().limits.max_inflight) {
                return Err(Exit::Protocol(DisconnectReasonCode::ReceiveMaximumExceeded));
            }
            self.awaiting_release.push(pkid);
        }
        match self.ack_packet(qos, pkid, refused) {
            Some(ack) => self.write(ack.into_packet()),
            None => Ok(()),
        }
    }
}
