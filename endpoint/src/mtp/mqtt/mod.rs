//! The MQTT client MTP (TR-369 "MQTT Binding"), on rumqttc, MQTT 5 and 3.1.1.
//!
//! [`MqttClient::start`] spawns a task that owns the rumqttc event loop and
//! returns a [`Link`]: a [`MqttSender`] and the Records that arrive.
//!
//! What it does, by rule:
//! * CONNECT: ClientId per R-MQTT.8 (MQTT 5 without a configured one:
//!   empty, then the server-assigned id is kept for every later connection,
//!   R-MQTT.9/11; 3.1.1: the Endpoint ID); MQTT 5 adds Request Response
//!   Information = 1 (R-MQTT.12) and the `usp-endpoint-id` user property
//!   (R-MQTT.13); credentials (R-MQTT.7) and keep-alive (R-MQTT.14).
//! * Topics per [`session::session_topics`]: the CONNACK's Response
//!   Information and `subscribe-topic` user properties (MQTT 5), else the
//!   configured or default topic (R-MQTT.15, R-MQTT.21). Nothing is
//!   published before the SUBSCRIBE is acknowledged; if every filter is
//!   refused the client disconnects and retries (R-MQTT.17).
//! * PUBLISH: MQTT 5 sets Content Type `usp.msg` (R-MQTT.27) and the
//!   Response Topic (R-MQTT.23); 3.1.1 appends `/reply-to=…` (R-MQTT.24).
//!   QoS is `publish_qos` (1 by default), lowered to the CONNACK's Maximum
//!   QoS. Retain is never set.
//! * Receiving: MQTT 5 publishes with a Content Type other than `usp.msg`
//!   or `application/vnd.bbf.usp.msg` are not USP Records and are dropped
//!   (R-MQTT.27a; a missing Content Type is accepted, as 3.1.1 senders
//!   bridged to us have none). The sender's reply-to topic is read from the
//!   Response Topic, else from a `/reply-to=` suffix, and remembered for
//!   its `from_id` (see `peers.rs`), so a response goes to the topic its request
//!   came with (R-MQTT.25/26). A payload that is not a protobuf Record is
//!   dropped silently (§7: the core answers nothing it cannot read).
//! * Version mismatch (R-MQTT.26a): what follows when a Record shows that
//!   its sender uses the other MQTT version is
//!   [`MqttConfig::version_mismatch`] (see [`VersionMismatch`]).
//! * An Agent sends an MQTTConnect Record to each configured peer after
//!   every (re)connection, once subscribed (R-MTP.6), and a
//!   DisconnectRecord to them on [`MqttClient::shutdown`] (R-MTP.7), then
//!   an MQTT DISCONNECT (R-MQTT.35).
//! * Reconnection: rumqttc reconnects when polled after an error; the task
//!   waits the TR-181 back-off of [`MqttConfig::retry`] first
//!   (`ConnectRetryTime`, `ConnectRetryIntervalMultiplier`,
//!   `ConnectRetryMaxInterval`; R-MQTT.10 / R-MQTT.33) and resets the count
//!   once a session is up. A CONNACK with an error code counts as a failed
//!   attempt.
//! * TLS ([`MqttConfig::tls`], R-MQTT.48): rumqttc's rustls transport with
//!   the configuration [`crate::mtp::tls`] builds (once, when the client
//!   starts); the server name checked is [`MqttConfig::host`]. A failed
//!   handshake is reported as [`MqttError::Tls`] by
//!   [`MqttClient::connect`], and in the retry status.
//! * TCP_NODELAY is set on the socket through rumqttc's
//!   `NetworkOptions::set_tcp_nodelay`, applied in rumqttc 0.25's
//!   `socket_connect` to the TCP socket before it connects — the socket the
//!   TLS session then runs on, so plain and TLS connections both have it.
//!
//! Not done here: MQTT over WebSocket.

mod config;
mod peers;
pub mod session;
pub mod topic;
mod v311;
mod v5;

use std::{
    borrow::Cow,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use tokio::{
    sync::{Notify, mpsc, watch},
    task::JoinHandle,
};
use usp_proto::{ErrCode, Record, usp_record::mqtt_connect_record::MqttVersion};

pub use super::Role;
pub use config::{ConfigError, MqttConfig, Peer, VersionMismatch};

use super::{Link, LinkError, RecordSender, SessionStatus, tls::TlsFailure};
use usp_proto::{EndpointId, view::RecordView};

/// The Content Type of a USP Record (R-MQTT.27).
pub const CONTENT_TYPE: &str = "usp.msg";

/// The other Content Type a receiver must accept (R-MQTT.27a).
pub const CONTENT_TYPE_LONG: &str = "application/vnd.bbf.usp.msg";

/// The MQTT 5 CONNECT user property carrying our Endpoint ID (R-MQTT.13).
pub const ENDPOINT_ID_PROPERTY: &str = "usp-endpoint-id";

/// Upper bound on what the MQTT fixed header, properties and packet id add
/// to a Record besides its topics, used to stay under the server's Maximum
/// Packet Size (rumqttc drops the connection on an oversized PUBLISH).
const HEADER_ALLOWANCE: usize = 64;

/// Why the client could not be started or connected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MqttError {
    /// The configuration is not usable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The first connection attempt failed (connect refused, CONNACK error,
    /// SUBSCRIBE refused ...).
    #[error("could not connect to the MQTT server: {0}")]
    Connect(String),
    /// The first connection attempt failed in the TLS handshake.
    #[error("could not connect to the MQTT server: {0}")]
    Tls(TlsFailure),
    /// The client was shut down.
    #[error("the MQTT client is closed")]
    Closed,
}

/// The rumqttc client handle of either version.
#[derive(Clone)]
enum Client {
    V5(rumqttc::v5::AsyncClient),
    V311(rumqttc::AsyncClient),
}

/// State shared by the driver task, the senders and the control handle.
struct Shared {
    config: MqttConfig,
    /// The rustls configuration when TLS is on, built once at start.
    tls: Option<Arc<rustls::ClientConfig>>,
    state: Mutex<State>,
    status: watch::Sender<SessionStatus>,
    incoming: mpsc::Sender<Bytes>,
    /// Set by [`MqttClient::shutdown`]: the next DISCONNECT ends the task.
    closing: AtomicBool,
    /// Wakes the task out of its back-off sleep on shutdown.
    stop: Notify,
}

struct State {
    /// Connected and subscribed.
    up: bool,
    reply_topic: String,
    /// `/reply-to=<reply_topic encoded>` (3.1.1).
    reply_suffix: String,
    client_id: String,
    qos: u8,
    /// The server's Maximum Packet Size (MQTT 5 CONNACK), if it sent one.
    max_packet: Option<usize>,
    peers: peers::Peers,
    sessions: u64,
    /// The TLS failure of the last failed attempt, if it was one.
    last_tls_failure: Option<TlsFailure>,
}

/// How a received PUBLISH carried its sender's reply-to topic.
#[derive(Debug)]
enum ReplyTo<'a> {
    /// The MQTT 5 Response Topic property.
    Property(&'a str),
    /// A `/reply-to=` suffix of the topic, without a Response Topic: how a
    /// 3.1.1 sender's PUBLISH looks.
    Suffix(Cow<'a, str>),
    /// Neither.
    Missing,
}

impl ReplyTo<'_> {
    fn topic(&self) -> Option<&str> {
        match self {
            ReplyTo::Property(t) => Some(t),
            ReplyTo::Suffix(t) => Some(t),
            ReplyTo::Missing => None,
        }
    }

    /// The MQTT version the sender evidently used (see
    /// [`VersionMismatch`]); a PUBLISH without any reply-to shows MQTT 5
    /// only to a 3.1.1 receiver (the property was lost on the way).
    fn version(&self, own: MqttVersion) -> Option<MqttVersion> {
        match self {
            ReplyTo::Property(_) => Some(MqttVersion::V5),
            ReplyTo::Suffix(_) => Some(MqttVersion::V311),
            ReplyTo::Missing => (own == MqttVersion::V311).then_some(MqttVersion::V5),
        }
    }
}

/// What [`Shared::deliver`] does with a Record, version-wise.
enum Admission {
    /// Hand it to the application.
    Deliver,
    /// Drop it: communication with its sender has ceased.
    Drop,
    /// Drop it, and answer a Request with an Error on this full topic.
    Refuse {
        /// Where the Error goes.
        topic: String,
        /// The version the sender showed.
        shown: MqttVersion,
    },
}

/// The `record_type` field number of an MQTTConnect Record.
const MQTT_CONNECT_RECORD: u32 = 10;

impl State {
    /// The full topic to publish a Record for `to` on: its topic, with our
    /// `/reply-to=` suffix when we speak 3.1.1 (R-MQTT.24).
    fn target(&self, to: &str, version: MqttVersion) -> String {
        let topic = self.peers.topic(to);
        match version {
            MqttVersion::V311 => topic + self.reply_suffix.as_str(),
            MqttVersion::V5 => topic,
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_status(&self, status: SessionStatus) {
        self.status.send_replace(status);
    }

    /// A session is up: record its topics and limits.
    fn session_up(&self, reply_topic: String, qos: u8, max_packet: Option<u32>) {
        let mut st = self.lock();
        st.reply_suffix = topic::reply_to_suffix(&reply_topic);
        st.reply_topic = reply_topic;
        st.qos = qos;
        st.max_packet = max_packet.map(|m| m as usize);
        st.up = true;
        st.sessions += 1;
        st.last_tls_failure = None;
        drop(st);
        self.set_status(SessionStatus::Connected);
    }

    fn session_down(&self) {
        self.lock().up = false;
    }

    /// Describes a failed connection attempt (or lost session) for the
    /// status, and remembers a TLS failure for [`MqttClient::connect`].
    fn connection_failed(&self, error: &(dyn std::error::Error + 'static)) -> String {
        let peer = format!("{}:{}", self.config.host, self.config.port);
        let tls = TlsFailure::find(&peer, error);
        let text = tls.as_ref().map_or_else(|| error.to_string(), ToString::to_string);
        self.lock().last_tls_failure = tls;
        text
    }

    /// The MQTTConnect Records an Agent sends after connecting: one per
    /// configured peer (not one we ceased talking to), with the full topic
    /// to publish it to.
    fn connect_records(&self) -> Vec<(String, Bytes)> {
        if self.config.role != Role::Agent {
            return Vec::new();
        }
        let st = self.lock();
        self.config
            .peers
            .iter()
            .filter(|p| !st.peers.is_refused(&p.endpoint_id))
            .map(|p| {
                let record = Record::mqtt_connect(
                    p.endpoint_id.as_str(),
                    self.config.endpoint_id.as_str(),
                    self.config.version,
                    st.reply_topic.as_str(),
                );
                (st.target(&p.endpoint_id, self.config.version), record.encode_to_bytes())
            })
            .collect()
    }

    /// Hands a received payload to the application, learning where its
    /// sender answers and which MQTT version it uses. Returns a Record to
    /// publish in answer, with its full topic: the Error of a refused
    /// version mismatch (see [`VersionMismatch::Refuse`]).
    fn deliver(&self, payload: Bytes, reply_to: ReplyTo<'_>) -> Option<(String, Bytes)> {
        if payload.len() > self.config.max_record_size {
            tracing::debug!(size = payload.len(), "oversized record dropped");
            return None;
        }
        let head = match RecordView::parse(&payload) {
            Ok(head) => head,
            Err(error) => {
                tracing::debug!(%error, "payload is not a USP record, dropped");
                return None;
            }
        };
        let own = self.config.version;
        let shown = if head.record_type == MQTT_CONNECT_RECORD {
            mqtt_connect_version(&payload)
        } else {
            reply_to.version(own)
        };
        let from = head.from_id;
        if !from.is_empty() {
            let mut st = self.lock();
            if let Some(t) = reply_to.topic().or(head.mqtt_subscribed_topic) {
                st.peers.learn(from, t);
            }
            match self.admit(&mut st, from, shown) {
                Admission::Deliver => {}
                Admission::Drop => return None,
                Admission::Refuse { topic, shown } => {
                    drop(st);
                    return self.mismatch_error(&head, shown).map(|record| (topic, record));
                }
            }
        }
        if let Err(error) = self.incoming.try_send(payload) {
            tracing::warn!(%error, "incoming record queue full or closed, record dropped");
        }
        None
    }

    /// Whether a Record from `from`, which evidently uses `shown`, is
    /// delivered (R-MQTT.26a; see [`VersionMismatch`]). Called after what
    /// the Record says about its sender's topic was learned.
    fn admit(&self, st: &mut State, from: &str, shown: Option<MqttVersion>) -> Admission {
        let own = self.config.version;
        let mismatch = shown.filter(|v| *v != own);
        if mismatch.is_some() {
            tracing::debug!(%from, ?own, ?shown, "MQTT version mismatch (R-MQTT.26a)");
        }
        if self.config.version_mismatch == VersionMismatch::Tolerate {
            return Admission::Deliver;
        }
        if let Some(shown) = mismatch {
            let Some(topic) = st.peers.known_topic(from) else {
                // The rule covers only senders whose topic is known.
                return Admission::Deliver;
            };
            let topic = match own {
                MqttVersion::V311 => format!("{topic}{}", st.reply_suffix),
                MqttVersion::V5 => topic.to_owned(),
            };
            if !st.peers.is_refused(from) {
                tracing::warn!(%from, ?own, ?shown, "MQTT version mismatch: communication ceased (R-MQTT.26a)");
                st.peers.set_refused(from, true);
            }
            Admission::Refuse { topic, shown }
        } else if shown.is_some() {
            // The sender shows our version: whatever it had wrong is fixed.
            st.peers.set_refused(from, false);
            Admission::Deliver
        } else if st.peers.is_refused(from) {
            tracing::debug!(%from, "record from a peer with a version mismatch dropped");
            Admission::Drop
        } else {
            Admission::Deliver
        }
    }

    /// The Error Record answering a mismatched Record, when R-MTP.5 asks
    /// for one: a Request, to us, from a valid Endpoint ID, with a msg_id.
    /// Code 7100 ("cannot be extracted for processing" is how TR-369's MQTT
    /// error handling section, which R-MQTT.26a points to, words it).
    fn mismatch_error(&self, head: &RecordView<'_>, shown: MqttVersion) -> Option<Bytes> {
        let own_id = self.config.endpoint_id.as_str();
        if head.to_id != own_id || EndpointId::parse(head.from_id).is_err() {
            return None;
        }
        let msg = usp_proto::decode::Limits::default().decode_msg(head.payload?).ok()?;
        if !msg.is_request() || msg.msg_id().is_empty() {
            return None;
        }
        let text = format!(
            "MQTT version mismatch (R-MQTT.26a): this endpoint uses MQTT {}, the record came as MQTT {}",
            version_name(self.config.version),
            version_name(shown)
        );
        let error = usp_proto::usp::Error::new(ErrCode::RECORD_NOT_PARSED, text);
        let answer =
            Record::no_session_context_msg(head.from_id, own_id, &usp_proto::Msg::error(msg.msg_id(), error));
        Some(answer.encode_to_bytes())
    }
}

/// The `version` of an MQTTConnect Record (absent means 3.1.1, proto3's
/// zero); `None` if it does not decode.
fn mqtt_connect_version(payload: &Bytes) -> Option<MqttVersion> {
    use usp_proto::usp_record::record::RecordType;
    let record = usp_proto::decode::Limits::default().decode_record(payload.clone()).ok()?;
    match record.record_type? {
        RecordType::MqttConnect(connect) => MqttVersion::try_from(connect.version).ok(),
        _ => None,
    }
}

fn version_name(version: MqttVersion) -> &'static str {
    match version {
        MqttVersion::V5 => "5",
        MqttVersion::V311 => "3.1.1",
    }
}

/// The sending half of an MQTT link.
#[derive(Clone)]
pub struct MqttSender {
    shared: Arc<Shared>,
    client: Client,
}

impl std::fmt::Debug for MqttSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttSender").field("endpoint_id", &self.shared.config.endpoint_id).finish()
    }
}

impl RecordSender for MqttSender {
    /// Publishes the Record to the topic `to` is reached at, with our
    /// reply-to topic. Fails with [`LinkError::NotConnected`] while the
    /// session is down (nothing is queued for a later session: a request
    /// sent into an outage should fail now, not arrive late), and with
    /// [`LinkError::VersionMismatch`] while communication with `to` has
    /// ceased (R-MQTT.26a).
    async fn send(&self, to: &str, record: Bytes) -> Result<(), LinkError> {
        let (topic, reply, qos) = {
            let st = self.shared.lock();
            if !st.up {
                return Err(LinkError::NotConnected);
            }
            let max = self.shared.config.max_record_size;
            if record.len() > max {
                return Err(LinkError::TooLarge { size: record.len(), max });
            }
            if st.peers.is_refused(to) {
                return Err(LinkError::VersionMismatch(to.to_owned()));
            }
            let topic = st.target(to, self.shared.config.version);
            // The reply-to travels as a property (5) and/or an escaped
            // suffix (already in `topic`).
            let overhead = HEADER_ALLOWANCE + topic.len() + st.reply_topic.len();
            if let Some(max_packet) = st.max_packet {
                if record.len() + overhead > max_packet {
                    return Err(LinkError::TooLarge {
                        size: record.len(),
                        max: max_packet.saturating_sub(overhead),
                    });
                }
            }
            (topic, st.reply_topic.clone(), st.qos)
        };
        match &self.client {
            Client::V5(c) => {
                let props = rumqttc::v5::mqttbytes::v5::PublishProperties {
                    content_type: Some(CONTENT_TYPE.to_owned()),
                    response_topic: Some(reply),
                    ..Default::default()
                };
                c.publish_bytes_with_properties(topic, v5::qos(qos), false, record, props)
                    .await
                    .map_err(|e| client_error(matches!(e, rumqttc::v5::ClientError::Request(_))))
            }
            Client::V311(c) => c
                .publish_bytes(topic, v311::qos(qos), false, record)
                .await
                .map_err(|e| client_error(matches!(e, rumqttc::ClientError::Request(_)))),
        }
    }
}

/// rumqttc fails a publish either because its event loop is gone or
/// because the topic is invalid.
fn client_error(channel_closed: bool) -> LinkError {
    if channel_closed { LinkError::Closed } else { LinkError::Refused("invalid topic".into()) }
}

/// The control handle of an MQTT link: status, topics, shutdown.
///
/// Dropping it stops the link (abruptly: no DisconnectRecord, no MQTT
/// DISCONNECT); [`MqttClient::shutdown`] stops it gracefully.
pub struct MqttClient {
    shared: Arc<Shared>,
    client: Client,
    task: Option<JoinHandle<()>>,
    status: watch::Receiver<SessionStatus>,
}

impl std::fmt::Debug for MqttClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttClient")
            .field("endpoint_id", &self.shared.config.endpoint_id)
            .field("status", &*self.status.borrow())
            .finish()
    }
}

impl MqttClient {
    /// Validates `config` and starts the client task (needs a tokio
    /// runtime). It connects, and reconnects after failures, on its own;
    /// see [`MqttClient::wait_connected`].
    pub fn start(config: MqttConfig) -> Result<(MqttClient, Link<MqttSender>), ConfigError> {
        let tls = config.prepare()?;
        let (incoming_tx, incoming_rx) = mpsc::channel(config.incoming_capacity.max(1));
        let (status_tx, status_rx) = watch::channel(SessionStatus::Connecting);
        let configured_reply = config.configured_reply_topic();
        let client_id = match (&config.client_id, config.version) {
            (Some(id), _) => id.clone(),
            (None, MqttVersion::V5) => String::new(),
            (None, MqttVersion::V311) => config.endpoint_id.clone(),
        };
        let state = State {
            up: false,
            reply_suffix: topic::reply_to_suffix(&configured_reply),
            reply_topic: configured_reply,
            client_id,
            qos: config.publish_qos,
            max_packet: None,
            peers: peers::Peers::new(config.role, &config.peers, config.max_learned_peers),
            sessions: 0,
            last_tls_failure: None,
        };
        let version = config.version;
        let shared = Arc::new(Shared {
            config,
            tls,
            state: Mutex::new(state),
            status: status_tx,
            incoming: incoming_tx,
            closing: AtomicBool::new(false),
            stop: Notify::new(),
        });
        let (client, task) = match version {
            MqttVersion::V5 => {
                let (client, eventloop) = v5::new(&shared);
                (Client::V5(client), tokio::spawn(v5::run(shared.clone(), eventloop)))
            }
            MqttVersion::V311 => {
                let (client, eventloop) = v311::new(&shared);
                (Client::V311(client), tokio::spawn(v311::run(shared.clone(), eventloop)))
            }
        };
        let sender = MqttSender { shared: shared.clone(), client: client.clone() };
        let handle = MqttClient { shared, client, task: Some(task), status: status_rx };
        Ok((handle, Link { sender, incoming: incoming_rx }))
    }

    /// Starts the client and waits for its first session: `Ok` once
    /// connected and subscribed, `Err` if the first attempt fails (the
    /// client is then shut down) — [`MqttError::Tls`] if it failed in the
    /// TLS handshake.
    pub async fn connect(config: MqttConfig) -> Result<(MqttClient, Link<MqttSender>), MqttError> {
        let (client, link) = MqttClient::start(config)?;
        match crate::mtp::session_watch::first_outcome(&client.status).await {
            SessionStatus::Connected => Ok((client, link)),
            SessionStatus::Retrying { error, .. } => match client.shared.lock().last_tls_failure.clone() {
                Some(tls) => Err(MqttError::Tls(tls)),
                None => Err(MqttError::Connect(error)),
            },
            SessionStatus::Closed | SessionStatus::Connecting => Err(MqttError::Closed),
        }
    }

    /// The current session state.
    pub fn status(&self) -> SessionStatus {
        self.status.borrow().clone()
    }

    /// Waits until a session is up (returns at once if it is).
    pub async fn wait_connected(&self) -> Result<(), MqttError> {
        if crate::mtp::session_watch::wait_up(&self.status).await { Ok(()) } else { Err(MqttError::Closed) }
    }

    /// Waits until the session is down (a retry pending) or closed.
    pub async fn wait_disconnected(&self) {
        crate::mtp::session_watch::wait_down(&self.status).await;
    }

    /// Our current reply-to topic.
    pub fn reply_topic(&self) -> String {
        self.shared.lock().reply_topic.clone()
    }

    /// The ClientId used for (re)connections: configured, assigned by the
    /// server (MQTT 5), or the Endpoint ID (3.1.1).
    pub fn client_id(&self) -> String {
        self.shared.lock().client_id.clone()
    }

    /// How many sessions have been established so far.
    pub fn sessions(&self) -> u64 {
        self.shared.lock().sessions
    }

    /// The topic a Record to `endpoint_id` would be published to (before
    /// the 3.1.1 suffix).
    pub fn peer_topic(&self, endpoint_id: &str) -> String {
        self.shared.lock().peers.topic(endpoint_id)
    }

    /// Sets the topic of a peer (as if configured).
    pub fn set_peer_topic(&self, endpoint_id: &str, topic: &str) {
        self.shared.lock().peers.configure(endpoint_id, topic);
    }

    /// Stops gracefully: an Agent first sends a DisconnectRecord to each
    /// configured peer (R-MTP.7), then an MQTT DISCONNECT is sent
    /// (R-MQTT.35); waits at most `grace` for it to go out.
    pub async fn shutdown(mut self, grace: Duration) {
        self.shared.closing.store(true, Ordering::SeqCst);
        if self.shared.lock().up {
            if self.shared.config.role == Role::Agent {
                let sender = MqttSender { shared: self.shared.clone(), client: self.client.clone() };
                for peer in &self.shared.config.peers {
                    let record = Record::disconnect(
                        peer.endpoint_id.as_str(),
                        self.shared.config.endpoint_id.as_str(),
                        "shutting down",
                        ErrCode::SESS_CONTEXT_TERMINATED,
                    );
                    let _ = sender.send(&peer.endpoint_id, record.encode_to_bytes()).await;
                }
            }
            let _ = match &self.client {
                Client::V5(c) => c.disconnect().await.map_err(|_| ()),
                Client::V311(c) => c.disconnect().await.map_err(|_| ()),
            };
        } else {
            self.shared.stop.notify_one();
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(grace, task).await.is_err() {
                abort.abort();
            }
        }
        self.shared.session_down();
        self.shared.set_status(SessionStatus::Closed);
    }
}

impl Drop for MqttClient {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            self.shared.session_down();
            self.shared.set_status(SessionStatus::Closed);
        }
    }
}

/// The driver's reaction to a failed attempt or a lost session: mark the
/// session down, report it, and wait the back-off (or stop on shutdown).
/// Returns false when the task should end.
async fn back_off(shared: &Shared, retry: &mut u32, error: String) -> bool {
    shared.session_down();
    if shared.closing.load(Ordering::SeqCst) {
        return false;
    }
    *retry = retry.saturating_add(1);
    let delay = shared.config.retry.random_delay(*retry);
    tracing::info!(retry = *retry, ?delay, %error, "MQTT session down, retrying");
    shared.set_status(SessionStatus::Retrying { retry: *retry, error });
    tokio::select! {
        () = tokio::time::sleep(delay) => !shared.closing.load(Ordering::SeqCst),
        () = shared.stop.notified() => false,
    }
}

/// Content types that mark an MQTT 5 payload as a USP Record; `None` (no
/// property) is accepted too, see the module docs.
fn is_usp_content_type(content_type: Option<&str>) -> bool {
    matches!(content_type, None | Some(CONTENT_TYPE | CONTENT_TYPE_LONG))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_to_form_shows_the_senders_version() {
        use MqttVersion::{V5, V311};
        assert_eq!(ReplyTo::Property("t").version(V5), Some(V5));
        assert_eq!(ReplyTo::Property("t").version(V311), Some(V5));
        assert_eq!(ReplyTo::Suffix(Cow::Borrowed("t")).version(V5), Some(V311));
        assert_eq!(ReplyTo::Suffix(Cow::Borrowed("t")).version(V311), Some(V311));
        assert_eq!(ReplyTo::Missing.version(V311), Some(V5), "a Response Topic lost on the way to 3.1.1");
        assert_eq!(ReplyTo::Missing.version(V5), None, "an MQTT 5 sender that broke R-MQTT.22 shows nothing");
        assert_eq!(ReplyTo::Suffix(Cow::Borrowed("a/b")).topic(), Some("a/b"));
        assert_eq!(ReplyTo::Missing.topic(), None);
    }

    #[test]
    fn the_version_of_an_mqtt_connect_record() {
        let v311 = Record::mqtt_connect("self::c", "proto::a", MqttVersion::V311, "t").encode_to_bytes();
        let v5 = Record::mqtt_connect("self::c", "proto::a", MqttVersion::V5, "t").encode_to_bytes();
        assert_eq!(mqtt_connect_version(&v311), Some(MqttVersion::V311));
        assert_eq!(mqtt_connect_version(&v5), Some(MqttVersion::V5));
        let other = Record::websocket_connect("self::c", "proto::a").encode_to_bytes();
        assert_eq!(mqtt_connect_version(&other), None);
        assert_eq!(mqtt_connect_version(&Bytes::from_static(&[0xff])), None);
    }

    #[test]
    fn content_types() {
        assert!(is_usp_content_type(Some("usp.msg")));
        assert!(is_usp_content_type(Some("application/vnd.bbf.usp.msg")));
        assert!(is_usp_content_type(None));
        assert!(!is_usp_content_type(Some("application/json; charset=UTF-8")));
        assert!(!is_usp_content_type(Some("usp.error")), "deprecated, not a Record");
    }
}
