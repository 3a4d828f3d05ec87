//! The MQTT server: our own listener and connection tasks speaking MQTT 3.1.1
//! and 5 with rumqttd's codecs, in front of our routing core.
//!
//! One task per connection (`session.rs`): it reads and decodes packets,
//! handles each in its own file (`publish.rs`, `subscribe.rs`), routes
//! accepted Records itself, and writes out its queue (`deliver.rs`). The
//! CONNECT decision (`connect.rs`), the outgoing QoS 1 window
//! (`inflight.rs`) and the frame inspection (`frame.rs`) are sans-I/O.

pub(crate) mod codec;
pub(crate) mod connect;
mod deliver;
pub(crate) mod frame;
mod inflight;
mod publish;
mod session;
mod subscribe;
mod will;

pub use codec::Version;
pub use connect::{ENDPOINT_ID_PROPERTY, SUBSCRIBE_TOPIC_PROPERTY};
pub use frame::FrameError;

pub(crate) use connect::PeerCertificate;
pub(crate) use session::serve;

/// Reads `data` as a client's byte stream, as a connection does before any
/// state is involved: the CONNECT (version, fields), then every packet with
/// the connection's codec, and each PUBLISH's topic (`/reply-to=` suffix,
/// topic check). For the fuzz target `fuzz/fuzz_targets/mqtt_packets.rs`
/// and its tests; not part of the API. Returns how many packets decoded.
#[doc(hidden)]
pub fn fuzz_client_stream(data: &[u8], max_remaining: usize) -> usize {
    use bytes::BytesMut;
    use rumqttd::protocol::Packet;

    let mut decoded = 0;
    let mut buf = BytesMut::from(data);
    let version = match codec::read_connect(&mut buf, max_remaining) {
        Ok(Some((version, packet))) => {
            decoded += 1;
            let _ = connect::ConnectPacket::from_packet(packet);
            version
        }
        // Without a CONNECT, the rest is still read with both codecs.
        _ => {
            buf = BytesMut::from(data);
            if data.first().is_some_and(|b| b & 1 == 1) { Version::V5 } else { Version::V311 }
        }
    };
    let mut codec = codec::Codec::new(version, max_remaining);
    while let Ok(Some(inbound)) = codec.read(&mut buf) {
        decoded += 1;
        let (codec::Inbound::Publish { publish, .. } | codec::Inbound::Packet(Packet::Publish(publish, _))) =
            &inbound
        else {
            continue;
        };
        if let Ok(topic) = std::str::from_utf8(&publish.topic) {
            let (base, reply_to) = crate::topics::split_reply_to(topic);
            let _ = crate::acl::check_publish_topic(base);
            if let Some(reply_to) = reply_to {
                let _ = crate::acl::check_publish_topic(&reply_to);
            }
        }
    }
    decoded
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use rumqttd::protocol::{Connect, Packet, Protocol, Publish, v4::V4};

    use super::fuzz_client_stream;

    #[test]
    fn the_fuzz_entry_reads_a_whole_client_stream() {
        let mut stream = BytesMut::new();
        let connect = Connect { keep_alive: 30, client_id: "proto::a".to_owned(), clean_session: true };
        V4.write(Packet::Connect(connect, None, None, None, None), &mut stream).unwrap();
        let publish = Publish::new("usp/agent/b/reply-to=usp%2Fagent%2Fa", "", false);
        V4.write(Packet::Publish(publish, None), &mut stream).unwrap();
        V4.write(Packet::PingReq(rumqttd::protocol::PingReq), &mut stream).unwrap();
        assert_eq!(fuzz_client_stream(&stream, 1024), 3);
        // A cut stream stops at the last whole packet; garbage decodes nothing.
        assert_eq!(fuzz_client_stream(&stream[..stream.len() - 1], 1024), 2);
        assert_eq!(fuzz_client_stream(b"GET / HTTP/1.1\r\n\r\n", 1024), 0);
    }
}
