//! Reading a Record's head without decoding the Record.
//!
//! An MTP needs two things from a Record it carries: who sent it
//! (`from_id`, to remember where that endpoint answers) and whether it is a
//! Connect Record (whose `subscribed_topic` is the sender's address). The
//! rest — the payload above all — is the core's business.
//!
//! [`peek`] decodes only those fields with a prost message that declares
//! nothing else, so prost skips the payload without copying it; the string
//! fields are decoded as [`Bytes`] slices of the input, so peeking
//! allocates nothing. It also checks the top-level wire format, which is
//! what "the Record could not be extracted" means for R-WS.16.

use bytes::Bytes;
use prost::Message;

/// The fields of a Record an MTP looks at.
#[derive(Clone, PartialEq, Message)]
struct RawHead {
    #[prost(bytes = "bytes", tag = "2")]
    to_id: Bytes,
    #[prost(bytes = "bytes", tag = "3")]
    from_id: Bytes,
    #[prost(message, optional, tag = "9")]
    websocket_connect: Option<RawEmpty>,
    #[prost(message, optional, tag = "10")]
    mqtt_connect: Option<RawMqttConnect>,
}

#[derive(Clone, PartialEq, Message)]
struct RawEmpty {}

#[derive(Clone, PartialEq, Message)]
struct RawMqttConnect {
    #[prost(int32, tag = "1")]
    version: i32,
    #[prost(bytes = "bytes", tag = "2")]
    subscribed_topic: Bytes,
}

/// The head of a Record: its addressing and, for Connect Records, the
/// announced address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHead {
    to_id: Bytes,
    from_id: Bytes,
    connect: Option<ConnectHint>,
}

/// What a Connect Record announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectHint {
    /// An `MQTTConnectRecord`: the sender's MQTT version (raw enum value)
    /// and the topic it is subscribed to.
    Mqtt {
        /// `MQTTConnectRecord.version` (0 = 3.1.1, 1 = 5.0).
        version: i32,
        /// `MQTTConnectRecord.subscribed_topic`, raw.
        subscribed_topic: Bytes,
    },
    /// A `WebSocketConnectRecord`.
    WebSocket,
}

impl RecordHead {
    /// The Record's `to_id`, if it is valid UTF-8.
    pub fn to_id(&self) -> Option<&str> {
        std::str::from_utf8(&self.to_id).ok()
    }

    /// The Record's `from_id`, if it is valid UTF-8 and not empty.
    pub fn from_id(&self) -> Option<&str> {
        std::str::from_utf8(&self.from_id).ok().filter(|s| !s.is_empty())
    }

    /// What the Record announces, if it is an MQTT or WebSocket Connect
    /// Record.
    pub fn connect(&self) -> Option<&ConnectHint> {
        self.connect.as_ref()
    }

    /// The `subscribed_topic` of an `MQTTConnectRecord`, if it is one and the
    /// topic is valid UTF-8 and not empty.
    pub fn mqtt_subscribed_topic(&self) -> Option<&str> {
        match &self.connect {
            Some(ConnectHint::Mqtt { subscribed_topic, .. }) => {
                std::str::from_utf8(subscribed_topic).ok().filter(|s| !s.is_empty())
            }
            _ => None,
        }
    }
}

/// Reads the head of an encoded Record. Fails when the bytes are not a
/// well-formed protobuf message at the top level.
pub fn peek(record: &Bytes) -> Result<RecordHead, prost::DecodeError> {
    let raw = RawHead::decode(record.clone())?;
    // A Record whose oneof holds two members is invalid (R-ENC.4); the core
    // discards it. Here the last one wins, as in prost's own decoding.
    let connect = match (raw.mqtt_connect, raw.websocket_connect) {
        (Some(m), _) => Some(ConnectHint::Mqtt { version: m.version, subscribed_topic: m.subscribed_topic }),
        (None, Some(_)) => Some(ConnectHint::WebSocket),
        (None, None) => None,
    };
    Ok(RecordHead { to_id: raw.to_id, from_id: raw.from_id, connect })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use usp_proto::{
        Msg, Record,
        usp::{Get, NotifyResp},
        usp_record::mqtt_connect_record::MqttVersion,
    };

    #[test]
    fn reads_addressing_and_connect_records() {
        let msg = Msg::request("1", Get::new(["Device."]));
        let r = Record::no_session_context_msg("proto::agent", "proto::ctrl", &msg).encode_to_bytes();
        let head = peek(&r).unwrap();
        assert_eq!((head.to_id(), head.from_id()), (Some("proto::agent"), Some("proto::ctrl")));
        assert_eq!(head.connect(), None);
        assert_eq!(head.mqtt_subscribed_topic(), None);

        let c =
            Record::mqtt_connect("proto::ctrl", "proto::agent", MqttVersion::V5, "usp/agent/proto::agent")
                .encode_to_bytes();
        let head = peek(&c).unwrap();
        assert_eq!(head.mqtt_subscribed_topic(), Some("usp/agent/proto::agent"));
        assert!(matches!(head.connect(), Some(ConnectHint::Mqtt { version: 1, .. })));

        let w = Record::websocket_connect("proto::ctrl", "proto::agent").encode_to_bytes();
        assert_eq!(peek(&w).unwrap().connect(), Some(&ConnectHint::WebSocket));
    }

    #[test]
    fn the_payload_is_not_copied() {
        let msg = Msg::response("1", NotifyResp::new("s"));
        let r = Record::no_session_context_msg("proto::a", "proto::b", &msg).encode_to_bytes();
        let head = peek(&r).unwrap();
        let range = r.as_ptr() as usize..r.as_ptr() as usize + r.len();
        assert!(range.contains(&(head.from_id.as_ptr() as usize)), "from_id is a slice of the input");
    }

    #[test]
    fn garbage_and_bad_utf8() {
        assert!(peek(&Bytes::from_static(&[0xff, 0xff, 0xff])).is_err());
        assert!(peek(&Bytes::from_static(&[0x1a, 0x05, b'a'])).is_err(), "truncated from_id");
        let head = peek(&Bytes::from_static(&[0x1a, 0x02, 0xc3, 0x28])).unwrap();
        assert_eq!(head.from_id(), None, "not UTF-8");
        assert_eq!(peek(&Bytes::new()).unwrap().from_id(), None, "empty");
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = peek(&Bytes::from(bytes));
        }

        #[test]
        fn agrees_with_full_decoding(to in "[a-z]{1,8}::[a-z0-9]{1,12}", from in "[a-z]{1,8}::[a-z0-9]{1,12}",
                                     topic in "[a-z/]{1,20}", kind in 0u8..3) {
            let record = match kind {
                0 => Record::no_session_context_msg(&to, &from, &Msg::request("x", Get::new(["Device."]))),
                1 => Record::mqtt_connect(&to, &from, MqttVersion::V311, &topic),
                _ => Record::websocket_connect(&to, &from),
            };
            let head = peek(&record.encode_to_bytes()).unwrap();
            prop_assert_eq!(head.to_id(), Some(to.as_str()));
            prop_assert_eq!(head.from_id(), Some(from.as_str()));
            prop_assert_eq!(head.mqtt_subscribed_topic(), (kind == 1).then_some(topic.as_str()));
        }
    }
}
