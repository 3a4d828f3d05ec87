//! One change, one evaluation per rule: when several of the engine's
//! subscriptions on an Agent select the same parameter, event or object
//! (rules watching the same path, overlapping paths, a condition reading a
//! watched parameter), the Agent sends one Notify per subscription, and
//! each rule must still see the change once.
//!
//! The tests deliver a change the way an Agent does: once on every
//! subscription whose ReferenceList selects it, named by reference.

mod common;

use common::*;
use usp_proto::usp::Notify;
use usp_rules::{
    engine::{Input, NotifType, Output, SubscriptionSpec},
    trace::Verdict,
};

/// The subscriptions the engine asked for on `agent` when it came online.
fn online(h: &mut H, agent: &str) -> Vec<SubscriptionSpec> {
    h.online(agent)
        .into_iter()
        .find_map(|o| match o {
            Output::Subscribe(s) => Some(s.subscriptions),
            _ => None,
        })
        .expect("a Subscribe output")
}

/// The ID of the subscription of `kind` with `reference`.
fn id(subs: &[SubscriptionSpec], kind: NotifType, reference: &str) -> String {
    subs.iter()
        .find(|s| s.notif_type == kind && s.reference == reference)
        .unwrap_or_else(|| panic!("no {kind:?} subscription on {reference}: {subs:#?}"))
        .id
        .clone()
}

fn count(subs: &[SubscriptionSpec], kind: NotifType) -> usize {
    subs.iter().filter(|s| s.notif_type == kind).count()
}

/// A ValueChange delivered on each of `on` (subscription references), in
/// order; returns everything the engine did.
fn change(
    h: &mut H,
    agent: &str,
    subs: &[SubscriptionSpec],
    on: &[&str],
    path: &str,
    value: &str,
) -> Vec<Output> {
    let mut out = Vec::new();
    for r in on {
        out.extend(h.vc_sub(agent, &id(subs, NotifType::ValueChange, r), path, value));
    }
    out
}

fn evaluations(h: &H, rule: &str) -> u64 {
    h.explain(rule).counts.evaluations
}

const ROOM: &str = "proto::room-101";

/// The two rules of `deploy/rules/` that watch the presence sensor: one
/// by its name (a search expression), one by its instance number.
const PRESENCE_PAIR: &str = r#"
[rule.light-follows-presence]
when = { value_change = 'Device.Node.1.IoTCapability.[Name=="r{room}-presence"].BinarySensor.Value', agents = "proto::room-{room}" }
if = "value == true"
[[rule.light-follows-presence.then]]
set = 'Device.Node.2.IoTCapability.[Name=="r{room}-light-sw"].BinaryControl.Value'
value = true
[[rule.light-follows-presence.else]]
set = 'Device.Node.2.IoTCapability.[Name=="r{room}-light-sw"].BinaryControl.Value'
value = false

[rule.after-hours-presence]
when = { value_change = "Device.Node.1.IoTCapability.2.BinarySensor.Value", agents = "proto::room-{room}" }
if = "value == true"
[[rule.after-hours-presence.then]]
publish = "after-hours-presence"
fields = { room = "{room}", previous = "{previous}" }
"#;

const BY_NAME: &str = r#"Device.Node.1.IoTCapability.[Name=="r101-presence"].BinarySensor.Value"#;
const BY_NUMBER: &str = "Device.Node.1.IoTCapability.2.BinarySensor.Value";

#[test]
fn a_change_on_two_subscriptions_is_evaluated_once_per_rule() {
    let mut h = H::new(PRESENCE_PAIR);
    let subs = online(&mut h, ROOM);
    assert_eq!(count(&subs, NotifType::ValueChange), 2, "{subs:#?}");
    // The priming Get told the engine the capability names.
    h.input(Input::Values {
        agent: ROOM.into(),
        resp: get_resp(&[
            ("Device.Node.1.IoTCapability.2.", "Name", "r101-presence"),
            ("Device.Node.1.IoTCapability.2.", "BinarySensor.Value", "false"),
            ("Device.Node.2.IoTCapability.1.", "Name", "r101-light-sw"),
        ]),
    });
    // Both subscriptions select IoTCapability.2's Value: the Agent sends
    // two Notifies for one change.
    let out = change(&mut h, ROOM, &subs, &[BY_NAME, BY_NUMBER], BY_NUMBER, "true");
    assert_eq!(sets(&out).len(), 1, "the light is switched once: {:?}", sets(&out));
    assert_eq!(publishes(&out).len(), 1, "security is told once");
    assert_eq!((evaluations(&h, "light-follows-presence"), evaluations(&h, "after-hours-presence")), (1, 1));
    // The other order, and the way back.
    let out = change(&mut h, ROOM, &subs, &[BY_NUMBER, BY_NAME], BY_NUMBER, "false");
    assert_eq!(sets(&out).len(), 1, "the light is switched off once: {:?}", sets(&out));
    assert_eq!((evaluations(&h, "light-follows-presence"), evaluations(&h, "after-hours-presence")), (2, 2));
    assert_eq!(h.engine.stats().evaluations, 4);
}

#[test]
fn previous_is_the_value_before_the_change_whichever_subscription_came_first() {
    let mut h = H::new(PRESENCE_PAIR);
    let subs = online(&mut h, ROOM);
    h.input(Input::Values {
        agent: ROOM.into(),
        resp: get_resp(&[("Device.Node.1.IoTCapability.2.", "Name", "r101-presence")]),
    });
    change(&mut h, ROOM, &subs, &[BY_NUMBER, BY_NAME], BY_NUMBER, "false");
    // The search-expression subscription delivers first: it updates the
    // cache, and after-hours-presence, triggered by the second delivery,
    // must still see the value before the change.
    let out = change(&mut h, ROOM, &subs, &[BY_NAME, BY_NUMBER], BY_NUMBER, "true");
    let p = publishes(&out);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].fields["previous"], "false");
}

const SAME_PATH: &str = r#"
[rule.a]
when = { value_change = "Device.Node.1.IoTCapability.2.BinarySensor.Value" }
[[rule.a.then]]
publish = "a"

[rule.b]
when = { value_change = "Device.Node.1.IoTCapability.2.BinarySensor.Value" }
[[rule.b.then]]
publish = "b"
"#;

#[test]
fn rules_watching_the_same_path_share_one_subscription_that_outlives_either() {
    let mut h = H::new(SAME_PATH);
    let subs = online(&mut h, ROOM);
    assert_eq!(count(&subs, NotifType::ValueChange), 1, "one subscription for both rules: {subs:#?}");
    let out = change(&mut h, ROOM, &subs, &[BY_NUMBER], BY_NUMBER, "true");
    assert_eq!(published_names(&out), vec!["a", "b"]);
    // A reload without `a`: the shared subscription stays (same ID, so a
    // sync keeps the row), and `b` still fires from it, once.
    let only_b = SAME_PATH.split("[rule.b]").nth(1).map(|b| format!("[rule.b]{b}")).unwrap();
    let out = h.engine.reload(rules(&only_b), at(h.now));
    assert!(!out.iter().any(|o| matches!(o, Output::Subscribe(_))), "nothing to change on the Agent");
    let (after, _) = h.engine.subscriptions_for(ROOM);
    assert_eq!(after, subs);
    let out = change(&mut h, ROOM, &after, &[BY_NUMBER], BY_NUMBER, "false");
    assert_eq!(published_names(&out), vec!["b"]);
}

#[test]
fn wildcard_and_instance_triggers_and_condition_reads_fire_once() {
    let mut h = H::new(
        r#"
[rule.any]
when = { value_change = "Device.Node.*.Value" }
[[rule.any.then]]
publish = "any"
fields = { previous = "{previous}" }

[rule.one]
when = { value_change = "Device.Node.1.Value" }
[[rule.one.then]]
publish = "one"

[rule.reads]
when = { value_change = "Device.Other" }
if = "Device.Node.1.Value == 5"
[[rule.reads.then]]
publish = "reads"
"#,
    );
    let subs = online(&mut h, ROOM);
    assert_eq!(count(&subs, NotifType::ValueChange), 3, "{subs:#?}");
    // The condition's read is its own subscription (`rules(...)` primes
    // it); delivered first, it only updates the cache.
    h.vc_sub(ROOM, &id(&subs, NotifType::ValueChange, "Device.Node.1.Value"), "Device.Node.1.Value", "4");
    let out = change(
        &mut h,
        ROOM,
        &subs,
        &["Device.Node.1.Value", "Device.Node.*.Value"],
        "Device.Node.1.Value",
        "5",
    );
    let mut names = published_names(&out);
    names.sort();
    assert_eq!(names, vec!["any", "one"]);
    assert_eq!(publishes(&out).iter().find(|p| p.name == "any").unwrap().fields["previous"], "4");
    // Instance 2 is only `any`'s.
    change(&mut h, ROOM, &subs, &["Device.Node.*.Value"], "Device.Node.2.Value", "0");
    let out = change(&mut h, ROOM, &subs, &["Device.Node.*.Value"], "Device.Node.2.Value", "1");
    assert_eq!(published_names(&out), vec!["any"]);
    let out = change(&mut h, ROOM, &subs, &["Device.Other"], "Device.Other", "x");
    assert_eq!(published_names(&out), vec!["reads"]);
}

#[test]
fn events_on_overlapping_subscriptions_fire_once() {
    let mut h = H::new(
        r#"
[rule.any-threshold]
when = { event = "Device.LocalAgent.Threshold.*.Triggered!" }
[[rule.any-threshold.then]]
publish = "any"

[rule.first-threshold]
when = { event = "Device.LocalAgent.Threshold.1.Triggered!" }
[[rule.first-threshold.then]]
publish = "first"

[rule.boot]
when = { event = "Device.Boot!" }
[[rule.boot.then]]
publish = "boot"
"#,
    );
    let subs = online(&mut h, ROOM);
    // The rule on Device.Boot! shares the engine's own Boot! subscription.
    assert_eq!(count(&subs, NotifType::Event), 3, "{subs:#?}");
    let mut out = Vec::new();
    for r in ["Device.LocalAgent.Threshold.*.Triggered!", "Device.LocalAgent.Threshold.1.Triggered!"] {
        let n = Notify::event(
            id(&subs, NotifType::Event, r),
            false,
            "Device.LocalAgent.Threshold.1.",
            "Triggered!",
            [("ParamPath", "Device.X")],
        );
        out.extend(h.notify(ROOM, n));
    }
    let mut names = published_names(&out);
    names.sort();
    assert_eq!(names, vec!["any", "first"]);
    let boot = Notify::event(
        id(&subs, NotifType::Event, "Device.Boot!"),
        false,
        "Device.",
        "Boot!",
        [("Cause", "LocalReboot")],
    );
    let out = h.notify(ROOM, boot);
    assert_eq!(published_names(&out), vec!["boot"]);
    assert_eq!(out.iter().filter(|o| matches!(o, Output::Subscribe(_))).count(), 1, "subscriptions repaired");
}

#[test]
fn object_creation_and_deletion_on_overlapping_subscriptions_fire_once() {
    let mut h = H::new(
        r#"
[rule.any-gone]
when = { object_deleted = "Device.ProxiedDevice.*." }
[[rule.any-gone.then]]
publish = "any-gone"

[rule.second-gone]
when = { object_deleted = "Device.ProxiedDevice.2." }
[[rule.second-gone.then]]
publish = "second-gone"

[rule.any-new]
when = { object_created = "Device.ProxiedDevice." }
[[rule.any-new.then]]
publish = "any-new"

[rule.hall-new]
when = { object_created = 'Device.ProxiedDevice.[Alias=="hall"].' }
[[rule.hall-new.then]]
publish = "hall-new"
"#,
    );
    let subs = online(&mut h, ROOM);
    // Creation is always watched on the table: one subscription for both.
    assert_eq!(count(&subs, NotifType::ObjectCreation), 1, "{subs:#?}");
    assert_eq!(count(&subs, NotifType::ObjectDeletion), 2, "{subs:#?}");
    let created = id(&subs, NotifType::ObjectCreation, "Device.ProxiedDevice.");
    let out = h.notify(
        ROOM,
        Notify::object_creation(&created, false, "Device.ProxiedDevice.2.", [("Alias", "hall")]),
    );
    let mut names = published_names(&out);
    names.sort();
    assert_eq!(names, vec!["any-new", "hall-new"]);
    // The table subscription does not filter by Alias: the engine does,
    // from the unique keys the notification carries.
    let out = h.notify(
        ROOM,
        Notify::object_creation(&created, false, "Device.ProxiedDevice.3.", [("Alias", "lobby")]),
    );
    assert_eq!(published_names(&out), vec!["any-new"]);
    let mut out = Vec::new();
    for r in ["Device.ProxiedDevice.*.", "Device.ProxiedDevice.2."] {
        let n = Notify::object_deletion(
            id(&subs, NotifType::ObjectDeletion, r),
            false,
            "Device.ProxiedDevice.2.",
        );
        out.extend(h.notify(ROOM, n));
    }
    let mut names = published_names(&out);
    names.sort();
    assert_eq!(names, vec!["any-gone", "second-gone"]);
}

#[test]
fn an_operation_complete_on_two_subscriptions_completes_its_step_once() {
    let mut h = H::new(
        r#"
[rule.reboot-one]
when = { value_change = "Device.A" }
[[rule.reboot-one.then]]
operate = "Device.Node.1.Reboot()"

[rule.reboot-any]
when = { value_change = "Device.B" }
[[rule.reboot-any.then]]
operate = "Device.Node.*.Reboot()"
"#,
    );
    let subs = online(&mut h, ROOM);
    assert_eq!(count(&subs, NotifType::OperationComplete), 2, "{subs:#?}");
    let out = change(&mut h, ROOM, &subs, &["Device.A"], "Device.A", "1");
    let (_, command, key, _) = operates(&out).pop().expect("an Operate");
    assert_eq!(command, "Device.Node.1.Reboot()");
    h.ack_all(&out);
    for r in ["Device.Node.1.Reboot()", "Device.Node.*.Reboot()"] {
        let n = Notify::operation_complete(
            id(&subs, NotifType::OperationComplete, r),
            false,
            "Device.Node.1.",
            "Reboot()",
            &key,
            [("Result", "ok")],
        );
        h.notify(ROOM, n);
    }
    let done = h
        .explain("reboot-one")
        .recent
        .iter()
        .filter(|e| matches!(e.verdict, Verdict::OperationDone { .. }))
        .count();
    assert_eq!(done, 1);
    assert_eq!(h.explain("reboot-one").counts.failed, 0);
}

#[test]
fn subscriptions_the_engine_did_not_make_match_by_path_and_its_stale_ones_do_not_trigger() {
    let mut h = H::new(SAME_PATH);
    online(&mut h, ROOM);
    // A subscription someone else made for the engine (an operator, an
    // older tool): the engine cannot know what it was for, so it matches
    // the change against every trigger.
    assert_eq!(published_names(&h.vc_sub(ROOM, "manual-1", BY_NUMBER, "true")), vec!["a", "b"]);
    // One of the engine's own that no rule needs any more (a reload
    // dropped it, the sync has not removed it yet): the value is cached,
    // nothing fires.
    let stale = h.vc_sub(ROOM, "uspmesh-rules-vc-0000000000000000", BY_NUMBER, "false");
    assert!(publishes(&stale).is_empty());
    assert_eq!(h.explain("a").counts.evaluations, 1);
}
