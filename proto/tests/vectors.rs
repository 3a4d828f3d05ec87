//! The shared USP vectors (`tests/vectors/`, encoded by an independent
//! implementation) decode to exactly the content of their `.json`, compared
//! as data, and survive encode → decode unchanged.

use std::{fs, path::PathBuf};

use bytes::Bytes;
use prost::Message;
use serde_json::{Map, Value, json};
use usp_proto::{Msg, Record, decode::Limits, json::msg_from_json, validate::Policy};

fn vectors() -> Vec<(String, Bytes, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut out = Vec::new();
    for entry in fs::read_dir(&dir).expect("vectors directory") {
        let path = entry.expect("dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("pb") {
            continue;
        }
        let name = path.file_stem().and_then(|s| s.to_str()).expect("utf-8 name").to_owned();
        let pb = Bytes::from(fs::read(&path).expect("read .pb"));
        let text = fs::read_to_string(path.with_extension("json")).expect("read .json");
        let json: Value = serde_json::from_str(&text).expect("parse .json");
        out.push((name, pb, json));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The message-name keys of the vectors' layout (`"GetSupportedDM"`) and
/// the oneof field names they stand for.
const BODY_NAMES: &[(&str, &str)] = &[
    ("Get", "get"),
    ("GetResp", "get_resp"),
    ("GetSupportedDM", "get_supported_dm"),
    ("GetSupportedDMResp", "get_supported_dm_resp"),
    ("GetInstances", "get_instances"),
    ("GetInstancesResp", "get_instances_resp"),
    ("Set", "set"),
    ("SetResp", "set_resp"),
    ("Add", "add"),
    ("AddResp", "add_resp"),
    ("Delete", "delete"),
    ("DeleteResp", "delete_resp"),
    ("Operate", "operate"),
    ("OperateResp", "operate_resp"),
    ("Notify", "notify"),
    ("NotifyResp", "notify_resp"),
    ("GetSupportedProtocol", "get_supported_protocol"),
    ("GetSupportedProtocolResp", "get_supported_protocol_resp"),
    ("Register", "register"),
    ("RegisterResp", "register_resp"),
    ("Deregister", "deregister"),
    ("DeregisterResp", "deregister_resp"),
];

fn single(value: &Value, what: &str) -> (String, Value) {
    let obj = value.as_object().unwrap_or_else(|| panic!("{what} is not an object"));
    assert_eq!(obj.len(), 1, "{what} must have exactly one key: {value}");
    let (k, v) = obj.iter().next().expect("one key");
    (k.clone(), v.clone())
}

/// The vectors' Msg layout → proto3 JSON (proto field names).
fn msg_json(v: &Value) -> Value {
    let (kind, inner) = single(&v["Body"], "Body");
    let body = match kind.as_str() {
        "Error" => json!({ "error": inner }),
        "Request" | "Response" => {
            let (name, content) = single(&inner, &kind);
            let field = BODY_NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("unknown message {name}"))
                .1;
            json!({ kind.to_lowercase(): { field: content } })
        }
        other => panic!("unknown body {other}"),
    };
    json!({ "header": v["Header"], "body": body })
}

fn bytes_json(v: &Value) -> Value {
    let arr = v.as_array().expect("byte array");
    assert!(arr.is_empty(), "the vectors carry no signatures or certificates");
    Value::String(String::new())
}

/// The vectors' Record layout → proto3 JSON of the Record, with the
/// payload left empty, and the expected Msg separately.
fn expected(v: &Value) -> (Record, Option<Msg>) {
    let mut rec = Map::new();
    let mut msg = None;
    for (k, val) in v.as_object().expect("record object") {
        match k.as_str() {
            "version" | "to_id" | "from_id" | "payload_security" => {
                rec.insert(k.clone(), val.clone());
            }
            "mac_signature" | "sender_cert" => {
                rec.insert(k.clone(), bytes_json(val));
            }
            "payload" => {
                msg = Some(msg_from_json(msg_json(val)).expect("expected msg from json"));
                rec.insert("no_session_context".into(), json!({}));
            }
            "websocket_connect" | "uds_connect" => {
                assert!(val.is_null());
                rec.insert(k.clone(), json!({}));
            }
            "mqtt_connect" | "disconnect" => {
                rec.insert(k.clone(), val.clone());
            }
            other => panic!("unexpected record key {other}"),
        }
    }
    let record: Record = serde_json::from_value(Value::Object(rec)).expect("expected record from json");
    (record, msg)
}

fn without_payload(mut r: Record) -> Record {
    if let Some(usp_proto::usp_record::record::RecordType::NoSessionContext(nsc)) = r.record_type.as_mut() {
        nsc.payload = Bytes::new();
    }
    r
}

#[test]
fn every_vector_decodes_to_its_json() {
    let all = vectors();
    assert_eq!(all.len(), 42, "the manifest lists 42 vectors");
    for (name, pb, json) in all {
        let record = Limits::default().decode_record(pb.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (want_record, want_msg) = expected(&json);
        assert_eq!(without_payload(record.clone()), want_record, "{name}: record");
        match want_msg {
            Some(want) => {
                let msg = record.msg().unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(msg, want, "{name}: msg");
                assert!(msg.header_matches_body(), "{name}: header/body");
            }
            None => assert!(record.payload().is_none(), "{name}: unexpected payload"),
        }
        // Every vector is a valid Record as a receiver sees it.
        Policy::default().check(pb).unwrap_or_else(|e| panic!("{name}: rejected: {e:?}"));
    }
}

#[test]
fn every_vector_survives_encode_decode() {
    for (name, pb, _) in vectors() {
        let record = Record::decode(pb.clone()).expect("decode");
        let bytes = record.encode_to_bytes();
        assert_eq!(bytes.len(), pb.len(), "{name}: re-encoded size");
        let again = Record::decode(bytes).expect("decode again");
        assert_eq!(again, record, "{name}: record");
        if let Ok(msg) = record.msg() {
            let msg_again = Msg::decode(msg.encode_to_vec().as_slice()).expect("msg again");
            assert_eq!(msg_again, msg, "{name}: msg");
        }
    }
}

/// Where no map holds more than one entry, the wire order is fully
/// determined by the schema, so our encoding must be byte-identical.
#[test]
fn simple_vectors_reencode_byte_for_byte() {
    let names = [
        "get_max_depth",
        "get_no_max_depth",
        "notify_value_change",
        "notify_value_change_empty",
        "notify_resp",
        "set_large_value",
        "error",
        "delete",
        "deregister_all",
        "websocket_connect",
        "uds_connect",
        "mqtt_connect_v5",
        "mqtt_connect_v311",
        "disconnect",
        "disconnect_empty",
        "record_version_1_3",
    ];
    let all = vectors();
    for name in names {
        let (_, pb, _) = all.iter().find(|v| v.0 == name).expect("vector present");
        let record = Record::decode(pb.clone()).expect("decode");
        let msg_bytes = record.msg().ok().map(|m| m.encode_to_vec());
        if let (Some(m), Some(p)) = (&msg_bytes, record.payload()) {
            assert_eq!(m.as_slice(), p.as_ref(), "{name}: msg bytes");
        }
        assert_eq!(record.encode_to_bytes(), *pb, "{name}: record bytes");
    }
}
