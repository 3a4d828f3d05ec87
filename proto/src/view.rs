//! A zero-copy view of a Record's header.
//!
//! A router needs a Record's `to_id` and `from_id` (to route it and to stop
//! spoofing) and its payload as a slice — not the whole Record decoded into
//! owned strings. [`RecordView::parse`] reads exactly that, borrowing from
//! the input, with no allocation; it checks the same things a full decode
//! would for those fields (wire format, UTF-8) and skips the rest.

use prost::encoding::{WireType, decode_key, decode_varint};

use crate::decode::DecodeError;

/// Borrowed header fields of an encoded Record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecordView<'a> {
    /// `version` (field 1).
    pub version: &'a str,
    /// `to_id` (field 2).
    pub to_id: &'a str,
    /// `from_id` (field 3).
    pub from_id: &'a str,
    /// `payload_security` (field 4).
    pub payload_security: i32,
    /// The field number of the `record_type` member present (7–13), 0 if none.
    /// When several are present the last one wins, as in a full decode.
    pub record_type: u32,
    /// The Msg bytes of a NoSessionContext record (field 7 → field 2);
    /// `None` for other record types.
    pub payload: Option<&'a [u8]>,
    /// The `subscribed_topic` an MQTTConnect record announces (field 10 →
    /// field 2): where its sender can be reached.
    pub mqtt_subscribed_topic: Option<&'a str>,
}

fn malformed(reason: &'static str) -> DecodeError {
    DecodeError::Invalid { what: "usp_record.Record", reason }
}

fn length_delimited<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], DecodeError> {
    let len =
        decode_varint(buf).map_err(|source| DecodeError::Malformed { what: "usp_record.Record", source })?;
    let len = usize::try_from(len).map_err(|_| malformed("length overflows usize"))?;
    if len > buf.len() {
        return Err(malformed("length runs past the end of the record"));
    }
    let (field, rest) = buf.split_at(len);
    *buf = rest;
    Ok(field)
}

fn utf8(bytes: &[u8]) -> Result<&str, DecodeError> {
    std::str::from_utf8(bytes).map_err(|_| malformed("string field is not valid UTF-8"))
}

fn skip(wire_type: WireType, buf: &mut &[u8]) -> Result<(), DecodeError> {
    match wire_type {
        WireType::Varint => {
            decode_varint(buf)
                .map_err(|source| DecodeError::Malformed { what: "usp_record.Record", source })?;
        }
        WireType::SixtyFourBit | WireType::ThirtyTwoBit => {
            let n = if wire_type == WireType::SixtyFourBit { 8 } else { 4 };
            if buf.len() < n {
                return Err(malformed("fixed-width field runs past the end"));
            }
            *buf = &buf[n..];
        }
        WireType::LengthDelimited => {
            length_delimited(buf)?;
        }
        WireType::StartGroup | WireType::EndGroup => return Err(malformed("groups are not used by USP")),
    }
    Ok(())
}

/// The `subscribed_topic` inside an MQTTConnectRecord body (empty when absent).
fn mqtt_topic(mut body: &[u8]) -> Result<&str, DecodeError> {
    let mut topic = "";
    while !body.is_empty() {
        let (tag, wt) = decode_key(&mut body)
            .map_err(|source| DecodeError::Malformed { what: "usp_record.Record", source })?;
        if tag == 2 && wt == WireType::LengthDelimited {
            topic = utf8(length_delimited(&mut body)?)?;
        } else {
            skip(wt, &mut body)?;
        }
    }
    Ok(topic)
}

/// The payload inside a NoSessionContextRecord body (empty when absent,
/// as proto3 reads it).
fn nsc_payload(mut body: &[u8]) -> Result<&[u8], DecodeError> {
    let mut payload: &[u8] = &[];
    while !body.is_empty() {
        let (tag, wt) = decode_key(&mut body)
            .map_err(|source| DecodeError::Malformed { what: "usp_record.Record", source })?;
        if tag == 2 && wt == WireType::LengthDelimited {
            payload = length_delimited(&mut body)?;
        } else {
            skip(wt, &mut body)?;
        }
    }
    Ok(payload)
}

impl<'a> RecordView<'a> {
    /// Reads the header fields of an encoded Record without copying.
    pub fn parse(mut buf: &'a [u8]) -> Result<RecordView<'a>, DecodeError> {
        let mut view = RecordView::default();
        while !buf.is_empty() {
            let (tag, wt) = decode_key(&mut buf)
                .map_err(|source| DecodeError::Malformed { what: "usp_record.Record", source })?;
            match (tag, wt) {
                (1, WireType::LengthDelimited) => view.version = utf8(length_delimited(&mut buf)?)?,
                (2, WireType::LengthDelimited) => view.to_id = utf8(length_delimited(&mut buf)?)?,
                (3, WireType::LengthDelimited) => view.from_id = utf8(length_delimited(&mut buf)?)?,
                (4, WireType::Varint) => {
                    let v = decode_varint(&mut buf)
                        .map_err(|source| DecodeError::Malformed { what: "usp_record.Record", source })?;
                    // proto3 enums are int32 on the wire; prost truncates the same way.
                    view.payload_security = v as i32;
                }
                (5 | 6, WireType::LengthDelimited) => {
                    length_delimited(&mut buf)?; // mac_signature, sender_cert
                }
                (7..=13, WireType::LengthDelimited) => {
                    let body = length_delimited(&mut buf)?;
                    view.record_type = tag;
                    view.payload = if tag == 7 { Some(nsc_payload(body)?) } else { None };
                    view.mqtt_subscribed_topic = if tag == 10 { Some(mqtt_topic(body)?) } else { None };
                }
                (1..=13, _) => return Err(malformed("known field with the wrong wire type")),
                (_, wt) => skip(wt, &mut buf)?,
            }
        }
        Ok(view)
    }

    /// True for a NoSessionContext record.
    pub fn is_no_session_context(&self) -> bool {
        self.record_type == 7
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Msg, Record, usp::Notify};

    #[test]
    fn reads_the_header_and_payload_in_place() {
        let msg = Msg::request("n-1", Notify::value_change("s", false, "Device.X", "1"));
        let bytes = Record::no_session_context_msg("self::rules", "proto::room-101", &msg).encode_to_bytes();
        let view = RecordView::parse(&bytes).unwrap();
        assert_eq!((view.version, view.to_id, view.from_id), ("1.4", "self::rules", "proto::room-101"));
        assert!(view.is_no_session_context());
        let payload = view.payload.unwrap();
        assert_eq!(crate::decode::Limits::default().decode_msg(payload).unwrap(), msg);
        // The payload is a slice of the input, not a copy.
        assert!(bytes.as_ptr_range().contains(&payload.as_ptr()));

        let mqtt = Record::mqtt_connect(
            "a",
            "b",
            crate::usp_record::mqtt_connect_record::MqttVersion::V5,
            "usp/controller/b",
        )
        .encode_to_bytes();
        let view = RecordView::parse(&mqtt).unwrap();
        assert_eq!((view.record_type, view.mqtt_subscribed_topic), (10, Some("usp/controller/b")));

        let ws = Record::websocket_connect("a", "b").encode_to_bytes();
        let view = RecordView::parse(&ws).unwrap();
        assert_eq!((view.record_type, view.payload, view.mqtt_subscribed_topic), (9, None, None));
    }

    #[test]
    fn refuses_what_a_full_decode_refuses() {
        assert!(RecordView::parse(&[0x12, 0x05, b'a']).is_err(), "length past the end");
        assert!(RecordView::parse(&[0x12, 0x01, 0xff]).is_err(), "not UTF-8");
        assert!(RecordView::parse(&[0x10, 0x01]).is_err(), "to_id as a varint");
        assert!(RecordView::parse(&[0x0b]).is_err(), "a group");
        assert_eq!(RecordView::parse(&[]).unwrap(), RecordView::default());
        let mut signed = Record::websocket_connect("a", "b");
        signed.mac_signature = bytes::Bytes::from_static(b"sig");
        signed.sender_cert = bytes::Bytes::from_static(b"cert");
        let bytes = signed.encode_to_bytes();
        let view = RecordView::parse(&bytes).unwrap();
        assert_eq!((view.to_id, view.from_id, view.record_type), ("a", "b", 9));
    }
}
