//! `uspmesh decode` / `uspmesh encode` end to end, on the shared vectors.

use std::{fs, path::PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use prost::Message;
use usp_proto::Record;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("proto/tests/vectors")
}

fn vector(name: &str) -> Vec<u8> {
    fs::read(vectors_dir().join(format!("{name}.pb"))).expect("vector")
}

fn uspmesh() -> Command {
    Command::cargo_bin("uspmesh").expect("binary built")
}

fn all_vector_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(vectors_dir())
        .expect("vectors")
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "pb").then(|| p.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    names
}

#[test]
fn decode_prints_readable_text() {
    uspmesh()
        .arg("decode")
        .arg(vectors_dir().join("notify_value_change.pb"))
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "USP 1.4 no_session_context record, proto::room-101 → self::site1-rules (132 bytes)",
        ))
        .stdout(predicate::str::contains("NOTIFY msg_id=r101-ntf-0007"))
        .stdout(predicate::str::contains("param_path: Device.IoTCapability.3.LevelSensor.Value"))
        .stdout(predicate::str::contains("param_value: 22.5"));
}

#[test]
fn decode_reads_standard_input_and_hex() {
    uspmesh()
        .args(["decode", "-"])
        .write_stdin(vector("disconnect"))
        .assert()
        .success()
        .stdout(predicate::str::contains("reason: Agent restarting after firmware update"))
        .stdout(predicate::str::contains("reason_code: 7003"));
    let hex: String = vector("websocket_connect").iter().map(|b| format!("{b:02x} ")).collect();
    uspmesh()
        .args(["decode", "--hex"])
        .write_stdin(hex)
        .assert()
        .success()
        .stdout(predicate::str::contains("websocket_connect record"));
}

/// decode --json | encode gives back the same Record for every vector.
#[test]
fn json_round_trip_of_every_vector() {
    for name in all_vector_names() {
        let original = vector(&name);
        let json = uspmesh()
            .args(["decode", "--json"])
            .write_stdin(original.clone())
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let value: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
        assert_eq!(value["version"], Record::decode(original.as_slice()).expect("vector").version);
        let encoded = uspmesh()
            .args(["encode", "--json"])
            .write_stdin(json)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let want = Record::decode(original.as_slice()).expect("decode original");
        let got = Record::decode(encoded.as_slice()).expect("decode re-encoded");
        match (want.msg(), got.msg()) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{name}: msg"),
            (Err(_), Err(_)) => assert_eq!(want, got, "{name}: record"),
            other => panic!("{name}: {other:?}"),
        }
        assert_eq!((want.to_id, want.from_id), (got.to_id, got.from_id), "{name}");
    }
}

#[test]
fn payload_is_decoded_in_place_in_json() {
    uspmesh()
        .args(["decode", "--json"])
        .arg(vectors_dir().join("get_max_depth.pb"))
        .assert()
        .success()
        .stdout(predicate::str::contains(r#""maxDepth": 2"#))
        .stdout(predicate::str::contains(r#""msgType": "GET""#));
}

#[test]
fn garbage_is_refused_with_status_1() {
    uspmesh()
        .arg("decode")
        .write_stdin(vec![0xff, 0xff, 0xff])
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("<stdin>: not a valid protobuf usp_record.Record"));
    let mut truncated = vector("set");
    truncated.truncate(60);
    uspmesh()
        .arg("decode")
        .write_stdin(truncated)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a valid protobuf"));
}

#[test]
fn oversized_input_is_refused() {
    uspmesh()
        .args(["decode", "--max-size", "100"])
        .write_stdin(vector("set_large_value"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("larger than 100 bytes"));
}

#[test]
fn missing_file_says_which() {
    uspmesh()
        .args(["decode", "/nonexistent/record.pb"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot open /nonexistent/record.pb"));
}

#[test]
fn bad_json_says_where() {
    uspmesh()
        .arg("encode")
        .write_stdin("{\"version\": \"1.4\",\n  \"toId\": }")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not JSON").and(predicate::str::contains("line 2")));
    uspmesh()
        .arg("encode")
        .write_stdin(r#"{"version":"1.4","noSessionContext":{"payload":{"header":{"msgType":"GETT"}}}}"#)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "at noSessionContext.payload.header.msgType: unknown variant `GETT`",
        ));
}

#[test]
fn encode_writes_hex_and_notes_invalid_records() {
    uspmesh()
        .args(["encode", "--hex"])
        .write_stdin(r#"{"version":"1.4","toId":"proto::a","fromId":"proto::b","websocketConnect":{}}"#)
        .assert()
        .success()
        .stdout("0a03312e34120870726f746f3a3a611a0870726f746f3a3a624a00\n")
        .stderr(predicate::str::is_empty());
    uspmesh()
        .args(["encode", "--hex"])
        .write_stdin(r#"{"version":"9.9","toId":"proto::a","fromId":"proto::b","websocketConnect":{}}"#)
        .assert()
        .success()
        .stderr(predicate::str::contains("note: a receiver would refuse this record: USP version \"9.9\""));
}

#[test]
fn usage_errors_exit_2_and_help_is_complete() {
    uspmesh().args(["decode", "--bogus"]).assert().code(2);
    uspmesh().assert().code(2);
    uspmesh()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("decode").and(predicate::str::contains("encode")));
    uspmesh()
        .args(["decode", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--json").and(predicate::str::contains("--max-size")));
}
