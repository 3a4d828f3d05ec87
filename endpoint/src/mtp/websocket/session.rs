//! The client task: open a session, serve it, retry.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::{net::TcpStream, sync::mpsc, time::Instant};
use tokio_tungstenite::{
    Connector, MaybeTlsStream, WebSocketStream,
    tungstenite::{
        Message,
        protocol::{CloseFrame, WebSocketConfig, frame::coding::CloseCode},
    },
};
use usp_proto::{ErrCode, Record};

use super::{Shared, handshake};
use crate::mtp::{Role, SessionStatus, tls::TlsFailure};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a closing session may take to finish its Close handshake.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// How a session ended.
enum End {
    /// Shut down on request.
    Shutdown,
    /// Lost or closed; the reason.
    Lost(String),
}

/// Runs sessions until shutdown.
pub(super) async fn run(shared: Arc<Shared>, mut outbound: mpsc::Receiver<Bytes>) {
    let mut retry = 0u32;
    loop {
        let error = match open(&shared).await {
            Ok(ws) => {
                // R-WS.20: a session was established, the count restarts.
                retry = 0;
                shared.lock().last_tls_failure = None;
                let end = serve(&shared, ws, &mut outbound).await;
                shared.up.store(false, Ordering::SeqCst);
                // What was queued for this session must not open the next
                // one ahead of its Connect Record (R-MTP.8).
                while outbound.try_recv().is_ok() {}
                match end {
                    End::Shutdown => break,
                    End::Lost(reason) => reason,
                }
            }
            Err(failure) => {
                let text = failure.to_string();
                shared.lock().last_tls_failure = match failure {
                    OpenError::Tls(tls) => Some(tls),
                    OpenError::Other(_) => None,
                };
                text
            }
        };
        if shared.closing.load(Ordering::SeqCst) {
            break;
        }
        retry = retry.saturating_add(1);
        let delay = shared.config.retry.random_delay(retry);
        tracing::info!(retry, ?delay, %error, "WebSocket session down, retrying");
        shared.set_status(SessionStatus::Retrying { retry, error });
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shared.stop.notified() => break,
        }
        if shared.closing.load(Ordering::SeqCst) {
            break;
        }
    }
    shared.up.store(false, Ordering::SeqCst);
    shared.set_status(SessionStatus::Closed);
}

/// Why a session could not be opened.
#[derive(Debug)]
enum OpenError {
    /// The TLS handshake failed.
    Tls(TlsFailure),
    /// Anything else, described.
    Other(String),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Tls(tls) => tls.fmt(f),
            OpenError::Other(text) => f.write_str(text),
        }
    }
}

/// TCP connect (with TCP_NODELAY), TLS for `wss://`, and the USP
/// handshake.
async fn open(shared: &Shared) -> Result<Ws, OpenError> {
    let cfg = &shared.config;
    let other = OpenError::Other;
    let target = handshake::target(&cfg.url).ok_or_else(|| other(format!("bad URL {}", cfg.url)))?;
    let peer = format!("{}:{}", target.host, target.port);
    let request = handshake::request(&cfg.url, &cfg.endpoint_id).map_err(other)?;
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(cfg.max_record_size))
        .max_frame_size(Some(cfg.max_record_size));
    // The URL's scheme decides whether TLS is used; `prepare` made sure a
    // `wss://` URL has a rustls configuration.
    let connector = match &shared.tls {
        Some(tls) => Connector::Rustls(tls.clone()),
        None => Connector::Plain,
    };
    let connect = async {
        let tcp = TcpStream::connect((target.host, target.port))
            .await
            .map_err(|e| other(format!("connect to {peer}: {e}")))?;
        tcp.set_nodelay(true).map_err(|e| other(e.to_string()))?;
        tokio_tungstenite::client_async_tls_with_config(request, tcp, Some(ws_config), Some(connector))
            .await
            .map_err(|e| match TlsFailure::find(&peer, &e) {
                Some(tls) => OpenError::Tls(tls),
                None => other(format!("handshake with {}: {e}", cfg.url)),
            })
    };
    let (ws, response) = tokio::time::timeout(cfg.connect_timeout, connect)
        .await
        .map_err(|_| other(format!("no session with {} within {:?}", cfg.url, cfg.connect_timeout)))??;
    if let Some(eid) = handshake::server_eid(&response) {
        shared.lock().peer_endpoint_id = Some(eid);
    }
    Ok(ws)
}

/// Serves one open session.
async fn serve(shared: &Shared, mut ws: Ws, outbound: &mut mpsc::Receiver<Bytes>) -> End {
    let cfg = &shared.config;
    let peer = shared.lock().peer_endpoint_id.clone();
    if cfg.role == Role::Agent {
        match &peer {
            Some(peer) => {
                let record = Record::websocket_connect(peer.as_str(), cfg.endpoint_id.as_str());
                if let Err(e) = ws.send(Message::Binary(record.encode_to_bytes())).await {
                    return End::Lost(format!("sending the WebSocketConnect record: {e}"));
                }
            }
            None => tracing::debug!("server endpoint id unknown: no WebSocketConnect record"),
        }
    }
    shared.up.store(true, Ordering::SeqCst);
    shared.lock().sessions += 1;
    shared.set_status(SessionStatus::Connected);

    let mut ping = tokio::time::interval_at(Instant::now() + cfg.keep_alive, cfg.keep_alive);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut missed_pongs = 0u32;
    loop {
        tokio::select! {
            biased;
            () = shared.stop.notified() => {
                if cfg.role == Role::Agent {
                    if let Some(peer) = &peer {
                        let bye = Record::disconnect(
                            peer.as_str(),
                            cfg.endpoint_id.as_str(),
                            "shutting down",
                            ErrCode::SESS_CONTEXT_TERMINATED,
                        );
                        let _ = ws.send(Message::Binary(bye.encode_to_bytes())).await;
                    }
                }
                close(&mut ws, CloseCode::Normal, "shutting down").await;
                return End::Shutdown;
            }
            frame = ws.next() => match frame {
                Some(Ok(Message::Binary(record))) => {
                    if let Err(error) = usp_proto::view::RecordView::parse(&record) {
                        close(&mut ws, CloseCode::Unsupported, "not a USP record").await;
                        return End::Lost(format!("received a malformed record ({error}), closed with 1003"));
                    }
                    if let Err(error) = shared.incoming.try_send(record) {
                        tracing::warn!(%error, "incoming record queue full or closed, record dropped");
                    }
                }
                Some(Ok(Message::Text(_))) => {
                    close(&mut ws, CloseCode::Unsupported, "text frames are not USP records").await;
                    return End::Lost("received a text frame, closed with 1003".into());
                }
                Some(Ok(Message::Pong(_))) => missed_pongs = 0,
                // tungstenite answers Pings itself (flushed on the next read)
                // and answers a Close; the stream then ends.
                Some(Ok(Message::Ping(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(frame))) => {
                    let reason = frame.map_or_else(|| "no status".to_owned(), |f| format!("{} {}", u16::from(f.code), f.reason));
                    drain(&mut ws).await;
                    return End::Lost(format!("server closed the session ({reason})"));
                }
                Some(Err(error)) => return End::Lost(error.to_string()),
                None => return End::Lost("connection closed".into()),
            },
            Some(record) = outbound.recv() => {
                if let Err(error) = ws.send(Message::Binary(record)).await {
                    return End::Lost(error.to_string());
                }
            }
            _ = ping.tick() => {
                if missed_pongs >= cfg.max_missed_pongs {
                    return End::Lost(format!("{missed_pongs} pings without a pong"));
                }
                missed_pongs += 1;
                if let Err(error) = ws.send(Message::Ping(Bytes::new())).await {
                    return End::Lost(error.to_string());
                }
            }
        }
    }
}

/// Starts the Close handshake and waits (briefly) for its end.
async fn close(ws: &mut Ws, code: CloseCode, reason: &'static str) {
    let frame = CloseFrame { code, reason: reason.into() };
    if ws.close(Some(frame)).await.is_ok() {
        drain(ws).await;
    }
}

/// Reads until the peer's Close arrives or the connection ends.
async fn drain(ws: &mut Ws) {
    let _ = tokio::time::timeout(CLOSE_GRACE, async { while let Some(Ok(_)) = ws.next().await {} }).await;
}
