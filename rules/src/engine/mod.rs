//! The engine: a value that turns inputs into outputs.
//!
//! ```text
//!            ┌──────────────────────── Engine ────────────────────────┐
//! Input ───▶ │ cache ─▶ index (per Agent) ─▶ rules: condition, state, │ ───▶ Output
//!  Notify    │          timers, cooldown, loops ─▶ steps (runs)       │      Request (Set/Add/Delete/Operate/Get)
//!  Online    │                                                         │      Publish, Subscribe
//!  Response  │ next_deadline() ◀── timers                              │      RuleStopped, Notice
//!  Tick      └─────────────────────────────────────────────────────────┘
//! ```
//!
//! No sockets, tasks or clocks: `now` comes with every call, and
//! [`Engine::next_deadline`] says when to call again with
//! [`Input::Tick`]. State worth keeping across a restart is handed out by
//! [`Engine::take_changes`] for a [`crate::Store`] to write, and read back
//! with [`Engine::restore`].

mod cache;
mod causality;
mod evaluate;
mod explain;
pub(crate) mod index;
pub mod io;
mod notify;
mod persist;
mod reload;
mod run;
mod state;
mod subscribe;
mod timers;

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::{Duration, SystemTime},
};

pub use io::{
    AgentSubscriptions, Input, Notice, NotifType, Outcome, OutgoingRequest, Output, RequestId, StopReason,
    SubscriptionSpec, UpstreamEvent,
};
pub use persist::{PersistBatch, PersistOp, Table};

use self::{
    index::AgentView,
    persist::Dirty,
    state::{AgentEntry, Ctx, Pending, PendingOp, RuleState, Run},
    timers::{TimerKind, Timers},
};
use crate::{
    model::{RuleId, RuleSet, TriggerKind},
    time::{Ms, dur_ms, from_ms, to_ms},
};

/// How the engine behaves; the defaults suit a building.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Time zone of schedules, time-of-day conditions and rendered times.
    pub timezone: jiff::tz::TimeZone,
    /// Evaluations kept per rule for `rules explain`.
    pub trace_len: usize,
    /// A rule is stopped when its trigger's causal chain already holds it
    /// this many times (1: the first retrigger through its own writes).
    pub loop_limit: usize,
    /// A rule is stopped when the causal chain of its trigger is this long
    /// (rules triggering rules through their writes).
    pub max_chain: usize,
    /// The firing-rate fuse, for loops the causal chain cannot see.
    pub fuse: Option<Fuse>,
    /// Most parameters cached per Agent.
    pub cache_limit: usize,
    /// Most instances kept per stateful rule.
    pub max_instances: usize,
    /// How long a request may go unanswered before it counts as failed.
    pub request_timeout: Duration,
    /// How long a write is remembered for loop detection.
    pub causality_window: Duration,
    /// Whether to track changes for [`Engine::take_changes`].
    pub persist: bool,
    /// Prefix of the IDs of the engine's subscriptions on Agents.
    pub subscription_prefix: String,
    /// Prefix of the engine's Operate command keys.
    pub command_key_prefix: String,
    /// Whether every trace entry is also handed out as
    /// [`Output::Traced`] (for logs and live views; costs a copy of each
    /// entry, so off by default).
    pub trace_outputs: bool,
    /// Whether a schedule trigger that falls due only asks first
    /// ([`Output::ScheduleDue`]) and runs its rule when the answer is yes
    /// ([`Input::ScheduleGranted`]). Off by default: schedules fire at once.
    /// On where several engines run the same rules (a NATS mesh) and only
    /// one of them may act per firing.
    pub gate_schedules: bool,
}

/// A limit on how often a rule may fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fuse {
    /// Firings allowed per window.
    pub max_firings: u32,
    /// The window.
    pub window: Duration,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            timezone: jiff::tz::TimeZone::system(),
            trace_len: 32,
            loop_limit: 1,
            max_chain: 16,
            fuse: Some(Fuse { max_firings: 600, window: Duration::from_secs(60) }),
            cache_limit: 10_000,
            max_instances: 100_000,
            request_timeout: Duration::from_secs(30),
            causality_window: Duration::from_secs(30),
            persist: true,
            subscription_prefix: "uspmesh-rules".into(),
            command_key_prefix: "uspmesh-rules".into(),
            trace_outputs: false,
            gate_schedules: false,
        }
    }
}

/// Counters of the engine's work, for tests and benches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Notifications received.
    pub notifications: u64,
    /// Triggers the index proposed for them (before full matching).
    pub candidates: u64,
    /// Rule evaluations (triggers that matched).
    pub evaluations: u64,
    /// Firings.
    pub fired: u64,
    /// Requests issued.
    pub requests: u64,
}

/// Most signals between rules handled within one input.
const MAX_SIGNALS: usize = 10_000;

/// The rules engine core.
#[derive(Debug)]
pub struct Engine {
    cfg: EngineConfig,
    set: Arc<RuleSet>,
    states: Vec<RuleState>,
    agents: HashMap<Arc<str>, AgentEntry>,
    timers: Timers,
    runs: HashMap<u64, Run>,
    next_run: u64,
    requests: HashMap<u64, Pending>,
    request_deadlines: VecDeque<(Ms, u64)>,
    next_request: u64,
    operations: HashMap<Arc<str>, PendingOp>,
    /// OperationCompletes that overtook their OperateResp, by request id.
    early_ops: HashMap<u64, Result<(), String>>,
    signals: VecDeque<(RuleId, Ctx)>,
    out: Vec<Output>,
    dirty: Dirty,
    stats: Stats,
    sub_prefix: Arc<str>,
    /// The Agents' shared trigger indexes, by trigger list (see
    /// [`index::ViewShape`]).
    shapes: index::Shapes,
    /// The `now` of the input being handled, unrounded (latency metrics).
    now_exact: SystemTime,
    /// The arrival time of the notification being handled, unrounded.
    received_exact: Option<SystemTime>,
}

impl Engine {
    /// An engine running `set`, with no state yet (see [`Engine::restore`]).
    pub fn new(cfg: EngineConfig, set: RuleSet, now: SystemTime) -> Engine {
        let set = Arc::new(set);
        let states = set.rules.iter().map(|r| RuleState::new(&r.name, cfg.trace_len)).collect();
        let sub_prefix = Arc::from(cfg.subscription_prefix.as_str());
        let mut e = Engine {
            cfg,
            set,
            states,
            agents: HashMap::new(),
            timers: Timers::default(),
            runs: HashMap::new(),
            next_run: 1,
            requests: HashMap::new(),
            request_deadlines: VecDeque::new(),
            next_request: 1,
            operations: HashMap::new(),
            early_ops: HashMap::new(),
            signals: VecDeque::new(),
            out: Vec::new(),
            dirty: Dirty::default(),
            stats: Stats::default(),
            sub_prefix,
            shapes: index::Shapes::default(),
            now_exact: now,
            received_exact: None,
        };
        e.arm_schedules(to_ms(now));
        e
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// The rules running.
    pub fn rules(&self) -> &RuleSet {
        &self.set
    }

    /// Work counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Handles one input at `now`; returns what to do.
    pub fn handle(&mut self, input: Input, now: SystemTime) -> Vec<Output> {
        let mut out = Vec::new();
        self.handle_into(input, now, &mut out);
        out
    }

    /// Handles one input at `now`, appending what to do to `out` (a buffer
    /// the caller reuses).
    pub fn handle_into(&mut self, input: Input, now: SystemTime, out: &mut Vec<Output>) {
        self.now_exact = now;
        self.received_exact = match &input {
            Input::Notify { received_at, .. } => Some(*received_at),
            _ => None,
        };
        let now = to_ms(now);
        self.run_due(now);
        match input {
            Input::Notify { agent, notify, received_at } => {
                self.stats.notifications += 1;
                self.on_notify(&agent, notify, to_ms(received_at), now);
            }
            Input::AgentOnline { agent } => self.on_online(&agent, now),
            Input::AgentOffline { agent } => self.on_offline(&agent, now),
            Input::Response { id, outcome } => self.on_response(id, outcome, now),
            Input::Values { agent, resp } => {
                let agent = self.agent_id(&agent);
                self.apply_get(&agent, &resp, now);
            }
            Input::ScheduleGranted { rule, trigger, at } => self.on_schedule_granted(&rule, trigger, at, now),
            Input::Tick => {}
        }
        self.drain_signals(now);
        // Answered requests leave their deadlines behind; drop those at the
        // front so `next_deadline` stays exact.
        while self.request_deadlines.front().is_some_and(|(_, id)| !self.requests.contains_key(id)) {
            self.request_deadlines.pop_front();
        }
        out.append(&mut self.out);
    }

    /// When to call again with [`Input::Tick`] at the latest (a timer or a
    /// request deadline), or `None` if nothing is pending.
    pub fn next_deadline(&self) -> Option<SystemTime> {
        let t = self.timers.next();
        let r = self.request_deadlines.front().map(|(at, _)| *at);
        match (t, r) {
            (Some(a), Some(b)) => Some(from_ms(a.min(b))),
            (a, b) => a.or(b).map(from_ms),
        }
    }

    /// The subscriptions the engine needs on `agent`, and the paths of the
    /// Get that primes its cache.
    pub fn subscriptions_for(&mut self, agent: &str) -> (Vec<SubscriptionSpec>, Vec<String>) {
        let id = self.agent_id(agent);
        let view = self.view(&id);
        self.specs(&id, &view)
    }

    /// Restarts a stopped rule.
    pub fn restart_rule(&mut self, name: &str) -> bool {
        let Some(id) = self.set.id(name) else { return false };
        let was = self.states[id].stopped.take().is_some();
        self.states[id].fuse = (0, 0);
        self.dirty.rule(&self.set.rules[id].name, self.cfg.persist);
        was
    }

    /// The interned id of an Agent (creating its entry).
    fn agent_id(&mut self, agent: &str) -> Arc<str> {
        if let Some((k, _)) = self.agents.get_key_value(agent) {
            return k.clone();
        }
        let id: Arc<str> = Arc::from(agent);
        self.agents.insert(id.clone(), AgentEntry::new(id.clone()));
        id
    }

    /// The index of an Agent's triggers (built on first use).
    fn view(&mut self, agent: &Arc<str>) -> Arc<AgentView> {
        let set = self.set.clone();
        let prefix = self.sub_prefix.clone();
        let entry = self.agents.entry(agent.clone()).or_insert_with(|| AgentEntry::new(agent.clone()));
        let shapes = &mut self.shapes;
        entry.view.get_or_insert_with(|| Arc::new(AgentView::build(&set, agent, &prefix, shapes))).clone()
    }

    /// Runs every timer and request deadline due at `now`, in order.
    fn run_due(&mut self, now: Ms) {
        while self.request_deadlines.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, id)) = self.request_deadlines.pop_front() {
                if self.requests.contains_key(&id) {
                    let secs = self.cfg.request_timeout.as_secs();
                    self.on_response(
                        RequestId(id),
                        Outcome::Failed(format!("no response within {secs}s")),
                        now,
                    );
                }
            }
        }
        while let Some((id, kind)) = self.timers.pop_due(now) {
            let at = id.0;
            match kind {
                TimerKind::Hold { rule, key } => self.on_hold_elapsed(&rule, &key, now),
                TimerKind::Debounce { rule, key } => self.on_debounce_elapsed(&rule, &key, now),
                TimerKind::Delay { run } => self.on_delay_elapsed(run, now),
                TimerKind::Operation { command_key } => self.on_operation_timeout(&command_key, now),
                TimerKind::Schedule { rule, trigger } => self.on_schedule(&rule, trigger, at, now),
            }
            self.drain_signals(now);
        }
    }

    /// Arms the next occurrence of every schedule trigger.
    fn arm_schedules(&mut self, now: Ms) {
        self.timers.retain(|k| !matches!(k, TimerKind::Schedule { .. }));
        let set = self.set.clone();
        for rule in &set.rules {
            if !rule.enabled {
                continue;
            }
            for (idx, tid) in rule.triggers.iter().enumerate() {
                if let Some(TriggerKind::Schedule(s)) = set.triggers.get(*tid).map(|t| &t.kind) {
                    if let Some(at) = s.next_after(now, &self.cfg.timezone) {
                        self.timers.arm(at, TimerKind::Schedule { rule: rule.name.clone(), trigger: idx });
                    }
                }
            }
        }
    }

    fn on_schedule(&mut self, rule: &Arc<str>, trigger: usize, at: Ms, now: Ms) {
        let set = self.set.clone();
        let Some(rid) = set.id(rule) else { return };
        let Some(TriggerKind::Schedule(s)) =
            set.rules[rid].triggers.get(trigger).and_then(|t| set.triggers.get(*t)).map(|t| &t.kind)
        else {
            return;
        };
        // Re-arm from now (a long gap yields one late firing, not a burst).
        if let Some(next) = s.next_after(now.max(at), &self.cfg.timezone) {
            self.timers.arm(next, TimerKind::Schedule { rule: rule.clone(), trigger });
        }
        if self.cfg.gate_schedules {
            self.out.push(Output::ScheduleDue { rule: rule.clone(), trigger, at: from_ms(at) });
        } else {
            self.on_trigger(rid, Ctx::new(trigger, at), now);
        }
    }

    /// A gated schedule firing was granted: the rule runs as if the
    /// schedule had just fired at `at` (if the rule and its schedule
    /// trigger still exist — a reload may have come in between).
    fn on_schedule_granted(&mut self, rule: &str, trigger: usize, at: SystemTime, now: Ms) {
        let set = self.set.clone();
        let Some(rid) = set.id(rule) else { return };
        let is_schedule = set.rules[rid]
            .triggers
            .get(trigger)
            .and_then(|t| set.triggers.get(*t))
            .is_some_and(|t| matches!(t.kind, TriggerKind::Schedule(_)));
        if is_schedule && set.rules[rid].enabled {
            self.on_trigger(rid, Ctx::new(trigger, to_ms(at)), now);
        }
    }

    /// Runs the rules that listen to signals raised so far.
    fn drain_signals(&mut self, now: Ms) {
        let mut n = 0;
        while let Some((rid, ctx)) = self.signals.pop_front() {
            n += 1;
            if n > MAX_SIGNALS {
                self.signals.clear();
                self.out.push(Output::Notice(Notice::SignalOverflow));
                break;
            }
            self.on_trigger(rid, ctx, now);
        }
    }

    /// An Agent is reachable. Its subscriptions are checked on every
    /// report (a reconnect may have lost them), but `agent_status =
    /// "online"` fires only when it was not online already: one connection
    /// is reported more than once (the broker's connection event, then the
    /// Agent's own MQTT Connect Record), and a rule should see one arrival.
    fn on_online(&mut self, agent: &str, now: Ms) {
        let id = self.agent_id(agent);
        let was = self.agents.get_mut(&id).map(|e| std::mem::replace(&mut e.status, state::Status::Online));
        self.resubscribe(&id, true, now);
        if was != Some(state::Status::Online) {
            self.status_triggers(&id, true, now);
        }
    }

    /// An Agent is gone; `agent_status = "offline"` fires once per
    /// departure (the broker's event and a DisconnectRecord both report it).
    fn on_offline(&mut self, agent: &str, now: Ms) {
        let id = self.agent_id(agent);
        let was = self.agents.get_mut(&id).map(|e| std::mem::replace(&mut e.status, state::Status::Offline));
        if was != Some(state::Status::Offline) {
            self.status_triggers(&id, false, now);
        }
    }

    fn status_triggers(&mut self, agent: &Arc<str>, online: bool, now: Ms) {
        let view = self.view(agent);
        let set = self.set.clone();
        let list = if online { &view.shape.online } else { &view.shape.offline };
        self.stats.candidates += list.len() as u64;
        for &i in list {
            let Some(ve) = view.entries.get(i as usize) else { continue };
            let Some(trig) = set.triggers.get(ve.trigger) else { continue };
            let mut ctx = Ctx::new(trig.index, now);
            ctx.agent = Some(agent.clone());
            ctx.captures = ve.caps.clone();
            self.on_trigger(trig.rule, ctx, now);
        }
    }

    /// Keeps a trace entry for `rid` (and hands out a copy when asked).
    pub(crate) fn record_trace(&mut self, rid: RuleId, entry: crate::trace::TraceEntry) {
        if self.cfg.trace_outputs {
            if let Some(rule) = self.set.rules.get(rid) {
                self.out.push(Output::Traced { rule: rule.name.clone(), entry: entry.clone() });
            }
        }
        if let Some(st) = self.states.get_mut(rid) {
            st.trace.push(entry);
        }
    }

    /// Milliseconds of a configured duration.
    fn ms(d: Duration) -> Ms {
        dur_ms(d)
    }
}
