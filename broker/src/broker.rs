//! [`Broker::start`]: binds the listeners and returns a [`BrokerHandle`];
//! [`BrokerHandle::shutdown`] stops accepting, lets every connection write out
//! what is queued for it and say goodbye (MQTT 5 DISCONNECT 0x8B, WebSocket
//! close 1001), and waits for them.
//!
//! Accepting never sleeps (rumqttd waits after every accept, which caps it
//! near 470 connections/s): each socket gets TCP_NODELAY and its own task at
//! once; TLS and the CONNECT/upgrade then happen in that task under
//! `limits.connect_timeout_ms`.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use dashmap::DashMap;
use tokio::{
    net::{TcpListener, TcpSocket},
    time::Instant,
};
use tokio_rustls::TlsAcceptor;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    BrokerConfig,
    acl::AccessPolicy,
    config::{LimitsConfig, WebSocketListenerConfig},
    link::{LinkError, LocalLink},
    mqtt::{self, PeerCertificate},
    registry::{ConnectionId, Registry},
    router::Router,
    stats::{Stats, StatsSnapshot},
    tls::{self, TlsError},
    topics::BadPrefix,
    transport::Transport,
    ws,
};

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The system error.
        source: std::io::Error,
    },
    /// A TLS configuration is unusable.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// A topic prefix is invalid.
    #[error(transparent)]
    TopicPrefix(#[from] BadPrefix),
    /// A limit is out of range.
    #[error("invalid configuration: {0}")]
    Invalid(&'static str),
}

/// State shared by every task of one broker.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) policy: AccessPolicy,
    pub(crate) limits: LimitsConfig,
    pub(crate) record_limits: usp_proto::decode::Limits,
    pub(crate) router: Router,
    pub(crate) registry: Registry,
    pub(crate) stats: Arc<Stats>,
    /// MQTT ClientId → the connection holding it and the token that ends
    /// it, for session takeover.
    pub(crate) clients: DashMap<String, (ConnectionId, CancellationToken)>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tasks: TaskTracker,
    next_id: AtomicU64,
    open_sockets: AtomicUsize,
    /// Distinguishes ClientIds assigned by this run from earlier runs'.
    run_tag: u64,
}

impl Shared {
    pub(crate) fn next_connection_id(&self) -> ConnectionId {
        ConnectionId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// A ClientId for an MQTT 5 client that sent none (R-MQTT.8).
    pub(crate) fn assign_client_id(&self, id: ConnectionId) -> String {
        format!("uspmesh-{:x}-{}", self.run_tag, id.0)
    }

    pub(crate) fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.limits.write_timeout_ms)
    }
}

/// Counts a socket against `max_connections` for as long as it lives.
struct SocketSlot(Arc<Shared>);

impl SocketSlot {
    fn take(shared: &Arc<Shared>) -> Option<SocketSlot> {
        let open = shared.open_sockets.fetch_add(1, Ordering::AcqRel);
        if open >= shared.limits.max_connections {
            shared.open_sockets.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(SocketSlot(shared.clone()))
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        self.0.open_sockets.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a listener serves.
#[derive(Clone)]
enum Service {
    Mqtt,
    WebSocket(Arc<WebSocketListenerConfig>),
}

/// The embedded USP broker.
#[derive(Debug)]
pub struct Broker;

impl Broker {
    /// Binds every configured listener and starts serving on the current
    /// tokio runtime.
    pub async fn start(config: BrokerConfig) -> Result<BrokerHandle, StartError> {
        let limits = config.limits.clone();
        if limits.max_record_size == 0 || limits.queue_max_messages == 0 || limits.max_inflight == 0 {
            return Err(StartError::Invalid(
                "max_record_size, queue_max_messages and max_inflight must be > 0",
            ));
        }
        if config.websocket.iter().any(|w| w.ping_interval_s == 0 || !w.path.starts_with('/')) {
            return Err(StartError::Invalid(
                "websocket path must start with '/' and ping_interval_s be >= 1",
            ));
        }
        let stats = Arc::new(Stats::new());
        let shared = Arc::new(Shared {
            policy: AccessPolicy::new(&config.access, &config.auth)?,
            record_limits: usp_proto::decode::Limits::with_max_record_size(limits.max_record_size),
            router: Router::new(stats.clone(), Duration::from_millis(limits.queue_full_wait_ms)),
            registry: Registry::new(1024),
            stats,
            clients: DashMap::new(),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            next_id: AtomicU64::new(1),
            open_sockets: AtomicUsize::new(0),
            run_tag: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64),
            limits,
        });

        let mut listeners = Vec::new();
        for l in &config.mqtt {
            let tls = l.tls.as_ref().map(tls::acceptor).transpose()?;
            listeners.push((l.bind, tls, Service::Mqtt));
        }
        for l in &config.websocket {
            let tls = l.tls.as_ref().map(tls::acceptor).transpose()?;
            listeners.push((l.bind, tls, Service::WebSocket(Arc::new(l.clone()))));
        }
        let (mut mqtt_addrs, mut websocket_addrs) = (Vec::new(), Vec::new());
        let mut bound = Vec::new();
        for (addr, tls, service) in listeners {
            let listener = listen(addr, shared.limits.accept_backlog)
                .map_err(|source| StartError::Bind { addr, source })?;
            let local = listener.local_addr().map_err(|source| StartError::Bind { addr, source })?;
            match service {
                Service::Mqtt => mqtt_addrs.push(local),
                Service::WebSocket(_) => websocket_addrs.push(local),
            }
            bound.push((listener, tls, service));
        }
        for (listener, tls, service) in bound {
            shared.tasks.spawn(accept_loop(listener, tls, shared.clone(), service));
        }
        Ok(BrokerHandle { shared, mqtt_addrs, websocket_addrs })
    }
}

/// Binds a listener with our accept backlog (tokio's `bind` uses 128).
fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

async fn accept_loop(listener: TcpListener, tls: Option<TlsAcceptor>, shared: Arc<Shared>, service: Service) {
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors and the like: back off briefly
                // instead of spinning on the same error.
                tracing::warn!(error = %e, "accept failed");
                tokio::select! {
                    _ = shared.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(20)) => continue,
                }
            }
        };
        let _ = tcp.set_nodelay(true);
        let Some(slot) = SocketSlot::take(&shared) else {
            shared.stats.connection_refused();
            continue;
        };
        let (tls, shared2, service) = (tls.clone(), shared.clone(), service.clone());
        shared.tasks.spawn(async move {
            let _slot = slot;
            serve_socket(tcp, peer, tls, shared2, service).await;
        });
    }
}

async fn serve_socket(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    service: Service,
) {
    let deadline = Instant::now() + Duration::from_millis(shared.limits.connect_timeout_ms);
    let (transport, certificate) = match tls {
        None => (Transport::Plain(tcp), PeerCertificate::default()),
        Some(acceptor) => match tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => {
                let certificate = tls::peer_certificate(stream.get_ref().1.peer_certificates());
                (Transport::Tls(Box::new(stream)), certificate)
            }
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                shared.stats.connection_refused();
                return;
            }
            Err(_) => {
                shared.stats.connection_refused();
                return;
            }
        },
    };
    match service {
        Service::Mqtt => mqtt::serve(shared, transport, peer, certificate, deadline).await,
        Service::WebSocket(settings) => {
            ws::serve(shared, settings, transport, peer, certificate, deadline).await
        }
    }
}

/// A running broker. Dropping it stops the broker without waiting.
#[derive(Debug)]
pub struct BrokerHandle {
    shared: Arc<Shared>,
    mqtt_addrs: Vec<SocketAddr>,
    websocket_addrs: Vec<SocketAddr>,
}

impl BrokerHandle {
    /// Bound MQTT listener addresses, in configuration order.
    pub fn mqtt_addrs(&self) -> &[SocketAddr] {
        &self.mqtt_addrs
    }

    /// Bound WebSocket listener addresses, in configuration order.
    pub fn websocket_addrs(&self) -> &[SocketAddr] {
        &self.websocket_addrs
    }

    /// The endpoint registry.
    pub fn registry(&self) -> &Registry {
        &self.shared.registry
    }

    /// Current counter values.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// Number of subscriptions held by the router.
    pub fn subscription_count(&self) -> usize {
        self.shared.router.subscription_count()
    }

    /// Attaches in-process code as the USP endpoint `endpoint_id` (e.g. the
    /// rules engine's Controller), subscribed to its own topics.
    pub fn link(&self, endpoint_id: &str) -> Result<LocalLink, LinkError> {
        LocalLink::attach(&self.shared, endpoint_id)
    }

    /// Graceful shutdown: stop accepting, let every connection write what is
    /// queued for it and close, and wait for all of them.
    pub async fn shutdown(&self) {
        self.shared.shutdown.cancel();
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
    }
}

impl Drop for BrokerHandle {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}
