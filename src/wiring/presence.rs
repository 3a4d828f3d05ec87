//! Who is connected, as the rules runtime needs to hear it.
//!
//! The broker's registry reports connections; the rules runtime wants
//! Agents: [`AgentPresence::Online`] when an Agent becomes reachable,
//! [`AgentPresence::Offline`] when it no longer is. [`Presence`] keeps the
//! difference:
//!
//! * an Endpoint ID may have more than one connection for a moment (a
//!   session taken over by a reconnect announces the new connection before
//!   the old one's end): it is offline only when its last connection ends,
//!   and a reconnect is still reported `Online` (so its subscriptions are
//!   checked again);
//! * in-process links, admin connections, the rules engine itself and the
//!   endpoints the caller says are not Agents (configured Controllers) are
//!   left out.

use std::collections::{HashMap, HashSet};

use tokio::sync::broadcast;
use usp_broker::{ConnectionId, EndpointInfo, Mtp, RegistryEvent};
use usp_rules::runtime::{AgentPresence, RulesHandle};

/// Turns registry events into Agent presence.
pub struct Presence {
    live: HashMap<String, HashSet<ConnectionId>>,
    is_agent: Box<dyn Fn(&EndpointInfo) -> bool + Send>,
}

impl std::fmt::Debug for Presence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presence").field("agents", &self.live.len()).finish()
    }
}

impl Presence {
    /// Tracks the endpoints for which `is_agent` holds (besides the rules
    /// that always apply: no in-process links, no admin connections).
    pub fn new(is_agent: impl Fn(&EndpointInfo) -> bool + Send + 'static) -> Presence {
        Presence { live: HashMap::new(), is_agent: Box::new(is_agent) }
    }

    fn tracked(&self, info: &EndpointInfo) -> bool {
        info.mtp != Mtp::InProcess && !info.admin && (self.is_agent)(info)
    }

    /// What a registry event means for the rules runtime, if anything.
    pub fn on_event(&mut self, event: &RegistryEvent) -> Option<AgentPresence> {
        match event {
            RegistryEvent::Connected(info) if self.tracked(info) => {
                self.live.entry(info.endpoint_id.clone()).or_default().insert(info.connection);
                Some(AgentPresence::Online(info.endpoint_id.clone()))
            }
            RegistryEvent::Disconnected(info) if self.tracked(info) => {
                let conns = self.live.get_mut(&info.endpoint_id)?;
                conns.remove(&info.connection);
                if !conns.is_empty() {
                    return None;
                }
                self.live.remove(&info.endpoint_id);
                Some(AgentPresence::Offline(info.endpoint_id.clone()))
            }
            _ => None,
        }
    }

    /// Tells `rules` about every Agent in `snapshot` and then about every
    /// change from `events`, until either side goes away. Take `events`
    /// (`registry.events()`) *before* `snapshot` (`registry.snapshot()`),
    /// so nothing falls between them; an endpoint in both is reported
    /// online twice, which is harmless: its subscriptions are checked
    /// again, and `agent_status = "online"` rules fire once per arrival.
    pub async fn forward(
        mut self,
        snapshot: Vec<EndpointInfo>,
        mut events: broadcast::Receiver<RegistryEvent>,
        rules: RulesHandle,
    ) {
        for info in snapshot {
            if let Some(p) = self.on_event(&RegistryEvent::Connected(info)) {
                if rules.presence(p).await.is_err() {
                    return;
                }
            }
        }
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "registry events missed; rules presence may be stale");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if let Some(p) = self.on_event(&event) {
                if rules.presence(p).await.is_err() {
                    return;
                }
            }
        }
    }
}
