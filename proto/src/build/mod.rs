//! Constructors for Records, requests, responses, notifications and errors.
//!
//! Everything here is a plain function or method on the generated types, so
//! a message reads as what it is:
//!
//! ```
//! use usp_proto::{Msg, Record, usp::{Get, Operate, Set, set::UpdateObject}};
//!
//! let get = Msg::request("1", Get::new(["Device.DeviceInfo."]).with_max_depth(1));
//! let set = Msg::request("2", Set::new(false)
//!     .object(UpdateObject::new("Device.IoTCapability.4.BinaryControl.").required("Value", "true")));
//! let op = Msg::request("3", Operate::new("Device.IoTCapability.4.BinaryControl.Toggle()", "k1"));
//! let record = Record::no_session_context_msg("proto::room-101", "self::rules", &op);
//! assert_eq!(record.version, "1.4");
//! # let _ = (get, set);
//! ```

mod notify;
mod record;
mod request;
mod response;

pub use record::USP_VERSION;

/// Collects `(key, value)` pairs into a proto map.
pub(crate) fn map<K: Into<String>, V: Into<String>>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> std::collections::BTreeMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect()
}

/// Collects strings.
pub(crate) fn strings<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}
