//! Operate: synchronous output, asynchronous commands through
//! `Device.LocalAgent.Request.{i}` with their OperationComplete, Cancel(),
//! send_resp=false, argument checks, message-level errors.

use usp_endpoint::datamodel::{Args, OpId, Report, Value};
use usp_proto::{
    ErrCode, Msg,
    usp::{
        Add, Get, Operate, OperateResp, add::CreateObject, notify::Notification,
        notify::operation_complete::OperationResp as Completion,
        operate_resp::operation_result::OperationResp,
    },
};

use super::fixture::*;

fn result(resp: &OperateResp, i: usize) -> (String, OperationResp) {
    let r = &resp.operation_results[i];
    (r.executed_command.clone(), r.operation_resp.clone().expect("a result"))
}

/// Subscribes CTRL to OperationComplete on `refs`.
fn subscribe(fx: &mut Fx, notif_type: &str, refs: &str) {
    let add = Add::new(false).object(
        CreateObject::new("Device.LocalAgent.Subscription.")
            .required("Enable", "true")
            .required("ID", format!("sub-{notif_type}"))
            .required("NotifType", notif_type)
            .required("ReferenceList", refs),
    );
    add_resp(&fx.call(add));
}

/// The last OpId the test device was given.
fn last_op(fx: &Fx) -> OpId {
    let log = fx.log.lock().unwrap();
    let line = log.iter().rev().find(|l| l.starts_with("operate ")).unwrap();
    let n: u64 = line.rsplit("OpId(").next().unwrap().trim_end_matches(')').parse().unwrap();
    OpId(n)
}

#[test]
fn a_synchronous_command_answers_with_its_output() {
    let mut fx = Fx::new();
    let r =
        operate_resp(&fx.call(Operate::new("Device.X_Test.Echo()", "k").arg("Text", "hi").arg("Count", "2")));
    let (cmd, res) = result(&r, 0);
    assert_eq!(cmd, "Device.X_Test.Echo()");
    let OperationResp::ReqOutputArgs(out) = res else { panic!("{res:?}") };
    assert_eq!(out.output_args, map(&[("Text", "hihi")]));
    // Missing mandatory argument (R-OPR.5): cmd_failure 7027; an invalid
    // one too; unknown ones are ignored (R-OPR.6).
    for op in [
        Operate::new("Device.X_Test.Echo()", "k"),
        Operate::new("Device.X_Test.Echo()", "k").arg("Text", "x").arg("Count", "9"),
    ] {
        let r = operate_resp(&fx.call(op));
        let OperationResp::CmdFailure(f) = result(&r, 0).1 else { panic!() };
        assert_eq!(f.err_code, ErrCode::INVALID_COMMAND_ARGUMENTS.0);
    }
    let r =
        operate_resp(&fx.call(Operate::new("Device.X_Test.Echo()", "k").arg("Text", "x").arg("Extra", "y")));
    assert!(matches!(result(&r, 0).1, OperationResp::ReqOutputArgs(_)));
    // A command no provider implements fails with 7022.
    let r = operate_resp(&fx.call(Operate::new("Device.Reboot()", "k")));
    let OperationResp::CmdFailure(f) = result(&r, 0).1 else { panic!() };
    assert_eq!(f.err_code, ErrCode::COMMAND_FAILURE.0);
}

#[test]
fn an_asynchronous_command_runs_in_a_request_row_until_it_completes() {
    let mut fx = Fx::new();
    subscribe(&mut fx, "OperationComplete", "Device.X_Test.Slow()");
    let r = operate_resp(&fx.call(Operate::new("Device.X_Test.Slow()", "key-1")));
    assert_eq!(
        result(&r, 0),
        ("Device.X_Test.Slow()".into(), OperationResp::ReqObjPath("Device.LocalAgent.Request.1.".into()))
    );
    let g = get_resp(&fx.call(Get::new(["Device.LocalAgent.Request.1."])));
    assert_eq!(
        resolved(&g, 0)[0].1,
        map(&[
            ("Alias", "cpe-1"),
            ("Command", "Device.X_Test.Slow()"),
            ("CommandKey", "key-1"),
            ("Originator", CTRL),
            ("Status", "Active"),
        ])
    );
    // The device finishes: the OperationComplete goes to the subscriber
    // and the row goes.
    fx.reports.push(Report::Completed {
        op: last_op(&fx),
        result: Ok(Args::from([("Done".into(), Value::Boolean(true))])),
    });
    let sent = fx.poll();
    assert_eq!(sent.len(), 1);
    let n = notify(&sent[0]);
    assert_eq!(n.subscription_id, "sub-OperationComplete");
    let Some(Notification::OperComplete(c)) = n.notification else { panic!() };
    assert_eq!(
        (c.obj_path.as_str(), c.command_name.as_str(), c.command_key.as_str()),
        ("Device.X_Test.", "Slow()", "key-1")
    );
    let Some(Completion::ReqOutputArgs(out)) = c.operation_resp else { panic!() };
    assert_eq!(out.output_args, map(&[("Done", "true")]));
    assert!(!fx.exists("Device.LocalAgent.Request.1."));
}

#[test]
fn the_actuators_complete_at_once_after_the_response() {
    let mut fx = Fx::new();
    subscribe(&mut fx, "OperationComplete", "Device.IoTCapability.*.BinaryControl.Toggle()");
    let (answer, after) = fx.call_as(
        CTRL,
        Operate::new(r#"Device.IoTCapability.[Class=="BinaryControl"].BinaryControl.Toggle()"#, "t1"),
    );
    // §7 #16: one result per matched row, the Request row in it.
    let r = operate_resp(&answer);
    assert_eq!(r.operation_results.len(), 1);
    assert!(matches!(result(&r, 0).1, OperationResp::ReqObjPath(_)));
    assert_eq!(after.len(), 1, "the OperationComplete follows the OperateResp");
    let Some(Notification::OperComplete(c)) = notify(&after[0]).notification else { panic!() };
    assert_eq!(c.obj_path, "Device.IoTCapability.3.BinaryControl.");
    assert_eq!(fx.value("Device.IoTCapability.3.BinaryControl.Value"), "true");
    assert_eq!(fx.value("Device.LocalAgent.RequestNumberOfEntries"), "0");
    // §7 #17: a search matching nothing gives no results.
    let r = operate_resp(
        &fx.call(Operate::new(r#"Device.IoTCapability.[Class=="Nope"].BinaryControl.Toggle()"#, "t2")),
    );
    assert!(r.operation_results.is_empty());
}

#[test]
fn cancel_ends_a_command_with_7023() {
    let mut fx = Fx::new();
    subscribe(&mut fx, "OperationComplete", "Device.X_Test.");
    operate_resp(&fx.call(Operate::new("Device.X_Test.Slow()", "c1")));
    let (answer, after) = fx.call_as(CTRL, Operate::new("Device.LocalAgent.Request.1.Cancel()", "c2"));
    let r = operate_resp(&answer);
    assert!(matches!(result(&r, 0).1, OperationResp::ReqOutputArgs(_)));
    let Some(Notification::OperComplete(c)) = notify(&after[0]).notification else { panic!("{after:?}") };
    let Some(Completion::CmdFailure(f)) = c.operation_resp else { panic!() };
    assert_eq!(f.err_code, ErrCode::COMMAND_CANCELLED.0);
    assert!(!fx.exists("Device.LocalAgent.Request.1."));
    // A command that cannot be cancelled: 7002, and it keeps running.
    operate_resp(&fx.call(Operate::new("Device.X_Test.Stuck()", "s1")));
    let r = operate_resp(&fx.call(Operate::new("Device.LocalAgent.Request.2.Cancel()", "c3")));
    let OperationResp::CmdFailure(f) = result(&r, 0).1 else { panic!() };
    assert_eq!(f.err_code, ErrCode::REQUEST_DENIED.0);
    assert_eq!(fx.value("Device.LocalAgent.Request.2.Status"), "Active");
}

#[test]
fn the_same_command_key_while_running_is_refused() {
    let mut fx = Fx::new();
    operate_resp(&fx.call(Operate::new("Device.X_Test.Slow()", "same")));
    let r = operate_resp(&fx.call(Operate::new("Device.X_Test.Slow()", "same")));
    let OperationResp::CmdFailure(f) = result(&r, 0).1 else { panic!() };
    assert_eq!(f.err_code, ErrCode::RESOURCES_EXCEEDED.0);
    let r = operate_resp(&fx.call(Operate::new("Device.X_Test.Slow()", "other")));
    assert!(matches!(result(&r, 0).1, OperationResp::ReqObjPath(_)));
}

#[test]
fn send_resp_false_answers_only_failures() {
    let mut fx = Fx::new();
    let id = fx.msg_id();
    let sent = fx.send(
        CTRL,
        &Msg::request(id, Operate::new("Device.X_Test.Echo()", "k").arg("Text", "a").with_send_resp(false)),
    );
    assert!(sent.is_empty(), "R-OPR.4");
    assert_eq!(fx.log.lock().unwrap().last().unwrap(), "operate Echo OpId(1)");
    let id = fx.msg_id();
    let sent =
        fx.send(CTRL, &Msg::request(id, Operate::new("Device.X_Test.Echo()", "k").with_send_resp(false)));
    let r = operate_resp(&sent[0].msg);
    assert!(matches!(result(&r, 0).1, OperationResp::CmdFailure(_)));
}

#[test]
fn message_level_errors() {
    let mut fx = Fx::new();
    for (cmd, want) in [
        ("Device.X_Test.Echo", ErrCode::INVALID_PATH),
        ("Device.X_Test.Nope()", ErrCode::INVALID_PATH),
        ("Device.X_Test.Item.9.Nope()", ErrCode::INVALID_PATH),
        ("Device.IoTCapability.9.BinaryControl.Toggle()", ErrCode::OBJECT_DOES_NOT_EXIST),
        ("Device.X_Test.Echo(", ErrCode::INVALID_PATH_SYNTAX),
    ] {
        assert_eq!(error(&fx.call(Operate::new(cmd, "k"))).err_code, want.0, "{cmd}");
    }
}

#[test]
fn send_on_board_request_is_run_by_the_agent() {
    let mut fx = Fx::new();
    let (answer, after) =
        fx.call_as(CTRL, Operate::new("Device.LocalAgent.Controller.1.SendOnBoardRequest()", "o"));
    assert!(matches!(result(&operate_resp(&answer), 0).1, OperationResp::ReqOutputArgs(_)));
    assert_eq!(fx.value("Device.LocalAgent.Controller.1.OnBoardingComplete"), "false");
    assert_eq!(after.len(), 1);
    let n = notify(&after[0]);
    assert!(n.send_resp && n.subscription_id.is_empty());
    let Some(Notification::OnBoardReq(o)) = n.notification else { panic!() };
    assert_eq!(
        (
            o.oui.as_str(),
            o.product_class.as_str(),
            o.serial_number.as_str(),
            o.agent_supported_protocol_versions.as_str()
        ),
        ("00D09E", "RoomController", "SN101", "1.3,1.4")
    );
    // Retried until the NotifyResp (R-NOT.6a).
    assert_eq!(fx.agent.pending_notifications(), 1);
    fx.advance(10);
    let again = fx.poll();
    assert_eq!(again[0].msg, after[0].msg, "the same Record again");
    fx.send(CTRL, &notify_resp(&after[0]));
    assert_eq!(fx.agent.pending_notifications(), 0);
}
