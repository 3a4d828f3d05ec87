//! A routed message: one accepted USP Record on its way to subscribers.
//!
//! The message is shared (`Arc`) by every delivery; its MQTT encodings are
//! made at most once per protocol version, on first use, and then copied
//! into each subscriber's write buffer — there is no per-delivery
//! allocation.

use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};
use rumqttd::protocol::{Packet, Protocol, Publish, PublishProperties, QoS, v4::V4, v5::V5};

use crate::{mqtt::Version, registry::ConnectionId, topics};

/// The Content Type R-MQTT.27 asks MQTT 5 senders to use.
pub const USP_CONTENT_TYPE: &str = "usp.msg";

/// One accepted Record and where it goes.
#[derive(Debug)]
pub(crate) struct Message {
    /// Base topic: the publish topic without any `/reply-to=` suffix. UTF-8.
    topic: Bytes,
    /// The sender's reply topic (MQTT 5 Response Topic or 3.1.1 suffix).
    reply_to: Option<Arc<str>>,
    /// The USP Record.
    payload: Bytes,
    /// MQTT 5 properties passed through (Content Type, Correlation Data, user
    /// properties, payload format, expiry); Response Topic, Topic Alias and
    /// Subscription Identifiers are not kept here.
    properties: Option<PublishProperties>,
    /// QoS the publisher used (0 or 1).
    qos: QoS,
    /// Connection that published it (for MQTT 5 No Local).
    publisher: ConnectionId,
    v5: OnceLock<Option<Bytes>>,
    v311: OnceLock<Option<Bytes>>,
}

impl Message {
    /// A message; `topic` must be a valid UTF-8 topic name (checked by the
    /// caller).
    pub(crate) fn new(
        topic: Bytes,
        reply_to: Option<Arc<str>>,
        payload: Bytes,
        properties: Option<PublishProperties>,
        qos: QoS,
        publisher: ConnectionId,
    ) -> Message {
        let properties = properties.map(|mut p| {
            p.response_topic = None;
            p.topic_alias = None;
            p.subscription_identifiers.clear();
            p
        });
        let qos = if qos == QoS::AtMostOnce { QoS::AtMostOnce } else { QoS::AtLeastOnce };
        Message {
            topic,
            reply_to,
            payload,
            properties,
            qos,
            publisher,
            v5: OnceLock::new(),
            v311: OnceLock::new(),
        }
    }

    /// The base topic.
    pub(crate) fn topic(&self) -> &str {
        // Checked at construction; an invalid topic routes nowhere.
        std::str::from_utf8(&self.topic).unwrap_or("")
    }

    /// The sender's reply topic.
    pub(crate) fn reply_to(&self) -> Option<&Arc<str>> {
        self.reply_to.as_ref()
    }

    /// The Record.
    pub(crate) fn payload(&self) -> &Bytes {
        &self.payload
    }

    pub(crate) fn qos(&self) -> QoS {
        self.qos
    }

    pub(crate) fn publisher(&self) -> ConnectionId {
        self.publisher
    }

    /// Bytes this message counts for in a queue.
    pub(crate) fn queued_size(&self) -> usize {
        self.payload.len() + self.topic.len()
    }

    /// The message as a complete QoS 0 PUBLISH frame for `version`, or `None`
    /// if it cannot be expressed there (a 3.1.1 topic with its reply-to
    /// suffix longer than 65535 bytes).
    ///
    /// MQTT 5 subscribers get the base topic with the reply topic as Response
    /// Topic and Content Type `usp.msg` unless the publisher set one; 3.1.1
    /// subscribers get the base topic with the `/reply-to=` suffix.
    pub(crate) fn encoded(&self, version: Version) -> Option<&Bytes> {
        match version {
            Version::V5 => self.v5.get_or_init(|| self.encode_v5()).as_ref(),
            Version::V311 => self.v311.get_or_init(|| self.encode_v311()).as_ref(),
        }
    }

    fn encode_v5(&self) -> Option<Bytes> {
        let mut properties = self.properties.clone().unwrap_or_default();
        properties.response_topic = self.reply_to.as_deref().map(str::to_owned);
        if properties.content_type.is_none() {
            properties.content_type = Some(USP_CONTENT_TYPE.to_owned());
        }
        let fits = |s: &Option<String>| s.as_ref().is_none_or(|s| s.len() <= usize::from(u16::MAX));
        if !fits(&properties.response_topic) || !fits(&properties.content_type) {
            return None;
        }
        let publish = Publish::new(self.topic.clone(), self.payload.clone(), false);
        let mut buf = BytesMut::new();
        V5.write(Packet::Publish(publish, Some(properties)), &mut buf).ok()?;
        Some(buf.freeze())
    }

    fn encode_v311(&self) -> Option<Bytes> {
        let topic = match &self.reply_to {
            Some(reply_to) => {
                let mut t = String::new();
                topics::push_with_reply_to(&mut t, self.topic(), reply_to);
                Bytes::from(t)
            }
            None => self.topic.clone(),
        };
        if topic.len() > usize::from(u16::MAX) {
            return None;
        }
        let mut buf = BytesMut::new();
        V4.write(Packet::Publish(Publish::new(topic, self.payload.clone(), false), None), &mut buf).ok()?;
        Some(buf.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttd::protocol::Packet;

    fn decode(version: Version, bytes: &Bytes) -> (Publish, Option<PublishProperties>) {
        let mut buf = BytesMut::from(&bytes[..]);
        let packet = match version {
            Version::V5 => V5.read_mut(&mut buf, 1 << 20),
            Version::V311 => V4.read_mut(&mut buf, 1 << 20),
        };
        match packet.unwrap() {
            Packet::Publish(p, props) => (p, props),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_version_gets_its_reply_to_form() {
        let props = PublishProperties {
            correlation_data: Some(Bytes::from_static(b"c-1")),
            user_properties: vec![("k".into(), "v".into())],
            response_topic: Some("ignored: reply_to wins".into()),
            ..PublishProperties::default()
        };
        let m = Message::new(
            Bytes::from_static(b"usp/agent/proto::a"),
            Some(Arc::from("usp/controller/proto::c")),
            Bytes::from_static(b"record"),
            Some(props),
            QoS::ExactlyOnce,
            ConnectionId(1),
        );
        assert_eq!(m.qos(), QoS::AtLeastOnce, "QoS 2 is routed as QoS 1");

        let (p, props) = decode(Version::V5, m.encoded(Version::V5).unwrap());
        assert_eq!(&p.topic[..], b"usp/agent/proto::a");
        let props = props.unwrap();
        assert_eq!(props.response_topic.as_deref(), Some("usp/controller/proto::c"));
        assert_eq!(props.content_type.as_deref(), Some("usp.msg"));
        assert_eq!(props.correlation_data.as_deref(), Some(&b"c-1"[..]));
        assert_eq!(props.user_properties, vec![("k".to_owned(), "v".to_owned())]);

        let (p, props) = decode(Version::V311, m.encoded(Version::V311).unwrap());
        assert_eq!(&p.topic[..], b"usp/agent/proto::a/reply-to=usp%2Fcontroller%2Fproto::c");
        assert_eq!(&p.payload[..], b"record");
        assert!(props.is_none());
    }

    #[test]
    fn a_publisher_content_type_is_kept() {
        let props = PublishProperties {
            content_type: Some("application/vnd.bbf.usp.msg".into()),
            ..PublishProperties::default()
        };
        let m = Message::new(
            Bytes::from_static(b"t"),
            None,
            Bytes::new(),
            Some(props),
            QoS::AtMostOnce,
            ConnectionId(1),
        );
        let (_, props) = decode(Version::V5, m.encoded(Version::V5).unwrap());
        let props = props.unwrap();
        assert_eq!(props.content_type.as_deref(), Some("application/vnd.bbf.usp.msg"));
        assert_eq!(props.response_topic, None);
    }

    #[test]
    fn an_overlong_311_topic_is_not_encodable() {
        let long = "x".repeat(40_000);
        let m = Message::new(
            Bytes::from(long.clone()),
            Some(Arc::from(long.as_str())),
            Bytes::new(),
            None,
            QoS::AtMostOnce,
            ConnectionId(1),
        );
        assert!(m.encoded(Version::V311).is_none());
        assert!(m.encoded(Version::V5).is_some());
    }
}
