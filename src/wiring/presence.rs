//! Who is connected, as the rules runtime needs to hear it.
//!
//! The broker's registry reports connections; the rules runtime wants
//! Agents: [`AgentPresence::Online`] when an Agent becomes reachable,
//! [`AgentPresence::Offline`] when it no longer is. [`Presence`] keeps the
//! difference:
//!
//! * an Agent is online from its connection's
//!   [`RegistryEvent::Reachable`], not its `Connected`: an MQTT Agent
//!   receives nothing before it subscribes to its topic, and the rules
//!   runtime answers `Online` by sending it Subscription Adds at once (sent
//!   on `Connected`, they were dropped as unrouted). WebSocket Agents are
//!   reachable as they connect. An MQTT Agent that never subscribes to its
//!   reply topic is never reported online; one that unsubscribes it
//!   ([`RegistryEvent::Unreachable`]) counts as gone, like a disconnect;
//! * an Endpoint ID may have more than one connection for a moment (a
//!   session taken over by a reconnect): it is offline only when its last
//!   reachable connection ends (or stops listening), and each reachable
//!   connection is reported `Online` (so its subscriptions are checked
//!   again). A connection that ends without ever being reachable changes
//!   nothing. When an MQTT session
//!   is taken over, the old connection usually ends before the new one has
//!   subscribed: the Agent reads `Offline`, then `Online` — which is what
//!   happened, since Records sent in between were lost;
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
            RegistryEvent::Reachable(info) if self.tracked(info) => {
                self.live.entry(info.endpoint_id.clone()).or_default().insert(info.connection);
                Some(AgentPresence::Online(info.endpoint_id.clone()))
            }
            RegistryEvent::Disconnected(info) | RegistryEvent::Unreachable(info) if self.tracked(info) => {
                let conns = self.live.get_mut(&info.endpoint_id)?;
                // Never reachable: never reported online.
                if !conns.remove(&info.connection) || !conns.is_empty() {
                    return None;
                }
                self.live.remove(&info.endpoint_id);
                Some(AgentPresence::Offline(info.endpoint_id.clone()))
            }
            _ => None,
        }
    }

    /// What a registry snapshot means for the rules runtime: `Online` for
    /// every reachable Agent in it. The others are reported when their
    /// `Reachable` event comes.
    pub fn on_snapshot(&mut self, snapshot: Vec<EndpointInfo>) -> Vec<AgentPresence> {
        snapshot
            .into_iter()
            .filter(|info| info.reachable)
            .filter_map(|info| self.on_event(&RegistryEvent::Reachable(info)))
            .collect()
    }

    /// Tells `rules` about every reachable Agent in `snapshot` and then
    /// about every change from `events`, until either side goes away. Take
    /// `events` (`registry.events()`) *before* `snapshot`
    /// (`registry.snapshot()`), so nothing falls between them: an Agent
    /// connected but not yet reachable in the snapshot is reported by its
    /// later `Reachable` event. An Agent in both is reported online twice,
    /// which is harmless: its subscriptions are checked again, and
    /// `agent_status = "online"` rules fire once per arrival.
    pub async fn forward(
        mut self,
        snapshot: Vec<EndpointInfo>,
        mut events: broadcast::Receiver<RegistryEvent>,
        rules: RulesHandle,
    ) {
        for p in self.on_snapshot(snapshot) {
            if rules.presence(p).await.is_err() {
                return;
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

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use usp_broker::identity::IdentitySource;

    use super::*;

    fn info(eid: &str, connection: u64, mtp: Mtp) -> EndpointInfo {
        EndpointInfo {
            connection: ConnectionId(connection),
            endpoint_id: eid.to_owned(),
            identity_source: IdentitySource::ClientId,
            admin: false,
            mtp,
            tls: false,
            client_id: None,
            peer: None,
            connected_since: SystemTime::UNIX_EPOCH,
            reply_topic: format!("usp/agent/{eid}"),
            reachable: true,
            records_in: 0,
            bytes_in: 0,
            records_out: 0,
            bytes_out: 0,
        }
    }

    fn online(eid: &str) -> Option<AgentPresence> {
        Some(AgentPresence::Online(eid.to_owned()))
    }

    fn offline(eid: &str) -> Option<AgentPresence> {
        Some(AgentPresence::Offline(eid.to_owned()))
    }

    #[test]
    fn online_when_reachable_not_when_connected() {
        let mut p = Presence::new(|_| true);
        let a = info("proto::a", 1, Mtp::Mqtt5);
        assert_eq!(p.on_event(&RegistryEvent::Connected(a.clone())), None);
        assert_eq!(p.on_event(&RegistryEvent::Reachable(a.clone())), online("proto::a"));
        assert_eq!(p.on_event(&RegistryEvent::Disconnected(a)), offline("proto::a"));
    }

    #[test]
    fn unreachable_is_offline_until_reachable_again() {
        let mut p = Presence::new(|_| true);
        let a = info("proto::a", 1, Mtp::Mqtt311);
        assert_eq!(p.on_event(&RegistryEvent::Reachable(a.clone())), online("proto::a"));
        assert_eq!(p.on_event(&RegistryEvent::Unreachable(a.clone())), offline("proto::a"));
        assert_eq!(p.on_event(&RegistryEvent::Reachable(a.clone())), online("proto::a"));
        assert_eq!(p.on_event(&RegistryEvent::Unreachable(a.clone())), offline("proto::a"));
        assert_eq!(p.on_event(&RegistryEvent::Disconnected(a)), None, "already offline");
    }

    #[test]
    fn a_connection_never_reachable_changes_nothing() {
        let mut p = Presence::new(|_| true);
        let quiet = info("proto::q", 1, Mtp::Mqtt311);
        assert_eq!(p.on_event(&RegistryEvent::Connected(quiet.clone())), None);
        assert_eq!(p.on_event(&RegistryEvent::Disconnected(quiet)), None, "never online, never offline");

        // Beside a reachable connection of the same Agent, its end keeps the
        // Agent online.
        let a1 = info("proto::a", 2, Mtp::Mqtt5);
        let a2 = info("proto::a", 3, Mtp::Mqtt5);
        assert_eq!(p.on_event(&RegistryEvent::Reachable(a1.clone())), online("proto::a"));
        assert_eq!(p.on_event(&RegistryEvent::Connected(a2.clone())), None);
        assert_eq!(p.on_event(&RegistryEvent::Disconnected(a2)), None);
        assert_eq!(p.on_event(&RegistryEvent::Disconnected(a1)), offline("proto::a"));
    }

    #[test]
    fn offline_only_when_the_last_reachable_connection_ends() {
        let mut p = Presence::new(|_| true);
        let (old, new) = (info("proto::a", 1, Mtp::Mqtt5), info("proto::a", 2, Mtp::WebSocket));
        assert_eq!(p.on_event(&RegistryEvent::Reachable(old.clone())), online("proto::a"));
        assert_eq!(p.on_event(&RegistryEvent::Reachable(new.clone())), online("proto::a"));
        assert_eq!(p.on_event(&RegistryEvent::Disconnected(old)), None);
        assert_eq!(p.on_event(&RegistryEvent::Disconnected(new)), offline("proto::a"));
    }

    #[test]
    fn the_snapshot_reports_reachable_agents_only() {
        let mut p = Presence::new(|_| true);
        let waiting = EndpointInfo { reachable: false, ..info("proto::w", 1, Mtp::Mqtt5) };
        let ready = info("proto::r", 2, Mtp::Mqtt311);
        assert_eq!(
            p.on_snapshot(vec![waiting.clone(), ready]),
            vec![AgentPresence::Online("proto::r".into())]
        );
        // The one not yet reachable comes online by its event.
        assert_eq!(p.on_event(&RegistryEvent::Reachable(waiting)), online("proto::w"));
    }

    #[test]
    fn links_admins_and_non_agents_are_left_out() {
        let mut p = Presence::new(|i| i.endpoint_id != "proto::ctl");
        let link = info("self::rules", 1, Mtp::InProcess);
        let admin = EndpointInfo { admin: true, ..info("ops", 2, Mtp::Mqtt5) };
        let controller = info("proto::ctl", 3, Mtp::WebSocket);
        for i in [link, admin, controller] {
            assert_eq!(p.on_event(&RegistryEvent::Reachable(i.clone())), None);
            assert_eq!(p.on_event(&RegistryEvent::Disconnected(i)), None);
        }
    }
}
