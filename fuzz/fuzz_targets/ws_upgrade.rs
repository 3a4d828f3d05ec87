//! Fuzz target: the WebSocket upgrade request as the broker checks it
//! (resource path, `v1.usp` subprotocol, `eid` query percent-decoding,
//! `bbf-usp-protocol` extension, `Authorization: Basic`). The request
//! target comes on the first line, one `Name: value` header per line after
//! it. None of it may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = usp_broker::ws::fuzz_upgrade_request(data);
});
