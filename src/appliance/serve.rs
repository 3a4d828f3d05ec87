//! [`Appliance::start`]: the broker, the rules engine on the broker's
//! in-process link, the registry's presence forwarded to it, and the
//! metrics and admin HTTP endpoints — everything `uspmesh serve` runs.
//!
//! Start order matters:
//! 1. the `metrics` recorder, because the broker and the rules engine
//!    register their metric handles as they start;
//! 2. the rules are loaded *before* anything binds, so a bad rule file
//!    refuses the start without having opened a port;
//! 3. the broker binds its listeners;
//! 4. the cloud bridge (`[bridge]`) attaches its links to the broker and
//!    starts its uplink, and the NATS node (`[nats]`) joins the cluster and
//!    becomes the broker's remote route; rule `publish` events go to both
//!    (`upstream.rs`), and schedule firings are claimed through NATS and
//!    run by the one node the site's job queue gives each to
//!    (`schedule_gate.rs`);
//! 5. the rules engine attaches to the broker as its Controller and hears
//!    who is connected (registry events are taken before the snapshot so
//!    nobody falls between them, see [`Presence::forward`]);
//! 6. the HTTP endpoints, last, so that what they report exists.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use usp_broker::{
    Broker, BrokerHandle, Mtp,
    bridge::{Bridge, BridgeError, BridgeHandle},
    nats::{NatsError, NatsNode, Subjects},
};
use usp_rules::{
    EngineConfig, LoadErrors, RuleSet, Source, TimeZone,
    runtime::{RulesHandle, RulesRuntime, RuntimeConfig, ScheduleGate},
};

use super::{
    admin::{self, AdminState},
    config::ApplianceConfig,
    metrics,
    schedule_gate::{self, NatsGate},
    upstream::{NatsSink, Sinks},
};
use crate::wiring::{local_link, presence::Presence};

/// The Endpoint ID the `uspmesh` Controller commands use by default;
/// always counted among the broker's Controllers.
pub const CLI_CONTROLLER_ID: &str = "self::uspmesh-cli";

/// Records queued each way between the rules engine and the broker.
const RULES_LINK_CAPACITY: usize = 4096;

/// Choices the configuration file does not make (the demo's).
#[derive(Debug, Default)]
pub struct StartOptions {
    /// Rules to run instead of the configured directory's (the demo's
    /// built-in examples).
    pub rules: Option<Vec<Source>>,
    /// Broadcast every rule evaluation as a runtime event (the demo's live
    /// view); costs a copy of each trace entry.
    pub trace_events: bool,
}

/// Why the appliance did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A rule file is wrong (each problem with its `file:line:column`).
    #[error("rules refused:\n{0}")]
    Rules(LoadErrors),
    /// The configured time zone is unknown.
    #[error("[rules] timezone {name:?}: {reason}")]
    TimeZone {
        /// The name given.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// The broker could not start (a port in use, TLS files …).
    #[error("broker: {0}")]
    Broker(#[from] usp_broker::StartError),
    /// The rules engine could not start (its Endpoint ID, its state file).
    #[error("rules engine: {0}")]
    RulesEngine(#[from] usp_rules::runtime::StartError),
    /// The rules engine's in-process link was refused by the broker.
    #[error("rules engine link: {0}")]
    Link(#[from] usp_broker::LinkError),
    /// The cloud bridge could not start (`[bridge]`).
    #[error("[bridge]: {0}")]
    Bridge(#[from] BridgeError),
    /// The NATS node could not start (`[nats]`).
    #[error("[nats]: {0}")]
    Nats(#[from] NatsError),
    /// An HTTP endpoint could not listen.
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        /// `metrics` or `admin`.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The system error.
        source: std::io::Error,
    },
}

impl StartError {
    /// Whether the configuration (or a rule file) is at fault, rather than
    /// the system: `uspmesh serve` exits with status 2 for these.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            StartError::Rules(_)
                | StartError::TimeZone { .. }
                | StartError::RulesEngine(usp_rules::runtime::StartError::EndpointId(_))
                | StartError::Bridge(
                    BridgeError::Url { .. }
                        | BridgeError::Tls(_)
                        | BridgeError::DuplicateController(_)
                        | BridgeError::Observer { .. }
                        | BridgeError::Filter(_)
                )
                | StartError::Nats(NatsError::Config(_) | NatsError::Subject(_))
                | StartError::Broker(
                    usp_broker::StartError::Invalid(_)
                        | usp_broker::StartError::Tls(_)
                        | usp_broker::StartError::TopicPrefix(_)
                )
        )
    }
}

/// The rules engine as it runs in the appliance.
#[derive(Debug)]
pub(crate) struct Rules {
    pub(crate) runtime: RulesRuntime,
    pub(crate) api: RulesHandle,
    pub(crate) endpoint_id: String,
    /// Where `rules reload` reads from (none: the rules came from
    /// elsewhere, or no directory is configured).
    pub(crate) dir: Option<PathBuf>,
    pub(crate) tags: Vec<(String, Vec<String>)>,
    /// The state file, if any.
    pub(crate) state: Option<PathBuf>,
}

/// A running appliance. Stop it with [`Appliance::shutdown`] (see
/// `shutdown.rs`); dropping it stops everything without persisting.
#[derive(Debug)]
pub struct Appliance {
    pub(crate) broker: Arc<BrokerHandle>,
    pub(crate) rules: Option<Rules>,
    pub(crate) bridge: Option<Arc<BridgeHandle>>,
    pub(crate) nats: Option<Arc<NatsNode>>,
    /// The task passing rule events to the bridge and NATS.
    pub(crate) upstream: Option<JoinHandle<()>>,
    pub(crate) http_stop: CancellationToken,
    pub(crate) http_tasks: TaskTracker,
    pub(crate) metrics_addr: Option<SocketAddr>,
    pub(crate) admin_addr: Option<SocketAddr>,
}

impl Appliance {
    /// Starts everything `config` asks for, on the current tokio runtime.
    pub async fn start(config: ApplianceConfig, options: StartOptions) -> Result<Appliance, StartError> {
        let prometheus = metrics::recorder();
        let rules_config = &config.rules;
        let (rule_set, dir) = if rules_config.enabled {
            let (set, dir) = load_rules(&config, options.rules)?;
            (Some(set), dir)
        } else {
            (None, None)
        };
        let timezone = match &rules_config.timezone {
            None => TimeZone::system(),
            Some(name) => TimeZone::get(name)
                .map_err(|e| StartError::TimeZone { name: name.clone(), reason: e.to_string() })?,
        };
        let engine_id = rules_config.engine_id();

        let mut broker_config = config.broker.clone();
        // The rules engine and the CLI are Controllers: Records for them go
        // to the controller topic prefix, and the rules engine must not
        // treat them as Agents to subscribe on.
        for controller in [engine_id.as_str(), CLI_CONTROLLER_ID] {
            if !broker_config.access.controllers.iter().any(|c| c == controller) {
                broker_config.access.controllers.push(controller.to_owned());
            }
        }
        if let Some(bridge) = &config.bridge {
            // Cloud Controllers are Controllers here too (their Records go
            // to the controller topics); the observer that watches site
            // traffic for event filters subscribes outside its own topics,
            // which only admins may.
            for cloud in &bridge.controllers {
                if !broker_config.access.controllers.contains(&cloud.endpoint_id) {
                    broker_config.access.controllers.push(cloud.endpoint_id.clone());
                }
            }
            if !bridge.events.filters.is_empty() && !broker_config.access.admins.contains(&bridge.observer_id)
            {
                broker_config.access.admins.push(bridge.observer_id.clone());
            }
        }
        let controllers = broker_config.access.controllers.clone();
        let broker = Arc::new(Broker::start(broker_config).await?);

        let bridge = match config.bridge.clone() {
            Some(bridge_config) => {
                let url = bridge_config.url.clone();
                let handle = Bridge::start(&broker, bridge_config).await?;
                tracing::info!(%url, "cloud bridge started");
                Some(Arc::new(handle))
            }
            None => None,
        };
        let nats = match config.nats.clone() {
            Some(nats_config) => {
                let (site, node) = (nats_config.site.clone(), nats_config.node.clone());
                let handle = NatsNode::start(&broker, nats_config).await?;
                tracing::info!(%site, %node, "NATS node started");
                Some((Arc::new(handle), site))
            }
            None => None,
        };
        let sinks = Sinks {
            bridge: bridge.as_ref().map(|b| b.events()),
            nats: match &nats {
                Some((node, site)) => Some(NatsSink {
                    client: node.client().clone(),
                    subjects: Subjects::new(site).map_err(NatsError::Subject)?,
                    engine_id: engine_id.clone(),
                }),
                None => None,
            },
        };
        let nats = nats.map(|(node, _)| node);
        let mut upstream = None;

        let rules = match rule_set {
            None => None,
            Some(set) => {
                let sink = if sinks.is_empty() {
                    None
                } else {
                    let (sink, task) = sinks.spawn();
                    upstream = Some(task);
                    Some(sink)
                };
                let runtime_config = RuntimeConfig {
                    engine: EngineConfig { timezone, ..EngineConfig::default() },
                    store: rules_config.state.clone(),
                    trace_events: options.trace_events,
                    upstream: sink,
                    // On a mesh every node runs the same schedules: one acts.
                    schedule_gate: nats.as_ref().map(|node| {
                        Arc::new(NatsGate { work: node.rule_work().clone() }) as Arc<dyn ScheduleGate>
                    }),
                    ..RuntimeConfig::new(engine_id.clone())
                };
                // Joined before the engine starts: its first firing finds the queue.
                let jobs = match &nats {
                    Some(node) => Some(node.rule_work().jobs().await?),
                    None => None,
                };
                let link = local_link::attach(broker.link(&engine_id)?, RULES_LINK_CAPACITY);
                let runtime = RulesRuntime::start(runtime_config, set, link)?;
                let api = runtime.handle();
                // Events before the snapshot: nothing connects unseen.
                let events = broker.registry().events();
                let snapshot = broker.registry().snapshot();
                let presence = Presence::new(move |info| {
                    info.mtp != Mtp::InProcess && !controllers.contains(&info.endpoint_id)
                });
                tokio::spawn(presence.forward(snapshot, events, api.clone()));
                if let Some(jobs) = jobs {
                    // This node's share of the mesh's schedule firings.
                    tokio::spawn(schedule_gate::run_jobs(jobs, api.clone()));
                }
                tracing::info!(endpoint_id = %engine_id, rules = api.status().await.map_or(0, |s| s.rules.len()), "rules engine started");
                Some(Rules {
                    runtime,
                    api,
                    endpoint_id: engine_id,
                    dir,
                    tags: rules_config.tag_list(),
                    state: rules_config.state.clone(),
                })
            }
        };

        let http_stop = CancellationToken::new();
        let http_tasks = TaskTracker::new();
        let state = AdminState {
            broker: broker.clone(),
            rules: rules.as_ref().map(|r| admin::RulesApi {
                api: r.api.clone(),
                endpoint_id: r.endpoint_id.clone(),
                dir: r.dir.clone(),
                tags: r.tags.clone(),
            }),
            prometheus: prometheus.clone(),
            bridge: bridge.clone(),
            nats: nats.clone(),
        };
        let metrics_on = config.metrics.enabled.then_some(config.metrics.bind);
        let admin_on = config.admin.enabled.then_some(config.admin.bind);
        let mut metrics_addr = None;
        let mut admin_addr = None;
        // One listener when both are asked on the same address.
        let same =
            metrics_on.is_some() && metrics_on == admin_on && metrics_on.is_some_and(|a| a.port() != 0);
        if let Some(addr) = metrics_on {
            let listener = bind("metrics", addr).await?;
            let local = local_addr("metrics", addr, &listener)?;
            metrics_addr = Some(local);
            let router = if same {
                admin_addr = Some(local);
                admin::metrics_router(state.clone()).merge(admin::admin_router(state.clone()))
            } else {
                admin::metrics_router(state.clone())
            };
            http_tasks.spawn(admin::serve(listener, router, http_stop.clone()));
        }
        if let (Some(addr), false) = (admin_on, same) {
            let listener = bind("admin", addr).await?;
            admin_addr = Some(local_addr("admin", addr, &listener)?);
            http_tasks.spawn(admin::serve(listener, admin::admin_router(state), http_stop.clone()));
        }
        if let Some(handle) = prometheus {
            let stop = http_stop.clone();
            http_tasks.spawn(async move {
                let mut every = tokio::time::interval(metrics::UPKEEP_EVERY);
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        _ = every.tick() => handle.run_upkeep(),
                    }
                }
            });
        }
        http_tasks.close();
        tracing::info!(
            mqtt = ?broker.mqtt_addrs(),
            websocket = ?broker.websocket_addrs(),
            metrics = %shown(metrics_addr),
            admin = %shown(admin_addr),
            "uspmesh serving"
        );
        Ok(Appliance {
            broker,
            rules,
            bridge,
            nats,
            upstream,
            http_stop,
            http_tasks,
            metrics_addr,
            admin_addr,
        })
    }

    /// The broker.
    pub fn broker(&self) -> &BrokerHandle {
        &self.broker
    }

    /// The rules engine's handle (none when `[rules] enabled = false`).
    pub fn rules(&self) -> Option<&RulesHandle> {
        self.rules.as_ref().map(|r| &r.api)
    }

    /// The rules engine's Endpoint ID, when it runs.
    pub fn rules_endpoint_id(&self) -> Option<&str> {
        self.rules.as_ref().map(|r| r.endpoint_id.as_str())
    }

    /// The cloud bridge, when `[bridge]` is configured.
    pub fn bridge(&self) -> Option<&BridgeHandle> {
        self.bridge.as_deref()
    }

    /// The NATS node, when `[nats]` is configured.
    pub fn nats(&self) -> Option<&NatsNode> {
        self.nats.as_deref()
    }

    /// Where `/metrics` is served, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Where the admin API is served, if it is.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }
}

/// The rules to start with: the given sources, else the configured
/// directory's files, else none; and the directory a reload reads.
fn load_rules(
    config: &ApplianceConfig,
    given: Option<Vec<Source>>,
) -> Result<(RuleSet, Option<PathBuf>), StartError> {
    let tags = config.rules.tag_list();
    match (given, &config.rules.dir) {
        (Some(sources), _) => {
            Ok((usp_rules::load_with_tags(&sources, &tags).map_err(StartError::Rules)?, None))
        }
        (None, Some(dir)) => {
            Ok((usp_rules::load_dir(dir, &tags).map_err(StartError::Rules)?, Some(dir.clone())))
        }
        (None, None) => Ok((usp_rules::load_with_tags(&[], &tags).map_err(StartError::Rules)?, None)),
    }
}

/// An address for the log, or `off`.
fn shown(addr: Option<SocketAddr>) -> String {
    addr.map_or_else(|| "off".to_owned(), |a| a.to_string())
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).await.map_err(|source| StartError::Bind { what, addr, source })
}

fn local_addr(
    what: &'static str,
    addr: SocketAddr,
    listener: &TcpListener,
) -> Result<SocketAddr, StartError> {
    listener.local_addr().map_err(|source| StartError::Bind { what, addr, source })
}
