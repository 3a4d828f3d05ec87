//! Session behaviour over real sockets: keep-alive (capped, announced and
//! enforced), the last will on a clean DISCONNECT, and the QoS 1 overflow
//! policy of a full per-connection queue (wait, then drop and count).

// An integration test crate: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use rumqttc::v5::{
    self as v5,
    mqttbytes::{QoS as Q5, v5 as p5},
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use usp_broker::DropReason;

/// `max_keep_alive_s` caps what an MQTT 5 client asks for and announces it
/// as Server Keep Alive; a client that follows it (rumqttc) pings and is
/// answered; one that stays silent is closed with DISCONNECT 0x8D after
/// 1.5 × the granted keep-alive.
#[tokio::test]
async fn mqtt5_keep_alive_is_capped_announced_and_enforced() {
    let broker = broker(|c| c.limits.max_keep_alive_s = 1).await;
    let addr = broker.mqtt_addrs()[0];

    let mut follower = Mqtt5::connect_with(
        addr,
        Options5 { endpoint_id: Some("proto::ka".into()), keep_alive_s: Some(60), ..Options5::default() },
    )
    .await
    .unwrap();
    assert_eq!(follower.connack.properties.as_ref().unwrap().server_keep_alive, Some(1));
    within("a PINGRESP", async {
        loop {
            if let v5::Event::Incoming(p5::Packet::PingResp(_)) = follower.next_event_any().await {
                return;
            }
        }
    })
    .await;

    // Asks for 60 s, gets 1 s, then says nothing.
    let mut silent = raw::connected5(addr, "proto::ka-silent").await;
    let started = Instant::now();
    let goodbye = raw::read_to_close(&mut silent).await;
    assert!(started.elapsed() >= Duration::from_millis(1400), "not before 1.5 × the granted keep-alive");
    assert_eq!(
        (goodbye.first(), goodbye.get(2)),
        (Some(&0xE0), Some(&0x8D)),
        "DISCONNECT Keep Alive timeout"
    );
    assert_eq!(broker.registry().find("proto::ka").len(), 1, "the pinging client stays");
    broker.shutdown().await;
}

/// A will is not published after a normal DISCONNECT, and is after a
/// connection drops.
#[tokio::test]
async fn no_will_after_a_clean_disconnect() {
    use rumqttd::protocol::{LastWill, QoS};
    let broker = broker(|c| c.access.controllers = vec!["proto::ctl".into()]).await;
    let addr = broker.mqtt_addrs()[0];
    let mut ctl = Mqtt5::connect(addr, "proto::ctl").await;
    ctl.subscribe("usp/controller/proto::ctl", Q5::AtLeastOnce).await;
    let will = |from: &str, id: &str| LastWill {
        topic: "usp/controller/proto::ctl".into(),
        message: get_request(from, "proto::ctl", id),
        qos: QoS::AtLeastOnce,
        retain: false,
    };
    let mut clean = raw::connected(addr, "proto::w-clean", 60, Some(will("proto::w-clean", "clean"))).await;
    clean.write_all(&[0xE0, 0x00]).await.unwrap();
    // The broker decides on the will before it closes the socket.
    assert!(raw::read_to_close(&mut clean).await.is_empty());
    let dropped = raw::connected(addr, "proto::w-drop", 60, Some(will("proto::w-drop", "dropped"))).await;
    drop(dropped);
    assert_eq!(msg_id(&ctl.next_publish().await.payload), "dropped", "only the dropped connection's will");
    broker.shutdown().await;
}

/// A QoS 1 delivery to a full queue makes its publisher wait for room up to
/// `queue_full_wait_ms`, then is dropped and counted; the publisher still
/// gets every PUBACK, and a subscriber that reads again gets what was
/// queued, in order.
#[tokio::test]
async fn qos1_overflow_waits_then_drops_and_counts() {
    const SENT: usize = 12;
    let broker = broker(|c| {
        c.limits.queue_max_messages = 4;
        c.limits.max_inflight = 1;
        c.limits.queue_full_wait_ms = 100;
    })
    .await;
    let addr = broker.mqtt_addrs()[0];
    // A 3.1.1 subscriber that does not acknowledge: one delivery in flight,
    // then its queue fills.
    let mut sink = raw::connected(addr, "proto::slow", 60, None).await;
    sink.write_all(&[0x82, 0x1A, 0x00, 0x01, 0x00, 0x15]).await.unwrap();
    sink.write_all(b"usp/agent/proto::slow\x01").await.unwrap();
    let mut suback = [0u8; 5];
    within("SUBACK", sink.read_exact(&mut suback)).await.unwrap();
    assert_eq!(suback, [0x90, 3, 0, 1, 1]);

    let mut publisher = Mqtt5::connect(addr, "proto::fast").await;
    let started = Instant::now();
    for i in 0..SENT {
        publisher
            .publish(
                "usp/agent/proto::slow",
                Q5::AtLeastOnce,
                get_request("proto::fast", "proto::slow", &i.to_string()),
                None,
            )
            .await;
    }
    for _ in 0..SENT {
        assert_eq!(publisher.next_puback().await.reason, p5::PubAckReason::Success);
    }
    let dropped = broker.stats().dropped(DropReason::QueueFull);
    // One in flight and four queued: the rest waited, then was dropped.
    assert_eq!(dropped, (SENT - 1 - 4) as u64);
    assert!(started.elapsed() >= Duration::from_millis(100), "the publisher waited for room first");

    // The subscriber reads again: the delivery in flight and the four
    // queued arrive, in order.
    let mut got = Vec::new();
    let mut buf = bytes::BytesMut::new();
    while got.len() < SENT - dropped as usize {
        within("a delivery", sink.read_buf(&mut buf)).await.unwrap();
        while let Some((first, body)) = raw::next_frame(&mut buf) {
            assert_eq!(first & 0xF6, 0x32, "QoS 1 PUBLISH");
            let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
            let pkid = [body[2 + topic_len], body[3 + topic_len]];
            got.push(msg_id(&body[4 + topic_len..]));
            sink.write_all(&[0x40, 0x02, pkid[0], pkid[1]]).await.unwrap();
        }
    }
    assert_eq!(got, ["0", "1", "2", "3", "4"]);
    broker.shutdown().await;
}
