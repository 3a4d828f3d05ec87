//! Bad input over raw sockets: garbage, oversized packets, malformed and
//! missing CONNECTs, half-open and silent connections, a flooding client.
//! After each, other clients are still served — checked with a real
//! request/response exchange — and nothing panicked (a panicking connection
//! task would never send the goodbye the tests wait for, and the broker
//! would stop answering).

// An integration test crate: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::{net::SocketAddr, time::Duration};

use common::*;
use rumqttc::v5::mqttbytes::QoS as Q5;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use usp_broker::BrokerHandle;

/// A request/response exchange between two fresh MQTT 5 clients.
async fn still_serving(broker: &BrokerHandle, tag: &str) {
    let addr = broker.mqtt_addrs()[0];
    let mut a = Mqtt5::connect(addr, &format!("proto::a-{tag}")).await;
    let mut b = Mqtt5::connect(addr, &format!("proto::b-{tag}")).await;
    a.subscribe(&format!("usp/agent/proto::a-{tag}"), Q5::AtLeastOnce).await;
    b.subscribe(&format!("usp/agent/proto::b-{tag}"), Q5::AtLeastOnce).await;
    let to_b = get_request(&format!("proto::a-{tag}"), &format!("proto::b-{tag}"), tag);
    a.publish(
        &format!("usp/agent/proto::b-{tag}"),
        Q5::AtLeastOnce,
        to_b,
        Some(&format!("usp/agent/proto::a-{tag}")),
    )
    .await;
    let req = b.next_publish().await;
    let reply_to = req.properties.unwrap().response_topic.unwrap();
    b.publish(
        &reply_to,
        Q5::AtLeastOnce,
        get_response(&format!("proto::b-{tag}"), &format!("proto::a-{tag}"), tag),
        None,
    )
    .await;
    assert_eq!(msg_id(&a.next_publish().await.payload), tag);
}

async fn closed_after(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = raw::send(addr, bytes).await;
    raw::read_to_close(&mut s).await
}

#[tokio::test]
async fn garbage_before_connect() {
    let broker = broker(|_| {}).await;
    let addr = broker.mqtt_addrs()[0];
    assert!(closed_after(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.is_empty());
    assert!(closed_after(addr, &[0xff; 64]).await.is_empty());
    // A PUBLISH before any CONNECT.
    assert!(closed_after(addr, &[0x30, 5, 0, 1, b't', b'h', b'i']).await.is_empty());
    // A CONNACK from a client (rumqttd's v5 reader would panic on it).
    assert!(closed_after(addr, &[0x20, 2, 0, 0]).await.is_empty());
    still_serving(&broker, "garbage").await;
    assert_eq!(broker.stats().connections_refused, 4);
    broker.shutdown().await;
}

#[tokio::test]
async fn malformed_connects() {
    let broker = broker(|_| {}).await;
    let addr = broker.mqtt_addrs()[0];
    // MQTT 3.1 ("MQIsdp", level 3): CONNACK "unacceptable protocol version".
    let mqtt31 = [0x10, 14, 0, 6, b'M', b'Q', b'I', b's', b'd', b'p', 3, 2, 0, 60, 0, 0];
    assert_eq!(closed_after(addr, &mqtt31).await, vec![0x20, 2, 0, 1]);
    // Wrong protocol name, level 4.
    let wrong_name = [0x10, 12, 0, 4, b'M', b'Q', b'X', b'X', 4, 2, 0, 60, 0, 0];
    assert!(closed_after(addr, &wrong_name).await.is_empty());
    // Client id length running past the end of the packet.
    let overrun = [0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 200];
    assert!(closed_after(addr, &overrun).await.is_empty());
    // A remaining length of five bytes.
    assert!(closed_after(addr, &[0x10, 0xff, 0xff, 0xff, 0xff, 0x01]).await.is_empty());
    // A second CONNECT on an open connection is a protocol violation.
    let mut s = raw::connected(addr, "proto::twice", 60, None).await;
    s.write_all(&raw::connect_frame("proto::twice", 60, None, None)).await.unwrap();
    raw::read_to_close(&mut s).await;
    still_serving(&broker, "connects").await;
    broker.shutdown().await;
}

/// A packet announcing more than the maximum is refused from its header,
/// before its body is read or buffered.
#[tokio::test]
async fn oversized_packets() {
    let broker = broker(|c| c.limits.max_record_size = 4096).await;
    let addr = broker.mqtt_addrs()[0];
    // CONNECT claiming 100 MB.
    assert!(closed_after(addr, &[0x10, 0x80, 0xad, 0xe2, 0x2f]).await.is_empty());
    // After CONNECT (MQTT 5): a PUBLISH claiming 100 MB gets DISCONNECT 0x95.
    let mut s = raw::connected5(addr, "proto::big").await;
    s.write_all(&[0x30, 0x80, 0xad, 0xe2, 0x2f, 0, 1, b't']).await.unwrap();
    let goodbye = raw::read_to_close(&mut s).await;
    assert_eq!(&goodbye[..3], &[0xe0, goodbye[1], 0x95], "DISCONNECT Packet Too Large");
    // 3.1.1: the socket is closed.
    let mut s = raw::connected(addr, "proto::big311", 60, None).await;
    s.write_all(&[0x30, 0x80, 0xad, 0xe2, 0x2f, 0, 1, b't']).await.unwrap();
    raw::read_to_close(&mut s).await;
    still_serving(&broker, "oversized").await;
    assert_eq!(broker.stats().protocol_errors, 2);
    broker.shutdown().await;
}

/// A socket that never sends CONNECT is closed after `connect_timeout_ms`;
/// one that goes silent after CONNECT after 1.5 × its keep-alive.
#[tokio::test]
async fn half_open_and_silent_connections_are_closed() {
    let broker = broker(|c| c.limits.connect_timeout_ms = 300).await;
    let addr = broker.mqtt_addrs()[0];
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(raw::read_to_close(&mut silent).await.is_empty());
    let mut half = raw::send(addr, &raw::connect_frame("proto::half", 60, None, None)[..5]).await;
    assert!(raw::read_to_close(&mut half).await.is_empty());

    let mut idle = raw::connected(addr, "proto::idle", 1, None).await;
    let started = std::time::Instant::now();
    raw::read_to_close(&mut idle).await;
    assert!(started.elapsed() >= Duration::from_millis(1400), "not before 1.5 × keep-alive");
    still_serving(&broker, "silent").await;
    broker.shutdown().await;
}

/// One client floods QoS 0 Records at a subscriber that never reads; with no
/// wait for room configured, the overflow is dropped and counted at once,
/// and everyone else is served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flooding_client_does_not_stop_the_others() {
    let broker = broker(|c| {
        c.limits.queue_max_messages = 64;
        c.limits.queue_full_wait_ms = 0;
        c.limits.write_timeout_ms = 60_000;
    })
    .await;
    let addr = broker.mqtt_addrs()[0];
    // The sink subscribes and then never reads its socket.
    let mut sink = raw::connected(addr, "proto::sink", 0, None).await;
    let sub = {
        use rumqttd::protocol::{Filter, Packet, Protocol, QoS, RetainForwardRule, Subscribe, v4::V4};
        let mut buf = bytes::BytesMut::new();
        let filter = Filter {
            path: "usp/agent/proto::sink/#".into(),
            qos: QoS::AtMostOnce,
            nolocal: false,
            preserve_retain: false,
            retain_forward_rule: RetainForwardRule::Never,
        };
        V4.write(Packet::Subscribe(Subscribe { pkid: 1, filters: vec![filter] }, None), &mut buf).unwrap();
        buf
    };
    sink.write_all(&sub).await.unwrap();
    let mut suback = [0u8; 5];
    within("SUBACK", sink.read_exact(&mut suback)).await.unwrap();
    assert_eq!(suback, [0x90, 3, 0, 1, 0]);

    let flood_record = get_request("proto::flood", "proto::sink", "flood");
    let frame = {
        use rumqttd::protocol::{Packet, Protocol, Publish, v4::V4};
        let mut buf = bytes::BytesMut::new();
        let p = Publish::new(bytes::Bytes::from_static(b"usp/agent/proto::sink"), flood_record, false);
        V4.write(Packet::Publish(p, None), &mut buf).unwrap();
        buf.to_vec().repeat(256)
    };
    let mut flooder = raw::connected(addr, "proto::flood", 0, None).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (first_batch, flooding_started) = tokio::sync::oneshot::channel();
    let flooding = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut first_batch = Some(first_batch);
            let mut batches = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if flooder.write_all(&frame).await.is_err() {
                    break;
                }
                batches += 1;
                if let Some(tx) = first_batch.take() {
                    let _ = tx.send(());
                }
            }
            batches
        }
    });
    within("the flood to start", flooding_started).await.unwrap();
    for round in 0..3 {
        still_serving(&broker, &format!("flood{round}")).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(flooding.await.unwrap() > 0);
    // 256 Records per batch into a queue of 64 that is never read.
    assert!(broker.stats().dropped(usp_broker::DropReason::QueueFull) > 0);
    broker.shutdown().await;
}
