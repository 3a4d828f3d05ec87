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
    time::{Duration, SystemTime},
};

use futures_util::FutureExt;
use tokio::sync::{broadcast, mpsc, oneshot};
use usp_endpoint::{
    controller::{ControllerClient, Incoming, Notifications, UspError},
    mtp::RecordSender,
};
use usp_proto::usp::response::RespType;

use super::{
    AgentPresence, Clock, Command, ScheduleGate,
    event::{Counters, RuleStatus, RuntimeEvent, RuntimeStatus},
    persist::Persister,
    requests::{Answer, Failure, For, InFlight, outcome},
    sync::{SyncReport, sync},
};
use crate::{
    Engine,
    engine::{Input, Outcome, OutgoingRequest, Output, SubscriptionSpec, UpstreamEvent},
    metrics::RuntimeMetrics,
};

/// One attempt of one Agent's sync: its generation, its result, and
/// whether the task tries again.
type SyncDone = (Arc<str>, u64, Result<SyncReport, UspError>, bool);

/// One Agent's subscription sync under way.
struct AgentSync {
    generation: u64,
    /// The set it puts in place.
    specs: Vec<SubscriptionSpec>,
    /// An attempt got no answer and the task waits to try again.
    retrying: bool,
    task: tokio::task::JoinHandle<()>,
    /// The engine's priming Gets waiting for the sync, with when the engine
    /// issued them (by the runtime's clock).
    primes: Vec<(OutgoingRequest, SystemTime)>,
}

/// First wait before a sync that got no answer is tried again; it doubles
/// up to [`SYNC_RETRY_MAX`].
const SYNC_RETRY_MIN: Duration = Duration::from_secs(1);
const SYNC_RETRY_MAX: Duration = Duration::from_secs(60);
/// Longest wait for one answer during a sync: an Agent that is not
/// listening yet should cost a retry, not the engine's request timeout.
const SYNC_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Most notifications handled in one turn of the loop.
const BURST: usize = 64;
/// Most syncs talking to Agents at once: when a thousand Agents connect
/// together (the appliance starting), their syncs queue instead of
/// flooding the link.
const SYNC_CONCURRENCY: usize = 64;
/// A priming Get is sent as the engine's request while the engine still
/// waits for it with at least this much to spare; later, its answer is fed
/// as `Input::Values` instead.
const PRIME_MARGIN: Duration = Duration::from_secs(1);

/// What the loop listens to and reports to, from [`super::RulesRuntime::start`].
pub(crate) struct Wiring {
    pub(crate) presence: mpsc::Receiver<AgentPresence>,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) shutdown: oneshot::Receiver<()>,
    pub(crate) upstream: Option<mpsc::Sender<UpstreamEvent>>,
    pub(crate) schedule_gate: Option<Arc<dyn ScheduleGate>>,
    pub(crate) events: broadcast::Sender<RuntimeEvent>,
    pub(crate) clock: Clock,
}

/// A schedule firing the gate allowed.
struct Granted {
    rule: Arc<str>,
    trigger: usize,
    at: std::time::SystemTime,
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
    schedule_gate: Option<Arc<dyn ScheduleGate>>,
    /// Firings the gate allowed, back from the tasks that asked it (the
    /// loop never waits for the gate).
    granted_tx: mpsc::UnboundedSender<Granted>,
    granted_rx: mpsc::UnboundedReceiver<Granted>,
    events: broadcast::Sender<RuntimeEvent>,
    clock: Clock,
    persister: Persister,
    metrics: RuntimeMetrics,
    in_flight: InFlight,
    syncs: HashMap<Arc<str>, AgentSync>,
    sync_tx: mpsc::UnboundedSender<SyncDone>,
    sync_rx: mpsc::UnboundedReceiver<SyncDone>,
    next_generation: u64,
    sync_permits: Arc<tokio::sync::Semaphore>,
    counters: Counters,
    /// Inputs to feed before waiting again.
    queued: VecDeque<Input>,
    /// The engine's output buffer, reused.
    out: Vec<Output>,
    /// Buffer for answers taken without waiting, reused.
    ready: Vec<Answer>,
}

impl<S: RecordSender> Driver<S> {
    pub(crate) fn new(
        engine: Engine,
        (client, notifications): (ControllerClient<S>, Notifications),
        wiring: Wiring,
        persister: Persister,
    ) -> Driver<S> {
        let Wiring { presence, commands, shutdown, upstream, schedule_gate, events, clock } = wiring;
        let (sync_tx, sync_rx) = mpsc::unbounded_channel();
        let (granted_tx, granted_rx) = mpsc::unbounded_channel();
        let in_flight = InFlight::new(engine.config().request_timeout);
        Driver {
            engine,
            client,
            notifications,
            presence,
            commands,
            shutdown,
            upstream,
            schedule_gate,
            granted_tx,
            granted_rx,
            events,
            clock,
            persister,
            metrics: RuntimeMetrics::new(),
            in_flight,
            syncs: HashMap::new(),
            sync_tx,
            sync_rx,
            next_generation: 1,
            sync_permits: Arc::new(tokio::sync::Semaphore::new(SYNC_CONCURRENCY)),
            counters: Counters::default(),
            // A timer that fell due while the process was down runs at once.
            queued: VecDeque::from([Input::Tick]),
            out: Vec::new(),
            ready: Vec::new(),
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
                event = self.notifications.recv() => {
                    if !self.incoming(event).await {
                        break;
                    }
                    // The rest of a burst in the same turn, bounded so the
                    // other sources still get theirs.
                    let mut more = true;
                    for _ in 1..BURST {
                        match self.notifications.recv().now_or_never() {
                            Some(event) => more = self.incoming(event).await,
                            None => break,
                        }
                        if !more {
                            break;
                        }
                    }
                    if !more {
                        break;
                    }
                }
                p = self.presence.recv(), if presence_open => match p {
                    Some(p) => self.presence(p).await,
                    None => presence_open = false,
                },
                answer = self.in_flight.next() => self.answer(answer),
                Some(done) = self.sync_rx.recv() => self.synced(done).await,
                Some(g) = self.granted_rx.recv() => {
                    self.feed(Input::ScheduleGranted { rule: g.rule, trigger: g.trigger, at: g.at }).await;
                }
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

    /// Handles what the client received unasked; false when its stream
    /// ended (the link closed).
    async fn incoming(&mut self, event: Option<Incoming>) -> bool {
        match event {
            Some(Incoming::Notification(n)) => {
                // Answers that came before it on the wire go first.
                self.take_ready_answers().await;
                self.counters.notifications += 1;
                self.metrics.notifications.increment(1);
                let received_at = self.clock.now();
                self.feed(Input::Notify { agent: n.from, notify: n.notify, received_at }).await;
            }
            Some(Incoming::Connected(c)) => self.presence(AgentPresence::Online(c.from)).await,
            Some(Incoming::Disconnected(d)) => self.presence(AgentPresence::Offline(d.from)).await,
            None => {
                tracing::error!("rules runtime: the controller link closed; stopping");
                return false;
            }
        }
        true
    }

    /// Feeds the answers already received, before what came after them.
    async fn take_ready_answers(&mut self) {
        let mut ready = std::mem::take(&mut self.ready);
        self.in_flight.ready(&mut ready).await;
        for answer in ready.drain(..) {
            self.answer(answer);
        }
        self.ready = ready;
        while let Some(input) = self.queued.pop_front() {
            self.feed(input).await;
        }
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
                    // The engine's priming Get waits for the Agent's sync.
                    if let Some(s) = self.syncs.get_mut(&req.agent) {
                        s.primes.push((req, self.clock.now()));
                        return;
                    }
                }
                self.send(req).await;
            }
            Output::Subscribe(s) => self.subscribe(s.agent, s.subscriptions),
            Output::Publish(event) => self.publish(event),
            Output::ScheduleDue { rule, trigger, at } => self.ask_gate(rule, trigger, at),
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
        let OutgoingRequest { id, agent, body, .. } = req;
        self.request(agent, body, For::Engine(id)).await;
    }

    async fn request(&mut self, agent: Arc<str>, body: usp_proto::usp::request::ReqType, whom: For) {
        self.counters.requests += 1;
        self.metrics.requests.increment(1);
        if let Some(answer) = self.in_flight.send(&self.client, agent, body, whom).await {
            self.answer(answer);
        }
    }

    /// Queues an answer for the engine.
    fn answer(&mut self, (whom, result): Answer) {
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
        match (whom, outcome) {
            (For::Engine(id), Some(outcome)) => self.queued.push_back(Input::Response { id, outcome }),
            (For::Values(agent), Some(Outcome::Response(RespType::GetResp(resp)))) => {
                self.queued.push_back(Input::Values { agent: agent.to_string(), resp });
            }
            _ => {}
        }
    }

    /// Asks the gate, off the loop, whether this engine runs a schedule
    /// firing; a yes comes back through `granted_rx`.
    fn ask_gate(&mut self, rule: Arc<str>, trigger: usize, at: std::time::SystemTime) {
        let Some(gate) = self.schedule_gate.clone() else {
            // Gating is on only with a gate; run it rather than lose it.
            let _ = self.granted_tx.send(Granted { rule, trigger, at });
            return;
        };
        let tx = self.granted_tx.clone();
        tokio::spawn(async move {
            let firing = super::gate::Firing { rule, trigger, at };
            let key = firing.key();
            if gate.may_act(firing.clone()).await {
                let _ = tx.send(Granted { rule: firing.rule, trigger, at });
            } else {
                tracing::debug!(%key, "schedule firing left to another engine");
            }
        });
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

    /// Starts putting `specs` in place on `agent`. A sync already under
    /// way for the same set keeps going (an Agent is often reported online
    /// twice in a row — by the broker when it can receive, then by its own
    /// Connect Record — and abandoning a sync that already created the rows
    /// would lose its report). Otherwise the sync under way is abandoned for
    /// the newer one: the newest set is the one that counts, and a sync
    /// waiting to retry an Agent that did not answer should not hold up the
    /// one its Connect Record starts. The plan is made from what the Agent
    /// holds, so an interrupted sync is simply completed.
    fn subscribe(&mut self, agent: Arc<str>, specs: Vec<SubscriptionSpec>) {
        if self.syncs.get(&agent).is_some_and(|s| s.specs == specs && !s.retrying) {
            return;
        }
        if let Some(old) = self.syncs.remove(&agent) {
            old.task.abort();
            // The newer set comes with its own priming Get.
            for (req, _) in old.primes {
                let outcome = Outcome::Failed("superseded by a newer subscription sync".into());
                self.queued.push_back(Input::Response { id: req.id, outcome });
            }
        }
        let primes = Vec::new();
        let generation = self.next_generation;
        self.next_generation += 1;
        let client = self.client.clone();
        let done = self.sync_tx.clone();
        let prefix = self.engine.config().subscription_prefix.clone();
        let timeout = self.engine.config().request_timeout.min(SYNC_REQUEST_TIMEOUT);
        let name = agent.clone();
        let permits = self.sync_permits.clone();
        let kept = specs.clone();
        let task = tokio::spawn(async move {
            let mut wait = SYNC_RETRY_MIN;
            loop {
                let Ok(permit) = permits.acquire().await else { return };
                let result = sync(&client, &name, &specs, &prefix, timeout).await;
                drop(permit);
                // No answer: the Agent may not listen yet; try again.
                let again = matches!(result, Err(UspError::Timeout(_) | UspError::Link(_)));
                if done.send((name.clone(), generation, result, again)).is_err() || !again {
                    return;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(SYNC_RETRY_MAX);
            }
        });
        self.syncs.insert(agent, AgentSync { generation, specs: kept, retrying: false, task, primes });
    }

    /// A sync attempt ended: report it; once the subscriptions are in place,
    /// send the priming Gets that waited for them.
    async fn synced(&mut self, (agent, generation, result, again): SyncDone) {
        if self.syncs.get(&agent).is_none_or(|s| s.generation != generation) {
            return;
        }
        let report = match result {
            Ok(report) => report,
            Err(error) => {
                self.counters.sync_failures += 1;
                self.metrics.sync_failed.increment(1);
                tracing::warn!(%agent, %error, retry = again, "subscriptions could not be put in place");
                let _ = self
                    .events
                    .send(RuntimeEvent::SyncFailed { agent: agent.clone(), error: error.to_string() });
                if again {
                    if let Some(s) = self.syncs.get_mut(&agent) {
                        s.retrying = true;
                    }
                } else {
                    self.syncs.remove(&agent);
                }
                return;
            }
        };
        let primes = self.syncs.remove(&agent).map(|s| s.primes).unwrap_or_default();
        self.counters.syncs += 1;
        self.metrics.sync_ok.increment(1);
        if report.failed.is_empty() {
            tracing::debug!(%agent, ?report, "subscriptions in place");
        } else {
            tracing::warn!(%agent, failed = ?report.failed, "some subscriptions could not be put in place");
        }
        let _ = self.events.send(RuntimeEvent::Synced { agent: agent.clone(), report });
        let now = self.clock.now();
        let patience = self.engine.config().request_timeout.saturating_sub(PRIME_MARGIN);
        for (req, issued) in primes {
            if now.duration_since(issued).unwrap_or_default() < patience {
                self.send(req).await;
            } else {
                // The engine has given up on this one: bring its answer
                // in as values (the same effect on the cache).
                self.request(req.agent, req.body, For::Values(agent.clone())).await;
            }
        }
    }

    async fn presence(&mut self, p: AgentPresence) {
        match p {
            AgentPresence::Online(agent) => self.feed(Input::AgentOnline { agent }).await,
            AgentPresence::Offline(agent) => {
                // Its sync cannot finish; its Gets will not be answered.
                if let Some(s) = self.syncs.remove(agent.as_str()) {
                    s.task.abort();
                    for (req, _) in s.primes {
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
            Command::RunFiring(firing) => {
                let super::gate::Firing { rule, trigger, at } = firing;
                self.feed(Input::ScheduleGranted { rule, trigger, at }).await;
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
