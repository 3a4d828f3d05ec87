//! What the Controller core hands back: records to send and events.

use bytes::Bytes;
use usp_proto::{
    ErrCode, MsgKind,
    usp::{Notify, notify, response::RespType},
    usp_record::mqtt_connect_record::MqttVersion,
    validate::RecordError,
};

use super::UspError;

/// Identifies a request made with [`Controller::request`](super::Controller::request)
/// until its [`Completion`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u64);

/// An encoded Record to hand to an MTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The Endpoint ID it is addressed to (the Record's `to_id`).
    pub to: String,
    /// The encoded Record.
    pub record: Bytes,
}

/// What the core made of one received Record.
#[derive(Debug, Clone, PartialEq)]
pub struct Handled {
    /// What happened.
    pub event: Event,
    /// A Record to send back (a NotifyResp, an Error, a DisconnectRecord).
    pub reply: Option<Transmit>,
}

/// What a received Record meant.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An outstanding request was answered.
    Completed(Completion),
    /// An Agent told us something.
    Incoming(Incoming),
    /// The Record needs no action (the reason says why).
    Ignored(Ignored),
}

/// The end of a request: its response, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The request.
    pub id: RequestId,
    /// The endpoint that answered; `None` on timeout. Matching is by
    /// `msg_id` only (R-MSG.9), so this may differ from the endpoint the
    /// request was sent to (a USP Broker answering for its Services).
    pub from: Option<String>,
    /// The response body, or the failure.
    pub result: Result<RespType, UspError>,
}

/// Things Agents send without being asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A Notify request (delivered once per `msg_id` and sender).
    Notification(Notification),
    /// A Connect Record: the endpoint is present on an MTP (R-MTP.6).
    Connected(Connected),
    /// A DisconnectRecord (R-MTP.7).
    Disconnected(Disconnected),
}

/// A notification from an Agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The Agent's Endpoint ID.
    pub from: String,
    /// The Notify's `msg_id`.
    pub msg_id: String,
    /// The Notify message.
    pub notify: Notify,
}

impl Notification {
    /// The `subscription_id` (`""` for OnBoardRequest).
    pub fn subscription_id(&self) -> &str {
        &self.notify.subscription_id
    }

    /// The notification itself. Never `None` for a delivered notification:
    /// the core answers a Notify without one with Error 7004.
    pub fn kind(&self) -> Option<&notify::Notification> {
        self.notify.notification.as_ref()
    }
}

/// A Connect Record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// The endpoint announcing itself.
    pub from: String,
    /// On which MTP, and where it can be reached there.
    pub mtp: ConnectedMtp,
}

/// The MTP of a Connect Record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectedMtp {
    /// `WebSocketConnectRecord`.
    WebSocket,
    /// `MQTTConnectRecord`.
    Mqtt {
        /// The MQTT version the endpoint uses.
        version: MqttVersion,
        /// The topic it is reachable at.
        subscribed_topic: String,
    },
    /// `STOMPConnectRecord`.
    Stomp {
        /// The destination it is reachable at.
        subscribed_destination: String,
    },
    /// `UDSConnectRecord`.
    Uds,
}

/// A DisconnectRecord.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnected {
    /// The endpoint leaving.
    pub from: String,
    /// Its `reason`.
    pub reason: String,
    /// Its `reason_code` (0 when absent).
    pub code: ErrCode,
}

/// Why a received Record needed no action.
#[derive(Debug, Clone, PartialEq)]
pub enum Ignored {
    /// Validation refused it (not addressed to us, malformed, session
    /// context ...); the reply, if any, is the spec's answer.
    Rejected(RecordError),
    /// A Response or Error whose `msg_id` matches no outstanding request
    /// (R-MSG.9): a late answer, or not ours.
    UnknownMsgId(String),
    /// A retried Notify already delivered; answered again, not delivered.
    DuplicateNotify {
        /// The Agent.
        from: String,
        /// The Notify's `msg_id`.
        msg_id: String,
    },
    /// A Notify without a notification; answered with Error 7004 (R-ENC.5).
    EmptyNotify {
        /// The Agent.
        from: String,
        /// The Notify's `msg_id`.
        msg_id: String,
    },
    /// A request a Controller does not serve; answered with Error 7001.
    UnsupportedRequest(MsgKind),
}
