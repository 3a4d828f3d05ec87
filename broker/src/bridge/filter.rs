//! Which Notify messages are site events, and the topic each goes to.
//! Pure functions of their inputs.

use super::config::EventsConfig;

/// The notification kinds a filter may name (the `Notify.notification`
/// oneof members, as `usp_proto`'s `Notify::kind_name` spells them).
pub const KINDS: [&str; 6] =
    ["event", "value_change", "obj_creation", "obj_deletion", "oper_complete", "on_board_req"];

/// A filter names a notification kind that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown notification kind {0:?} (known: event, value_change, obj_creation, obj_deletion, oper_complete, on_board_req)"
)]
pub struct UnknownKind(pub String);

/// The compiled `[bridge.events]` filters.
#[derive(Debug, Clone)]
pub struct EventMatcher {
    filters: Vec<(String, Vec<String>)>,
    topic: String,
}

impl EventMatcher {
    /// Checks and compiles the filters.
    pub fn new(config: &EventsConfig) -> Result<EventMatcher, UnknownKind> {
        for filter in &config.filters {
            if let Some(bad) = filter.kinds.iter().find(|k| !KINDS.contains(&k.as_str())) {
                return Err(UnknownKind(bad.clone()));
            }
        }
        Ok(EventMatcher {
            filters: config.filters.iter().map(|f| (f.endpoint_id.clone(), f.kinds.clone())).collect(),
            topic: config.topic.clone(),
        })
    }

    /// True when there is no filter (no site events at all).
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// True when a notification of `kind` from `endpoint_id` is a site event.
    pub fn matches(&self, endpoint_id: &str, kind: &str) -> bool {
        self.filters.iter().any(|(glob_pattern, kinds)| {
            (kinds.is_empty() || kinds.iter().any(|k| k == kind)) && glob(glob_pattern, endpoint_id)
        })
    }

    /// The upstream topic of such an event.
    pub fn topic(&self, endpoint_id: &str, kind: &str) -> String {
        self.topic.replace("{eid}", endpoint_id).replace("{kind}", kind)
    }
}

/// Glob match on bytes (Endpoint IDs are ASCII): `*` any run (also
/// empty), `?` exactly one byte;
/// everything else literal. Linear time (the classic single-backtrack
/// algorithm: a later `*` supersedes an earlier one).
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == b'?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::bridge::config::EventFilter;

    #[test]
    fn globs() {
        assert!(glob("*", ""));
        assert!(glob("proto::door-*", "proto::door-12"));
        assert!(!glob("proto::door-*", "proto::window-1"));
        assert!(glob("*::door-?", "os::door-1"));
        assert!(!glob("*::door-?", "os::door-12"));
        assert!(glob("a*b*c", "aXXbYYbc"));
        assert!(!glob("a*b*c", "aXXbYYbcd"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
    }

    proptest! {
        /// A pattern made of the text with some runs replaced by `*`
        /// always matches it; the text itself is always its own pattern.
        #[test]
        fn globs_match_their_source(text in "[a-z:]{0,20}", cut in 0usize..20, len in 0usize..5) {
            prop_assert!(glob(&text, &text));
            let chars: Vec<char> = text.chars().collect();
            let a = cut.min(chars.len());
            let b = (a + len).min(chars.len());
            let pattern: String = chars[..a].iter().chain(['*'].iter()).chain(chars[b..].iter()).collect();
            prop_assert!(glob(&pattern, &text));
        }
    }

    #[test]
    fn filters_select_by_endpoint_and_kind() {
        let config = EventsConfig {
            topic: "site/{eid}/{kind}".into(),
            filters: vec![
                EventFilter { endpoint_id: "proto::door-*".into(), kinds: vec!["event".into()] },
                EventFilter { endpoint_id: "proto::meter".into(), kinds: vec![] },
            ],
            ..EventsConfig::default()
        };
        let m = EventMatcher::new(&config).unwrap();
        assert!(m.matches("proto::door-1", "event"));
        assert!(!m.matches("proto::door-1", "value_change"));
        assert!(m.matches("proto::meter", "value_change"));
        assert!(!m.matches("proto::light", "event"));
        assert_eq!(m.topic("proto::door-1", "event"), "site/proto::door-1/event");
        let bad = EventsConfig {
            filters: vec![EventFilter { endpoint_id: "*".into(), kinds: vec!["valuechange".into()] }],
            ..EventsConfig::default()
        };
        assert_eq!(EventMatcher::new(&bad).unwrap_err(), UnknownKind("valuechange".into()));
    }
}
