//! Bounded decoding of Records and Msgs.
//!
//! prost never allocates more than the input holds, so a size check on the
//! input bounds all allocation; [`Limits`] makes that check before anything
//! else. Decoding never panics: every failure is a [`DecodeError`].

use bytes::Bytes;
use prost::Message;

use crate::{Msg, Record};

/// The default maximum size of a Record: 1 MiB.
pub const DEFAULT_MAX_RECORD_SIZE: usize = 1 << 20;

/// Why bytes could not be decoded.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The input is larger than the configured maximum; it was not read.
    #[error("record is {size} bytes, over the {max}-byte limit")]
    TooLarge {
        /// Size of the input in bytes.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The input is not a valid protobuf encoding of the expected message.
    #[error("not a valid protobuf {what}: {source}")]
    Malformed {
        /// `"usp_record.Record"` or `"usp.Msg"`.
        what: &'static str,
        /// What prost reported.
        source: prost::DecodeError,
    },
    /// The input breaks the wire format in a way found outside prost (the
    /// zero-copy [`RecordView`](crate::view::RecordView)).
    #[error("not a valid protobuf {what}: {reason}")]
    Invalid {
        /// `"usp_record.Record"`.
        what: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Size limits applied before decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest Record accepted, in bytes.
    pub max_record_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_record_size: DEFAULT_MAX_RECORD_SIZE }
    }
}

impl Limits {
    /// Limits with the given maximum Record size.
    pub fn with_max_record_size(max_record_size: usize) -> Limits {
        Limits { max_record_size }
    }

    fn check(&self, size: usize) -> Result<(), DecodeError> {
        if size > self.max_record_size {
            return Err(DecodeError::TooLarge { size, max: self.max_record_size });
        }
        Ok(())
    }

    /// Decodes a Record. Its byte fields (the payload included) are slices
    /// of `buf`, not copies.
    pub fn decode_record(&self, buf: Bytes) -> Result<Record, DecodeError> {
        self.check(buf.len())?;
        Record::decode(buf).map_err(|source| DecodeError::Malformed { what: "usp_record.Record", source })
    }

    /// Decodes a Msg (a Record's payload).
    pub fn decode_msg(&self, buf: &[u8]) -> Result<Msg, DecodeError> {
        self.check(buf.len())?;
        decode_msg_unbounded(buf)
    }
}

/// A NoSessionContext Record decoded for processing: its header fields
/// borrowed from the input, its Msg owned.
#[derive(Debug, Clone, PartialEq)]
pub struct MsgRecord<'a> {
    /// The Record's header, zero-copy.
    pub header: crate::view::RecordView<'a>,
    /// The decoded Msg.
    pub msg: Msg,
}

/// Why bytes are not a NoSessionContext Record carrying a Msg.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsgRecordError {
    /// The bytes are not a Record (or exceed the limit).
    #[error(transparent)]
    Record(DecodeError),
    /// The Record is valid but carries no Msg (a Connect, Disconnect or
    /// session-context Record); its header is returned for the caller.
    #[error("record type {0} carries no Msg")]
    NoMsg(u32),
    /// The payload is not a Msg.
    #[error("payload: {0}")]
    Payload(DecodeError),
}

impl Limits {
    /// Decodes a NoSessionContext Record for processing: the header as a
    /// zero-copy [`RecordView`](crate::view::RecordView), the Msg owned. This
    /// is the fast way in for an endpoint, which needs the ids only to read
    /// them: three allocations and string copies fewer than decoding the
    /// whole [`Record`] and then its payload.
    pub fn decode_msg_record<'a>(&self, buf: &'a [u8]) -> Result<MsgRecord<'a>, MsgRecordError> {
        self.check(buf.len()).map_err(MsgRecordError::Record)?;
        let header = crate::view::RecordView::parse(buf).map_err(MsgRecordError::Record)?;
        let payload = header.payload.ok_or(MsgRecordError::NoMsg(header.record_type))?;
        let msg = decode_msg_unbounded(payload).map_err(MsgRecordError::Payload)?;
        Ok(MsgRecord { header, msg })
    }
}

/// Decodes a Msg without a size check; for payloads already bounded by
/// their Record's check.
pub(crate) fn decode_msg_unbounded(buf: &[u8]) -> Result<Msg, DecodeError> {
    Msg::decode(buf).map_err(|source| DecodeError::Malformed { what: "usp.Msg", source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_input_is_refused_unread() {
        let limits = Limits::with_max_record_size(8);
        let err = limits.decode_record(Bytes::from_static(&[0u8; 9])).unwrap_err();
        assert_eq!(err, DecodeError::TooLarge { size: 9, max: 8 });
        assert!(matches!(limits.decode_msg(&[0u8; 9]), Err(DecodeError::TooLarge { .. })));
    }

    #[test]
    fn msg_records_decode_with_a_borrowed_header() {
        use crate::usp::Notify;
        let msg = Msg::request("n", Notify::value_change("s", false, "Device.X", "1"));
        let bytes = Record::no_session_context_msg("proto::a", "proto::b", &msg).encode_to_bytes();
        let got = Limits::default().decode_msg_record(&bytes).unwrap();
        assert_eq!((got.header.to_id, got.header.from_id, got.msg), ("proto::a", "proto::b", msg));
        let ws = Record::websocket_connect("a", "b").encode_to_bytes();
        assert_eq!(Limits::default().decode_msg_record(&ws), Err(MsgRecordError::NoMsg(9)));
        let bad = Record::no_session_context_payload("a", "b", Bytes::from_static(&[0xff])).encode_to_bytes();
        assert!(matches!(Limits::default().decode_msg_record(&bad), Err(MsgRecordError::Payload(_))));
        assert!(matches!(
            Limits::with_max_record_size(4).decode_msg_record(&bytes),
            Err(MsgRecordError::Record(DecodeError::TooLarge { .. }))
        ));
    }

    #[test]
    fn garbage_is_an_error() {
        let err = Limits::default().decode_record(Bytes::from_static(&[0xff, 0xff])).unwrap_err();
        assert!(matches!(err, DecodeError::Malformed { what: "usp_record.Record", .. }));
        assert!(err.to_string().starts_with("not a valid protobuf usp_record.Record"));
    }

    #[test]
    fn a_length_prefix_larger_than_the_input_does_not_allocate_it() {
        // field 2 (to_id), length 2^31: prost must refuse, not reserve 2 GiB.
        let evil = [0x12, 0x80, 0x80, 0x80, 0x80, 0x08];
        assert!(Limits::default().decode_record(Bytes::copy_from_slice(&evil)).is_err());
    }
}
