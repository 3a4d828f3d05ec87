//! The engine's mutable state: trigger contexts, rule instances, running
//! sequences, requests in flight, and what it knows of each Agent.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::Arc,
    time::SystemTime,
};

use super::{
    cache::AgentCache,
    causality::{Chain, Writes},
    index::AgentView,
    io::{StopReason, SubscriptionSpec},
    timers::TimerId,
};
use crate::{
    metrics::RuleMetrics,
    model::Action,
    pattern::Captures,
    time::Ms,
    trace::{Counts, Trace},
};

/// What a trigger saw: the values a condition and a step's templates read.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// Index of the trigger in its rule's triggers.
    pub(crate) trigger: usize,
    pub(crate) agent: Option<Arc<str>>,
    pub(crate) path: Option<Arc<str>>,
    pub(crate) value: Option<Arc<str>>,
    pub(crate) previous: Option<Arc<str>>,
    pub(crate) captures: Captures,
    /// Event arguments (or a signal source's).
    pub(crate) args: Option<Arc<BTreeMap<String, String>>>,
    /// Unique keys of a created object.
    pub(crate) keys: Option<Arc<BTreeMap<String, String>>>,
    /// The rules whose writes led here.
    pub(crate) chain: Chain,
    /// When the trigger arrived.
    pub(crate) at: Ms,
    /// When the notification that triggered arrived, to the nanosecond the
    /// runtime gave (`at` is whole milliseconds, too coarse for the
    /// trigger→action histogram of a path that takes microseconds). Not
    /// kept across a restart: a restored trigger's latency is measured from
    /// `at`.
    pub(crate) received: Option<SystemTime>,
}

impl Ctx {
    pub(crate) fn new(trigger: usize, at: Ms) -> Ctx {
        Ctx {
            trigger,
            agent: None,
            path: None,
            value: None,
            previous: None,
            captures: Captures::new(),
            args: None,
            keys: None,
            chain: None,
            at,
            received: None,
        }
    }

    pub(crate) fn capture(&self, name: &str) -> Option<&Arc<str>> {
        self.captures.iter().find(|(k, _)| **k == *name).map(|(_, v)| v)
    }
}

/// The state of one instance of a stateful rule (one situation: by default
/// one Agent's parameter).
#[derive(Debug, Default)]
pub(crate) struct Instance {
    /// The latest trigger, evaluated again when a timer expires.
    pub(crate) ctx: Option<Ctx>,
    pub(crate) hold: Option<TimerId>,
    pub(crate) debounce: Option<TimerId>,
    /// Fired, and not cleared since.
    pub(crate) active: bool,
    /// Hysteresis latch.
    pub(crate) latch: bool,
    pub(crate) cooldown_until: Ms,
}

impl Instance {
    /// Nothing worth keeping.
    pub(crate) fn is_idle(&self, now: Ms) -> bool {
        self.hold.is_none()
            && self.debounce.is_none()
            && !self.active
            && !self.latch
            && self.cooldown_until <= now
    }
}

/// Per-rule state, kept by rule name across reloads.
#[derive(Debug)]
pub(crate) struct RuleState {
    pub(crate) instances: HashMap<Arc<str>, Instance>,
    /// Firing times within the rate-limit window, oldest first.
    pub(crate) rate: VecDeque<Ms>,
    /// Start and count of the current fuse window.
    pub(crate) fuse: (Ms, u32),
    pub(crate) stopped: Option<(Ms, StopReason)>,
    pub(crate) trace: Trace,
    pub(crate) counts: Counts,
    pub(crate) metrics: RuleMetrics,
}

impl RuleState {
    pub(crate) fn new(name: &str, trace_len: usize) -> RuleState {
        RuleState {
            instances: HashMap::new(),
            rate: VecDeque::new(),
            fuse: (0, 0),
            stopped: None,
            trace: Trace::new(trace_len),
            counts: Counts::default(),
            metrics: RuleMetrics::new(name),
        }
    }
}

/// Which sequence of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Branch {
    Then,
    Else,
}

/// A sequence of steps under way.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub(crate) rule: Arc<str>,
    pub(crate) branch: Branch,
    /// The steps, as they were when the run started.
    pub(crate) steps: Arc<[Action]>,
    /// The next step to start.
    pub(crate) pc: usize,
    pub(crate) ctx: Ctx,
    pub(crate) wait: Wait,
}

/// What a run waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wait {
    Nothing,
    Delay(TimerId),
    /// The requests (and followed operations) of a `wait = true` step.
    Step {
        outstanding: u32,
    },
}

/// A request in flight.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    /// The rule that issued it; `None` for a priming Get.
    pub(crate) rule: Option<Arc<str>>,
    pub(crate) agent: Arc<str>,
    /// The run waiting on it.
    pub(crate) run: Option<u64>,
    /// 0-based step index.
    pub(crate) step: usize,
    pub(crate) kind: &'static str,
    /// For an Operate: its command key and how long to wait for completion.
    pub(crate) command_key: Option<Arc<str>>,
    pub(crate) follow_timeout: Ms,
}

/// An asynchronous Operate followed to its OperationComplete.
#[derive(Debug, Clone)]
pub(crate) struct PendingOp {
    pub(crate) rule: Arc<str>,
    pub(crate) run: Option<u64>,
    pub(crate) step: usize,
    pub(crate) timer: TimerId,
}

/// Whether an Agent is connected, as far as the engine was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Never told (it sent a notification): assumed reachable.
    Unknown,
    Online,
    Offline,
}

/// What the engine knows of one Agent.
#[derive(Debug)]
pub(crate) struct AgentEntry {
    pub(crate) id: Arc<str>,
    pub(crate) status: Status,
    pub(crate) cache: AgentCache,
    pub(crate) view: Option<Arc<AgentView>>,
    pub(crate) writes: Writes,
    /// The subscriptions last asked for.
    pub(crate) subscribed: Option<Vec<SubscriptionSpec>>,
}

impl AgentEntry {
    pub(crate) fn new(id: Arc<str>) -> AgentEntry {
        AgentEntry {
            id,
            status: Status::Unknown,
            cache: AgentCache::default(),
            view: None,
            writes: Writes::default(),
            subscribed: None,
        }
    }
}
