//! Per-rule metrics through the `metrics` crate.
//!
//! | name | kind | labels | meaning |
//! |---|---|---|---|
//! | `uspmesh_rule_fired_total` | counter | `rule` | firings (`then` started) |
//! | `uspmesh_rule_suppressed_total` | counter | `rule`, `reason` = `cooldown` / `rate_limit` / `stopped` | firings that did not happen |
//! | `uspmesh_rule_failed_total` | counter | `rule` | failed steps (error response, timeout, bad template) |
//! | `uspmesh_rule_latency_seconds` | histogram | `rule` | trigger → firing: from the moment the runtime received the trigger to the moment the engine issued the first step (includes for-duration, debounce and queueing in the runtime; the in-core part is measured by `benches/engine.rs`) |
//!
//! Handles are registered when rules are loaded (not looked up per firing),
//! so a recorder must be installed before the rules are loaded.

use metrics::{Counter, Histogram, counter, describe_counter, describe_histogram, histogram};

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
