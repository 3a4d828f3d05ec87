//! The proto3 JSON mapping of Records and Msgs.
//!
//! Field names are the proto3 JSON (lowerCamelCase) names, enums their value
//! names, `bytes` base64, 64-bit integers strings, and fields at their
//! default value are left out — the canonical mapping, as `pbjson` generates
//! it. Reading accepts both the JSON names and the proto field names.
//!
//! One addition makes Records readable: the `payload` of a
//! `noSessionContext` record that is a valid `usp.Msg` is shown *decoded in
//! place*, as a JSON object, instead of as base64. [`record_from_json`]
//! accepts either form and encodes an object payload as a Msg.

use bytes::Bytes;
use prost::Message;
use serde_json::Value;

use crate::{Msg, Record};

/// Why a value could not be mapped to or from JSON.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The value cannot be shown in JSON (e.g. an enum field holds a value
    /// the schema does not define).
    #[error("cannot write {path} as JSON: {message}")]
    Write {
        /// Where in the document, e.g. `payload.header.msgType`.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The JSON does not describe a valid Record or Msg.
    #[error("at {path}: {message}")]
    Read {
        /// Where in the document (`.` when at the top).
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn to_value<T: serde::Serialize>(value: &T, prefix: &str) -> Result<Value, JsonError> {
    serde_path_to_error::serialize(value, serde_json::value::Serializer).map_err(|e| JsonError::Write {
        path: join(prefix, &e.path().to_string()),
        message: match e.inner().to_string().strip_prefix("Invalid variant ") {
            Some(n) => format!("an enum field holds {n}, a value the schema does not define"),
            None => e.inner().to_string(),
        },
    })
}

fn from_value<T: serde::de::DeserializeOwned>(value: Value, prefix: &str) -> Result<T, JsonError> {
    serde_path_to_error::deserialize(value).map_err(|e| JsonError::Read {
        path: join(prefix, &e.path().to_string()),
        message: e.inner().to_string(),
    })
}

fn join(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path == ".") {
        (true, _) => path.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix}.{path}"),
    }
}

/// A Msg as proto3 JSON.
pub fn msg_to_json(msg: &Msg) -> Result<Value, JsonError> {
    to_value(msg, "")
}

/// A Msg from proto3 JSON.
pub fn msg_from_json(value: Value) -> Result<Msg, JsonError> {
    from_value(value, "")
}

/// A Record as proto3 JSON, its Msg payload decoded in place.
///
/// A payload that is not a valid Msg stays base64.
pub fn record_to_json(record: &Record) -> Result<Value, JsonError> {
    let mut value = to_value(record, "")?;
    if let (Ok(msg), Some(slot)) = (record.msg(), value.pointer_mut("/noSessionContext/payload")) {
        *slot = to_value(&msg, "noSessionContext.payload")?;
    }
    Ok(value)
}

/// A Record from proto3 JSON; a `noSessionContext.payload` may be a Msg
/// object (encoded here) or base64 bytes.
pub fn record_from_json(mut value: Value) -> Result<Record, JsonError> {
    let mut payload = None;
    if let Some(slot) = value.pointer_mut("/noSessionContext/payload") {
        if slot.is_object() {
            let msg: Msg = from_value(slot.take(), "noSessionContext.payload")?;
            *slot = Value::String(String::new());
            payload = Some(Bytes::from(msg.encode_to_vec()));
        }
    }
    let mut record: Record = from_value(value, "")?;
    if let (Some(payload), Some(crate::usp_record::record::RecordType::NoSessionContext(nsc))) =
        (payload, record.record_type.as_mut())
    {
        nsc.payload = payload;
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usp::{Get, Notify};
    use serde_json::json;

    #[test]
    fn payload_is_shown_in_place_and_read_back() {
        let msg = Msg::request("n1", Notify::value_change("s", false, "Device.X.Y", "1"));
        let record = Record::no_session_context_msg("proto::a", "proto::b", &msg);
        let value = record_to_json(&record).unwrap();
        assert_eq!(value["toId"], "proto::a");
        assert_eq!(value["noSessionContext"]["payload"]["header"]["msgType"], "NOTIFY");
        assert_eq!(
            value["noSessionContext"]["payload"]["body"]["request"]["notify"]["valueChange"]["paramPath"],
            "Device.X.Y"
        );
        assert_eq!(record_from_json(value).unwrap(), record);
    }

    #[test]
    fn base64_payloads_and_proto_names_are_accepted() {
        let value = json!({
            "version": "1.4", "to_id": "proto::a", "from_id": "proto::b",
            "no_session_context": {"payload": "AQI="}
        });
        let record = record_from_json(value).unwrap();
        assert_eq!(record.payload().map(|p| p.as_ref()), Some(&[1u8, 2][..]));
        // A payload that is not a Msg stays base64 on the way out.
        let shown = record_to_json(&record).unwrap();
        assert_eq!(shown["noSessionContext"]["payload"], "AQI=");
    }

    #[test]
    fn errors_say_where() {
        let value =
            json!({"version": "1.4", "noSessionContext": {"payload": {"header": {"msgType": "GETT"}}}});
        let err = record_from_json(value).unwrap_err().to_string();
        assert!(err.starts_with("at noSessionContext.payload.header.msgType:"), "{err}");

        let mut msg = Msg::request("1", Get::new(["Device."]));
        if let Some(h) = msg.header.as_mut() {
            h.msg_type = 77;
        }
        let err = msg_to_json(&msg).unwrap_err().to_string();
        assert_eq!(
            err,
            "cannot write header as JSON: an enum field holds 77, a value the schema does not define"
        );
    }
}
