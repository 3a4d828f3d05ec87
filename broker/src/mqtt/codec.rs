//! rumqttd's v4 (3.1.1) and v5 codecs behind one guarded interface.
//!
//! [`Codec::read`] checks the fixed header ([`super::frame`]) before handing
//! a frame to rumqttd, so no input reaches one of the codec's panicking
//! paths; [`Codec::write`] only passes packets the codec can encode for the
//! version (3.1.1 packets never carry properties, CONNACK codes exist in
//! the version).

use bytes::BytesMut;
use rumqttd::protocol::{
    ConnectReturnCode, DisconnectProperties, DisconnectReasonCode, Packet, Protocol, Publish,
    PublishProperties, QoS, v4::V4, v5::V5,
};

use super::frame::{self, FrameError, packet_type};

/// MQTT protocol version of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// MQTT 3.1.1 (protocol level 4).
    V311,
    /// MQTT 5.0 (protocol level 5).
    V5,
}

/// A decoded client packet. PUBLISH comes with the QoS and packet identifier
/// read from its fixed header (rumqttd keeps them private in `Publish`).
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A PUBLISH.
    Publish { publish: Publish, properties: Option<PublishProperties>, qos: QoS, pkid: u16 },
    /// Any other packet.
    Packet(Packet),
}

/// Reads the first packet of a connection, which must be a CONNECT, and
/// returns the version it asks for with it. `Ok(None)`: more bytes needed.
pub(crate) fn read_connect(
    buf: &mut BytesMut,
    max_remaining: usize,
) -> Result<Option<(Version, Packet)>, FrameError> {
    // Refuse anything else from its first byte, without waiting for a frame
    // that may never complete (an HTTP request, garbage).
    if let Some(&first) = buf.first()
        && first != packet_type::CONNECT << 4
    {
        return Err(FrameError::UnexpectedPacket(first >> 4));
    }
    let Some(header) = frame::peek(buf, max_remaining)? else {
        return Ok(None);
    };
    if header.packet_type() != packet_type::CONNECT {
        return Err(FrameError::UnexpectedPacket(header.packet_type()));
    }
    let version = match frame::connect_level(buf, &header)? {
        4 => Version::V311,
        5 => Version::V5,
        level => return Err(FrameError::UnsupportedProtocol(level)),
    };
    let mut codec = Codec::new(version, max_remaining);
    match codec.read(buf)? {
        Some(Inbound::Packet(packet @ Packet::Connect(..))) => Ok(Some((version, packet))),
        // peek() saw the whole frame, so the codec cannot ask for more bytes.
        _ => Err(FrameError::Malformed),
    }
}

/// The codec of one connection.
#[derive(Debug, Clone)]
pub(crate) struct Codec {
    version: Version,
    max_remaining: usize,
}

impl Codec {
    pub(crate) fn new(version: Version, max_remaining: usize) -> Codec {
        Codec { version, max_remaining }
    }

    pub(crate) fn version(&self) -> Version {
        self.version
    }

    /// Decodes the next packet in `buf`, consuming its bytes. `Ok(None)` when
    /// the buffer does not hold a whole frame yet.
    pub(crate) fn read(&mut self, buf: &mut BytesMut) -> Result<Option<Inbound>, FrameError> {
        let Some(header) = frame::peek(buf, self.max_remaining)? else {
            return Ok(None);
        };
        frame::check_client_packet(&header)?;
        let qos_pkid = if header.packet_type() == packet_type::PUBLISH {
            Some(frame::publish_qos_pkid(buf, &header)?)
        } else {
            None
        };
        let packet = match self.version {
            Version::V311 => V4.read_mut(buf, self.max_remaining),
            Version::V5 => V5.read_mut(buf, self.max_remaining),
        };
        match (packet, qos_pkid) {
            (Ok(Packet::Publish(publish, properties)), Some((qos, pkid))) => {
                Ok(Some(Inbound::Publish { publish, properties, qos, pkid }))
            }
            (Ok(packet), _) => Ok(Some(Inbound::Packet(packet))),
            (Err(e), _) => Err(FrameError::Codec(e)),
        }
    }

    /// Encodes a server packet for this connection's version.
    pub(crate) fn write(&self, packet: Packet, out: &mut BytesMut) -> Result<(), FrameError> {
        let written = match self.version {
            Version::V311 => V4.write(without_properties(packet)?, out),
            Version::V5 => {
                if let Packet::ConnAck(ack, _) = &packet
                    && matches!(
                        ack.code,
                        ConnectReturnCode::RefusedProtocolVersion | ConnectReturnCode::ServiceUnavailable
                    )
                {
                    return Err(FrameError::Malformed);
                }
                V5.write(with_disconnect_properties(packet), out)
            }
        };
        written.map(drop).map_err(FrameError::Codec)
    }
}

/// rumqttd's v5 DISCONNECT writer mis-frames a reason code without
/// properties (it writes a property-length byte its remaining length does
/// not count) and, with empty properties, takes the remaining length 2 for
/// "normal disconnection" and drops the reason. A Reason String property
/// avoids both, and tells the client what happened.
fn with_disconnect_properties(packet: Packet) -> Packet {
    match packet {
        Packet::Disconnect(d, None) if d.reason_code != DisconnectReasonCode::NormalDisconnection => {
            let properties = DisconnectProperties {
                session_expiry_interval: None,
                reason_string: Some(format!("{:?}", d.reason_code)),
                user_properties: Vec::new(),
                server_reference: None,
            };
            Packet::Disconnect(d, Some(properties))
        }
        other => other,
    }
}

/// The 3.1.1 form of a packet: no properties, and only the CONNACK codes 3.1.1
/// has.
fn without_properties(packet: Packet) -> Result<Packet, FrameError> {
    Ok(match packet {
        Packet::ConnAck(ack, _) => {
            use ConnectReturnCode::*;
            if !matches!(
                ack.code,
                Success
                    | RefusedProtocolVersion
                    | ClientIdentifierNotValid
                    | ServiceUnavailable
                    | BadUserNamePassword
                    | NotAuthorized
            ) {
                return Err(FrameError::Malformed);
            }
            Packet::ConnAck(ack, None)
        }
        Packet::Publish(p, _) => Packet::Publish(p, None),
        Packet::PubAck(p, _) => Packet::PubAck(p, None),
        Packet::PubRec(p, _) => Packet::PubRec(p, None),
        Packet::PubRel(p, _) => Packet::PubRel(p, None),
        Packet::PubComp(p, _) => Packet::PubComp(p, None),
        Packet::SubAck(p, _) => Packet::SubAck(p, None),
        Packet::UnsubAck(p, _) => Packet::UnsubAck(p, None),
        Packet::Disconnect(p, _) => Packet::Disconnect(p, None),
        // Client packets and pings carry no properties in 3.1.1 either way;
        // a server never sends the client ones.
        Packet::PingResp(p) => Packet::PingResp(p),
        _ => return Err(FrameError::Malformed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;
    use rumqttd::protocol::{ConnAck, Connect, ConnectProperties, Disconnect, Login, PubAck, PubAckReason};

    fn connect_bytes(version: Version) -> BytesMut {
        let mut buf = BytesMut::new();
        let connect = Connect { keep_alive: 30, client_id: "proto::a".to_owned(), clean_session: true };
        let login = Some(Login { username: "u".to_owned(), password: "p".to_owned() });
        match version {
            Version::V311 => V4.write(Packet::Connect(connect, None, None, None, login), &mut buf),
            Version::V5 => {
                let props = ConnectProperties {
                    session_expiry_interval: None,
                    receive_maximum: None,
                    max_packet_size: None,
                    topic_alias_max: None,
                    request_response_info: Some(1),
                    request_problem_info: None,
                    user_properties: vec![("usp-endpoint-id".to_owned(), "proto::a".to_owned())],
                    authentication_method: None,
                    authentication_data: None,
                };
                V5.write(Packet::Connect(connect, Some(props), None, None, login), &mut buf)
            }
        }
        .unwrap();
        buf
    }

    #[test]
    fn picks_the_version_from_connect() {
        for v in [Version::V311, Version::V5] {
            let mut buf = connect_bytes(v);
            let (got, packet) = read_connect(&mut buf, 1024).unwrap().unwrap();
            assert_eq!(got, v);
            assert!(matches!(packet, Packet::Connect(c, ..) if c.client_id == "proto::a"));
            assert!(buf.is_empty());
        }
        let mut partial = connect_bytes(Version::V5);
        let mut head = partial.split_to(6);
        assert!(read_connect(&mut head, 1024).unwrap().is_none());
        let mut pingreq = BytesMut::from(&[0xc0u8, 0][..]);
        assert_eq!(read_connect(&mut pingreq, 1024).unwrap_err(), FrameError::UnexpectedPacket(12));
    }

    #[test]
    fn publish_carries_qos_and_identifier() {
        let mut codec = Codec::new(Version::V311, 1024);
        // PUBLISH QoS 1, topic "a/b", pkid 7, payload "hi".
        let mut buf = BytesMut::from(&[0x32u8, 9, 0, 3, b'a', b'/', b'b', 0, 7, b'h', b'i'][..]);
        match codec.read(&mut buf).unwrap().unwrap() {
            Inbound::Publish { publish, qos, pkid, .. } => {
                assert_eq!((qos, pkid), (QoS::AtLeastOnce, 7));
                assert_eq!(publish.payload, Bytes::from_static(b"hi"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn writes_only_what_the_version_has() {
        let v4 = Codec::new(Version::V311, 1024);
        let mut out = BytesMut::new();
        let ack = ConnAck { session_present: false, code: ConnectReturnCode::BadUserNamePassword };
        v4.write(Packet::ConnAck(ack.clone(), Some(Default::default())), &mut out).unwrap();
        assert_eq!(&out[..], &[0x20, 2, 0, 4]);
        let quota = ConnAck { session_present: false, code: ConnectReturnCode::QuotaExceeded };
        assert!(v4.write(Packet::ConnAck(quota, None), &mut out).is_err());
        let v5 = Codec::new(Version::V5, 1024);
        let old = ConnAck { session_present: false, code: ConnectReturnCode::ServiceUnavailable };
        assert!(v5.write(Packet::ConnAck(old, None), &mut out).is_err());
        let puback = PubAck { pkid: 3, reason: PubAckReason::NotAuthorized };
        out.clear();
        v5.write(Packet::PubAck(puback, None), &mut out).unwrap();
        assert_eq!(&out[..], &[0x40, 4, 0, 3, 0x87, 0]);
        out.clear();
        let taken = Disconnect { reason_code: DisconnectReasonCode::SessionTakenOver };
        v5.write(Packet::Disconnect(taken, None), &mut out).unwrap();
        let mut expected = vec![0xe0, 21, 0x8e, 19, 0x1f, 0, 16];
        expected.extend_from_slice(b"SessionTakenOver");
        assert_eq!(&out[..], &expected[..]);
        out.clear();
        let normal = Disconnect { reason_code: DisconnectReasonCode::NormalDisconnection };
        v5.write(Packet::Disconnect(normal, None), &mut out).unwrap();
        assert_eq!(&out[..], &[0xe0, 0]);
    }

    proptest! {
        /// Whatever a client sends, decoding returns a value or an error.
        #[test]
        fn reading_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), v5 in any::<bool>()) {
            let version = if v5 { Version::V5 } else { Version::V311 };
            let mut codec = Codec::new(version, 256);
            let mut buf = BytesMut::from(&bytes[..]);
            while let Ok(Some(_)) = codec.read(&mut buf) {}
            let mut buf = BytesMut::from(&bytes[..]);
            let _ = read_connect(&mut buf, 256);
        }

        /// Same, for frames that are well-formed at the fixed-header level,
        /// which reach the packet decoders.
        #[test]
        fn reading_framed_garbage_never_panics(kind in 0u8..16, flags in 0u8..16, body in proptest::collection::vec(any::<u8>(), 0..120), v5 in any::<bool>()) {
            let version = if v5 { Version::V5 } else { Version::V311 };
            let mut bytes = vec![(kind << 4) | flags, body.len() as u8];
            bytes.extend_from_slice(&body);
            let mut buf = BytesMut::from(&bytes[..]);
            let _ = Codec::new(version, 256).read(&mut buf);
            let mut buf = BytesMut::from(&bytes[..]);
            let _ = read_connect(&mut buf, 256);
        }
    }
}
