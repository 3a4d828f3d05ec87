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
