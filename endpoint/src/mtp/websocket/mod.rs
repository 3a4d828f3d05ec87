//! The USP WebSocket client MTP (TR-369 "WebSocket Binding"), on
//! tokio-tungstenite.
//!
//! [`WsClient::start`] spawns a task that opens a session to one server
//! resource and keeps it open; it returns a [`Link`] whose sender writes
//! each Record as one binary message on that session (so the `to` of a
//! send is not interpreted: the server, typically a USP Broker, routes by
//! `to_id`).
//!
//! What it does, by rule:
//! * Handshake ([`handshake`]): `eid` query with `%` escaped (R-WS.10b/c),
//!   subprotocol `v1.usp` (R-WS.10; a response without it fails the
//!   session, R-WS.12, checked by tungstenite), an offer of the
//!   `bbf-usp-protocol` extension so the server can name its Endpoint ID
//!   (R-WS.11a; its absence is not an error, R-WS.11b).
//! * Frames: Records go out as single binary messages (R-WS.14/14a);
//!   fragmented messages are reassembled by tungstenite (R-WS.14b). A text
//!   message, or a binary one that is not a protobuf Record, closes the
//!   session with status 1003 (R-WS.16).
//! * Keep-alive: a Ping every `keep_alive` (R-WS.17/18); Pings from the
//!   server are answered by tungstenite; after `max_missed_pongs` Pings
//!   without a Pong the session is dropped and retried.
//! * An Agent sends a WebSocketConnect Record first on every session
//!   (R-MTP.6, R-MTP.8) — when it knows the server's Endpoint ID — and a
//!   DisconnectRecord before closing with 1000 on
//!   [`WsClient::shutdown`] (R-MTP.7, R-WS.8).
//! * Retry: after any session end or failed attempt, the R-WS.19 back-off
//!   ([`WsConfig::retry`]); the count resets once a session is up
//!   (R-WS.20). Records sent while no session is up fail with
//!   [`LinkError::NotConnected`]; Records still queued when a session ends
//!   are dropped, so none can precede the next session's Connect Record.
//! * TLS (`wss://`, R-WS.22): tokio-tungstenite's rustls connector with the
//!   configuration [`crate::mtp::tls`] builds from [`WsConfig::tls`] (once,
//!   when the client starts); the server name checked is the URL's host. A
//!   failed handshake is reported as [`WsError::Tls`] by
//!   [`WsClient::connect`], and in the retry status.
//! * TCP_NODELAY is set on the socket before the TLS and WebSocket
//!   handshakes.
//!
//! Not done here: accepting sessions (the server side lives in the
//! broker).

mod config;
pub mod handshake;
mod session;

use std::sync::{
    Arc, Mutex, MutexGuard, PoisonError,
    atomic::{AtomicBool, Ordering},
};
use std::time::Duration;

use bytes::Bytes;
use tokio::{
    sync::{Notify, mpsc, watch},
    task::JoinHandle,
};

pub use config::{WsConfig, WsConfigError};

use super::{Link, LinkError, RecordSender, SessionStatus, tls::TlsFailure};

/// Why the client could not be started or connected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsError {
    /// The configuration is not usable.
    #[error(transparent)]
    Config(#[from] WsConfigError),
    /// The first session could not be opened.
    #[error("could not open the WebSocket session: {0}")]
    Connect(String),
    /// The first session failed in the TLS handshake.
    #[error("could not open the WebSocket session: {0}")]
    Tls(TlsFailure),
    /// The client was shut down.
    #[error("the WebSocket client is closed")]
    Closed,
}

/// State shared by the task, the senders and the control handle.
struct Shared {
    config: WsConfig,
    /// The rustls configuration of a `wss://` URL, built once at start.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// A session is up and its Connect Record sent.
    up: AtomicBool,
    outbound: mpsc::Sender<Bytes>,
    incoming: mpsc::Sender<Bytes>,
    status: watch::Sender<SessionStatus>,
    /// Set by [`WsClient::shutdown`].
    closing: AtomicBool,
    /// Wakes the task (in a session or in its back-off) on shutdown.
    stop: Notify,
    state: Mutex<State>,
}

struct State {
    peer_endpoint_id: Option<String>,
    sessions: u64,
    /// The TLS failure of the last failed attempt, if it was one.
    last_tls_failure: Option<TlsFailure>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_status(&self, status: SessionStatus) {
        self.status.send_replace(status);
    }
}

/// The sending half of a WebSocket link.
#[derive(Clone)]
pub struct WsSender {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for WsSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsSender").field("url", &self.shared.config.url).finish()
    }
}

impl RecordSender for WsSender {
    /// Queues the Record for the open session (whatever `to` is).
    async fn send(&self, _to: &str, record: Bytes) -> Result<(), LinkError> {
        let max = self.shared.config.max_record_size;
        if record.len() > max {
            return Err(LinkError::TooLarge { size: record.len(), max });
        }
        if !self.shared.up.load(Ordering::SeqCst) {
            return Err(LinkError::NotConnected);
        }
        self.shared.outbound.send(record).await.map_err(|_| LinkError::Closed)
    }
}

/// The control handle of a WebSocket link.
///
/// Dropping it stops the link abruptly; [`WsClient::shutdown`] closes the
/// session properly.
pub struct WsClient {
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
    status: watch::Receiver<SessionStatus>,
}

impl std::fmt::Debug for WsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsClient")
            .field("url", &self.shared.config.url)
            .field("status", &*self.status.borrow())
            .finish()
    }
}

impl WsClient {
    /// Validates `config` and starts the client task (needs a tokio
    /// runtime); it opens the session and reopens it after failures.
    pub fn start(config: WsConfig) -> Result<(WsClient, Link<WsSender>), WsConfigError> {
        let tls = config.prepare()?;
        let (incoming_tx, incoming_rx) = mpsc::channel(config.incoming_capacity.max(1));
        let (outbound_tx, outbound_rx) = mpsc::channel(config.outgoing_capacity.max(1));
        let (status_tx, status_rx) = watch::channel(SessionStatus::Connecting);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                peer_endpoint_id: config.peer_endpoint_id.clone(),
                sessions: 0,
                last_tls_failure: None,
            }),
            config,
            tls,
            up: AtomicBool::new(false),
            outbound: outbound_tx,
            incoming: incoming_tx,
            status: status_tx,
            closing: AtomicBool::new(false),
            stop: Notify::new(),
        });
        let task = tokio::spawn(session::run(shared.clone(), outbound_rx));
        let sender = WsSender { shared: shared.clone() };
        Ok((WsClient { shared, task: Some(task), status: status_rx }, Link { sender, incoming: incoming_rx }))
    }

    /// Starts the client and waits for its first session: `Err` if the
    /// first attempt fails (the client is then shut down) —
    /// [`WsError::Tls`] if it failed in the TLS handshake.
    pub async fn connect(config: WsConfig) -> Result<(WsClient, Link<WsSender>), WsError> {
        let (client, link) = WsClient::start(config)?;
        match crate::mtp::session_watch::first_outcome(&client.status).await {
            SessionStatus::Connected => Ok((client, link)),
            SessionStatus::Retrying { error, .. } => match client.shared.lock().last_tls_failure.clone() {
                Some(tls) => Err(WsError::Tls(tls)),
                None => Err(WsError::Connect(error)),
            },
            SessionStatus::Closed | SessionStatus::Connecting => Err(WsError::Closed),
        }
    }

    /// The current session state.
    pub fn status(&self) -> SessionStatus {
        self.status.borrow().clone()
    }

    /// Waits until a session is up (returns at once if it is).
    pub async fn wait_connected(&self) -> Result<(), WsError> {
        if crate::mtp::session_watch::wait_up(&self.status).await { Ok(()) } else { Err(WsError::Closed) }
    }

    /// Waits until the session is down (a retry pending) or closed.
    pub async fn wait_disconnected(&self) {
        crate::mtp::session_watch::wait_down(&self.status).await;
    }

    /// The server's Endpoint ID, configured or learned from its handshake.
    pub fn peer_endpoint_id(&self) -> Option<String> {
        self.shared.lock().peer_endpoint_id.clone()
    }

    /// How many sessions have been opened so far.
    pub fn sessions(&self) -> u64 {
        self.shared.lock().sessions
    }

    /// Closes the session properly (an Agent first sends a
    /// DisconnectRecord, then the Close handshake with 1000) and stops;
    /// waits at most `grace`.
    pub async fn shutdown(mut self, grace: Duration) {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.shared.stop.notify_one();
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(grace, task).await.is_err() {
                abort.abort();
            }
        }
        self.shared.up.store(false, Ordering::SeqCst);
        self.shared.set_status(SessionStatus::Closed);
    }
}

impl Drop for WsClient {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            self.shared.up.store(false, Ordering::SeqCst);
            self.shared.set_status(SessionStatus::Closed);
        }
    }
}
