//! The rules engine in the appliance, end to end: the embedded broker on
//! real TCP, simulated Agents (real `Agent` runtimes with the IoT model,
//! each on its own MQTT client), and the rules runtime on the broker's
//! in-process link through the appliance's own wiring
//! (`uspmesh::wiring::local_link`, `uspmesh::wiring::presence`).
//!
//! Engine time runs on a manual clock, so `for`, hysteresis, delays and
//! schedules are walked through without waiting; every other step awaits
//! its event (an actuator touched, an upstream event, a runtime event).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../rules/tests/support/sim_agent.rs"]
mod sim;

mod rules_site;

use std::time::Duration;

use rules_site::*;
use sim::*;
use usp_rules::{engine::StopReason, runtime::RuntimeEvent, trace::Verdict};

const TRIGGERS: &str = r#"
[rule.motion]
when = { value_change = "Device.IoTCapability.1.BinarySensor.Value", agents = "proto::sensor-{room}" }
[[rule.motion.then]]
publish = "motion {room} {value}"

[rule.remote-reboot]
when = { event = "Device.Boot!", args = { Cause = "RemoteReboot" }, agents = "proto::sensor-*" }
[[rule.remote-reboot.then]]
publish = "rebooted {agent}"

[rule.new-device]
when = { object_created = "Device.Node.", agents = "proto::sensor-*" }
[[rule.new-device.then]]
publish = "added {path}"

[rule.gone-device]
when = { object_deleted = "Device.Node.*.", agents = "proto::sensor-*" }
[[rule.gone-device.then]]
publish = "removed {path}"

[rule.offline]
when = { agent_status = "offline", agents = "proto::sensor-*" }
[[rule.offline.then]]
publish = "offline {agent}"

[rule.quarter-hour]
when = { schedule = "every 15m" }
[[rule.quarter-hour.then]]
publish = "tick"

[rule.after-motion]
when = { signal = "motion" }
[[rule.after-motion.then]]
publish = "signalled {room}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_trigger_kind_reaches_the_engine_through_real_notifications() {
    bounded(async {
        let mut site = Site::start(rules(TRIGGERS), None).await;
        let sensor = site.agent("proto::sensor-7").await;

        reading(&sensor.reports, OCCUPANCY, "true");
        let mut names = vec![published(&mut site).await.name, published(&mut site).await.name];
        names.sort();
        assert_eq!(names, ["motion 7 true", "signalled 7"]);

        // Only the argument value the rule names.
        boot(&sensor.handle, "LocalReboot").await;
        boot(&sensor.handle, "RemoteReboot").await;
        assert_eq!(published(&mut site).await.name, "rebooted proto::sensor-7");

        let n = add_node(&sensor.handle, "lamp").await;
        assert_eq!(published(&mut site).await.name, format!("added Device.Node.{n}."));
        delete_node(&sensor.handle, n).await;
        assert_eq!(published(&mut site).await.name, format!("removed Device.Node.{n}."));

        site.hand.advance(Duration::from_secs(15 * 60));
        assert_eq!(published(&mut site).await.name, "tick");

        sensor.disconnect().await;
        assert_eq!(published(&mut site).await.name, "offline proto::sensor-7");
        site.stop().await;
    })
    .await;
}

const SCENE: &str = r#"
[rule.scene]
when = { value_change = "Device.IoTCapability.1.BinarySensor.Value", agents = "proto::sensor-{room}" }
if = "value == true and level < 50"
[rule.scene.values]
level = { agent = "proto::light-{room}", path = "Device.IoTCapability.4.LevelControl.Value" }

[[rule.scene.then]]
agent = "proto::light-{room}"
set = "Device.IoTCapability.3.BinaryControl.Value"
value = true

[[rule.scene.then]]
agent = "proto::light-{room}"
operate = "Device.IoTCapability.4.LevelControl.StepUp()"
wait = true

[[rule.scene.then]]
agent = "proto::light-{room}"
add = "Device.X_Sim.Note."
params = { Text = "occupied {room}" }

[[rule.scene.then]]
agent = "proto::light-{room}"
delete = "Device.X_Sim.Note.*."

[[rule.scene.then]]
publish = "scene {room}"

[[rule.scene.then]]
delay = "5m"

[[rule.scene.then]]
agent = "proto::light-{room}"
set = "Device.IoTCapability.5.EnumControl.Value"
value = "Eco"

# Only so the test can see when a dimmer level has reached the engine.
[rule.level-seen]
when = { value_change = "Device.IoTCapability.4.LevelControl.Value", agents = "proto::light-*" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditions_and_every_action_kind_arrive_at_the_target_agent() {
    bounded(async {
        let mut site = Site::start(rules(SCENE), None).await;
        let mut light = site.agent("proto::light-3").await;
        let sensor = site.agent("proto::sensor-3").await;

        reading(&sensor.reports, OCCUPANCY, "true");
        assert_eq!(light.touched().await, Touch::Set { path: LIGHT.into(), value: "true".into() });
        assert_eq!(light.touched().await, Touch::Operate { command: DIMMER_UP.into() });
        // The Add waited for StepUp's OperationComplete (wait = true).
        let Touch::Add { row, values } = light.touched().await else { panic!("an Add") };
        assert_eq!(values, [("Text".to_string(), "occupied 3".to_string())]);
        assert_eq!(light.touched().await, Touch::Delete { row });
        assert_eq!(published(&mut site).await.name, "scene 3");
        site.hand.advance(Duration::from_secs(5 * 60));
        assert_eq!(light.touched().await, Touch::Set { path: MODE.into(), value: "Eco".into() });

        // The light's level came into the cache through its subscription:
        // bright enough now, so the condition fails.
        reading(&light.reports, DIMMER, "60");
        until(&mut site.events, |e| match e {
            RuntimeEvent::Evaluated { rule, entry } if &**rule == "level-seen" => {
                (entry.value.as_deref() == Some("60")).then_some(())
            }
            _ => None,
        })
        .await;
        reading(&sensor.reports, OCCUPANCY, "false");
        verdict(&mut site.events, "scene", |v| *v == Verdict::NotHeld).await;
        reading(&sensor.reports, OCCUPANCY, "true");
        until(&mut site.events, |e| match e {
            RuntimeEvent::Evaluated { rule, entry }
                if &**rule == "scene" && entry.value.as_deref() == Some("true") =>
            {
                Some(())
            }
            _ => None,
        })
        .await;
        let e = site.api.explain("scene").await.unwrap().unwrap();
        let last = &e.recent[0];
        assert_eq!(last.verdict, Verdict::NotHeld);
        assert!(last.checks.iter().any(|c| c.text.contains("level < 50") && !c.held), "{:?}", last.checks);
        site.stop().await;
    })
    .await;
}

const TOO_WARM: &str = r#"
[rule.too-warm]
when = { value_change = "Device.IoTCapability.2.LevelSensor.Value", agents = "proto::sensor-{room}" }
hysteresis = { on_above = 26, off_below = 25 }
for = "10m"
[[rule.too-warm.then]]
agent = "proto::light-{room}"
operate = "Device.IoTCapability.3.BinaryControl.Toggle()"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn for_duration_and_hysteresis_and_a_restart_that_keeps_the_deadline() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let mut site = Site::start(rules(TOO_WARM), Some(dir.path().join("rules.redb"))).await;
        let mut light = site.agent("proto::light-5").await;
        let sensor = site.agent("proto::sensor-5").await;

        reading(&sensor.reports, TEMPERATURE, "27");
        let armed = verdict(&mut site.events, "too-warm", |v| matches!(v, Verdict::Armed { .. })).await;
        assert_eq!(armed, Verdict::Armed { until: t0() + Duration::from_secs(600) });
        // Within the band the latch holds and the wait goes on.
        reading(&sensor.reports, TEMPERATURE, "25.5");
        verdict(&mut site.events, "too-warm", |v| matches!(v, Verdict::StillArmed { .. })).await;
        site.hand.advance(Duration::from_secs(240));

        // The rules engine restarts; the Agents stay connected.
        site.restart_rules(rules(TOO_WARM)).await;
        let e = site.api.explain("too-warm").await.unwrap().unwrap();
        assert_eq!(e.instances.len(), 1);
        assert_eq!(e.instances[0].hold_until, Some(t0() + Duration::from_secs(600)), "the deadline survived");
        assert!(e.instances[0].latched);
        synced(&mut site.events, "proto::sensor-5").await;
        site.hand.advance(Duration::from_secs(360));
        assert_eq!(light.touched().await, Touch::Operate { command: LIGHT_TOGGLE.into() });
        site.stop().await;
        drop(sensor);
    })
    .await;
}

const LIGHT_ON: &str = r#"
[rule.light-on]
when = { value_change = "Device.IoTCapability.1.BinarySensor.Value", agents = "proto::room-{room}" }
if = "value == true"
[[rule.light-on.then]]
set = "Device.IoTCapability.3.BinaryControl.Value"
value = true
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_rule_file_on_reload_reports_file_and_line_and_the_old_rules_keep_running() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("10-lights.toml"), LIGHT_ON).unwrap();
        let set = usp_rules::load_dir(dir.path(), &[]).unwrap();
        let mut site = Site::start(set, None).await;
        let mut room = site.agent("proto::room-1").await;

        std::fs::write(
            dir.path().join("20-hvac.toml"),
            "[rule.setback]\nwhen = { value_change = \"Device.IoTCapability.6.BinarySensor.Value\" }\nfro = \"10m\"\n",
        )
        .unwrap();
        let refused = site.api.reload_dir(dir.path().into(), Vec::new()).await.unwrap().unwrap_err();
        let text = refused.to_string();
        assert!(text.contains("20-hvac.toml:3:1: unknown key \"fro\""), "{text}");
        assert!(text.contains("did you mean \"for\""), "{text}");

        reading(&room.reports, OCCUPANCY, "true");
        assert_eq!(room.touched().await, Touch::Set { path: LIGHT.into(), value: "true".into() });
        assert_eq!(site.api.status().await.unwrap().rules.len(), 1);
        site.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_triggering_rule_is_stopped() {
    bounded(async {
        let mut site = Site::start(
            rules(
                r#"
                [rule.flip-flop]
                when = { value_change = "Device.IoTCapability.3.BinaryControl.Value" }
                [[rule.flip-flop.then]]
                operate = "Device.IoTCapability.3.BinaryControl.Toggle()"
                "#,
            ),
            None,
        )
        .await;
        let mut room = site.agent("proto::room-2").await;
        // Someone presses the switch.
        room.handle
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
        assert_eq!(room.touched().await, Touch::Operate { command: LIGHT_TOGGLE.into() });
        let reason = until(&mut site.events, |e| match e {
            RuntimeEvent::RuleStopped { rule, reason } if &**rule == "flip-flop" => Some(reason.clone()),
            _ => None,
        })
        .await;
        let StopReason::Loop { chain } = &reason else { panic!("{reason:?}") };
        assert!(chain.iter().all(|r| r == "flip-flop"), "{chain:?}");
        let text = site.api.explain_text("flip-flop").await.unwrap().unwrap();
        assert!(text.contains("STOPPED"), "{text}");
        assert!(room.touches.try_recv().is_err(), "it toggled once and stopped");
        site.stop().await;
    })
    .await;
}

/// An Agent that sends no MQTTConnect Record (no Controller configured: it
/// learns the rules engine's topic from the first request's reply-to) is
/// synced on the broker's word alone. That word comes once it has
/// subscribed, so no Record for it is lost: the first sync puts both
/// subscriptions in place, nothing is unrouted, and the rule works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_without_a_connect_record_is_synced_once_it_listens() {
    use usp_endpoint::{
        agent::runtime as agent_runtime,
        mtp::{
            mqtt::{MqttClient, MqttConfig, Role},
            retry::RetryPolicy,
        },
    };
    bounded(async {
        const EID: &str = "proto::room-9";
        let mut site = Site::start(rules(LIGHT_ON), None).await;
        let (agent, reports, mut touches) = room_agent(EID, "21");
        let port = site.broker.mqtt_addrs()[0].port();
        let config = MqttConfig {
            retry: RetryPolicy { min_wait: Duration::from_millis(50), multiplier: 1000, max_wait: None },
            ..MqttConfig::new(EID, Role::Agent, "127.0.0.1", port)
        };
        let (mqtt, link) = MqttClient::connect(config).await.unwrap();
        let handle = agent_runtime::spawn(agent, link);

        let report = synced(&mut site.events, EID).await;
        assert_eq!((report.created, report.kept, report.failed.len()), (2, 0, 0), "{report:?}");
        assert_eq!(site.broker.stats().unrouted, 0, "nothing was sent to it before it subscribed");
        reading(&reports, OCCUPANCY, "true");
        assert_eq!(next_touch(&mut touches).await.0, Touch::Set { path: LIGHT.into(), value: "true".into() });
        mqtt.shutdown(Duration::from_secs(1)).await;
        let _ = handle.shutdown().await;
        site.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_repaired_after_an_agent_reconnects_without_them() {
    bounded(async {
        let mut site = Site::start(rules(LIGHT_ON), None).await;
        let room = site.agent("proto::room-4").await;
        let before = subscription_ids(&room.handle).await;
        assert_eq!(before.len(), 2, "ValueChange and Boot!: {before:?}");
        room.disconnect().await;

        // It comes back with a fresh data model: no subscriptions at all.
        let mut room = site.connect("proto::room-4", room_agent("proto::room-4", "21")).await;
        // It is reported online twice, close together: by the broker once
        // it has subscribed (Reachable) and by its MQTTConnect Record right
        // after. The runtime restarts its sync for the second, so the rows
        // may be created by the first sync, whose report is dropped, and the
        // reported one then finds them in place (`kept`). What counts is
        // the Agent's table: checked at each sync report until repaired.
        loop {
            let report = synced(&mut site.events, "proto::room-4").await;
            if subscription_ids(&room.handle).await == before {
                assert!(report.failed.is_empty() && report.created + report.kept == 2, "{report:?}");
                break;
            }
        }
        reading(&room.reports, OCCUPANCY, "true");
        assert_eq!(room.touched().await, Touch::Set { path: LIGHT.into(), value: "true".into() });
        site.stop().await;
    })
    .await;
}
