//! The rules runtime with a real Agent (the IoT room of `support/sim_agent.rs`)
//! on an in-process link: subscriptions put in place, repaired and cleaned
//! up; notifications firing Sets and Operates on the Agent; for-duration on
//! a manual clock across a restart; reloads good and bad; loop stops;
//! presence; events upstream. Every step awaits an event; no sleeps.
//! (Through the broker, with several Agents: the root package's
//! `tests/rules_e2e.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/sim_agent.rs"]
mod sim;

use std::{
    future::Future,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use sim::*;
use tokio::sync::{broadcast, mpsc};
use usp_endpoint::{
    agent::{Agent, runtime as agent_runtime},
    datamodel::ReportQueue,
    mtp::link::pair,
};
use usp_rules::{
    EngineConfig, Source, TimeZone,
    engine::{StopReason, UpstreamEvent},
    runtime::{AgentPresence, Clock, ManualClock, RulesHandle, RulesRuntime, RuntimeConfig, RuntimeEvent},
    trace::Verdict,
};

const ROOM: &str = "proto::room-101";

async fn bounded<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), test).await.expect("test did not finish in time")
}

fn rules(text: &str) -> usp_rules::RuleSet {
    usp_rules::load(&[Source::new("test.toml", text)]).unwrap_or_else(|e| panic!("{e}"))
}

fn config(clock: Clock) -> RuntimeConfig {
    RuntimeConfig {
        engine: EngineConfig { timezone: TimeZone::UTC, ..EngineConfig::default() },
        clock,
        trace_events: true,
        ..RuntimeConfig::new(RULES)
    }
}

/// The first event `f` picks.
async fn until<T>(
    events: &mut broadcast::Receiver<RuntimeEvent>,
    mut f: impl FnMut(&RuntimeEvent) -> Option<T>,
) -> T {
    loop {
        match events.recv().await {
            Ok(e) => {
                if std::env::var_os("SHOW_EVENTS").is_some() {
                    eprintln!("event: {e:?}");
                }
                if let Some(t) = f(&e) {
                    return t;
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => panic!("the runtime stopped"),
        }
    }
}

async fn synced(events: &mut broadcast::Receiver<RuntimeEvent>) -> usp_rules::runtime::SyncReport {
    until(events, |e| match e {
        RuntimeEvent::Synced { agent, report } if &**agent == ROOM => Some(report.clone()),
        RuntimeEvent::SyncFailed { error, .. } => panic!("sync failed: {error}"),
        _ => None,
    })
    .await
}

async fn verdict(
    events: &mut broadcast::Receiver<RuntimeEvent>,
    rule: &str,
    want: impl Fn(&Verdict) -> bool,
) -> Verdict {
    until(events, |e| match e {
        RuntimeEvent::Evaluated { rule: r, entry } if &**r == rule && want(&entry.verdict) => {
            Some(entry.verdict.clone())
        }
        _ => None,
    })
    .await
}

/// The runtime and the room Agent joined by an in-process link.
struct Rig {
    runtime: RulesRuntime,
    api: RulesHandle,
    events: broadcast::Receiver<RuntimeEvent>,
    agent: agent_runtime::AgentHandle,
    reports: ReportQueue,
    touches: mpsc::UnboundedReceiver<(Touch, std::time::Instant)>,
}

fn start_with(
    config: RuntimeConfig,
    set: usp_rules::RuleSet,
    agent: Agent,
) -> (RulesRuntime, agent_runtime::AgentHandle) {
    let (rules_end, agent_end) = pair(256);
    let runtime = RulesRuntime::start(config, set, rules_end).unwrap();
    (runtime, agent_runtime::spawn(agent, agent_end))
}

async fn rig(config: RuntimeConfig, text: &str, temperature: &str) -> Rig {
    let (agent, reports, touches) = room_agent(ROOM, temperature);
    let (runtime, agent) = start_with(config, rules(text), agent);
    let api = runtime.handle();
    let events = api.events();
    api.presence(AgentPresence::Online(ROOM.into())).await.unwrap();
    Rig { runtime, api, events, agent, reports, touches }
}

const LIGHT_ON_PRESENCE: &str = r#"
[rule.light]
when = { value_change = "Device.IoTCapability.1.BinarySensor.Value" }
if = "value == true"
[[rule.light.then]]
set = "Device.IoTCapability.3.BinaryControl.Value"
value = true
[[rule.light.then]]
operate = "Device.IoTCapability.4.LevelControl.StepUp()"
"#;

#[tokio::test]
async fn subscriptions_are_created_reused_replaced_and_removed() {
    bounded(async {
        let mut r = rig(config(Clock::system()), LIGHT_ON_PRESENCE, "21").await;
        let first = synced(&mut r.events).await;
        // ValueChange on the sensor, OperationComplete on the command it
        // runs, Device.Boot! to notice restarts.
        assert_eq!((first.created, first.kept, first.removed, first.failed.len()), (3, 0, 0, 0), "{first:?}");
        let ids = subscription_ids(&r.agent).await;
        assert_eq!(ids.len(), 3);
        assert!(ids.iter().all(|id| id.starts_with("uspmesh-rules-")), "{ids:?}");

        // The same set again (the Agent reconnected): everything is reused.
        r.api.presence(AgentPresence::Online(ROOM.into())).await.unwrap();
        let again = synced(&mut r.events).await;
        assert_eq!((again.created, again.kept, again.removed), (0, 3, 0), "{again:?}");

        // A reload that watches another parameter: the old ValueChange and
        // OperationComplete rows go, one new one comes, Boot! stays.
        let n = r
            .api
            .reload_sources(
                vec![Source::new(
                    "test.toml",
                    r#"
                    [rule.warm]
                    when = { value_change = "Device.IoTCapability.2.LevelSensor.Value" }
                    if = "value > 26"
                    [[rule.warm.then]]
                    set = "Device.IoTCapability.3.BinaryControl.Value"
                    value = true
                    "#,
                )],
                Vec::new(),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 1);
        let reloaded = synced(&mut r.events).await;
        assert_eq!((reloaded.created, reloaded.kept, reloaded.removed), (1, 1, 2), "{reloaded:?}");
        let after = subscription_ids(&r.agent).await;
        assert_eq!(after.len(), 2);
        assert_eq!(after.iter().filter(|id| ids.contains(id)).count(), 1, "only Boot! is the same row");
        r.runtime.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_notification_sets_and_operates_on_the_agent_and_the_command_is_followed() {
    bounded(async {
        let mut r = rig(config(Clock::system()), LIGHT_ON_PRESENCE, "21").await;
        synced(&mut r.events).await;
        reading(&r.reports, OCCUPANCY, "true");
        let (first, _) = next_touch(&mut r.touches).await;
        assert_eq!(first, Touch::Set { path: LIGHT.into(), value: "true".into() });
        let (second, _) = next_touch(&mut r.touches).await;
        assert_eq!(second, Touch::Operate { command: DIMMER_UP.into() });
        // StepUp is asynchronous: the engine follows it to its
        // OperationComplete, which came through the subscription it made.
        verdict(&mut r.events, "light", |v| matches!(v, Verdict::OperationDone { step: 2 })).await;
        let status = r.api.status().await.unwrap();
        assert_eq!(status.counters.request_errors, 0);
        assert_eq!(status.engine.fired, 1);
        assert!(status.counters.notifications >= 1);
        r.runtime.shutdown().await.unwrap();
    })
    .await;
}

const TOO_WARM: &str = r#"
[rule.too-warm]
when = { value_change = "Device.IoTCapability.2.LevelSensor.Value" }
hysteresis = { on_above = 26, off_below = 25 }
for = "10m"
[[rule.too-warm.then]]
operate = "Device.IoTCapability.3.BinaryControl.Toggle()"
"#;

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_704_067_200)
}

#[tokio::test]
async fn hysteresis_and_for_duration_run_on_a_manual_clock() {
    bounded(async {
        let (clock, hand) = Clock::manual(t0());
        let mut r = rig(config(clock), TOO_WARM, "21").await;
        synced(&mut r.events).await;
        reading(&r.reports, TEMPERATURE, "27");
        let armed = verdict(&mut r.events, "too-warm", |v| matches!(v, Verdict::Armed { .. })).await;
        assert_eq!(armed, Verdict::Armed { until: t0() + Duration::from_secs(600) });
        // Inside the band the latch holds: the timer keeps running.
        reading(&r.reports, TEMPERATURE, "25.5");
        verdict(&mut r.events, "too-warm", |v| matches!(v, Verdict::StillArmed { .. })).await;
        hand.advance(Duration::from_secs(599));
        hand.advance(Duration::from_secs(1));
        let (touch, _) = next_touch(&mut r.touches).await;
        assert_eq!(touch, Touch::Operate { command: LIGHT_TOGGLE.into() });
        // Below the band it switches off; a new rise starts a new wait.
        reading(&r.reports, TEMPERATURE, "24");
        verdict(&mut r.events, "too-warm", |v| matches!(v, Verdict::Cleared | Verdict::NotHeld)).await;
        reading(&r.reports, TEMPERATURE, "26.5");
        let armed = verdict(&mut r.events, "too-warm", |v| matches!(v, Verdict::Armed { .. })).await;
        assert_eq!(armed, Verdict::Armed { until: t0() + Duration::from_secs(1200) });
        r.runtime.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_restart_in_the_middle_of_a_for_duration_keeps_its_deadline() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let (clock, hand) = Clock::manual(t0());
        let with_store =
            || RuntimeConfig { store: Some(dir.path().join("rules.redb")), ..config(clock.clone()) };
        let mut r = rig(with_store(), TOO_WARM, "21").await;
        synced(&mut r.events).await;
        reading(&r.reports, TEMPERATURE, "27");
        verdict(&mut r.events, "too-warm", |v| matches!(v, Verdict::Armed { .. })).await;
        hand.advance(Duration::from_secs(300));
        r.runtime.shutdown().await.unwrap();
        // The Agent keeps running on a new link (as after a reconnect).
        let agent = r.agent.shutdown().await.unwrap();
        let (runtime, agent) = start_with(with_store(), rules(TOO_WARM), agent);
        let api = runtime.handle();
        let status = api.status().await.unwrap();
        assert_eq!(status.next_deadline, Some(t0() + Duration::from_secs(600)), "the deadline came back");
        let mut events = api.events();
        api.presence(AgentPresence::Online(ROOM.into())).await.unwrap();
        synced(&mut events).await;
        hand.advance(Duration::from_secs(300));
        let (touch, _) = next_touch(&mut r.touches).await;
        assert_eq!(touch, Touch::Operate { command: LIGHT_TOGGLE.into() });
        let text = api.explain_text("too-warm").await.unwrap().unwrap();
        assert!(text.contains("FIRED"), "{text}");
        runtime.shutdown().await.unwrap();
        drop(agent);
    })
    .await;
}

#[tokio::test]
async fn a_bad_reload_is_refused_with_its_position_and_the_old_rules_keep_running() {
    bounded(async {
        let mut r = rig(config(Clock::system()), LIGHT_ON_PRESENCE, "21").await;
        synced(&mut r.events).await;
        let refused = r
            .api
            .reload_sources(
                vec![Source::new(
                    "rooms.toml",
                    "[rule.x]\nwhen = { value_change = \"Device.Node.01.Value\" }\n",
                )],
                Vec::new(),
            )
            .await
            .unwrap()
            .unwrap_err();
        assert!(refused.to_string().starts_with("rooms.toml:2:38: bad path"), "{refused}");
        reading(&r.reports, OCCUPANCY, "true");
        let (touch, _) = next_touch(&mut r.touches).await;
        assert_eq!(touch, Touch::Set { path: LIGHT.into(), value: "true".into() });
        assert_eq!(r.api.status().await.unwrap().rules.len(), 1);
        r.runtime.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_rule_that_retriggers_itself_is_stopped_and_reported() {
    bounded(async {
        let mut r = rig(
            config(Clock::system()),
            r#"
            [rule.flip]
            when = { value_change = "Device.IoTCapability.3.BinaryControl.Value" }
            [[rule.flip.then]]
            operate = "Device.IoTCapability.3.BinaryControl.Toggle()"
            "#,
            "21",
        )
        .await;
        synced(&mut r.events).await;
        r.agent
            .call(|a| {
                let Ok(usp_endpoint::datamodel::Target::Param(p)) = a.data_model().lookup(LIGHT) else {
                    panic!()
                };
                a.data_model_mut()
                    .store_mut()
                    .set(&p, usp_endpoint::datamodel::Value::Boolean(true))
                    .unwrap();
            })
            .await
            .unwrap();
        let reason = until(&mut r.events, |e| match e {
            RuntimeEvent::RuleStopped { rule, reason } if &**rule == "flip" => Some(reason.clone()),
            _ => None,
        })
        .await;
        assert!(matches!(reason, StopReason::Loop { .. }), "{reason:?}");
        let status = r.api.status().await.unwrap();
        assert!(status.rules.iter().any(|s| &*s.name == "flip" && s.stopped));
        assert!(r.api.restart_rule("flip").await.unwrap());
        r.runtime.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_reboot_or_a_lost_subscription_table_is_repaired() {
    bounded(async {
        let mut r = rig(config(Clock::system()), LIGHT_ON_PRESENCE, "21").await;
        synced(&mut r.events).await;
        // The Agent lost a row (restarted from an older copy of its
        // flash) and says it restarted with Device.Boot!.
        let ids = subscription_ids(&r.agent).await;
        r.agent
            .call(|a| {
                let store = a.data_model_mut().store_mut();
                let schema = store.schema().clone();
                let Some(usp_endpoint::datamodel::SchemaNode::Object(table)) =
                    schema.lookup("Device.LocalAgent.Subscription.")
                else {
                    panic!()
                };
                let id = schema.param_named(table, "ID").unwrap();
                let row = store
                    .instances_of(table)
                    .into_iter()
                    .find(|row| store.get(&row.param(id)).is_some_and(|v| v.to_string().contains("-vc-")))
                    .unwrap();
                store.delete(&row).unwrap();
            })
            .await
            .unwrap();
        assert_eq!(subscription_ids(&r.agent).await.len(), 2);
        boot(&r.agent, "LocalReboot").await;
        let repaired = synced(&mut r.events).await;
        assert_eq!((repaired.created, repaired.kept), (1, 2), "{repaired:?}");
        assert_eq!(subscription_ids(&r.agent).await, ids);
        r.runtime.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn presence_fires_status_triggers_and_events_go_upstream() {
    bounded(async {
        let (tx, mut upstream) = mpsc::channel::<UpstreamEvent>(16);
        let mut r = rig(
            RuntimeConfig { upstream: Some(tx), ..config(Clock::system()) },
            r#"
            [rule.gone]
            when = { agent_status = "offline", agents = "proto::room-{room}" }
            [[rule.gone.then]]
            publish = "room-offline"
            fields = { room = "{room}" }
            "#,
            "21",
        )
        .await;
        synced(&mut r.events).await;
        r.api.presence(AgentPresence::Offline(ROOM.into())).await.unwrap();
        let event = upstream.recv().await.unwrap();
        assert_eq!((event.name.as_str(), &*event.rule), ("room-offline", "gone"));
        assert_eq!(event.fields.get("room").map(String::as_str), Some("101"));
        assert_eq!(r.api.status().await.unwrap().counters.upstream_sent, 1);
        r.runtime.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn manual_clock_handle_is_shared() {
    let (clock, hand): (Clock, ManualClock) = Clock::manual(t0());
    hand.advance(Duration::from_secs(1));
    assert_eq!(clock.now(), t0() + Duration::from_secs(1));
}

#[tokio::test]
async fn two_rules_on_one_sensor_are_evaluated_once_each_per_change() {
    bounded(async {
        // One rule names the sensor by its Name (a search expression), one
        // by its instance number: two subscriptions select the same
        // parameter, and the Agent sends a Notify on each.
        let mut r = rig(
            config(Clock::system()),
            r#"
            [rule.by-name]
            when = { value_change = 'Device.IoTCapability.[Name=="occupancy"].BinarySensor.Value' }
            [[rule.by-name.then]]
            set = "Device.IoTCapability.3.BinaryControl.Value"
            value = true

            [rule.by-number]
            when = { value_change = "Device.IoTCapability.1.BinarySensor.Value" }
            [[rule.by-number.then]]
            publish = "occupied"

            [rule.window]
            when = { value_change = "Device.IoTCapability.6.BinarySensor.Value" }
            [[rule.window.then]]
            publish = "window"
            "#,
            "21",
        )
        .await;
        synced(&mut r.events).await;
        reading(&r.reports, OCCUPANCY, "true");
        // The window's change travels behind the sensor's: once it is
        // evaluated, every Notify of the sensor's change has been handled.
        reading(&r.reports, WINDOW, "true");
        verdict(&mut r.events, "window", |v| matches!(v, Verdict::Fired)).await;
        let status = r.api.status().await.unwrap();
        assert_eq!(status.counters.notifications, 3, "two Notifies for the sensor, one for the window");
        assert_eq!(status.engine.evaluations, 3, "one evaluation per rule");
        assert_eq!(status.engine.fired, 3);
        let (touch, _) = next_touch(&mut r.touches).await;
        assert_eq!(touch, Touch::Set { path: LIGHT.into(), value: "true".into() });
        r.runtime.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_subscription_two_rules_share_survives_a_reload_that_drops_one() {
    bounded(async {
        let both = r#"
            [rule.light]
            when = { value_change = "Device.IoTCapability.1.BinarySensor.Value" }
            [[rule.light.then]]
            set = "Device.IoTCapability.3.BinaryControl.Value"
            value = true

            [rule.occupied]
            when = { value_change = "Device.IoTCapability.1.BinarySensor.Value" }
            [[rule.occupied.then]]
            set = "Device.IoTCapability.5.EnumControl.Value"
            value = "Eco"
            "#;
        let mut r = rig(config(Clock::system()), both, "21").await;
        let first = synced(&mut r.events).await;
        assert_eq!(
            (first.created, first.failed.len()),
            (2, 0),
            "one ValueChange for both, and Boot!: {first:?}"
        );
        let ids = subscription_ids(&r.agent).await;
        let only_occupied =
            both.split("[rule.occupied]").nth(1).map(|b| format!("[rule.occupied]{b}")).unwrap();
        let n = r
            .api
            .reload_sources(vec![Source::new("test.toml", only_occupied)], Vec::new())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 1);
        // A sync now (the Agent reconnected) keeps both rows.
        r.api.presence(AgentPresence::Online(ROOM.into())).await.unwrap();
        let again = synced(&mut r.events).await;
        assert_eq!((again.created, again.kept, again.removed), (0, 2, 0), "{again:?}");
        assert_eq!(subscription_ids(&r.agent).await, ids);
        // The remaining rule fires from it, once; the dropped one is gone.
        reading(&r.reports, OCCUPANCY, "true");
        let (touch, _) = next_touch(&mut r.touches).await;
        assert_eq!(touch, Touch::Set { path: MODE.into(), value: "Eco".into() });
        verdict(&mut r.events, "occupied", |v| matches!(v, Verdict::Fired)).await;
        let status = r.api.status().await.unwrap();
        assert_eq!((status.engine.evaluations, status.engine.fired), (1, 1));
        r.runtime.shutdown().await.unwrap();
    })
    .await;
}
