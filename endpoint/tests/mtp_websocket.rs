//! The WebSocket client MTP against a small tokio-tungstenite server
//! written here, over real loopback TCP: the handshake (eid, subprotocol,
//! extension), binary frames both ways, 1003 closes, keep-alive, reconnect,
//! and a ControllerClient driving a scripted Agent over it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers, not input paths

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::oneshot,
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        Message,
        handshake::server::{ErrorResponse, Request, Response},
        http::HeaderValue,
        protocol::frame::coding::CloseCode,
    },
};
use usp_endpoint::{
    controller::{ClientConfig, Controller, ControllerClient},
    mtp::{
        Link, LinkError, RecordSender, Role, SessionStatus,
        retry::RetryPolicy,
        websocket::{WsClient, WsConfig, WsError},
    },
};
use usp_proto::{
    Msg, Record,
    usp::{GetResp, Notify, NotifyResp, get_resp},
    usp_record::record::RecordType,
};

const SERVER_EID: &str = "self::ctrl";

/// Every test ends within this, pass or fail.
async fn bounded<F: std::future::Future>(test: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), test).await.expect("test did not finish in time")
}

/// What the server saw in the client's handshake request.
#[derive(Debug)]
struct Seen {
    uri: String,
    protocol: Option<String>,
    extensions: Option<String>,
}

/// How the test server answers the handshake.
#[derive(Clone, Copy)]
struct Answer {
    subprotocol: bool,
    extension_eid: bool,
}

const USP: Answer = Answer { subprotocol: true, extension_eid: true };

async fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/usp/controller", l.local_addr().unwrap());
    (l, url)
}

/// Accepts one session the way a USP server would.
async fn accept(l: &TcpListener, answer: Answer) -> (WebSocketStream<TcpStream>, Seen) {
    let (tcp, _) = l.accept().await.unwrap();
    let (tx, rx) = oneshot::channel();
    // The signature is tungstenite's callback type; its error is large by design.
    #[allow(clippy::result_large_err)]
    let callback = move |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        let header = |name: &str| req.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        let seen = Seen {
            uri: req.uri().to_string(),
            protocol: header("Sec-WebSocket-Protocol"),
            extensions: header("Sec-WebSocket-Extensions"),
        };
        if answer.subprotocol {
            resp.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("v1.usp"));
        }
        if answer.extension_eid {
            resp.headers_mut().insert(
                "Sec-WebSocket-Extensions",
                HeaderValue::from_static("bbf-usp-protocol; eid=\"self::ctrl\""),
            );
        }
        tx.send(seen).unwrap();
        Ok(resp)
    };
    let ws = tokio_tungstenite::accept_hdr_async(tcp, callback).await.unwrap();
    (ws, rx.await.unwrap())
}

fn config(eid: &str, role: Role, url: &str) -> WsConfig {
    WsConfig {
        retry: RetryPolicy { min_wait: Duration::from_millis(20), multiplier: 1000, max_wait: None },
        ..WsConfig::new(eid, role, url)
    }
}

/// The next binary message, decoded as a Record.
async fn next_record(ws: &mut WebSocketStream<TcpStream>) -> Record {
    loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Binary(b) => return usp_proto::decode::Limits::default().decode_record(b).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected a binary record, got {other:?}"),
        }
    }
}

/// The close code the server receives next (skipping records and pings).
async fn close_code(ws: &mut WebSocketStream<TcpStream>) -> CloseCode {
    loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Close(Some(frame)) => return frame.code,
            Message::Close(None) => panic!("close without a status code"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn the_handshake_carries_eid_subprotocol_and_extension_and_the_agent_announces_itself() {
    bounded(async {
        let (l, url) = listener().await;
        let agent_eid = "doc::agent%21";
        let (client, _link) = {
            let connecting = tokio::spawn(WsClient::connect(config(agent_eid, Role::Agent, &url)));
            let (mut ws, seen) = accept(&l, USP).await;
            assert_eq!(seen.uri, "/usp/controller?eid=doc::agent%2521", "R-WS.10b/c");
            assert_eq!(seen.protocol.as_deref(), Some("v1.usp"));
            assert_eq!(seen.extensions.as_deref(), Some("bbf-usp-protocol"));
            let (client, link) = connecting.await.unwrap().unwrap();
            // R-MTP.6: the first record is the WebSocketConnect, to the
            // server's eid learned from its extension answer.
            let first = next_record(&mut ws).await;
            assert!(matches!(first.record_type, Some(RecordType::WebsocketConnect(_))));
            assert_eq!((first.to_id.as_str(), first.from_id.as_str()), (SERVER_EID, agent_eid));
            (client, link)
        };
        assert_eq!(client.peer_endpoint_id().as_deref(), Some(SERVER_EID));
        assert_eq!((client.status(), client.sessions()), (SessionStatus::Connected, 1));
    })
    .await;
}

#[tokio::test]
async fn a_controller_client_talks_to_an_agent_over_binary_frames() {
    bounded(async {
        let (l, url) = listener().await;
        let server = tokio::spawn(async move {
            let (mut ws, _) = accept(&l, Answer { subprotocol: true, extension_eid: false }).await;
            // A scripted Agent behind the server: answer a Get, then notify.
            let req = next_record(&mut ws).await;
            let msg = req.msg().unwrap();
            let resp = GetResp::new(vec![get_resp::RequestedPathResult::ok("Device.A.", vec![])]);
            let answer = Record::no_session_context_msg(
                &req.from_id,
                "proto::room101",
                &Msg::response(msg.msg_id(), resp),
            );
            ws.send(Message::Binary(answer.encode_to_bytes())).await.unwrap();
            let notify = Notify::value_change("s-1", true, "Device.A.V", "2");
            let n =
                Record::no_session_context_msg(&req.from_id, "proto::room101", &Msg::request("n-1", notify));
            ws.send(Message::Binary(n.encode_to_bytes())).await.unwrap();
            let resp = next_record(&mut ws).await;
            assert_eq!(resp.msg().unwrap(), Msg::response("n-1", NotifyResp::new("s-1")));
            ws
        });
        let (ws_client, link) =
            WsClient::connect(config("self::rules", Role::Controller, &url)).await.unwrap();
        assert_eq!(
            ws_client.peer_endpoint_id(),
            None,
            "no extension answer, no eid: not an error (R-WS.11b)"
        );
        let (client, mut notifications) =
            ControllerClient::spawn(Controller::new("self::rules").unwrap(), link, ClientConfig::default());
        let resp = client.get("proto::room101", ["Device.A."]).await.unwrap();
        assert_eq!(resp.req_path_results[0].requested_path, "Device.A.");
        assert_eq!(notifications.next_notification().await.unwrap().msg_id, "n-1");
        server.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_server_without_the_usp_subprotocol_is_refused() {
    bounded(async {
        let (l, url) = listener().await;
        let server =
            tokio::spawn(async move { accept(&l, Answer { subprotocol: false, extension_eid: true }).await });
        let err = WsClient::connect(config("proto::a", Role::Agent, &url)).await.unwrap_err();
        assert!(matches!(err, WsError::Connect(ref e) if e.contains("handshake")), "{err:?}");
        drop(server);
    })
    .await;
}

#[tokio::test]
async fn a_text_frame_or_a_malformed_record_closes_the_session_with_1003() {
    bounded(async {
        let (l, url) = listener().await;
        let connecting = tokio::spawn(WsClient::connect(config("proto::a", Role::Controller, &url)));
        let (mut ws, _) = accept(&l, USP).await;
        let (client, _link) = connecting.await.unwrap().unwrap();
        ws.send(Message::Text("{\"not\":\"usp\"}".into())).await.unwrap();
        assert_eq!(close_code(&mut ws).await, CloseCode::Unsupported);
        drop(ws);

        // It retries; the next session gets a binary message that is no Record.
        let (mut ws, _) = accept(&l, USP).await;
        client.wait_connected().await.unwrap();
        ws.send(Message::Binary(Bytes::from_static(&[0xff, 0xff, 0xff]))).await.unwrap();
        assert_eq!(close_code(&mut ws).await, CloseCode::Unsupported);
        assert!(client.sessions() >= 2);
    })
    .await;
}

#[tokio::test]
async fn the_client_reconnects_and_announces_itself_on_every_session() {
    bounded(async {
        let (l, url) = listener().await;
        let slow = WsConfig {
            retry: RetryPolicy { min_wait: Duration::from_millis(300), multiplier: 1000, max_wait: None },
            ..config("proto::a", Role::Agent, &url)
        };
        let connecting = tokio::spawn(WsClient::connect(slow));
        let (mut ws, _) = accept(&l, USP).await;
        let (client, Link { sender, mut incoming }) = connecting.await.unwrap().unwrap();
        assert!(matches!(next_record(&mut ws).await.record_type, Some(RecordType::WebsocketConnect(_))));

        // Server → client record, then the server goes away.
        let r = Record::websocket_connect("proto::a", SERVER_EID).encode_to_bytes();
        ws.send(Message::Binary(r.clone())).await.unwrap();
        assert_eq!(incoming.recv().await.unwrap(), r);
        ws.close(None).await.unwrap();
        drop(ws);
        client.wait_disconnected().await;
        assert!(matches!(client.status(), SessionStatus::Retrying { retry: 1, .. }));
        assert_eq!(sender.send(SERVER_EID, r.clone()).await, Err(LinkError::NotConnected));

        let (mut ws, _) = accept(&l, USP).await;
        client.wait_connected().await.unwrap();
        assert!(matches!(next_record(&mut ws).await.record_type, Some(RecordType::WebsocketConnect(_))));
        sender.send(SERVER_EID, r.clone()).await.unwrap();
        assert_eq!(next_record(&mut ws).await, Record::websocket_connect("proto::a", SERVER_EID));
        assert_eq!(client.sessions(), 2);
    })
    .await;
}

#[tokio::test]
async fn pings_flow_and_a_server_that_never_pongs_is_dropped() {
    bounded(async {
        let (l, url) = listener().await;
        let cfg =
            WsConfig { keep_alive: Duration::from_millis(30), ..config("proto::a", Role::Controller, &url) };
        let connecting = tokio::spawn(WsClient::connect(cfg));
        let (mut ws, _) = accept(&l, USP).await;
        let (client, _link) = connecting.await.unwrap().unwrap();
        // A reading server sees our Pings (and tungstenite answers them).
        loop {
            if let Message::Ping(_) = ws.next().await.unwrap().unwrap() {
                break;
            }
        }
        // Now the server stops reading: no Pongs. After 3 missed Pongs the
        // client drops the session and opens a new one.
        let (_ws2, _) = accept(&l, USP).await;
        client.wait_connected().await.unwrap();
        assert_eq!(client.sessions(), 2);
        drop(ws);
    })
    .await;
}

#[tokio::test]
async fn a_graceful_shutdown_sends_a_disconnect_record_and_closes_with_1000() {
    bounded(async {
        let (l, url) = listener().await;
        let connecting = tokio::spawn(WsClient::connect(config("proto::a", Role::Agent, &url)));
        let (mut ws, _) = accept(&l, USP).await;
        let (client, _link) = connecting.await.unwrap().unwrap();
        assert!(matches!(next_record(&mut ws).await.record_type, Some(RecordType::WebsocketConnect(_))));
        let shutdown = tokio::spawn(client.shutdown(Duration::from_secs(5)));
        let bye = next_record(&mut ws).await;
        let Some(RecordType::Disconnect(d)) = bye.record_type else { panic!("{bye:?}") };
        assert_eq!((bye.to_id.as_str(), d.reason_code), (SERVER_EID, 7105));
        assert_eq!(close_code(&mut ws).await, CloseCode::Normal);
        // Reading the Close queued tungstenite's Close reply; flush it and
        // close the TCP connection, as a server ends the Close handshake.
        let _ = ws.flush().await;
        drop(ws);
        shutdown.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn oversized_records_are_refused_before_sending() {
    bounded(async {
        let (l, url) = listener().await;
        let cfg = WsConfig { max_record_size: 16, ..config("proto::a", Role::Controller, &url) };
        let connecting = tokio::spawn(WsClient::connect(cfg));
        let _server = accept(&l, USP).await;
        let (_client, link) = connecting.await.unwrap().unwrap();
        let err = link.sender.send(SERVER_EID, Bytes::from(vec![0u8; 17])).await;
        assert_eq!(err, Err(LinkError::TooLarge { size: 17, max: 16 }));
    })
    .await;
}
