//! Loop protection, part one: which notifications the engine caused.
//!
//! Every write the engine issues (a Set's parameters, the object of an
//! Operate, Add or Delete) is remembered for a short window together with
//! the chain of rules that led to it. A notification that matches a
//! remembered write — same Agent, a path the write covers, the value it
//! wrote — inherits that chain. A rule about to fire whose trigger's chain
//! already holds the rule is retriggering itself through its own writes
//! (directly, or through other rules): it is stopped ([`super::fire`]).
//!
//! Part two is a fuse on each rule's firing rate, for loops the engine
//! cannot see (a device that changes a parameter the engine did not write).

use std::{collections::VecDeque, sync::Arc};

use smallvec::SmallVec;

use crate::time::Ms;

/// The rules whose firings led to a trigger, oldest first.
pub(crate) type Chain = Option<Arc<[Arc<str>]>>;

/// Appends a rule to a chain.
pub(crate) fn extend(chain: &Chain, rule: &Arc<str>) -> Chain {
    let before = chain.as_deref().unwrap_or(&[]);
    Some(before.iter().cloned().chain(std::iter::once(rule.clone())).collect())
}

/// How many times `rule` appears in `chain`.
pub(crate) fn count(chain: &Chain, rule: &str) -> usize {
    chain.as_deref().map_or(0, |c| c.iter().filter(|r| ***r == *rule).count())
}

/// A remembered write.
#[derive(Debug, Clone)]
pub(crate) struct Write {
    pub(crate) expires: Ms,
    /// The path as sent (may hold `*` and search expressions).
    pub(crate) path: String,
    /// `Some(v)`: a parameter set to `v`; `None`: anything at or below the
    /// object `path` (Operate, Add, Delete).
    pub(crate) value: Option<Arc<str>>,
    pub(crate) chain: Chain,
}

/// One Agent's recent writes, oldest first, bounded.
#[derive(Debug, Default)]
pub(crate) struct Writes {
    items: VecDeque<Write>,
}

/// Most writes remembered per Agent.
const MAX_WRITES: usize = 64;

/// Splits a path at the dots that separate segments (not those inside a
/// search expression or a quoted constant).
fn pieces(path: &str) -> SmallVec<[&str; 16]> {
    let mut out = SmallVec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    for (i, c) in path.char_indices() {
        match c {
            '"' if depth > 0 => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth -= 1,
            '.' if depth == 0 && !quoted => {
                out.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&path[start..]);
    out
}

fn piece_matches(written: &str, seen: &str) -> bool {
    written == seen
        || ((written == "*" || written.starts_with('['))
            && !seen.is_empty()
            && seen.bytes().all(|c| c.is_ascii_digit()))
}

impl Writes {
    pub(crate) fn record(&mut self, w: Write) {
        // The same write again (a rule firing repeatedly) refreshes the old
        // record instead of filling the list.
        if let Some(pos) = self.items.iter().position(|o| o.path == w.path && o.value == w.value) {
            self.items.remove(pos);
        } else if self.items.len() >= MAX_WRITES {
            self.items.pop_front();
        }
        self.items.push_back(w);
    }

    /// The chain of the newest unexpired write that could have caused a
    /// change of `path` to `value` (`None` value: an object event at `path`).
    pub(crate) fn cause(&mut self, path: &str, value: Option<&str>, now: Ms) -> Chain {
        while self.items.front().is_some_and(|w| w.expires <= now) {
            self.items.pop_front();
        }
        if self.items.is_empty() {
            return None;
        }
        let seen = pieces(path.strip_suffix('.').unwrap_or(path));
        let leaf = seen.last().copied().unwrap_or("");
        for w in self.items.iter().rev() {
            // Cheap rejections first: another value, another parameter name.
            if let (Some(v), Some(seen_v)) = (&w.value, value) {
                if **v != *seen_v || !w.path.ends_with(leaf) {
                    continue;
                }
            }
            let written = pieces(w.path.strip_suffix('.').unwrap_or(&w.path));
            let hit = match (&w.value, value) {
                // A parameter write explains a change of that parameter to that value.
                (Some(v), Some(seen_v)) => {
                    **v == *seen_v
                        && written.len() == seen.len()
                        && written.iter().zip(&seen).all(|(a, b)| piece_matches(a, b))
                }
                // An object write (Operate/Add/Delete) explains anything at or below it.
                (None, _) => {
                    written.len() <= seen.len() && written.iter().zip(&seen).all(|(a, b)| piece_matches(a, b))
                }
                (Some(_), None) => false,
            };
            if hit {
                return w.chain.clone();
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(names: &[&str]) -> Chain {
        Some(names.iter().map(|n| Arc::from(*n)).collect::<Vec<_>>().into())
    }

    #[test]
    fn repeated_writes_do_not_fill_the_list() {
        let mut w = Writes::default();
        for i in 0..200 {
            w.record(Write {
                expires: 100 + i,
                path: "Device.A".into(),
                value: Some(Arc::from("1")),
                chain: chain(&["r"]),
            });
        }
        assert_eq!(w.items.len(), 1);
        assert_eq!(w.cause("Device.A", Some("1"), 250), chain(&["r"]), "refreshed to the last expiry");
    }

    #[test]
    fn writes_explain_matching_changes_only() {
        let mut w = Writes::default();
        w.record(Write {
            expires: 100,
            path: r#"Device.Node.2.IoTCapability.[Name=="r1.light"].BinaryControl.Value"#.into(),
            value: Some(Arc::from("true")),
            chain: chain(&["light"]),
        });
        w.record(Write {
            expires: 100,
            path: "Device.Node.3.IoTCapability.1.LevelControl.".into(),
            value: None,
            chain: chain(&["hvac"]),
        });
        assert_eq!(
            w.cause("Device.Node.2.IoTCapability.4.BinaryControl.Value", Some("true"), 50),
            chain(&["light"])
        );
        assert_eq!(w.cause("Device.Node.2.IoTCapability.4.BinaryControl.Value", Some("false"), 50), None);
        assert_eq!(w.cause("Device.Node.2.IoTCapability.4.BinaryControl.Enable", Some("true"), 50), None);
        assert_eq!(
            w.cause("Device.Node.3.IoTCapability.1.LevelControl.Value", Some("22"), 50),
            chain(&["hvac"])
        );
        assert_eq!(
            w.cause("Device.Node.3.IoTCapability.1.LevelControl.Value", Some("22"), 100),
            None,
            "expired"
        );
        assert_eq!(count(&extend(&chain(&["a", "b"]), &Arc::from("a")), "a"), 2);
    }
}
