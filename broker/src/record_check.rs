//! Anti-spoofing: a connection may only send Records whose `from_id` is its
//! own identity (the Trusted Broker duty of TR-369 R-SEC.4a–c).
//!
//! Only the Record header is read, in place: [`usp_proto::view::RecordView`]
//! walks the Record's top-level fields once, borrowing `to_id` and `from_id`
//! from the input — no allocation, no copy — and never decodes the Msg (a
//! broker must not inspect USP payloads). It refuses what a full decode
//! would refuse in those fields (wire format, UTF-8); a malformed body of a
//! record type other than NoSessionContext and MQTTConnect is not looked
//! into, which is the receiving endpoint's business. The size limit of
//! [`usp_proto::decode::Limits`] applies first.

use bytes::Bytes;
use usp_proto::{decode::Limits, view::RecordView};

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

/// What the router needs from an accepted Record's header, borrowed from
/// the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader<'a> {
    /// The Record's `to_id`.
    pub to_id: &'a str,
}

/// Checks that `payload` is a USP Record sent by `identity`.
pub fn check_record<'a>(
    limits: &Limits,
    payload: &'a Bytes,
    identity: &str,
) -> Result<RecordHeader<'a>, RecordRejection> {
    if payload.len() > limits.max_record_size {
        return Err(RecordRejection::TooLarge { size: payload.len(), max: limits.max_record_size });
    }
    let view = RecordView::parse(payload).map_err(|_| RecordRejection::NotARecord)?;
    if view.from_id != identity {
        return Err(RecordRejection::SpoofedFromId { claimed: view.from_id.to_owned() });
    }
    Ok(RecordHeader { to_id: view.to_id })
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
        let bytes = record("proto::me");
        let h = check_record(&Limits::default(), &bytes, "proto::me").unwrap();
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

    /// A Record with fields the header view skips (signatures, a session
    /// context body) still yields its sender and destination.
    #[test]
    fn reads_past_other_fields() {
        let mut record = Record::no_session_context_msg(
            "proto::to",
            "proto::me",
            &Msg::request("m-2", Get::new(["Device."])),
        );
        record.mac_signature = Bytes::from_static(b"mac");
        record.sender_cert = Bytes::from_static(b"cert");
        let bytes = record.encode_to_bytes();
        assert_eq!(check_record(&Limits::default(), &bytes, "proto::me").unwrap().to_id, "proto::to");
        let session = Record::websocket_connect("proto::to", "proto::me").encode_to_bytes();
        assert_eq!(check_record(&Limits::default(), &session, "proto::me").unwrap().to_id, "proto::to");
    }

    /// The chosen difference from a full decode: the body of a session
    /// context Record is the receiving endpoint's business, so a malformed
    /// one is still routed; a malformed header field is not.
    #[test]
    fn other_record_bodies_are_not_looked_into() {
        let mut bytes = Record::websocket_connect("proto::to", "proto::me").encode_to_bytes().to_vec();
        // session_context (field 8) whose body is a truncated varint.
        bytes.extend_from_slice(&[0x42, 0x02, 0x08, 0xff]);
        let bytes = Bytes::from(bytes);
        assert!(Limits::default().decode_record(bytes.clone()).is_err(), "a full decode refuses it");
        assert_eq!(check_record(&Limits::default(), &bytes, "proto::me").unwrap().to_id, "proto::to");
        let bad_header = Bytes::from_static(&[0x1a, 0x05, b'p', b'r']);
        assert_eq!(
            check_record(&Limits::default(), &bad_header, "proto::me"),
            Err(RecordRejection::NotARecord)
        );
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = check_record(&Limits::default(), &Bytes::from(bytes), "proto::me");
        }

        /// Whatever the full decoder accepts, the check accepts with the
        /// same sender and destination: the view is not a looser parser
        /// where it matters.
        #[test]
        fn agrees_with_the_full_decode(
            to in "[a-z:]{0,12}",
            from in "[a-z:]{0,12}",
            noise in proptest::collection::vec(any::<u8>(), 0..64),
            cut in 0usize..200,
            mode in 0u8..3,
        ) {
            let mut bytes = Record::no_session_context_payload(&to, &from, Bytes::from(noise.clone()))
                .encode_to_bytes()
                .to_vec();
            // Unchanged, truncated, or followed by the noise as (probably
            // bad) fields.
            match mode {
                0 => {}
                1 => bytes.truncate(cut),
                _ => bytes.extend_from_slice(&noise),
            }
            let bytes = Bytes::from(bytes);
            if let Ok(full) = Limits::default().decode_record(bytes.clone()) {
                let checked = check_record(&Limits::default(), &bytes, &full.from_id);
                prop_assert_eq!(checked.map(|h| h.to_id.to_owned()), Ok(full.to_id));
            }
        }
    }
}
