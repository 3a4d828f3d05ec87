//! Fuzz target: the cloud bridge's on-disk queue format, as read back
//! after a crash — a whole segment file scanned from any offset, and every
//! frame found decoded as an entry. Nothing may panic, hang or allocate
//! what a length field on disk claims.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use usp_broker::bridge::queue::format::{FRAME_HEADER, decode_entry, decode_frame, scan};

fuzz_target!(|data: &[u8]| {
    let Some((&from, file)) = data.split_first() else { return };
    let found = scan(file, usize::from(from), 1 << 16);
    for (offset, size) in found.frames {
        let frame = &file[offset..offset + size];
        let (_, body) = decode_frame(frame, 1 << 16).expect("scan only reports intact frames").expect("non-empty");
        let _ = decode_entry(&Bytes::copy_from_slice(&frame[FRAME_HEADER..FRAME_HEADER + body.len()]));
    }
    let _ = decode_entry(&Bytes::copy_from_slice(file));
});
