//! The example rules of `deploy/rules/` against the simulated building:
//! the rules engine (usp-rules, driven here by a minimal test runtime as
//! the Controller `self::site1-rules`) subscribes on the sim's rooms, is
//! notified when a room's presence changes, and its `light-follows-presence`
//! rule switches that room's light — its search expressions
//! (`[Name=="r101-presence"]`, `[Name=="r101-light-dim"]`) find the sim's
//! capabilities. This is what makes the examples work against `uspmesh sim`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod support;

use std::{
    path::Path,
    time::{Duration, SystemTime},
};

use support::{Broker, Sim};
use tokio::sync::mpsc;
use usp_endpoint::{
    controller::{ClientConfig, Controller, ControllerClient, NotifType, SubscriptionSpec, UspError},
    mtp::{
        Role,
        mqtt::{MqttClient, MqttConfig},
    },
};
use usp_proto::usp::{
    Error, response::RespType, set_resp::updated_object_result::operation_status::OperStatus,
};
use usp_rules::{
    Engine, EngineConfig,
    engine::{Input, Outcome, Output, RequestId},
};

const ENGINE: &str = "self::site1-rules";

fn notif_type(t: usp_rules::engine::NotifType) -> NotifType {
    use usp_rules::engine::NotifType as R;
    match t {
        R::ValueChange => NotifType::ValueChange,
        R::ObjectCreation => NotifType::ObjectCreation,
        R::ObjectDeletion => NotifType::ObjectDeletion,
        R::OperationComplete => NotifType::OperationComplete,
        R::Event => NotifType::Event,
    }
}

fn outcome(answer: Result<RespType, UspError>) -> Outcome {
    match answer {
        Ok(resp) => Outcome::Response(resp),
        Err(UspError::Agent { code, message, param_errs }) => {
            Outcome::Error(Error { err_code: code.0, err_msg: message, param_errs })
        }
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// The affected paths of a successful Set, if it updated anything.
fn updated(resp: &RespType) -> Vec<String> {
    let RespType::SetResp(set) = resp else { return Vec::new() };
    set.updated_obj_results
        .iter()
        .filter_map(|r| match r.oper_status.as_ref()?.oper_status.as_ref()? {
            OperStatus::OperSuccess(s) => {
                Some(s.updated_inst_results.iter().map(|i| i.affected_path.clone()))
            }
            OperStatus::OperFailure(_) => None,
        })
        .flatten()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lights_follow_occupancy_in_the_simulated_building() {
    let broker = Broker::start();
    // Ten simulated minutes a second: presence changes within seconds.
    let _sim =
        Sim::start(&broker.url(), &["--rooms", "2", "--speed", "600", "--tick", "100ms", "--seed", "5"]);
    let rules = usp_rules::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rules"), &[])
        .expect("the example rules load");
    let mut engine = Engine::new(EngineConfig::default(), rules, SystemTime::now());

    let config = MqttConfig::new(ENGINE, Role::Controller, "127.0.0.1", broker.port());
    let (mqtt, link) = MqttClient::connect(config).await.unwrap();
    let (client, mut notifications) =
        ControllerClient::spawn(Controller::new(ENGINE).unwrap(), link, ClientConfig::default());
    let (answers, mut answered) = mpsc::unbounded_channel::<(RequestId, Option<String>, String, Outcome)>();

    let mut outputs = Vec::new();
    for room in ["proto::room-101", "proto::room-102"] {
        outputs.extend(engine.handle(Input::AgentOnline { agent: room.into() }, SystemTime::now()));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let switched = loop {
        for out in std::mem::take(&mut outputs) {
            match out {
                Output::Subscribe(subs) => {
                    for s in subs.subscriptions {
                        let spec = SubscriptionSpec::new(
                            s.id.clone(),
                            notif_type(s.notif_type),
                            [s.reference.clone()],
                        )
                        .unwrap()
                        .with_notif_retry(s.notif_retry);
                        let row = client.subscribe(&subs.agent, &spec).await;
                        assert!(row.is_ok(), "{} on {}: {row:?}", s.reference, subs.agent);
                        row.unwrap().keep();
                    }
                }
                Output::Request(r) => {
                    let (client, answers) = (client.clone(), answers.clone());
                    let rule = r.rule.as_deref().map(str::to_owned);
                    tokio::spawn(async move {
                        let answer = client.request(&r.agent, r.body).await;
                        let _ = answers.send((r.id, rule, r.agent.to_string(), outcome(answer)));
                    });
                }
                _ => {}
            }
        }
        let wake = engine.next_deadline().and_then(|d| d.duration_since(SystemTime::now()).ok());
        let input = tokio::select! {
            n = notifications.next_notification() => {
                let n = n.expect("the client runs");
                Input::Notify { agent: n.from, notify: n.notify, received_at: SystemTime::now() }
            }
            a = answered.recv() => {
                let (id, rule, agent, outcome) = a.expect("answers");
                if rule.as_deref() == Some("light-follows-presence") {
                    if let Outcome::Response(resp) = &outcome {
                        let paths = updated(resp);
                        if !paths.is_empty() {
                            break (agent, paths);
                        }
                    }
                }
                Input::Response { id, outcome }
            }
            () = tokio::time::sleep(wake.unwrap_or(Duration::from_secs(1))) => Input::Tick,
            () = tokio::time::sleep_until(deadline) => panic!("no light was switched within a minute"),
        };
        outputs.extend(engine.handle(input, SystemTime::now()));
    };
    // The rule's Set found the room's own light (by its capability name).
    let (agent, paths) = switched;
    assert!(agent == "proto::room-101" || agent == "proto::room-102", "{agent}");
    assert!(
        paths.iter().all(|p| p == "Device.Node.2.IoTCapability.1.BinaryControl."
            || p == "Device.Node.2.IoTCapability.2.LevelControl."),
        "{paths:?}"
    );
    drop(client);
    mqtt.shutdown(Duration::from_secs(1)).await;
}
