//! Subscriptions of all five kinds, pushed the moment a change happens
//! (from a Set, from a provider's report), retries on the R-NOT.1
//! schedule, NotifExpiration, TimeToLive, Enable, and what deleting or
//! disabling a Controller does — all on a controllable clock.

use std::time::Duration;

use usp_endpoint::agent::clock;
use usp_endpoint::agent::permissions::setup;
use usp_endpoint::datamodel::{Args, Report, Target, Value};
use usp_proto::{
    ErrCode, Msg,
    usp::{
        Add, Delete, Set, add::CreateObject, notify::Notification, set::UpdateObject,
        set_resp::updated_object_result::operation_status::OperStatus,
    },
};

use super::fixture::*;

/// A subscription row's settings.
struct Spec<'a> {
    id: &'a str,
    kind: &'a str,
    refs: &'a str,
    retry: bool,
    expiration: u32,
    ttl: u32,
    enable: bool,
}

impl<'a> Spec<'a> {
    fn new(id: &'a str, kind: &'a str, refs: &'a str) -> Spec<'a> {
        Spec { id, kind, refs, retry: false, expiration: 0, ttl: 0, enable: true }
    }
}

fn subscribe_as(fx: &mut Fx, from: &str, s: Spec<'_>) -> String {
    let obj = CreateObject::new("Device.LocalAgent.Subscription.")
        .required("Enable", if s.enable { "true" } else { "false" })
        .required("ID", s.id)
        .required("NotifType", s.kind)
        .required("ReferenceList", s.refs)
        .param("NotifRetry", if s.retry { "true" } else { "false" })
        .param("NotifExpiration", s.expiration.to_string())
        .param("TimeToLive", s.ttl.to_string());
    let (answer, _) = fx.call_as(from, Add::new(false).object(obj));
    let r = add_resp(&answer);
    let Some(usp_proto::usp::add_resp::created_object_result::OperationStatus {
        oper_status:
            Some(usp_proto::usp::add_resp::created_object_result::operation_status::OperStatus::OperSuccess(s)),
    }) = &r.created_obj_results[0].oper_status
    else {
        panic!("{r:?}")
    };
    s.instantiated_path.clone()
}

fn subscribe(fx: &mut Fx, s: Spec<'_>) -> String {
    subscribe_as(fx, CTRL, s)
}

fn set_value(fx: &mut Fx, obj: &str, param: &str, value: &str) -> Vec<Sent> {
    let (answer, after) =
        fx.call_as(CTRL, Set::new(false).object(UpdateObject::new(obj).required(param, value)));
    set_resp(&answer);
    after
}

fn value_change(sent: &Sent) -> (String, String, String, bool) {
    let n = notify(sent);
    let Some(Notification::ValueChange(v)) = n.notification else { panic!("{n:?}") };
    (n.subscription_id, v.param_path, v.param_value, n.send_resp)
}

#[test]
fn value_change_is_pushed_for_a_set_and_for_a_provider_report() {
    let mut fx = Fx::new();
    subscribe(
        &mut fx,
        Spec::new("dim", "ValueChange", r#"Device.IoTCapability.[Name=="r101-dimmer"].LevelControl.Value"#),
    );
    // The subscriber's own Set notifies it (unlike TR-069).
    let after = set_value(&mut fx, "Device.IoTCapability.4.LevelControl.", "Value", "70");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].to, CTRL);
    assert_eq!(
        value_change(&after[0]),
        ("dim".into(), "Device.IoTCapability.4.LevelControl.Value".into(), "70".into(), false)
    );
    // A provider's report, applied by poll: notified at once.
    fx.reports.push(Report::ValueText {
        path: "Device.IoTCapability.4.LevelControl.Value".into(),
        value: "71.5".into(),
    });
    let sent = fx.poll();
    assert_eq!(sent.len(), 1);
    assert_eq!(value_change(&sent[0]).2, "71.5");
    // No change, no notification; other parameters, none either.
    fx.reports.push(Report::ValueText {
        path: "Device.IoTCapability.4.LevelControl.Value".into(),
        value: "71.5".into(),
    });
    assert!(fx.poll().is_empty());
    assert!(set_value(&mut fx, "Device.IoTCapability.5.LevelControl.", "Value", "22").is_empty());
    // A change made on the Agent's thread is picked up by the next poll.
    let dm = fx.agent.data_model_mut();
    let Ok(Target::Param(p)) = dm.lookup("Device.IoTCapability.4.LevelControl.Value") else { panic!() };
    dm.store_mut().set(&p, Value::Decimal(usp_endpoint::datamodel::Decimal::parse("12").unwrap())).unwrap();
    assert_eq!(value_change(&fx.poll()[0]).2, "12");
}

#[test]
fn object_paths_filter_what_is_below_them() {
    let mut fx = Fx::new();
    subscribe(&mut fx, Spec::new("nodes", "ValueChange", "Device.Node.*."));
    subscribe(&mut fx, Spec::new("x", "ValueChange", "Device.X_Test."));
    let after = set_value(&mut fx, "Device.Node.1.IoTCapability.2.LevelControl.", "Value", "55");
    assert_eq!(value_change(&after[0]).1, "Device.Node.1.IoTCapability.2.LevelControl.Value");
    assert_eq!(after.len(), 1);
    // VALUE_CHANGE_WILL_IGNORE parameters notify nobody.
    fx.reports.push(Report::ValueText { path: "Device.X_Test.Ticks".into(), value: "9".into() });
    assert!(fx.poll().is_empty());
    let after = set_value(&mut fx, "Device.X_Test.", "Mode", "eco");
    assert_eq!(value_change(&after[0]).0, "x");
}

#[test]
fn a_disabled_subscription_is_silent_until_enabled() {
    let mut fx = Fx::new();
    let row =
        subscribe(&mut fx, Spec { enable: false, ..Spec::new("m", "ValueChange", "Device.X_Test.Mode") });
    assert!(set_value(&mut fx, "Device.X_Test.", "Mode", "a").is_empty());
    set_value(&mut fx, &row, "Enable", "true");
    assert_eq!(set_value(&mut fx, "Device.X_Test.", "Mode", "b").len(), 1);
    // Deleted: silent again.
    fx.call(Delete::new(false, [row.as_str()]));
    assert!(set_value(&mut fx, "Device.X_Test.", "Mode", "c").is_empty());
}

#[test]
fn object_creation_and_deletion() {
    let mut fx = Fx::new();
    subscribe(&mut fx, Spec::new("new", "ObjectCreation", "Device.X_Test.Item."));
    subscribe(&mut fx, Spec::new("gone", "ObjectDeletion", "Device.X_Test.Item.*."));
    let (answer, after) = fx.call_as(
        CTRL,
        Add::new(false).object(CreateObject::new("Device.X_Test.Item.").required("Name", "three")),
    );
    add_resp(&answer);
    let n = notify(&after[0]);
    let Some(Notification::ObjCreation(c)) = n.notification else { panic!("{n:?}") };
    assert_eq!((n.subscription_id.as_str(), c.obj_path.as_str()), ("new", "Device.X_Test.Item.3."));
    assert_eq!(c.unique_keys, map(&[("Alias", "cpe-3"), ("Name", "three")]));
    let (_, after) = fx.call_as(CTRL, Delete::new(false, ["Device.X_Test.Item.3."]));
    let n = notify(&after[0]);
    let Some(Notification::ObjDeletion(d)) = n.notification else { panic!("{n:?}") };
    assert_eq!((n.subscription_id.as_str(), d.obj_path.as_str()), ("gone", "Device.X_Test.Item.3."));
}

#[test]
fn deletion_of_rows_a_search_matched() {
    let mut fx = Fx::new();
    subscribe(&mut fx, Spec::new("lights", "ObjectDeletion", r#"Device.Node.[Type=="Light"]."#));
    subscribe(
        &mut fx,
        Spec::new("light-caps", "ObjectDeletion", r#"Device.Node.[Type=="Light"].IoTCapability.*."#),
    );
    let row = |fx: &Fx, path: &str| match fx.agent.data_model().lookup(path) {
        Ok(Target::Object(o)) => o,
        other => panic!("{other:?}"),
    };
    // The device behind node 1 goes away (a provider report).
    fx.reports.push(Report::Deleted { row: row(&fx, "Device.Node.1.") });
    let sent: Vec<(String, String)> = fx
        .poll()
        .iter()
        .map(|s| {
            let n = notify(s);
            let Some(Notification::ObjDeletion(d)) = n.notification else { panic!() };
            (n.subscription_id, d.obj_path)
        })
        .collect();
    assert_eq!(
        sent,
        [
            ("light-caps".into(), "Device.Node.1.IoTCapability.1.".into()),
            ("light-caps".into(), "Device.Node.1.IoTCapability.2.".into()),
            ("lights".into(), "Device.Node.1.".into()),
        ],
        "rows that no longer exist are matched by what the search matched"
    );
    // Node 2 becomes a light, then goes: the matched set followed.
    fx.reports.push(Report::ValueText { path: "Device.Node.2.Type".into(), value: "Light".into() });
    assert!(fx.poll().is_empty());
    fx.reports.push(Report::Deleted { row: row(&fx, "Device.Node.2.") });
    assert_eq!(fx.poll().len(), 2);
}

#[test]
fn events_and_their_object_filters() {
    let mut fx = Fx::new();
    subscribe(&mut fx, Spec::new("alarm", "Event", "Device.X_Test.Alarm!"));
    subscribe(&mut fx, Spec::new("all", "Event", "Device."));
    let Ok(Target::Event(event)) = fx.agent.data_model().lookup("Device.X_Test.Alarm!") else { panic!() };
    fx.reports.push(Report::Event { event, args: Args::from([("Level".into(), Value::UnsignedInt(3))]) });
    let sent = fx.poll();
    let ids: Vec<String> = sent.iter().map(|s| notify(s).subscription_id).collect();
    assert_eq!(ids, ["alarm", "all"]);
    let Some(Notification::Event(e)) = notify(&sent[0]).notification else { panic!() };
    assert_eq!((e.obj_path.as_str(), e.event_name.as_str()), ("Device.X_Test.", "Alarm!"));
    assert_eq!(e.params, map(&[("Level", "3")]));
}

#[test]
fn retries_follow_the_schedule_until_the_notify_resp() {
    let mut fx = Fx::new();
    subscribe(&mut fx, Spec { retry: true, ..Spec::new("r", "ValueChange", "Device.X_Test.Mode") });
    let first = set_value(&mut fx, "Device.X_Test.", "Mode", "a");
    assert!(value_change(&first[0]).3, "send_resp with NotifRetry");
    let mut last = fx.now;
    for n in 1..=12u32 {
        let due = fx.agent.next_deadline().unwrap();
        let wait = clock::duration_until(last, due).as_secs_f64();
        let (lo, hi) = (5.0 * 2f64.powi(n.min(10) as i32 - 1), 5.0 * 2f64.powi(n.min(10) as i32));
        assert!((lo..=hi).contains(&wait), "retry {n}: waited {wait} s, not in [{lo}, {hi}]");
        let early = clock::after(last, Duration::from_secs_f64(wait - 0.1));
        assert!(decode(fx.agent.poll(early)).is_empty(), "retry {n}: nothing before it is due");
        fx.now = due;
        let again = fx.poll();
        assert_eq!(again.len(), 1, "retry {n}");
        assert_eq!(again[0].msg, first[0].msg, "the identical message, same msg_id");
        last = fx.now;
    }
    fx.send(CTRL, &notify_resp(&first[0]));
    assert_eq!(fx.agent.pending_notifications(), 0);
    assert_eq!(fx.agent.next_deadline(), None);
    fx.advance(100_000);
    assert!(fx.poll().is_empty());
}

#[test]
fn the_retry_range_uses_the_recipient_controllers_m_and_k() {
    let mut fx = Fx::new();
    let ctrl = r#"Device.LocalAgent.Controller.[EndpointID=="self::rules"]."#;
    let (answer, _) = fx.call_as(
        CTRL,
        Set::new(false).object(
            UpdateObject::new(ctrl)
                .required("USPNotifRetryMinimumWaitInterval", "2")
                .required("USPNotifRetryIntervalMultiplier", "3000"),
        ),
    );
    set_resp(&answer);
    subscribe(&mut fx, Spec { retry: true, ..Spec::new("r", "ValueChange", "Device.X_Test.Mode") });
    set_value(&mut fx, "Device.X_Test.", "Mode", "a");
    let mut last = fx.now;
    for n in 1..=4 {
        let due = fx.agent.next_deadline().unwrap();
        let wait = clock::duration_until(last, due).as_secs_f64();
        let (lo, hi) = (2.0 * 3f64.powi(n - 1), 2.0 * 3f64.powi(n));
        assert!((lo..=hi).contains(&wait), "retry {n}: {wait} not in [{lo}, {hi}]");
        fx.now = due;
        assert_eq!(fx.poll().len(), 1);
        last = due;
    }
}

#[test]
fn the_same_seed_gives_the_same_schedule() {
    let schedule = || {
        let mut fx = Fx::new();
        subscribe(&mut fx, Spec { retry: true, ..Spec::new("r", "ValueChange", "Device.X_Test.Mode") });
        set_value(&mut fx, "Device.X_Test.", "Mode", "a");
        let mut out = Vec::new();
        for _ in 0..5 {
            let due = fx.agent.next_deadline().unwrap();
            out.push(due);
            fx.now = due;
            fx.poll();
        }
        out
    };
    assert_eq!(schedule(), schedule());
}

#[test]
fn notif_expiration_ends_the_retries() {
    let mut fx = Fx::new();
    subscribe(
        &mut fx,
        Spec { retry: true, expiration: 30, ..Spec::new("r", "ValueChange", "Device.X_Test.Mode") },
    );
    set_value(&mut fx, "Device.X_Test.", "Mode", "a");
    let start = fx.now;
    let mut retries = 0;
    while let Some(due) = fx.agent.next_deadline() {
        fx.now = due;
        retries += fx.poll().len();
        assert!(retries < 10, "bounded");
    }
    assert!(retries >= 1, "retried within the 30 s");
    assert!(fx.now >= clock::after_secs(start, 30) || fx.agent.pending_notifications() == 0);
    assert_eq!(fx.agent.pending_notifications(), 0);
}

#[test]
fn an_error_or_deleting_the_subscription_ends_the_retries() {
    let mut fx = Fx::new();
    let row = subscribe(&mut fx, Spec { retry: true, ..Spec::new("r", "ValueChange", "Device.X_Test.Mode") });
    let first = set_value(&mut fx, "Device.X_Test.", "Mode", "a");
    fx.send(
        CTRL,
        &Msg::error(first[0].msg.msg_id(), usp_proto::usp::Error::new(ErrCode::MESSAGE_FAILED, "no")),
    );
    assert_eq!(fx.agent.pending_notifications(), 0);
    set_value(&mut fx, "Device.X_Test.", "Mode", "b");
    assert_eq!(fx.agent.pending_notifications(), 1);
    fx.call(Delete::new(false, [row.as_str()]));
    assert_eq!(fx.agent.pending_notifications(), 0);
    // Without NotifRetry nothing waits.
    subscribe(&mut fx, Spec::new("once", "ValueChange", "Device.X_Test.Mode"));
    set_value(&mut fx, "Device.X_Test.", "Mode", "c");
    assert_eq!(fx.agent.pending_notifications(), 0);
}

#[test]
fn time_to_live_removes_the_row() {
    let mut fx = Fx::new();
    subscribe(&mut fx, Spec::new("watch", "ObjectDeletion", "Device.LocalAgent.Subscription.*."));
    let row = subscribe(&mut fx, Spec { ttl: 60, ..Spec::new("short", "ValueChange", "Device.X_Test.Mode") });
    assert_eq!(fx.agent.next_deadline(), Some(clock::after_secs(t0(), 60)));
    fx.advance(59);
    assert!(fx.poll().is_empty());
    assert!(fx.exists(&row));
    fx.advance(1);
    let sent = fx.poll();
    assert!(!fx.exists(&row), "TimeToLive is over");
    let Some(Notification::ObjDeletion(d)) = notify(&sent[0]).notification else { panic!() };
    assert_eq!(d.obj_path, row);
    assert_eq!(fx.agent.next_deadline(), None);
}

#[test]
fn the_reference_list_is_immutable_once_set() {
    let mut fx = Fx::new();
    let row = subscribe(&mut fx, Spec::new("m", "ValueChange", "Device.X_Test.Mode"));
    let e = error(&fx.call(
        Set::new(false).object(UpdateObject::new(&row).required("ReferenceList", "Device.X_Test.Reading")),
    ));
    assert_eq!(e.param_errs[0].err_code, ErrCode::PARAM_READ_ONLY.0);
    set_resp(&fx.call(
        Set::new(false).object(UpdateObject::new(&row).required("ReferenceList", "Device.X_Test.Mode")),
    ));
    // NotifType must keep suiting the references.
    let r = set_resp(&fx.call(Set::new(true).object(UpdateObject::new(&row).required("NotifType", "Event"))));
    let Some(OperStatus::OperFailure(f)) =
        r.updated_obj_results[0].oper_status.clone().and_then(|s| s.oper_status)
    else {
        panic!("{r:?}")
    };
    assert_eq!(f.updated_inst_failures[0].param_errs[0].err_code, ErrCode::INVALID_VALUE.0);
    // An empty list may be filled once.
    let row = subscribe(&mut fx, Spec::new("e", "ValueChange", ""));
    set_resp(&fx.call(
        Set::new(false).object(UpdateObject::new(&row).required("ReferenceList", "Device.X_Test.Reading")),
    ));
    let e = error(&fx.call(Set::new(false).object(UpdateObject::new(&row).required("ID", "other"))));
    assert_eq!(e.param_errs[0].err_code, ErrCode::PARAM_READ_ONLY.0, "ID is write-once");
}

#[test]
fn a_deleted_controller_gets_its_last_notification_and_loses_its_subscriptions() {
    let mut fx = Fx::new();
    let two = "proto::two";
    let role = setup::full_access_role(fx.agent.data_model_mut().store_mut()).unwrap();
    setup::add_controller(fx.agent.data_model_mut().store_mut(), two, &[role]).unwrap();
    fx.poll();
    subscribe(&mut fx, Spec::new("ctrls", "ObjectDeletion", "Device.LocalAgent.Controller.*."));
    let own =
        subscribe_as(&mut fx, two, Spec::new("ctrls", "ObjectDeletion", "Device.LocalAgent.Controller.*."));
    let (_, after) =
        fx.call_as(CTRL, Delete::new(false, [r#"Device.LocalAgent.Controller.[EndpointID=="proto::two"]."#]));
    let mut to: Vec<&str> = after.iter().map(|s| s.to.as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, [two, CTRL], "both learn of the deletion, the deleted one included");
    assert!(!fx.exists(&own), "its subscriptions went with it");
}

#[test]
fn a_disabled_controller_gets_the_change_of_its_own_enable_then_nothing() {
    let mut fx = Fx::new();
    let two = "proto::two";
    let role = setup::full_access_role(fx.agent.data_model_mut().store_mut()).unwrap();
    setup::add_controller(fx.agent.data_model_mut().store_mut(), two, &[role]).unwrap();
    fx.poll();
    subscribe_as(
        &mut fx,
        two,
        Spec::new("en", "ValueChange", "Device.LocalAgent.Controller.*.Enable,Device.X_Test.Mode"),
    );
    let after =
        set_value(&mut fx, r#"Device.LocalAgent.Controller.[EndpointID=="proto::two"]."#, "Enable", "false");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].to, two);
    assert_eq!(value_change(&after[0]).2, "false");
    assert!(set_value(&mut fx, "Device.X_Test.", "Mode", "z").is_empty());
}

#[test]
fn disabling_the_subscription_ends_its_retries() {
    let mut fx = Fx::new();
    let row = subscribe(&mut fx, Spec { retry: true, ..Spec::new("r", "ValueChange", "Device.X_Test.Mode") });
    set_value(&mut fx, "Device.X_Test.", "Mode", "a");
    assert_eq!(fx.agent.pending_notifications(), 1);
    set_value(&mut fx, &row, "Enable", "false");
    assert_eq!(fx.agent.pending_notifications(), 0);
    assert!(set_value(&mut fx, "Device.X_Test.", "Mode", "b").is_empty());
}
