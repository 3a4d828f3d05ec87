//! The sans-I/O Controller core, driven by hand: requests out, records in,
//! `now` as an input. The Agent side is built from `usp_proto` builders.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers, not input paths

use std::time::{Duration, Instant};

use bytes::Bytes;
use usp_endpoint::controller::{
    ConnectedMtp, Controller, ControllerConfig, Event, Handled, Ignored, Incoming, MsgIdGen, RequestId,
    Transmit, UspError,
};
use usp_proto::{
    ErrCode, Msg, MsgKind, Record,
    usp::{
        Add, AddResp, Delete, DeleteResp, Error, Get, GetInstances, GetInstancesResp, GetResp,
        GetSupportedDm, GetSupportedDmResp, GetSupportedProtocol, GetSupportedProtocolResp, Notify,
        NotifyResp, Operate, OperateResp, Set, SetResp, add::CreateObject, add_resp::CreatedObjectResult,
        get_instances_resp, get_resp, operate_resp::OperationResult, request::ReqType, response::RespType,
        set::UpdateObject, set_resp,
    },
    usp_record::mqtt_connect_record::MqttVersion,
    validate::RecordError,
};

const CTRL: &str = "self::rules";
const AGENT: &str = "proto::room101";

fn controller() -> Controller {
    Controller::with_config(CTRL, ControllerConfig::default(), MsgIdGen::with_prefix("boot")).unwrap()
}

/// What the Agent received: the request Msg of a Transmit.
fn received(t: &Transmit) -> (Record, Msg) {
    let record = usp_proto::decode::Limits::default().decode_record(t.record.clone()).unwrap();
    let msg = record.msg().unwrap();
    (record, msg)
}

/// The Agent's answer to a request, as `from`.
fn answer_from(from: &str, t: &Transmit, body: impl Into<RespType>) -> Bytes {
    let (_, req) = received(t);
    Record::no_session_context_msg(CTRL, from, &Msg::response(req.msg_id(), body)).encode_to_bytes()
}

fn answer(t: &Transmit, body: impl Into<RespType>) -> Bytes {
    answer_from(AGENT, t, body)
}

fn error_answer(t: &Transmit, code: ErrCode) -> Bytes {
    let (_, req) = received(t);
    let error = Error::new(code, "no").param_err("Device.X.Y", ErrCode::INVALID_VALUE, "bad");
    Record::no_session_context_msg(CTRL, AGENT, &Msg::error(req.msg_id(), error)).encode_to_bytes()
}

fn completed(h: &Handled) -> (RequestId, Result<RespType, UspError>) {
    match &h.event {
        Event::Completed(c) => (c.id, c.result.clone()),
        other => panic!("expected a completion, got {other:?}"),
    }
}

/// One (request, matching response) per request kind a Controller sends.
fn every_kind() -> Vec<(ReqType, RespType)> {
    vec![
        (
            Get::new(["Device.DeviceInfo."]).into(),
            GetResp::new(vec![get_resp::RequestedPathResult::ok("Device.DeviceInfo.", vec![])]).into(),
        ),
        (
            Set::new(false).object(UpdateObject::new("Device.A.").required("V", "1")).into(),
            SetResp::new(vec![set_resp::UpdatedObjectResult::success("Device.A.", vec![])]).into(),
        ),
        (
            Add::new(false).object(CreateObject::new("Device.T.")).into(),
            AddResp::new(vec![CreatedObjectResult::success(
                "Device.T.",
                "Device.T.1.",
                Default::default(),
                vec![],
            )])
            .into(),
        ),
        (Delete::new(false, ["Device.T.1."]).into(), DeleteResp::default().into()),
        (
            Operate::new("Device.Reboot()", "k").into(),
            OperateResp::new(vec![OperationResult::output(
                "Device.Reboot()",
                Vec::<(String, String)>::new(),
            )])
            .into(),
        ),
        (
            GetInstances::new(["Device.T."], true).into(),
            GetInstancesResp::new(vec![get_instances_resp::RequestedPathResult::ok("Device.T.", vec![])])
                .into(),
        ),
        (GetSupportedDm::new(["Device."]).into(), GetSupportedDmResp::default().into()),
        (GetSupportedProtocol::new("1.4").into(), GetSupportedProtocolResp::new("1.3,1.4").into()),
    ]
}

#[test]
fn every_request_kind_completes_with_its_response() {
    let mut c = controller();
    let now = Instant::now();
    for (req, resp) in every_kind() {
        let kind = usp_proto::msg::req_kind(&req);
        let (id, t) = c.request(AGENT, req.clone(), now);
        assert_eq!(t.to, AGENT);
        let (record, msg) = received(&t);
        assert_eq!((record.to_id.as_str(), record.from_id.as_str()), (AGENT, CTRL));
        assert_eq!(msg.as_request(), Some(&req), "{kind:?}");
        let h = c.handle(answer(&t, resp.clone()), now);
        assert_eq!(completed(&h), (id, Ok(resp)), "{kind:?}");
        assert!(h.reply.is_none());
    }
    assert_eq!(c.outstanding(), 0);
}

#[test]
fn every_request_kind_fails_with_the_agents_error_code() {
    let mut c = controller();
    let now = Instant::now();
    for (req, _) in every_kind() {
        let (id, t) = c.request(AGENT, req, now);
        let h = c.handle(error_answer(&t, ErrCode::PERMISSION_DENIED), now);
        let (got, result) = completed(&h);
        assert_eq!(got, id);
        let err = result.unwrap_err();
        assert_eq!(err.code(), Some(ErrCode::PERMISSION_DENIED));
        let UspError::Agent { message, param_errs, .. } = err else { panic!() };
        assert_eq!(message, "no");
        assert_eq!((param_errs[0].param_path.as_str(), param_errs[0].err_code), ("Device.X.Y", 7012));
    }
}

#[test]
fn msg_ids_are_unique_and_carry_the_boot_prefix() {
    let mut c = controller();
    let now = Instant::now();
    let ids: Vec<String> = (0..100)
        .map(|_| received(&c.request(AGENT, Get::new(["Device."]), now).1).1.msg_id().to_owned())
        .collect();
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 100);
    assert!(ids.iter().all(|id| id.starts_with("boot-")));

    let mut a = Controller::new(CTRL).unwrap();
    let mut b = Controller::new(CTRL).unwrap();
    let ida = received(&a.request(AGENT, Get::new(["Device."]), now).1).1.msg_id().to_owned();
    let idb = received(&b.request(AGENT, Get::new(["Device."]), now).1).1.msg_id().to_owned();
    assert_ne!(ida, idb, "a restarted controller does not reuse ids");
}

#[test]
fn responses_match_by_msg_id_only_even_from_another_endpoint() {
    let mut c = controller();
    let now = Instant::now();
    let (id, t) = c.request(AGENT, Get::new(["Device."]), now);
    let h = c.handle(answer_from("proto::someone-else", &t, GetResp::default()), now);
    let Event::Completed(done) = h.event else { panic!("{h:?}") };
    assert_eq!((done.id, done.from.as_deref()), (id, Some("proto::someone-else")));
}

#[test]
fn unknown_msg_ids_are_ignored() {
    let mut c = controller();
    let now = Instant::now();
    let (_, t) = c.request(AGENT, Get::new(["Device."]), now);
    for msg_id in ["boot-999", "other-1", "boot-01", "nonsense"] {
        let r = Record::no_session_context_msg(CTRL, AGENT, &Msg::response(msg_id, GetResp::default()));
        let h = c.handle(r.encode_to_bytes(), now);
        assert_eq!(h.event, Event::Ignored(Ignored::UnknownMsgId(msg_id.into())));
        assert!(h.reply.is_none(), "a response is never answered");
    }
    let r = Record::no_session_context_msg(
        CTRL,
        AGENT,
        &Msg::error("boot-77", Error::new(ErrCode::INTERNAL_ERROR, "x")),
    );
    assert_eq!(
        c.handle(r.encode_to_bytes(), now).event,
        Event::Ignored(Ignored::UnknownMsgId("boot-77".into()))
    );
    assert_eq!(c.outstanding(), 1, "the real request is still waiting");
    // An answer is consumed once: a second copy is unknown.
    assert!(matches!(c.handle(answer(&t, GetResp::default()), now).event, Event::Completed(_)));
    assert!(matches!(
        c.handle(answer(&t, GetResp::default()), now).event,
        Event::Ignored(Ignored::UnknownMsgId(_))
    ));
}

#[test]
fn a_response_of_the_wrong_kind_fails_the_request() {
    let mut c = controller();
    let now = Instant::now();
    let (id, t) = c.request(AGENT, Get::new(["Device."]), now);
    let h = c.handle(answer(&t, SetResp::default()), now);
    assert_eq!(
        completed(&h),
        (id, Err(UspError::UnexpectedResponse { expected: MsgKind::GetResp, got: MsgKind::SetResp }))
    );
}

#[test]
fn timeouts_surface_through_poll_and_next_deadline() {
    let mut c = controller();
    let t0 = Instant::now();
    assert_eq!(c.next_deadline(), None);
    let (slow, slow_t) = c.request_with_timeout(AGENT, Get::new(["Device."]), t0, Duration::from_secs(10));
    let (fast, _) = c.request_with_timeout(AGENT, Get::new(["Device."]), t0, Duration::from_secs(2));
    let (answered, answered_t) =
        c.request_with_timeout(AGENT, Get::new(["Device."]), t0, Duration::from_secs(1));
    assert_eq!(c.next_deadline(), Some(t0 + Duration::from_secs(1)));
    assert!(
        matches!(c.handle(answer(&answered_t, GetResp::default()), t0).event, Event::Completed(ref d) if d.id == answered)
    );
    assert_eq!(c.next_deadline(), Some(t0 + Duration::from_secs(2)), "answered requests leave the schedule");

    assert!(c.poll(t0 + Duration::from_millis(1999)).is_none());
    let done = c.poll(t0 + Duration::from_secs(2)).unwrap();
    assert_eq!(
        (done.id, done.from, done.result),
        (fast, None, Err(UspError::Timeout(Duration::from_secs(2))))
    );
    assert!(c.poll(t0 + Duration::from_secs(2)).is_none());
    assert_eq!(c.next_deadline(), Some(t0 + Duration::from_secs(10)));

    let late = c.poll(t0 + Duration::from_secs(60)).unwrap();
    assert_eq!(late.id, slow);
    assert_eq!(c.next_deadline(), None);
    let h = c.handle(answer(&slow_t, GetResp::default()), t0 + Duration::from_secs(61));
    assert!(matches!(h.event, Event::Ignored(Ignored::UnknownMsgId(_))), "a late answer is ignored");
}

#[test]
fn the_default_timeout_comes_from_the_config() {
    let cfg = ControllerConfig { request_timeout: Duration::from_secs(7), ..ControllerConfig::default() };
    let mut c = Controller::with_config(CTRL, cfg, MsgIdGen::with_prefix("p")).unwrap();
    let t0 = Instant::now();
    c.request(AGENT, Get::new(["Device."]), t0);
    assert_eq!(c.next_deadline(), Some(t0 + Duration::from_secs(7)));
}

#[test]
fn cancel_and_fail_all() {
    let mut c = controller();
    let now = Instant::now();
    let (id, t) = c.request(AGENT, Get::new(["Device."]), now);
    assert!(c.cancel(id));
    assert!(!c.cancel(id));
    assert!(matches!(
        c.handle(answer(&t, GetResp::default()), now).event,
        Event::Ignored(Ignored::UnknownMsgId(_))
    ));
    let (a, _) = c.request(AGENT, Get::new(["Device."]), now);
    let (b, _) = c.request(AGENT, Get::new(["Device."]), now);
    let mut failed: Vec<RequestId> = c.fail_all(&UspError::Closed).into_iter().map(|d| d.id).collect();
    failed.sort();
    assert_eq!(failed, [a, b]);
    assert_eq!((c.outstanding(), c.next_deadline()), (0, None));
}

#[test]
fn untracked_requests_are_not_waited_for() {
    let mut c = controller();
    let (msg_id, t) = c.send_untracked(AGENT, Operate::new("Device.X.Toggle()", "k").with_send_resp(false));
    let (_, msg) = received(&t);
    assert_eq!(msg.msg_id(), msg_id);
    assert_eq!((c.outstanding(), c.next_deadline()), (0, None));
    // R-OPR.4: an OperateResp may still come; it is ignored.
    let h = c.handle(answer(&t, OperateResp::default()), Instant::now());
    assert!(matches!(h.event, Event::Ignored(Ignored::UnknownMsgId(_))));
}

fn notify_record(msg_id: &str, notify: Notify) -> Bytes {
    Record::no_session_context_msg(CTRL, AGENT, &Msg::request(msg_id, notify)).encode_to_bytes()
}

#[test]
fn a_notification_is_delivered_and_answered_with_its_msg_id_and_subscription_id() {
    let mut c = controller();
    let notify = Notify::value_change("r101-occupancy", true, "Device.Node.1.Value", "true");
    let h = c.handle(notify_record("n-1", notify.clone()), Instant::now());
    let Event::Incoming(Incoming::Notification(n)) = &h.event else { panic!("{h:?}") };
    assert_eq!((n.from.as_str(), n.msg_id.as_str(), n.subscription_id()), (AGENT, "n-1", "r101-occupancy"));
    assert_eq!(n.notify, notify);
    assert!(n.kind().is_some());

    let reply = h.reply.expect("send_resp=true asks for a NotifyResp");
    assert_eq!(reply.to, AGENT);
    let (record, msg) = received(&reply);
    assert_eq!((record.to_id.as_str(), record.from_id.as_str()), (AGENT, CTRL));
    assert_eq!(msg, Msg::response("n-1", NotifyResp::new("r101-occupancy")));
}

#[test]
fn a_retried_notification_is_answered_again_but_delivered_once() {
    let mut c = controller();
    let t0 = Instant::now();
    let notify = Notify::event("s", true, "Device.", "Boot!", [("Cause", "LocalReboot")]);
    assert!(matches!(c.handle(notify_record("n-7", notify.clone()), t0).event, Event::Incoming(_)));
    let again = c.handle(notify_record("n-7", notify.clone()), t0 + Duration::from_secs(7));
    assert_eq!(
        again.event,
        Event::Ignored(Ignored::DuplicateNotify { from: AGENT.into(), msg_id: "n-7".into() })
    );
    assert_eq!(received(&again.reply.unwrap()).1, Msg::response("n-7", NotifyResp::new("s")));
    assert!(
        matches!(c.handle(notify_record("n-8", notify.clone()), t0).event, Event::Incoming(_)),
        "another id is new"
    );

    // Forgotten (the application could not take it): the retry is delivered.
    let h = c.handle(notify_record("n-9", notify.clone()), t0);
    let Event::Incoming(Incoming::Notification(n)) = h.event else { panic!() };
    c.forget_notification(&n);
    assert!(matches!(c.handle(notify_record("n-9", notify), t0).event, Event::Incoming(_)));
}

#[test]
fn a_notification_without_send_resp_is_not_answered() {
    let mut c = controller();
    let now = Instant::now();
    let notify = Notify::value_change("s", false, "Device.A", "1");
    let h = c.handle(notify_record("n-1", notify.clone()), now);
    assert!(matches!(h.event, Event::Incoming(Incoming::Notification(_))));
    assert!(h.reply.is_none());
    // Not retried by the Agent, so not deduplicated either.
    assert!(matches!(c.handle(notify_record("n-1", notify), now).event, Event::Incoming(_)));
}

#[test]
fn an_empty_notify_gets_error_7004() {
    let mut c = controller();
    let notify = Notify { subscription_id: "s".into(), send_resp: true, notification: None };
    let h = c.handle(notify_record("n-1", notify), Instant::now());
    assert_eq!(h.event, Event::Ignored(Ignored::EmptyNotify { from: AGENT.into(), msg_id: "n-1".into() }));
    let (_, msg) = received(&h.reply.unwrap());
    assert_eq!((msg.msg_id(), msg.as_error().map(|e| e.err_code)), ("n-1", Some(7004)));
}

#[test]
fn requests_a_controller_does_not_serve_get_7001() {
    let mut c = controller();
    let r = Record::no_session_context_msg(CTRL, AGENT, &Msg::request("g-1", Get::new(["Device."])));
    let h = c.handle(r.encode_to_bytes(), Instant::now());
    assert_eq!(h.event, Event::Ignored(Ignored::UnsupportedRequest(MsgKind::Get)));
    let (_, msg) = received(&h.reply.unwrap());
    assert_eq!((msg.msg_id(), msg.as_error().map(|e| e.err_code)), ("g-1", Some(7001)));
}

#[test]
fn records_for_others_and_garbage_are_ignored_silently() {
    let mut c = controller();
    let now = Instant::now();
    let r = Record::no_session_context_msg(
        "self::other",
        AGENT,
        &Msg::request("n", Notify::value_change("s", true, "A", "1")),
    );
    let h = c.handle(r.encode_to_bytes(), now);
    assert!(matches!(h.event, Event::Ignored(Ignored::Rejected(RecordError::NotAddressedToUs { .. }))));
    assert!(h.reply.is_none());
    let h = c.handle(Bytes::from_static(&[0xff, 0x01, 0x02]), now);
    assert!(matches!(h.event, Event::Ignored(Ignored::Rejected(RecordError::Decode(_)))));
    assert!(h.reply.is_none());
}

#[test]
fn a_malformed_request_addressed_to_us_gets_the_policy_answer() {
    let mut c = controller();
    // A Notify request with an empty Request oneof: R-MTP.5 → Error 7004.
    let msg = Msg {
        header: Some(usp_proto::usp::Header { msg_id: "bad-1".into(), msg_type: MsgKind::Notify as i32 }),
        body: Some(usp_proto::usp::Body {
            msg_body: Some(usp_proto::usp::body::MsgBody::Request(usp_proto::usp::Request {
                req_type: None,
            })),
        }),
    };
    let h = c.handle(Record::no_session_context_msg(CTRL, AGENT, &msg).encode_to_bytes(), Instant::now());
    assert!(matches!(h.event, Event::Ignored(Ignored::Rejected(RecordError::Msg(_)))));
    let (_, answer) = received(&h.reply.unwrap());
    assert_eq!(answer.as_error().map(|e| e.err_code), Some(7004));
}

#[test]
fn connect_and_disconnect_records_are_reported() {
    let mut c = controller();
    let now = Instant::now();
    let h = c.handle(
        Record::mqtt_connect(CTRL, AGENT, MqttVersion::V5, "usp/agent/proto::room101").encode_to_bytes(),
        now,
    );
    let Event::Incoming(Incoming::Connected(conn)) = h.event else { panic!() };
    assert_eq!(conn.from, AGENT);
    assert_eq!(
        conn.mtp,
        ConnectedMtp::Mqtt { version: MqttVersion::V5, subscribed_topic: "usp/agent/proto::room101".into() }
    );
    let h = c.handle(Record::websocket_connect(CTRL, AGENT).encode_to_bytes(), now);
    assert!(
        matches!(h.event, Event::Incoming(Incoming::Connected(ref c)) if c.mtp == ConnectedMtp::WebSocket)
    );
    let h = c.handle(
        Record::disconnect(CTRL, AGENT, "bye", ErrCode::SESS_CONTEXT_TERMINATED).encode_to_bytes(),
        now,
    );
    let Event::Incoming(Incoming::Disconnected(d)) = h.event else { panic!() };
    assert_eq!(
        (d.from.as_str(), d.reason.as_str(), d.code),
        (AGENT, "bye", ErrCode::SESS_CONTEXT_TERMINATED)
    );
}

#[test]
fn decoded_records_are_handled_like_bytes() {
    let mut c = controller();
    let now = Instant::now();
    let (id, t) = c.request(AGENT, Get::new(["Device."]), now);
    let (_, req) = received(&t);
    let record =
        Record::no_session_context_msg(CTRL, AGENT, &Msg::response(req.msg_id(), GetResp::default()));
    assert_eq!(completed(&c.handle_record(record, now)).0, id);
}

#[test]
fn an_invalid_own_endpoint_id_is_refused() {
    assert!(Controller::new("not an id").is_err());
    assert_eq!(Controller::new(CTRL).unwrap().endpoint_id(), CTRL);
}
