//! The MQTT client MTP against a real mosquitto broker, started by each
//! test on a free loopback port: our ControllerClient on one side, a
//! scripted Agent on the other, MQTT 5 and 3.1.1 in every combination, and
//! independent clients (a raw rumqttc client, `mosquitto_pub`) to check
//! what goes over the wire.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers, not input paths

use std::time::Duration;
use usp_testkit::Mosquitto;

use bytes::Bytes;
use tokio::{process::Command, sync::mpsc};
use usp_endpoint::{
    controller::{ClientConfig, ConnectedMtp, Controller, ControllerClient, Incoming, Notifications},
    mtp::{
        Link, LinkError, RecordSender, SessionStatus,
        mqtt::{MqttClient, MqttConfig, MqttError, MqttSender, Role, VersionMismatch},
        retry::RetryPolicy,
    },
};
use usp_proto::{
    Msg, Record,
    usp::{GetResp, Notify, NotifyResp, get_resp, request::ReqType},
    usp_record::mqtt_connect_record::MqttVersion,
};

const CTRL: &str = "self::rules";
const AGENT: &str = "proto::room101";

fn config(eid: &str, role: Role, version: MqttVersion, port: u16) -> MqttConfig {
    MqttConfig {
        retry: RetryPolicy { min_wait: Duration::from_millis(50), multiplier: 1000, max_wait: None },
        ..MqttConfig::new(eid, role, "127.0.0.1", port).with_version(version)
    }
}

/// A controller (our ControllerClient over our MQTT client).
async fn controller(
    version: MqttVersion,
    port: u16,
    tweak: impl FnOnce(MqttConfig) -> MqttConfig,
) -> (MqttClient, ControllerClient<MqttSender>, Notifications) {
    let (mqtt, link) =
        MqttClient::connect(tweak(config(CTRL, Role::Controller, version, port))).await.unwrap();
    let (client, notifications) =
        ControllerClient::spawn(Controller::new(CTRL).unwrap(), link, ClientConfig::default());
    (mqtt, client, notifications)
}

/// A scripted Agent on our MQTT client: answers every Get with a GetResp
/// echoing its first path, and lets the test send notifications.
struct Agent {
    mqtt: MqttClient,
    sender: MqttSender,
    /// Responses (NotifyResp ...) the Agent received.
    responses: mpsc::UnboundedReceiver<Msg>,
}

async fn agent(version: MqttVersion, port: u16, tweak: impl FnOnce(MqttConfig) -> MqttConfig) -> Agent {
    let cfg = tweak(config(AGENT, Role::Agent, version, port));
    let (mqtt, Link { sender, mut incoming }) = MqttClient::connect(cfg).await.unwrap();
    let (tx, responses) = mpsc::unbounded_channel();
    let replier = sender.clone();
    tokio::spawn(async move {
        while let Some(bytes) = incoming.recv().await {
            let record = usp_proto::decode::Limits::default().decode_record(bytes).unwrap();
            let msg = record.msg().unwrap();
            match msg.as_request() {
                Some(ReqType::Get(get)) => {
                    let resp = GetResp::new(vec![get_resp::RequestedPathResult::ok(
                        get.param_paths[0].clone(),
                        vec![],
                    )]);
                    let reply = Record::no_session_context_msg(
                        &record.from_id,
                        AGENT,
                        &Msg::response(msg.msg_id(), resp),
                    );
                    replier.send(&record.from_id, reply.encode_to_bytes()).await.unwrap();
                }
                _ => tx.send(msg).unwrap(),
            }
        }
    });
    Agent { mqtt, sender, responses }
}

impl Agent {
    async fn notify(&self, msg_id: &str, value: &str) {
        let notify = Notify::value_change("sub-1", true, "Device.Node.1.Value", value);
        let record = Record::no_session_context_msg(CTRL, AGENT, &Msg::request(msg_id, notify));
        self.sender.send(CTRL, record.encode_to_bytes()).await.unwrap();
    }
}

/// Get, notification and NotifyResp across one pair of versions.
async fn exchange(ctrl_version: MqttVersion, agent_version: MqttVersion) {
    let broker = Mosquitto::start();
    let (_ctrl_mqtt, client, mut notifications) = controller(ctrl_version, broker.port(), |c| c).await;
    let mut agent =
        agent(agent_version, broker.port(), |c| c.with_peer(CTRL, "usp/controller/self::rules")).await;

    // R-MTP.6: the Agent announced itself with its topic and version.
    let Some(Incoming::Connected(connected)) = notifications.recv().await else { panic!() };
    assert_eq!(connected.from, AGENT);
    assert_eq!(
        connected.mtp,
        ConnectedMtp::Mqtt { version: agent_version, subscribed_topic: "usp/agent/proto::room101".into() }
    );

    let resp = client.get(AGENT, ["Device.DeviceInfo."]).await.unwrap();
    assert_eq!(resp.req_path_results[0].requested_path, "Device.DeviceInfo.");

    agent.notify("n-1", "true").await;
    let n = notifications.next_notification().await.unwrap();
    assert_eq!((n.from.as_str(), n.msg_id.as_str()), (AGENT, "n-1"));
    assert_eq!(agent.responses.recv().await.unwrap(), Msg::response("n-1", NotifyResp::new("sub-1")));
}

/// Every test ends within this, pass or fail: a regression shows up as a
/// failure, not as a hung test run.
async fn bounded<F: std::future::Future>(test: F) -> F::Output {
    tokio::time::timeout(std::time::Duration::from_secs(30), test).await.expect("test did not finish in time")
}

#[tokio::test]
async fn v5_controller_and_v5_agent() {
    bounded(async {
        exchange(MqttVersion::V5, MqttVersion::V5).await;
    })
    .await;
}

#[tokio::test]
async fn v311_controller_and_v5_agent() {
    bounded(async {
        exchange(MqttVersion::V311, MqttVersion::V5).await;
    })
    .await;
}

#[tokio::test]
async fn v5_controller_and_v311_agent() {
    bounded(async {
        exchange(MqttVersion::V5, MqttVersion::V311).await;
    })
    .await;
}

#[tokio::test]
async fn v311_controller_and_v311_agent() {
    bounded(async {
        exchange(MqttVersion::V311, MqttVersion::V311).await;
    })
    .await;
}

/// A raw rumqttc MQTT 5 client subscribed to `filter`, reporting
/// (topic, content type, response topic, payload).
async fn spy(
    port: u16,
    filter: &str,
) -> mpsc::UnboundedReceiver<(String, Option<String>, Option<String>, Bytes)> {
    use rumqttc::v5::{AsyncClient, Event, MqttOptions, mqttbytes::QoS, mqttbytes::v5::Packet};
    let (client, mut eventloop) = AsyncClient::new(MqttOptions::new("spy", "127.0.0.1", port), 16);
    let (tx, rx) = mpsc::unbounded_channel();
    let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
    client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
    tokio::spawn(async move {
        let _client = client;
        let mut subscribed = Some(subscribed_tx);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(s) = subscribed.take() {
                        let _ = s.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let props = p.properties.unwrap_or_default();
                    let topic = String::from_utf8(p.topic.to_vec()).unwrap();
                    let _ = tx.send((topic, props.content_type, props.response_topic, p.payload));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    subscribed_rx.await.unwrap();
    rx
}

#[tokio::test]
async fn the_reply_to_topic_travels_as_response_topic_in_v5_and_as_suffix_in_v311() {
    bounded(async {
        let broker = Mosquitto::start();
        let mut wire = spy(broker.port(), "#").await;
        // The controller listens on a custom topic, so the agent can only answer
        // correctly by using the reply-to it received.
        let custom = |c: MqttConfig| MqttConfig { reply_topic: Some("site/a/ctrl-replies".into()), ..c };
        for version in [MqttVersion::V5, MqttVersion::V311] {
            let (_m, client, _n) = controller(version, broker.port(), custom).await;
            let _agent = agent(MqttVersion::V5, broker.port(), |c| c).await;
            client.get(AGENT, ["Device."]).await.unwrap();

            let (topic, content_type, response_topic, _) = wire.recv().await.unwrap();
            match version {
                MqttVersion::V5 => {
                    assert_eq!(topic, "usp/agent/proto::room101");
                    assert_eq!(content_type.as_deref(), Some("usp.msg"));
                    assert_eq!(response_topic.as_deref(), Some("site/a/ctrl-replies"));
                }
                MqttVersion::V311 => {
                    assert_eq!(topic, "usp/agent/proto::room101/reply-to=site%2Fa%2Fctrl-replies");
                    assert_eq!((content_type, response_topic), (None, None));
                }
            }
            let (reply_topic, content_type, response_topic, _) = wire.recv().await.unwrap();
            assert_eq!(
                reply_topic, "site/a/ctrl-replies",
                "the response went to the request's reply-to ({version:?})"
            );
            assert_eq!(content_type.as_deref(), Some("usp.msg"));
            assert_eq!(response_topic.as_deref(), Some("usp/agent/proto::room101"));
        }
    })
    .await;
}

#[tokio::test]
async fn a_v311_notify_from_mosquitto_pub_is_answered_on_its_reply_to_topic() {
    bounded(async {
        let broker = Mosquitto::start();
        let (_m, _client, mut notifications) = controller(MqttVersion::V5, broker.port(), |c| c).await;
        let mut wire = spy(broker.port(), "usp/agent/proto::pubber/#").await;
        let notify = Notify::value_change("sub-9", true, "Device.X", "1");
        let record = Record::no_session_context_msg(CTRL, "proto::pubber", &Msg::request("pub-1", notify));
        let file = std::env::temp_dir().join(format!("uspmesh-notify-{}.pb", std::process::id()));
        std::fs::write(&file, record.encode_to_bytes()).unwrap();
        let status = Command::new(usp_testkit::installed("mosquitto_pub", "mosquitto-clients"))
            .args(["-V", "mqttv311", "-h", "127.0.0.1", "-p", &broker.port().to_string(), "-q", "1"])
            .args(["-t", "usp/controller/self::rules/reply-to=usp%2Fagent%2Fproto::pubber", "-f"])
            .arg(&file)
            .status()
            .await
            .unwrap();
        assert!(status.success());
        let _ = std::fs::remove_file(&file);
        assert_eq!(notifications.next_notification().await.unwrap().msg_id, "pub-1");
        let (topic, _, _, payload) = wire.recv().await.unwrap();
        assert_eq!(topic, "usp/agent/proto::pubber");
        let answer = usp_proto::decode::Limits::default().decode_record(payload).unwrap();
        assert_eq!(answer.msg().unwrap(), Msg::response("pub-1", NotifyResp::new("sub-9")));
    })
    .await;
}

#[tokio::test]
async fn publishes_with_another_content_type_are_not_records() {
    bounded(async {
        use rumqttc::v5::{AsyncClient, MqttOptions, mqttbytes::QoS, mqttbytes::v5::PublishProperties};
        let broker = Mosquitto::start();
        let (_m, Link { mut incoming, .. }) =
            MqttClient::connect(config(CTRL, Role::Controller, MqttVersion::V5, broker.port()))
                .await
                .unwrap();
        let (raw, mut eventloop) = AsyncClient::new(MqttOptions::new("raw", "127.0.0.1", broker.port()), 16);
        tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
        let json = Record::websocket_connect(CTRL, "proto::json-publisher").encode_to_bytes();
        let usp = Record::websocket_connect(CTRL, "proto::usp-publisher").encode_to_bytes();
        for (content_type, record) in
            [("application/json; charset=UTF-8", &json), ("application/vnd.bbf.usp.msg", &usp)]
        {
            let props = PublishProperties { content_type: Some(content_type.into()), ..Default::default() };
            raw.publish_bytes_with_properties(
                "usp/controller/self::rules",
                QoS::AtLeastOnce,
                false,
                record.clone(),
                props,
            )
            .await
            .unwrap();
        }
        // Ordered on one connection: the JSON one would arrive first if kept.
        assert_eq!(incoming.recv().await.unwrap(), usp);
        assert!(incoming.try_recv().is_err(), "only the USP content type was delivered");
    })
    .await;
}

#[tokio::test]
async fn v5_keeps_the_server_assigned_client_id_and_reconnects_after_a_broker_restart() {
    bounded(async {
        let mut broker = Mosquitto::start();
        let (ctrl_mqtt, client, mut notifications) = controller(MqttVersion::V5, broker.port(), |c| c).await;
        let slow_retry = |c: MqttConfig| MqttConfig {
            retry: RetryPolicy { min_wait: Duration::from_millis(500), multiplier: 1000, max_wait: None },
            ..c.with_peer(CTRL, "usp/controller/self::rules")
        };
        let agent = agent(MqttVersion::V5, broker.port(), slow_retry).await;
        assert!(matches!(notifications.recv().await, Some(Incoming::Connected(_))));
        let assigned = agent.mqtt.client_id();
        assert!(!assigned.is_empty(), "R-MQTT.9: the server assigned a ClientId");

        broker.stop();
        agent.mqtt.wait_disconnected().await;
        ctrl_mqtt.wait_disconnected().await;
        let record = Record::websocket_connect(CTRL, AGENT).encode_to_bytes();
        assert_eq!(agent.sender.send(CTRL, record).await, Err(LinkError::NotConnected));
        assert!(matches!(agent.mqtt.status(), SessionStatus::Retrying { .. }));

        broker.resume();
        // The controller retries every 50 ms, the agent every 500 ms: the
        // controller is subscribed again when the agent reconnects, so it sees
        // the agent's new MQTTConnect Record (R-MTP.6, sent on every session).
        ctrl_mqtt.wait_connected().await.unwrap();
        let Some(Incoming::Connected(again)) = notifications.recv().await else { panic!() };
        assert_eq!(again.from, AGENT);
        agent.mqtt.wait_connected().await.unwrap();
        assert_eq!((agent.mqtt.sessions(), ctrl_mqtt.sessions()), (2, 2));
        assert_eq!(agent.mqtt.client_id(), assigned, "R-MQTT.11: same ClientId after reconnecting");
        agent.notify("n-after", "1").await;
        assert_eq!(notifications.next_notification().await.unwrap().msg_id, "n-after");
        let resp = client.get(AGENT, ["Device.A."]).await.unwrap();
        assert_eq!(resp.req_path_results[0].requested_path, "Device.A.");
    })
    .await;
}

#[tokio::test]
async fn a_graceful_agent_shutdown_sends_a_disconnect_record() {
    bounded(async {
        let broker = Mosquitto::start();
        let (_m, _client, mut notifications) = controller(MqttVersion::V5, broker.port(), |c| c).await;
        let agent =
            agent(MqttVersion::V311, broker.port(), |c| c.with_peer(CTRL, "usp/controller/self::rules"))
                .await;
        assert!(matches!(notifications.recv().await, Some(Incoming::Connected(_))));
        agent.mqtt.shutdown(Duration::from_secs(5)).await;
        let Some(Incoming::Disconnected(d)) = notifications.recv().await else { panic!() };
        assert_eq!(d.from, AGENT);
        let record = Record::websocket_connect(CTRL, AGENT).encode_to_bytes();
        assert_eq!(agent.sender.send(CTRL, record).await, Err(LinkError::NotConnected));
    })
    .await;
}

#[tokio::test]
async fn connecting_to_nothing_fails_the_first_attempt() {
    bounded(async {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err =
            MqttClient::connect(config(CTRL, Role::Controller, MqttVersion::V5, port)).await.unwrap_err();
        assert!(matches!(err, MqttError::Connect(_)), "{err:?}");
        let bad = MqttConfig {
            keep_alive: Duration::from_secs(1),
            ..config(CTRL, Role::Controller, MqttVersion::V5, port)
        };
        assert!(matches!(MqttClient::connect(bad).await, Err(MqttError::Config(_))));
    })
    .await;
}

/// A raw MQTT 5 client publishing a Record the way the test chooses.
async fn raw_v5(port: u16, name: &str) -> rumqttc::v5::AsyncClient {
    use rumqttc::v5::{AsyncClient, MqttOptions};
    let (raw, mut eventloop) = AsyncClient::new(MqttOptions::new(name, "127.0.0.1", port), 16);
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    raw
}

async fn publish_raw(
    raw: &rumqttc::v5::AsyncClient,
    topic: &str,
    response_topic: Option<&str>,
    record: Bytes,
) {
    use rumqttc::v5::mqttbytes::{QoS, v5::PublishProperties};
    let props = PublishProperties {
        content_type: Some("usp.msg".into()),
        response_topic: response_topic.map(str::to_owned),
        ..Default::default()
    };
    raw.publish_bytes_with_properties(topic, QoS::AtLeastOnce, false, record, props).await.unwrap();
}

fn get_record(from: &str, msg_id: &str) -> Bytes {
    let get = usp_proto::usp::Get { param_paths: vec!["Device.".into()], max_depth: 0 };
    Record::no_session_context_msg(AGENT, from, &Msg::request(msg_id, get)).encode_to_bytes()
}

fn refusing(c: MqttConfig) -> MqttConfig {
    MqttConfig { version_mismatch: VersionMismatch::Refuse, ..c }
}

#[tokio::test]
async fn refuse_a_v311_agent_answers_a_suffixless_request_with_an_error_and_ceases_until_fixed() {
    bounded(async {
        let broker = Mosquitto::start();
        let mut wire = spy(broker.port(), "usp/controller/#").await;
        let cfg = refusing(
            config(AGENT, Role::Agent, MqttVersion::V311, broker.port())
                .with_peer(CTRL, "usp/controller/self::rules"),
        );
        let (_agent, Link { sender, mut incoming }) = MqttClient::connect(cfg).await.unwrap();
        let (topic, ..) = wire.recv().await.unwrap();
        assert_eq!(
            topic, "usp/controller/self::rules/reply-to=usp%2Fagent%2Fproto::room101",
            "its MQTTConnect"
        );

        // An MQTT 5 controller's Get reaches the 3.1.1 agent without a
        // `/reply-to=` (its Response Topic is invisible to 3.1.1): mismatch,
        // and the controller's topic is configured, so R-MQTT.26a applies.
        let raw = raw_v5(broker.port(), "raw-ctrl").await;
        publish_raw(
            &raw,
            "usp/agent/proto::room101",
            Some("usp/controller/self::rules"),
            get_record(CTRL, "g-1"),
        )
        .await;
        let (topic, _, _, payload) = wire.recv().await.unwrap();
        assert_eq!(topic, "usp/controller/self::rules/reply-to=usp%2Fagent%2Fproto::room101");
        let answer = usp_proto::decode::Limits::default().decode_record(payload).unwrap();
        assert_eq!((answer.to_id.as_str(), answer.from_id.as_str()), (CTRL, AGENT));
        let msg = answer.msg().unwrap();
        let error = msg.as_error().expect("an Error answers the mismatched request");
        assert_eq!((msg.msg_id(), error.err_code), ("g-1", 7100));
        assert!(error.err_msg.contains("MQTT version mismatch"), "{}", error.err_msg);
        // Dropped before the Error was published, so never delivered.
        assert!(incoming.try_recv().is_err(), "the mismatched request was not delivered");
        let notify = Record::no_session_context_msg(
            CTRL,
            AGENT,
            &Msg::request("n-1", Notify::value_change("s", true, "Device.X", "1")),
        );
        assert_eq!(
            sender.send(CTRL, notify.encode_to_bytes()).await,
            Err(LinkError::VersionMismatch(CTRL.into())),
            "communication with the controller ceased"
        );

        // A sender whose topic is not known is not covered by the rule: its
        // record is delivered as before.
        publish_raw(&raw, "usp/agent/proto::room101", Some("x/y"), get_record("proto::stranger", "s-1"))
            .await;
        let delivered =
            usp_proto::decode::Limits::default().decode_record(incoming.recv().await.unwrap()).unwrap();
        assert_eq!(delivered.from_id, "proto::stranger");

        // The controller fixes it: it now sends the 3.1.1 way.
        let fixed_topic = "usp/agent/proto::room101/reply-to=usp%2Fcontroller%2Fself::rules";
        publish_raw(&raw, fixed_topic, None, get_record(CTRL, "g-2")).await;
        let delivered =
            usp_proto::decode::Limits::default().decode_record(incoming.recv().await.unwrap()).unwrap();
        assert_eq!(delivered.msg().unwrap().msg_id(), "g-2");
        assert_eq!(sender.send(CTRL, notify.encode_to_bytes()).await, Ok(()), "communication resumed");
    })
    .await;
}

#[tokio::test]
async fn refuse_a_v5_controller_ceases_with_an_agent_that_announces_mqtt_3_1_1() {
    bounded(async {
        let broker = Mosquitto::start();
        let mut wire = spy(broker.port(), "usp/controller/#").await;
        let cfg = refusing(config(CTRL, Role::Controller, MqttVersion::V5, broker.port()));
        let (_ctrl, Link { sender, mut incoming }) = MqttClient::connect(cfg).await.unwrap();
        let with_ctrl = |c: MqttConfig| c.with_peer(CTRL, "usp/controller/self::rules");

        let old_agent = agent(MqttVersion::V311, broker.port(), with_ctrl).await;
        let (_, _, _, connect) = wire.recv().await.unwrap();
        assert_eq!(usp_proto::view::RecordView::parse(&connect).unwrap().from_id, AGENT);
        // A marker from a matching MQTT 5 peer, published after mosquitto
        // handled the agent's MQTTConnect, so delivered to the controller
        // after it: the first record the controller hands over is the
        // marker, because the MQTTConnect was refused.
        let raw = raw_v5(broker.port(), "marker").await;
        let marker = Record::websocket_connect(CTRL, "proto::marker").encode_to_bytes();
        publish_raw(&raw, "usp/controller/self::rules", Some("usp/agent/proto::marker"), marker.clone()).await;
        assert_eq!(incoming.recv().await.unwrap(), marker, "the 3.1.1 MQTTConnect was not delivered");
        let get = get_record(CTRL, "g-1");
        assert_eq!(sender.send(AGENT, get.clone()).await, Err(LinkError::VersionMismatch(AGENT.into())));
        old_agent.mqtt.shutdown(Duration::from_secs(5)).await;

        // The agent comes back speaking MQTT 5: its MQTTConnect shows our
        // version, so communication resumes.
        let _new_agent = agent(MqttVersion::V5, broker.port(), with_ctrl).await;
        let connect = usp_proto::decode::Limits::default().decode_record(incoming.recv().await.unwrap()).unwrap();
        assert_eq!(connect.from_id, AGENT);
        assert!(matches!(
            connect.record_type,
            Some(usp_proto::usp_record::record::RecordType::MqttConnect(ref c)) if c.version == MqttVersion::V5 as i32
        ));
        assert_eq!(sender.send(AGENT, get).await, Ok(()));
    })
    .await;
}
