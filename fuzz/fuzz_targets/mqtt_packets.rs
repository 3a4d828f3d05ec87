//! Fuzz target: what the broker reads from an MQTT client's socket.
//!
//! Bytes go through the CONNECT check (version, fields), the connection's
//! guarded rumqttd codec for every following packet (3.1.1 or 5), and each
//! PUBLISH topic's `/reply-to=` suffix and topic check. The frame guard
//! (`broker/src/mqtt/frame.rs`) exists so that no input reaches a panicking
//! path of the codec; this target is what checks that. None of it may
//! panic, hang or over-allocate.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A small maximum packet size, so oversized frames are exercised too.
    let _ = usp_broker::mqtt::fuzz_client_stream(data, 4096);
});
