//! # usp-proto
//!
//! The USP (Broadband Forum TR-369) 1.4 wire format for Rust, with no I/O:
//!
//! * [`usp_record`] and [`usp`]: every Record and Msg type of
//!   `usp-record-1-4.proto` and `usp-msg-1-4.proto`, generated with prost from
//!   the schemas in `schema/` (byte fields are [`bytes::Bytes`], maps are
//!   ordered [`BTreeMap`](std::collections::BTreeMap)s);
//! * [`decode`]: bounded decoding that checks the size before it allocates
//!   and never panics; [`view`]: a zero-copy view of a Record's header and
//!   payload for routers; [`encode`]: a Msg written straight into its
//!   Record with one allocation;
//! * [`validate`]: the checks a receiver makes on a Record and its Msg, with
//!   typed errors that carry the USP error code and the answer the spec asks
//!   for (an Error message, or silence);
//! * [`msg`]: easy access to a Msg's id, kind and body, and the header/body
//!   consistency check;
//! * [`build`]: constructors for records, requests, responses and
//!   notifications;
//! * [`json`]: the proto3 JSON mapping of a Record, with a NoSessionContext
//!   payload shown decoded in place;
//! * [`ErrCode`]: the USP error codes with their names.
//!
//! ```
//! use usp_proto::{build, usp::Notify, usp_record::Record, Msg};
//!
//! let msg = Msg::request("n-1", Notify::value_change("sub-1", false,
//!     "Device.IoTCapability.3.LevelSensor.Value", "22.5"));
//! let record = Record::no_session_context_msg("self::rules", "proto::room-101", &msg);
//! let bytes = record.encode_to_bytes();
//!
//! let back = usp_proto::decode::Limits::default().decode_record(bytes).unwrap();
//! assert_eq!(back.msg().unwrap(), msg);
//! # let _ = build::USP_VERSION;
//! ```

pub mod build;
pub mod decode;
pub mod encode;
pub mod endpoint_id;
mod error_code;
pub mod json;
pub mod msg;
pub mod validate;
pub mod view;

pub use endpoint_id::EndpointId;
pub use error_code::ErrCode;
pub use msg::MsgKind;
pub use usp::Msg;
pub use usp_record::Record;

/// The USP Msg types of `usp-msg-1-4.proto` (package `usp`).
///
/// Field names, numbers and types are exactly the specification's; each
/// message is described field by field in the schema (`schema/`) and in the
/// USP reference notes, so the generated items carry no doc comments of
/// their own.
#[allow(missing_docs, clippy::all, clippy::pedantic, unreachable_pub)]
pub mod usp {
    include!(concat!(env!("OUT_DIR"), "/usp.rs"));
    include!(concat!(env!("OUT_DIR"), "/usp.serde.rs"));
}

/// The USP Record types of `usp-record-1-4.proto` (package `usp_record`).
///
/// Documented like [`usp`]: the schema in `schema/` is the reference.
#[allow(missing_docs, clippy::all, clippy::pedantic, unreachable_pub)]
pub mod usp_record {
    include!(concat!(env!("OUT_DIR"), "/usp_record.rs"));
    include!(concat!(env!("OUT_DIR"), "/usp_record.serde.rs"));
}

/// The encoded `FileDescriptorSet` of the two USP schemas, for reflection
/// (dynamic messages, schema-driven tools and tests).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/usp_descriptors.bin"));
