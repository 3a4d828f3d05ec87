//! A Controller (`ControllerClient`) and an Agent (the tokio runtime)
//! joined by an in-process link: every message type end to end,
//! notifications (a subscription made with the client's `subscribe`,
//! a value changed by a provider's report and by a Set, an async command's
//! OperationComplete), and permissions. Each step awaits its event; no
//! sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

#[path = "agent/fixture.rs"]
#[allow(dead_code)]
mod fixture;

use std::time::Duration;

use fixture::{AGENT, CTRL, Log, room};
use usp_endpoint::agent::permissions::{
    Grant,
    setup::{self, PermissionSpec},
};
use usp_endpoint::agent::{Agent, runtime};
use usp_endpoint::controller::{
    ClientConfig, Controller, ControllerClient, NotifType, Notifications, SubscriptionSpec, UspError,
    result::CommandResult,
};
use usp_endpoint::datamodel::{Args, OpId, Report, Value};
use usp_endpoint::mtp::link::{MemSender, pair};
use usp_proto::{
    ErrCode,
    usp::{
        Add, Delete, GetInstances, GetSupportedDm, Operate, Set, add::CreateObject, notify::Notification,
        notify::operation_complete::OperationResp, set::UpdateObject,
    },
};

/// Every test ends within this: a regression fails instead of hanging.
async fn bounded<F: std::future::Future>(test: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), test).await.expect("test did not finish in time")
}

struct Setup {
    client: ControllerClient<MemSender>,
    notifications: Notifications,
    agent: runtime::AgentHandle,
    reports: usp_endpoint::datamodel::ReportQueue,
    log: Log,
}

/// The room's Agent running over one end of a link, the Controller on the
/// other. The Controller may do everything except touch ControllerTrust.
fn start() -> Setup {
    let log = Log::default();
    let mut dm = room(&log);
    let store = dm.store_mut();
    let role = setup::add_role(
        store,
        "AllButTrust",
        &[
            PermissionSpec::new(1, ["Device."], Grant::ALL),
            PermissionSpec::new(2, ["Device.LocalAgent.ControllerTrust."], Grant::default()),
        ],
    )
    .unwrap();
    setup::add_controller(store, CTRL, &[role]).unwrap();
    let agent = Agent::builder(AGENT, dm).build(runtime::system_now()).unwrap();
    let reports = agent.report_queue();
    let (ctrl_end, agent_end) = pair(64);
    let agent = runtime::spawn(agent, agent_end);
    let (client, notifications) =
        ControllerClient::spawn(Controller::new(CTRL).unwrap(), ctrl_end, ClientConfig::default());
    Setup { client, notifications, agent, reports, log }
}

#[tokio::test]
async fn every_message_type_end_to_end() {
    bounded(async {
        let Setup { client, agent, log, .. } = start();

        let gsp = client.get_supported_protocol(AGENT, "1.4").await.unwrap();
        assert_eq!(gsp.agent_supported_protocol_versions, "1.3,1.4");

        let get =
            client.get(AGENT, ["Device.IoTCapability.1.LevelSensor.Value", "Device.Nope"]).await.unwrap();
        let ok = &get.req_path_results[0].resolved_path_results[0];
        assert_eq!(
            (ok.resolved_path.as_str(), ok.result_params["Value"].as_str()),
            ("Device.IoTCapability.1.LevelSensor.", "21.5")
        );
        assert_eq!(get.req_path_results[1].err_code, ErrCode::INVALID_PATH.0);

        let gsdm = client.get_supported_dm(AGENT, GetSupportedDm::new(["Device.X_Test."])).await.unwrap();
        assert_eq!(gsdm.req_obj_results[0].supported_objs[0].supported_obj_path, "Device.X_Test.");

        let inst = client.get_instances(AGENT, GetInstances::new(["Device.Node."], false)).await.unwrap();
        assert_eq!(inst.req_path_results[0].curr_insts.len(), 5);

        let added = client
            .add(
                AGENT,
                Add::new(false).object(CreateObject::new("Device.X_Test.Item.").required("Name", "three")),
            )
            .await
            .unwrap();
        let created = added[0].result.as_ref().unwrap();
        assert_eq!(created.instantiated_path, "Device.X_Test.Item.3.");
        assert_eq!(created.unique_keys["Alias"], "cpe-3");

        let set = client
            .set(
                AGENT,
                Set::new(false).object(UpdateObject::new("Device.X_Test.Item.3.").required("Level", "+4")),
            )
            .await
            .unwrap();
        assert_eq!(set[0].result.as_ref().unwrap()[0].updated_params["Level"], "4");
        // allow_partial=false with a failure is a message-level Error.
        let refused = client
            .set(
                AGENT,
                Set::new(false).object(UpdateObject::new("Device.X_Test.Item.3.").required("Level", "99")),
            )
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Some(ErrCode::REQUIRED_PARAM_FAILED));

        let deleted = client.delete(AGENT, Delete::new(false, ["Device.X_Test.Item.3."])).await.unwrap();
        assert_eq!(deleted[0].result.as_ref().unwrap().affected_paths, ["Device.X_Test.Item.3."]);

        let echo =
            client.operate(AGENT, Operate::new("Device.X_Test.Echo()", "e").arg("Text", "hi")).await.unwrap();
        assert_eq!(echo[0].result, CommandResult::Output([("Text".to_owned(), "hi".to_owned())].into()));
        client
            .operate_detached(AGENT, Operate::new("Device.X_Test.Echo()", "e2").arg("Text", "x"))
            .await
            .unwrap();
        // The next request is answered after the detached one ran.
        client.get(AGENT, ["Device."]).await.unwrap();
        assert!(log.lock().unwrap().iter().filter(|l| l.starts_with("operate Echo")).count() == 2);

        // Permissions: ControllerTrust is hidden and not writable.
        let hidden = client.get(AGENT, ["Device.LocalAgent.ControllerTrust.Role.1.Name"]).await.unwrap();
        assert_eq!(hidden.req_path_results[0].err_code, ErrCode::INVALID_PATH.0);
        let denied = client
            .set(
                AGENT,
                Set::new(true).object(
                    UpdateObject::new("Device.LocalAgent.ControllerTrust.").required("TOFUAllowed", "true"),
                ),
            )
            .await
            .unwrap();
        let failure = denied[0].result.as_ref().unwrap_err();
        assert_eq!(failure.instances[0].param_errs[0].code, ErrCode::PERMISSION_DENIED);

        let agent = agent.shutdown().await.unwrap();
        assert_eq!(agent.endpoint_id(), AGENT);
    })
    .await;
}

#[tokio::test]
async fn value_changes_reach_a_subscribed_controller_from_a_report_and_from_a_set() {
    bounded(async {
        let Setup { client, mut notifications, agent, reports, .. } = start();
        let spec = SubscriptionSpec::new(
            "dimmer",
            NotifType::ValueChange,
            [r#"Device.IoTCapability.[Name=="r101-dimmer"].LevelControl.Value"#],
        )
        .unwrap()
        .with_notif_retry(true);
        let sub = client.subscribe(AGENT, &spec).await.unwrap();
        assert_eq!(sub.path(), "Device.LocalAgent.Subscription.1.");
        assert!(!sub.reused());

        // A sensor driver reports from its own thread: pushed at once.
        std::thread::spawn(move || {
            reports.push(Report::ValueText {
                path: "Device.IoTCapability.4.LevelControl.Value".into(),
                value: "55".into(),
            })
        })
        .join()
        .unwrap();
        let n = notifications.next_notification().await.unwrap();
        assert_eq!((n.from.as_str(), n.subscription_id()), (AGENT, "dimmer"));
        assert!(n.notify.send_resp, "NotifRetry=true asks for a NotifyResp");
        let Some(Notification::ValueChange(v)) = n.kind() else { panic!("{n:?}") };
        assert_eq!(
            (v.param_path.as_str(), v.param_value.as_str()),
            ("Device.IoTCapability.4.LevelControl.Value", "55")
        );

        // The client's own Set notifies it too.
        client
            .set(
                AGENT,
                Set::new(false).object(
                    UpdateObject::new("Device.IoTCapability.4.LevelControl.").required("Value", "60"),
                ),
            )
            .await
            .unwrap();
        let n = notifications.next_notification().await.unwrap();
        let Some(Notification::ValueChange(v)) = n.kind() else { panic!("{n:?}") };
        assert_eq!(v.param_value, "60");

        // The client answered each NotifyResp: nothing is left to retry.
        let pending = agent.call(|a| a.pending_notifications()).await.unwrap();
        assert_eq!(pending, 0);

        // Unsubscribing removes the row; no more notifications.
        sub.unsubscribe().await.unwrap();
        let rows = client.get(AGENT, ["Device.LocalAgent.Subscription."]).await.unwrap();
        assert!(rows.req_path_results[0].resolved_path_results.is_empty());
        agent.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn an_async_command_completes_with_an_operation_complete() {
    bounded(async {
        let Setup { client, mut notifications, agent, reports, log } = start();
        let spec = SubscriptionSpec::new("slow", NotifType::OperationComplete, ["Device.X_Test.Slow()"]).unwrap();
        let _sub = client.subscribe(AGENT, &spec).await.unwrap();
        let started = client.operate(AGENT, Operate::new("Device.X_Test.Slow()", "job-1")).await.unwrap();
        assert_eq!(started[0].result, CommandResult::Started { request_path: "Device.LocalAgent.Request.1.".into() });
        let status = client.get(AGENT, ["Device.LocalAgent.Request.1.Status"]).await.unwrap();
        assert_eq!(status.req_path_results[0].resolved_path_results[0].result_params["Status"], "Active");
        let op = {
            let log = log.lock().unwrap();
            let line = log.iter().find(|l| l.starts_with("operate Slow")).unwrap();
            OpId(line.rsplit("OpId(").next().unwrap().trim_end_matches(')').parse().unwrap())
        };
        reports.push(Report::Completed { op, result: Ok(Args::from([("Done".into(), Value::Boolean(true))])) });
        let n = notifications.next_notification().await.unwrap();
        let Some(Notification::OperComplete(c)) = n.kind() else { panic!("{n:?}") };
        assert_eq!((c.command_name.as_str(), c.command_key.as_str()), ("Slow()", "job-1"));
        assert!(matches!(&c.operation_resp, Some(OperationResp::ReqOutputArgs(o)) if o.output_args["Done"] == "true"));
        let gone = client.get(AGENT, ["Device.LocalAgent.Request.1."]).await.unwrap();
        assert_eq!(gone.req_path_results[0].err_code, ErrCode::INVALID_PATH.0, "the row is removed");
        agent.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_runtime_returns_the_agent_with_its_persistent_state() {
    bounded(async {
        let Setup { client, agent, .. } = start();
        let spec = SubscriptionSpec::new("keep", NotifType::ValueChange, ["Device.X_Test.Mode"])
            .unwrap()
            .with_persistent(true);
        let sub = client.subscribe(AGENT, &spec).await.unwrap();
        sub.keep();
        let agent = agent.shutdown().await.unwrap();
        let state = agent.export_persistent();
        assert_eq!(state.subscriptions.len(), 1);
        assert_eq!(state.subscriptions[0].recipient, CTRL);
        // A stopped runtime refuses calls.
        let err = client.get(AGENT, ["Device."]).await.unwrap_err();
        assert!(matches!(err, UspError::Closed | UspError::Timeout(_)), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn the_runtime_wakes_for_its_deadlines() {
    bounded(async {
        let Setup { client, mut notifications, agent, .. } = start();
        let watch =
            SubscriptionSpec::new("watch", NotifType::ObjectDeletion, ["Device.LocalAgent.Subscription.*."])
                .unwrap();
        let _watch = client.subscribe(AGENT, &watch).await.unwrap();
        let brief = SubscriptionSpec::new("brief", NotifType::ValueChange, ["Device.X_Test.Mode"])
            .unwrap()
            .with_time_to_live(1);
        let brief = client.subscribe(AGENT, &brief).await.unwrap();
        // Nothing but the Agent's own timer removes the row after 1 s.
        let n = notifications.next_notification().await.unwrap();
        let Some(Notification::ObjDeletion(d)) = n.kind() else { panic!("{n:?}") };
        assert_eq!(d.obj_path, brief.path());
        brief.keep();
        agent.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_runtime_ends_when_its_link_closes() {
    bounded(async {
        let log = Log::default();
        let agent = Agent::builder(AGENT, room(&log)).build(runtime::system_now()).unwrap();
        let (ctrl_end, agent_end) = pair(4);
        let handle = runtime::spawn(agent, agent_end);
        assert_eq!(handle.call(|a| a.endpoint_id().to_owned()).await.unwrap(), AGENT);
        drop(ctrl_end);
        let agent = handle.join().await.unwrap();
        assert_eq!(agent.endpoint_id(), AGENT);
    })
    .await;
}
