//! The subscriptions each Agent needs, derived from the rules; priming and
//! repair.

mod common;

use common::*;
use usp_proto::usp::Notify;
use usp_rules::engine::{NotifType, Output, SubscriptionSpec};

fn subscribe(out: &[Output]) -> Vec<SubscriptionSpec> {
    out.iter()
        .find_map(|o| match o {
            Output::Subscribe(s) => Some(s.subscriptions.clone()),
            _ => None,
        })
        .expect("a Subscribe output")
}

fn sorted_refs(subs: &[SubscriptionSpec]) -> Vec<&str> {
    let mut v: Vec<&str> = subs.iter().map(|s| s.reference.as_str()).collect();
    v.sort_unstable();
    v
}

const RULES: &str = r#"
[rule.presence]
when = { value_change = 'Device.Node.{n}.IoTCapability.[Name=="r{room}-presence"].BinarySensor.Value', agents = "proto::room-{room}" }
if = "Device.Node.4.IoTCapability.1.BinarySensor.Value == false"
[[rule.presence.then]]
operate = "Device.Node.2.IoTCapability.1.BinaryControl.Toggle()"

[rule.hvac]
when = { event = "Device.LocalAgent.Threshold.*.Triggered!", agents = "proto::room-{room}", notif_retry = false }
[rule.hvac.values]
mode = { agent = "proto::hvac-{room}", path = "Device.Mode" }

[rule.joined]
when = { object_created = "Device.ProxiedDevice.*.", agents = "proto::gw-*" }
"#;

#[test]
fn an_agent_coming_online_gets_its_subscriptions_and_a_priming_get() {
    let mut h = H::new(RULES);
    let out = h.online("proto::room-101");
    let subs = subscribe(&out);
    let refs: Vec<(NotifType, &str, bool)> =
        subs.iter().map(|s| (s.notif_type, s.reference.as_str(), s.notif_retry)).collect();
    assert_eq!(
        {
            let mut r = refs.clone();
            r.sort();
            r
        },
        vec![
            (
                NotifType::ValueChange,
                r#"Device.Node.*.IoTCapability.[Name=="r101-presence"].BinarySensor.Value"#,
                true
            ),
            (NotifType::ValueChange, "Device.Node.4.IoTCapability.1.BinarySensor.Value", true),
            (NotifType::OperationComplete, "Device.Node.2.IoTCapability.1.BinaryControl.Toggle()", true),
            (NotifType::Event, "Device.Boot!", true),
            (NotifType::Event, "Device.LocalAgent.Threshold.*.Triggered!", false),
        ]
    );
    assert!(subs.iter().all(|s| s.id.starts_with("uspmesh-rules-")));
    // The Add a runtime sends for one of them.
    let add = subs[0].to_endpoint().unwrap().add();
    let add = &add.create_objs[0];
    assert_eq!(add.obj_path, "Device.LocalAgent.Subscription.");
    let p: Vec<_> = add.param_settings.iter().map(|p| (p.param.as_str(), p.required)).collect();
    assert_eq!(
        p,
        vec![
            ("Enable", true),
            ("ID", true),
            ("NotifType", true),
            ("ReferenceList", true),
            ("NotifRetry", false),
            ("Persistent", false)
        ]
    );
    // The priming Get covers the watched values, the search keys and the reads.
    let g = gets(&out);
    assert_eq!(g.len(), 1);
    assert_eq!(
        g[0].1,
        vec![
            "Device.Node.*.IoTCapability.*.Name".to_string(),
            "Device.Node.*.IoTCapability.[Name==\"r101-presence\"].BinarySensor.Value".to_string(),
            "Device.Node.4.IoTCapability.1.BinarySensor.Value".to_string(),
        ]
    );
    // Subscriptions are per Agent: the search constant follows the room.
    let (other, _) = h.engine.subscriptions_for("proto::room-102");
    assert!(other.iter().any(|s| s.reference.contains("r102-presence")));
    // A read aimed at another Agent by name subscribes there.
    let (hvac, prime) = h.engine.subscriptions_for("proto::hvac-7");
    assert_eq!(sorted_refs(&hvac), vec!["Device.Boot!", "Device.Mode"]);
    assert_eq!(prime, vec!["Device.Mode".to_string()]);
    let (gw, _) = h.engine.subscriptions_for("proto::gw-1");
    assert!(
        gw.iter()
            .any(|s| s.notif_type == NotifType::ObjectCreation && s.reference == "Device.ProxiedDevice.")
    );
    // An Agent no rule cares about needs nothing.
    assert!(h.engine.subscriptions_for("proto::nobody").0.is_empty());
}

#[test]
fn a_reboot_repairs_subscriptions_and_a_reload_updates_them() {
    let mut h = H::new(RULES);
    let first = subscribe(&h.online("proto::room-101"));
    let out =
        h.notify("proto::room-101", Notify::event("", false, "Device.", "Boot!", [("Cause", "LocalReboot")]));
    assert_eq!(subscribe(&out), first, "asked again after a reboot");
    assert_eq!(gets(&out).len(), 1, "and the cache is primed again");
    // A reload that does not change this Agent's needs asks nothing of it...
    let same = h.engine.reload(rules(RULES), at(h.now));
    assert!(!same.iter().any(|o| matches!(o, Output::Subscribe(_))));
    // ...one that does, asks for the new set.
    let out = h.engine.reload(
        rules("[rule.x]\nwhen = { value_change = \"Device.Y\", agents = \"proto::room-*\" }\n"),
        at(h.now),
    );
    let subs = subscribe(&out);
    assert_eq!(sorted_refs(&subs), vec!["Device.Boot!", "Device.Y"]);
}
