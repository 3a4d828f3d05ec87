//! The USP WebSocket MTP server (tokio-tungstenite), routed in the same
//! fabric as MQTT.
//!
//! A WebSocket endpoint is attached like an MQTT client subscribed to its two
//! own topics, so Records published to `usp/agent/<eid>` or
//! `usp/controller/<eid>` by anyone — an MQTT 5 or 3.1.1 client, another
//! WebSocket endpoint, an in-process link — arrive on its session as binary
//! messages (R-WS.14). A Record it sends is checked like an MQTT publish
//! (its `from_id` must be the session's identity) and published to the topic
//! of its `to_id` (that endpoint's reply topic), with this endpoint's reply
//! topic as the reply-to, so MQTT peers can answer.
//!
//! Frames: one binary message per Record; a text message or a binary one
//! that is not a Record closes the session with 1003 (R-WS.16); a Record
//! over the size limit closes it with 1009; a spoofed `from_id` is dropped
//! and counted, the session stays. The broker pings every
//! `ping_interval_s` and closes a session silent for twice that.
//! tungstenite answers Pings with Pongs (R-WS.13) and reassembles fragmented
//! messages (R-WS.14b).

pub(crate) mod handshake;

pub use handshake::{EXTENSION, HandshakeRefusal, SUBPROTOCOL};

/// Checks an upgrade request given as text — the request target on the
/// first line, then one `Name: value` header per line — as the listener at
/// `/usp` does. For the fuzz target `fuzz/fuzz_targets/ws_upgrade.rs` and
/// its tests; not part of the API. `None`: not a request `http` can hold.
#[doc(hidden)]
pub fn fuzz_upgrade_request(data: &[u8]) -> Option<Result<Option<String>, HandshakeRefusal>> {
    let text = std::str::from_utf8(data).ok()?;
    let mut lines = text.split('\n');
    let mut request = tokio_tungstenite::tungstenite::http::Request::get(lines.next()?);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        request = request.header(name.trim(), value.trim());
    }
    let request = request.body(()).ok()?;
    Some(handshake::check_request(&request, "/usp").map(|upgrade| upgrade.eid))
}

use std::{net::SocketAddr, pin::pin, sync::Arc, time::Duration};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rumqttd::protocol::QoS;
use tokio::time::{Instant, MissedTickBehavior, interval, timeout, timeout_at};
use tokio_tungstenite::{
    WebSocketStream, accept_hdr_async_with_config,
    tungstenite::{
        self, Message as WsMessage,
        handshake::server::{ErrorResponse, Request, Response},
        http::{HeaderValue, header},
        protocol::{CloseFrame, WebSocketConfig, frame::coding::CloseCode},
    },
};

use crate::{
    acl::ConnectRefusal,
    attachment::Attachment,
    broker::Shared,
    config::WebSocketListenerConfig,
    identity::{Claims, Identity, IdentitySource},
    mqtt::PeerCertificate,
    record_check::RecordRejection,
    registry::{Mtp, NewEntry},
    router::{Message, Pending},
    stats::DropReason,
    transport::Transport,
};

/// Runs the handshake's access decisions: credentials, then identity.
fn authorize(
    shared: &Shared,
    request: &Request,
    path: &str,
    certificate: &PeerCertificate,
) -> Result<(Identity, bool), HandshakeRefusal> {
    let upgrade = handshake::check_request(request, path)?;
    let basic = upgrade.basic.as_ref().map(|(u, p)| (u.as_str(), p.as_slice()));
    shared
        .policy
        .check_credentials(basic, certificate.verified)
        .map_err(|_| HandshakeRefusal::Unauthorized)?;
    let claims = Claims {
        certificate: certificate.endpoint_id.as_deref().filter(|_| certificate.verified),
        declared: upgrade.eid.as_deref().map(|e| (e, IdentitySource::WebSocketQuery)),
        client_id: None,
    };
    let identity = shared.policy.identify(&claims).map_err(|e| match e {
        ConnectRefusal::BadCredentials => HandshakeRefusal::Unauthorized,
        ConnectRefusal::NoIdentity | ConnectRefusal::InvalidEndpointId(_) => HandshakeRefusal::BadIdentity,
    })?;
    Ok((identity, upgrade.offers_extension))
}

/// Serves one WebSocket connection to its end.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    settings: Arc<WebSocketListenerConfig>,
    io: Transport,
    peer: SocketAddr,
    certificate: PeerCertificate,
    deadline: Instant,
) {
    let tls = io.is_tls();
    // The endpoint is attached — registered and subscribed to its own
    // topics — inside the callback, before the 101 response is written: a
    // client that has seen its upgrade accepted is reachable at once, like
    // an MQTT client after CONNACK. Attaching after the handshake left a
    // window in which Records for it were unrouted (and lost) while its
    // task was not yet scheduled — wide open when the session runs on
    // another thread than the sender.
    let mut attached: Option<Attachment> = None;
    // The callback's signature is tungstenite's.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, mut response: Response| -> Result<Response, ErrorResponse> {
        match authorize(&shared, request, &settings.path, &certificate) {
            Ok((identity, offers_extension)) => {
                let headers = response.headers_mut();
                headers
                    .insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(handshake::SUBPROTOCOL));
                if offers_extension
                    && let Some(answer) = settings.server_eid.as_deref().and_then(handshake::extension_answer)
                {
                    headers.insert(header::SEC_WEBSOCKET_EXTENSIONS, answer);
                }
                attached = Some(attach(&shared, identity, tls, peer));
                Ok(response)
            }
            Err(refusal) => {
                tracing::debug!(%peer, %refusal, "WebSocket upgrade refused");
                Err(refusal.response())
            }
        }
    };
    let max = shared.limits.max_record_size;
    let config = WebSocketConfig::default().max_message_size(Some(max)).max_frame_size(Some(max));
    let handshake = timeout_at(deadline, accept_hdr_async_with_config(io, callback, Some(config))).await;
    let (Ok(Ok(ws)), Some(att)) = (handshake, attached) else {
        // Refused, or the 101 could not be written (an attachment made by
        // the callback detaches as it drops here).
        shared.stats.connection_refused();
        return;
    };
    let mut session = WsSession {
        reply: Arc::from(att.reply_topic()),
        att,
        ws,
        pending: None,
        batch: Vec::new(),
        ping_interval: Duration::from_secs(settings.ping_interval_s),
        last_read: Instant::now(),
    };
    session.run().await;
}

/// Registers an accepted WebSocket endpoint and subscribes it to its own
/// topics.
fn attach(shared: &Arc<Shared>, identity: Identity, tls: bool, peer: SocketAddr) -> Attachment {
    let id = shared.next_connection_id();
    let reply_topic = shared.policy.reply_topic(identity.endpoint_id());
    let mut att = Attachment::new(
        shared,
        id,
        NewEntry { identity, mtp: Mtp::WebSocket, tls, client_id: None, peer: Some(peer), reply_topic },
    );
    att.subscribe_own_topics();
    att
}

/// How a session ends.
enum Close {
    /// Peer closed or the socket failed: nothing to send.
    Gone,
    /// Send a close frame with this code.
    With(CloseCode, &'static str),
}

struct WsSession {
    att: Attachment,
    ws: WebSocketStream<Transport>,
    reply: Arc<str>,
    pending: Option<Pending>,
    batch: Vec<crate::router::Delivery>,
    ping_interval: Duration,
    last_read: Instant,
}

enum Event {
    Frame(Option<Result<WsMessage, tungstenite::Error>>),
    Room,
    Outbox,
    Ping,
    Shutdown,
}

impl WsSession {
    async fn run(&mut self) {
        let mut ping = interval(self.ping_interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ping.tick().await;
        // Registered once, not once per frame.
        let mut shutdown = pin!(self.att.shared().shutdown.clone().cancelled_owned());
        let close = loop {
            if let Err(close) = self.deliver().await {
                break close;
            }
            let blocked = self.pending.is_some();
            let event = tokio::select! {
                biased;
                _ = &mut shutdown => Event::Shutdown,
                frame = self.ws.next(), if !blocked => Event::Frame(frame),
                _ = wait_pending(&self.pending), if blocked => Event::Room,
                _ = self.att.outbox().wait_ready() => Event::Outbox,
                _ = ping.tick() => Event::Ping,
            };
            let step = match event {
                Event::Frame(frame) => self.on_frame(frame).await,
                Event::Room => {
                    if let Some(pending) = &mut self.pending
                        && self.att.shared().router.resume(pending).is_some()
                    {
                        self.pending = None;
                    }
                    Ok(())
                }
                Event::Outbox => Ok(()),
                Event::Ping => self.ping().await,
                Event::Shutdown => {
                    let _ = self.deliver().await;
                    Err(Close::With(CloseCode::Away, "server shutting down"))
                }
            };
            if let Err(close) = step {
                break close;
            }
        };
        if let Some(pending) = self.pending.take() {
            self.att.lost(DropReason::QueueFull, pending.blocked.len());
        }
        if let Close::With(code, reason) = close {
            let frame = CloseFrame { code, reason: reason.into() };
            let _ = timeout(Duration::from_secs(1), self.ws.close(Some(frame))).await;
        }
    }

    async fn on_frame(&mut self, frame: Option<Result<WsMessage, tungstenite::Error>>) -> Result<(), Close> {
        self.last_read = Instant::now();
        match frame {
            None => Err(Close::Gone),
            Some(Err(tungstenite::Error::Capacity(_))) => {
                self.att.shared().stats.drop_record(DropReason::RecordTooLarge);
                Err(Close::With(CloseCode::Size, "record too large"))
            }
            Some(Err(_)) => {
                self.att.shared().stats.protocol_error();
                Err(Close::Gone)
            }
            Some(Ok(WsMessage::Binary(record))) => self.on_record(record),
            Some(Ok(WsMessage::Text(_))) => {
                self.att.shared().stats.drop_record(DropReason::NotARecord);
                Err(Close::With(CloseCode::Unsupported, "USP Records are binary messages"))
            }
            Some(Ok(WsMessage::Ping(_))) => {
                // tungstenite queued the Pong; send it now.
                self.flush().await
            }
            Some(Ok(WsMessage::Close(_))) => Err(Close::Gone),
            Some(Ok(WsMessage::Pong(_) | WsMessage::Frame(_))) => Ok(()),
        }
    }

    fn on_record(&mut self, record: Bytes) -> Result<(), Close> {
        let header = match self.att.admit(&record) {
            Ok(header) => header,
            Err(RecordRejection::SpoofedFromId { claimed }) => {
                tracing::debug!(%claimed, "spoofed from_id dropped");
                return Ok(());
            }
            Err(RecordRejection::TooLarge { .. }) => {
                return Err(Close::With(CloseCode::Size, "record too large"));
            }
            Err(RecordRejection::NotARecord) => {
                return Err(Close::With(CloseCode::Unsupported, "not a USP Record"));
            }
        };
        if header.to_id.is_empty() {
            self.att.shared().stats.drop_record(DropReason::NoDestination);
            return Ok(());
        }
        let topic = self.att.shared().policy.reply_topic(header.to_id);
        let message = Message::new(
            Bytes::from(topic),
            Some(self.reply.clone()),
            record,
            None,
            QoS::AtLeastOnce,
            self.att.id(),
        );
        self.pending = self.att.publish(message);
        Ok(())
    }

    async fn ping(&mut self) -> Result<(), Close> {
        if self.last_read.elapsed() > self.ping_interval * 2 {
            return Err(Close::With(CloseCode::Away, "no traffic"));
        }
        self.ws.feed(WsMessage::Ping(Bytes::new())).await.map_err(|_| Close::Gone)?;
        self.flush().await
    }

    async fn flush(&mut self) -> Result<(), Close> {
        match timeout(self.att.shared().write_timeout(), self.ws.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) | Err(_) => Err(Close::Gone),
        }
    }

    /// Writes every queued delivery as a binary message, then flushes.
    async fn deliver(&mut self) -> Result<(), Close> {
        let mut batch = std::mem::take(&mut self.batch);
        let mut wrote = false;
        while self.att.outbox().pop_into(&mut batch, 256) > 0 {
            for delivery in batch.drain(..) {
                let record = delivery.message.payload().clone();
                let size = record.len();
                let fed =
                    timeout(self.att.shared().write_timeout(), self.ws.feed(WsMessage::Binary(record))).await;
                if !matches!(fed, Ok(Ok(()))) {
                    return Err(Close::Gone);
                }
                self.att.delivered(size);
                wrote = true;
            }
        }
        self.batch = batch;
        if !wrote {
            return Ok(());
        }
        self.att.flush_counts();
        self.flush().await
    }
}

async fn wait_pending(pending: &Option<Pending>) {
    if let Some(pending) = pending {
        pending.wait().await;
    }
}
