//! The broker as a node of a NATS cluster (the appliance's `[nats]`
//! section): site events to JetStream, a mesh of nodes sharing endpoints,
//! and shared rule work.
//!
//! ```no_run
//! # async fn demo(broker: &usp_broker::BrokerHandle) -> Result<(), usp_broker::nats::NatsError> {
//! use usp_broker::nats::{NatsConfig, NatsNode};
//! let config = NatsConfig { site: "hq".into(), node: "appliance-1".into(), ..NatsConfig::default() };
//! let node = NatsNode::start(broker, config).await?;
//! println!("proto::lamp is on {:?}", node.locate("proto::lamp"));
//! node.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! * [`subject`] — subjects of a site, and the Endpoint ID encoding that
//!   keeps an ID in one subject token;
//! * `events`: Notify Records from local Agents → `usp.<site>.notify.<eid>.<kind>`,
//!   kept by a JetStream stream;
//! * `mesh`: Records to endpoints on other nodes, through
//!   `usp.<site>.ep.<eid>` (and why that and not one subject per node);
//! * `registry_kv`: which endpoint is on which node (JetStream KV) and which
//!   nodes are alive;
//! * [`rules`] — rule work done once per site (queue group, leases);
//! * [`config`] — the settings, [`NatsConfig`].
//!
//! Compatibility: async-nats is built without its `server_2_10`+ features,
//! so every JetStream request is one nats-server 2.9 understands (the tests
//! run Debian's 2.9.10).
//!
//! Node death: a node that dies takes only its own connections with it. Its
//! Agents reconnect to another node, which registers them (the registry
//! entry moves), and Records follow at once; entries of Agents that do not
//! come back expire with the dead node's heartbeat.

pub mod config;
mod events;
pub mod headers;
mod mesh;
mod registry_kv;
pub mod rules;
mod stats;
pub mod subject;

use std::{sync::Arc, time::Duration};

use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;

pub use config::{
    EventsConfig, MeshConfig, NatsConfig, NatsTlsConfig, RulesWorkConfig, Storage, StreamConfig,
};
pub use events::default_stream_name;
pub use rules::{RuleJob, RuleJobs, RuleWork};
pub use stats::NatsStatsSnapshot;
pub use subject::{Subjects, TokenError};

use crate::BrokerHandle;
use mesh::{LocalEndpoints, LocalSet, MeshRoute};
use registry_kv::RegistryKv;
use stats::NatsStats;

/// Why the NATS side could not start or act.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NatsError {
    /// A configuration value is unusable.
    #[error("invalid [nats] configuration: {0}")]
    Config(String),
    /// A name cannot be made a subject token.
    #[error("subject: {0}")]
    Subject(#[from] TokenError),
    /// Connecting or talking to the servers failed.
    #[error("NATS: {0}")]
    Nats(String),
    /// A JetStream request (stream, bucket, publish) failed.
    #[error("JetStream: {0}")]
    JetStream(String),
    /// Another remote route is installed on the broker already.
    #[error("the broker already has a remote route")]
    RouteTaken,
}

/// Site, node and bucket names become parts of stream and bucket names:
/// letters, digits, `-` and `_` only.
fn check_name(what: &str, name: &str) -> Result<(), NatsError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(NatsError::Config(format!("{what} {name:?}: use 1-64 of [A-Za-z0-9_-]"))) }
}

async fn connect(config: &NatsConfig) -> Result<async_nats::Client, NatsError> {
    let mut options = match (&config.credentials_file, &config.token, &config.user) {
        (Some(file), _, _) => async_nats::ConnectOptions::with_credentials_file(file.clone())
            .await
            .map_err(|e| NatsError::Config(format!("credentials_file: {e}")))?,
        (None, Some(token), _) => async_nats::ConnectOptions::with_token(token.clone()),
        (None, None, Some(user)) => async_nats::ConnectOptions::with_user_and_password(
            user.clone(),
            config.password.clone().unwrap_or_default(),
        ),
        (None, None, None) => async_nats::ConnectOptions::new(),
    };
    if let Some(tls) = &config.tls {
        options = options.require_tls(true);
        if let Some(ca) = &tls.ca_file {
            options = options.add_root_certificates(ca.clone());
        }
        match (&tls.client_cert, &tls.client_key) {
            (Some(cert), Some(key)) => options = options.add_client_certificate(cert.clone(), key.clone()),
            (None, None) => {}
            _ => return Err(NatsError::Config("tls: client_cert and client_key go together".into())),
        }
    }
    let options = options
        .name(format!("uspmesh {}/{}", config.site, config.node))
        .connection_timeout(config.connect_timeout())
        // Failover between the listed servers forever: a node must come
        // back into the mesh by itself.
        .max_reconnects(None);
    let servers: Vec<async_nats::ServerAddr> = config
        .servers
        .iter()
        .map(|s| s.parse().map_err(|e| NatsError::Config(format!("server {s:?}: {e}"))))
        .collect::<Result<_, _>>()?;
    options.connect(servers).await.map_err(|e| NatsError::Nats(e.to_string()))
}

/// Retries a JetStream set-up step while a fresh cluster elects its
/// leaders: requests then fail, or get no answer at all — so each attempt
/// is cut after [`SETUP_ATTEMPT`] (the client's own request timeout is
/// 10 s).
const SETUP_ATTEMPT: Duration = Duration::from_secs(2);

async fn with_retry<T, F, Fut>(deadline: tokio::time::Instant, mut step: F) -> Result<T, NatsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, NatsError>>,
{
    let mut pause = Duration::from_millis(50);
    loop {
        let attempt = tokio::time::timeout(SETUP_ATTEMPT, step())
            .await
            .unwrap_or_else(|_| Err(NatsError::JetStream("set-up request timed out".into())));
        match attempt {
            Ok(v) => return Ok(v),
            Err(e) if tokio::time::Instant::now() + pause < deadline => {
                tracing::debug!(error = %e, "JetStream not ready, retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Creates (or opens) a KV bucket.
async fn open_bucket(
    js: &async_nats::jetstream::Context,
    config: async_nats::jetstream::kv::Config,
) -> Result<async_nats::jetstream::kv::Store, NatsError> {
    js.create_key_value(config).await.map_err(|e| NatsError::JetStream(e.to_string()))
}

/// This broker as a node of the NATS cluster. Dropping it stops its tasks
/// at once, the way a crash would (its registry entries then expire with
/// its heartbeat); [`NatsNode::shutdown`] leaves gracefully.
#[derive(Debug)]
pub struct NatsNode {
    client: async_nats::Client,
    node: String,
    registry: Option<Arc<RegistryKv>>,
    rules: RuleWork,
    stream: Option<String>,
    stats: Arc<NatsStats>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl NatsNode {
    /// Connects, creates or updates the event stream and the buckets, and
    /// starts the tap, the mesh and the heartbeat. The broker gets the mesh
    /// as its remote route.
    pub async fn start(broker: &BrokerHandle, config: NatsConfig) -> Result<NatsNode, NatsError> {
        check_name("site", &config.site)?;
        check_name("node", &config.node)?;
        let subjects = Subjects::new(&config.site)?;
        let client = connect(&config).await?;
        let js = async_nats::jetstream::new(client.clone());
        let deadline = tokio::time::Instant::now() + Duration::from_millis(config.startup_timeout_ms);
        let stats = Arc::new(NatsStats::default());
        let stop = CancellationToken::new();
        let shared = broker.shared().clone();
        let mut tasks = Vec::new();

        let stream = if config.events.enabled {
            let stream =
                with_retry(deadline, || events::ensure_stream(&js, &subjects, &config.site, &config.events))
                    .await?;
            let (tx, rx) = mpsc::channel(config.events.queue.max(1));
            let tap = events::Tap::attach(&shared, &config.events.filters, config.events.queue);
            tasks.push(tokio::spawn(events::drain_tap(
                tap,
                subjects.clone(),
                config.events.kinds.clone(),
                config.node.clone(),
                tx,
                stats.clone(),
                stop.clone(),
            )));
            tasks.push(tokio::spawn(events::publish_events(js.clone(), rx, stats.clone())));
            Some(stream)
        } else {
            None
        };

        let rules = with_retry(deadline, || {
            RuleWork::open(
                client.clone(),
                &js,
                &subjects,
                &config.site,
                &config.node,
                &config.rules,
                stats.clone(),
            )
        })
        .await?;

        let registry = if config.mesh.enabled {
            let registry = Arc::new(
                with_retry(deadline, || RegistryKv::open(&js, &config.site, &config.node, &config.mesh))
                    .await?,
            );
            tasks.push(tokio::spawn(registry.clone().watch_registry(stop.clone())));
            tasks.push(tokio::spawn(registry.clone().watch_nodes(stop.clone())));
            tasks.push(tokio::spawn(registry.clone().heartbeat(stop.clone())));
            let local: LocalSet = Arc::default();
            let (tx, rx) = mpsc::channel(config.mesh.queue.max(1));
            let route = MeshRoute {
                registry: registry.clone(),
                local: local.clone(),
                local_only: config.mesh.local_only.clone(),
                queue: tx,
                stats: stats.clone(),
            };
            broker.set_remote_route(Arc::new(route)).map_err(|_| NatsError::RouteTaken)?;
            tasks.push(tokio::spawn(mesh::publish_forwards(
                client.clone(),
                subjects.clone(),
                config.node.clone(),
                rx,
                stats.clone(),
                stop.clone(),
            )));
            let endpoints = LocalEndpoints::new(
                shared,
                client.clone(),
                subjects.clone(),
                registry.clone(),
                local,
                config.mesh.local_only.clone(),
                stats.clone(),
            );
            tasks.push(tokio::spawn(endpoints.run(stop.clone())));
            Some(registry)
        } else {
            None
        };

        Ok(NatsNode { client, node: config.node, registry, rules, stream, stats, stop, tasks })
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The NATS client (shared by everything of this node).
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The event stream's name, when events are enabled.
    pub fn stream_name(&self) -> Option<&str> {
        self.stream.as_deref()
    }

    /// The live node the mesh registry has `eid` on (this one included).
    pub fn locate(&self, eid: &str) -> Option<String> {
        self.registry.as_ref()?.locate(eid).map(|n| n.to_string())
    }

    /// Waits until the registry has `eid` on the live node `node`, or (with
    /// `None`) nowhere; returns at once when the mesh is disabled.
    pub async fn wait_located(&self, eid: &str, node: Option<&str>) {
        if let Some(registry) = &self.registry {
            registry.wait_until(|r| r.locate(eid).as_deref() == node).await;
        }
    }

    /// Shared rule work (queue group and leases).
    pub fn rule_work(&self) -> &RuleWork {
        &self.rules
    }

    /// Current counters.
    pub fn stats(&self) -> NatsStatsSnapshot {
        self.stats.snapshot()
    }

    /// Leaves gracefully: stops the tasks, removes this node's registry
    /// entries and heartbeat, and flushes what was published.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        if let Some(registry) = &self.registry {
            registry.release_all().await;
        }
        let _ = self.client.flush().await;
    }
}

impl Drop for NatsNode {
    fn drop(&mut self) {
        self.stop.cancel();
        for task in &self.tasks {
            task.abort();
        }
    }
}
