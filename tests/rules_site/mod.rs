//! The appliance as the rules end-to-end tests see it: the embedded broker
//! on real TCP, the rules runtime on the broker's in-process link through
//! the appliance's own wiring (`uspmesh::wiring::local_link`,
//! `uspmesh::wiring::presence`), on a manual clock, and simulated room
//! Agents (real `Agent` runtimes with the IoT model, each on its own MQTT
//! client).

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::{
    future::Future,
    path::PathBuf,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use tokio::sync::{broadcast, mpsc};
use usp_broker::{Broker, BrokerConfig, BrokerHandle};
use usp_endpoint::{
    agent::runtime as agent_runtime,
    datamodel::ReportQueue,
    mtp::{
        mqtt::{MqttClient, MqttConfig, Role},
        retry::RetryPolicy,
    },
};
use usp_rules::{
    EngineConfig, RuleSet, Source, TimeZone,
    engine::UpstreamEvent,
    runtime::{Clock, ManualClock, RulesHandle, RulesRuntime, RuntimeConfig, RuntimeEvent, SyncReport},
    trace::Verdict,
};
use uspmesh::wiring::{local_link, presence::Presence};

use crate::sim::*;

/// Runs `test`, failing it after 60 s instead of hanging.
pub async fn bounded<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), test).await.expect("test did not finish in time")
}

/// Monday 2024-01-01 00:00:00 UTC.
pub fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_704_067_200)
}

/// Loads `text` as the rule file `site.toml` (panics with its errors).
pub fn rules(text: &str) -> RuleSet {
    usp_rules::load(&[Source::new("site.toml", text)]).unwrap_or_else(|e| panic!("{e}"))
}

/// The first event `f` picks.
pub async fn until<T>(
    events: &mut broadcast::Receiver<RuntimeEvent>,
    mut f: impl FnMut(&RuntimeEvent) -> Option<T>,
) -> T {
    loop {
        match events.recv().await {
            Ok(e) => {
                if std::env::var_os("SHOW_EVENTS").is_some() {
                    eprintln!("event: {e:?}");
                }
                if let Some(t) = f(&e) {
                    return t;
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => panic!("the rules runtime stopped"),
        }
    }
}

/// Waits until `eid`'s subscriptions are in place.
pub async fn synced(events: &mut broadcast::Receiver<RuntimeEvent>, eid: &str) -> SyncReport {
    until(events, |e| match e {
        RuntimeEvent::Synced { agent, report } if &**agent == eid => Some(report.clone()),
        _ => None,
    })
    .await
}

/// Waits for an evaluation of `rule` whose verdict `want` accepts.
pub async fn verdict(
    events: &mut broadcast::Receiver<RuntimeEvent>,
    rule: &str,
    want: impl Fn(&Verdict) -> bool,
) -> Verdict {
    until(events, |e| match e {
        RuntimeEvent::Evaluated { rule: r, entry } if &**r == rule && want(&entry.verdict) => {
            Some(entry.verdict.clone())
        }
        _ => None,
    })
    .await
}

/// The appliance: the broker, the rules runtime on its in-process link,
/// the registry's presence forwarded to it, on a manual clock.
pub struct Site {
    pub broker: BrokerHandle,
    pub runtime: Option<RulesRuntime>,
    pub api: RulesHandle,
    pub events: broadcast::Receiver<RuntimeEvent>,
    pub upstream: mpsc::Receiver<UpstreamEvent>,
    pub clock: Clock,
    pub hand: ManualClock,
    pub store: Option<PathBuf>,
}

impl Site {
    /// The broker, and the rules runtime running `set` (with `store`).
    pub async fn start(set: RuleSet, store: Option<PathBuf>) -> Site {
        let mut config = BrokerConfig::loopback_ephemeral();
        config.access.controllers = vec![RULES.into()];
        let broker = Broker::start(config).await.unwrap();
        let (clock, hand) = Clock::manual(t0());
        let (runtime, api, events, upstream) = Site::rules_on(&broker, clock.clone(), store.clone(), set);
        Site { broker, runtime: Some(runtime), api, events, upstream, clock, hand, store }
    }

    /// Starts a rules runtime on `broker` as the appliance does.
    pub fn rules_on(
        broker: &BrokerHandle,
        clock: Clock,
        store: Option<PathBuf>,
        set: RuleSet,
    ) -> (RulesRuntime, RulesHandle, broadcast::Receiver<RuntimeEvent>, mpsc::Receiver<UpstreamEvent>) {
        let (tx, upstream) = mpsc::channel(64);
        let config = RuntimeConfig {
            engine: EngineConfig { timezone: TimeZone::UTC, ..EngineConfig::default() },
            clock,
            store,
            upstream: Some(tx),
            trace_events: true,
            ..RuntimeConfig::new(RULES)
        };
        let link = local_link::attach(broker.link(RULES).unwrap(), 1024);
        let runtime = RulesRuntime::start(config, set, link).unwrap();
        let api = runtime.handle();
        let events = api.events();
        let registry_events = broker.registry().events();
        let snapshot = broker.registry().snapshot();
        tokio::spawn(Presence::new(|_| true).forward(snapshot, registry_events, api.clone()));
        (runtime, api, events, upstream)
    }

    /// Shuts the rules runtime down and starts a new one (same store, same
    /// clock) — the appliance restarting its rules engine.
    pub async fn restart_rules(&mut self, set: RuleSet) {
        self.runtime.take().unwrap().shutdown().await.unwrap();
        let (runtime, api, events, upstream) =
            Site::rules_on(&self.broker, self.clock.clone(), self.store.clone(), set);
        (self.runtime, self.api, self.events, self.upstream) = (Some(runtime), api, events, upstream);
    }

    /// A room Agent connected over MQTT; returns once its subscriptions are
    /// in place.
    pub async fn agent(&mut self, eid: &str) -> Room {
        let room = self.connect(eid, room_agent(eid, "21")).await;
        synced(&mut self.events, eid).await;
        room
    }

    /// Connects a simulated Agent over MQTT without waiting for its
    /// subscriptions (a reconnect, or an Agent the rules do not concern).
    pub async fn connect(
        &self,
        eid: &str,
        (agent, reports, touches): (
            usp_endpoint::agent::Agent,
            ReportQueue,
            mpsc::UnboundedReceiver<(Touch, std::time::Instant)>,
        ),
    ) -> Room {
        let port = self.broker.mqtt_addrs()[0].port();
        let config = MqttConfig {
            retry: RetryPolicy { min_wait: Duration::from_millis(50), multiplier: 1000, max_wait: None },
            ..MqttConfig::new(eid, Role::Agent, "127.0.0.1", port)
                .with_peer(RULES, format!("usp/controller/{RULES}"))
        };
        let (mqtt, link) = MqttClient::connect(config).await.unwrap();
        Room { handle: agent_runtime::spawn(agent, link), reports, touches, mqtt }
    }

    /// Shuts the rules runtime (writing its state) and the broker down.
    pub async fn stop(mut self) {
        if let Some(r) = self.runtime.take() {
            r.shutdown().await.unwrap();
        }
        self.broker.shutdown().await;
    }
}

/// A simulated room Agent on MQTT.
pub struct Room {
    pub handle: agent_runtime::AgentHandle,
    pub reports: ReportQueue,
    pub touches: mpsc::UnboundedReceiver<(Touch, std::time::Instant)>,
    pub mqtt: MqttClient,
}

impl Room {
    /// What its actuators were asked next.
    pub async fn touched(&mut self) -> Touch {
        next_touch(&mut self.touches).await.0
    }

    /// Leaves gracefully (MQTT DISCONNECT) and stops the Agent.
    pub async fn disconnect(self) {
        self.mqtt.shutdown(Duration::from_secs(1)).await;
        let _ = self.handle.shutdown().await;
    }
}

/// The next event a rule published upstream.
pub async fn published(site: &mut Site) -> UpstreamEvent {
    site.upstream.recv().await.expect("upstream sink closed")
}
