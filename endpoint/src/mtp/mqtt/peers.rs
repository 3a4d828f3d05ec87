//! What the client knows of each peer endpoint: where it is reached
//! (learned, configured, or default), and whether communication with it
//! has ceased (R-MQTT.26a).
//!
//! TR-369 gives a sender several sources for a recipient's topic (§4.4 of
//! the MQTT notes): the reply-to of a Record that endpoint sent (Response
//! Topic or `/reply-to=`), the `subscribed_topic` of its MQTTConnect
//! Record, configuration, or a convention. The most recent thing the peer
//! itself said wins, then configuration, then the project's default topic
//! for the other role (`usp/controller/<eid>` when we are an Agent,
//! `usp/agent/<eid>` when we are a Controller). Responses thereby go to the
//! topic the request came with.
//!
//! Learned entries come from the network, so their number is bounded; past
//! the bound, new peers are not learned (their default or configured topic
//! is used, and no refusal is remembered for them) and existing ones are
//! still updated.

use std::collections::HashMap;

use super::{Peer, Role, topic};

/// What the network told us about one peer.
#[derive(Debug, Default)]
struct Learned {
    /// Where it said it is reached.
    topic: Option<String>,
    /// Communication ceased after a version mismatch (R-MQTT.26a).
    refused: bool,
}

#[derive(Debug)]
pub(crate) struct Peers {
    /// The role of the peers we talk to by default.
    peer_role: Role,
    configured: HashMap<String, String>,
    learned: HashMap<String, Learned>,
    max_learned: usize,
}

impl Peers {
    pub(crate) fn new(own_role: Role, configured: &[Peer], max_learned: usize) -> Peers {
        let peer_role = match own_role {
            Role::Agent => Role::Controller,
            Role::Controller => Role::Agent,
        };
        Peers {
            peer_role,
            configured: configured.iter().map(|p| (p.endpoint_id.clone(), p.topic.clone())).collect(),
            learned: HashMap::new(),
            max_learned,
        }
    }

    /// The topic to publish to for `endpoint_id`.
    pub(crate) fn topic(&self, endpoint_id: &str) -> String {
        self.known_topic(endpoint_id)
            .map_or_else(|| topic::default_topic(self.peer_role, endpoint_id), str::to_owned)
    }

    /// The topic `endpoint_id` told us or was configured with; `None` when
    /// only the default convention would apply.
    pub(crate) fn known_topic(&self, endpoint_id: &str) -> Option<&str> {
        self.learned
            .get(endpoint_id)
            .and_then(|l| l.topic.as_deref())
            .or_else(|| self.configured.get(endpoint_id).map(String::as_str))
    }

    /// The entry of `endpoint_id`, created if the table has room. (Not
    /// `HashMap::entry`: that would allocate the key for every Record of a
    /// peer already known.)
    fn entry(&mut self, endpoint_id: &str) -> Option<&mut Learned> {
        if !self.learned.contains_key(endpoint_id) {
            if self.learned.len() >= self.max_learned {
                return None;
            }
            self.learned.insert(endpoint_id.to_owned(), Learned::default());
        }
        self.learned.get_mut(endpoint_id)
    }

    /// Remembers that `endpoint_id` is reached at `topic` (ignored if the
    /// topic is not a valid topic name).
    pub(crate) fn learn(&mut self, endpoint_id: &str, reached_at: &str) {
        if !topic::is_valid_name(reached_at) {
            return;
        }
        if let Some(entry) = self.entry(endpoint_id) {
            match &mut entry.topic {
                Some(known) if known == reached_at => {}
                Some(known) => reached_at.clone_into(known),
                None => entry.topic = Some(reached_at.to_owned()),
            }
        }
    }

    /// Ceases (`true`) or resumes (`false`) communication with
    /// `endpoint_id`.
    pub(crate) fn set_refused(&mut self, endpoint_id: &str, refused: bool) {
        if refused {
            if let Some(entry) = self.entry(endpoint_id) {
                entry.refused = true;
            }
        } else if let Some(entry) = self.learned.get_mut(endpoint_id) {
            entry.refused = false;
        }
    }

    /// True while communication with `endpoint_id` has ceased.
    pub(crate) fn is_refused(&self, endpoint_id: &str) -> bool {
        self.learned.get(endpoint_id).is_some_and(|l| l.refused)
    }

    /// Adds or replaces a configured peer.
    pub(crate) fn configure(&mut self, endpoint_id: &str, topic: &str) {
        self.configured.insert(endpoint_id.to_owned(), topic.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learned_beats_configured_beats_default() {
        let configured = [Peer { endpoint_id: "self::c".into(), topic: "site/ctrl".into() }];
        let mut p = Peers::new(Role::Agent, &configured, 1);
        assert_eq!(p.topic("self::c"), "site/ctrl");
        assert_eq!(p.known_topic("self::c"), Some("site/ctrl"));
        assert_eq!(p.topic("self::other"), "usp/controller/self::other");
        assert_eq!(p.known_topic("self::other"), None, "the default is a convention, not knowledge");
        p.learn("self::c", "usp/controller/self::c-replies");
        assert_eq!(p.topic("self::c"), "usp/controller/self::c-replies");
        p.learn("self::c", "a/+/b");
        assert_eq!(p.topic("self::c"), "usp/controller/self::c-replies", "wildcards are not learned");
    }

    #[test]
    fn the_learned_table_is_bounded_but_updates_known_peers() {
        let mut p = Peers::new(Role::Controller, &[], 1);
        p.learn("proto::a", "t/a");
        p.learn("proto::b", "t/b");
        assert_eq!(p.topic("proto::b"), "usp/agent/proto::b", "table full: default");
        p.set_refused("proto::b", true);
        assert!(!p.is_refused("proto::b"), "table full: nothing remembered");
        p.learn("proto::a", "t/a2");
        assert_eq!(p.topic("proto::a"), "t/a2");
        p.configure("proto::b", "cfg/b");
        assert_eq!(p.topic("proto::b"), "cfg/b");
    }

    #[test]
    fn refusals_are_remembered_per_peer() {
        let configured = [Peer { endpoint_id: "self::c".into(), topic: "site/ctrl".into() }];
        let mut p = Peers::new(Role::Agent, &configured, 8);
        p.set_refused("self::c", true);
        assert_eq!(p.topic("self::c"), "site/ctrl", "a refusal alone does not hide the configured topic");
        assert!(p.is_refused("self::c") && !p.is_refused("self::d"));
        p.set_refused("self::c", false);
        assert!(!p.is_refused("self::c"));
    }
}
