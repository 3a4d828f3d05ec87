//! Fuzz target: everything that reads a USP Record from the network.
//!
//! Bytes go through the receiver's validation (Record decode, Msg decode,
//! checks), the zero-copy header view, and the JSON mapping of whatever
//! decodes. None of it may panic, hang or over-allocate.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use usp_proto::{decode::Limits, json, validate::Policy, view::RecordView};

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    let _ = RecordView::parse(data);
    let _ = Policy::for_endpoint("proto::fuzz").check(bytes.clone());
    if let Ok(record) = Limits::default().decode_record(bytes) {
        if let Ok(msg) = record.msg() {
            let _ = msg.kind();
            let _ = json::msg_to_json(&msg);
        }
        if let Ok(value) = json::record_to_json(&record) {
            let _ = json::record_from_json(value);
        }
    }
});
