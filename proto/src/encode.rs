//! Encoding a Msg straight into its Record, in one buffer.
//!
//! [`Record::no_session_context_msg`](crate::Record::no_session_context_msg)
//! followed by [`Record::encode_to_bytes`](crate::Record::encode_to_bytes)
//! allocates four times (the ids, the payload, the record). On the hot path
//! (notifications out, rule actions out) [`msg_record`] writes the same bytes
//! with one allocation of exactly the right size.

use bytes::{BufMut, Bytes, BytesMut};
use prost::{
    Message,
    encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len},
};

use crate::{Msg, build::USP_VERSION};

/// Record field numbers used here (`usp_record.Record`).
const VERSION: u32 = 1;
const TO_ID: u32 = 2;
const FROM_ID: u32 = 3;
const NO_SESSION_CONTEXT: u32 = 7;
/// `NoSessionContextRecord.payload`.
const PAYLOAD: u32 = 2;

fn string_field_len(tag: u32, s: &str) -> usize {
    if s.is_empty() { 0 } else { key_len(tag) + encoded_len_varint(s.len() as u64) + s.len() }
}

fn put_string_field(tag: u32, s: &str, buf: &mut BytesMut) {
    if !s.is_empty() {
        encode_key(tag, WireType::LengthDelimited, buf);
        encode_varint(s.len() as u64, buf);
        buf.put_slice(s.as_bytes());
    }
}

/// The bytes of a USP 1.4 NoSessionContext Record from `from_id` to `to_id`
/// carrying `msg` — identical to building the [`Record`](crate::Record) and
/// encoding it.
pub fn msg_record(to_id: &str, from_id: &str, msg: &Msg) -> Bytes {
    msg_record_with_version(USP_VERSION, to_id, from_id, msg)
}

/// [`msg_record`] with another Record `version`.
pub fn msg_record_with_version(version: &str, to_id: &str, from_id: &str, msg: &Msg) -> Bytes {
    let msg_len = msg.encoded_len();
    let nsc_len =
        if msg_len == 0 { 0 } else { key_len(PAYLOAD) + encoded_len_varint(msg_len as u64) + msg_len };
    let total = string_field_len(VERSION, version)
        + string_field_len(TO_ID, to_id)
        + string_field_len(FROM_ID, from_id)
        + key_len(NO_SESSION_CONTEXT)
        + encoded_len_varint(nsc_len as u64)
        + nsc_len;
    let mut buf = BytesMut::with_capacity(total);
    put_string_field(VERSION, version, &mut buf);
    put_string_field(TO_ID, to_id, &mut buf);
    put_string_field(FROM_ID, from_id, &mut buf);
    encode_key(NO_SESSION_CONTEXT, WireType::LengthDelimited, &mut buf);
    encode_varint(nsc_len as u64, &mut buf);
    if msg_len > 0 {
        encode_key(PAYLOAD, WireType::LengthDelimited, &mut buf);
        encode_varint(msg_len as u64, &mut buf);
        msg.encode_raw(&mut buf);
    }
    debug_assert_eq!(buf.len(), total);
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Record, usp::Notify};

    #[test]
    fn same_bytes_as_the_two_step_encoding() {
        let msg = Msg::request("n-1", Notify::value_change("s", false, "Device.X.Value", "22.5"));
        let two_step =
            Record::no_session_context_msg("self::rules", "proto::room-101", &msg).encode_to_bytes();
        assert_eq!(msg_record("self::rules", "proto::room-101", &msg), two_step);
        let v13 = Record::no_session_context_msg("a", "b", &msg).with_version("1.3").encode_to_bytes();
        assert_eq!(msg_record_with_version("1.3", "a", "b", &msg), v13);
        // Degenerate inputs still agree: empty ids, empty Msg.
        let empty = Msg::default();
        assert_eq!(
            msg_record("", "", &empty),
            Record::no_session_context_msg("", "", &empty).encode_to_bytes()
        );
    }
}
