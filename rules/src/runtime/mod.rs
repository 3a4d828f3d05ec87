//! The rules runtime: the engine driven by tokio, as a USP Controller on a
//! link.
//!
//! [`RulesRuntime::start`] takes the rules, a configuration and any
//! [`Link`] — the broker's in-process link in the appliance, an MQTT or
//! WebSocket client when the engine talks to a remote broker, an in-memory
//! pair in tests — and runs one task that owns the [`Engine`] (see
//! `driver.rs` for the loop). Around the engine it:
//!
//! * runs a `ControllerClient` on the link: notifications from Agents are
//!   answered (NotifyResp) by the client and fed to the engine; the
//!   engine's requests are sent in the order issued and their answers fed
//!   back (`requests.rs`);
//! * turns [`AgentPresence`] (from the broker's registry, or from Agents'
//!   Connect and DisconnectRecords) into `AgentOnline` / `AgentOffline`;
//! * makes each Agent hold exactly the subscriptions the engine asks for,
//!   reusing, re-enabling, replacing and removing rows, before the Get that
//!   primes the engine's cache (`sync.rs`); this is also how subscriptions
//!   are repaired when an Agent reconnects or reboots (`Device.Boot!`);
//! * hands rule events to an upstream sink (a channel the appliance wires
//!   to the bridge or NATS), never waiting on it;
//! * with a [`ScheduleGate`] (several engines running the same rules on a
//!   mesh), asks it, off the loop, before a schedule-triggered firing runs
//!   (`gate.rs`);
//! * writes the engine's state changes to the [`Store`] off the hot path
//!   (`persist.rs`), restores them at start and flushes them at shutdown,
//!   so timers (a for-duration under way) keep their deadlines across a
//!   restart;
//! * sleeps until the engine's next deadline, on a [`Clock`] a test can
//!   drive;
//! * answers [`RulesHandle`] calls: reload (atomic: files that do not load
//!   are refused with their `file:line:column` errors and the running rules
//!   stay), explain, status, restart of a stopped rule, and a stream of
//!   [`RuntimeEvent`]s.
//!
//! ```no_run
//! # async fn demo(link: usp_endpoint::mtp::Link<usp_endpoint::mtp::link::MemSender>) -> Result<(), Box<dyn std::error::Error>> {
//! use usp_rules::runtime::{AgentPresence, RulesRuntime, RuntimeConfig};
//!
//! let rules = usp_rules::load_dir("deploy/rules".as_ref(), &[])?;
//! let (events_tx, mut events_rx) = tokio::sync::mpsc::channel(1024); // to the bridge
//! let config = RuntimeConfig {
//!     store: Some("/var/lib/uspmesh/rules.redb".into()),
//!     upstream: Some(events_tx),
//!     ..RuntimeConfig::new("self::site-rules")
//! };
//! let runtime = RulesRuntime::start(config, rules, link)?;
//! let rules_api = runtime.handle();
//! rules_api.presence(AgentPresence::Online("proto::room-101".into())).await?;
//! if let Err(errors) = rules_api.reload_dir("deploy/rules".into(), Vec::new()).await? {
//!     eprintln!("{errors}");                         // file:line:column: reason; old rules still run
//! }
//! println!("{}", rules_api.explain_text("light-follows-presence").await?.unwrap_or_default());
//! runtime.shutdown().await?;                         // state written
//! # Ok(()) }
//! ```

mod clock;
mod driver;
mod event;
mod gate;
mod persist;
mod presence;
mod requests;
mod sync;

use std::path::PathBuf;

use tokio::sync::{broadcast, mpsc, oneshot};
use usp_endpoint::{
    controller::{ClientConfig, Controller, ControllerClient},
    mtp::{Link, RecordSender},
};

pub use clock::{Clock, ManualClock};
pub use event::{Counters, RuleStatus, RuntimeEvent, RuntimeStatus};
pub use gate::{Firing, GateFuture, ScheduleGate, firing_key};
pub use presence::AgentPresence;
pub use sync::SyncReport;

use crate::{
    Engine, EngineConfig, LoadErrors, RuleSet, Source, Store, StoreError, TimeZone, engine::UpstreamEvent,
    trace::Explanation,
};

/// How a [`RulesRuntime`] runs.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// The engine's USP Endpoint ID (a Controller), e.g. `self::site-rules`.
    pub endpoint_id: String,
    /// The engine's settings (time zone, limits, subscription prefix,
    /// request timeout ...).
    pub engine: EngineConfig,
    /// Where rule state is kept across restarts (a redb file, created if
    /// missing); `None` keeps nothing.
    pub store: Option<PathBuf>,
    /// Where `publish` steps go (the bridge, NATS). Events are dropped,
    /// and counted, when there is no sink or it is full: a rule never waits
    /// for upstream.
    pub upstream: Option<mpsc::Sender<UpstreamEvent>>,
    /// The time source; the system clock unless a test drives it.
    pub clock: Clock,
    /// How many notifications may wait for the engine before the client
    /// drops them unanswered (NotifRetry brings them back).
    pub notification_capacity: usize,
    /// Whether every rule evaluation is logged (debug) and broadcast as
    /// [`RuntimeEvent::Evaluated`] — a live view of what `explain` shows.
    /// Off by default: it copies each trace entry.
    pub trace_events: bool,
    /// Asked before each schedule-triggered firing runs (see
    /// [`ScheduleGate`]); `None`: schedules fire at once. Where several
    /// engines run the same rules, the gate makes one of them act.
    pub schedule_gate: Option<std::sync::Arc<dyn ScheduleGate>>,
}

impl RuntimeConfig {
    /// The defaults, for the Controller `endpoint_id`: no store, no
    /// upstream sink, the system clock.
    pub fn new(endpoint_id: impl Into<String>) -> RuntimeConfig {
        RuntimeConfig {
            endpoint_id: endpoint_id.into(),
            engine: EngineConfig::default(),
            store: None,
            upstream: None,
            clock: Clock::system(),
            notification_capacity: 8192,
            trace_events: false,
            schedule_gate: None,
        }
    }
}

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configured Endpoint ID is not valid.
    #[error("rules endpoint id: {0}")]
    EndpointId(#[from] usp_proto::endpoint_id::EndpointIdError),
    /// The store could not be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a call on a [`RulesHandle`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// The runtime has stopped (shut down, or its link closed).
    #[error("the rules runtime has stopped")]
    Stopped,
    /// The final write of rule state failed at shutdown.
    #[error("rule state not written at shutdown: {0}")]
    Persist(String),
}

/// Requests from handles to the loop.
pub(crate) enum Command {
    Reload(RuleSet, oneshot::Sender<usize>),
    Explain(String, oneshot::Sender<Option<Explanation>>),
    RestartRule(String, oneshot::Sender<bool>),
    Status(oneshot::Sender<RuntimeStatus>),
    RunFiring(Firing),
}

/// A running rules engine. Dropping it stops the task without writing the
/// last state changes; call [`RulesRuntime::shutdown`].
#[derive(Debug)]
pub struct RulesRuntime {
    handle: RulesHandle,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), String>>,
}

/// What the appliance, the admin API and the CLI call on a running
/// runtime. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RulesHandle {
    commands: mpsc::Sender<Command>,
    presence: mpsc::Sender<AgentPresence>,
    events: broadcast::Sender<RuntimeEvent>,
    timezone: TimeZone,
}

impl RulesRuntime {
    /// Opens the store (restoring the state it holds), starts the
    /// Controller on `link` and the runtime's task (needs a tokio runtime).
    pub fn start<S: RecordSender>(
        mut config: RuntimeConfig,
        rules: RuleSet,
        link: Link<S>,
    ) -> Result<RulesRuntime, StartError> {
        let controller = Controller::new(config.endpoint_id.as_str())?;
        let store = config.store.as_deref().map(Store::open).transpose()?;
        // Without a store there is nothing to track changes for.
        config.engine.persist &= store.is_some();
        config.engine.trace_outputs |= config.trace_events;
        config.engine.gate_schedules = config.schedule_gate.is_some();
        let timezone = config.engine.timezone.clone();
        let now = config.clock.now();
        let mut engine = Engine::new(config.engine, rules, now);
        if let Some(store) = &store {
            // Only notices come back (records that could not be restored).
            for notice in engine.restore(store.load()?) {
                tracing::warn!(?notice, "rules store");
            }
        }
        let (client, notifications) = ControllerClient::spawn(
            controller,
            link,
            ClientConfig { notification_capacity: config.notification_capacity },
        );
        let (commands_tx, commands) = mpsc::channel(64);
        let (presence_tx, presence) = mpsc::channel(1024);
        let (events, _) = broadcast::channel(1024);
        let (stop, shutdown) = oneshot::channel();
        let wiring = driver::Wiring {
            presence,
            commands,
            shutdown,
            upstream: config.upstream,
            schedule_gate: config.schedule_gate,
            events: events.clone(),
            clock: config.clock,
        };
        let driver =
            driver::Driver::new(engine, (client, notifications), wiring, persist::Persister::new(store));
        let task = tokio::spawn(driver.run());
        Ok(RulesRuntime {
            handle: RulesHandle { commands: commands_tx, presence: presence_tx, events, timezone },
            stop: Some(stop),
            task,
        })
    }

    /// A handle for calls on the runtime.
    pub fn handle(&self) -> RulesHandle {
        self.handle.clone()
    }

    /// Stops the task and writes the rule state that changed since the last
    /// write. In-flight requests are abandoned (a sequence waiting for one
    /// is reported failed at the next start, see the engine's persistence).
    pub async fn shutdown(mut self) -> Result<(), RuntimeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(RuntimeError::Persist(e)),
            Err(_) => Err(RuntimeError::Stopped),
        }
    }
}

impl Drop for RulesRuntime {
    fn drop(&mut self) {
        if self.stop.is_some() {
            self.task.abort();
        }
    }
}

impl RulesHandle {
    async fn call<R>(&self, make: impl FnOnce(oneshot::Sender<R>) -> Command) -> Result<R, RuntimeError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.map_err(|_| RuntimeError::Stopped)?;
        rx.await.map_err(|_| RuntimeError::Stopped)
    }

    /// Tells the runtime an Agent came or went.
    pub async fn presence(&self, presence: AgentPresence) -> Result<(), RuntimeError> {
        self.presence.send(presence).await.map_err(|_| RuntimeError::Stopped)
    }

    /// Runs `rules` from now on (already loaded and checked); returns how
    /// many rules run. Rules that remain keep their state and timers.
    pub async fn reload(&self, rules: RuleSet) -> Result<usize, RuntimeError> {
        self.call(|tx| Command::Reload(rules, tx)).await
    }

    /// Loads `sources` and, if every file is good, runs them: `Ok(Ok(n))`.
    /// A file that does not load refuses the whole reload: `Ok(Err(errors))`
    /// (each `file:line:column: reason`), and the running rules stay.
    pub async fn reload_sources(
        &self,
        sources: Vec<Source>,
        tags: Vec<(String, Vec<String>)>,
    ) -> Result<Result<usize, LoadErrors>, RuntimeError> {
        let loaded = tokio::task::spawn_blocking(move || crate::load_with_tags(&sources, &tags))
            .await
            .map_err(|_| RuntimeError::Stopped)?;
        match loaded {
            Ok(set) => self.reload(set).await.map(Ok),
            Err(errors) => Ok(Err(errors)),
        }
    }

    /// [`RulesHandle::reload_sources`] with every `*.toml` file of `dir`.
    pub async fn reload_dir(
        &self,
        dir: PathBuf,
        tags: Vec<(String, Vec<String>)>,
    ) -> Result<Result<usize, LoadErrors>, RuntimeError> {
        let loaded = tokio::task::spawn_blocking(move || crate::load_dir(&dir, &tags))
            .await
            .map_err(|_| RuntimeError::Stopped)?;
        match loaded {
            Ok(set) => self.reload(set).await.map(Ok),
            Err(errors) => Ok(Err(errors)),
        }
    }

    /// Why a rule did or did not fire (`None`: no such rule).
    pub async fn explain(&self, rule: &str) -> Result<Option<Explanation>, RuntimeError> {
        self.call(|tx| Command::Explain(rule.to_owned(), tx)).await
    }

    /// [`RulesHandle::explain`] as the text `uspmesh rules explain NAME`
    /// prints, times in the engine's time zone.
    pub async fn explain_text(&self, rule: &str) -> Result<Option<String>, RuntimeError> {
        Ok(self.explain(rule).await?.map(|e| e.render(&self.timezone)))
    }

    /// Restarts a stopped rule; false if it was not stopped (or unknown).
    pub async fn restart_rule(&self, rule: &str) -> Result<bool, RuntimeError> {
        self.call(|tx| Command::RestartRule(rule.to_owned(), tx)).await
    }

    /// Runs a schedule firing that another engine's [`ScheduleGate`] handed
    /// on (a mesh's job queue), as if this engine's gate had allowed it. A
    /// firing of a rule this engine does not run, or of a trigger that is
    /// not a schedule, is ignored; the rule's own conditions still apply.
    pub async fn run_firing(&self, firing: Firing) -> Result<(), RuntimeError> {
        self.commands.send(Command::RunFiring(firing)).await.map_err(|_| RuntimeError::Stopped)
    }

    /// A snapshot of the runtime.
    pub async fn status(&self) -> Result<RuntimeStatus, RuntimeError> {
        self.call(Command::Status).await
    }

    /// The runtime's events from now on.
    pub fn events(&self) -> broadcast::Receiver<RuntimeEvent> {
        self.events.subscribe()
    }
}
