//! The record layer: validation answers, addressing, R-MSG.4, Connect and
//! Disconnect Records, unsupported messages, disabled and banned
//! Controllers.

use bytes::Bytes;
use usp_endpoint::agent::permissions::setup;
use usp_proto::{
    ErrCode, Msg, Record,
    usp::{
        Body, Deregister, Get, GetResp, GetSupportedProtocol, Header, Notify, Register, Request,
        body::MsgBody, header::MsgType, request::ReqType, response::RespType,
    },
    usp_record::{SessionContextRecord, mqtt_connect_record::MqttVersion, record::RecordType},
};

use super::fixture::*;

fn get(path: &str) -> Msg {
    Msg::request("g1", Get::new([path]))
}

#[test]
fn a_request_gets_one_response_addressed_to_its_sender() {
    let mut fx = Fx::new();
    let sent = fx.send(CTRL, &get("Device.LocalAgent.EndpointID"));
    assert_eq!(sent.len(), 1, "one response per request");
    assert_eq!(sent[0].to, CTRL);
    assert_eq!(sent[0].msg.msg_id(), "g1", "the response copies the msg_id (R-MSG.9)");
    assert_eq!(sent[0].msg.header.as_ref().unwrap().msg_type, MsgType::GetResp as i32);
    let resp = get_resp(&sent[0].msg);
    assert_eq!(resolved(&resp, 0), [("Device.LocalAgent.".to_owned(), map(&[("EndpointID", AGENT)]))]);
}

#[test]
fn records_for_someone_else_are_ignored() {
    let mut fx = Fx::new();
    let record = Record::no_session_context_msg("proto::other", CTRL, &get("Device."));
    assert!(fx.raw(record.encode_to_bytes()).is_empty(), "R-E2E.1");
}

#[test]
fn garbage_is_ignored_and_nothing_panics() {
    let mut fx = Fx::new();
    for bytes in [&b""[..], b"\x0a\xff\xff\xff", b"not a record at all", &[0xff; 64]] {
        assert!(fx.raw(Bytes::copy_from_slice(bytes)).is_empty());
    }
    // A record whose payload is not a Msg: no msg_id to answer.
    let mut r = Record::no_session_context_msg(AGENT, CTRL, &get("Device."));
    r.record_type = Some(RecordType::NoSessionContext(usp_proto::usp_record::NoSessionContextRecord {
        payload: Bytes::from_static(b"\x0a\x05\x01"),
    }));
    assert!(fx.raw(r.encode_to_bytes()).is_empty());
}

#[test]
fn a_request_without_a_body_gets_error_7004() {
    let mut fx = Fx::new();
    let msg = Msg {
        header: Some(Header { msg_id: "e1".into(), msg_type: MsgType::Get as i32 }),
        body: Some(Body { msg_body: Some(MsgBody::Request(Request { req_type: None })) }),
    };
    let sent = fx.send(CTRL, &msg);
    assert_eq!(sent.len(), 1);
    assert_eq!(error(&sent[0].msg).err_code, ErrCode::INVALID_ARGUMENTS.0);
    assert_eq!(sent[0].msg.msg_id(), "e1");
}

#[test]
fn a_session_context_record_gets_a_disconnect_7106() {
    let mut fx = Fx::new();
    let mut r = Record::no_session_context_msg(AGENT, CTRL, &get("Device."));
    r.record_type = Some(RecordType::SessionContext(SessionContextRecord {
        session_id: 9,
        sequence_id: 1,
        expected_id: 1,
        ..Default::default()
    }));
    let out = fx.agent.handle(r.encode_to_bytes(), fx.now);
    let t = out.into_iter().next().unwrap();
    let back = usp_proto::decode::Limits::default().decode_record(t.record).unwrap();
    let Some(RecordType::Disconnect(d)) = back.record_type else { panic!("{back:?}") };
    assert_eq!(d.reason_code, ErrCode::SESS_CONTEXT_NOT_ALLOWED.0);
    assert_eq!(back.to_id, CTRL);
}

#[test]
fn a_repeated_msg_id_is_answered_once() {
    let mut fx = Fx::new();
    assert_eq!(fx.send(CTRL, &get("Device.")).len(), 1);
    assert!(fx.send(CTRL, &get("Device.")).is_empty(), "R-MSG.4: the repeat is ignored");
    // Another sender may use the same id.
    let other = "proto::other";
    let sent = fx.send(other, &get("Device."));
    assert_eq!(sent.len(), 1);
    // A DisconnectRecord ends the sender's session: its ids start afresh.
    let bye = Record::disconnect(AGENT, CTRL, "bye", ErrCode::SESS_CONTEXT_TERMINATED);
    assert!(fx.raw(bye.encode_to_bytes()).is_empty());
    assert_eq!(fx.send(CTRL, &get("Device.")).len(), 1);
}

#[test]
fn connect_records_are_accepted_silently() {
    let mut fx = Fx::new();
    let c = Record::mqtt_connect(AGENT, CTRL, MqttVersion::V5, "usp/controller/self::rules");
    assert!(fx.raw(c.encode_to_bytes()).is_empty());
    assert!(fx.raw(Record::websocket_connect(AGENT, CTRL).encode_to_bytes()).is_empty());
}

#[test]
fn messages_an_agent_does_not_serve_get_7001() {
    let mut fx = Fx::new();
    for body in [
        ReqType::Notify(Notify::value_change("s", false, "Device.X", "1")),
        ReqType::Register(Register::new(false, ["Device.X_Test."])),
        ReqType::Deregister(Deregister::new(["Device.X_Test."])),
    ] {
        let answer = fx.call(body);
        assert_eq!(error(&answer).err_code, ErrCode::MESSAGE_NOT_SUPPORTED.0);
    }
}

#[test]
fn responses_that_answer_nothing_are_ignored() {
    let mut fx = Fx::new();
    let stray = Msg::response("nobody", GetResp::default());
    assert!(fx.send(CTRL, &stray).is_empty(), "R-MSG.9");
    let error = Msg::error("nobody", usp_proto::usp::Error::new(ErrCode::MESSAGE_FAILED, "x"));
    assert!(fx.send(CTRL, &error).is_empty());
}

#[test]
fn get_supported_protocol_needs_no_permission() {
    let mut fx = Fx::with(|_| {}, |b| b);
    let (answer, _) = fx.call_as("proto::stranger", GetSupportedProtocol::new("1.2,1.4"));
    let Some(RespType::GetSupportedProtocolResp(r)) = answer.as_response() else { panic!("{answer:?}") };
    assert_eq!(r.agent_supported_protocol_versions, "1.3,1.4");
}

#[test]
fn a_disabled_controller_gets_7002_and_a_banned_one_nothing() {
    let mut fx = Fx::with(
        |store| {
            let role = setup::full_access_role(store).unwrap();
            setup::add_controller(store, "proto::off", &[role]).unwrap();
            setup::add_controller(store, "proto::banned", &[role]).unwrap();
        },
        |b| b.full_access(CTRL),
    );
    let set = |path: &str, v: &str| {
        usp_proto::usp::Set::new(false)
            .object(usp_proto::usp::set::UpdateObject::new(path).required("Enable", v))
    };
    let answer = fx.call(set(r#"Device.LocalAgent.Controller.[EndpointID=="proto::off"]."#, "false"));
    set_resp(&answer);
    let (answer, _) = fx.call_as("proto::off", Get::new(["Device."]));
    assert_eq!(error(&answer).err_code, ErrCode::REQUEST_DENIED.0);

    // Ban proto::banned: BannedRole must be its only Role.
    let banned_role = fx.agent.data_model_mut().store_mut();
    let role = setup::add_role(banned_role, "Banned", &[]).unwrap();
    let schema = banned_role.schema().clone();
    let role_path = schema.obj_path(&role).trim_end_matches('.').to_owned();
    let answer = fx.call(
        usp_proto::usp::Set::new(false)
            .object(
                usp_proto::usp::set::UpdateObject::new("Device.LocalAgent.ControllerTrust.")
                    .required("BannedRole", &role_path),
            )
            .object(
                usp_proto::usp::set::UpdateObject::new(
                    r#"Device.LocalAgent.Controller.[EndpointID=="proto::banned"]."#,
                )
                .required("AssignedRole", &role_path),
            ),
    );
    set_resp(&answer);
    let id = fx.msg_id();
    assert!(
        fx.send("proto::banned", &Msg::request(id, Get::new(["Device."]))).is_empty(),
        "refused silently"
    );
}
