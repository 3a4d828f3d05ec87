//! The USP WebSocket MTP over real sockets (tokio-tungstenite client):
//! handshake rules, WebSocket ↔ MQTT 5 / 3.1.1 / WebSocket routing, close
//! codes for unusable frames, pings, fragmented messages.

// An integration test crate: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;

use bytes::Bytes;
use common::*;
use futures_util::{SinkExt, StreamExt};
use rumqttc::v5::mqttbytes::QoS as Q5;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{
        self, Message,
        client::IntoClientRequest,
        handshake::client::Response,
        protocol::frame::{
            Frame,
            coding::{CloseCode, Data, OpCode},
        },
    },
};
use usp_broker::{DropReason, Mtp};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const CTL: &str = "proto::ctl";

async fn ws_connect(
    addr: SocketAddr,
    query: &str,
    headers: &[(&str, &str)],
) -> Result<(Ws, Response), tungstenite::Error> {
    let mut request = format!("ws://{addr}/usp{query}").into_client_request().unwrap();
    for (k, v) in headers {
        let name = tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap();
        request.headers_mut().insert(name, v.parse().unwrap());
    }
    within("the WebSocket handshake", connect_async(request)).await
}

async fn usp_ws(addr: SocketAddr, eid: &str) -> Ws {
    let (ws, response) =
        ws_connect(addr, &format!("?eid={eid}"), &[("Sec-WebSocket-Protocol", "v1.usp")]).await.unwrap();
    assert_eq!(response.headers()["Sec-WebSocket-Protocol"], "v1.usp", "R-WS.11");
    ws
}

/// The next binary message (answering nothing else).
async fn next_record(ws: &mut Ws) -> Bytes {
    within("a binary message", async {
        loop {
            match ws.next().await.expect("open").expect("no error") {
                Message::Binary(b) => return b,
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await
}

/// The close frame the broker sends.
async fn close_code(ws: &mut Ws) -> CloseCode {
    within("a close frame", async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(Some(frame)))) => return frame.code,
                Some(Ok(_)) => {}
                other => panic!("no close frame: {other:?}"),
            }
        }
    })
    .await
}

#[tokio::test]
async fn websocket_agent_with_mqtt5_controller() {
    let broker = broker(|c| c.access.controllers = vec![CTL.into()]).await;
    let mut ctl = Mqtt5::connect(broker.mqtt_addrs()[0], CTL).await;
    ctl.subscribe("usp/controller/proto::ctl", Q5::AtLeastOnce).await;
    let mut agent = usp_ws(broker.websocket_addrs()[0], "proto::ws-agent").await;
    let info = broker.registry().find("proto::ws-agent").pop().unwrap();
    assert_eq!((info.mtp, info.reply_topic.as_str()), (Mtp::WebSocket, "usp/agent/proto::ws-agent"));

    let request = get_request(CTL, "proto::ws-agent", "over-ws");
    ctl.publish(
        "usp/agent/proto::ws-agent",
        Q5::AtLeastOnce,
        request.clone(),
        Some("usp/controller/proto::ctl"),
    )
    .await;
    assert_eq!(next_record(&mut agent).await, request, "one Record per binary message (R-WS.14)");

    let response = get_response("proto::ws-agent", CTL, "over-ws");
    agent.send(Message::Binary(response.clone())).await.unwrap();
    let got = ctl.next_publish().await;
    assert_eq!(&got.topic[..], b"usp/controller/proto::ctl", "published to the to_id's topic");
    assert_eq!(got.payload, response);
    let props = got.properties.unwrap();
    assert_eq!(props.response_topic.as_deref(), Some("usp/agent/proto::ws-agent"));
    assert_eq!(props.content_type.as_deref(), Some("usp.msg"));
    broker.shutdown().await;
}

#[tokio::test]
async fn websocket_controller_with_mqtt311_agent_and_websocket_peers() {
    let broker = broker(|c| c.access.controllers = vec![CTL.into()]).await;
    let mut agent = Mqtt311::connect(broker.mqtt_addrs()[0], "proto::a311").await;
    agent.subscribe("usp/agent/proto::a311/#", rumqttc::QoS::AtLeastOnce).await;
    let mut ctl = usp_ws(broker.websocket_addrs()[0], CTL).await;
    let mut peer = usp_ws(broker.websocket_addrs()[0], "proto::ws-peer").await;

    ctl.send(Message::Binary(get_request(CTL, "proto::a311", "to-311"))).await.unwrap();
    let got = agent.next_publish().await;
    assert_eq!(got.topic, "usp/agent/proto::a311/reply-to=usp%2Fcontroller%2Fproto::ctl");
    agent
        .client
        .publish(
            "usp/controller/proto::ctl/reply-to=usp%2Fagent%2Fproto::a311",
            rumqttc::QoS::AtLeastOnce,
            false,
            get_response("proto::a311", CTL, "to-311"),
        )
        .await
        .unwrap();
    assert_eq!(msg_id(&next_record(&mut ctl).await), "to-311");

    // WebSocket to WebSocket, through the same fabric.
    ctl.send(Message::Binary(get_request(CTL, "proto::ws-peer", "ws-ws"))).await.unwrap();
    assert_eq!(msg_id(&next_record(&mut peer).await), "ws-ws");
    broker.shutdown().await;
}

#[tokio::test]
async fn handshake_rules() {
    let broker = broker(|c| {
        c.websocket[0].server_eid = Some("self::broker".into());
        c.auth.users =
            vec![usp_broker::config::UserConfig { username: "site".into(), password: "pw".into() }];
    })
    .await;
    let addr = broker.websocket_addrs()[0];
    let status = |r: Result<(Ws, Response), tungstenite::Error>| match r {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("{e}"),
        Ok(_) => 101,
    };
    // "site:pw"
    let auth = ("Authorization", "Basic c2l0ZTpwdw==");
    let proto = ("Sec-WebSocket-Protocol", "v1.usp");
    assert_eq!(
        status(ws_connect(addr, "?eid=proto::x", &[auth]).await),
        400,
        "R-WS.12a: subprotocol required"
    );
    assert_eq!(status(ws_connect(addr, "?eid=proto::x", &[proto]).await), 401, "credentials required");
    assert_eq!(
        status(ws_connect(addr, "?eid=proto::x", &[proto, ("Authorization", "Basic c2l0ZTp4")]).await),
        401
    );
    assert_eq!(status(ws_connect(addr, "", &[proto, auth]).await), 400, "no identity");
    assert_eq!(status(ws_connect(addr, "?eid=nope", &[proto, auth]).await), 400, "not an Endpoint ID");
    let mut other_path = "ws://".to_owned() + &addr.to_string() + "/elsewhere?eid=proto::x";
    let mut request = std::mem::take(&mut other_path).into_client_request().unwrap();
    request.headers_mut().insert(proto.0, proto.1.parse().unwrap());
    request.headers_mut().insert(auth.0, auth.1.parse().unwrap());
    assert_eq!(status(connect_async(request).await), 404);

    // R-WS.10c: `%` travels as `%25`; R-WS.11a: the broker names itself.
    let (_ws, response) = ws_connect(
        addr,
        "?x=1&eid=user::hall%2520panel",
        &[proto, auth, ("Sec-WebSocket-Extensions", "bbf-usp-protocol")],
    )
    .await
    .unwrap();
    assert_eq!(response.headers()["Sec-WebSocket-Extensions"], "bbf-usp-protocol; eid=\"self::broker\"");
    assert_eq!(broker.registry().find("user::hall%20panel").len(), 1);
    assert_eq!(broker.stats().connections_refused, 6);
    broker.shutdown().await;
}

#[tokio::test]
async fn unusable_frames_close_the_session() {
    let broker = broker(|c| c.limits.max_record_size = 4096).await;
    let addr = broker.websocket_addrs()[0];

    let mut ws = usp_ws(addr, "proto::text").await;
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(close_code(&mut ws).await, CloseCode::Unsupported, "R-WS.16");

    let mut ws = usp_ws(addr, "proto::garbage").await;
    ws.send(Message::Binary(Bytes::from_static(b"\xff\xff\xff\xff"))).await.unwrap();
    assert_eq!(close_code(&mut ws).await, CloseCode::Unsupported, "R-WS.16");

    let mut ws = usp_ws(addr, "proto::big").await;
    ws.send(Message::Binary(Bytes::from(vec![0u8; 10_000]))).await.unwrap();
    assert_eq!(close_code(&mut ws).await, CloseCode::Size);

    // A spoofed from_id is dropped; the session stays and keeps working.
    let mut sink = usp_ws(addr, "proto::sink").await;
    let mut liar = usp_ws(addr, "proto::liar").await;
    liar.send(Message::Binary(get_request("proto::boss", "proto::sink", "forged"))).await.unwrap();
    liar.send(Message::Binary(get_request("proto::liar", "proto::sink", "honest"))).await.unwrap();
    assert_eq!(msg_id(&next_record(&mut sink).await), "honest");
    let stats = broker.stats();
    assert_eq!((stats.dropped(DropReason::SpoofedFromId), stats.dropped(DropReason::NotARecord)), (1, 2));
    broker.shutdown().await;
}

#[tokio::test]
async fn pings_and_fragments() {
    let broker = broker(|c| c.websocket[0].ping_interval_s = 1).await;
    let addr = broker.websocket_addrs()[0];
    let mut ws = usp_ws(addr, "proto::pinger").await;

    // The broker answers our Ping (R-WS.13) and pings us (R-WS.17 practice).
    ws.send(Message::Ping(Bytes::from_static(b"p-1"))).await.unwrap();
    let (mut pong, mut ping) = (false, false);
    within("a Pong and a Ping from the broker", async {
        while !(pong && ping) {
            match ws.next().await.unwrap().unwrap() {
                Message::Pong(p) => pong = p == Bytes::from_static(b"p-1"),
                Message::Ping(_) => ping = true,
                other => panic!("{other:?}"),
            }
        }
    })
    .await;

    // A Record in two fragments is one message (R-WS.14b).
    let mut sink = usp_ws(addr, "proto::frag-sink").await;
    let record = get_request("proto::pinger", "proto::frag-sink", "fragmented");
    let (head, tail) = record.split_at(10);
    let first = Frame::message(Bytes::copy_from_slice(head), OpCode::Data(Data::Binary), false);
    let last = Frame::message(Bytes::copy_from_slice(tail), OpCode::Data(Data::Continue), true);
    ws.send(Message::Frame(first)).await.unwrap();
    ws.send(Message::Frame(last)).await.unwrap();
    assert_eq!(next_record(&mut sink).await, record);
    broker.shutdown().await;
}

/// A client that never answers (half-open) is closed after twice the ping
/// interval without a frame.
#[tokio::test]
async fn silent_sessions_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let broker = broker(|c| c.websocket[0].ping_interval_s = 1).await;
    let addr = broker.websocket_addrs()[0];
    let mut raw = TcpStream::connect(addr).await.unwrap();
    let upgrade = format!(
        "GET /usp?eid=proto::mute HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v1.usp\r\n\r\n"
    );
    raw.write_all(upgrade.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut seen = Vec::new();
    within("the broker to close the silent session", async {
        let mut buf = [0u8; 1024];
        loop {
            match raw.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 101"));
    assert!(started.elapsed() >= std::time::Duration::from_secs(2), "not before two silent intervals");
    assert!(broker.registry().find("proto::mute").is_empty());
    broker.shutdown().await;
}

/// An endpoint whose upgrade was accepted is reachable at once: it is
/// registered and subscribed before the 101 is written, like an MQTT client
/// before its CONNACK. With the session on another thread than the sender
/// (a multi-threaded runtime), a Record sent right after the handshake was
/// otherwise unrouted whenever the session's thread was preempted between
/// writing the 101 and attaching — a few runs in a hundred on this loaded
/// machine; many endpoints at once widen the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reachable_as_soon_as_upgraded() {
    let broker = broker(|c| c.access.controllers = vec![CTL.into()]).await;
    let addr = broker.websocket_addrs()[0];
    let link = std::sync::Arc::new(tokio::sync::Mutex::new(broker.link(CTL).unwrap()));
    let endpoints: Vec<_> = (0..200)
        .map(|i| {
            let link = link.clone();
            tokio::spawn(async move {
                let eid = format!("proto::fresh{i}");
                let mut ws = usp_ws(addr, &eid).await;
                link.lock().await.send(get_request(CTL, &eid, &eid)).await.unwrap();
                assert_eq!(msg_id(&next_record(&mut ws).await), eid);
                ws
            })
        })
        .collect();
    let mut open = Vec::new();
    for endpoint in endpoints {
        open.push(endpoint.await.unwrap());
    }
    assert_eq!(broker.stats().unrouted, 0);
    broker.shutdown().await;
}

/// Bad input on the WebSocket port: bytes that are not HTTP, an upgrade
/// request cut off half way, and an endless header are each closed (the
/// last two by `connect_timeout_ms` at the latest) without a session, and a
/// WebSocket endpoint and an MQTT peer keep talking meanwhile.
#[tokio::test]
async fn bad_input_on_the_websocket_port() {
    use tokio::io::AsyncWriteExt;
    let broker = broker(|c| {
        c.limits.connect_timeout_ms = 500;
        c.access.controllers = vec![CTL.into()];
    })
    .await;
    let addr = broker.websocket_addrs()[0];
    let mut garbage = TcpStream::connect(addr).await.unwrap();
    garbage.write_all(b"\x16\x03\x01\x02\x00\xff\xfe garbage\r\n\r\n").await.unwrap();
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(b"GET /usp?eid=proto::half HTTP/1.1\r\nHost: x\r\nUpgra").await.unwrap();
    let mut endless = TcpStream::connect(addr).await.unwrap();
    endless.write_all(b"GET /usp HTTP/1.1\r\n").await.unwrap();
    let header = format!("X-Filler: {}\r\n", "a".repeat(1000));
    for _ in 0..64 {
        if endless.write_all(header.as_bytes()).await.is_err() {
            break;
        }
    }

    let mut agent = usp_ws(addr, "proto::ws-ok").await;
    let mut ctl = Mqtt5::connect(broker.mqtt_addrs()[0], CTL).await;
    ctl.subscribe("usp/controller/proto::ctl", Q5::AtLeastOnce).await;
    ctl.publish("usp/agent/proto::ws-ok", Q5::AtLeastOnce, get_request(CTL, "proto::ws-ok", "ok"), None)
        .await;
    assert_eq!(msg_id(&next_record(&mut agent).await), "ok");
    agent.send(Message::Binary(get_response("proto::ws-ok", CTL, "ok"))).await.unwrap();
    assert_eq!(msg_id(&ctl.next_publish().await.payload), "ok");

    for (name, s) in [("garbage", &mut garbage), ("half", &mut half), ("endless", &mut endless)] {
        let answer = read_until_closed(s).await;
        assert!(!answer.starts_with(b"HTTP/1.1 101"), "{name}: no session");
    }
    assert_eq!(broker.registry().len(), 2, "only the good endpoints are registered");
    assert!(broker.stats().connections_refused >= 3);
    broker.shutdown().await;
}

async fn read_until_closed(s: &mut TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut seen = Vec::new();
    within("the broker to close the socket", async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    seen
}
