//! Configuration of the WebSocket client MTP, mapped to TR-181's
//! `Device.LocalAgent.Controller.{i}.MTP.{i}.WebSocket.`.

use std::{sync::Arc, time::Duration};

use usp_proto::EndpointId;

use crate::mtp::{
    Role,
    retry::RetryPolicy,
    tls::{TlsConfig, TlsError},
};

/// Configuration of a [`WsClient`](super::WsClient).
#[derive(Debug, Clone, PartialEq)]
pub struct WsConfig {
    /// Our Endpoint ID (sent as the `eid` query parameter, R-WS.10b).
    pub endpoint_id: String,
    /// Agent or Controller; an Agent sends the WebSocketConnect Record
    /// (R-MTP.6) and, on shutdown, a DisconnectRecord (R-MTP.7).
    pub role: Role,
    /// The server resource: `ws://Host[:Port]/Path`, or `wss://…` for TLS
    /// (R-WS.22; required when `EnableEncryption` is true, its default).
    pub url: String,
    /// The TLS settings of a `wss://` URL. `None` with `wss://`: trust the
    /// platform's CA store and present no client certificate. Must be
    /// `None` with `ws://`.
    pub tls: Option<TlsConfig>,
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
    /// The URL is not `ws[s]://host[:port][/path][?query]`.
    #[error("{0:?} is not a ws:// or wss:// URL")]
    Url(String),
    /// TLS settings were given for a `ws://` URL.
    #[error("TLS settings are given but the URL {0:?} is not wss://")]
    TlsWithoutWss(String),
    /// The TLS material cannot be loaded or used.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
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
            tls: None,
            keep_alive: Duration::from_secs(60),
            max_missed_pongs: 3,
            retry: RetryPolicy::WEBSOCKET_DEFAULT,
            max_record_size: usp_proto::decode::DEFAULT_MAX_RECORD_SIZE,
            incoming_capacity: 1024,
            outgoing_capacity: 256,
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// The same configuration with these TLS settings (for a `wss://`
    /// URL).
    pub fn with_tls(mut self, tls: TlsConfig) -> WsConfig {
        self.tls = Some(tls);
        self
    }

    /// Checks the configuration, including that the TLS material loads
    /// and fits together.
    pub fn validate(&self) -> Result<(), WsConfigError> {
        self.prepare().map(drop)
    }

    /// Validates, and builds the TLS client configuration of a `wss://`
    /// URL.
    pub(super) fn prepare(&self) -> Result<Option<Arc<rustls::ClientConfig>>, WsConfigError> {
        EndpointId::parse(&self.endpoint_id)?;
        if let Some(peer) = &self.peer_endpoint_id {
            EndpointId::parse(peer)?;
        }
        let target =
            super::handshake::target(&self.url).ok_or_else(|| WsConfigError::Url(self.url.clone()))?;
        if self.keep_alive.is_zero() {
            return Err(WsConfigError::KeepAlive);
        }
        match (&self.tls, target.secure) {
            (Some(_), false) => Err(WsConfigError::TlsWithoutWss(self.url.clone())),
            (None, false) => Ok(None),
            (tls, true) => Ok(Some(tls.clone().unwrap_or_default().client_config()?)),
        }
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
        for url in ["http://h/x", "ws://", "h:1/x", "ws://h:x/y"] {
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
        assert_eq!(
            WsConfig { keep_alive: Duration::ZERO, ..ok.clone() }.validate(),
            Err(WsConfigError::KeepAlive)
        );
        let tls = crate::mtp::tls::TlsConfig::with_ca_file("/nonexistent/ca.pem");
        assert_eq!(
            ok.clone().with_tls(tls.clone()).validate(),
            Err(WsConfigError::TlsWithoutWss(ok.url.clone()))
        );
        let wss = WsConfig { url: "wss://h/usp".into(), ..ok }.with_tls(tls);
        assert!(
            matches!(wss.validate(), Err(WsConfigError::Tls(TlsError::Read { ref path, .. })) if path.ends_with("ca.pem")),
            "the TLS material is loaded at configuration time"
        );
    }
}
