//! Topic layout and the MQTT 3.1.1 `/reply-to=` topic suffix.
//!
//! Every endpoint owns the topics `<agent prefix><eid>` and
//! `<controller prefix><eid>` (by default `usp/agent/<eid>` and
//! `usp/controller/<eid>`) and everything below them. Its *reply topic* — the
//! exact topic it is told to subscribe to and to put in Response Topic — is the
//! agent topic, or the controller topic for the endpoint IDs configured as
//! Controllers.
//!
//! MQTT 3.1.1 has no Response Topic property, so TR-369 (R-MQTT.24/.25)
//! carries the sender's reply topic as a suffix of the topic name:
//! `<recipient topic>/reply-to=<reply topic with "/" written as "%2F">`. The
//! router strips that suffix on the way in and adds it again on the way out to
//! 3.1.1 subscribers, which is how a 3.1.1 client and an MQTT 5 client talk to
//! each other.
//!
//! Choice, where the spec is ambiguous: only `/` ↔ `%2F` is translated
//! (decoding accepts `%2f` too); other percent signs are left alone, because
//! Endpoint IDs may themselves contain `%HH` escapes. A reply topic that
//! already contains the text `%2F` therefore does not survive the round trip;
//! the spec gives no way to express it.

use std::borrow::Cow;

/// The marker that starts the 3.1.1 reply-to suffix.
pub const REPLY_TO_MARKER: &str = "/reply-to=";

/// Splits a topic name into its base topic and the reply topic carried in a
/// `/reply-to=` suffix (the text after the **last** marker, R-MQTT.25, with
/// `%2F` decoded to `/`).
///
/// ```
/// use usp_broker::topics::split_reply_to;
/// let (base, reply) = split_reply_to("usp/agent/proto::a/reply-to=usp%2Fcontroller%2Fproto::c");
/// assert_eq!(base, "usp/agent/proto::a");
/// assert_eq!(reply.as_deref(), Some("usp/controller/proto::c"));
/// ```
pub fn split_reply_to(topic: &str) -> (&str, Option<Cow<'_, str>>) {
    match topic.rfind(REPLY_TO_MARKER) {
        Some(at) => {
            let encoded = &topic[at + REPLY_TO_MARKER.len()..];
            (&topic[..at], Some(decode_reply_to(encoded)))
        }
        None => (topic, None),
    }
}

/// Decodes the value of a `/reply-to=` suffix: every `%2F` (or `%2f`)
/// becomes `/`, nothing else changes.
pub fn decode_reply_to(encoded: &str) -> Cow<'_, str> {
    if !encoded.contains("%2F") && !encoded.contains("%2f") {
        return Cow::Borrowed(encoded);
    }
    let mut out = String::with_capacity(encoded.len());
    let mut rest = encoded;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if tail.len() >= 3 && tail.as_bytes()[1] == b'2' && matches!(tail.as_bytes()[2], b'F' | b'f') {
            out.push('/');
            rest = &tail[3..];
        } else {
            out.push('%');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Appends `base` + `/reply-to=` + `reply_to` (with `/` written as `%2F`) to
/// `out` — the topic a 3.1.1 subscriber receives (R-MQTT.24).
pub fn push_with_reply_to(out: &mut String, base: &str, reply_to: &str) {
    out.reserve(base.len() + REPLY_TO_MARKER.len() + reply_to.len() + 8);
    out.push_str(base);
    out.push_str(REPLY_TO_MARKER);
    for (i, part) in reply_to.split('/').enumerate() {
        if i > 0 {
            out.push_str("%2F");
        }
        out.push_str(part);
    }
}

/// Whether an endpoint is reached on its agent or its controller topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A USP Agent: reply topic `<agent prefix><eid>`.
    Agent,
    /// A USP Controller: reply topic `<controller prefix><eid>`.
    Controller,
}

/// The topic namespace of endpoints: which topics an endpoint owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicLayout {
    agent_prefix: String,
    controller_prefix: String,
}

impl Default for TopicLayout {
    fn default() -> Self {
        TopicLayout { agent_prefix: "usp/agent/".to_owned(), controller_prefix: "usp/controller/".to_owned() }
    }
}

/// Why a topic prefix cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("topic prefix {0:?} must be non-empty, end with '/', and hold no '+', '#' or leading '$'")]
pub struct BadPrefix(pub String);

impl TopicLayout {
    /// A layout with the given prefixes (each must end with `/`).
    pub fn new(agent_prefix: &str, controller_prefix: &str) -> Result<TopicLayout, BadPrefix> {
        for p in [agent_prefix, controller_prefix] {
            if p.len() < 2 || !p.ends_with('/') || p.contains(['+', '#']) || p.starts_with('$') {
                return Err(BadPrefix(p.to_owned()));
            }
        }
        Ok(TopicLayout {
            agent_prefix: agent_prefix.to_owned(),
            controller_prefix: controller_prefix.to_owned(),
        })
    }

    /// The topic an endpoint with `role` is reached at.
    pub fn reply_topic(&self, eid: &str, role: Role) -> String {
        let prefix = match role {
            Role::Agent => &self.agent_prefix,
            Role::Controller => &self.controller_prefix,
        };
        let mut topic = String::with_capacity(prefix.len() + eid.len());
        topic.push_str(prefix);
        topic.push_str(eid);
        topic
    }

    /// Both topics an endpoint owns: its agent and its controller topic.
    pub fn own_topics(&self, eid: &str) -> [String; 2] {
        [self.reply_topic(eid, Role::Agent), self.reply_topic(eid, Role::Controller)]
    }

    /// True when `filter` lies inside `eid`'s own topics: equal to one of them
    /// or below one of them (`usp/agent/<eid>/#`, `.../reply-to=...`).
    pub fn owns(&self, eid: &str, filter: &str) -> bool {
        [&self.agent_prefix, &self.controller_prefix].into_iter().any(|prefix| {
            filter
                .strip_prefix(prefix.as_str())
                .and_then(|rest| rest.strip_prefix(eid))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_at_the_last_marker() {
        let (base, reply) = split_reply_to("a/reply-to=x/reply-to=usp%2fcontroller%2Fc");
        assert_eq!(base, "a/reply-to=x");
        assert_eq!(reply.as_deref(), Some("usp/controller/c"));
        assert_eq!(split_reply_to("usp/agent/a"), ("usp/agent/a", None));
    }

    #[test]
    fn leaves_other_percent_escapes_alone() {
        assert_eq!(decode_reply_to("usp%2Fagent%2Fuser::hall%20panel%"), "usp/agent/user::hall%20panel%");
    }

    #[test]
    fn builds_the_spec_example() {
        let mut t = String::new();
        push_with_reply_to(&mut t, "usp/agent/proto::room101", "usp/controller/proto::rules-engine");
        assert_eq!(t, "usp/agent/proto::room101/reply-to=usp%2Fcontroller%2Fproto::rules-engine");
    }

    #[test]
    fn ownership_is_by_whole_topic_level() {
        let l = TopicLayout::default();
        assert!(l.owns("proto::a", "usp/agent/proto::a"));
        assert!(l.owns("proto::a", "usp/agent/proto::a/#"));
        assert!(l.owns("proto::a", "usp/controller/proto::a/reply-to=x"));
        assert!(!l.owns("proto::a", "usp/agent/proto::ab"));
        assert!(!l.owns("proto::a", "usp/agent/+"));
        assert!(!l.owns("proto::a", "usp/agent/#"));
        assert!(!l.owns("proto::a", "usp/#"));
        assert!(!l.owns("proto::a", "#"));
        assert_eq!(l.reply_topic("proto::c", Role::Controller), "usp/controller/proto::c");
    }

    #[test]
    fn refuses_bad_prefixes() {
        assert!(TopicLayout::new("usp/agent", "usp/controller/").is_err());
        assert!(TopicLayout::new("usp/+/", "usp/controller/").is_err());
        assert!(TopicLayout::new("$SYS/", "usp/controller/").is_err());
        assert!(TopicLayout::new("site/a/", "site/c/").is_ok());
    }

    proptest! {
        #[test]
        fn reply_to_round_trips(base in "[a-z:/.-]{1,30}", reply in "[a-zA-Z0-9:/._-]{1,40}") {
            prop_assume!(!base.contains("/reply-to="));
            let mut topic = String::new();
            push_with_reply_to(&mut topic, &base, &reply);
            let (b, r) = split_reply_to(&topic);
            prop_assert_eq!(b, base.as_str());
            prop_assert_eq!(r.as_deref(), Some(reply.as_str()));
        }

        #[test]
        fn decoding_never_panics(s in "\\PC{0,40}") {
            let _ = split_reply_to(&s);
            let _ = decode_reply_to(&s);
        }
    }
}
