//! Topic names: defaults, the MQTT 3.1.1 `/reply-to=` suffix, filters.
//!
//! MQTT 3.1.1 has no Response Topic property, so a sender appends its own
//! reply-to topic to the recipient's topic (R-MQTT.24):
//! `<recipient>/reply-to=<own topic with "/" written "%2F">`, and the
//! receiver takes the text after the **last** `/reply-to=` and turns every
//! `%2F` back into `/` (R-MQTT.25). Only `%2F` is decoded, in either case
//! (`%2f` too), and no other percent sequence: Endpoint IDs may contain
//! `%xx` escapes of their own, which must survive untouched.

use std::borrow::Cow;

use super::Role;

/// The marker between a recipient topic and the sender's reply-to topic.
pub const REPLY_TO_MARKER: &str = "/reply-to=";

/// The project's default topic of an endpoint: `usp/agent/<eid>` or
/// `usp/controller/<eid>`.
pub fn default_topic(role: Role, endpoint_id: &str) -> String {
    let prefix = match role {
        Role::Agent => "usp/agent/",
        Role::Controller => "usp/controller/",
    };
    let mut t = String::with_capacity(prefix.len() + endpoint_id.len());
    t.push_str(prefix);
    t.push_str(endpoint_id);
    t
}

/// `/reply-to=<topic with "/" → "%2F">`, the suffix a 3.1.1 sender appends.
pub fn reply_to_suffix(own_reply_topic: &str) -> String {
    let mut s = String::with_capacity(REPLY_TO_MARKER.len() + own_reply_topic.len() * 3 / 2);
    s.push_str(REPLY_TO_MARKER);
    for c in own_reply_topic.chars() {
        if c == '/' {
            s.push_str("%2F");
        } else {
            s.push(c);
        }
    }
    s
}

/// The reply-to topic a 3.1.1 topic name carries, if any: the text after
/// the last `/reply-to=`, with `%2F` (any case) decoded to `/`. An empty
/// value counts as none.
pub fn parse_reply_to(topic: &str) -> Option<Cow<'_, str>> {
    let at = topic.rfind(REPLY_TO_MARKER)?;
    let encoded = &topic[at + REPLY_TO_MARKER.len()..];
    if encoded.is_empty() {
        return None;
    }
    if !encoded.contains('%') {
        return Some(Cow::Borrowed(encoded));
    }
    let mut out = String::with_capacity(encoded.len());
    let mut rest = encoded;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.len() >= 3 && tail.as_bytes()[1] == b'2' && tail.as_bytes()[2].eq_ignore_ascii_case(&b'f') {
            out.push('/');
            rest = &tail[3..];
        } else {
            out.push('%');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Some(Cow::Owned(out))
}

/// True for a topic name one may publish to: not empty, no wildcard, no NUL.
pub fn is_valid_name(topic: &str) -> bool {
    !topic.is_empty() && !topic.contains(['+', '#', '\0'])
}

/// True for a well-formed topic filter: `+` and `#` only as whole levels,
/// `#` only last.
pub fn is_valid_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.contains('\0') {
        return false;
    }
    let levels: Vec<&str> = filter.split('/').collect();
    levels.iter().enumerate().all(|(i, level)| match *level {
        "#" => i == levels.len() - 1,
        "+" => true,
        l => !l.contains(['+', '#']),
    })
}

/// True when `filter` matches the topic name `topic` (MQTT 4.7 rules,
/// without the `$`-topic exception, which USP topics never hit).
pub fn filter_matches(filter: &str, topic: &str) -> bool {
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_spec_example() {
        let suffix = reply_to_suffix("usp/controller/proto::rules-engine");
        let topic = format!("usp/agent/proto::room101{suffix}");
        assert_eq!(topic, "usp/agent/proto::room101/reply-to=usp%2Fcontroller%2Fproto::rules-engine");
        assert_eq!(parse_reply_to(&topic).as_deref(), Some("usp/controller/proto::rules-engine"));
        assert!(filter_matches("usp/agent/proto::room101/#", &topic));
    }

    #[test]
    fn parsing_takes_the_last_marker_and_decodes_only_2f() {
        assert_eq!(parse_reply_to("a/reply-to=x%2Fy/reply-to=b%2fc").as_deref(), Some("b/c"));
        assert_eq!(
            parse_reply_to("a/reply-to=os::00256D-ab%21cd%2Fz").as_deref(),
            Some("os::00256D-ab%21cd/z")
        );
        assert_eq!(parse_reply_to("a/reply-to=x%2").as_deref(), Some("x%2"));
        assert_eq!(parse_reply_to("a/reply-to=x%").as_deref(), Some("x%"));
        assert_eq!(parse_reply_to("a/reply-to="), None);
        assert_eq!(parse_reply_to("usp/agent/x"), None);
        assert!(matches!(parse_reply_to("a/reply-to=plain"), Some(Cow::Borrowed("plain"))));
    }

    #[test]
    fn defaults_and_validity() {
        assert_eq!(default_topic(Role::Agent, "proto::a"), "usp/agent/proto::a");
        assert_eq!(default_topic(Role::Controller, "self::c"), "usp/controller/self::c");
        assert!(
            is_valid_name("usp/agent/x")
                && !is_valid_name("")
                && !is_valid_name("a/+")
                && !is_valid_name("#")
        );
        for ok in ["a", "a/#", "#", "+/b/+", "usp/agent/x/#"] {
            assert!(is_valid_filter(ok), "{ok}");
        }
        for bad in ["", "a/#/b", "a+/b", "a/b#", "a\0"] {
            assert!(!is_valid_filter(bad), "{bad:?}");
        }
    }

    #[test]
    fn matching() {
        assert!(filter_matches("usp/agent/x/#", "usp/agent/x"), "# matches the parent level too");
        assert!(filter_matches("usp/+/x", "usp/agent/x"));
        assert!(!filter_matches("usp/+/x", "usp/agent/y"));
        assert!(!filter_matches("usp/agent/x", "usp/agent/x/reply-to=a"));
        assert!(!filter_matches("usp/agent/x/y", "usp/agent/x"));
        assert!(filter_matches("a", "a") && !filter_matches("a", "b"));
    }

    proptest! {
        #[test]
        fn suffix_round_trips(topic in "[a-zA-Z0-9:._/-]{1,40}", recipient in "[a-z/]{1,20}") {
            prop_assume!(!topic.contains("/reply-to="));
            let full = format!("{recipient}{}", reply_to_suffix(&topic));
            let parsed = parse_reply_to(&full);
            prop_assert_eq!(parsed.as_deref(), Some(topic.as_str()));
            prop_assert!(!reply_to_suffix(&topic)[REPLY_TO_MARKER.len()..].contains('/'));
        }

        #[test]
        fn parsing_and_matching_never_panic(s in "\\PC{0,40}", f in "[a-z+#/]{0,12}") {
            let _ = parse_reply_to(&s);
            let _ = is_valid_filter(&f);
            let _ = filter_matches(&f, &s);
        }
    }
}
