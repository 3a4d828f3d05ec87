//! Helpers shared by the integration tests: a broker on ephemeral loopback
//! ports, USP Records, and rumqttc clients (MQTT 5 and 3.1.1) whose events
//! are awaited, never slept for.
//!
//! Each test binary uses a different subset of these helpers.
#![allow(dead_code, unreachable_pub)]
#![allow(clippy::unwrap_used)]

use std::{collections::VecDeque, net::SocketAddr, time::Duration};

use bytes::Bytes;
use rumqttc::v5::{self, mqttbytes::v5 as p5};
use tokio::sync::mpsc;
use usp_broker::{Broker, BrokerConfig, BrokerHandle};
use usp_proto::{
    Msg, Record,
    usp::{Get, GetResp},
};

/// How long any single expected event may take before the test fails.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A broker on loopback with system-chosen ports, configured by `f`.
pub async fn broker(f: impl FnOnce(&mut BrokerConfig)) -> BrokerHandle {
    let mut config = BrokerConfig::loopback_ephemeral();
    f(&mut config);
    Broker::start(config).await.expect("broker starts")
}

/// A NoSessionContext Record carrying a Get request.
pub fn get_request(from: &str, to: &str, msg_id: &str) -> Bytes {
    let msg = Msg::request(msg_id, Get::new(["Device.DeviceInfo."]));
    Record::no_session_context_msg(to, from, &msg).encode_to_bytes()
}

/// Decodes a Record.
pub fn record(bytes: &[u8]) -> Record {
    usp_proto::decode::Limits::default().decode_record(Bytes::copy_from_slice(bytes)).expect("a Record")
}

/// A NoSessionContext Record carrying an (empty) Get response.
pub fn get_response(from: &str, to: &str, msg_id: &str) -> Bytes {
    let msg = Msg::response(msg_id, GetResp::new(vec![]));
    Record::no_session_context_msg(to, from, &msg).encode_to_bytes()
}

/// The msg_id of a Record's Msg.
pub fn msg_id(bytes: &[u8]) -> String {
    record(bytes).msg().expect("a Msg").msg_id().to_owned()
}

/// Waits for `fut` at most [`EVENT_TIMEOUT`].
pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(EVENT_TIMEOUT, fut).await.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// An MQTT 5 client (rumqttc) with its event loop running in a task.
pub struct Mqtt5 {
    pub client: v5::AsyncClient,
    events: mpsc::UnboundedReceiver<Result<v5::Event, v5::ConnectionError>>,
    pub connack: p5::ConnAck,
    publishes: VecDeque<p5::Publish>,
}

/// Options for [`Mqtt5::connect_with`].
#[derive(Default, Clone)]
pub struct Options5 {
    pub client_id: String,
    pub endpoint_id: Option<String>,
    pub credentials: Option<(String, String)>,
    pub keep_alive_s: Option<u64>,
    pub will: Option<p5::LastWill>,
}

impl Mqtt5 {
    /// Connects as a USP endpoint: empty ClientId, `usp-endpoint-id`,
    /// Request Response Information = 1 (TR-369 §11 start-up).
    pub async fn connect(addr: SocketAddr, endpoint_id: &str) -> Mqtt5 {
        Self::connect_with(addr, Options5 { endpoint_id: Some(endpoint_id.into()), ..Options5::default() })
            .await
            .expect("connected")
    }

    /// Connects; `Err` carries the refusal or error text.
    pub async fn connect_with(addr: SocketAddr, o: Options5) -> Result<Mqtt5, String> {
        let mut options = v5::MqttOptions::new(o.client_id, addr.ip().to_string(), addr.port());
        options.set_request_response_info(Some(1));
        if let Some(eid) = o.endpoint_id {
            options.set_user_properties(vec![("usp-endpoint-id".into(), eid)]);
        }
        if let Some((u, p)) = o.credentials {
            options.set_credentials(u, p);
        }
        if let Some(k) = o.keep_alive_s {
            options.set_keep_alive(Duration::from_secs(k));
        }
        if let Some(will) = o.will {
            options.set_last_will(will);
        }
        Self::start(options).await
    }

    /// Starts the event loop of `options` and waits for the CONNACK.
    pub async fn start(options: v5::MqttOptions) -> Result<Mqtt5, String> {
        let (client, mut eventloop) = v5::AsyncClient::new(options, 64);
        let (tx, mut events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let event = eventloop.poll().await;
                let failed = event.is_err();
                if tx.send(event).is_err() || failed {
                    break;
                }
            }
        });
        let connack = within("CONNACK", async {
            loop {
                match events.recv().await {
                    Some(Ok(v5::Event::Incoming(p5::Packet::ConnAck(ack)))) => return Ok(ack),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.to_string()),
                    None => return Err("event loop ended".to_owned()),
                }
            }
        })
        .await?;
        Ok(Mqtt5 { client, events, connack, publishes: VecDeque::new() })
    }

    /// The CONNACK Response Information.
    pub fn response_information(&self) -> Option<String> {
        self.connack.properties.as_ref().and_then(|p| p.response_information.clone())
    }

    async fn next_event(&mut self, what: &str) -> Result<v5::Event, v5::ConnectionError> {
        within(what, async { self.events.recv().await.unwrap_or(Err(v5::ConnectionError::RequestsDone)) })
            .await
    }

    /// Subscribes and returns the SUBACK codes.
    pub async fn subscribe(&mut self, filter: &str, qos: v5::mqttbytes::QoS) -> Vec<p5::SubscribeReasonCode> {
        self.client.subscribe(filter, qos).await.expect("subscribe queued");
        loop {
            match self.next_event("SUBACK").await.expect("SUBACK") {
                v5::Event::Incoming(p5::Packet::SubAck(ack)) => return ack.return_codes,
                v5::Event::Incoming(p5::Packet::Publish(p)) => self.publishes.push_back(p),
                _ => {}
            }
        }
    }

    /// Publishes a Record with Content Type `usp.msg` and a Response Topic.
    pub async fn publish(
        &self,
        topic: &str,
        qos: v5::mqttbytes::QoS,
        record: Bytes,
        response_topic: Option<&str>,
    ) {
        let props = p5::PublishProperties {
            response_topic: response_topic.map(str::to_owned),
            content_type: Some("usp.msg".into()),
            ..Default::default()
        };
        self.client.publish_with_properties(topic, qos, false, record, props).await.expect("publish queued");
    }

    /// The next PUBLISH received.
    pub async fn next_publish(&mut self) -> p5::Publish {
        if let Some(p) = self.publishes.pop_front() {
            return p;
        }
        loop {
            if let v5::Event::Incoming(p5::Packet::Publish(p)) =
                self.next_event("PUBLISH").await.expect("PUBLISH")
            {
                return p;
            }
        }
    }

    /// Waits until the connection ends; returns the broker's DISCONNECT
    /// reason if it sent one.
    pub async fn closed(&mut self) -> Option<p5::DisconnectReasonCode> {
        loop {
            match self.next_event("connection end").await {
                Ok(_) => {}
                Err(v5::ConnectionError::MqttState(v5::StateError::ServerDisconnect {
                    reason_code, ..
                })) => {
                    return Some(reason_code);
                }
                Err(_) => return None,
            }
        }
    }

    /// The next incoming PUBACK.
    /// The next event of any kind (an error fails the test).
    pub async fn next_event_any(&mut self) -> v5::Event {
        self.next_event("an event").await.expect("connection open")
    }

    pub async fn next_puback(&mut self) -> p5::PubAck {
        loop {
            match self.next_event("PUBACK").await.expect("PUBACK") {
                v5::Event::Incoming(p5::Packet::PubAck(ack)) => return ack,
                v5::Event::Incoming(p5::Packet::Publish(p)) => self.publishes.push_back(p),
                _ => {}
            }
        }
    }
}

/// An MQTT 3.1.1 client (rumqttc) with its event loop running in a task.
pub struct Mqtt311 {
    pub client: rumqttc::AsyncClient,
    events: mpsc::UnboundedReceiver<Result<rumqttc::Event, String>>,
    publishes: VecDeque<rumqttc::Publish>,
}

impl Mqtt311 {
    /// Connects with ClientId = Endpoint ID (R-MQTT.8).
    pub async fn connect(addr: SocketAddr, client_id: &str) -> Mqtt311 {
        let options = rumqttc::MqttOptions::new(client_id, addr.ip().to_string(), addr.port());
        Self::start(options).await.expect("connected")
    }

    /// Starts the event loop of `options` and waits for the CONNACK.
    pub async fn start(options: rumqttc::MqttOptions) -> Result<Mqtt311, String> {
        let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 64);
        let (tx, mut events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let event = eventloop.poll().await.map_err(|e| e.to_string());
                let failed = event.is_err();
                if tx.send(event).is_err() || failed {
                    break;
                }
            }
        });
        within("CONNACK", async {
            loop {
                match events.recv().await {
                    Some(Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_)))) => return Ok(()),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e),
                    None => return Err("event loop ended".to_owned()),
                }
            }
        })
        .await?;
        Ok(Mqtt311 { client, events, publishes: VecDeque::new() })
    }

    async fn next_event(&mut self, what: &str) -> Result<rumqttc::Event, String> {
        within(what, async { self.events.recv().await.unwrap_or_else(|| Err("event loop ended".to_owned())) })
            .await
    }

    /// Subscribes and returns the SUBACK codes.
    pub async fn subscribe(&mut self, filter: &str, qos: rumqttc::QoS) -> Vec<rumqttc::SubscribeReasonCode> {
        self.client.subscribe(filter, qos).await.expect("subscribe queued");
        loop {
            match self.next_event("SUBACK").await.expect("SUBACK") {
                rumqttc::Event::Incoming(rumqttc::Packet::SubAck(ack)) => return ack.return_codes,
                rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) => self.publishes.push_back(p),
                _ => {}
            }
        }
    }

    /// The next PUBLISH received.
    pub async fn next_publish(&mut self) -> rumqttc::Publish {
        if let Some(p) = self.publishes.pop_front() {
            return p;
        }
        loop {
            if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) =
                self.next_event("PUBLISH").await.expect("PUBLISH")
            {
                return p;
            }
        }
    }

    /// Waits until the connection ends.
    pub async fn closed(&mut self) {
        while self.next_event("connection end").await.is_ok() {}
    }
}

/// Raw MQTT over a plain socket, for input no well-behaved client sends.
pub mod raw {
    use super::*;
    use bytes::BytesMut;
    use rumqttd::protocol::{Connect, LastWill, Login, Packet, Protocol, v4::V4};
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpStream,
    };

    /// A 3.1.1 CONNECT frame.
    pub fn connect_frame(
        client_id: &str,
        keep_alive: u16,
        will: Option<LastWill>,
        login: Option<(&str, &str)>,
    ) -> Vec<u8> {
        let connect = Connect { keep_alive, client_id: client_id.into(), clean_session: true };
        let login = login.map(|(u, p)| Login { username: u.into(), password: p.into() });
        let mut buf = BytesMut::new();
        V4.write(Packet::Connect(connect, None, will, None, login), &mut buf).unwrap();
        buf.to_vec()
    }

    /// An MQTT 5 CONNECT frame naming the Endpoint ID in `usp-endpoint-id`.
    pub fn connect5_frame(endpoint_id: &str) -> Vec<u8> {
        use rumqttd::protocol::{ConnectProperties, v5::V5};
        let connect = Connect { keep_alive: 60, client_id: String::new(), clean_session: true };
        let props = ConnectProperties {
            session_expiry_interval: None,
            receive_maximum: None,
            max_packet_size: None,
            topic_alias_max: None,
            request_response_info: None,
            request_problem_info: None,
            user_properties: vec![("usp-endpoint-id".into(), endpoint_id.into())],
            authentication_method: None,
            authentication_data: None,
        };
        let mut buf = BytesMut::new();
        V5.write(Packet::Connect(connect, Some(props), None, None, None), &mut buf).unwrap();
        buf.to_vec()
    }

    /// Connects as an MQTT 5 client and returns the socket after the CONNACK.
    pub async fn connected5(addr: SocketAddr, endpoint_id: &str) -> TcpStream {
        let mut s = send(addr, &connect5_frame(endpoint_id)).await;
        let mut head = [0u8; 2];
        within("CONNACK", s.read_exact(&mut head)).await.unwrap();
        assert_eq!(head[0], 0x20);
        let mut rest = vec![0u8; usize::from(head[1])];
        within("CONNACK", s.read_exact(&mut rest)).await.unwrap();
        assert_eq!(rest[1], 0, "CONNACK accepted");
        s
    }

    /// Opens a socket and sends `bytes`.
    pub async fn send(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(bytes).await.unwrap();
        s
    }

    /// Connects as a 3.1.1 client and checks the CONNACK is a success.
    pub async fn connected(
        addr: SocketAddr,
        client_id: &str,
        keep_alive: u16,
        will: Option<LastWill>,
    ) -> TcpStream {
        let mut s = send(addr, &connect_frame(client_id, keep_alive, will, None)).await;
        let mut ack = [0u8; 4];
        within("CONNACK", s.read_exact(&mut ack)).await.unwrap();
        assert_eq!(ack, [0x20, 2, 0, 0], "CONNACK accepted");
        s
    }

    /// Splits one complete MQTT frame off the front of `buf`: (first byte,
    /// body).
    pub fn next_frame(buf: &mut BytesMut) -> Option<(u8, BytesMut)> {
        use bytes::Buf;
        let (mut len, mut shift, mut at) = (0usize, 0, 1);
        loop {
            let b = *buf.get(at)?;
            len |= usize::from(b & 0x7f) << shift;
            at += 1;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        if buf.len() < at + len {
            return None;
        }
        let mut frame = buf.split_to(at + len);
        let first = frame[0];
        frame.advance(at);
        Some((first, frame))
    }

    /// Reads until the broker closes the socket; returns what it sent.
    pub async fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
        let mut out = Vec::new();
        within("the broker to close the socket", async {
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        out
    }
}
