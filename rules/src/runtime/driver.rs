//! The runtime's task: one loop that owns the engine.
//!
//! ```text
//!  notifications (ControllerClient) ─┐                ┌─▶ requests → link (in issue order)
//!  presence (registry, Connect recs) ─┤                ├─▶ subscription syncs (a task per Agent)
//!  answers to requests ──────────────┼─▶ engine ──────┼─▶ upstream sink (try_send, never waits)
//!  sync results ─────────────────────┤   .handle()    ├─▶ events, logs
//!  the alarm (next deadline) ────────┤                └─▶ store (group commit, blocking thread)
//!  commands (reload, explain, ...) ──┘
//! ```
//!
//! Everything the engine needs is an input to this one task, so the engine
//! needs no lock. The loop waits on all sources at once (no source is
//! preferred, so none can starve the others), handles one, feeds the
//! engine and carries out its outputs before waiting again; answers that
//! come back at once are queued and fed right after.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
};

use tokio::sync::{broadcast, mpsc, oneshot};
use usp_endpoint::{
    controller::{ControllerClient, Incoming, Notifications, UspError},
    mtp::RecordSender,
};

use super::{
    AgentPresence, Clock, Command,
    event::{Counters, RuleStatus, RuntimeEvent, RuntimeStatus},
    persist::Persister,
    requests::{Answer, Failure, InFlight, outcome},
    sync::{SyncReport, sync},
};
use crate::{
    Engine,
    engine::{Input, Outcome, OutgoingRequest, Output, SubscriptionSpec, UpstreamEvent},
    metrics::RuntimeMetrics,
};

/// The end of one Agent's sync: its generation and result.
type SyncDone = (Arc<str>, u64, Result<SyncReport, UspError>);

/// One Agent's subscription sync under way.
struct AgentSync {
    generation: u64,
    task: tokio::task::JoinHandle<()>,
    /// The engine's Gets waiting for this sync (its priming Get).
    after: Vec<OutgoingRequest>,
    /// A newer set of subscriptions to put in place next, and its Gets.
    queued: Option<(Vec<SubscriptionSpec>, Vec<OutgoingRequest>)>,
}

/// What the loop listens to and reports to, from [`super::RulesRuntime::start`].
pub(crate) struct Wiring {
    pub(crate) presence: mpsc::Receiver<AgentPresence>,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) shutdown: oneshot::Receiver<()>,
    pub(crate) upstream: Option<mpsc::Sender<UpstreamEvent>>,
    pub(crate) events: broadcast::Sender<RuntimeEvent>,
    pub(crate) clock: Clock,
}

/// The loop's state.
pub(crate) struct Driver<S: RecordSender> {
    engine: Engine,
    client: ControllerClient<S>,
    notifications: Notifications,
    presence: mpsc::Receiver<AgentPresence>,
    commands: mpsc::Receiver<Command>,
    shutdown: oneshot::Receiver<()>,
    upstream: Option<mpsc::Sender<UpstreamEvent>>,
    events: broadcast::Sender<RuntimeEvent>,
    clock: Clock,
    persister: Persister,
    metrics: RuntimeMetrics,
    in_flight: InFlight,
    syncs: HashMap<Arc<str>, AgentSync>,
    sync_tx: mpsc::UnboundedSender<SyncDone>,
    sync_rx: mpsc::UnboundedReceiver<SyncDone>,
    next_generation: u64,
    counters: Counters,
    /// Inputs to feed before waiting again.
    queued: VecDeque<Input>,
    /// The engine's output buffer, reused.
    out: Vec<Output>,
}

impl<S: RecordSender> Driver<S> {
    pub(crate) fn new(
        engine: Engine,
        (client, notifications): (ControllerClient<S>, Notifications),
        wiring: Wiring,
        persister: Persister,
    ) -> Driver<S> {
        let Wiring { presence, commands, shutdown, upstream, events, clock } = wiring;
        let (sync_tx, sync_rx) = mpsc::unbounded_channel();
        let in_flight = InFlight::new(engine.config().request_timeout);
        Driver {
            engine,
            client,
            notifications,
            presence,
            commands,
            shutdown,
            upstream,
            events,
            clock,
            persister,
            metrics: RuntimeMetrics::new(),
            in_flight,
            syncs: HashMap::new(),
            sync_tx,
            sync_rx,
            next_generation: 1,
            counters: Counters::default(),
            // A timer that fell due while the process was down runs at once.
            queued: VecDeque::from([Input::Tick]),
            out: Vec::new(),
        }
    }
    /// Runs until shut down (or until the link ends); writes what is left to
    /// the store and returns the result of that last write.
    pub(crate) async fn run(mut self) -> Result<(), String> {
        let mut alarm = self.clock.alarm();
        let mut presence_open = true;
        let mut commands_open = true;
        loop {
            while let Some(input) = self.queued.pop_front() {
                self.feed(input).await;
            }
            let deadline = self.engine.next_deadline();
            tokio::select! {
                _ = &mut self.shutdown => break,
                command = self.commands.recv(), if commands_open => match command {
                    Some(command) => self.command(command).await,
                    // Every handle is gone; the owner still runs it.
                    None => commands_open = false,
                },
                event = self.notifications.recv() => match event {
                    Some(Incoming::Notification(n)) => {
                        self.counters.notifications += 1;
                        self.metrics.notifications.increment(1);
                        let received_at = self.clock.now();
                        self.feed(Input::Notify { agent: n.from, notify: n.notify, received_at }).await;
                    }
                    Some(Incoming::Connected(c)) => self.presence(AgentPresence::Online(c.from)).await,
                    Some(Incoming::Disconnected(d)) => self.presence(AgentPresence::Offline(d.from)).await,
                    None => {
                        tracing::error!("rules runtime: the controller link closed; stopping");
                        break;
                    }
                },
                p = self.presence.recv(), if presence_open => match p {
                    Some(p) => self.presence(p).await,
                    None => presence_open = false,
                },
                answer = self.in_flight.next() => self.answer(answer),
                Some(done) = self.sync_rx.recv() => self.synced(done).await,
                result = self.persister.done() => self.persisted(result),
                () = alarm.wait(deadline) => self.feed(Input::Tick).await,
            }
            self.metrics.in_flight.set(self.in_flight.len() as f64);
        }
        for (_, s) in self.syncs.drain() {
            s.task.abort();
        }
        let result = self.persister.flush(&mut self.engine).await;
        if let Err(e) = &result {
            tracing::error!(error = %e, "rules runtime: final state write failed");
        }
        result
    }

    /// Feeds one input to the engine and carries out what it says.
    async fn feed(&mut self, input: Input) {
        let now = self.clock.now();
        let mut out = std::mem::take(&mut self.out);
        self.engine.handle_into(input, now, &mut out);
        for o in out.drain(..) {
            self.act(o).await;
        }
        self.out = out;
        self.persister.kick(&mut self.engine);
    }

    async fn act(&mut self, output: Output) {
        match output {
            Output::Request(req) => {
                if req.rule.is_none() {
                    // The engine's own Get waits for the Agent's sync.
                    if let Some(s) = self.syncs.get_mut(&req.agent) {
                        match &mut s.queued {
                            Some((_, gets)) => gets.push(req),
                            None => s.after.push(req),
                        }
                        return;
                    }
                }
                self.send(req).await;
            }
            Output::Subscribe(s) => self.subscribe(s.agent, s.subscriptions),
            Output::Publish(event) => self.publish(event),
            Output::RuleStopped { rule, reason } => {
                tracing::warn!(%rule, %reason, "rule stopped");
                let _ = self.events.send(RuntimeEvent::RuleStopped { rule, reason });
            }
            Output::Notice(notice) => {
                if notice.is_warning() {
                    tracing::warn!(%notice, "rules");
                } else {
                    tracing::info!(%notice, "rules");
                }
                let _ = self.events.send(RuntimeEvent::Notice(notice));
            }
            Output::Traced { rule, entry } => {
                tracing::debug!(%rule, trigger = %entry.trigger, agent = ?entry.agent, verdict = ?entry.verdict, "rule evaluated");
                let _ = self.events.send(RuntimeEvent::Evaluated { rule, entry });
            }
        }
    }

    async fn send(&mut self, req: OutgoingRequest) {
        self.counters.requests += 1;
        self.metrics.requests.increment(1);
        if let Some(answer) = self.in_flight.send(&self.client, req).await {
            self.answer(answer);
        }
    }

    /// Queues an answer for the engine.
    fn answer(&mut self, (id, result): Answer) {
        let (outcome, failure) = outcome(result);
        match failure {
            Some(Failure::Error) => {
                self.counters.request_errors += 1;
                self.metrics.failed_error.increment(1);
            }
            Some(Failure::Timeout) => {
                self.counters.request_timeouts += 1;
                self.metrics.failed_timeout.increment(1);
            }
            Some(Failure::Link) => {
                self.counters.request_link_failures += 1;
                self.metrics.failed_link.increment(1);
            }
            None => {}
        }
        if let Some(outcome) = outcome {
            self.queued.push_back(Input::Response { id, outcome });
        }
    }

    fn publish(&mut self, event: UpstreamEvent) {
        let sent = match &self.upstream {
            Some(sink) => match sink.try_send(event) {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "upstream sink unavailable; rule event dropped");
                    false
                }
            },
            None => {
                tracing::debug!(name = %event.name, rule = %event.rule, "no upstream sink; rule event dropped");
                false
            }
        };
        if sent {
            self.counters.upstream_sent += 1;
            self.metrics.upstream_sent.increment(1);
        } else {
            self.counters.upstream_dropped += 1;
            self.metrics.upstream_dropped.increment(1);
        }
    }

    /// Starts putting `specs` in place on `agent`, or queues them behind
    /// the sync under way there (only the newest set is kept).
    fn subscribe(&mut self, agent: Arc<str>, specs: Vec<SubscriptionSpec>) {
        if let Some(s) = self.syncs.get_mut(&agent) {
            let gets = s.queued.take().map(|(_, gets)| gets).unwrap_or_default();
            s.queued = Some((specs, gets));
            return;
        }
        let (generation, task) = self.spawn_sync(agent.clone(), specs);
        self.syncs.insert(agent, AgentSync { generation, task, after: Vec::new(), queued: None });
    }

    fn spawn_sync(
        &mut self,
        agent: Arc<str>,
        specs: Vec<SubscriptionSpec>,
    ) -> (u64, tokio::task::JoinHandle<()>) {
        let generation = self.next_generation;
        self.next_generation += 1;
        let client = self.client.clone();
        let done = self.sync_tx.clone();
        let prefix = self.engine.config().subscription_prefix.clone();
        let timeout = self.engine.config().request_timeout;
        let task = tokio::spawn(async move {
            let result = sync(&client, &agent, &specs, &prefix, timeout).await;
            let _ = done.send((agent, generation, result));
        });
        (generation, task)
    }

    /// A sync ended: report it, send the Gets that waited for it, start the
    /// queued one.
    async fn synced(&mut self, (agent, generation, result): SyncDone) {
        let Some(s) = self.syncs.get_mut(&agent) else { return };
        if s.generation != generation {
            return;
        }
        let after = std::mem::take(&mut s.after);
        match s.queued.take() {
            Some((specs, gets)) => {
                let (generation, task) = self.spawn_sync(agent.clone(), specs);
                if let Some(s) = self.syncs.get_mut(&agent) {
                    *s = AgentSync { generation, task, after: gets, queued: None };
                }
            }
            None => {
                self.syncs.remove(&agent);
            }
        }
        match result {
            Ok(report) => {
                self.counters.syncs += 1;
                self.metrics.sync_ok.increment(1);
                if report.failed.is_empty() {
                    tracing::debug!(%agent, ?report, "subscriptions in place");
                } else {
                    tracing::warn!(%agent, failed = ?report.failed, "some subscriptions could not be put in place");
                }
                let _ = self.events.send(RuntimeEvent::Synced { agent, report });
            }
            Err(error) => {
                self.counters.sync_failures += 1;
                self.metrics.sync_failed.increment(1);
                tracing::warn!(%agent, %error, "subscriptions could not be put in place");
                let _ = self.events.send(RuntimeEvent::SyncFailed { agent, error: error.to_string() });
            }
        }
        for req in after {
            self.send(req).await;
        }
    }

    async fn presence(&mut self, p: AgentPresence) {
        match p {
            AgentPresence::Online(agent) => self.feed(Input::AgentOnline { agent }).await,
            AgentPresence::Offline(agent) => {
                // Its sync cannot finish; its Gets will not be answered.
                if let Some(s) = self.syncs.remove(agent.as_str()) {
                    s.task.abort();
                    let gets = s.after.into_iter().chain(s.queued.into_iter().flat_map(|(_, g)| g));
                    for req in gets {
                        let outcome = Outcome::Failed(format!("{agent} went offline"));
                        self.queued.push_back(Input::Response { id: req.id, outcome });
                    }
                }
                self.feed(Input::AgentOffline { agent }).await;
            }
        }
    }

    fn persisted(&mut self, result: Result<(), String>) {
        match result {
            Ok(()) => self.counters.persist_writes += 1,
            Err(e) => {
                self.counters.persist_failures += 1;
                self.metrics.persist_failed.increment(1);
                tracing::error!(error = %e, "rule state not written");
                let _ = self.events.send(RuntimeEvent::PersistFailed(e));
            }
        }
        // What changed while that write ran.
        self.persister.kick(&mut self.engine);
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Reload(set, reply) => {
                let rules = set.rules.len();
                let now = self.clock.now();
                for o in self.engine.reload(set, now) {
                    self.act(o).await;
                }
                self.persister.kick(&mut self.engine);
                let _ = reply.send(rules);
            }
            Command::Explain(name, reply) => {
                let _ = reply.send(self.engine.explain(&name, self.clock.now()));
            }
            Command::RestartRule(name, reply) => {
                let _ = reply.send(self.engine.restart_rule(&name));
                self.persister.kick(&mut self.engine);
            }
            Command::Status(reply) => {
                let _ = reply.send(self.status());
            }
        }
    }

    fn status(&self) -> RuntimeStatus {
        RuntimeStatus {
            rules: self
                .engine
                .rule_status()
                .into_iter()
                .map(|(name, stopped)| RuleStatus { name, stopped })
                .collect(),
            engine: self.engine.stats(),
            counters: self.counters,
            requests_in_flight: self.in_flight.len(),
            agents_syncing: self.syncs.len(),
            next_deadline: self.engine.next_deadline(),
        }
    }
}
