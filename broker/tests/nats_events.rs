//! Site events on a real nats-server (Debian's 2.9, JetStream on): Notify
//! Records from a real MQTT Agent land in the stream with their USP
//! metadata in headers, and a consumer that was offline reads them later.

// An integration test crate: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/nats_cluster.rs"]
mod nats_cluster;

use async_nats::jetstream::{self, consumer};
use bytes::Bytes;
use common::*;
use futures_util::StreamExt;
use nats_cluster::NatsCluster;
use rumqttc::v5::mqttbytes::QoS as Q5;
use usp_broker::nats::{NatsConfig, NatsNode, headers};
use usp_proto::{Msg, Record, usp::Notify};

const CTL: &str = "proto::ctl";
/// A dot in the Endpoint ID: encoded, it stays one subject token.
const AGENT: &str = "proto::sensor.1";

fn notify(msg_id: &str, body: Notify) -> Bytes {
    Record::no_session_context_msg(CTL, AGENT, &Msg::request(msg_id, body)).encode_to_bytes()
}

async fn site(kinds: &[&str]) -> (NatsCluster, usp_broker::BrokerHandle, NatsNode) {
    let cluster = NatsCluster::start(1).await;
    let broker = broker(|c| c.access.controllers = vec![CTL.into()]).await;
    let mut config =
        NatsConfig { servers: cluster.urls(), site: "hq".into(), node: "a".into(), ..NatsConfig::default() };
    config.events.kinds = kinds.iter().map(|k| (*k).to_owned()).collect();
    let node = within("node start", NatsNode::start(&broker, config)).await.unwrap();
    (cluster, broker, node)
}

/// Reads `n` events from the start of the stream with a consumer created
/// now, after they were published.
async fn read_stream(cluster: &NatsCluster, stream: &str, n: usize) -> Vec<jetstream::Message> {
    let client = async_nats::connect(cluster.urls()[0].as_str()).await.unwrap();
    let js = jetstream::new(client);
    let stream = js.get_stream(stream).await.unwrap();
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("late-reader".into()),
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut out = Vec::new();
    while out.len() < n {
        let m = within("an event from the stream", messages.next()).await.unwrap().unwrap();
        m.ack().await.unwrap();
        out.push(m);
    }
    out
}

fn header<'a>(m: &'a jetstream::Message, name: &str) -> &'a str {
    m.headers.as_ref().and_then(|h| h.get(name)).map(|v| v.as_str()).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_records_land_in_the_stream_for_a_consumer_that_was_offline() {
    let (cluster, broker, node) = site(&[]).await;
    let stream = node.stream_name().unwrap().to_owned();
    assert_eq!(stream, "USP_HQ_EVENTS");

    // The Controller is not connected: the events are kept anyway.
    let agent = Mqtt5::connect(broker.mqtt_addrs()[0], AGENT).await;
    let ctl_topic = format!("usp/controller/{CTL}");
    let not_an_event = get_response(AGENT, CTL, "resp-1");
    let value_change = notify("n-1", Notify::value_change("sub-1", false, "Device.Temp.Value", "21.5"));
    let event = notify("n-2", Notify::event("sub-2", false, "Device.Door.", "Opened!", [("who", "badge-7")]));
    for record in [&not_an_event, &value_change, &event] {
        agent.publish(&ctl_topic, Q5::AtLeastOnce, record.clone(), None).await;
    }

    let events = read_stream(&cluster, &stream, 2).await;
    assert_eq!(events[0].subject.as_str(), "usp.hq.notify.proto__sensor=2E1.value=5Fchange");
    assert_eq!(events[0].payload, value_change, "the Record, unchanged");
    assert_eq!(header(&events[0], headers::FROM), AGENT);
    assert_eq!(header(&events[0], headers::TO), CTL);
    assert_eq!(header(&events[0], headers::MSG_ID), "n-1");
    assert_eq!(header(&events[0], headers::KIND), "value_change");
    assert_eq!(header(&events[0], headers::NODE), "a");
    assert_eq!(events[1].subject.as_str(), "usp.hq.notify.proto__sensor=2E1.event");
    assert_eq!(events[1].payload, event);
    assert_eq!(header(&events[1], headers::KIND), "event");

    // The response published before them was not stored: the stream holds
    // exactly the two events.
    let client = async_nats::connect(cluster.urls()[0].as_str()).await.unwrap();
    let mut s = jetstream::new(client).get_stream(&stream).await.unwrap();
    assert_eq!(s.info().await.unwrap().state.messages, 2);
    let stats = node.stats();
    assert_eq!((stats.events_dropped, stats.events_failed), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_configured_kinds_are_published() {
    let (cluster, broker, node) = site(&["event"]).await;
    let agent = Mqtt5::connect(broker.mqtt_addrs()[0], AGENT).await;
    let ctl_topic = format!("usp/controller/{CTL}");
    let value_change = notify("n-1", Notify::value_change("s", false, "Device.Temp.Value", "1"));
    let event = notify("n-2", Notify::event("s", false, "Device.Door.", "Opened!", [("a", "b")]));
    agent.publish(&ctl_topic, Q5::AtLeastOnce, value_change, None).await;
    agent.publish(&ctl_topic, Q5::AtLeastOnce, event.clone(), None).await;

    let events = read_stream(&cluster, node.stream_name().unwrap(), 1).await;
    assert_eq!(events[0].payload, event, "the ValueChange before it was filtered out");
    let client = async_nats::connect(cluster.urls()[0].as_str()).await.unwrap();
    let mut s = jetstream::new(client).get_stream(node.stream_name().unwrap()).await.unwrap();
    assert_eq!(s.info().await.unwrap().state.messages, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_credentials_are_used() {
    let cluster = NatsCluster::start_with(1, "authorization { user: site, password: s3cret }\n").await;
    let broker = broker(|_| {}).await;
    let config = |password: &str| NatsConfig {
        servers: cluster.urls(),
        site: "hq".into(),
        node: "a".into(),
        user: Some("site".into()),
        password: Some(password.into()),
        ..NatsConfig::default()
    };
    let refused = NatsNode::start(&broker, config("wrong")).await;
    assert!(matches!(refused, Err(usp_broker::nats::NatsError::Nats(_))), "{refused:?}");
    let node = within("node start", NatsNode::start(&broker, config("s3cret"))).await.unwrap();
    assert_eq!(node.stream_name(), Some("USP_HQ_EVENTS"));
}

#[tokio::test]
async fn names_that_cannot_become_stream_or_bucket_names_are_refused() {
    let broker = broker(|_| {}).await;
    for (site, node) in [("h.q", "a"), ("hq", "node 1"), ("", "a"), ("hq", "")] {
        let config = NatsConfig { site: site.into(), node: node.into(), ..NatsConfig::default() };
        let refused = NatsNode::start(&broker, config).await;
        assert!(
            matches!(refused, Err(usp_broker::nats::NatsError::Config(_))),
            "{site:?}/{node:?}: {refused:?}"
        );
    }
}
