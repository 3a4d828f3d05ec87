//! One face for the two MTP clients of `usp-endpoint`, so that the
//! Controller commands and the simulated Agents run over MQTT or WebSocket
//! alike: [`Mtp`] is a client configuration (MQTT or WebSocket) that can be
//! re-addressed to any endpoint, [`MtpClient`] the running client, and
//! [`AnySender`] the sending half of its link.

use std::time::Duration;

use bytes::Bytes;
use usp_endpoint::mtp::{
    Link, LinkError, RecordSender, SessionStatus,
    mqtt::{MqttClient, MqttConfig, MqttError, MqttSender},
    tls::TlsFailure,
    websocket::{WsClient, WsConfig, WsError, WsSender},
};

/// An MTP client configuration.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mtp {
    /// MQTT 5 or 3.1.1, plain or TLS.
    Mqtt(MqttConfig),
    /// USP WebSocket, plain or TLS.
    Ws(WsConfig),
}

/// Why a client could not be started or connected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ConnectError {
    /// The configuration is not usable (TLS material that does not load,
    /// an invalid Endpoint ID …).
    #[error("{0}")]
    Config(String),
    /// The first attempt failed in the TLS handshake.
    #[error("{0}")]
    Tls(TlsFailure),
    /// The first attempt failed otherwise (refused, unreachable, CONNACK
    /// error, subscription refused).
    #[error("{0}")]
    Failed(String),
}

impl Mtp {
    /// The same configuration for endpoint `eid` (what a simulated building
    /// does for each of its Agents).
    pub(crate) fn for_endpoint(&self, eid: &str) -> Mtp {
        match self {
            Mtp::Mqtt(c) => Mtp::Mqtt(MqttConfig { endpoint_id: eid.to_owned(), ..c.clone() }),
            Mtp::Ws(c) => Mtp::Ws(WsConfig { endpoint_id: eid.to_owned(), ..c.clone() }),
        }
    }

    /// Starts the client and waits for its first session (connected and, on
    /// MQTT, subscribed); fails if that first attempt fails.
    pub(crate) async fn connect(self) -> Result<(MtpClient, Link<AnySender>), ConnectError> {
        match self {
            Mtp::Mqtt(c) => match MqttClient::connect(c).await {
                Ok((client, link)) => Ok((MtpClient::Mqtt(client), wrap(link, AnySender::Mqtt))),
                Err(MqttError::Config(e)) => Err(ConnectError::Config(e.to_string())),
                Err(MqttError::Tls(t)) => Err(ConnectError::Tls(t)),
                Err(e @ (MqttError::Connect(_) | MqttError::Closed)) => {
                    Err(ConnectError::Failed(e.to_string()))
                }
            },
            Mtp::Ws(c) => match WsClient::connect(c).await {
                Ok((client, link)) => Ok((MtpClient::Ws(client), wrap(link, AnySender::Ws))),
                Err(WsError::Config(e)) => Err(ConnectError::Config(e.to_string())),
                Err(WsError::Tls(t)) => Err(ConnectError::Tls(t)),
                Err(e @ (WsError::Connect(_) | WsError::Closed)) => Err(ConnectError::Failed(e.to_string())),
            },
        }
    }

    /// Starts the client without waiting: it connects, and reconnects after
    /// failures, on its own.
    pub(crate) fn start(self) -> Result<(MtpClient, Link<AnySender>), ConnectError> {
        match self {
            Mtp::Mqtt(c) => MqttClient::start(c)
                .map(|(client, link)| (MtpClient::Mqtt(client), wrap(link, AnySender::Mqtt)))
                .map_err(|e| ConnectError::Config(e.to_string())),
            Mtp::Ws(c) => WsClient::start(c)
                .map(|(client, link)| (MtpClient::Ws(client), wrap(link, AnySender::Ws)))
                .map_err(|e| ConnectError::Config(e.to_string())),
        }
    }
}

fn wrap<S>(link: Link<S>, f: impl FnOnce(S) -> AnySender) -> Link<AnySender> {
    Link { sender: f(link.sender), incoming: link.incoming }
}

/// A running MTP client (its control handle).
#[derive(Debug)]
pub(crate) enum MtpClient {
    /// An MQTT client.
    Mqtt(MqttClient),
    /// A WebSocket client.
    Ws(WsClient),
}

impl MtpClient {
    /// The session state.
    pub(crate) fn status(&self) -> SessionStatus {
        match self {
            MtpClient::Mqtt(c) => c.status(),
            MtpClient::Ws(c) => c.status(),
        }
    }

    /// Waits until a session is up; false if the client closed instead.
    pub(crate) async fn wait_connected(&self) -> bool {
        match self {
            MtpClient::Mqtt(c) => c.wait_connected().await.is_ok(),
            MtpClient::Ws(c) => c.wait_connected().await.is_ok(),
        }
    }

    /// Stops gracefully (an Agent's DisconnectRecord, then the MQTT
    /// DISCONNECT or WebSocket Close), waiting at most `grace`.
    pub(crate) async fn shutdown(self, grace: Duration) {
        match self {
            MtpClient::Mqtt(c) => c.shutdown(grace).await,
            MtpClient::Ws(c) => c.shutdown(grace).await,
        }
    }
}

/// The sending half of an MQTT or WebSocket link.
#[derive(Debug, Clone)]
pub(crate) enum AnySender {
    /// MQTT.
    Mqtt(MqttSender),
    /// WebSocket.
    Ws(WsSender),
}

impl RecordSender for AnySender {
    async fn send(&self, to: &str, record: Bytes) -> Result<(), LinkError> {
        match self {
            AnySender::Mqtt(s) => s.send(to, record).await,
            AnySender::Ws(s) => s.send(to, record).await,
        }
    }
}
