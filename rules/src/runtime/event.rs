//! What the runtime reports: events as they happen, status on request.

use std::{sync::Arc, time::SystemTime};

use super::sync::SyncReport;
use crate::{
    engine::{Notice, Stats, StopReason},
    trace::TraceEntry,
};

/// Something that happened in the runtime, broadcast to whoever listens
/// ([`super::RulesHandle::events`]): logs, the admin API, tests. Receivers
/// that fall behind lose the oldest events, never slow the runtime.
#[derive(Debug, Clone, PartialEq)]
pub enum RuntimeEvent {
    /// An Agent's subscriptions were put in place (its priming Get follows).
    Synced {
        /// The Agent.
        agent: Arc<str>,
        /// What was done.
        report: SyncReport,
    },
    /// An attempt to put an Agent's subscriptions in place failed as a
    /// whole. When the Agent did not answer (it may not listen yet) the
    /// runtime tries again, waiting 1 s, 2 s, 4 s … up to a minute; an
    /// Agent that answered with an error is tried again when it is next
    /// reported online or reboots.
    SyncFailed {
        /// The Agent.
        agent: Arc<str>,
        /// Why.
        error: String,
    },
    /// A rule was stopped (loop, fuse).
    RuleStopped {
        /// The rule.
        rule: Arc<str>,
        /// Why.
        reason: StopReason,
    },
    /// Something the engine noted (a failed step, a reload ...).
    Notice(Notice),
    /// A rule was evaluated (only with [`super::RuntimeConfig::trace_events`]):
    /// what `explain` will show, as it happens.
    Evaluated {
        /// The rule.
        rule: Arc<str>,
        /// The evaluation.
        entry: TraceEntry,
    },
    /// Rule state could not be written to the store.
    PersistFailed(String),
}

/// Counters of the runtime's work since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Notifications fed to the engine.
    pub notifications: u64,
    /// Requests sent to Agents.
    pub requests: u64,
    /// Requests answered with a USP Error.
    pub request_errors: u64,
    /// Requests not answered in time (by the engine's deadline or the
    /// client's).
    pub request_timeouts: u64,
    /// Requests that could not be sent (link down or closed).
    pub request_link_failures: u64,
    /// Subscription syncs that completed.
    pub syncs: u64,
    /// Subscription syncs that failed.
    pub sync_failures: u64,
    /// Events handed to the upstream sink.
    pub upstream_sent: u64,
    /// Events dropped (no sink, sink full or closed).
    pub upstream_dropped: u64,
    /// Store writes done.
    pub persist_writes: u64,
    /// Store writes that failed.
    pub persist_failures: u64,
}

/// A rule and whether it is stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleStatus {
    /// The rule's name.
    pub name: Arc<str>,
    /// Stopped (loop, fuse) until a reload or a restart of the rule.
    pub stopped: bool,
}

/// A snapshot of the runtime, for `uspmesh rules status` and the admin API.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeStatus {
    /// The rules running, in file order.
    pub rules: Vec<RuleStatus>,
    /// The engine's work counters.
    pub engine: Stats,
    /// The runtime's counters.
    pub counters: Counters,
    /// Requests sent and not yet answered.
    pub requests_in_flight: usize,
    /// Agents whose subscriptions are being put in place.
    pub agents_syncing: usize,
    /// When the engine next wakes by itself (a timer, a request deadline).
    pub next_deadline: Option<SystemTime>,
}
