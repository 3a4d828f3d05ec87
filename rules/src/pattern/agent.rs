//! Endpoint-id patterns: which Agents a trigger watches or an action targets.
//!
//! ```text
//! proto::room-101            exactly that Agent
//! proto::room-*              every room Agent (`*` matches any text, also none)
//! proto::room-{room}         every room Agent, and the text matched is the capture `room`
//! ```
//!
//! A capture matches at least one character; when a pattern could match in
//! several ways, earlier wildcards take as little as possible
//! (`proto::{a}-{b}` on `proto::x-y-z` gives `a = x`, `b = y-z`).

use std::{fmt, sync::Arc};

use usp_proto::endpoint_id::SCHEMES;

use super::{
    Captures, PatternError,
    template::{Part, Template},
};

/// A parsed endpoint-id pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AgentPattern {
    parts: Vec<APart>,
    text: Box<str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum APart {
    Lit(Box<str>),
    Star,
    Capture(Arc<str>),
}

/// Longest endpoint id considered for matching; longer ids match nothing.
const MAX_ID: usize = 512;

impl AgentPattern {
    /// Parses and checks a pattern: endpoint-id characters only, and a known
    /// authority scheme when the pattern spells it out.
    pub(crate) fn parse(text: &str) -> Result<AgentPattern, PatternError> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let b = text.as_bytes();
        let mut i = 0;
        if text.is_empty() {
            return Err(PatternError::new(0, "empty endpoint id pattern"));
        }
        while i < b.len() {
            match b[i] {
                b'*' => {
                    if !lit.is_empty() {
                        parts.push(APart::Lit(std::mem::take(&mut lit).into()));
                    }
                    if matches!(parts.last(), Some(APart::Star | APart::Capture(_))) {
                        return Err(PatternError::new(i, "two wildcards in a row can never be told apart"));
                    }
                    parts.push(APart::Star);
                    i += 1;
                }
                b'{' => {
                    let end = text[i..]
                        .find('}')
                        .map(|e| i + e)
                        .ok_or_else(|| PatternError::new(i, "unclosed `{` in endpoint id pattern"))?;
                    let name = &text[i + 1..end];
                    if !super::template::is_var_name(name) || name.contains('.') {
                        return Err(PatternError::new(i + 1, format!("bad capture name {name:?}")));
                    }
                    if !lit.is_empty() {
                        parts.push(APart::Lit(std::mem::take(&mut lit).into()));
                    }
                    if matches!(parts.last(), Some(APart::Star | APart::Capture(_))) {
                        return Err(PatternError::new(i, "two wildcards in a row can never be told apart"));
                    }
                    parts.push(APart::Capture(name.into()));
                    i = end + 1;
                }
                c if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b':' | b'%') => {
                    lit.push(char::from(c));
                    i += 1;
                }
                _ => {
                    let ch = text[i..].chars().next().unwrap_or('?');
                    return Err(PatternError::new(
                        i,
                        format!("{ch:?} cannot appear in an endpoint id (allowed: A-Z a-z 0-9 - . _ : %HH)"),
                    ));
                }
            }
        }
        if !lit.is_empty() {
            parts.push(APart::Lit(lit.into()));
        }
        // The scheme, when spelled out, must be one of TR-369's.
        if let Some(APart::Lit(first)) = parts.first() {
            match first.find(':') {
                Some(colon) if !SCHEMES.contains(&&first[..colon]) => {
                    return Err(PatternError::new(
                        0,
                        format!(
                            "unknown endpoint id scheme {:?}; TR-369 schemes are {}",
                            &first[..colon],
                            SCHEMES.join(", ")
                        ),
                    ));
                }
                None if parts.len() == 1 => {
                    return Err(PatternError::new(
                        0,
                        "an endpoint id looks like scheme:authority:instance, e.g. proto::room-101",
                    ));
                }
                _ => {}
            }
        }
        Ok(AgentPattern { parts, text: text.into() })
    }

    /// Names of the captures, in order.
    pub(crate) fn capture_names(&self) -> impl Iterator<Item = &Arc<str>> {
        self.parts.iter().filter_map(|p| match p {
            APart::Capture(n) => Some(n),
            _ => None,
        })
    }

    /// Whether `id` matches; on a match the captures are appended to `caps`.
    pub(crate) fn matches(&self, id: &str, caps: &mut Captures) -> bool {
        if id.len() > MAX_ID || !id.is_ascii() {
            return false;
        }
        // Classic glob matching with backtracking to the most recent wildcard
        // only (linear in practice, O(n·m) at worst), extended so captures
        // take at least one byte and remember where they matched.
        let s = id.as_bytes();
        // (part index, start, len) of each wildcard on the current path.
        let mut extents: Vec<(usize, usize, usize)> = Vec::new();
        let (mut pi, mut si) = (0usize, 0usize);
        loop {
            let ok = if pi == self.parts.len() {
                if si == s.len() {
                    break;
                }
                false
            } else {
                match &self.parts[pi] {
                    APart::Lit(l) => {
                        if s[si..].starts_with(l.as_bytes()) {
                            si += l.len();
                            pi += 1;
                            true
                        } else {
                            false
                        }
                    }
                    APart::Star | APart::Capture(_) => {
                        let min = usize::from(matches!(self.parts[pi], APart::Capture(_)));
                        if si + min <= s.len() {
                            extents.push((pi, si, min));
                            si += min;
                            pi += 1;
                            true
                        } else {
                            false
                        }
                    }
                }
            };
            if ok {
                continue;
            }
            // Backtrack: the last wildcard takes one more byte.
            let Some(last) = extents.last_mut() else { return false };
            last.2 += 1;
            if last.1 + last.2 > s.len() {
                return false;
            }
            pi = last.0 + 1;
            si = last.1 + last.2;
        }
        for (p, start, len) in extents {
            if let APart::Capture(name) = &self.parts[p] {
                caps.push((name.clone(), Arc::from(&id[start..start + len])));
            }
        }
        true
    }

    /// The Agents a template can name: its placeholders become captures
    /// (`proto::hvac-{room}`) or `*` (`{args.X}`, `{agent}`). `None` for an
    /// empty template.
    pub(crate) fn from_template(t: &Template) -> Option<AgentPattern> {
        let mut parts: Vec<APart> = Vec::new();
        for p in t.parts() {
            let part = match p {
                Part::Lit(s) => APart::Lit(s.as_str().into()),
                Part::Var(name, _) if !name.contains('.') && name != "agent" => {
                    APart::Capture(name.as_str().into())
                }
                Part::Var(..) => APart::Star,
            };
            let wild = !matches!(part, APart::Lit(_));
            if wild && matches!(parts.last(), Some(APart::Star | APart::Capture(_))) {
                // Two wildcards in a row match like one.
                if let Some(last) = parts.last_mut() {
                    *last = APart::Star;
                }
                continue;
            }
            parts.push(part);
        }
        (!parts.is_empty()).then(|| AgentPattern { parts, text: t.to_string().into() })
    }
}

impl fmt::Display for AgentPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_pattern_and_id_match_or_not_cleanly(pattern in "\\PC{0,30}", id in "\\PC{0,40}") {
            if let Ok(p) = AgentPattern::parse(&pattern) {
                let mut caps = Captures::new();
                if p.matches(&id, &mut caps) {
                    // Captures are pieces of the id.
                    for (_, v) in &caps {
                        prop_assert!(id.contains(&**v));
                    }
                }
            }
        }

        #[test]
        fn globs_match_what_they_describe(prefix in "[a-z]{1,5}", mid in "[a-z0-9-]{0,8}", suffix in "[a-z]{0,4}") {
            let p = AgentPattern::parse(&format!("proto::{prefix}{{x}}{suffix}")).unwrap();
            let id = format!("proto::{prefix}{mid}z{suffix}");
            let mut caps = Captures::new();
            prop_assert!(p.matches(&id, &mut caps));
            prop_assert_eq!(caps.len(), 1);
        }
    }

    fn caps_of(p: &str, id: &str) -> Option<Vec<(String, String)>> {
        let mut caps = Captures::new();
        AgentPattern::parse(p)
            .unwrap()
            .matches(id, &mut caps)
            .then(|| caps.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn globs_and_captures() {
        assert_eq!(caps_of("proto::room-101", "proto::room-101"), Some(vec![]));
        assert_eq!(caps_of("proto::room-101", "proto::room-1010"), None);
        assert_eq!(caps_of("proto::room-*", "proto::room-"), Some(vec![]));
        assert_eq!(caps_of("proto::room-{room}", "proto::room-"), None, "a capture takes at least one byte");
        assert_eq!(
            caps_of("proto::room-{room}", "proto::room-101"),
            Some(vec![("room".into(), "101".into())])
        );
        assert_eq!(
            caps_of("proto::{a}-{b}", "proto::x-y-z"),
            Some(vec![("a".into(), "x".into()), ("b".into(), "y-z".into())])
        );
        assert_eq!(
            caps_of("proto::room-{room}-light", "proto::room-1-2-light"),
            Some(vec![("room".into(), "1-2".into())])
        );
        assert_eq!(caps_of("*", "os::anything"), Some(vec![]));
        assert_eq!(caps_of("*-light", "proto::hall-light"), Some(vec![]));
        assert_eq!(caps_of("*-light", "proto::hall-lights"), None);
        assert_eq!(caps_of("proto::*", "proto::é"), None, "non-ASCII ids are not endpoint ids");
        let t = Template::parse("proto::hvac-{room}").unwrap();
        let p = AgentPattern::from_template(&t).unwrap();
        let mut caps = Captures::new();
        assert!(p.matches("proto::hvac-101", &mut caps));
        assert_eq!(&*caps[0].1, "101");
        let t = Template::parse("proto::{args.X}{room}").unwrap();
        assert!(AgentPattern::from_template(&t).unwrap().matches("proto::x", &mut Captures::new()));
    }

    #[test]
    fn refuses_typos() {
        assert_eq!(AgentPattern::parse("prot::room-1").unwrap_err().at, 0);
        assert_eq!(AgentPattern::parse("proto::room 1").unwrap_err().at, 11);
        assert_eq!(AgentPattern::parse("room-1").unwrap_err().at, 0);
        assert_eq!(AgentPattern::parse("proto::**").unwrap_err().at, 8);
        assert_eq!(AgentPattern::parse("proto::{a}{b}").unwrap_err().at, 10);
        assert_eq!(AgentPattern::parse("proto::{a").unwrap_err().at, 7);
        assert!(AgentPattern::parse("").is_err());
    }
}
