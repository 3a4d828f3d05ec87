//! Per-rule metrics reach a Prometheus exposition: the rules runtime in the
//! appliance (see `rules_site`), real Agents over MQTT, and the `metrics`
//! facade's global recorder being the Prometheus one, as the appliance's
//! `/metrics` endpoint would install it. One test per process: a global
//! recorder can be installed once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod rules_site;
#[path = "../rules/tests/support/sim_agent.rs"]
mod sim;

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use rules_site::*;
use sim::*;
use usp_rules::{engine::Notice, runtime::RuntimeEvent, trace::Verdict};

const RULES_TOML: &str = r#"
[rule.lamp]
when = { value_change = "Device.IoTCapability.1.BinarySensor.Value", agents = "proto::room-*" }
if = "value == true"
cooldown = "1m"
[[rule.lamp.then]]
set = "Device.IoTCapability.3.BinaryControl.Value"
value = true

# A sensor is read-only: the Agent refuses the Set, so every firing fails.
[rule.broken]
when = { value_change = "Device.IoTCapability.1.BinarySensor.Value", agents = "proto::room-*" }
[[rule.broken.then]]
set = "Device.IoTCapability.6.BinarySensor.Value"
value = true

# Its latency is the for-duration: ten minutes.
[rule.hot]
when = { value_change = "Device.IoTCapability.2.LevelSensor.Value", agents = "proto::room-*" }
if = "value > 26"
for = "10m"
[[rule.hot.then]]
publish = "hot"

[rule.limited]
when = { value_change = "Device.IoTCapability.1.BinarySensor.Value", agents = "proto::room-*" }
rate_limit = "1 per 1h"
[[rule.limited.then]]
publish = "motion"
"#;

/// The value of the sample `name{labels}` in a Prometheus text exposition
/// (labels in the order the exporter writes them: sorted as given).
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let key = if labels.is_empty() { format!("{name} ") } else { format!("{name}{{{labels}}} ") };
    text.lines().find_map(|l| l.strip_prefix(&key)).and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fired_suppressed_failed_and_latency_per_rule_in_the_prometheus_exposition() {
    // Before the rules load: their metric handles are registered then.
    let prometheus = PrometheusBuilder::new().install_recorder().unwrap();
    usp_rules::metrics::describe();
    bounded(async {
        let mut site = Site::start(rules(RULES_TOML), None).await;
        let mut room = site.agent("proto::room-1").await;

        // true: all three fire; `broken`'s Set is refused.
        // false: `lamp`'s condition fails, `broken` fails again, `limited`
        //        is rate-limited.
        // true: `lamp` is in cooldown, `broken` fails a third time,
        //       `limited` is rate-limited again.
        for v in ["true", "false", "true"] {
            reading(&room.reports, OCCUPANCY, v);
        }
        assert_eq!(room.touched().await, Touch::Set { path: LIGHT.into(), value: "true".into() });
        let (mut failures, mut cooldown) = (0, false);
        until(&mut site.events, |e| {
            match e {
                RuntimeEvent::Notice(Notice::ActionFailed { rule, .. }) => {
                    assert_eq!(&**rule, "broken");
                    failures += 1;
                }
                RuntimeEvent::Evaluated { rule, entry } if &**rule == "lamp" => {
                    cooldown |= matches!(entry.verdict, Verdict::Cooldown { .. });
                }
                _ => {}
            }
            (failures == 3 && cooldown).then_some(())
        })
        .await;

        reading(&room.reports, TEMPERATURE, "27");
        verdict(&mut site.events, "hot", |v| matches!(v, Verdict::Armed { .. })).await;
        site.hand.advance(Duration::from_secs(600));
        while published(&mut site).await.name != "hot" {}

        let text = prometheus.render();
        let counter = |name: &str, labels: &str| {
            sample(&text, name, labels).unwrap_or_else(|| panic!("no {name}{{{labels}}} in\n{text}"))
        };
        assert_eq!(counter("uspmesh_rule_fired_total", r#"rule="lamp""#), 1.0);
        assert_eq!(counter("uspmesh_rule_fired_total", r#"rule="broken""#), 3.0);
        assert_eq!(counter("uspmesh_rule_fired_total", r#"rule="limited""#), 1.0);
        assert_eq!(counter("uspmesh_rule_suppressed_total", r#"rule="lamp",reason="cooldown""#), 1.0);
        assert_eq!(counter("uspmesh_rule_suppressed_total", r#"rule="limited",reason="rate_limit""#), 2.0);
        assert_eq!(counter("uspmesh_rule_failed_total", r#"rule="broken""#), 3.0);
        assert_eq!(counter("uspmesh_rule_failed_total", r#"rule="lamp""#), 0.0);
        // One latency observation per firing; the manual clock stands
        // still while a rule without `for` fires, so each of those is 0.
        assert_eq!(counter("uspmesh_rule_latency_seconds_count", r#"rule="broken""#), 3.0);
        assert_eq!(counter("uspmesh_rule_latency_seconds_count", r#"rule="lamp""#), 1.0);
        assert_eq!(counter("uspmesh_rule_latency_seconds_sum", r#"rule="lamp""#), 0.0);
        assert_eq!(counter("uspmesh_rule_latency_seconds_count", r#"rule="hot""#), 1.0);
        assert_eq!(counter("uspmesh_rule_latency_seconds_sum", r#"rule="hot""#), 600.0);
        assert!(text.contains("# HELP uspmesh_rule_fired_total Rule firings"), "{text}");
        // The runtime's own.
        assert!(counter("uspmesh_rules_notifications_total", "") >= 3.0);
        assert_eq!(counter("uspmesh_rules_request_failures_total", r#"reason="error""#), 3.0);
        site.stop().await;
    })
    .await;
}
