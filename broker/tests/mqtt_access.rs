//! Access control over real TCP: foreign subscriptions get no traffic, a
//! spoofed `from_id` never arrives, wrong credentials and non-Endpoint-ID
//! identities are refused, admins may watch everything.

// An integration test crate: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use rumqttc::v5::mqttbytes::{QoS as Q5, v5 as p5};
use usp_broker::DropReason;

/// The victim's traffic never reaches an endpoint whose subscription to the
/// victim's topic was refused. Proven without waiting for a timeout: a
/// marker sent *after* the victim's Record through the same connections
/// arrives first.
#[tokio::test]
async fn foreign_subscriptions_are_refused_and_get_nothing() {
    let broker = broker(|_| {}).await;
    let addr = broker.mqtt_addrs()[0];
    let mut thief = Mqtt5::connect(addr, "proto::thief").await;
    let mut thief311 = Mqtt311::connect(addr, "proto::thief311").await;
    let mut victim = Mqtt5::connect(addr, "proto::victim").await;
    let sender = Mqtt5::connect(addr, "proto::sender").await;

    for filter in ["usp/agent/proto::victim", "usp/agent/+", "usp/#", "#", "usp/agent/proto::victim/#"] {
        assert_eq!(
            thief.subscribe(filter, Q5::AtLeastOnce).await,
            vec![p5::SubscribeReasonCode::NotAuthorized],
            "{filter}"
        );
        assert_eq!(
            thief311.subscribe(filter, rumqttc::QoS::AtLeastOnce).await,
            vec![rumqttc::SubscribeReasonCode::Failure]
        );
    }
    assert_eq!(
        thief.subscribe("$share/g/usp/agent/proto::thief", Q5::AtMostOnce).await,
        vec![p5::SubscribeReasonCode::SharedSubscriptionsNotSupported]
    );
    thief.subscribe("usp/agent/proto::thief", Q5::AtLeastOnce).await;
    thief311.subscribe("usp/agent/proto::thief311/#", rumqttc::QoS::AtLeastOnce).await;
    victim.subscribe("usp/agent/proto::victim", Q5::AtLeastOnce).await;

    sender
        .publish(
            "usp/agent/proto::victim",
            Q5::AtLeastOnce,
            get_request("proto::sender", "proto::victim", "secret"),
            None,
        )
        .await;
    sender
        .publish(
            "usp/agent/proto::thief",
            Q5::AtLeastOnce,
            get_request("proto::sender", "proto::thief", "marker"),
            None,
        )
        .await;
    sender
        .publish(
            "usp/agent/proto::thief311",
            Q5::AtLeastOnce,
            get_request("proto::sender", "proto::thief311", "marker"),
            None,
        )
        .await;
    assert_eq!(msg_id(&victim.next_publish().await.payload), "secret");
    assert_eq!(msg_id(&thief.next_publish().await.payload), "marker");
    assert_eq!(msg_id(&thief311.next_publish().await.payload), "marker");
    assert_eq!(broker.stats().subscriptions_refused, 11);
    broker.shutdown().await;
}

/// A Record whose `from_id` is someone else's is dropped (PUBACK 0x87),
/// counted, and never delivered; the next genuine Record is.
#[tokio::test]
async fn spoofed_from_id_never_arrives() {
    let broker = broker(|_| {}).await;
    let addr = broker.mqtt_addrs()[0];
    let mut target = Mqtt5::connect(addr, "proto::target").await;
    target.subscribe("usp/agent/proto::target", Q5::AtLeastOnce).await;
    let mut liar = Mqtt5::connect(addr, "proto::liar").await;
    let liar311 = Mqtt311::connect(addr, "proto::liar311").await;

    liar.publish(
        "usp/agent/proto::target",
        Q5::AtLeastOnce,
        get_request("proto::boss", "proto::target", "forged"),
        None,
    )
    .await;
    assert_eq!(liar.next_puback().await.reason, p5::PubAckReason::NotAuthorized);
    liar311
        .client
        .publish(
            "usp/agent/proto::target",
            rumqttc::QoS::AtMostOnce,
            false,
            get_request("proto::boss", "proto::target", "forged-311"),
        )
        .await
        .unwrap();
    liar.publish("usp/agent/proto::target", Q5::AtLeastOnce, b"not a record at all".to_vec().into(), None)
        .await;
    assert_eq!(liar.next_puback().await.reason, p5::PubAckReason::ImplementationSpecificError);
    liar.publish(
        "usp/agent/proto::target",
        Q5::AtLeastOnce,
        get_request("proto::liar", "proto::target", "honest"),
        None,
    )
    .await;
    assert_eq!(liar.next_puback().await.reason, p5::PubAckReason::Success);
    // The 3.1.1 liar's record was read before its marker; send one to be sure it was handled.
    liar311
        .client
        .publish(
            "usp/agent/proto::target",
            rumqttc::QoS::AtMostOnce,
            false,
            get_request("proto::liar311", "proto::target", "honest-311"),
        )
        .await
        .unwrap();

    let mut got =
        vec![msg_id(&target.next_publish().await.payload), msg_id(&target.next_publish().await.payload)];
    got.sort();
    assert_eq!(got, vec!["honest", "honest-311"]);
    let stats = broker.stats();
    assert_eq!(stats.dropped(DropReason::SpoofedFromId), 2);
    assert_eq!(stats.dropped(DropReason::NotARecord), 1);
    broker.shutdown().await;
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let broker = broker(|c| {
        c.auth.users =
            vec![usp_broker::config::UserConfig { username: "site".into(), password: "s3cret".into() }]
    })
    .await;
    let addr = broker.mqtt_addrs()[0];
    let with = |creds: Option<(&str, &str)>| Options5 {
        endpoint_id: Some("proto::a".into()),
        credentials: creds.map(|(u, p)| (u.to_owned(), p.to_owned())),
        ..Options5::default()
    };
    let refused = Mqtt5::connect_with(addr, with(Some(("site", "wrong")))).await.err().expect("refused");
    assert!(refused.contains("BadUserNamePassword"), "{refused}");
    assert!(Mqtt5::connect_with(addr, with(None)).await.is_err());
    assert!(Mqtt5::connect_with(addr, with(Some(("site", "s3cret")))).await.is_ok());

    let mut v4 = rumqttc::MqttOptions::new("proto::b", addr.ip().to_string(), addr.port());
    v4.set_credentials("site", "nope");
    let refused = Mqtt311::start(v4).await.err().expect("refused");
    assert!(refused.contains("BadUserNamePassword"), "{refused}");
    assert_eq!(broker.stats().connections_refused, 3);
    assert_eq!(broker.registry().len(), 1);
    broker.shutdown().await;
}

#[tokio::test]
async fn identities_must_be_endpoint_ids() {
    let broker = broker(|c| c.access.admins = vec!["watch".into()]).await;
    let addr = broker.mqtt_addrs()[0];
    let refused = Mqtt311::start(rumqttc::MqttOptions::new("no-scheme", addr.ip().to_string(), addr.port()))
        .await
        .err()
        .expect("refused");
    assert!(refused.contains("BadClientId"), "{refused}");
    let refused = Mqtt5::connect_with(addr, Options5::default()).await.err().expect("no identity at all");
    assert!(refused.contains("ClientIdentifierNotValid"), "{refused}");

    // The admin may watch everything.
    let mut watch = Mqtt5::connect_with(addr, Options5 { client_id: "watch".into(), ..Options5::default() })
        .await
        .unwrap();
    assert_eq!(
        watch.subscribe("#", Q5::AtMostOnce).await,
        vec![p5::SubscribeReasonCode::Success(Q5::AtMostOnce)]
    );
    let agent = Mqtt5::connect(addr, "proto::a").await;
    agent
        .publish(
            "usp/controller/proto::c",
            Q5::AtMostOnce,
            get_request("proto::a", "proto::c", "seen"),
            Some("usp/agent/proto::a"),
        )
        .await;
    let seen = watch.next_publish().await;
    assert_eq!(&seen.topic[..], b"usp/controller/proto::c");
    assert_eq!(msg_id(&seen.payload), "seen");
    broker.shutdown().await;
}

/// A will is checked like a publish: a spoofed one is discarded at CONNECT;
/// a genuine one is published when the connection dies without DISCONNECT.
#[tokio::test]
async fn last_will_only_if_genuine() {
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
    let forged = raw::connected(addr, "proto::w1", 60, Some(will("proto::ctl", "forged-will"))).await;
    assert_eq!(broker.stats().dropped(DropReason::SpoofedFromId), 1, "checked at CONNECT");
    drop(forged);
    let genuine = raw::connected(addr, "proto::w2", 60, Some(will("proto::w2", "will"))).await;
    drop(genuine);
    let got = ctl.next_publish().await;
    assert_eq!(msg_id(&got.payload), "will");
    broker.shutdown().await;
}
