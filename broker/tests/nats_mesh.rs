//! The mesh on a real 3-server NATS cluster (Debian's nats-server 2.9, with
//! routes and JetStream): uspmesh nodes A, B and C, each on its own server;
//! real MQTT clients as Agents and Controllers.

// An integration test crate: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/nats_cluster.rs"]
mod nats_cluster;

use bytes::Bytes;
use common::*;
use nats_cluster::NatsCluster;
use rumqttc::v5::mqttbytes::QoS as Q5;
use usp_broker::{
    BrokerHandle,
    nats::{NatsConfig, NatsNode},
};

const CTL: &str = "proto::ctl";

/// Waits for what depends on the cluster recovering from a lost server (a
/// JetStream leader election: a few seconds, far more on a saturated
/// machine) at most 90 s.
async fn after_failover<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(90), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// One uspmesh node: a broker and its NATS side.
struct Node {
    broker: BrokerHandle,
    nats: NatsNode,
}

async fn node(name: &str, server: &str) -> Node {
    node_with_replicas(name, server, 3).await
}

/// A node whose streams and buckets keep `replicas` copies.
async fn node_with_replicas(name: &str, server: &str, replicas: usize) -> Node {
    let broker = broker(|c| c.access.controllers = vec![CTL.into()]).await;
    let mut config = NatsConfig {
        servers: vec![server.to_owned()],
        site: "hq".into(),
        node: name.into(),
        ..NatsConfig::default()
    };
    // With 3: survive the loss of one of the three servers.
    config.mesh.replicas = replicas;
    config.mesh.node_ttl_ms = 1_500;
    config.events.stream.replicas = replicas;
    config.rules.replicas = replicas;
    let nats =
        within("node start (JetStream cluster ready)", NatsNode::start(&broker, config)).await.unwrap();
    Node { broker, nats }
}

async fn mesh(cluster: &NatsCluster) -> Vec<Node> {
    let urls = cluster.urls();
    let mut nodes = Vec::new();
    for (name, url) in ["a", "b", "c"].iter().zip(&urls) {
        nodes.push(node(name, url).await);
    }
    nodes
}

/// An MQTT 5 endpoint subscribed to its own topic.
async fn endpoint(node: &Node, eid: &str) -> (Mqtt5, String) {
    let mut client = Mqtt5::connect(node.broker.mqtt_addrs()[0], eid).await;
    let topic = client.response_information().unwrap();
    client.subscribe(&topic, Q5::AtLeastOnce).await;
    (client, topic)
}

/// The Controller sends a Get to the Agent, which answers: both Records
/// must arrive, each with the sender's reply topic.
async fn request_response(ctl: &mut Mqtt5, ctl_topic: &str, agent: &mut Mqtt5, agent_eid: &str, id: &str) {
    let agent_topic = format!("usp/agent/{agent_eid}");
    let request = get_request(CTL, agent_eid, id);
    ctl.publish(&agent_topic, Q5::AtLeastOnce, request.clone(), Some(ctl_topic)).await;
    let got = within("the request on the Agent's node", agent.next_publish()).await;
    assert_eq!(got.payload, request);
    assert_eq!(&got.topic[..], agent_topic.as_bytes());
    let reply_to = got.properties.unwrap().response_topic.unwrap();
    assert_eq!(reply_to, ctl_topic, "the reply topic crosses the mesh");

    let response = get_response(agent_eid, CTL, id);
    agent.publish(&reply_to, Q5::AtLeastOnce, response.clone(), Some(&agent_topic)).await;
    let got = within("the response on the Controller's node", ctl.next_publish()).await;
    assert_eq!(got.payload, response);
    assert_eq!(msg_id(&got.payload), id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_node_request_response_over_mqtt() {
    let cluster = NatsCluster::start(3).await;
    let nodes = mesh(&cluster).await;
    let (a, b) = (&nodes[0], &nodes[1]);

    let (mut agent, _) = endpoint(a, "proto::agent-1").await;
    let (mut ctl, ctl_topic) = endpoint(b, CTL).await;
    // Every node learns where the endpoints are.
    for n in &nodes {
        within("registry: agent on a", n.nats.wait_located("proto::agent-1", Some("a"))).await;
        within("registry: controller on b", n.nats.wait_located(CTL, Some("b"))).await;
    }

    for i in 0..5 {
        request_response(&mut ctl, &ctl_topic, &mut agent, "proto::agent-1", &format!("req-{i}")).await;
    }
    let (sa, sb) = (a.nats.stats(), b.nats.stats());
    assert_eq!((sb.forwarded, sa.received), (5, 5), "requests went b → a through NATS");
    assert_eq!((sa.forwarded, sb.received), (5, 5), "responses went a → b through NATS");
    assert_eq!(sa.forward_dropped + sb.forward_dropped + sa.received_refused + sb.received_refused, 0);
    assert_eq!(nodes[2].nats.stats().received, 0, "node c holds neither endpoint");
    assert_eq!(b.broker.stats().unrouted, 0, "a Record that left through the mesh is not unrouted");

    // A Record for an endpoint the registry does not list is still handed
    // to the mesh (it may have connected elsewhere a moment ago; NATS drops
    // it when nobody listens) and counted as such; nobody receives it.
    ctl.publish("usp/agent/proto::nobody", Q5::AtLeastOnce, get_request(CTL, "proto::nobody", "x"), None)
        .await;
    ctl.next_puback().await;
    // (Counted when offered, before the PUBACK; `forwarded` follows once
    // the publisher task has sent it.)
    assert_eq!(b.nats.stats().forwarded_unlisted, 1);
    assert_eq!(b.broker.stats().unrouted, 0);

    // A notification crosses the mesh to the Controller and becomes an
    // event in the site's stream, published by the Agent's node.
    let msg =
        usp_proto::Msg::request("n-1", usp_proto::usp::Notify::value_change("s", false, "Device.T.V", "1"));
    let note = usp_proto::Record::no_session_context_msg(CTL, "proto::agent-1", &msg).encode_to_bytes();
    agent.publish(&ctl_topic, Q5::AtLeastOnce, note.clone(), None).await;
    assert_eq!(within("the notification on b", ctl.next_publish()).await.payload, note);
    let js = async_nats::jetstream::new(async_nats::connect(cluster.urls()[2].as_str()).await.unwrap());
    let stream = js.get_stream(a.nats.stream_name().unwrap()).await.unwrap();
    let consumer =
        stream.create_consumer(async_nats::jetstream::consumer::pull::Config::default()).await.unwrap();
    let mut events = consumer.messages().await.unwrap();
    let event = within("the event", futures_util::StreamExt::next(&mut events)).await.unwrap().unwrap();
    assert_eq!(event.payload, note);
    assert_eq!(event.subject.as_str(), "usp.hq.notify.proto__agent-1.value=5Fchange");
    let node = event.headers.as_ref().and_then(|h| h.get(usp_broker::nats::headers::NODE)).unwrap();
    assert_eq!(node.as_str(), "a");

    // The Agent leaves: its registry entry goes with it.
    agent.client.disconnect().await.unwrap();
    agent.closed().await;
    within("registry: agent gone", b.nats.wait_located("proto::agent-1", None)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_node_request_response_with_an_mqtt_311_agent() {
    let cluster = NatsCluster::start(3).await;
    let nodes = mesh(&cluster).await;
    let (b, c) = (&nodes[1], &nodes[2]);

    // A 3.1.1 Agent on node c (ClientId = Endpoint ID, reply topic in the
    // `/reply-to=` suffix), an MQTT 5 Controller on node b.
    let agent_eid = "proto::agent-311";
    let mut agent = Mqtt311::connect(c.broker.mqtt_addrs()[0], agent_eid).await;
    agent.subscribe(&format!("usp/agent/{agent_eid}/#"), rumqttc::QoS::AtLeastOnce).await;
    let (mut ctl, ctl_topic) = endpoint(b, CTL).await;
    within("registry: agent on c", b.nats.wait_located(agent_eid, Some("c"))).await;
    within("registry: controller on b", c.nats.wait_located(CTL, Some("b"))).await;

    let request = get_request(CTL, agent_eid, "r-311");
    ctl.publish(&format!("usp/agent/{agent_eid}"), Q5::AtLeastOnce, request.clone(), Some(&ctl_topic)).await;
    let got = within("the request on c", agent.next_publish()).await;
    assert_eq!(got.payload, request);
    assert_eq!(got.topic, format!("usp/agent/{agent_eid}/reply-to=usp%2Fcontroller%2Fproto::ctl"));

    // The 3.1.1 answer: to the decoded reply topic, with its own suffix.
    let response = get_response(agent_eid, CTL, "r-311");
    let topic = format!("{ctl_topic}/reply-to=usp%2Fagent%2F{agent_eid}");
    agent.client.publish(topic, rumqttc::QoS::AtLeastOnce, false, response.clone()).await.unwrap();
    let got = within("the response on b", ctl.next_publish()).await;
    assert_eq!(got.payload, response);
    assert_eq!(got.properties.unwrap().response_topic, Some(format!("usp/agent/{agent_eid}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_from_nats_are_checked_before_routing() {
    let cluster = NatsCluster::start(3).await;
    let nodes = mesh(&cluster).await;
    let a = &nodes[0];
    let (mut agent, _) = endpoint(a, "proto::agent-2").await;
    within("registry", nodes[1].nats.wait_located("proto::agent-2", Some("a"))).await;

    // A raw NATS client plays a cloud Controller: a Record whose to_id is
    // another endpoint than the subject's is refused; garbage too; a good
    // one is delivered on the Agent's topic.
    let client = async_nats::connect(cluster.urls()[1].as_str()).await.unwrap();
    let subject = "usp.hq.ep.proto__agent-2";
    client.publish(subject, get_request("proto::cloud", "proto::other", "bad-1")).await.unwrap();
    client.publish(subject, Bytes::from_static(b"\xff\xff not a record")).await.unwrap();
    let good = get_request("proto::cloud", "proto::agent-2", "good-1");
    client.publish(subject, good.clone()).await.unwrap();
    client.flush().await.unwrap();
    let got = within("the good Record", agent.next_publish()).await;
    assert_eq!(got.payload, good);
    assert_eq!(&got.topic[..], b"usp/agent/proto::agent-2");
    let stats = a.nats.stats();
    assert_eq!((stats.received, stats.received_refused), (1, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_controller_on_nats_joins_the_mesh_and_gets_answers() {
    let cluster = NatsCluster::start(3).await;
    let nodes = mesh(&cluster).await;
    let a = &nodes[0];
    let (mut agent, agent_topic) = endpoint(a, "proto::agent-5").await;
    within("registry", nodes[1].nats.wait_located("proto::agent-5", Some("a"))).await;

    // The cloud Controller joins as the mesh's nodes do: a heartbeat in
    // the nodes bucket, its Endpoint ID in the registry, a subscription on
    // its endpoint subject.
    let client = async_nats::connect(cluster.urls()[1].as_str()).await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let heartbeats = js.get_key_value("USP_hq_NODES").await.unwrap();
    tokio::spawn(async move {
        loop {
            heartbeats.put("cloud", Bytes::new()).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    });
    let mut inbox = client.subscribe("usp.hq.ep.proto__cloud").await.unwrap();
    js.get_key_value("USP_hq_REGISTRY").await.unwrap().put("proto__cloud", "cloud".into()).await.unwrap();
    within("registry: cloud", a.nats.wait_located("proto::cloud", Some("cloud"))).await;

    // Its request names a reply topic; a topic outside the Agent's own is
    // not trusted, the Agent's own is used instead.
    let mut h = async_nats::HeaderMap::new();
    h.insert(usp_broker::nats::headers::REPLY_TO, "usp/controller/proto::cloud");
    h.insert(usp_broker::nats::headers::TOPIC, "usp/agent/proto::somebody-else");
    let request = get_request("proto::cloud", "proto::agent-5", "cloud-1");
    client.publish_with_headers("usp.hq.ep.proto__agent-5", h, request.clone()).await.unwrap();
    let got = within("the cloud request", agent.next_publish()).await;
    assert_eq!(got.payload, request);
    assert_eq!(&got.topic[..], agent_topic.as_bytes());
    let reply_to = got.properties.unwrap().response_topic.unwrap();
    assert_eq!(reply_to, "usp/controller/proto::cloud");

    // The Agent answers as to any Controller; the answer leaves through NATS.
    let response = get_response("proto::agent-5", "proto::cloud", "cloud-1");
    agent.publish(&reply_to, Q5::AtLeastOnce, response.clone(), Some(&agent_topic)).await;
    let got = within("the answer on NATS", futures_util::StreamExt::next(&mut inbox)).await.unwrap();
    assert_eq!(got.payload, response);
    let h = got.headers.unwrap();
    assert_eq!(h.get(usp_broker::nats::headers::TOPIC).unwrap().as_str(), "usp/controller/proto::cloud");
    assert_eq!(h.get(usp_broker::nats::headers::REPLY_TO).unwrap().as_str(), agent_topic);
    assert_eq!(h.get(usp_broker::nats::headers::NODE).unwrap().as_str(), "a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_agent_reconnects_to_another_node_and_carries_on() {
    let mut cluster = NatsCluster::start(3).await;
    let mut nodes = mesh(&cluster).await;

    let (mut agent, _) = endpoint(&nodes[0], "proto::agent-3").await;
    let (_stays_away, _) = endpoint(&nodes[0], "proto::agent-4").await;
    let (mut ctl, ctl_topic) = endpoint(&nodes[1], CTL).await;
    within("registry", nodes[1].nats.wait_located("proto::agent-3", Some("a"))).await;
    within("registry", nodes[1].nats.wait_located("proto::agent-4", Some("a"))).await;
    within("registry", nodes[0].nats.wait_located(CTL, Some("b"))).await;
    request_response(&mut ctl, &ctl_topic, &mut agent, "proto::agent-3", "before").await;

    // Node a dies (no graceful leave), and so does its NATS server.
    let a = nodes.remove(0);
    drop(a.nats);
    drop(a.broker);
    cluster.servers[0].kill().await;
    within("the Agent sees its node go", agent.closed()).await;

    // The Agent reconnects to node c; the entry moves there, and requests
    // reach it again.
    let (b, c) = (&nodes[0], &nodes[1]);
    let (mut agent, _) = endpoint(c, "proto::agent-3").await;
    after_failover("registry: agent moved to c", b.nats.wait_located("proto::agent-3", Some("c"))).await;
    after_failover("registry: controller still on b", c.nats.wait_located(CTL, Some("b"))).await;
    request_response(&mut ctl, &ctl_topic, &mut agent, "proto::agent-3", "after").await;

    // The Agent that did not come back expires with node a's heartbeat.
    after_failover("registry: dead node's entry expires", b.nats.wait_located("proto::agent-4", None)).await;
    after_failover("registry: ... on every node", c.nats.wait_located("proto::agent-4", None)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_group_rule_jobs_run_exactly_once_across_three_nodes() {
    let cluster = NatsCluster::start(3).await;
    let nodes = mesh(&cluster).await;

    // Every node runs a job worker; executions are reported here.
    let (tx, mut executed) = tokio::sync::mpsc::unbounded_channel();
    for n in &nodes {
        let mut jobs = n.nats.rule_work().jobs().await.unwrap();
        let (tx, node) = (tx.clone(), n.nats.node().to_owned());
        tokio::spawn(async move {
            while let Some(job) = jobs.next().await {
                let _ = tx.send((node.clone(), job));
            }
        });
    }

    // 30 jobs from node a: each runs once, somewhere.
    for i in 0..30 {
        nodes[0].nats.rule_work().submit(&format!("job-{i}"), Bytes::from(format!("p{i}"))).await.unwrap();
    }
    // A schedule firing on all three nodes for 10 minutes: each firing
    // becomes one job, whoever wins the lease.
    let mut wins = 0;
    for minute in 0..10 {
        let (key, job) = (format!("rule:lights-off@{minute}"), format!("sched-{minute}"));
        let claims = futures_util::future::join_all(
            nodes.iter().map(|n| n.nats.rule_work().submit_once(&key, &job, Bytes::new())),
        )
        .await;
        let won: Vec<bool> = claims.into_iter().map(Result::unwrap).collect();
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "one node wins {key}: {won:?}");
        wins += 1;
    }

    let mut seen = std::collections::HashMap::new();
    let mut by_node = std::collections::HashMap::new();
    for _ in 0..30 + wins {
        let (node, job) = within("a job execution", executed.recv()).await.unwrap();
        *seen.entry(job.name.clone()).or_insert(0) += 1;
        *by_node.entry(node).or_insert(0) += 1;
        if let Some(i) = job.name.strip_prefix("job-") {
            assert_eq!(job.payload, Bytes::from(format!("p{i}")));
            assert_eq!(job.submitted_by, "a");
        }
    }
    assert_eq!(seen.len(), 40, "every job ran: {seen:?}");
    assert!(seen.values().all(|n| *n == 1), "no job ran twice: {seen:?}");
    assert!(by_node.len() > 1, "the queue group spreads the work: {by_node:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_beyond_the_registry_event_channel_is_registered_and_released() {
    // Two nodes on one server suffice here: this is about node a keeping
    // up with its own broker's registry.
    let cluster = NatsCluster::start(1).await;
    let url = &cluster.urls()[0];
    let (a, b) = (node_with_replicas("a", url, 1).await, node_with_replicas("b", url, 1).await);

    // 1,500 endpoints attach at once: more events than the registry's
    // channel keeps (1,024), so node a resyncs from a snapshot.
    let links: Vec<_> = (0..1_500).map(|i| a.broker.link(&format!("proto::burst-{i}")).unwrap()).collect();
    for i in 0..1_500 {
        let eid = format!("proto::burst-{i}");
        within("every endpoint located", b.nats.wait_located(&eid, Some("a"))).await;
    }
    drop(links);
    for i in 0..1_500 {
        let eid = format!("proto::burst-{i}");
        within("every endpoint released", b.nats.wait_located(&eid, None)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_joins_later_knows_the_endpoints_already_there() {
    let cluster = NatsCluster::start(1).await;
    let url = &cluster.urls()[0];
    let a = node_with_replicas("a", url, 1).await;
    let _link = a.broker.link("proto::early").unwrap();
    within("registered", a.nats.wait_located("proto::early", Some("a"))).await;

    let b = node_with_replicas("b", url, 1).await;
    within("known to the newcomer", b.nats.wait_located("proto::early", Some("a"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_node_leaves_no_subscription_behind() {
    let cluster = NatsCluster::start(1).await;
    let a = node_with_replicas("a", &cluster.urls()[0], 1).await;
    let _link = a.broker.link("proto::orphan").unwrap();
    within("registered", a.nats.wait_located("proto::orphan", Some("a"))).await;

    // The NATS side of node a goes away without a goodbye (dropped, as in a
    // crash); its broker and the NATS server stay up.
    drop(a.nats);
    let client = async_nats::connect(cluster.urls()[0].as_str()).await.unwrap();
    let probe = get_request("proto::cloud", "proto::orphan", "probe");
    // Nothing to await but the server's view: ask until nobody answers for
    // the endpoint's subject (a subscriber that stays would swallow the
    // request and let it time out instead).
    within("the endpoint's subscription to go", async {
        loop {
            let ask = client.request("usp.hq.ep.proto__orphan", probe.clone());
            match tokio::time::timeout(std::time::Duration::from_millis(200), ask).await {
                Ok(Err(e)) if e.kind() == async_nats::RequestErrorKind::NoResponders => return,
                _ => {}
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_shutdown_releases_the_nodes_endpoints_at_once() {
    let cluster = NatsCluster::start(1).await;
    let start = |name: &'static str, broker: BrokerHandle| {
        let mut config = NatsConfig {
            servers: cluster.urls(),
            site: "hq".into(),
            node: name.into(),
            ..NatsConfig::default()
        };
        // Far longer than the test: only the shutdown can remove entries.
        config.mesh.node_ttl_ms = 600_000;
        async move { Node { nats: NatsNode::start(&broker, config).await.unwrap(), broker } }
    };
    let a = start("a", broker(|_| {}).await).await;
    let b = start("b", broker(|_| {}).await).await;
    let _link = a.broker.link("proto::leaving").unwrap();
    within("registered", b.nats.wait_located("proto::leaving", Some("a"))).await;

    a.nats.shutdown().await;
    within("released", b.nats.wait_located("proto::leaving", None)).await;
    // Released, not merely hidden because node a's heartbeat went too.
    let js = async_nats::jetstream::new(async_nats::connect(cluster.urls()[0].as_str()).await.unwrap());
    let registry = js.get_key_value("USP_hq_REGISTRY").await.unwrap();
    assert_eq!(registry.get("proto__leaving").await.unwrap(), None);
    let nodes = js.get_key_value("USP_hq_NODES").await.unwrap();
    assert_eq!(nodes.get("a").await.unwrap(), None);
    assert!(nodes.get("b").await.unwrap().is_some());
}
