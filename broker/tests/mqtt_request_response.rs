//! Request/response between an agent-like and a controller-like client over
//! real TCP, MQTT 5 ↔ 5 and 3.1.1 ↔ 5 in both directions, QoS 0 and 1;
//! QoS 1 fan-in without loss through tiny queues; session takeover; no
//! Nagle stalls (TCP_NODELAY).

// An integration test crate: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use rumqttc::v5::mqttbytes::{QoS as Q5, v5 as p5};
use usp_broker::{DropReason, Mtp, RegistryEvent};

const CTL: &str = "proto::ctl";

async fn mqtt5_round_trip(qos: Q5) {
    let broker = broker(|c| c.access.controllers = vec![CTL.into()]).await;
    let addr = broker.mqtt_addrs()[0];

    let mut agent = Mqtt5::connect(addr, "proto::agent").await;
    let mut ctl = Mqtt5::connect(addr, CTL).await;
    // CONNACK: Response Information and subscribe-topic (R-MQTT.12, .15b).
    assert_eq!(agent.response_information().as_deref(), Some("usp/agent/proto::agent"));
    assert_eq!(ctl.response_information().as_deref(), Some("usp/controller/proto::ctl"));
    let props = ctl.connack.properties.clone().unwrap();
    assert_eq!(
        props.user_properties,
        vec![("subscribe-topic".to_owned(), "usp/controller/proto::ctl".to_owned())]
    );
    assert!(props.assigned_client_identifier.is_some(), "empty ClientId gets one assigned (R-MQTT.9)");
    assert_eq!(props.max_qos, Some(1));

    let agent_topic = agent.response_information().unwrap();
    let ctl_topic = ctl.response_information().unwrap();
    assert_eq!(agent.subscribe(&agent_topic, qos).await, vec![p5::SubscribeReasonCode::Success(qos)]);
    assert_eq!(ctl.subscribe(&ctl_topic, qos).await, vec![p5::SubscribeReasonCode::Success(qos)]);

    // Request, with Correlation Data and a user property passing through.
    let request = get_request(CTL, "proto::agent", "req-1");
    let props = p5::PublishProperties {
        response_topic: Some(ctl_topic.clone()),
        content_type: Some("usp.msg".into()),
        correlation_data: Some(bytes::Bytes::from_static(b"corr-7")),
        user_properties: vec![("trace".into(), "t-1".into())],
        ..Default::default()
    };
    ctl.client.publish_with_properties(&agent_topic, qos, false, request.clone(), props).await.unwrap();
    let got = agent.next_publish().await;
    assert_eq!(&got.topic[..], agent_topic.as_bytes());
    assert_eq!(got.payload, request);
    assert_eq!(got.qos, qos);
    let p = got.properties.expect("MQTT 5 properties");
    assert_eq!(p.response_topic.as_deref(), Some(ctl_topic.as_str()));
    assert_eq!(p.content_type.as_deref(), Some("usp.msg"));
    assert_eq!(p.correlation_data.as_deref(), Some(&b"corr-7"[..]));
    assert_eq!(p.user_properties, vec![("trace".to_owned(), "t-1".to_owned())]);

    // Response to the received Response Topic (R-MQTT.26).
    let response = get_response("proto::agent", CTL, "req-1");
    agent.publish(p.response_topic.as_deref().unwrap(), qos, response.clone(), Some(&agent_topic)).await;
    let got = ctl.next_publish().await;
    assert_eq!(got.payload, response);
    assert_eq!(msg_id(&got.payload), "req-1");
    assert_eq!(got.properties.unwrap().response_topic.as_deref(), Some(agent_topic.as_str()));

    let stats = broker.stats();
    assert_eq!((stats.records_in, stats.records_out, stats.dropped_total()), (2, 2, 0));
    let mut endpoints = broker.registry().snapshot();
    endpoints.sort_by(|a, b| a.endpoint_id.cmp(&b.endpoint_id));
    assert_eq!(endpoints.len(), 2);
    assert_eq!((endpoints[0].endpoint_id.as_str(), endpoints[0].mtp), ("proto::agent", Mtp::Mqtt5));
    assert_eq!((endpoints[0].records_in, endpoints[0].records_out), (1, 1));
    broker.shutdown().await;
}

#[tokio::test]
async fn mqtt5_to_mqtt5_qos0() {
    mqtt5_round_trip(Q5::AtMostOnce).await;
}

#[tokio::test]
async fn mqtt5_to_mqtt5_qos1() {
    mqtt5_round_trip(Q5::AtLeastOnce).await;
}

/// A 3.1.1 Controller (ClientId = Endpoint ID, `/reply-to=` topics) and an
/// MQTT 5 Agent (Response Topic): the broker translates between the two.
#[tokio::test]
async fn mqtt311_controller_with_mqtt5_agent() {
    let broker = broker(|c| c.access.controllers = vec!["proto::ctl311".into()]).await;
    let addr = broker.mqtt_addrs()[0];
    let mut agent = Mqtt5::connect(addr, "proto::a5").await;
    agent.subscribe("usp/agent/proto::a5", Q5::AtLeastOnce).await;
    let mut ctl = Mqtt311::connect(addr, "proto::ctl311").await;
    let codes = ctl.subscribe("usp/controller/proto::ctl311/#", rumqttc::QoS::AtLeastOnce).await;
    assert_eq!(codes, vec![rumqttc::SubscribeReasonCode::Success(rumqttc::QoS::AtLeastOnce)]);

    let request = get_request("proto::ctl311", "proto::a5", "r311");
    ctl.client
        .publish(
            "usp/agent/proto::a5/reply-to=usp%2Fcontroller%2Fproto::ctl311",
            rumqttc::QoS::AtLeastOnce,
            false,
            request.clone(),
        )
        .await
        .unwrap();
    let got = agent.next_publish().await;
    assert_eq!(&got.topic[..], b"usp/agent/proto::a5", "suffix stripped for the MQTT 5 subscriber");
    assert_eq!(got.payload, request);
    let p = got.properties.unwrap();
    assert_eq!(p.response_topic.as_deref(), Some("usp/controller/proto::ctl311"));
    assert_eq!(
        p.content_type.as_deref(),
        Some("usp.msg"),
        "a checked Record is labelled for MQTT 5 (R-MQTT.27)"
    );

    agent
        .publish(
            "usp/controller/proto::ctl311",
            Q5::AtLeastOnce,
            get_response("proto::a5", "proto::ctl311", "r311"),
            Some("usp/agent/proto::a5"),
        )
        .await;
    let got = ctl.next_publish().await;
    assert_eq!(got.topic, "usp/controller/proto::ctl311/reply-to=usp%2Fagent%2Fproto::a5");
    assert_eq!(msg_id(&got.payload), "r311");
    broker.shutdown().await;
}

/// An MQTT 5 Controller and a 3.1.1 Agent, QoS 0.
#[tokio::test]
async fn mqtt5_controller_with_mqtt311_agent() {
    let broker = broker(|c| c.access.controllers = vec![CTL.into()]).await;
    let addr = broker.mqtt_addrs()[0];
    let mut ctl = Mqtt5::connect(addr, CTL).await;
    ctl.subscribe("usp/controller/proto::ctl", Q5::AtMostOnce).await;
    let mut agent = Mqtt311::connect(addr, "proto::a311").await;
    agent.subscribe("usp/agent/proto::a311/#", rumqttc::QoS::AtMostOnce).await;

    ctl.publish(
        "usp/agent/proto::a311",
        Q5::AtMostOnce,
        get_request(CTL, "proto::a311", "q"),
        Some("usp/controller/proto::ctl"),
    )
    .await;
    let got = agent.next_publish().await;
    assert_eq!(got.topic, "usp/agent/proto::a311/reply-to=usp%2Fcontroller%2Fproto::ctl");
    let (_, reply_to) = usp_broker::topics::split_reply_to(&got.topic);
    let reply_to = reply_to.unwrap().into_owned();

    agent
        .client
        .publish(
            format!("{reply_to}/reply-to=usp%2Fagent%2Fproto::a311"),
            rumqttc::QoS::AtMostOnce,
            false,
            get_response("proto::a311", CTL, "q"),
        )
        .await
        .unwrap();
    let got = ctl.next_publish().await;
    assert_eq!(&got.topic[..], b"usp/controller/proto::ctl");
    assert_eq!(got.properties.unwrap().response_topic.as_deref(), Some("usp/agent/proto::a311"));
    assert_eq!(msg_id(&got.payload), "q");
    broker.shutdown().await;
}

/// Many publishers into one subscriber whose queue holds 4 records:
/// publishers are held back, nothing is lost, at QoS 1 and at QoS 0.
async fn fan_in_through_small_queues_loses_nothing(qos: Q5) {
    let broker = broker(|c| {
        c.access.controllers = vec![CTL.into()];
        c.limits.queue_max_messages = 4;
        c.limits.max_inflight = 2;
        c.limits.queue_full_wait_ms = 60_000;
    })
    .await;
    let addr = broker.mqtt_addrs()[0];
    let mut ctl = Mqtt5::connect(addr, CTL).await;
    ctl.subscribe("usp/controller/proto::ctl", qos).await;

    const AGENTS: usize = 4;
    const EACH: usize = 250;
    let mut senders = Vec::new();
    for a in 0..AGENTS {
        let agent = Mqtt5::connect(addr, &format!("proto::fan-{a}")).await;
        senders.push(tokio::spawn(async move {
            for i in 0..EACH {
                let record = get_request(&format!("proto::fan-{a}"), CTL, &format!("{a}-{i}"));
                agent.publish("usp/controller/proto::ctl", qos, record, None).await;
            }
            agent
        }));
    }
    let mut seen = std::collections::HashSet::new();
    let mut last = [-1i64; AGENTS];
    while seen.len() < AGENTS * EACH {
        let p = ctl.next_publish().await;
        let id = msg_id(&p.payload);
        let (a, i) = id.split_once('-').unwrap();
        let (a, i): (usize, i64) = (a.parse().unwrap(), i.parse().unwrap());
        assert!(i > last[a], "per-publisher order kept");
        last[a] = i;
        assert!(seen.insert(id), "no duplicates");
    }
    for s in senders {
        s.await.unwrap();
    }
    let stats = broker.stats();
    assert_eq!(stats.dropped(DropReason::QueueFull), 0);
    assert_eq!(stats.records_out, (AGENTS * EACH) as u64);
    broker.shutdown().await;
}

#[tokio::test]
async fn qos1_fan_in_through_small_queues_loses_nothing() {
    fan_in_through_small_queues_loses_nothing(Q5::AtLeastOnce).await;
}

#[tokio::test]
async fn qos0_fan_in_through_small_queues_loses_nothing() {
    fan_in_through_small_queues_loses_nothing(Q5::AtMostOnce).await;
}

/// A second connection with the same ClientId takes over: the first gets
/// DISCONNECT 0x8E (MQTT 5) and the second is served.
#[tokio::test]
async fn same_client_id_takes_over() {
    let broker = broker(|_| {}).await;
    let addr = broker.mqtt_addrs()[0];
    let opts = || Options5 { client_id: "proto::dup".into(), ..Options5::default() };
    let mut first = Mqtt5::connect_with(addr, opts()).await.unwrap();
    let mut events = broker.registry().events();
    let mut second = Mqtt5::connect_with(addr, opts()).await.unwrap();
    assert_eq!(first.closed().await, Some(p5::DisconnectReasonCode::SessionTakenOver));
    let gone = within("the first connection to leave the registry", async {
        loop {
            if let RegistryEvent::Disconnected(info) = events.recv().await.unwrap() {
                return info;
            }
        }
    })
    .await;
    assert_eq!(gone.endpoint_id, "proto::dup");
    second.subscribe("usp/agent/proto::dup", Q5::AtMostOnce).await;
    let mut peer = Mqtt5::connect(addr, "proto::peer").await;
    peer.subscribe("usp/agent/proto::peer", Q5::AtMostOnce).await;
    peer.publish("usp/agent/proto::dup", Q5::AtMostOnce, get_request("proto::peer", "proto::dup", "t"), None)
        .await;
    assert_eq!(msg_id(&second.next_publish().await.payload), "t");
    assert_eq!(broker.registry().find("proto::dup").len(), 1, "the old connection is gone from the registry");
    broker.shutdown().await;
}

/// TCP_NODELAY on the broker's sockets: in a QoS 1 exchange the broker
/// writes a PUBACK and, a moment later, the answer on the same socket. With
/// Nagle's algorithm the answer would wait for the client's delayed ACK of
/// the PUBACK (~40 ms on Linux; rumqttd's QoS 1 round trip measures 44 ms).
/// The median of 30 round trips must stay far below that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos1_round_trips_do_not_wait_for_delayed_acks() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let broker = broker(|_| {}).await;
    let addr = broker.mqtt_addrs()[0];
    let subscribe = |s: &str| {
        let mut f = vec![0x82, (5 + s.len()) as u8, 0, 1, 0, s.len() as u8];
        f.extend_from_slice(s.as_bytes());
        f.push(1);
        f
    };
    let publish = |topic: &str, record: &[u8], pkid: u16| {
        let mut f = vec![0x32];
        let len = 2 + topic.len() + 2 + record.len();
        assert!(len < 128 * 128);
        f.extend_from_slice(&[(len % 128) as u8 | 0x80, (len / 128) as u8, 0, topic.len() as u8]);
        f.extend_from_slice(topic.as_bytes());
        f.extend_from_slice(&pkid.to_be_bytes());
        f.extend_from_slice(record);
        f
    };
    let mut parties = Vec::new();
    for id in ["proto::nd-req", "proto::nd-resp"] {
        let mut s = raw::connected(addr, id, 60, None).await;
        s.set_nodelay(true).unwrap();
        s.write_all(&subscribe(&format!("usp/agent/{id}"))).await.unwrap();
        let mut suback = [0u8; 5];
        within("SUBACK", s.read_exact(&mut suback)).await.unwrap();
        assert_eq!(suback[4], 1);
        parties.push(s);
    }
    let (mut requester, mut responder) = (parties.remove(0), parties.remove(0));
    let answer = get_response("proto::nd-resp", "proto::nd-req", "a");
    tokio::spawn(async move {
        let mut buf = bytes::BytesMut::new();
        let mut pkid = 0u16;
        while responder.read_buf(&mut buf).await.is_ok_and(|n| n > 0) {
            while let Some((first, body)) = raw::next_frame(&mut buf) {
                if first >> 4 == 3 {
                    let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
                    let mut out = vec![0x40, 2, body[2 + topic_len], body[3 + topic_len]];
                    pkid += 1;
                    out.extend(publish("usp/agent/proto::nd-req", &answer, pkid));
                    if responder.write_all(&out).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let request = get_request("proto::nd-req", "proto::nd-resp", "q");
    let mut buf = bytes::BytesMut::new();
    let mut times = Vec::new();
    let mut ack = Vec::new();
    for pkid in 1..=30u16 {
        let mut out = std::mem::take(&mut ack);
        out.extend(publish("usp/agent/proto::nd-resp", &request, pkid));
        let sent = std::time::Instant::now();
        requester.write_all(&out).await.unwrap();
        let answered = within("the answer", async {
            loop {
                while let Some((first, body)) = raw::next_frame(&mut buf) {
                    if first >> 4 == 3 {
                        let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
                        return vec![0x40, 2, body[2 + topic_len], body[3 + topic_len]];
                    }
                }
                assert!(requester.read_buf(&mut buf).await.unwrap() > 0, "connection open");
            }
        })
        .await;
        times.push(sent.elapsed());
        // Acknowledged with the next request, as a busy client does.
        ack = answered;
    }
    times.sort();
    let median = times[times.len() / 2];
    assert!(median < std::time::Duration::from_millis(20), "median QoS 1 round trip {median:?}");
    broker.shutdown().await;
}
