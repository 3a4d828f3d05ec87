//! Writing a pattern as a concrete path for an Agent: placeholders filled
//! in (requests), or the widest path that covers it (subscriptions).

use std::{borrow::Cow, fmt::Write as _};

use super::{Leaf, PathPattern, Seg, Term};
use crate::pattern::template::Part;

/// Why a pattern could not be filled in for an action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RenderError {
    /// A placeholder has no value for this trigger.
    #[error("{{{0}}} has no value for this trigger")]
    Missing(String),
    /// An instance placeholder's value is not an instance number.
    #[error("{{{name}}} = {value:?} is not an instance number")]
    NotInstance { name: String, value: String },
    /// An unquoted search constant's value contains characters that would
    /// change the path's meaning.
    #[error("{{{name}}} = {value:?} cannot be written unquoted in a search expression")]
    BadBare { name: String, value: String },
}

type Vars<'a, 'v> = &'a dyn Fn(&str) -> Option<Cow<'v, str>>;

impl PathPattern {
    /// Fills the placeholders, for a request to an Agent.
    ///
    /// Instance placeholders must be instance numbers; quoted search
    /// constants are written with `%` as `%25` and `"` as `%22` (TR-369).
    pub(crate) fn render<'v>(&self, vars: Vars<'_, 'v>) -> Result<String, RenderError> {
        let mut out = String::with_capacity(self.as_str().len() + 8);
        for seg in &self.segs {
            match seg {
                Seg::Name(n) => out.push_str(n),
                Seg::Number(n) => {
                    let _ = write!(out, "{n}");
                }
                Seg::Wildcard => out.push('*'),
                Seg::Capture(c) => {
                    let v = vars(c).ok_or_else(|| RenderError::Missing(c.to_string()))?;
                    if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) || v.starts_with('0') {
                        return Err(RenderError::NotInstance { name: c.to_string(), value: v.into_owned() });
                    }
                    out.push_str(&v);
                }
                Seg::Search(terms) => render_search(&mut out, terms, vars)?,
            }
            out.push('.');
        }
        self.push_leaf(&mut out);
        Ok(out)
    }

    /// The pattern as a subscription ReferenceList entry for one Agent:
    /// placeholders that `known` fills are filled, an instance capture
    /// becomes `*`, and a search whose constants cannot all be filled becomes
    /// `*` (the engine then checks the search itself, from its cache).
    pub(crate) fn reference<'v>(&self, known: Vars<'_, 'v>) -> String {
        let mut out = self.reference_prefix(self.segs.len(), known);
        self.push_leaf(&mut out);
        out
    }

    /// [`PathPattern::reference`] of the object path made of the first `n`
    /// segments (`Device.Node.*.` → `Device.Node.` with `n = 2`).
    pub(crate) fn reference_prefix<'v>(&self, n: usize, known: Vars<'_, 'v>) -> String {
        let mut out = String::with_capacity(self.as_str().len());
        for seg in self.segs.iter().take(n) {
            match seg {
                Seg::Name(n) => out.push_str(n),
                Seg::Number(n) => {
                    let _ = write!(out, "{n}");
                }
                Seg::Wildcard | Seg::Capture(_) => out.push('*'),
                Seg::Search(terms) => {
                    let mark = out.len();
                    if render_search(&mut out, terms, known).is_err() {
                        out.truncate(mark);
                        out.push('*');
                    }
                }
            }
            out.push('.');
        }
        out
    }

    /// Whether a subscription on [`PathPattern::reference_prefix`]`(n)`
    /// makes the Agent evaluate every search expression of the pattern:
    /// none lies beyond the first `n` segments, and each within them can be
    /// filled (else it was widened to `*`). Only then may a notification
    /// on that subscription skip the engine's own check of the searches.
    pub(crate) fn agent_checks_searches<'v>(&self, n: usize, known: Vars<'_, 'v>) -> bool {
        let mut scratch = String::new();
        self.segs.iter().enumerate().all(|(i, seg)| match seg {
            Seg::Search(terms) => {
                scratch.clear();
                i < n && render_search(&mut scratch, terms, known).is_ok()
            }
            _ => true,
        })
    }

    fn push_leaf(&self, out: &mut String) {
        match &self.leaf {
            Leaf::Object => {}
            Leaf::Param(n) => out.push_str(n),
            Leaf::Command(n) => {
                out.push_str(n);
                out.push_str("()");
            }
            Leaf::Event(n) => {
                out.push_str(n);
                out.push('!');
            }
        }
    }
}

/// Writes `%` as `%25` and `"` as `%22`, as a quoted constant needs.
fn push_escaped(out: &mut String, text: &str) {
    for ch in text.chars() {
        match ch {
            '%' => out.push_str("%25"),
            '"' => out.push_str("%22"),
            c => out.push(c),
        }
    }
}

fn render_search<'v>(out: &mut String, terms: &[Term], vars: Vars<'_, 'v>) -> Result<(), RenderError> {
    out.push('[');
    for (k, t) in terms.iter().enumerate() {
        if k > 0 {
            out.push_str("&&");
        }
        out.push_str(&t.param.join("."));
        let _ = write!(out, "{}", t.op);
        if t.quoted {
            out.push('"');
        }
        for p in t.value.parts() {
            match p {
                Part::Lit(s) if t.quoted => push_escaped(out, s),
                Part::Lit(s) => out.push_str(s),
                Part::Var(n, _) => {
                    let v = vars(n).ok_or_else(|| RenderError::Missing(n.clone()))?;
                    if t.quoted {
                        push_escaped(out, &v);
                    } else if v.is_empty()
                        || !v
                            .bytes()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.' | b':'))
                    {
                        return Err(RenderError::BadBare { name: n.clone(), value: v.into_owned() });
                    } else {
                        out.push_str(&v);
                    }
                }
            }
        }
        if t.quoted {
            out.push('"');
        }
    }
    out.push(']');
    Ok(())
}
