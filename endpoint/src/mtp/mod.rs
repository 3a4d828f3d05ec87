//! Message Transfer Protocol clients: MQTT 5 / 3.1.1, WebSocket, and an
//! in-process link, carrying Records to and from the sans-I/O cores.
//!
//! Every MTP here is reduced to the same two halves, a [`Link`]:
//!
//! * a [`RecordSender`] — `send(to, record)` hands one encoded Record to the
//!   MTP for the endpoint `to`; the MTP decides how to reach it (an MQTT
//!   topic, the open WebSocket session, the other end of a channel);
//! * an [`mpsc::Receiver`] of the encoded Records that arrive.
//!
//! Records stay [`Bytes`] end to end: what the network read is what the
//! core decodes (prost decodes byte fields as slices of it), and what the
//! core encoded is what the network writes. The cores never see topics,
//! sockets or sessions, and the MTPs never interpret a Msg; the only thing
//! an MTP reads inside a Record is its head (`from_id` and connect records,
//! through the zero-copy [`usp_proto::view::RecordView`]), to learn where a
//! peer can be reached.
//!
//! [`tls`] holds what the MQTT and WebSocket clients share for `mqtts` and
//! `wss` (trust roots, client identity, handshake failure classification),
//! and the loaders of TLS material (PEM files → rustls types) and the
//! server configuration builder that TLS listeners reuse.

use std::future::Future;

use bytes::Bytes;
use tokio::sync::mpsc;

pub mod link;
pub mod mqtt;
pub mod retry;
pub mod tls;
pub mod websocket;

/// Which kind of USP endpoint uses an MTP client. It picks the default
/// addressing (`usp/agent/<eid>` or `usp/controller/<eid>` on MQTT) and
/// whether Connect and Disconnect Records are sent: TR-369 asks them of
/// Agents (R-MTP.6, R-MTP.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A USP Agent: sends a Connect Record after every new MTP session and
    /// a DisconnectRecord before a graceful shutdown.
    Agent,
    /// A USP Controller.
    Controller,
}

/// The state of an MTP client's session with its server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStatus {
    /// The first session is being opened.
    Connecting,
    /// The session is up: Records can be sent.
    Connected,
    /// The last attempt (or the session) failed; retry `retry` is pending.
    Retrying {
        /// The retry number (1 for the first retry).
        retry: u32,
        /// What went wrong.
        error: String,
    },
    /// The client was shut down.
    Closed,
}

/// Waits on a client's session-status channel; shared by the MQTT and
/// WebSocket clients, which keep their own error types.
pub(crate) mod session_watch {
    use tokio::sync::watch;

    use super::SessionStatus;

    /// The end of the first session attempt: `Connected`, `Retrying` (it
    /// failed) or `Closed`.
    pub(crate) async fn first_outcome(status: &watch::Receiver<SessionStatus>) -> SessionStatus {
        let mut status = status.clone();
        status
            .wait_for(|s| !matches!(s, SessionStatus::Connecting))
            .await
            .map(|s| s.clone())
            .unwrap_or(SessionStatus::Closed)
    }

    /// Waits until a session is up; `false` when the client closed instead.
    pub(crate) async fn wait_up(status: &watch::Receiver<SessionStatus>) -> bool {
        let mut status = status.clone();
        matches!(
            status
                .wait_for(|s| matches!(s, SessionStatus::Connected | SessionStatus::Closed))
                .await
                .as_deref(),
            Ok(SessionStatus::Connected)
        )
    }

    /// Waits until the session is down (a retry pending) or closed.
    pub(crate) async fn wait_down(status: &watch::Receiver<SessionStatus>) {
        let mut status = status.clone();
        let _ =
            status.wait_for(|s| matches!(s, SessionStatus::Retrying { .. } | SessionStatus::Closed)).await;
    }
}

/// Why a Record could not be handed to an MTP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The link was shut down, or its other end is gone.
    #[error("the link is closed")]
    Closed,
    /// The MTP session is down (the link is retrying); nothing was sent.
    #[error("the MTP session is not connected")]
    NotConnected,
    /// The Record is larger than the MTP accepts.
    #[error("record of {size} bytes exceeds the {max}-byte limit of the MTP")]
    TooLarge {
        /// Size of the Record.
        size: usize,
        /// The MTP's limit.
        max: usize,
    },
    /// The MTP client refused the Record (for MQTT: an invalid topic).
    #[error("the MTP refused the record: {0}")]
    Refused(String),
    /// Communication with this peer has ceased after an MQTT version
    /// mismatch (R-MQTT.26a), until the peer shows our version.
    #[error("MQTT version mismatch with {0}: communication ceased (R-MQTT.26a)")]
    VersionMismatch(String),
}

/// The sending half of a link.
///
/// Cloning is cheap (a handle to the MTP's task); every clone sends on the
/// same session.
pub trait RecordSender: Clone + Send + Sync + 'static {
    /// Sends one encoded Record to the endpoint `to`.
    ///
    /// Completes once the MTP has accepted the Record for transmission
    /// (queued to its session), not when the peer received it.
    fn send(&self, to: &str, record: Bytes) -> impl Future<Output = Result<(), LinkError>> + Send;
}

/// The two halves of a link: a sender and the Records that arrive.
#[derive(Debug)]
pub struct Link<S> {
    /// Sends Records.
    pub sender: S,
    /// Records received, in arrival order. Ends when the link is closed.
    pub incoming: mpsc::Receiver<Bytes>,
}
