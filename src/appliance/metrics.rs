//! The process's `metrics` recorder: Prometheus text, rendered on request
//! by `GET /metrics`.
//!
//! The broker and the rules engine register their metric handles when they
//! start (and the rules engine again when rules load), so the recorder must
//! be installed before either: [`recorder`] installs it on first use and
//! hands out the same handle afterwards (a process has one global
//! recorder; tests that start several appliances share it).
//!
//! `uspmesh_rule_latency_seconds` is a histogram; the exporter renders it
//! as a summary with the quantiles below, computed over a sliding window,
//! which is what an operator reads ("p99 over the last minutes").

use std::{sync::OnceLock, time::Duration};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Quantiles rendered for every histogram.
const QUANTILES: [f64; 4] = [0.5, 0.9, 0.99, 1.0];

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The Prometheus recorder's handle, installing the recorder the first
/// time. `None` when another recorder was installed before ours (a program
/// embedding the appliance with its own metrics setup): the appliance runs,
/// `/metrics` then says where the metrics went.
pub fn recorder() -> Option<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_quantiles(&QUANTILES).ok()?;
            let handle = builder.install_recorder().ok()?;
            usp_rules::metrics::describe();
            Some(handle)
        })
        .clone()
}

/// How often histograms are compacted (the exporter's upkeep): rendering
/// does not do it, so an idle `/metrics` would let them grow.
pub(crate) const UPKEEP_EVERY: Duration = Duration::from_secs(5);
