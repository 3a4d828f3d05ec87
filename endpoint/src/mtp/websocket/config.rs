//! Configuration of the WebSocket client MTP, mapped to TR-181's
//! `Device.LocalAgent.Controller.{i}.MTP.{i}.WebSocket.`.

use std::time::Duration;

use usp_proto::EndpointId;

use crate::mtp::{Role, retry::RetryPolicy};

/// Configuration of a [`WsClient`](super::WsClient).
#[derive(Debug, Clone, PartialEq)]
pub struct WsConfig {
    /// Our Endpoint ID (sent as the `eid` query parameter, R-WS.10b).
    pub endpoint_id: String,
    /// Agent or Controller; an Agent sends the WebSocketConnect Record
    /// (R-MTP.6) and, on shutdown, a DisconnectRecord (R-MTP.7).
    pub role: Role,
    /// The server resource: `ws://Host:Port/Path` (`wss://` is not
    /// supported yet).
    pub url: String,
    /// The server's Endpoint ID, if known; otherwise learned from its
    /// `Sec-WebSocket-Extensions: bbf-usp-protocol; eid="…"` answer
    /// (R-WS.11a). Needed to address the Connect and Disconnect Records.
    pub peer_endpoint_id: Option<String>,
    /// `KeepAliveInterval`: period of our Pings (R-WS.17/18). Default 60 s.
    pub keep_alive: Duration,
    /// After this many Pings in a row without any Pong the session is
    /// considered dead and closed (OBUSPA's practice). Default 3.
    pub max_missed_pongs: u32,
    /// `SessionRetryMinimumWaitInterval` / `SessionRetryIntervalMultiplier`
    /// (defaults 5 s, 2000; R-WS.19).
    pub retry: RetryPolicy,
    /// Largest Record sent or accepted (also the WebSocket message limit).
    /// Default 1 MiB.
    pub max_record_size: usize,
    /// Records received and not yet read by the application; beyond it
    /// they are dropped (logged) rather than stalling the session's Pongs.
    /// Default 1024.
    pub incoming_capacity: usize,
    /// Records waiting to be written. Default 256.
    pub outgoing_capacity: usize,
    /// TCP connect plus handshake timeout. Default 10 s.
    pub connect_timeout: Duration,
}

/// Why a [`WsConfig`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsConfigError {
    /// An Endpoint ID is not valid.
    #[error("invalid endpoint id: {0}")]
    EndpointId(#[from] usp_proto::endpoint_id::EndpointIdError),
    /// The URL is not `ws://host[:port][/path][?query]`.
    #[error("{0:?} is not a ws:// URL (wss:// is not supported yet)")]
    Url(String),
    /// The keep-alive interval is zero.
    #[error("the keep-alive interval must be at least 1 s")]
    KeepAlive,
}

impl WsConfig {
    /// A configuration with the TR-181 defaults.
    pub fn new(endpoint_id: impl Into<String>, role: Role, url: impl Into<String>) -> WsConfig {
        WsConfig {
            endpoint_id: endpoint_id.into(),
            role,
            url: url.into(),
            peer_endpoint_id: None,
            keep_alive: Duration::from_secs(60),
            max_missed_pongs: 3,
            retry: RetryPolicy::WEBSOCKET_DEFAULT,
            max_record_size: usp_proto::decode::DEFAULT_MAX_RECORD_SIZE,
            incoming_capacity: 1024,
            outgoing_capacity: 256,
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// Checks the configuration.
    pub fn validate(&self) -> Result<(), WsConfigError> {
        EndpointId::parse(&self.endpoint_id)?;
        if let Some(peer) = &self.peer_endpoint_id {
            EndpointId::parse(peer)?;
        }
        if super::handshake::authority(&self.url).is_none() {
            return Err(WsConfigError::Url(self.url.clone()));
        }
        if self.keep_alive.is_zero() {
            return Err(WsConfigError::KeepAlive);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let ok = WsConfig::new("proto::a", Role::Agent, "ws://127.0.0.1:8080/usp/controller");
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(ok.retry, RetryPolicy::WEBSOCKET_DEFAULT);
        for url in ["wss://h/x", "http://h/x", "ws://", "h:1/x"] {
            let c = WsConfig { url: url.into(), ..ok.clone() };
            assert_eq!(c.validate(), Err(WsConfigError::Url(url.into())), "{url}");
        }
        assert!(matches!(
            WsConfig { endpoint_id: "x".into(), ..ok.clone() }.validate(),
            Err(WsConfigError::EndpointId(_))
        ));
        assert!(matches!(
            WsConfig { peer_endpoint_id: Some("x".into()), ..ok.clone() }.validate(),
            Err(WsConfigError::EndpointId(_))
        ));
        assert_eq!(WsConfig { keep_alive: Duration::ZERO, ..ok }.validate(), Err(WsConfigError::KeepAlive));
    }
}
