//! Steps: Set, Add, Delete, Operate (followed to OperationComplete),
//! publish, delays and sequences, templating, failures.

mod common;

use common::*;
use usp_proto::{
    ErrCode,
    usp::{Error, Notify, SetResp, request::ReqType, response::RespType, set_resp},
};
use usp_rules::{
    engine::{Notice, Outcome, Output},
    trace::Verdict,
};

#[test]
fn set_add_delete_and_publish_with_templates() {
    let mut h = H::new(
        r#"
[rule.r]
when = { value_change = "Device.Node.{n}.X", agents = "proto::room-{room}" }
[[rule.r.then]]
set = "Device.Node.{n}.Y"
value = "{value}-{room}"
[[rule.r.then]]
set = "Device.Node.2.LevelControl."
params = { Value = 70, StepValue = 10.5 }
[[rule.r.then]]
add = "Device.LocalAgent.Threshold."
params = { Enable = true, ReferencePath = "Device.Node.{n}." }
[[rule.r.then]]
delete = 'Device.LocalAgent.Threshold.[Alias=="old-{room}"].'
[[rule.r.then]]
publish = "done-{room}"
fields = { n = "{n}", rule = "{rule}" }
"#,
    );
    let out = h.vc("proto::room-9", "Device.Node.3.X", "v");
    assert_eq!(
        sets(&out),
        vec![
            ("proto::room-9".into(), "Device.Node.3.Y".into(), "v-9".into()),
            ("proto::room-9".into(), "Device.Node.2.LevelControl.Value".into(), "70".into()),
            ("proto::room-9".into(), "Device.Node.2.LevelControl.StepValue".into(), "10.5".into()),
        ]
    );
    let reqs = requests(&out);
    let ReqType::Add(add) = &reqs[2].body else { panic!("{:?}", reqs[2]) };
    assert_eq!(add.create_objs[0].obj_path, "Device.LocalAgent.Threshold.");
    let params: Vec<_> = add.create_objs[0]
        .param_settings
        .iter()
        .map(|p| (p.param.as_str(), p.value.as_str(), p.required))
        .collect();
    assert_eq!(params, vec![("Enable", "true", true), ("ReferencePath", "Device.Node.3.", true)]);
    let ReqType::Delete(del) = &reqs[3].body else { panic!() };
    assert_eq!(del.obj_paths, vec![r#"Device.LocalAgent.Threshold.[Alias=="old-9"]."#.to_string()]);
    assert!(!del.allow_partial);
    let p = publishes(&out);
    assert_eq!(
        (p[0].name.as_str(), p[0].fields["n"].as_str(), p[0].fields["rule"].as_str()),
        ("done-9", "3", "r")
    );
    assert!(reqs.iter().all(|r| r.rule.as_deref() == Some("r")));
}

const OPERATE: &str = r#"
[rule.step-down]
when = { value_change = "Device.T", agents = "proto::room-{room}" }
[[rule.step-down.then]]
operate = "Device.Node.3.IoTCapability.1.LevelControl.StepDown()"
args = { Amount = "{value}" }
wait = true
timeout = "30s"
[[rule.step-down.then]]
publish = "lowered {room}"
"#;

#[test]
fn operate_is_followed_to_its_operation_complete() {
    let mut h = H::new(OPERATE);
    let out = h.vc("proto::room-4", "Device.T", "2");
    let ops = operates(&out);
    assert_eq!(ops.len(), 1);
    let (agent, cmd, key, args) = &ops[0];
    assert_eq!(
        (agent.as_str(), cmd.as_str()),
        ("proto::room-4", "Device.Node.3.IoTCapability.1.LevelControl.StepDown()")
    );
    assert_eq!(args["Amount"], "2");
    assert!(publishes(&out).is_empty(), "the sequence waits");
    // The Agent starts it asynchronously...
    let req = requests(&out)[0].clone();
    assert!(publishes(&h.respond(&req, success(&req))).is_empty(), "still waiting for completion");
    // ...another command's completion does not count...
    let other = Notify::operation_complete(
        "",
        false,
        "Device.Node.3.IoTCapability.1.LevelControl.",
        "StepDown()",
        "someone-else",
        Vec::<(String, String)>::new(),
    );
    assert!(publishes(&h.notify("proto::room-4", other)).is_empty());
    // ...ours does.
    let done = Notify::operation_complete(
        "",
        false,
        "Device.Node.3.IoTCapability.1.LevelControl.",
        "StepDown()",
        key.clone(),
        Vec::<(String, String)>::new(),
    );
    assert_eq!(published_names(&h.notify("proto::room-4", done)), vec!["lowered 4"]);
    assert!(h.explain("step-down").recent.iter().any(|e| e.verdict == Verdict::OperationDone { step: 1 }));
    // Command keys are unique per Operate.
    let out2 = h.vc("proto::room-4", "Device.T", "3");
    assert_ne!(operates(&out2)[0].2, *key);
}

#[test]
fn a_failed_or_silent_operation_stops_the_sequence() {
    let mut h = H::new(OPERATE);
    let out = h.vc("proto::room-4", "Device.T", "2");
    let req = requests(&out)[0].clone();
    h.respond(&req, success(&req));
    let key = operates(&out)[0].2.clone();
    let failed = Notify::operation_failed(
        "",
        false,
        "Device.Node.3.IoTCapability.1.LevelControl.",
        "StepDown()",
        key,
        ErrCode(7022),
        "stuck",
    );
    let out = h.notify("proto::room-4", failed);
    assert!(publishes(&out).is_empty());
    assert!(out.iter().any(|o| matches!(o, Output::Notice(Notice::ActionFailed { step: 1, .. }))));
    let e = h.explain("step-down");
    assert_eq!(e.counts.failed, 1);
    assert!(
        matches!(&e.recent[0].verdict, Verdict::StepFailed { step: 1, action: "operate", reason } if reason.contains("7022"))
    );
    // No completion within the timeout: failed too.
    let out = h.vc("proto::room-4", "Device.T", "5");
    let req = requests(&out)[0].clone();
    h.respond(&req, success(&req));
    assert!(publishes(&h.advance(29 * SEC)).is_empty());
    let out = h.advance(SEC);
    assert!(publishes(&out).is_empty());
    assert!(
        matches!(&h.explain("step-down").recent[0].verdict, Verdict::StepFailed { reason, .. } if reason.contains("OperationComplete"))
    );
}

#[test]
fn delays_and_sequences() {
    let mut h = H::new(
        r#"
[rule.seq]
when = { value_change = "Device.Door", agents = "proto::a" }
[[rule.seq.then]]
set = "Device.Light"
value = true
[[rule.seq.then]]
delay = "5m"
[[rule.seq.then]]
set = "Device.Light"
value = false
"#,
    );
    let out = h.vc("proto::a", "Device.Door", "open");
    assert_eq!(sets(&out), vec![("proto::a".into(), "Device.Light".into(), "true".into())]);
    h.ack_all(&out);
    assert_eq!(h.deadline(), Some(T0 + 5 * MIN));
    assert!(sets(&h.advance(5 * MIN - 1)).is_empty());
    assert_eq!(sets(&h.advance(1)), vec![("proto::a".into(), "Device.Light".into(), "false".into())]);
}

#[test]
fn a_waited_set_holds_the_sequence_and_a_failure_ends_it() {
    let mut h = H::new(
        r#"
[rule.w]
when = { value_change = "Device.Go", agents = "proto::a" }
[[rule.w.then]]
set = "Device.A"
value = 1
wait = true
[[rule.w.then]]
publish = "after"
"#,
    );
    let out = h.vc("proto::a", "Device.Go", "1");
    assert!(publishes(&out).is_empty());
    let req = requests(&out)[0].clone();
    assert_eq!(published_names(&h.respond(&req, success(&req))), vec!["after"]);
    // A per-object failure in the SetResp fails the step.
    let out = h.vc("proto::a", "Device.Go", "2");
    let req = requests(&out)[0].clone();
    let bad = SetResp::new(vec![set_resp::UpdatedObjectResult::failure(
        "Device.",
        ErrCode::INVALID_VALUE,
        "out of range",
        vec![],
    )]);
    let out = h.respond(&req, Outcome::Response(RespType::SetResp(bad)));
    assert!(publishes(&out).is_empty());
    assert!(
        matches!(&h.explain("w").recent[0].verdict, Verdict::StepFailed { reason, .. } if reason.contains("7012"))
    );
    // So does an Error message, and so does silence.
    let out = h.vc("proto::a", "Device.Go", "3");
    let req = requests(&out)[0].clone();
    h.respond(&req, Outcome::Error(Error::new(ErrCode::REQUEST_DENIED, "no")));
    assert_eq!(h.explain("w").counts.failed, 2);
    h.vc("proto::a", "Device.Go", "4");
    let out = h.advance(30 * SEC);
    assert!(publishes(&out).is_empty());
    assert_eq!(h.explain("w").counts.failed, 3);
    // Answering twice is harmless.
    assert!(matches!(h.respond(&req, success(&req))[..], [Output::Notice(Notice::UnknownResponse { .. })]));
}

#[test]
fn templating_selects_the_right_room() {
    let mut h = H::new(
        r#"
[rule.light]
when = { value_change = "Device.IoTCapability.1.BinarySensor.Value", agents = "proto::occupancy-{room}" }
if = "value == true"
[[rule.light.then]]
agent = "proto::room-{room}"
set = 'Device.Node.2.IoTCapability.[Name=="r{room}-light-sw"].BinaryControl.Value'
value = true
"#,
    );
    h.online("proto::room-101");
    h.online("proto::room-102");
    let out = h.vc("proto::occupancy-102", "Device.IoTCapability.1.BinarySensor.Value", "true");
    assert_eq!(
        sets(&out),
        vec![(
            "proto::room-102".into(),
            r#"Device.Node.2.IoTCapability.[Name=="r102-light-sw"].BinaryControl.Value"#.into(),
            "true".into()
        )]
    );
    // A known-offline target fails the step instead of sending into the void.
    h.offline("proto::room-101");
    let out = h.vc("proto::occupancy-101", "Device.IoTCapability.1.BinarySensor.Value", "true");
    assert!(sets(&out).is_empty());
    assert!(
        matches!(&h.explain("light").recent[0].verdict, Verdict::StepFailed { reason, .. } if reason.contains("offline"))
    );
}

#[test]
fn a_fanout_binds_each_targets_captures() {
    let mut h = H::new(
        r#"
[rule.all]
when = { schedule = "every 1h" }
[[rule.all.then]]
agents = "proto::room-{room}"
set = 'Device.Node.2.IoTCapability.[Name=="r{room}-light-sw"].BinaryControl.Value'
value = false
"#,
    );
    h.online("proto::room-1");
    h.online("proto::room-2");
    h.online("proto::hall-1");
    let out = h.advance(HOUR);
    let mut s = sets(&out);
    s.sort();
    assert_eq!(
        s,
        vec![
            (
                "proto::room-1".into(),
                r#"Device.Node.2.IoTCapability.[Name=="r1-light-sw"].BinaryControl.Value"#.into(),
                "false".into()
            ),
            (
                "proto::room-2".into(),
                r#"Device.Node.2.IoTCapability.[Name=="r2-light-sw"].BinaryControl.Value"#.into(),
                "false".into()
            ),
        ]
    );
}

#[test]
fn values_that_would_change_a_path_are_refused() {
    let mut h = H::new(
        r#"
[rule.r]
when = { value_change = "Device.Name", agents = "proto::a" }
[[rule.r.then]]
set = 'Device.IoTCapability.[Name=="{value}"].BinaryControl.Value'
value = true
[[rule.r.then]]
set = "Device.Node.{value}.X"
value = 1
"#,
    );
    let out = h.vc("proto::a", "Device.Name", "x\"]&&Class==\"y");
    // Quoted constants are escaped per TR-369; an instance placeholder must be a number.
    assert_eq!(
        sets(&out),
        vec![(
            "proto::a".into(),
            r#"Device.IoTCapability.[Name=="x%22]&&Class==%22y"].BinaryControl.Value"#.into(),
            "true".into()
        )]
    );
    assert!(matches!(&h.explain("r").recent[0].verdict, Verdict::StepFailed { step: 2, .. }));
}
