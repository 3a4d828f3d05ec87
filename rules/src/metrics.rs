//! Per-rule metrics through the `metrics` crate.
//!
//! | name | kind | labels | meaning |
//! |---|---|---|---|
//! | `uspmesh_rule_fired_total` | counter | `rule` | firings (`then` started) |
//! | `uspmesh_rule_suppressed_total` | counter | `rule`, `reason` = `cooldown` / `rate_limit` / `stopped` | firings that did not happen |
//! | `uspmesh_rule_failed_total` | counter | `rule` | failed steps (error response, timeout, bad template) |
//! | `uspmesh_rule_latency_seconds` | histogram | `rule` | trigger → firing: from the moment the runtime took the triggering notification off its queue to the moment the engine issued the rule's first step, with the resolution of the clock (a trigger restored from the store after a restart: from its millisecond arrival time); includes for-duration, debounce and signal hops. The wire (Agent → broker → runtime queue) and the step's way back to the Agent are not in it: `benches/rules_latency.rs` measures those |
//!
//!
//! The runtime ([`crate::runtime`]) adds its own:
//!
//! | name | kind | labels | meaning |
//! |---|---|---|---|
//! | `uspmesh_rules_notifications_total` | counter | | notifications fed to the engine |
//! | `uspmesh_rules_requests_total` | counter | | requests sent to Agents (rule steps and the engine's Gets) |
//! | `uspmesh_rules_requests_in_flight` | gauge | | requests sent and not yet answered |
//! | `uspmesh_rules_request_failures_total` | counter | `reason` = `error` / `timeout` / `link` | requests answered with an Error, unanswered, or not sent |
//! | `uspmesh_rules_subscription_syncs_total` | counter | `result` = `ok` / `failed` | subscription repairs on Agents |
//! | `uspmesh_rules_upstream_events_total` | counter | `result` = `sent` / `dropped` | events handed to the upstream sink, or dropped (no sink, sink full or closed) |
//! | `uspmesh_rules_persist_failures_total` | counter | | state writes to the store that failed |
//!
//! Handles are registered when rules are loaded or the runtime starts (not
//! looked up per firing), so a recorder must be installed before either.

use metrics::{
    Counter, Gauge, Histogram, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};

/// Describes the metrics to the installed recorder (call once at startup).
pub fn describe() {
    describe_counter!("uspmesh_rule_fired_total", "Rule firings (then-steps started)");
    describe_counter!("uspmesh_rule_suppressed_total", "Rule firings suppressed, by reason");
    describe_counter!("uspmesh_rule_failed_total", "Failed rule steps");
    describe_histogram!(
        "uspmesh_rule_latency_seconds",
        metrics::Unit::Seconds,
        "Time from a trigger's arrival to the rule's firing"
    );
    describe_counter!("uspmesh_rules_notifications_total", "Notifications fed to the rules engine");
    describe_counter!("uspmesh_rules_requests_total", "Requests the rules engine sent to Agents");
    describe_gauge!("uspmesh_rules_requests_in_flight", "Requests of the rules engine awaiting an answer");
    describe_counter!(
        "uspmesh_rules_request_failures_total",
        "Requests of the rules engine that failed, by reason"
    );
    describe_counter!("uspmesh_rules_subscription_syncs_total", "Subscription repairs on Agents, by result");
    describe_counter!("uspmesh_rules_upstream_events_total", "Rule events published upstream, by result");
    describe_counter!("uspmesh_rules_persist_failures_total", "Failed writes of rule state to the store");
}

/// The runtime's metric handles.
#[derive(Clone)]
pub(crate) struct RuntimeMetrics {
    pub(crate) notifications: Counter,
    pub(crate) requests: Counter,
    pub(crate) in_flight: Gauge,
    pub(crate) failed_error: Counter,
    pub(crate) failed_timeout: Counter,
    pub(crate) failed_link: Counter,
    pub(crate) sync_ok: Counter,
    pub(crate) sync_failed: Counter,
    pub(crate) upstream_sent: Counter,
    pub(crate) upstream_dropped: Counter,
    pub(crate) persist_failed: Counter,
}

impl RuntimeMetrics {
    pub(crate) fn new() -> RuntimeMetrics {
        let failures =
            |reason: &'static str| counter!("uspmesh_rules_request_failures_total", "reason" => reason);
        RuntimeMetrics {
            notifications: counter!("uspmesh_rules_notifications_total"),
            requests: counter!("uspmesh_rules_requests_total"),
            in_flight: gauge!("uspmesh_rules_requests_in_flight"),
            failed_error: failures("error"),
            failed_timeout: failures("timeout"),
            failed_link: failures("link"),
            sync_ok: counter!("uspmesh_rules_subscription_syncs_total", "result" => "ok"),
            sync_failed: counter!("uspmesh_rules_subscription_syncs_total", "result" => "failed"),
            upstream_sent: counter!("uspmesh_rules_upstream_events_total", "result" => "sent"),
            upstream_dropped: counter!("uspmesh_rules_upstream_events_total", "result" => "dropped"),
            persist_failed: counter!("uspmesh_rules_persist_failures_total"),
        }
    }
}

impl std::fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RuntimeMetrics")
    }
}

/// One rule's metric handles.
#[derive(Clone)]
pub(crate) struct RuleMetrics {
    pub(crate) fired: Counter,
    pub(crate) cooldown: Counter,
    pub(crate) rate_limit: Counter,
    pub(crate) stopped: Counter,
    pub(crate) failed: Counter,
    pub(crate) latency: Histogram,
}

impl RuleMetrics {
    pub(crate) fn new(rule: &str) -> RuleMetrics {
        let r = rule.to_owned();
        RuleMetrics {
            fired: counter!("uspmesh_rule_fired_total", "rule" => r.clone()),
            cooldown: counter!("uspmesh_rule_suppressed_total", "rule" => r.clone(), "reason" => "cooldown"),
            rate_limit: counter!("uspmesh_rule_suppressed_total", "rule" => r.clone(), "reason" => "rate_limit"),
            stopped: counter!("uspmesh_rule_suppressed_total", "rule" => r.clone(), "reason" => "stopped"),
            failed: counter!("uspmesh_rule_failed_total", "rule" => r.clone()),
            latency: histogram!("uspmesh_rule_latency_seconds", "rule" => r),
        }
    }
}

impl std::fmt::Debug for RuleMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RuleMetrics")
    }
}
