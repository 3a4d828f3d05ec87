//! Anti-spoofing: a connection may only send Records whose `from_id` is its
//! own identity (the Trusted Broker duty of TR-369 R-SEC.4a–c).
//!
//! Only the Record header is read: the Record is decoded with
//! [`usp_proto::decode::Limits`] (bounded, never panics; its payload stays a
//! slice of the input), and its Msg is never decoded — a broker must not
//! inspect USP payloads.

use bytes::Bytes;
use usp_proto::decode::{DecodeError, Limits};

use crate::stats::DropReason;

/// Why a payload may not be routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordRejection {
    /// Larger than the configured maximum Record size.
    #[error("record of {size} bytes is over the {max}-byte limit")]
    TooLarge {
        /// Payload size.
        size: usize,
        /// Configured maximum.
        max: usize,
    },
    /// Not a protobuf USP Record.
    #[error("payload is not a USP Record")]
    NotARecord,
    /// The Record's `from_id` is not the sender's identity.
    #[error("from_id {claimed:?} is not the sender's identity")]
    SpoofedFromId {
        /// The `from_id` the Record carries.
        claimed: String,
    },
}

impl RecordRejection {
    /// The drop counter this rejection is counted under.
    pub fn drop_reason(&self) -> DropReason {
        match self {
            RecordRejection::TooLarge { .. } => DropReason::RecordTooLarge,
            RecordRejection::NotARecord => DropReason::NotARecord,
            RecordRejection::SpoofedFromId { .. } => DropReason::SpoofedFromId,
        }
    }
}

/// What the router needs from an accepted Record's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    /// The Record's `to_id`.
    pub to_id: String,
}

/// Checks that `payload` is a USP Record sent by `identity`.
pub fn check_record(
    limits: &Limits,
    payload: &Bytes,
    identity: &str,
) -> Result<RecordHeader, RecordRejection> {
    let record = limits.decode_record(payload.clone()).map_err(|e| match e {
        DecodeError::TooLarge { size, max } => RecordRejection::TooLarge { size, max },
        DecodeError::Malformed { .. } | DecodeError::Invalid { .. } => RecordRejection::NotARecord,
    })?;
    if record.from_id != identity {
        return Err(RecordRejection::SpoofedFromId { claimed: record.from_id });
    }
    Ok(RecordHeader { to_id: record.to_id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use usp_proto::{Msg, Record, usp::Get};

    fn record(from: &str) -> Bytes {
        let msg = Msg::request("m-1", Get::new(["Device.DeviceInfo."]));
        Record::no_session_context_msg("proto::to", from, &msg).encode_to_bytes()
    }

    #[test]
    fn accepts_own_records() {
        let h = check_record(&Limits::default(), &record("proto::me"), "proto::me").unwrap();
        assert_eq!(h.to_id, "proto::to");
    }

    #[test]
    fn refuses_spoofed_garbage_and_oversized() {
        let limits = Limits::default();
        assert_eq!(
            check_record(&limits, &record("proto::other"), "proto::me"),
            Err(RecordRejection::SpoofedFromId { claimed: "proto::other".to_owned() })
        );
        assert_eq!(
            check_record(&limits, &Bytes::from_static(b"\xff\xff\xff"), "proto::me"),
            Err(RecordRejection::NotARecord)
        );
        let small = Limits::with_max_record_size(16);
        assert!(matches!(
            check_record(&small, &record("proto::me"), "proto::me"),
            Err(RecordRejection::TooLarge { max: 16, .. })
        ));
    }

    #[test]
    fn an_empty_payload_has_no_from_id() {
        // An empty buffer decodes as a Record with every field empty.
        assert!(matches!(
            check_record(&Limits::default(), &Bytes::new(), "proto::me"),
            Err(RecordRejection::SpoofedFromId { .. })
        ));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = check_record(&Limits::default(), &Bytes::from(bytes), "proto::me");
        }
    }
}
