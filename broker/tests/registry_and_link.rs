//! The endpoint registry (snapshot, connect/reachable/disconnect events, counters),
//! in-process links talking to MQTT clients, graceful shutdown, and the
//! connection limit.

// An integration test crate: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use rumqttc::v5::mqttbytes::{QoS as Q5, v5 as p5};
use usp_broker::{
    DropReason, LinkError, Mtp, RegistryEvent, identity::IdentitySource, record_check::RecordRejection,
};

const RULES: &str = "self::site-rules";

async fn next_event(events: &mut tokio::sync::broadcast::Receiver<RegistryEvent>) -> RegistryEvent {
    within("a registry event", events.recv()).await.unwrap()
}

#[tokio::test]
async fn registry_snapshot_events_and_counters() {
    let broker = broker(|_| {}).await;
    let addr = broker.mqtt_addrs()[0];
    let mut events = broker.registry().events();

    let mut a5 = Mqtt5::connect(addr, "proto::r5").await;
    let RegistryEvent::Connected(info) = next_event(&mut events).await else { panic!("connect first") };
    assert_eq!(
        (info.endpoint_id.as_str(), info.mtp, info.identity_source),
        ("proto::r5", Mtp::Mqtt5, IdentitySource::UserProperty)
    );
    assert_eq!(info.reply_topic, "usp/agent/proto::r5");
    assert!(info.client_id.unwrap().starts_with("uspmesh-"), "assigned ClientId");
    assert!(info.peer.unwrap().ip().is_loopback());
    assert!(!info.tls);

    let mut a4 = Mqtt311::connect(addr, "proto::r4").await;
    let RegistryEvent::Connected(info) = next_event(&mut events).await else { panic!() };
    assert_eq!((info.mtp, info.identity_source), (Mtp::Mqtt311, IdentitySource::ClientId));

    a5.subscribe("usp/agent/proto::r5", Q5::AtLeastOnce).await;
    a4.subscribe("usp/agent/proto::r4/#", rumqttc::QoS::AtLeastOnce).await;
    // Subscribed to their reply topics: reachable, in that order.
    for eid in ["proto::r5", "proto::r4"] {
        let RegistryEvent::Reachable(info) = next_event(&mut events).await else { panic!("{eid} reachable") };
        assert_eq!((info.endpoint_id.as_str(), info.reachable), (eid, true));
    }
    let request = get_request("proto::r5", "proto::r4", "count");
    a5.publish("usp/agent/proto::r4", Q5::AtLeastOnce, request.clone(), Some("usp/agent/proto::r5")).await;
    a4.next_publish().await;

    let mut snapshot = broker.registry().snapshot();
    snapshot.sort_by(|a, b| a.endpoint_id.cmp(&b.endpoint_id));
    let (r4, r5) = (&snapshot[0], &snapshot[1]);
    assert_eq!((r5.records_in, r5.bytes_in, r5.records_out), (1, request.len() as u64, 0));
    assert_eq!((r4.records_in, r4.records_out, r4.bytes_out), (0, 1, request.len() as u64));

    a4.client.disconnect().await.unwrap();
    let RegistryEvent::Disconnected(info) = next_event(&mut events).await else { panic!() };
    assert_eq!((info.endpoint_id.as_str(), info.records_out), ("proto::r4", 1));
    assert_eq!(broker.registry().len(), 1);
    broker.shutdown().await;
}

/// The rules engine's Controller, in-process, sends a request to an MQTT 5
/// Agent and a 3.1.1 Agent and gets their answers.
#[tokio::test]
async fn local_link_talks_with_mqtt_agents() {
    let broker = broker(|c| c.access.controllers = vec![RULES.into()]).await;
    let addr = broker.mqtt_addrs()[0];
    let mut link = broker.link(RULES).unwrap();
    assert_eq!(link.reply_topic(), "usp/controller/self::site-rules");
    let info = broker.registry().find(RULES).pop().unwrap();
    assert_eq!((info.mtp, info.identity_source), (Mtp::InProcess, IdentitySource::InProcess));

    let mut a5 = Mqtt5::connect(addr, "proto::l5").await;
    a5.subscribe("usp/agent/proto::l5", Q5::AtLeastOnce).await;
    let mut a4 = Mqtt311::connect(addr, "proto::l4").await;
    a4.subscribe("usp/agent/proto::l4/#", rumqttc::QoS::AtLeastOnce).await;

    // Routed by to_id to each Agent's topic.
    link.send(get_request(RULES, "proto::l5", "to-5")).await.unwrap();
    link.send(get_request(RULES, "proto::l4", "to-4")).await.unwrap();
    let got5 = a5.next_publish().await;
    assert_eq!(&got5.topic[..], b"usp/agent/proto::l5");
    let props = got5.properties.unwrap();
    assert_eq!(props.response_topic.as_deref(), Some("usp/controller/self::site-rules"));
    assert_eq!(props.content_type.as_deref(), Some("usp.msg"));
    let got4 = a4.next_publish().await;
    assert_eq!(got4.topic, "usp/agent/proto::l4/reply-to=usp%2Fcontroller%2Fself::site-rules");

    a5.publish(
        "usp/controller/self::site-rules",
        Q5::AtLeastOnce,
        get_response("proto::l5", RULES, "to-5"),
        Some("usp/agent/proto::l5"),
    )
    .await;
    a4.client
        .publish(
            "usp/controller/self::site-rules/reply-to=usp%2Fagent%2Fproto::l4",
            rumqttc::QoS::AtLeastOnce,
            false,
            get_response("proto::l4", RULES, "to-4"),
        )
        .await
        .unwrap();
    let mut answers = Vec::new();
    for _ in 0..2 {
        let d = within("a Record for the link", link.recv()).await.unwrap();
        assert_eq!(d.topic(), "usp/controller/self::site-rules");
        answers.push((msg_id(d.record()), d.reply_to().unwrap().to_owned()));
    }
    answers.sort();
    assert_eq!(
        answers,
        vec![
            ("to-4".to_owned(), "usp/agent/proto::l4".to_owned()),
            ("to-5".to_owned(), "usp/agent/proto::l5".to_owned())
        ]
    );
    assert!(link.try_recv().is_none());

    // The link is held to the from_id rule too, and needs a to_id.
    let spoofed = link.send(get_request("proto::l5", "proto::l4", "x")).await;
    assert!(matches!(spoofed, Err(LinkError::Rejected(RecordRejection::SpoofedFromId { .. }))));
    assert_eq!(link.send(get_request(RULES, "", "x")).await, Err(LinkError::NoDestination));
    assert_eq!(link.publish("usp/+/x", get_request(RULES, "x", "x")).await, Err(LinkError::InvalidTopic));
    let stats = broker.stats();
    assert_eq!((stats.dropped(DropReason::SpoofedFromId), stats.dropped(DropReason::NoDestination)), (1, 1));
    broker.shutdown().await;
}

#[tokio::test]
async fn links_need_an_endpoint_id_and_end_at_shutdown() {
    let broker = broker(|_| {}).await;
    assert!(matches!(broker.link("not an endpoint id"), Err(LinkError::Identity(_))));
    let mut a = broker.link("proto::link-a").unwrap();
    let mut b = broker.link("proto::link-b").unwrap();
    // Explicit topic, link to link.
    a.publish("usp/agent/proto::link-b", get_request("proto::link-a", "proto::link-b", "direct"))
        .await
        .unwrap();
    assert_eq!(msg_id(b.recv().await.unwrap().record()), "direct");
    let waiting = tokio::spawn(async move { b.recv().await.is_none() });
    broker.shutdown().await;
    assert!(within("recv to end", waiting).await.unwrap(), "recv returns None after shutdown");
    assert!(matches!(broker.link("proto::late"), Err(LinkError::Closed)));
}

/// Shutdown writes out what was queued, says goodbye (MQTT 5 DISCONNECT
/// 0x8B) and stops accepting.
#[tokio::test]
async fn graceful_shutdown() {
    let broker = broker(|_| {}).await;
    let addr = broker.mqtt_addrs()[0];
    let mut sub = Mqtt5::connect(addr, "proto::sub").await;
    sub.subscribe("usp/agent/proto::sub", Q5::AtMostOnce).await;
    let mut publisher = Mqtt5::connect(addr, "proto::pub").await;
    for i in 0..50 {
        publisher
            .publish(
                "usp/agent/proto::sub",
                Q5::AtLeastOnce,
                get_request("proto::pub", "proto::sub", &i.to_string()),
                None,
            )
            .await;
    }
    for _ in 0..50 {
        assert_eq!(publisher.next_puback().await.reason, p5::PubAckReason::Success);
    }
    broker.shutdown().await;
    for i in 0..50 {
        assert_eq!(msg_id(&sub.next_publish().await.payload), i.to_string());
    }
    assert_eq!(sub.closed().await, Some(p5::DisconnectReasonCode::ServerShuttingDown));
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "no longer accepting");
    assert_eq!(broker.stats().connections, 0);
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused() {
    let broker = broker(|c| c.limits.max_connections = 2).await;
    let addr = broker.mqtt_addrs()[0];
    let _a = Mqtt5::connect(addr, "proto::one").await;
    let _b = Mqtt5::connect(addr, "proto::two").await;
    let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(raw::read_to_close(&mut third).await.is_empty());
    assert_eq!(broker.stats().connections_refused, 1);
    broker.shutdown().await;
}

/// On a multi-threaded runtime — connections on other threads than the
/// in-process link — MQTT 5, 3.1.1, WebSocket and in-process endpoints meet
/// in one fabric, and shutdown still drains and ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_fabric_across_threads() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
    let broker = broker(|c| c.access.controllers = vec![RULES.into()]).await;
    let addr = broker.mqtt_addrs()[0];
    let mut a5 = Mqtt5::connect(addr, "proto::io5").await;
    a5.subscribe("usp/agent/proto::io5", Q5::AtLeastOnce).await;
    let mut a4 = Mqtt311::connect(addr, "proto::io4").await;
    a4.subscribe("usp/agent/proto::io4/#", rumqttc::QoS::AtLeastOnce).await;
    let mut request =
        format!("ws://{}/usp?eid=proto::iows", broker.websocket_addrs()[0]).into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "v1.usp".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut link = broker.link(RULES).unwrap();

    for to in ["proto::io5", "proto::io4", "proto::iows"] {
        link.send(get_request(RULES, to, to)).await.unwrap();
    }
    assert_eq!(msg_id(&a5.next_publish().await.payload), "proto::io5");
    assert_eq!(msg_id(&a4.next_publish().await.payload), "proto::io4");
    let Some(Ok(Message::Binary(record))) = within("a Record over WebSocket", ws.next()).await else {
        panic!("a Record over WebSocket")
    };
    assert_eq!(msg_id(&record), "proto::iows");
    ws.send(Message::Binary(get_response("proto::iows", RULES, "back"))).await.unwrap();
    assert_eq!(msg_id(within("the answer", link.recv()).await.unwrap().record()), "back");

    broker.shutdown().await;
    assert_eq!(a5.closed().await, Some(p5::DisconnectReasonCode::ServerShuttingDown));
    assert_eq!(broker.stats().connections, 1, "the link is its owner's to drop");
    drop(link);
    assert_eq!(broker.stats().connections, 0);
}
