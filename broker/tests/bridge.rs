//! The cloud bridge against a real cloud server: Debian's `mosquitto`,
//! started by each test on its own loopback port, with real MQTT 5 clients
//! (rumqttc) as the cloud Controller, as local Agents on the embedded
//! broker, and as a watcher of site events.
//!
//! Outages are real: the cloud server is stopped (SIGTERM; it saves its
//! sessions) and started again on the same port. The cloud Controller keeps
//! a persistent session (Clean Start 0, Session Expiry), as a cloud service
//! would, so what the bridge delivers while it is offline waits for it at
//! the server.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    collections::HashSet,
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
};

use bytes::Bytes;
use common::{Mqtt5, broker, get_request, get_response, msg_id, record, within};
use rumqttc::v5::{self, mqttbytes::QoS};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};
use usp_broker::{
    BrokerHandle,
    bridge::{
        Bridge, BridgeConfig, BridgeError, BridgeHandle, CloudController, EventFilter, EventsConfig,
        FsyncPolicy, OverflowPolicy, QueueConfig, UpstreamMessage,
    },
};
use usp_proto::{Msg, Record, usp::Notify};

const CLOUD: &str = "proto::cloud";
const AGENT: &str = "proto::agent-1";

/// A mosquitto process as the cloud MQTT server.
struct Cloud {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// More mosquitto configuration (e.g. a TLS listener).
    extra: String,
}

impl Cloud {
    /// Picks a free port and starts mosquitto on it, its state in `dir`.
    async fn start(dir: &Path) -> Cloud {
        let mut cloud = Cloud::reserve(dir);
        cloud.restart().await;
        cloud
    }

    /// Picks a free port for a server that is not started yet.
    fn reserve(dir: &Path) -> Cloud {
        let port = free_port();
        Cloud { port, dir: dir.to_owned(), child: None, extra: String::new() }
    }

    /// Starts mosquitto (again) on the same port and waits until it runs.
    async fn restart(&mut self) {
        let conf = self.dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {} 127.0.0.1\nallow_anonymous true\nuser root\npersistence true\n\
                 persistence_location {}/\nlog_dest stderr\nlog_type information\nmax_queued_messages 100000\n{}",
                self.port,
                self.dir.display(),
                self.extra,
            ),
        )
        .unwrap();
        let mut child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("mosquitto is installed (apt-get install mosquitto)");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        within("mosquitto running", async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.contains(" running") {
                    return;
                }
            }
            panic!("mosquitto exited before running");
        })
        .await;
        // Keep draining its log so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
    }

    /// Stops mosquitto with SIGTERM (it saves its sessions) and waits for it.
    async fn stop(&mut self) {
        let mut child = self.child.take().expect("running");
        let pid = child.id().unwrap().to_string();
        let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        within("mosquitto exit", child.wait()).await.unwrap();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The cloud Controller: an MQTT 5 client of the cloud server with a
/// persistent session, subscribed to its topic.
async fn cloud_controller(cloud_port: u16) -> Mqtt5 {
    let mut options = v5::MqttOptions::new("cloud-controller", "127.0.0.1", cloud_port);
    options.set_clean_start(false);
    options.set_session_expiry_interval(Some(3600));
    let mut ctl = Mqtt5::start(options).await.expect("cloud controller connects");
    ctl.subscribe(&format!("usp/controller/{CLOUD}"), QoS::AtLeastOnce).await;
    ctl
}

fn bridge_config(cloud_port: u16, queue_dir: &Path) -> BridgeConfig {
    BridgeConfig {
        url: format!("mqtt://127.0.0.1:{cloud_port}"),
        client_id: "site-bridge".into(),
        username: None,
        password: None,
        tls: Default::default(),
        controllers: vec![CloudController { endpoint_id: CLOUD.into(), topic: None }],
        agent_topic_prefix: "usp/agent/".into(),
        keep_alive_s: 30,
        retry_min_ms: 50,
        retry_max_ms: 400,
        max_inflight: 16,
        observer_id: "self::bridge".into(),
        events: EventsConfig::default(),
        queue: QueueConfig {
            dir: queue_dir.to_owned(),
            max_bytes: 64 << 20,
            max_records: 10_000,
            overflow: OverflowPolicy::DropOldest,
            fsync: FsyncPolicy::Always,
            segment_bytes: 4096,
        },
    }
}

async fn site() -> BrokerHandle {
    broker(|c| {
        c.access.controllers.push(CLOUD.into());
        c.access.controllers.push("proto::local-ctl".into());
        c.access.admins.push("self::bridge".into());
    })
    .await
}

/// A local Agent on the embedded broker.
async fn agent(broker: &BrokerHandle, eid: &str) -> Mqtt5 {
    let mut agent = Mqtt5::connect(broker.mqtt_addrs()[0], eid).await;
    let own = agent.response_information().expect("response information");
    agent.subscribe(&own, QoS::AtLeastOnce).await;
    agent
}

/// The agent sends `ids` (as GetResp msg_ids) to the cloud Controller.
async fn send_to_cloud(agent: &Mqtt5, ids: impl IntoIterator<Item = String>) {
    for id in ids {
        agent
            .publish(
                &format!("usp/controller/{CLOUD}"),
                QoS::AtLeastOnce,
                get_response(AGENT, CLOUD, &id),
                None,
            )
            .await;
    }
}

/// Receives until every id of `expected` was seen; returns the first
/// occurrences in arrival order. QoS 1 may repeat what was in flight when a
/// link broke (also on the cloud Controller's own session): repeats, and
/// ids of `earlier`, are skipped.
async fn receive_ids(ctl: &mut Mqtt5, expected: &[String], earlier: &[String]) -> Vec<String> {
    let wanted: HashSet<&String> = expected.iter().collect();
    let mut seen = HashSet::new();
    let mut order = Vec::new();
    while seen.len() < wanted.len() {
        let p = ctl.next_publish().await;
        let id = msg_id(&p.payload);
        if earlier.contains(&id) {
            continue;
        }
        assert!(wanted.contains(&id), "unexpected record {id}");
        if seen.insert(id.clone()) {
            order.push(id);
        }
    }
    order
}

fn ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("n-{i:04}")).collect()
}

async fn connected(bridge: &BridgeHandle) {
    within("bridge connected", bridge.wait_for(|s| s.connected)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_controller_gets_a_local_agent_through_the_bridge() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = Cloud::start(dir.path()).await;
    let site = site().await;
    let bridge = Bridge::start(&site, bridge_config(cloud.port, &dir.path().join("queue"))).await.unwrap();
    connected(&bridge).await;
    let mut agent = agent(&site, AGENT).await;
    let mut ctl = cloud_controller(cloud.port).await;

    // A Record claiming another sender is refused at the bridge.
    ctl.publish(
        &format!("usp/agent/{AGENT}"),
        QoS::AtLeastOnce,
        get_request("proto::evil", AGENT, "spoof"),
        None,
    )
    .await;
    within("refusal", bridge.wait_for(|s| s.refused == 1)).await;
    // So is one addressed to a cloud Controller (it would loop back up).
    ctl.publish(&format!("usp/agent/{AGENT}"), QoS::AtLeastOnce, get_request(CLOUD, CLOUD, "loop"), None)
        .await;
    within("refusal", bridge.wait_for(|s| s.refused == 2)).await;

    // Get: cloud Controller → mosquitto → bridge → broker → Agent.
    ctl.publish(
        &format!("usp/agent/{AGENT}"),
        QoS::AtLeastOnce,
        get_request(CLOUD, AGENT, "get-1"),
        Some(&format!("usp/controller/{CLOUD}")),
    )
    .await;
    let get = agent.next_publish().await;
    assert_eq!(msg_id(&get.payload), "get-1", "the spoofed record never arrived before it");
    assert_eq!(record(&get.payload).from_id, CLOUD);
    let reply_to = get.properties.as_ref().and_then(|p| p.response_topic.clone()).expect("a Response Topic");

    // GetResp: Agent → broker → bridge → mosquitto → cloud Controller.
    agent.publish(&reply_to, QoS::AtLeastOnce, get_response(AGENT, CLOUD, "get-1"), None).await;
    let resp = ctl.next_publish().await;
    assert_eq!(resp.topic, Bytes::from(format!("usp/controller/{CLOUD}")));
    assert_eq!(msg_id(&resp.payload), "get-1");
    assert_eq!(record(&resp.payload).from_id, AGENT);
    let props = resp.properties.expect("properties");
    assert_eq!(props.response_topic.as_deref(), Some(format!("usp/agent/{AGENT}").as_str()));
    assert_eq!(props.content_type.as_deref(), Some("usp.msg"));

    let status = within("delivery counted", bridge.wait_for(|s| s.delivered == 1 && s.queued == 0)).await;
    assert_eq!((status.received, status.refused), (1, 2));
    bridge.shutdown().await;
}

fn notify(from: &str, to: &str, id: &str, notify: Notify) -> Bytes {
    Record::no_session_context_msg(to, from, &Msg::request(id, notify)).encode_to_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_events_chosen_by_filter_and_rule_events_go_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = Cloud::start(dir.path()).await;
    let site = site().await;
    let mut config = bridge_config(cloud.port, &dir.path().join("queue"));
    config.events = EventsConfig {
        topic: "site/events/{eid}/{kind}".into(),
        filters: vec![EventFilter { endpoint_id: "proto::door-*".into(), kinds: vec!["event".into()] }],
        ..EventsConfig::default()
    };
    let bridge = Bridge::start(&site, config).await.unwrap();
    connected(&bridge).await;
    let mut watcher = Mqtt5::start(v5::MqttOptions::new("watcher", "127.0.0.1", cloud.port)).await.unwrap();
    watcher.subscribe("site/events/#", QoS::AtLeastOnce).await;
    watcher.subscribe("usp/rules/#", QoS::AtLeastOnce).await;

    let door = agent(&site, "proto::door-1").await;
    let mut light = agent(&site, "proto::light-1").await;
    let to_local = "usp/controller/proto::local-ctl";
    let event = |n: &str| Notify::event("s", false, "Device.Door.1.", "Opened!", [("n", n)]);
    door.publish(
        to_local,
        QoS::AtLeastOnce,
        notify("proto::door-1", "proto::local-ctl", "e1", event("1")),
        None,
    )
    .await;
    let vc = Notify::value_change("s", false, "Device.Door.1.Open", "true");
    door.publish(to_local, QoS::AtLeastOnce, notify("proto::door-1", "proto::local-ctl", "vc", vc), None)
        .await;
    light
        .publish(
            to_local,
            QoS::AtLeastOnce,
            notify("proto::light-1", "proto::local-ctl", "l1", event("x")),
            None,
        )
        .await;
    // Its PUBACK means the broker has routed it (to the observer too), so
    // it is ahead of e2 in the observer's queue.
    light.next_puback().await;
    door.publish(
        to_local,
        QoS::AtLeastOnce,
        notify("proto::door-1", "proto::local-ctl", "e2", event("2")),
        None,
    )
    .await;
    bridge
        .events()
        .send(UpstreamMessage { topic: "door-alarm".into(), payload: Bytes::from_static(b"{\"door\":1}") })
        .await
        .unwrap();

    // Only door events arrive, in order; the value change and the light's
    // event (published in between) never do. The rule event takes its own
    // path, so it may come anywhere among them.
    let mut events = Vec::new();
    let mut rule = None;
    for _ in 0..3 {
        let p = watcher.next_publish().await;
        if p.topic == Bytes::from_static(b"usp/rules/door-alarm") {
            rule = Some(p);
            continue;
        }
        assert_eq!(p.topic, Bytes::from_static(b"site/events/proto::door-1/event"));
        let props = p.properties.as_ref().expect("properties");
        assert_eq!(props.content_type.as_deref(), Some("usp.msg"));
        assert!(props.user_properties.contains(&("usp-endpoint-id".into(), "proto::door-1".into())));
        assert!(props.user_properties.contains(&("usp-notify-kind".into(), "event".into())));
        events.push(msg_id(&p.payload));
    }
    assert_eq!(events, ["e1", "e2"]);
    let rule = rule.expect("the rule event");
    assert_eq!(rule.payload, Bytes::from_static(b"{\"door\":1}"));
    assert_eq!(rule.properties.and_then(|p| p.content_type), None, "rule events are not USP Records");
    within("all delivered", bridge.wait_for(|s| s.delivered == 3 && s.queued == 0)).await;
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_queued_while_the_uplink_is_down_all_arrive_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut cloud = Cloud::start(dir.path()).await;
    let site = site().await;
    let bridge = Bridge::start(&site, bridge_config(cloud.port, &dir.path().join("queue"))).await.unwrap();
    connected(&bridge).await;
    let agent = agent(&site, AGENT).await;
    let mut ctl = cloud_controller(cloud.port).await;

    send_to_cloud(&agent, ids(0..50)).await;
    assert_eq!(receive_ids(&mut ctl, &ids(0..50), &[]).await, ids(0..50));

    // Cut: the cloud server goes away; the bridge notices and queues.
    cloud.stop().await;
    within("uplink down", bridge.wait_for(|s| !s.connected)).await;
    send_to_cloud(&agent, ids(50..300)).await;
    let status = within("250 queued", bridge.wait_for(|s| s.queued == 250)).await;
    assert!(!status.connected);

    // Restore: everything within the bound arrives, in order.
    cloud.restart().await;
    let status = within("queue drained", bridge.wait_for(|s| s.connected && s.queued == 0)).await;
    assert_eq!((status.dropped_oldest, status.dropped_newest, status.dropped_other), (0, 0, 0));
    assert!(status.sessions >= 2);
    let mut ctl = cloud_controller(cloud.port).await;
    assert_eq!(receive_ids(&mut ctl, &ids(50..300), &ids(0..50)).await, ids(50..300));
    bridge.shutdown().await;
}

/// Fills a bridge whose cloud server is down with 15 records under
/// `policy` (bound: 10 records), brings the server up, and returns the
/// bridge's final status and the ids the cloud Controller got.
async fn overflow(policy: OverflowPolicy, delivered: usize) -> (usp_broker::BridgeStatus, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut cloud = Cloud::start(dir.path()).await;
    drop(cloud_controller(cloud.port).await); // its session waits at the server
    cloud.stop().await;
    let site = site().await;
    let mut config = bridge_config(cloud.port, &dir.path().join("queue"));
    config.queue.max_records = 10;
    config.queue.overflow = policy;
    let bridge = Bridge::start(&site, config).await.unwrap();
    let agent = agent(&site, AGENT).await;
    send_to_cloud(&agent, ids(0..15)).await;
    let dropped = 15 - delivered as u64;
    let full = within(
        "queue full",
        bridge.wait_for(|s| s.queued == 10 && s.dropped_newest + s.dropped_oldest == dropped),
    )
    .await;
    assert!(!full.connected);
    cloud.restart().await;
    let status =
        within("delivered", bridge.wait_for(|s| s.delivered == delivered as u64 && s.queued == 0)).await;
    let mut ctl = cloud_controller(cloud.port).await;
    let mut got = Vec::new();
    for _ in 0..delivered {
        got.push(msg_id(&ctl.next_publish().await.payload));
    }
    bridge.shutdown().await;
    (status, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_drop_newest_keeps_the_first_and_counts_the_rest() {
    let (status, got) = overflow(OverflowPolicy::DropNewest, 10).await;
    assert_eq!(got, ids(0..10));
    assert_eq!((status.dropped_newest, status.dropped_oldest), (5, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_drop_oldest_keeps_the_last_and_counts_the_rest() {
    let (status, got) = overflow(OverflowPolicy::DropOldest, 10).await;
    assert_eq!(got, ids(5..15));
    assert_eq!((status.dropped_newest, status.dropped_oldest), (0, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_block_holds_the_senders_back_and_loses_nothing() {
    let (status, got) = overflow(OverflowPolicy::Block, 15).await;
    assert_eq!(got, ids(0..15));
    assert_eq!((status.dropped_newest, status.dropped_oldest, status.dropped_other), (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_records_survive_a_bridge_restart_and_a_damaged_tail() {
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("queue");
    let mut cloud = Cloud::reserve(dir.path());
    let site = site().await;

    // First run: the cloud is down; 40 records wait on disk at shutdown.
    let bridge = Bridge::start(&site, bridge_config(cloud.port, &queue)).await.unwrap();
    let agent = agent(&site, AGENT).await;
    send_to_cloud(&agent, ids(0..40)).await;
    within("40 queued", bridge.wait_for(|s| s.queued == 40)).await;
    bridge.shutdown().await;

    // A crash left half a frame at the end of the newest segment.
    let mut segments: Vec<_> = std::fs::read_dir(&queue)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segments.sort();
    let newest = segments.last().unwrap();
    let mut bytes = std::fs::read(newest).unwrap();
    bytes.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, 5, 6]);
    std::fs::write(newest, bytes).unwrap();

    // Second run on the same directory, the cloud back: all 40, in order.
    cloud.restart().await;
    let mut ctl = cloud_controller(cloud.port).await;
    let bridge = Bridge::start(&site, bridge_config(cloud.port, &queue)).await.unwrap();
    let status = bridge.status();
    assert_eq!((status.recovered, status.damaged_segments), (40, 1));
    assert_eq!(receive_ids(&mut ctl, &ids(0..40), &[]).await, ids(0..40));
    within("drained", bridge.wait_for(|s| s.queued == 0 && s.delivered == 40)).await;
    bridge.shutdown().await;

    // Third run: nothing delivered comes back.
    let bridge = Bridge::start(&site, bridge_config(cloud.port, &queue)).await.unwrap();
    assert_eq!((bridge.status().queued, bridge.status().recovered), (0, 0));
    bridge.shutdown().await;
}

#[tokio::test]
async fn bad_configurations_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let site = broker(|_| {}).await;
    let base = bridge_config(1, dir.path());
    let err = |c: BridgeConfig| async { Bridge::start(&site, c).await.unwrap_err().to_string() };
    assert!(err(BridgeConfig { url: "http://x".into(), ..base.clone() }).await.contains("scheme"));
    let mut dup = base.clone();
    dup.controllers.push(dup.controllers[0].clone());
    assert!(err(dup).await.contains("twice"));
    let mut observer = base.clone();
    observer.events.filters.push(EventFilter { endpoint_id: "*".into(), kinds: vec![] });
    assert!(err(observer).await.contains("admins"), "the observer must be an admin");
    let mut kind = base.clone();
    kind.events.filters.push(EventFilter { endpoint_id: "*".into(), kinds: vec!["valuechange".into()] });
    assert!(err(kind).await.contains("unknown notification kind"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_uplink_speaks_tls_with_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = usp_testkit::pki::Ca::new(dir.path(), "cloud-ca");
    let server = ca.server("server");
    let client = ca.client("site-42", None);
    let ca_path = ca.cert.cert_file.clone();
    let (server_cert, server_key) = (server.cert_file, server.key_file);
    let (client_cert, client_key) = (client.cert_file, client.key_file);

    // mosquitto: a plain listener for the test's clients, and a TLS one
    // requiring a client certificate for the bridge.
    let tls_port = free_port();
    let mut cloud = Cloud::reserve(dir.path());
    cloud.extra = format!(
        "listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n",
        ca_path.display(),
        server_cert.display(),
        server_key.display()
    );
    cloud.restart().await;
    let mut ctl = cloud_controller(cloud.port).await;

    let site = site().await;
    let mut config = bridge_config(cloud.port, &dir.path().join("queue"));
    config.url = format!("mqtts://127.0.0.1:{tls_port}");
    config.tls.ca = Some(ca_path.clone());
    config.tls.certificate = Some(client_cert);
    config.tls.private_key = Some(client_key);
    let bridge = Bridge::start(&site, config.clone()).await.unwrap();
    connected(&bridge).await;
    let agent = agent(&site, AGENT).await;
    send_to_cloud(&agent, ids(0..3)).await;
    assert_eq!(receive_ids(&mut ctl, &ids(0..3), &[]).await, ids(0..3));
    bridge.shutdown().await;

    // Half a client identity, or a CA file that is not there, is refused
    // at start.
    let mut half = config.clone();
    half.tls.private_key = None;
    assert!(matches!(Bridge::start(&site, half).await, Err(BridgeError::Tls(_))));
    let mut no_ca = config;
    no_ca.tls.ca = Some(dir.path().join("missing.pem"));
    assert!(matches!(Bridge::start(&site, no_ca).await, Err(BridgeError::Tls(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_the_cloud_server_cannot_take_is_dropped_not_retried_forever() {
    let dir = tempfile::tempdir().unwrap();
    let mut cloud = Cloud::reserve(dir.path());
    cloud.extra = "max_packet_size 1000\n".into();
    cloud.restart().await;
    let mut ctl = cloud_controller(cloud.port).await;
    let site = site().await;
    let bridge = Bridge::start(&site, bridge_config(cloud.port, &dir.path().join("queue"))).await.unwrap();
    connected(&bridge).await;
    let agent = agent(&site, AGENT).await;
    let big =
        Msg::request("big", Notify::event("s", false, "Device.X.", "Big!", [("blob", "x".repeat(2000))]));
    agent
        .publish(
            &format!("usp/controller/{CLOUD}"),
            QoS::AtLeastOnce,
            Record::no_session_context_msg(CLOUD, AGENT, &big).encode_to_bytes(),
            None,
        )
        .await;
    send_to_cloud(&agent, ids(0..3)).await;
    assert_eq!(receive_ids(&mut ctl, &ids(0..3), &[]).await, ids(0..3));
    let status = within("drained", bridge.wait_for(|s| s.queued == 0 && s.delivered == 3)).await;
    assert_eq!((status.dropped_other, status.sessions), (1, 1), "dropped once, no reconnect");
    bridge.shutdown().await;
}
