//! What goes into the engine and what comes out of it.
//!
//! The runtime owns the sockets: it turns received records into [`Input`]s,
//! and [`Output`]s into records to send, events to publish and log lines.

use std::{collections::BTreeMap, fmt, sync::Arc, time::SystemTime};

use usp_endpoint::controller::SubscriptionError;
use usp_proto::usp::{Error, GetResp, Notify, request::ReqType, response::RespType};

/// Handle of a request the engine asked the runtime to send; the runtime
/// answers with [`Input::Response`] carrying the same handle (it keeps its
/// own map from handle to USP `msg_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// Something that happened, for the engine to react to.
#[derive(Debug, Clone)]
pub enum Input {
    /// A Notify from an Agent (the runtime answers NotifyResp itself).
    Notify {
        /// The Agent's endpoint id (the Record's `from_id`).
        agent: String,
        /// The notification.
        notify: Notify,
        /// When the runtime received it (the start of trigger→action latency).
        received_at: SystemTime,
    },
    /// An Agent connected (or its connection was noticed): the engine
    /// answers with the subscriptions it needs and a Get to prime its cache.
    AgentOnline {
        /// The Agent's endpoint id.
        agent: String,
    },
    /// An Agent disconnected.
    AgentOffline {
        /// The Agent's endpoint id.
        agent: String,
    },
    /// The answer to one of the engine's requests.
    Response {
        /// The handle from [`OutgoingRequest::id`].
        id: RequestId,
        /// What came back.
        outcome: Outcome,
    },
    /// Parameter values of an Agent obtained some other way (a Get the
    /// runtime made itself): they refresh the cache. Like the engine's own
    /// priming Get, a value that differs from the cached one is shown to
    /// rules about a state (`for`, `hysteresis`) — a room already too warm
    /// at start arms its alarm — but not to event rules (no light switches
    /// on because the engine restarted).
    Values {
        /// The Agent.
        agent: String,
        /// The Get response.
        resp: GetResp,
    },
    /// A schedule firing announced by [`Output::ScheduleDue`] may run here
    /// (with [`crate::EngineConfig::gate_schedules`]): the values of that
    /// output, unchanged. Not feeding it skips the firing.
    ScheduleGranted {
        /// The rule.
        rule: Arc<str>,
        /// The index of the schedule among the rule's triggers.
        trigger: usize,
        /// When the schedule fell due.
        at: SystemTime,
    },
    /// Time passed; due timers run (every input also runs them first).
    Tick,
}

/// How one of the engine's requests ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A response message (which may still report per-object failures).
    Response(RespType),
    /// A USP Error message.
    Error(Error),
    /// No answer: the Agent is unreachable, the runtime timed out, ...
    Failed(String),
}

/// Something for the runtime to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send a request to an Agent.
    Request(OutgoingRequest),
    /// Publish an event upstream (bridge, NATS).
    Publish(UpstreamEvent),
    /// A schedule trigger fell due while schedules are gated
    /// ([`crate::EngineConfig::gate_schedules`]): the rule runs only if
    /// [`Input::ScheduleGranted`] comes back with these values. `rule` and
    /// `at` (the scheduled time, not the time it was noticed) are the same
    /// on every engine running the same rules, so they name the firing.
    ScheduleDue {
        /// The rule.
        rule: Arc<str>,
        /// The index of the schedule among the rule's triggers.
        trigger: usize,
        /// When the schedule fell due.
        at: SystemTime,
    },
    /// Make sure the Agent has exactly these subscriptions of the engine
    /// (create the missing ones, delete other subscriptions whose ID starts
    /// with the engine's prefix). Emitted when an Agent comes online, after
    /// it reboots, and on reload when the set changed. Create them before
    /// sending the priming Get that follows, so no change falls between the
    /// two.
    Subscribe(AgentSubscriptions),
    /// A rule was stopped (loop detected, fuse blown) until a reload or
    /// [`crate::Engine::restart_rule`].
    RuleStopped {
        /// The rule.
        rule: Arc<str>,
        /// Why.
        reason: StopReason,
    },
    /// Something to log.
    Notice(Notice),
    /// A rule's evaluation, as kept for `explain` (only with
    /// [`crate::EngineConfig::trace_outputs`]).
    Traced {
        /// The rule.
        rule: Arc<str>,
        /// The entry.
        entry: crate::trace::TraceEntry,
    },
}

/// A request to an Agent.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingRequest {
    /// The handle the runtime reports the answer with.
    pub id: RequestId,
    /// The Agent's endpoint id.
    pub agent: Arc<str>,
    /// The request (Get, Set, Add, Delete, Operate).
    pub body: ReqType,
    /// The rule that issued it (`None` for the engine's own Gets).
    pub rule: Option<Arc<str>>,
}

/// An event published upstream by a rule's `publish` step.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamEvent {
    /// The event's name, as the rule wrote it (templated).
    pub name: String,
    /// The rule that published it.
    pub rule: Arc<str>,
    /// The Agent of the trigger, if any.
    pub agent: Option<Arc<str>>,
    /// When.
    pub at: SystemTime,
    /// The rule's `fields`, filled in.
    pub fields: BTreeMap<String, String>,
}

/// The subscriptions the engine needs on one Agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSubscriptions {
    /// The Agent.
    pub agent: Arc<str>,
    /// What to subscribe to, sorted by ID.
    pub subscriptions: Vec<SubscriptionSpec>,
}

/// The kinds of `Device.LocalAgent.Subscription.{i}.NotifType` (the
/// endpoint core's type).
pub use usp_endpoint::controller::NotifType;

/// One subscription the engine needs.
///
/// Choice: one subscription per reference, with an ID derived from the
/// reference (`<prefix>-vc-<hash>`). The ID is then stable across restarts
/// (a runtime can tell which existing rows to keep) and a Notify's
/// `subscription_id` says exactly which reference matched — which is how a
/// trigger with a search expression (`[Name=="r101-presence"]`) is matched
/// when the engine's cache does not hold the key yet: the Agent evaluated
/// the search.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionSpec {
    /// `Subscription.{i}.ID`.
    pub id: String,
    /// `NotifType`.
    pub notif_type: NotifType,
    /// The single entry of `ReferenceList`.
    pub reference: String,
    /// `NotifRetry`.
    pub notif_retry: bool,
}

impl SubscriptionSpec {
    /// The endpoint core's form of this subscription (what the runtime puts
    /// in place on the Agent; its [`add`](usp_endpoint::controller::SubscriptionSpec::add)
    /// is the Add): enabled, persistent, NotifRetry as asked.
    pub fn to_endpoint(&self) -> Result<usp_endpoint::controller::SubscriptionSpec, SubscriptionError> {
        usp_endpoint::controller::SubscriptionSpec::new(
            self.id.as_str(),
            self.notif_type,
            [self.reference.as_str()],
        )
        .map(|spec| spec.with_notif_retry(self.notif_retry).with_persistent(true))
    }
}

/// Why a rule was stopped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StopReason {
    /// The rule was about to fire again because of its own writes: `chain`
    /// lists the rules whose actions led here, oldest first.
    Loop {
        /// The causal chain.
        chain: Vec<String>,
    },
    /// The rule fired more than `max` times within `window_ms`.
    Fuse {
        /// The limit.
        max: u32,
        /// The window, in milliseconds.
        window_ms: u64,
    },
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Loop { chain } => {
                write!(f, "loop: it retriggers itself through its own writes ({})", chain.join(" → "))
            }
            StopReason::Fuse { max, window_ms } => {
                write!(
                    f,
                    "fuse: fired more than {max} times in {}",
                    crate::time::format_duration(std::time::Duration::from_millis(*window_ms))
                )
            }
        }
    }
}

/// Noteworthy things for the log.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A step of a rule failed.
    ActionFailed {
        /// The rule.
        rule: Arc<str>,
        /// 1-based step number in its sequence.
        step: usize,
        /// Why.
        reason: String,
    },
    /// An Agent's cache is full; new parameters of it are not cached.
    CacheFull {
        /// The Agent.
        agent: Arc<str>,
    },
    /// A Response for a request the engine does not know (or no longer waits for).
    UnknownResponse {
        /// The handle.
        id: RequestId,
    },
    /// A stored record could not be restored and was dropped.
    RestoreSkipped {
        /// Which record.
        what: String,
        /// Why.
        reason: String,
    },
    /// Signals between rules went on too long within one input and were cut.
    SignalOverflow,
    /// A new rule set is running.
    Reloaded {
        /// How many rules it has.
        rules: usize,
    },
}

impl Notice {
    /// Whether this is a warning (else information).
    pub fn is_warning(&self) -> bool {
        !matches!(self, Notice::Reloaded { .. })
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::ActionFailed { rule, step, reason } => {
                write!(f, "rule {rule}: step {step} failed: {reason}")
            }
            Notice::CacheFull { agent } => {
                write!(f, "cache of {agent} is full; new parameters are not cached")
            }
            Notice::UnknownResponse { id } => write!(f, "response to unknown request {id}"),
            Notice::RestoreSkipped { what, reason } => write!(f, "stored {what} not restored: {reason}"),
            Notice::SignalOverflow => {
                f.write_str("too many signals between rules in one step; the rest were dropped")
            }
            Notice::Reloaded { rules } => write!(f, "{rules} rules running"),
        }
    }
}
