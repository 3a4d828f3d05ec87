//! Export and restore of persistent subscriptions across a restart.

use usp_endpoint::agent::{Agent, PersistentState, clock};
use usp_proto::{
    Msg, Record,
    usp::{Add, Get, Set, add::CreateObject, notify::Notification, set::UpdateObject},
};

use super::fixture::*;

fn subscribe(fx: &mut Fx, id: &str, persistent: bool, ttl: u32) {
    let add = Add::new(false).object(
        CreateObject::new("Device.LocalAgent.Subscription.")
            .required("Enable", "true")
            .required("ID", id)
            .required("NotifType", "ValueChange")
            .required("ReferenceList", "Device.X_Test.Mode")
            .param("Persistent", persistent.to_string())
            .param("TimeToLive", ttl.to_string()),
    );
    add_resp(&fx.call(add));
}

fn restart(state: PersistentState, trusted: bool, secs: u32) -> Agent {
    let log = Log::default();
    let builder = Agent::builder(AGENT, room(&log)).restore(state);
    let builder = if trusted { builder.full_access(CTRL) } else { builder };
    builder.build(clock::after_secs(t0(), secs)).unwrap()
}

fn ids(agent: &mut Agent, now_secs: u32) -> Vec<(String, String)> {
    let get = Msg::request("g", Get::new(["Device.LocalAgent.Subscription.*.ID"]));
    let out = agent.handle(
        Record::no_session_context_msg(AGENT, CTRL, &get).encode_to_bytes(),
        clock::after_secs(t0(), now_secs),
    );
    let sent = decode(out);
    resolved(&get_resp(&sent[0].msg), 0).into_iter().map(|(p, v)| (p, v["ID"].clone())).collect()
}

#[test]
fn only_persistent_rows_are_exported() {
    let mut fx = Fx::new();
    subscribe(&mut fx, "keep", true, 0);
    subscribe(&mut fx, "drop", false, 0);
    subscribe(&mut fx, "brief", true, 100);
    let state = fx.agent.export_persistent();
    let rows: Vec<(u32, &str)> =
        state.subscriptions.iter().map(|r| (r.number, r.recipient.as_str())).collect();
    assert_eq!(rows, [(1, CTRL), (3, CTRL)]);
    let keep = &state.subscriptions[0].params;
    assert!(keep.contains(&("ID".to_owned(), "keep".to_owned())));
    assert!(keep.contains(&("CreationDate".to_owned(), "2023-11-14T22:13:20Z".to_owned())));
    assert!(!keep.iter().any(|(k, _)| k == "Recipient"), "named by Endpoint ID instead");
}

#[test]
fn restored_rows_keep_their_numbers_and_notify() {
    let mut fx = Fx::new();
    subscribe(&mut fx, "keep", true, 0);
    subscribe(&mut fx, "drop", false, 0);
    subscribe(&mut fx, "brief", true, 100);
    let state = fx.agent.export_persistent();

    let mut agent = restart(state.clone(), true, 50);
    assert_eq!(
        ids(&mut agent, 50),
        [
            ("Device.LocalAgent.Subscription.1.".to_owned(), "keep".to_owned()),
            ("Device.LocalAgent.Subscription.3.".to_owned(), "brief".to_owned()),
        ]
    );
    let set =
        Msg::request("s", Set::new(false).object(UpdateObject::new("Device.X_Test.").required("Mode", "x")));
    let out = agent.handle(
        Record::no_session_context_msg(AGENT, CTRL, &set).encode_to_bytes(),
        clock::after_secs(t0(), 51),
    );
    let sent = decode(out);
    let notified: Vec<String> = sent[1..].iter().map(|s| notify(s).subscription_id).collect();
    assert_eq!(notified, ["keep", "brief"]);
    assert!(matches!(notify(&sent[1]).notification, Some(Notification::ValueChange(_))));
    // The expiry of the restored row is still CreationDate + TimeToLive.
    assert_eq!(agent.next_deadline(), Some(clock::after_secs(t0(), 100)));

    // Restarted after the TimeToLive: that row is not restored.
    let mut agent = restart(state.clone(), true, 200);
    assert_eq!(ids(&mut agent, 200).len(), 1);
    // A Recipient the new Agent does not know: nothing restored.
    let agent = restart(state, false, 10);
    assert!(agent.export_persistent().subscriptions.is_empty());
}
