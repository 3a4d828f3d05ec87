//! Conditions and rule state of issue 5 that `rules_e2e.rs` does not cover,
//! end to end through the embedded broker over TCP (see `rules_site`), on
//! the manual clock: a time-of-day window across midnight with boolean
//! logic, debounce, cooldown and a rate limit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod rules_site;
#[path = "../rules/tests/support/sim_agent.rs"]
mod sim;

use std::time::Duration;

use rules_site::*;
use sim::*;
use usp_rules::{runtime::RuntimeEvent, trace::Verdict};

/// Waits for an evaluation of `rule` on the trigger value `value`; returns
/// its verdict.
async fn evaluated(site: &mut Site, rule: &str, value: &str) -> Verdict {
    until(&mut site.events, |e| match e {
        RuntimeEvent::Evaluated { rule: r, entry }
            if &**r == rule && entry.value.as_deref() == Some(value) =>
        {
            Some(entry.verdict.clone())
        }
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_of_day_window_across_midnight_with_boolean_logic() {
    bounded(async {
        let mut site = Site::start(
            rules(
                r#"
                [rule.night-light]
                when = { value_change = "Device.IoTCapability.1.BinarySensor.Value", agents = "proto::room-*" }
                if = "value == true and not Device.IoTCapability.6.BinarySensor.Value and (time >= 22:00 or time < 06:00)"
                [[rule.night-light.then]]
                set = "Device.IoTCapability.3.BinaryControl.Value"
                value = true
                "#,
            ),
            None,
        )
        .await;
        let mut room = site.agent("proto::room-1").await;
        // The window's state reaches the cache by notification, whether or
        // not the priming Get has been answered yet.
        reading(&room.reports, WINDOW, "true");
        reading(&room.reports, WINDOW, "false");
        // 00:00: inside the window.
        reading(&room.reports, OCCUPANCY, "true");
        assert_eq!(room.touched().await, Touch::Set { path: LIGHT.into(), value: "true".into() });

        // 12:00: outside.
        site.hand.advance(Duration::from_secs(12 * 3600));
        reading(&room.reports, OCCUPANCY, "false");
        assert_eq!(evaluated(&mut site, "night-light", "false").await, Verdict::NotHeld);
        reading(&room.reports, OCCUPANCY, "true");
        assert_eq!(evaluated(&mut site, "night-light", "true").await, Verdict::NotHeld);

        // 22:30: inside again, but the window is open (a cached value of
        // the same Agent, `not` in the condition).
        site.hand.advance(Duration::from_secs(10 * 3600 + 30 * 60));
        reading(&room.reports, WINDOW, "true");
        reading(&room.reports, OCCUPANCY, "false");
        assert_eq!(evaluated(&mut site, "night-light", "false").await, Verdict::NotHeld);
        reading(&room.reports, OCCUPANCY, "true");
        assert_eq!(evaluated(&mut site, "night-light", "true").await, Verdict::NotHeld);
        let e = site.api.explain("night-light").await.unwrap().unwrap();
        // The trace shows why: the window (read from the cache) is open, so
        // `not window` fails.
        let checks = &e.recent[0].checks;
        assert!(checks.iter().any(|c| &*c.text == "Device.IoTCapability.6.BinarySensor.Value" && c.held), "{checks:?}");

        // Window closed: fires.
        reading(&room.reports, WINDOW, "false");
        reading(&room.reports, OCCUPANCY, "false");
        assert_eq!(evaluated(&mut site, "night-light", "false").await, Verdict::NotHeld);
        reading(&room.reports, OCCUPANCY, "true");
        assert_eq!(room.touched().await, Touch::Set { path: LIGHT.into(), value: "true".into() });
        site.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debounce_waits_for_quiet_and_acts_on_the_last_value() {
    bounded(async {
        let mut site = Site::start(
            rules(
                r#"
                [rule.settled]
                when = { value_change = "Device.IoTCapability.2.LevelSensor.Value", agents = "proto::room-*" }
                debounce = "5s"
                [[rule.settled.then]]
                publish = "settled {value}"
                "#,
            ),
            None,
        )
        .await;
        let room = site.agent("proto::room-1").await;
        for v in ["22", "23", "24"] {
            reading(&room.reports, TEMPERATURE, v);
            assert_eq!(
                evaluated(&mut site, "settled", v).await,
                Verdict::Debounced { until: t0() + Duration::from_secs(5) }
            );
        }
        site.hand.advance(Duration::from_secs(5));
        assert_eq!(published(&mut site).await.name, "settled 24");
        // 22 and 23 were dropped, not queued: the next firing is 25.
        reading(&room.reports, TEMPERATURE, "25");
        assert!(matches!(evaluated(&mut site, "settled", "25").await, Verdict::Debounced { .. }));
        site.hand.advance(Duration::from_secs(5));
        assert_eq!(published(&mut site).await.name, "settled 25");
        site.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooldown_suppresses_an_instance_until_it_ends() {
    bounded(async {
        let mut site = Site::start(
            rules(
                r#"
                [rule.greet]
                when = { value_change = "Device.IoTCapability.1.BinarySensor.Value", agents = "proto::room-*" }
                if = "value == true"
                cooldown = "1m"
                [[rule.greet.then]]
                publish = "greet {agent}"
                "#,
            ),
            None,
        )
        .await;
        let a = site.agent("proto::room-1").await;
        let b = site.agent("proto::room-2").await;
        reading(&a.reports, OCCUPANCY, "true");
        assert_eq!(published(&mut site).await.name, "greet proto::room-1");
        reading(&a.reports, OCCUPANCY, "false");
        reading(&a.reports, OCCUPANCY, "true");
        let suppressed = verdict(&mut site.events, "greet", |v| matches!(v, Verdict::Cooldown { .. })).await;
        assert_eq!(suppressed, Verdict::Cooldown { until: t0() + Duration::from_secs(60) });
        // Another instance (another Agent) is not in cooldown.
        reading(&b.reports, OCCUPANCY, "true");
        assert_eq!(published(&mut site).await.name, "greet proto::room-2");

        site.hand.advance(Duration::from_secs(61));
        reading(&a.reports, OCCUPANCY, "false");
        reading(&a.reports, OCCUPANCY, "true");
        assert_eq!(published(&mut site).await.name, "greet proto::room-1");
        site.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_caps_the_rule_across_agents() {
    bounded(async {
        let mut site = Site::start(
            rules(
                r#"
                [rule.report]
                when = { value_change = "Device.IoTCapability.2.LevelSensor.Value", agents = "proto::room-*" }
                rate_limit = "2 per 1m"
                [[rule.report.then]]
                publish = "temperature {agent} {value}"
                "#,
            ),
            None,
        )
        .await;
        let a = site.agent("proto::room-1").await;
        let b = site.agent("proto::room-2").await;
        reading(&a.reports, TEMPERATURE, "22");
        assert_eq!(published(&mut site).await.name, "temperature proto::room-1 22");
        reading(&b.reports, TEMPERATURE, "23");
        assert_eq!(published(&mut site).await.name, "temperature proto::room-2 23");
        reading(&a.reports, TEMPERATURE, "24");
        assert_eq!(
            evaluated(&mut site, "report", "24").await,
            Verdict::RateLimited { count: 2, per_ms: 60_000 }
        );
        site.hand.advance(Duration::from_secs(60));
        reading(&a.reports, TEMPERATURE, "25");
        assert_eq!(published(&mut site).await.name, "temperature proto::room-1 25");
        site.stop().await;
    })
    .await;
}
