//! `RegistryEvent::Reachable`: when a sender that waits for an endpoint may
//! send to it. An MQTT client is `Connected` at CONNACK but receives nothing
//! until it subscribes to its reply topic, and is `Unreachable` again when
//! it unsubscribes it; WebSocket endpoints and in-process links are
//! reachable as they attach.

// An integration test crate: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;

use common::*;
use rumqttc::v5::mqttbytes::QoS as Q5;
use tokio::net::TcpStream;
use tokio::sync::{broadcast, oneshot};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{client::IntoClientRequest, http::HeaderValue},
};
use usp_broker::{EndpointInfo, Mtp, RegistryEvent};

const RULES: &str = "self::site-rules";

async fn next_event(events: &mut broadcast::Receiver<RegistryEvent>) -> RegistryEvent {
    within("a registry event", events.recv()).await.unwrap()
}

/// The next event, which must be a `Connected` of `eid`.
async fn connected(events: &mut broadcast::Receiver<RegistryEvent>, eid: &str) -> EndpointInfo {
    match next_event(events).await {
        RegistryEvent::Connected(info) if info.endpoint_id == eid => info,
        other => panic!("expected {eid} to connect, got {other:?}"),
    }
}

/// The next event, which must be a `Reachable` of `eid`.
async fn reachable(events: &mut broadcast::Receiver<RegistryEvent>, eid: &str) -> EndpointInfo {
    match next_event(events).await {
        RegistryEvent::Reachable(info) if info.endpoint_id == eid => info,
        other => panic!("expected {eid} to become reachable, got {other:?}"),
    }
}

/// The next event, which must be a `Disconnected` of `eid`.
async fn disconnected(events: &mut broadcast::Receiver<RegistryEvent>, eid: &str) -> EndpointInfo {
    match next_event(events).await {
        RegistryEvent::Disconnected(info) if info.endpoint_id == eid => info,
        other => panic!("expected {eid} to disconnect, got {other:?}"),
    }
}

async fn websocket(addr: SocketAddr, eid: &str) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
    let mut request = format!("ws://{addr}/usp?eid={eid}").into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("v1.usp"));
    within("the WebSocket handshake", connect_async(request)).await.unwrap().0
}

/// The first sync of an MQTT Agent that subscribes late. A sender (here an
/// in-process Controller, as the rules engine is) sends its first Record as
/// soon as the registry announces the Agent; the Agent subscribes to its
/// topic only when the test lets it, after the test saw it connect. Sent on
/// `Connected`, that Record was unrouted and lost; sent on `Reachable`, it
/// is the first Record the Agent receives.
#[tokio::test]
async fn record_sent_when_reachable_reaches_a_late_subscriber() {
    const AGENT: &str = "proto::late";
    let broker = broker(|c| c.access.controllers = vec![RULES.into()]).await;
    let addr = broker.mqtt_addrs()[0];
    let mut watch = broker.registry().events();
    let mut sender_events = broker.registry().events();
    let mut link = broker.link(RULES).unwrap();
    connected(&mut watch, RULES).await;
    reachable(&mut watch, RULES).await;

    let sender = tokio::spawn(async move {
        loop {
            if let RegistryEvent::Reachable(info) = sender_events.recv().await.unwrap()
                && info.endpoint_id == AGENT
            {
                link.send(get_request(RULES, AGENT, "first-sync")).await.unwrap();
                return link;
            }
        }
    });
    let (go, subscribe_now) = oneshot::channel::<()>();
    let agent = tokio::spawn(async move {
        let mut agent = Mqtt5::connect(addr, AGENT).await;
        subscribe_now.await.unwrap();
        agent.subscribe(&format!("usp/agent/{AGENT}"), Q5::AtLeastOnce).await;
        agent
    });

    let info = connected(&mut watch, AGENT).await;
    assert!(!info.reachable, "connected is not yet reachable");
    assert!(!broker.registry().find(AGENT)[0].reachable);
    go.send(()).unwrap();
    let info = reachable(&mut watch, AGENT).await;
    assert!(info.reachable);
    assert_eq!(info.mtp, Mtp::Mqtt5);
    let mut agent = within("the Agent's SUBACK", agent).await.unwrap();
    let mut link = within("the first sync", sender).await.unwrap();

    // A second Record tells "lost" from "late" without waiting for a timeout.
    link.send(get_request(RULES, AGENT, "second")).await.unwrap();
    assert_eq!(msg_id(&agent.next_publish().await.payload), "first-sync");
    assert_eq!(msg_id(&agent.next_publish().await.payload), "second");
    assert_eq!(broker.stats().unrouted, 0);
    assert!(broker.registry().find(AGENT)[0].reachable);
    broker.shutdown().await;
}

/// Which subscriptions make an MQTT endpoint reachable: a 3.1.1 Agent's
/// subtree filter and an MQTT 5 Agent's exact reply topic do; the MQTT 5
/// Agent's controller topic (its own, but not where Records for it go) does
/// not; a further matching filter announces nothing more. WebSocket
/// endpoints and in-process links are reachable right after they connect.
#[tokio::test]
async fn mqtt_endpoints_become_reachable_by_subscribing_websocket_at_once() {
    let broker = broker(|c| c.access.controllers = vec![RULES.into()]).await;
    let addr = broker.mqtt_addrs()[0];
    let mut events = broker.registry().events();

    let mut a4 = Mqtt311::connect(addr, "proto::s4").await;
    assert!(!connected(&mut events, "proto::s4").await.reachable);
    a4.subscribe("usp/agent/proto::s4/#", rumqttc::QoS::AtLeastOnce).await;
    let info = reachable(&mut events, "proto::s4").await;
    assert_eq!((info.mtp, info.reachable), (Mtp::Mqtt311, true));

    let mut a5 = Mqtt5::connect(addr, "proto::s5").await;
    assert_eq!(a5.response_information().as_deref(), Some("usp/agent/proto::s5"));
    assert!(!connected(&mut events, "proto::s5").await.reachable);
    let granted = [rumqttc::v5::mqttbytes::v5::SubscribeReasonCode::Success(Q5::AtLeastOnce)];
    assert_eq!(a5.subscribe("usp/controller/proto::s5", Q5::AtLeastOnce).await, granted);
    assert_eq!(a5.subscribe("usp/agent/proto::s5", Q5::AtLeastOnce).await, granted);
    // Events are in order: the controller topic announced nothing.
    let info = reachable(&mut events, "proto::s5").await;
    assert_eq!((info.mtp, info.reachable), (Mtp::Mqtt5, true));
    assert_eq!(a5.subscribe("usp/agent/proto::s5/#", Q5::AtLeastOnce).await, granted);

    let _ws = websocket(broker.websocket_addrs()[0], "proto::sws").await;
    assert!(!connected(&mut events, "proto::sws").await.reachable);
    let info = reachable(&mut events, "proto::sws").await;
    assert_eq!((info.mtp, info.reachable), (Mtp::WebSocket, true));

    let link = broker.link(RULES).unwrap();
    connected(&mut events, RULES).await;
    assert_eq!(reachable(&mut events, RULES).await.mtp, Mtp::InProcess);

    // The second matching filter announced nothing: the next event of the
    // MQTT 5 Agent is its end.
    a5.client.disconnect().await.unwrap();
    disconnected(&mut events, "proto::s5").await;
    let mut snapshot = broker.registry().snapshot();
    snapshot.sort_by(|a, b| a.endpoint_id.cmp(&b.endpoint_id));
    let flags: Vec<_> = snapshot.iter().map(|i| (i.endpoint_id.as_str(), i.reachable)).collect();
    assert_eq!(flags, [("proto::s4", true), ("proto::sws", true), (RULES, true)]);
    drop(link);
    broker.shutdown().await;
}

/// Unsubscribing the last filter that matches the reply topic makes an
/// MQTT endpoint unreachable (a Record for it is then unrouted); subscribing
/// again makes it reachable again.
#[tokio::test]
async fn unsubscribing_the_reply_topic_makes_an_endpoint_unreachable() {
    const AGENT: &str = "proto::u5";
    let broker = broker(|c| c.access.controllers = vec![RULES.into()]).await;
    let addr = broker.mqtt_addrs()[0];
    let mut link = broker.link(RULES).unwrap();
    let mut events = broker.registry().events();
    let mut agent = Mqtt5::connect(addr, AGENT).await;
    connected(&mut events, AGENT).await;

    agent.subscribe("usp/agent/proto::u5/#", Q5::AtLeastOnce).await;
    agent.subscribe("usp/agent/proto::u5", Q5::AtLeastOnce).await;
    reachable(&mut events, AGENT).await;
    // One of two matching filters gone: still reachable, no event.
    unsubscribe(&mut agent, "usp/agent/proto::u5/#").await;
    assert!(broker.registry().find(AGENT)[0].reachable);
    unsubscribe(&mut agent, "usp/agent/proto::u5").await;
    match next_event(&mut events).await {
        RegistryEvent::Unreachable(info) => {
            assert_eq!((info.endpoint_id.as_str(), info.reachable), (AGENT, false))
        }
        other => panic!("expected {AGENT} to become unreachable, got {other:?}"),
    }
    assert!(!broker.registry().find(AGENT)[0].reachable);
    link.send(get_request(RULES, AGENT, "nobody-listens")).await.unwrap();
    assert_eq!(broker.stats().unrouted, 1);

    agent.subscribe("usp/agent/proto::u5", Q5::AtLeastOnce).await;
    assert!(reachable(&mut events, AGENT).await.reachable);
    link.send(get_request(RULES, AGENT, "listening-again")).await.unwrap();
    assert_eq!(msg_id(&agent.next_publish().await.payload), "listening-again");
    agent.client.disconnect().await.unwrap();
    // Not announced unreachable at its end: the disconnect says it.
    assert!(disconnected(&mut events, AGENT).await.reachable);
    broker.shutdown().await;
}

/// Unsubscribes and waits for the UNSUBACK.
async fn unsubscribe(client: &mut Mqtt5, filter: &str) {
    use rumqttc::v5::{Event, mqttbytes::v5::Packet};
    client.client.unsubscribe(filter).await.unwrap();
    while !matches!(client.next_event_any().await, Event::Incoming(Packet::UnsubAck(_))) {}
}

/// An MQTT client that never subscribes to its reply topic — here one that
/// only publishes and listens on its controller topic — is never announced
/// reachable and stays `reachable: false` in the snapshot.
#[tokio::test]
async fn an_endpoint_that_never_subscribes_is_never_reachable() {
    let broker = broker(|c| c.access.controllers = vec![RULES.into()]).await;
    let addr = broker.mqtt_addrs()[0];
    let mut link = broker.link(RULES).unwrap();
    let mut events = broker.registry().events();

    let mut quiet = Mqtt5::connect(addr, "proto::quiet").await;
    connected(&mut events, "proto::quiet").await;
    quiet.subscribe("usp/controller/proto::quiet", Q5::AtLeastOnce).await;
    let request = get_request("proto::quiet", RULES, "from-quiet");
    quiet
        .publish("usp/controller/self::site-rules", Q5::AtLeastOnce, request, Some("usp/agent/proto::quiet"))
        .await;
    quiet.next_puback().await;
    assert_eq!(msg_id(within("the request", link.recv()).await.unwrap().record()), "from-quiet");
    assert!(!broker.registry().find("proto::quiet")[0].reachable);

    quiet.client.disconnect().await.unwrap();
    let info = disconnected(&mut events, "proto::quiet").await;
    assert_eq!((info.reachable, info.records_in), (false, 1));
    broker.shutdown().await;
}
