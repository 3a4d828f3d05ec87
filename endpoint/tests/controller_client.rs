//! The tokio ControllerClient over an in-process link, against a scripted
//! Agent built from `usp_proto` builders (the Agent core is not written
//! yet). Each test awaits events; the only timer is the timeout under test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers, not input paths

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::StreamExt;
use tokio::sync::mpsc;
use usp_endpoint::{
    controller::{
        ClientConfig, Controller, ControllerClient, Incoming, NotifType, Notifications, SubscriptionSpec,
        UspError,
        result::{CommandResult, Created},
    },
    mtp::{
        Link, RecordSender,
        link::{MemSender, pair},
    },
};
use usp_proto::{
    ErrCode, Msg, MsgKind, Record,
    usp::{
        Add, AddResp, Delete, DeleteResp, Error, Get, GetInstances, GetInstancesResp, GetResp,
        GetSupportedDm, GetSupportedDmResp, GetSupportedProtocolResp, Notify, NotifyResp, Operate,
        OperateResp, Set, SetResp,
        add::CreateObject,
        add_resp::CreatedObjectResult,
        delete_resp::DeletedObjectResult,
        get_instances_resp::{CurrInstance, RequestedPathResult as InstResult},
        get_resp::{RequestedPathResult, ResolvedPathResult},
        operate_resp::OperationResult,
        request::ReqType,
        response::RespType,
        set::UpdateObject,
        set_resp,
    },
};

const CTRL: &str = "self::rules";
const AGENT: &str = "proto::room101";

/// The Agent's end of the link, driven by the test.
struct Agent {
    link: Link<MemSender>,
}

impl Agent {
    /// The next request Msg the Agent received.
    async fn next_msg(&mut self) -> Msg {
        let bytes = self.link.incoming.recv().await.expect("link open");
        let record = usp_proto::decode::Limits::default().decode_record(bytes).unwrap();
        assert_eq!((record.to_id.as_str(), record.from_id.as_str()), (AGENT, CTRL));
        record.msg().unwrap()
    }

    async fn send_msg(&self, msg: &Msg) {
        let record = Record::no_session_context_msg(CTRL, AGENT, msg).encode_to_bytes();
        self.link.sender.send(CTRL, record).await.unwrap();
    }

    /// Answers the next request with `f(request)`.
    async fn answer(&mut self, f: impl FnOnce(&ReqType) -> Result<RespType, Error>) -> Msg {
        let req = self.next_msg().await;
        let reply = match f(req.as_request().expect("a request")) {
            Ok(resp) => Msg::response(req.msg_id(), resp),
            Err(e) => Msg::error(req.msg_id(), e),
        };
        self.send_msg(&reply).await;
        req
    }
}

fn start(config: ClientConfig) -> (ControllerClient<MemSender>, Notifications, Agent) {
    let (ctrl_end, agent_end) = pair(64);
    let controller = Controller::new(CTRL).unwrap();
    let (client, notifications) = ControllerClient::spawn(controller, ctrl_end, config);
    (client, notifications, Agent { link: agent_end })
}

fn started() -> (ControllerClient<MemSender>, Notifications, Agent) {
    start(ClientConfig::default())
}

/// Every test ends within this, pass or fail: a regression shows up as a
/// failure, not as a hung test run.
async fn bounded<F: std::future::Future>(test: F) -> F::Output {
    tokio::time::timeout(std::time::Duration::from_secs(20), test).await.expect("test did not finish in time")
}

#[tokio::test]
async fn get_returns_the_get_resp() {
    bounded(async {
        let (client, _n, mut agent) = started();
        let script = tokio::spawn(async move {
            agent
                .answer(|req| {
                    let ReqType::Get(get) = req else { panic!("{req:?}") };
                    assert_eq!(get.param_paths, ["Device.DeviceInfo.SoftwareVersion"]);
                    Ok(GetResp::new(vec![RequestedPathResult::ok(
                        "Device.DeviceInfo.SoftwareVersion",
                        vec![ResolvedPathResult::new("Device.DeviceInfo.", [("SoftwareVersion", "1.2.3")])],
                    )])
                    .into())
                })
                .await;
            agent
        });
        let resp = client.get(AGENT, ["Device.DeviceInfo.SoftwareVersion"]).await.unwrap();
        assert_eq!(
            resp.req_path_results[0].resolved_path_results[0].result_params["SoftwareVersion"],
            "1.2.3"
        );
        script.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn errors_carry_the_usp_code() {
    bounded(async {
        let (client, _n, mut agent) = started();
        tokio::spawn(async move {
            agent.answer(|_| Err(Error::new(ErrCode::INVALID_PATH_SYNTAX, "bad path"))).await;
            agent
                .answer(|_| {
                    Err(Error::new(ErrCode::REQUIRED_PARAM_FAILED, "set failed").param_err(
                        "Device.A.Value",
                        ErrCode::INVALID_VALUE,
                        "range",
                    ))
                })
                .await;
            agent
        });
        let err = client.get(AGENT, ["Device.["]).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrCode::INVALID_PATH_SYNTAX));
        let err = client
            .set(AGENT, Set::new(false).object(UpdateObject::new("Device.A.").required("Value", "99")))
            .await;
        let Err(UspError::Agent { code, param_errs, .. }) = err else { panic!("{err:?}") };
        assert_eq!(code, ErrCode::REQUIRED_PARAM_FAILED);
        assert_eq!((param_errs[0].param_path.as_str(), param_errs[0].err_code), ("Device.A.Value", 7012));
    })
    .await;
}

#[tokio::test]
async fn set_add_delete_show_per_object_results() {
    bounded(async {
        let (client, _n, mut agent) = started();
        tokio::spawn(async move {
            agent
                .answer(|_| {
                    Ok(SetResp::new(vec![
                        set_resp::UpdatedObjectResult::success(
                            "Device.A.1.",
                            vec![set_resp::UpdatedInstanceResult {
                                affected_path: "Device.A.1.".into(),
                                param_errs: vec![],
                                updated_params: BTreeMap::from([("Value".into(), "70".into())]),
                            }],
                        ),
                        set_resp::UpdatedObjectResult::failure(
                            "Device.B.1.",
                            ErrCode::OBJECT_DOES_NOT_EXIST,
                            "gone",
                            vec![],
                        ),
                    ])
                    .into())
                })
                .await;
            agent
                .answer(|_| {
                    Ok(AddResp::new(vec![
                        CreatedObjectResult::success(
                            "Device.T.",
                            "Device.T.3.",
                            BTreeMap::from([("Alias".into(), "cpe-3".into())]),
                            vec![],
                        ),
                        CreatedObjectResult::failure(
                            "Device.U.",
                            ErrCode::OBJECT_NOT_CREATABLE,
                            "fixed table",
                        ),
                    ])
                    .into())
                })
                .await;
            agent
                .answer(|_| {
                    Ok(DeleteResp::new(vec![
                        DeletedObjectResult::success("Device.T.*.", ["Device.T.3."], vec![]),
                        DeletedObjectResult::failure("Device.U.1.", ErrCode::OBJECT_DOES_NOT_EXIST, "gone"),
                    ])
                    .into())
                })
                .await;
            agent
        });
        let set = client
            .set(
                AGENT,
                Set::new(true)
                    .object(UpdateObject::new("Device.A.1.").param("Value", "70"))
                    .object(UpdateObject::new("Device.B.1.").param("Value", "1")),
            )
            .await
            .unwrap();
        assert_eq!(set[0].result.as_ref().unwrap()[0].updated_params["Value"], "70");
        assert_eq!(set[1].result.as_ref().unwrap_err().code, ErrCode::OBJECT_DOES_NOT_EXIST);

        let add = client
            .add(
                AGENT,
                Add::new(true).object(CreateObject::new("Device.T.")).object(CreateObject::new("Device.U.")),
            )
            .await
            .unwrap();
        let Ok(Created { instantiated_path, unique_keys, .. }) = &add[0].result else { panic!("{add:?}") };
        assert_eq!((instantiated_path.as_str(), unique_keys["Alias"].as_str()), ("Device.T.3.", "cpe-3"));
        assert_eq!(add[1].result.as_ref().unwrap_err().code, ErrCode::OBJECT_NOT_CREATABLE);

        let del = client.delete(AGENT, Delete::new(true, ["Device.T.*.", "Device.U.1."])).await.unwrap();
        assert_eq!(del[0].result.as_ref().unwrap().affected_paths, ["Device.T.3."]);
        assert_eq!(del[1].result.as_ref().unwrap_err().code, ErrCode::OBJECT_DOES_NOT_EXIST);
    })
    .await;
}

#[tokio::test]
async fn operate_distinguishes_output_async_and_failure_and_detached_sends_no_resp_request() {
    bounded(async {
        let (client, _n, mut agent) = started();
        let script = tokio::spawn(async move {
            let req = agent
                .answer(|req| {
                    let ReqType::Operate(op) = req else { panic!() };
                    assert!(op.send_resp, "operate waits, so it asks for a response");
                    assert_eq!(op.input_args["Step"], "2");
                    Ok(OperateResp::new(vec![
                        OperationResult::output("Device.L.1.Set()", [("Level", "22")]),
                        OperationResult::started("Device.L.2.StepUp()", "Device.LocalAgent.Request.12."),
                        OperationResult::failure("Device.L.3.StepUp()", ErrCode::COMMAND_FAILURE, "stuck"),
                    ])
                    .into())
                })
                .await;
            assert_eq!(req.kind(), Some(MsgKind::Operate));
            let detached = agent.next_msg().await;
            let Some(ReqType::Operate(op)) = detached.as_request() else { panic!() };
            assert!(!op.send_resp);
            // R-OPR.4: the Agent may answer anyway; the client must ignore it.
            agent.send_msg(&Msg::response(detached.msg_id(), OperateResp::default())).await;
            agent
        });
        let out =
            client.operate(AGENT, Operate::new("Device.L.*.StepUp()", "k1").arg("Step", "2")).await.unwrap();
        assert_eq!(out[0].result, CommandResult::Output(BTreeMap::from([("Level".into(), "22".into())])));
        assert_eq!(
            out[1].result,
            CommandResult::Started { request_path: "Device.LocalAgent.Request.12.".into() }
        );
        assert!(matches!(&out[2].result, CommandResult::Failed(f) if f.code == ErrCode::COMMAND_FAILURE));
        client.operate_detached(AGENT, Operate::new("Device.L.1.Toggle()", "k2")).await.unwrap();
        let _agent = script.await.unwrap();
        assert_eq!(client.outstanding(), 0);
    })
    .await;
}

#[tokio::test]
async fn get_instances_supported_dm_and_protocol() {
    bounded(async {
        let (client, _n, mut agent) = started();
        tokio::spawn(async move {
            agent
                .answer(|req| {
                    assert!(matches!(req, ReqType::GetInstances(g) if g.first_level_only));
                    Ok(GetInstancesResp::new(vec![InstResult::ok(
                        "Device.T.",
                        vec![CurrInstance {
                            instantiated_obj_path: "Device.T.1.".into(),
                            unique_keys: BTreeMap::new(),
                        }],
                    )])
                    .into())
                })
                .await;
            agent.answer(|_| Ok(GetSupportedDmResp::default().into())).await;
            agent
                .answer(|req| {
                    let ReqType::GetSupportedProtocol(g) = req else { panic!() };
                    assert_eq!(g.controller_supported_protocol_versions, "1.3,1.4");
                    Ok(GetSupportedProtocolResp::new("1.2,1.3,1.4").into())
                })
                .await;
            agent.answer(|_| Err(Error::new(ErrCode::INVALID_PATH, "nope"))).await;
            agent
        });
        let gi = client.get_instances(AGENT, GetInstances::new(["Device.T."], true)).await.unwrap();
        assert_eq!(gi.req_path_results[0].curr_insts[0].instantiated_obj_path, "Device.T.1.");
        assert_eq!(
            client.get_supported_dm(AGENT, GetSupportedDm::new(["Device."])).await.unwrap(),
            GetSupportedDmResp::default()
        );
        let gsp = client.get_supported_protocol(AGENT, "1.3,1.4").await.unwrap();
        assert_eq!(gsp.agent_supported_protocol_versions, "1.2,1.3,1.4");
        let err = client.get_instances(AGENT, GetInstances::new(["Device.X."], false)).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrCode::INVALID_PATH));
    })
    .await;
}

#[tokio::test]
async fn a_silent_agent_times_the_request_out() {
    bounded(async {
        let (client, _n, mut agent) = started();
        let err = client.request_with_timeout(AGENT, Get::new(["Device."]), Duration::from_millis(50)).await;
        assert_eq!(err, Err(UspError::Timeout(Duration::from_millis(50))));
        assert_eq!(client.outstanding(), 0);
        // The late answer is ignored; the next request still works.
        let late = agent.next_msg().await;
        agent.send_msg(&Msg::response(late.msg_id(), GetResp::default())).await;
        let script = tokio::spawn(async move {
            agent.answer(|_| Ok(GetResp::default().into())).await;
            agent
        });
        assert_eq!(client.get(AGENT, ["Device."]).await, Ok(GetResp::default()));
        script.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn an_earlier_deadline_wakes_the_driver() {
    bounded(async {
        // A long request is pending first; the short one must still time out
        // on time, which needs the driver to re-arm its timer.
        let (client, _n, _agent) = started();
        let c2 = client.clone();
        let long = tokio::spawn(async move {
            c2.request_with_timeout(AGENT, Get::new(["Device."]), Duration::from_secs(3600)).await
        });
        while client.outstanding() == 0 {
            tokio::task::yield_now().await;
        }
        let short = tokio::time::timeout(
            Duration::from_secs(5),
            client.request_with_timeout(AGENT, Get::new(["Device."]), Duration::from_millis(20)),
        )
        .await
        .expect("the short request timed out on its own deadline");
        assert_eq!(short, Err(UspError::Timeout(Duration::from_millis(20))));
        long.abort();
    })
    .await;
}

#[tokio::test]
async fn concurrent_requests_are_matched_out_of_order() {
    bounded(async {
        let (client, _n, mut agent) = started();
        let script = tokio::spawn(async move {
            let mut reqs = Vec::new();
            for _ in 0..20 {
                reqs.push(agent.next_msg().await);
            }
            // Answer in reverse order, echoing each request's path.
            for req in reqs.iter().rev() {
                let Some(ReqType::Get(get)) = req.as_request() else { panic!() };
                let resp = GetResp::new(vec![RequestedPathResult::ok(get.param_paths[0].clone(), vec![])]);
                agent.send_msg(&Msg::response(req.msg_id(), resp)).await;
            }
            agent
        });
        let calls = (0..20).map(|i| {
            let client = client.clone();
            async move { (i, client.get(AGENT, [format!("Device.X.{i}.")]).await.unwrap()) }
        });
        for (i, resp) in futures_util::future::join_all(calls).await {
            assert_eq!(resp.req_path_results[0].requested_path, format!("Device.X.{i}."));
        }
        script.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn notifications_are_streamed_once_and_answered_every_time() {
    bounded(async {
        let (client, mut notifications, mut agent) = started();
        let notify = Notify::value_change(
            "r101-occupancy",
            true,
            "Device.Node.1.IoTCapability.2.BinarySensor.Value",
            "true",
        );
        agent.send_msg(&Msg::request("n-42", notify.clone())).await;
        let n = notifications.next_notification().await.unwrap();
        assert_eq!((n.from.as_str(), n.msg_id.as_str(), n.notify.clone()), (AGENT, "n-42", notify.clone()));
        assert_eq!(agent.next_msg().await, Msg::response("n-42", NotifyResp::new("r101-occupancy")));

        // The Agent retries (our NotifyResp was "lost"): answered again, not re-delivered.
        agent.send_msg(&Msg::request("n-42", notify.clone())).await;
        assert_eq!(agent.next_msg().await, Msg::response("n-42", NotifyResp::new("r101-occupancy")));
        agent.send_msg(&Msg::request("n-43", Notify::value_change("s2", false, "Device.A", "1"))).await;
        let next = notifications.next_notification().await.unwrap();
        assert_eq!(next.msg_id, "n-43", "the duplicate n-42 was not delivered");
        drop(client);
    })
    .await;
}

#[tokio::test]
async fn connect_records_appear_on_the_stream() {
    bounded(async {
        let (_client, mut notifications, agent) = started();
        let record = Record::websocket_connect(CTRL, AGENT).encode_to_bytes();
        agent.link.sender.send(CTRL, record).await.unwrap();
        let Some(Incoming::Connected(c)) = notifications.next().await else { panic!() };
        assert_eq!(c.from, AGENT);
    })
    .await;
}

#[tokio::test]
async fn a_full_notification_queue_withholds_the_notify_resp_so_the_retry_is_delivered() {
    bounded(async {
        let (_client, mut notifications, mut agent) = start(ClientConfig { notification_capacity: 1 });
        let first = Notify::value_change("s", true, "Device.A", "1");
        let second = Notify::value_change("s", true, "Device.A", "2");
        agent.send_msg(&Msg::request("n-1", first)).await;
        assert_eq!(agent.next_msg().await.msg_id(), "n-1", "queued and answered");
        agent.send_msg(&Msg::request("n-2", second.clone())).await;
        // A request the driver must still answer proves it is not blocked; and
        // the Error 7001 it gets comes after n-2 was processed (in order).
        agent.send_msg(&Msg::request("probe", Get::new(["Device."]))).await;
        let next = agent.next_msg().await;
        assert_eq!(next.msg_id(), "probe", "n-2 got no NotifyResp");
        assert_eq!(next.as_error().map(|e| e.err_code), Some(7001));

        assert_eq!(notifications.next_notification().await.unwrap().msg_id, "n-1");
        agent.send_msg(&Msg::request("n-2", second)).await;
        assert_eq!(notifications.next_notification().await.unwrap().msg_id, "n-2", "the retry is delivered");
        assert_eq!(agent.next_msg().await, Msg::response("n-2", NotifyResp::new("s")));
    })
    .await;
}

#[tokio::test]
async fn a_closed_link_fails_outstanding_and_later_requests() {
    bounded(async {
        let (client, mut notifications, agent) = started();
        let c2 = client.clone();
        let pending = tokio::spawn(async move { c2.get(AGENT, ["Device."]).await });
        let Agent { link: Link { sender, mut incoming } } = agent;
        incoming.recv().await.unwrap();
        drop(sender); // the controller's incoming channel ends
        assert_eq!(pending.await.unwrap(), Err(UspError::Closed));
        assert!(notifications.recv().await.is_none(), "the stream ends with the driver");
        let err = client.get(AGENT, ["Device."]).await.unwrap_err();
        assert!(matches!(err, UspError::Closed | UspError::Link(_)), "{err:?}");
    })
    .await;
}

/// A scripted Agent with a Subscription table, answering lookups, Adds,
/// Sets and Deletes; records what it did.
#[derive(Default)]
struct SubscriptionTable {
    rows: BTreeMap<u32, BTreeMap<String, String>>,
    next: u32,
    log: Vec<String>,
}

impl SubscriptionTable {
    fn serve(&mut self, req: &ReqType) -> Result<RespType, Error> {
        match req {
            ReqType::Get(get) => {
                self.log.push("get".into());
                let path = &get.param_paths[0];
                let rows = self
                    .rows
                    .iter()
                    .filter(|(_, p)| path.contains(&format!("[ID==\"{}\"]", p["ID"])))
                    .map(|(n, p)| ResolvedPathResult {
                        resolved_path: format!("Device.LocalAgent.Subscription.{n}."),
                        result_params: p.clone(),
                    })
                    .collect();
                Ok(GetResp::new(vec![RequestedPathResult::ok(path.clone(), rows)]).into())
            }
            ReqType::Add(add) => {
                self.log.push("add".into());
                self.next += 1;
                let params = add.create_objs[0]
                    .param_settings
                    .iter()
                    .map(|s| (s.param.clone(), s.value.clone()))
                    .collect();
                self.rows.insert(self.next, params);
                let path = format!("Device.LocalAgent.Subscription.{}.", self.next);
                Ok(AddResp::new(vec![CreatedObjectResult::success(
                    &add.create_objs[0].obj_path,
                    path,
                    BTreeMap::new(),
                    vec![],
                )])
                .into())
            }
            ReqType::Set(set) => {
                self.log.push("set".into());
                let n = instance(&set.update_objs[0].obj_path);
                for s in &set.update_objs[0].param_settings {
                    self.rows.get_mut(&n).unwrap().insert(s.param.clone(), s.value.clone());
                }
                Ok(SetResp::new(vec![set_resp::UpdatedObjectResult::success(
                    &set.update_objs[0].obj_path,
                    vec![],
                )])
                .into())
            }
            ReqType::Delete(del) => {
                self.log.push("delete".into());
                let n = instance(&del.obj_paths[0]);
                self.rows.remove(&n);
                Ok(DeleteResp::new(vec![DeletedObjectResult::success(
                    &del.obj_paths[0],
                    [&del.obj_paths[0]],
                    vec![],
                )])
                .into())
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn instance(path: &str) -> u32 {
    path.trim_end_matches('.').rsplit('.').next().unwrap().parse().unwrap()
}

/// Runs a SubscriptionTable agent until the link closes.
fn serve_subscriptions(mut agent: Agent) -> (Arc<Mutex<SubscriptionTable>>, mpsc::UnboundedReceiver<String>) {
    let table = Arc::new(Mutex::new(SubscriptionTable::default()));
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let t = table.clone();
    tokio::spawn(async move {
        while let Some(bytes) = agent.link.incoming.recv().await {
            let record = usp_proto::decode::Limits::default().decode_record(bytes).unwrap();
            let req = record.msg().unwrap();
            let result = t.lock().unwrap().serve(req.as_request().unwrap());
            let reply = match result {
                Ok(resp) => Msg::response(req.msg_id(), resp),
                Err(e) => Msg::error(req.msg_id(), e),
            };
            agent.send_msg(&reply).await;
            let last = t.lock().unwrap().log.last().cloned().unwrap_or_default();
            let _ = done_tx.send(last);
        }
    });
    (table, done_rx)
}

fn spec() -> SubscriptionSpec {
    SubscriptionSpec::new(
        "rules-occupancy",
        NotifType::ValueChange,
        ["Device.Node.1.IoTCapability.*.BinarySensor.Value"],
    )
    .unwrap()
    .with_notif_retry(true)
}

#[tokio::test]
async fn subscribe_adds_reuses_and_the_guard_deletes_on_drop() {
    bounded(async {
        let (client, _n, agent) = started();
        let (table, mut done) = serve_subscriptions(agent);

        let sub = client.subscribe(AGENT, &spec()).await.unwrap();
        assert_eq!(
            (sub.path(), sub.id(), sub.agent(), sub.reused()),
            ("Device.LocalAgent.Subscription.1.", "rules-occupancy", AGENT, false)
        );
        {
            let t = table.lock().unwrap();
            assert_eq!(t.log, ["get", "add"]);
            let row = &t.rows[&1];
            assert_eq!(
                (row["Enable"].as_str(), row["NotifType"].as_str(), row["NotifRetry"].as_str()),
                ("true", "ValueChange", "true")
            );
        }
        let path = sub.keep();

        // Same spec again: the row is reused, nothing added.
        let again = client.subscribe(AGENT, &spec()).await.unwrap();
        assert_eq!((again.path(), again.reused()), (path.as_str(), true));
        assert_eq!(table.lock().unwrap().log.len(), 3, "only a lookup");

        drop(again);
        while done.recv().await.as_deref() != Some("delete") {}
        assert!(table.lock().unwrap().rows.is_empty(), "dropping the guard deleted the row");
    })
    .await;
}

#[tokio::test]
async fn subscribe_reenables_a_disabled_row_and_replaces_a_different_one() {
    bounded(async {
        let (client, _n, agent) = started();
        let (table, _done) = serve_subscriptions(agent);
        let sub = client.subscribe(AGENT, &spec()).await.unwrap();
        let first = sub.keep();

        table.lock().unwrap().rows.get_mut(&1).unwrap().insert("Enable".into(), "false".into());
        let sub = client.subscribe(AGENT, &spec()).await.unwrap();
        assert_eq!((sub.path(), sub.reused()), (first.as_str(), true));
        assert_eq!(table.lock().unwrap().rows[&1]["Enable"], "true");
        sub.keep();

        let changed = SubscriptionSpec::new(
            "rules-occupancy",
            NotifType::ValueChange,
            ["Device.Node.2.IoTCapability.*.BinarySensor.Value"],
        )
        .unwrap();
        let sub = client.subscribe(AGENT, &changed).await.unwrap();
        assert_eq!((sub.path(), sub.reused()), ("Device.LocalAgent.Subscription.2.", false));
        {
            let t = table.lock().unwrap();
            assert_eq!(t.log[t.log.len() - 3..], ["get", "delete", "add"]);
            assert_eq!(t.rows.keys().copied().collect::<Vec<_>>(), [2]);
        }
        sub.unsubscribe().await.unwrap();
        assert!(table.lock().unwrap().rows.is_empty());
    })
    .await;
}

#[tokio::test]
async fn subscribe_reports_the_add_failure() {
    bounded(async {
        let (client, _n, mut agent) = started();
        tokio::spawn(async move {
            agent.answer(|_| Err(Error::new(ErrCode::INVALID_PATH_SYNTAX, "no search support"))).await;
            agent.answer(|_| Err(Error::new(ErrCode::PERMISSION_DENIED, "not allowed"))).await;
            agent
        });
        let err = client.subscribe(AGENT, &spec()).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrCode::PERMISSION_DENIED), "a failed lookup falls through to the Add");
    })
    .await;
}

#[tokio::test]
async fn a_link_that_refuses_the_send_fails_the_request_at_once() {
    bounded(async {
        let (ctrl_end, agent_end) = pair(4);
        drop(agent_end);
        let (client, _n) =
            ControllerClient::spawn(Controller::new(CTRL).unwrap(), ctrl_end, ClientConfig::default());
        let err = client.get(AGENT, ["Device."]).await.unwrap_err();
        assert!(matches!(err, UspError::Link(_) | UspError::Closed), "{err:?}");
        assert_eq!(client.outstanding(), 0);
    })
    .await;
}
