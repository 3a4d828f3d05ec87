//! GetSupportedProtocol (records-and-messages.md §8): the USP versions
//! this Agent speaks, whatever the Controller announced. No permission is
//! needed — a Controller must be able to learn the protocol before
//! anything else.

use usp_proto::usp::{GetSupportedProtocol, GetSupportedProtocolResp};

/// Answers a GetSupportedProtocol with `versions` (comma-separated).
pub(crate) fn handle(versions: &str, req: &GetSupportedProtocol) -> GetSupportedProtocolResp {
    let _ = req;
    GetSupportedProtocolResp::new(versions)
}
