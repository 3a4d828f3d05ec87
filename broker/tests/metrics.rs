//! Counters reach the `metrics` facade (the appliance installs a Prometheus
//! recorder; here a debugging recorder, alone in its test binary because a
//! recorder is process-global).

// An integration test crate: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use rumqttc::v5::mqttbytes::QoS as Q5;

#[tokio::test]
async fn counters_are_exported() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let broker = broker(|_| {}).await;
    let addr = broker.mqtt_addrs()[0];
    let mut a = Mqtt5::connect(addr, "proto::m-a").await;
    let b = Mqtt5::connect(addr, "proto::m-b").await;
    a.subscribe("usp/agent/proto::m-a", Q5::AtLeastOnce).await;
    b.publish("usp/agent/proto::m-a", Q5::AtLeastOnce, get_request("proto::m-b", "proto::m-a", "1"), None)
        .await;
    b.publish("usp/agent/proto::m-a", Q5::AtLeastOnce, get_request("proto::x", "proto::m-a", "2"), None)
        .await;
    b.publish("usp/agent/proto::m-a", Q5::AtLeastOnce, get_request("proto::m-b", "proto::m-a", "3"), None)
        .await;
    a.next_publish().await;
    a.next_publish().await;

    // Counters are reset by each snapshot: take one.
    let snapshot = snapshotter.snapshot().into_vec();
    let counter = |name: &str, label: Option<(&str, &str)>| -> u64 {
        snapshot
            .iter()
            .filter(|(key, _, _, _)| {
                key.key().name() == name
                    && label.is_none_or(|(k, v)| key.key().labels().any(|l| l.key() == k && l.value() == v))
            })
            .map(|(_, _, _, value)| match value {
                DebugValue::Counter(c) => *c,
                other => panic!("{name} is not a counter: {other:?}"),
            })
            .sum()
    };
    assert_eq!(counter("usp_broker_records_in_total", None), 2);
    assert_eq!(counter("usp_broker_records_out_total", None), 2);
    assert_eq!(counter("usp_broker_records_dropped_total", Some(("reason", "spoofed_from_id"))), 1);
    assert_eq!(counter("usp_broker_connections_total", Some(("result", "accepted"))), 2);
    let gauge = snapshot
        .iter()
        .find(|(key, _, _, _)| key.key().name() == "usp_broker_connections")
        .map(|(_, _, _, v)| v);
    assert_eq!(gauge, Some(&DebugValue::Gauge(2.0.into())));
    broker.shutdown().await;
}
