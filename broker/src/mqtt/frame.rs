//! MQTT fixed-header inspection, done before rumqttd's codec sees a frame.
//!
//! rumqttd's codecs are used for every packet, but three things they do not
//! offer are needed first:
//!
//! * which packets a client may send: its v5 reader reaches `unreachable!()`
//!   on a CONNACK or UNSUBACK with a body, so server-to-client packet types
//!   are refused here, before decoding;
//! * the protocol level of a CONNECT, to pick the 3.1.1 or the 5 codec;
//! * the QoS and packet identifier of a PUBLISH, which its `Publish` keeps
//!   crate-private; and, when sending, a way to give an encoded PUBLISH a
//!   QoS and a packet identifier ([`write_publish`]).
//!
//! All functions here take byte slices and return values; nothing panics on
//! any input (property-tested).

use bytes::{BufMut, BytesMut};
use rumqttd::protocol::{self, QoS, v4};

/// MQTT control packet types (MQTT 5 §2.1.2).
pub(crate) mod packet_type {
    pub(crate) const CONNECT: u8 = 1;
    pub(crate) const PUBLISH: u8 = 3;
    pub(crate) const PUBACK: u8 = 4;
    pub(crate) const PUBREC: u8 = 5;
    pub(crate) const PUBREL: u8 = 6;
    pub(crate) const PUBCOMP: u8 = 7;
    pub(crate) const SUBSCRIBE: u8 = 8;
    pub(crate) const UNSUBSCRIBE: u8 = 10;
    pub(crate) const PINGREQ: u8 = 12;
    pub(crate) const DISCONNECT: u8 = 14;
}

/// Why bytes from a client are not an acceptable MQTT frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The remaining length is over the configured maximum.
    #[error("packet of {0} bytes is over the maximum packet size")]
    TooLarge(usize),
    /// The frame is not well-formed.
    #[error("malformed packet")]
    Malformed,
    /// A packet type a client never sends (CONNACK, SUBACK, ..., AUTH, 0).
    #[error("packet type {0} is not accepted from a client")]
    UnexpectedPacket(u8),
    /// CONNECT with a protocol level other than 4 (3.1.1) or 5.
    #[error("unsupported MQTT protocol level {0}")]
    UnsupportedProtocol(u8),
    /// A string or topic longer than MQTT's 65535-byte limit.
    #[error("field longer than 65535 bytes")]
    FieldTooLong,
    /// rumqttd's codec refused the packet.
    #[error("codec: {0}")]
    Codec(protocol::Error),
}

/// A complete frame's fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// First byte: packet type (high nibble) and flags.
    pub(crate) byte1: u8,
    /// Length of the fixed header (2..=5).
    pub(crate) header_len: usize,
    /// Remaining length.
    pub(crate) remaining_len: usize,
}

impl Header {
    pub(crate) fn packet_type(&self) -> u8 {
        self.byte1 >> 4
    }

    /// Whole frame length.
    pub(crate) fn frame_len(&self) -> usize {
        self.header_len + self.remaining_len
    }
}

/// Returns the header of the first frame in `buf` if the whole frame is
/// there, `Ok(None)` if more bytes are needed.
pub(crate) fn peek(buf: &[u8], max_remaining: usize) -> Result<Option<Header>, FrameError> {
    match v4::check(buf.iter(), max_remaining) {
        Ok(h) => Ok(Some(Header {
            byte1: h.byte1,
            header_len: h.fixed_header_len,
            remaining_len: h.remaining_len,
        })),
        Err(protocol::Error::InsufficientBytes(_)) => Ok(None),
        Err(protocol::Error::PayloadSizeLimitExceeded(n)) => Err(FrameError::TooLarge(n)),
        Err(_) => Err(FrameError::Malformed),
    }
}

/// Refuses packet types that only a server sends (and AUTH, which is not
/// supported, and the reserved 0).
pub(crate) fn check_client_packet(header: &Header) -> Result<(), FrameError> {
    use packet_type::*;
    match header.packet_type() {
        CONNECT | PUBLISH | PUBACK | PUBREC | PUBREL | PUBCOMP | SUBSCRIBE | UNSUBSCRIBE | PINGREQ
        | DISCONNECT => Ok(()),
        other => Err(FrameError::UnexpectedPacket(other)),
    }
}

/// Reads the big-endian u16 at `at`.
fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    let b = buf.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

/// The protocol level of a complete CONNECT frame (4 = 3.1.1, 5 = 5.0).
pub(crate) fn connect_level(frame: &[u8], header: &Header) -> Result<u8, FrameError> {
    let name_len = usize::from(u16_at(frame, header.header_len).ok_or(FrameError::Malformed)?);
    let at = header.header_len + 2 + name_len;
    if at >= header.frame_len() {
        return Err(FrameError::Malformed);
    }
    frame.get(at).copied().ok_or(FrameError::Malformed)
}

/// QoS and packet identifier of a complete PUBLISH frame (identifier 0 for
/// QoS 0).
pub(crate) fn publish_qos_pkid(frame: &[u8], header: &Header) -> Result<(QoS, u16), FrameError> {
    let qos = protocol::qos((header.byte1 >> 1) & 0b11).ok_or(FrameError::Malformed)?;
    if qos == QoS::AtMostOnce {
        return Ok((qos, 0));
    }
    let topic_len = usize::from(u16_at(frame, header.header_len).ok_or(FrameError::Malformed)?);
    let at = header.header_len + 2 + topic_len;
    if at + 2 > header.frame_len() {
        return Err(FrameError::Malformed);
    }
    let pkid = u16_at(frame, at).ok_or(FrameError::Malformed)?;
    Ok((qos, pkid))
}

/// Appends `encoded` — a complete QoS 0 PUBLISH frame — to `out` as a PUBLISH
/// with the given QoS, packet identifier and DUP flag.
///
/// rumqttd's `Publish` keeps its QoS and packet identifier private, so its
/// codec can only produce QoS 0 frames from outside the crate. A QoS 1 frame
/// differs from the QoS 0 one only in the QoS bits of the first byte, two
/// more bytes of remaining length, and the identifier after the topic (MQTT 5
/// §3.3.1–3.3.2), which is exactly what is written here.
pub(crate) fn write_publish(
    encoded: &[u8],
    qos: QoS,
    pkid: u16,
    dup: bool,
    out: &mut BytesMut,
) -> Result<(), FrameError> {
    if qos == QoS::AtMostOnce {
        out.extend_from_slice(encoded);
        return Ok(());
    }
    let header = peek(encoded, usize::MAX)?.ok_or(FrameError::Malformed)?;
    if header.packet_type() != packet_type::PUBLISH || pkid == 0 {
        return Err(FrameError::Malformed);
    }
    let topic_len = usize::from(u16_at(encoded, header.header_len).ok_or(FrameError::Malformed)?);
    let split = header.header_len + 2 + topic_len;
    let (head, tail) = (
        encoded.get(header.header_len..split).ok_or(FrameError::Malformed)?,
        encoded.get(split..header.frame_len()).ok_or(FrameError::Malformed)?,
    );
    out.reserve(header.frame_len() + 3);
    out.put_u8((header.byte1 & 0b1111_0001) | ((qos as u8) << 1) | (u8::from(dup) << 3));
    v4::write_remaining_length(out, header.remaining_len + 2).map_err(FrameError::Codec)?;
    out.extend_from_slice(head);
    out.put_u16(pkid);
    out.extend_from_slice(tail);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;
    use rumqttd::protocol::{Packet, Protocol, Publish, PublishProperties, v5::V5};

    fn qos0_v5(topic: &str, payload: &[u8], props: Option<PublishProperties>) -> BytesMut {
        let mut buf = BytesMut::new();
        let publish =
            Publish::new(Bytes::copy_from_slice(topic.as_bytes()), Bytes::copy_from_slice(payload), false);
        V5.write(Packet::Publish(publish, props), &mut buf).unwrap();
        buf
    }

    #[test]
    fn qos1_frames_decode_with_rumqttds_codec() {
        let props = PublishProperties {
            response_topic: Some("usp/controller/proto::c".to_owned()),
            content_type: Some("usp.msg".to_owned()),
            ..PublishProperties::default()
        };
        // 200 bytes of payload: the remaining length crosses 127 only with the identifier.
        let enc = qos0_v5("usp/agent/proto::a", &[7; 90], Some(props.clone()));
        let mut out = BytesMut::new();
        write_publish(&enc, QoS::AtLeastOnce, 4242, true, &mut out).unwrap();

        let header = peek(&out, 1 << 20).unwrap().unwrap();
        assert_eq!(publish_qos_pkid(&out, &header).unwrap(), (QoS::AtLeastOnce, 4242));
        assert_eq!(header.byte1 & 0b1000, 0b1000, "DUP set");
        match V5.read_mut(&mut out, 1 << 20).unwrap() {
            Packet::Publish(p, Some(got)) => {
                assert_eq!(&p.topic[..], b"usp/agent/proto::a");
                assert_eq!(&p.payload[..], &[7; 90][..]);
                assert_eq!(got, props);
            }
            other => panic!("{other:?}"),
        }
        assert!(out.is_empty());
    }

    #[test]
    fn qos0_is_copied_unchanged() {
        let enc = qos0_v5("t", b"x", None);
        let mut out = BytesMut::new();
        write_publish(&enc, QoS::AtMostOnce, 0, false, &mut out).unwrap();
        assert_eq!(out, enc);
    }

    #[test]
    fn refuses_server_packets_and_reads_connect_levels() {
        // CONNACK with a body: rumqttd's v5 reader would hit unreachable!().
        let connack = [0x20, 0x02, 0x00, 0x00];
        let h = peek(&connack, 100).unwrap().unwrap();
        assert_eq!(check_client_packet(&h), Err(FrameError::UnexpectedPacket(2)));
        // A 3.1.1 CONNECT: name "MQTT", level 4.
        let connect = [0x10, 0x0c, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 0];
        let h = peek(&connect, 100).unwrap().unwrap();
        assert_eq!(connect_level(&connect, &h), Ok(4));
        assert_eq!(peek(&connect[..5], 100), Ok(None));
        assert_eq!(peek(&[0x30, 0xff, 0xff, 0xff, 0x7f], 1000), Err(FrameError::TooLarge(268_435_455)));
        assert_eq!(peek(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01], 1000), Err(FrameError::Malformed));
    }

    proptest! {
        #[test]
        fn inspection_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(Some(h)) = peek(&bytes, 1 << 16) {
                let _ = check_client_packet(&h);
                let _ = connect_level(&bytes, &h);
                let _ = publish_qos_pkid(&bytes, &h);
            }
            let _ = write_publish(&bytes, QoS::AtLeastOnce, 1, false, &mut BytesMut::new());
        }

        #[test]
        fn identifiers_survive_any_length(topic in "[a-z/]{1,40}", len in 0usize..20_000, pkid in 1u16..) {
            let enc = qos0_v5(&topic, &vec![1; len], None);
            let mut out = BytesMut::new();
            write_publish(&enc, QoS::AtLeastOnce, pkid, false, &mut out).unwrap();
            let h = peek(&out, usize::MAX).unwrap().unwrap();
            prop_assert_eq!(h.frame_len(), out.len());
            prop_assert_eq!(publish_qos_pkid(&out, &h).unwrap(), (QoS::AtLeastOnce, pkid));
            match V5.read_mut(&mut out, usize::MAX).unwrap() {
                Packet::Publish(p, _) => prop_assert_eq!(p.payload.len(), len),
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
