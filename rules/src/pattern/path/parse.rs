//! Reading a rule's path pattern with the project's path grammar.
//!
//! A rule path is a TR-369 Path Name plus `{name}` placeholders. The
//! grammar itself is [`usp_endpoint::path`]'s, so the rules engine accepts
//! exactly the paths an Agent does. This module only bridges the
//! placeholders:
//!
//! 1. [`substitute`] replaces each `{name}` so that the text becomes a plain
//!    Path Name — `*` in an instance position (a capture), a private-use
//!    marker character inside a search expression (a placeholder in a
//!    constant), `{{`/`}}` there by a literal brace — and remembers where
//!    each came from;
//! 2. [`Path::parse`] checks the grammar; its error offsets are mapped back
//!    to the rule text, so a `file:line:column` still points at the typo;
//! 3. [`convert`] turns the AST into the engine's [`PathPattern`], putting
//!    the captures and placeholders back by position, and applies what
//!    rules refuse on top of the grammar: a path starts with `Device.`,
//!    reference hops (`Ref+`) are not followed (the engine matches
//!    notifications against its cache, where it cannot follow them), and an
//!    unquoted `==`/`!=` constant that is a bare word is a missing quote.

use std::sync::Arc;

use usp_endpoint::path::{Constant, Path, PathError, Segment, Selector};

use super::{PathPattern, Placeholder, Seg, Term};
use crate::pattern::{
    PatternError,
    template::{Part, Template, is_var_name},
};

/// Stands for a placeholder inside a search constant while the text is
/// parsed: a private-use character, which no rule path has a reason to hold
/// (one that does is refused).
const MARK: char = '\u{E000}';

/// The rule text rewritten as a plain Path Name, with where its
/// placeholders were.
#[derive(Debug, Default)]
struct Substituted {
    /// What [`Path::parse`] sees.
    text: String,
    /// `(offset in text, offset in the rule text)` after each substitution.
    shifts: Vec<(usize, usize)>,
    /// Each `*` instance selector, in order: `None` as written, or the
    /// capture it replaced (name, offset of its `{`).
    stars: Vec<Option<(Arc<str>, usize)>>,
    /// Each placeholder inside a search constant, in order: its name and
    /// the offset of its `{`.
    vars: Vec<(String, usize)>,
    /// Each search term's `(start, end)` in `text`, in order.
    terms: Vec<(usize, usize)>,
    /// Offset in the rule text of the first `+` or `#` outside `[...]`
    /// (a reference hop, once the grammar accepted the path).
    hop: Option<usize>,
}

impl Substituted {
    /// The rule-text offset of an offset in [`Substituted::text`].
    fn original(&self, at: usize) -> usize {
        match self.shifts.iter().rev().find(|(s, _)| *s <= at) {
            Some((s, o)) => o + (at - s),
            None => at,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Where {
    Outside,
    Search,
    Quoted,
}

/// Rewrites `{name}` placeholders (see the module documentation).
fn substitute(src: &str) -> Result<Substituted, PatternError> {
    if let Some(at) = src.find(MARK) {
        return Err(PatternError::new(at, format!("character {MARK:?} is not allowed in a path")));
    }
    let b = src.as_bytes();
    let mut out = Substituted { text: String::with_capacity(src.len()), ..Substituted::default() };
    let mut state = Where::Outside;
    let mut copied = 0;
    let mut i = 0;
    // Replaces src[i..end] by `with`.
    let replace = |out: &mut Substituted, copied: &mut usize, i: usize, end: usize, with: &str| {
        out.text.push_str(&src[*copied..i]);
        out.text.push_str(with);
        *copied = end;
        out.shifts.push((out.text.len(), end));
    };
    while let Some(&c) = b.get(i) {
        let pos = out.text.len() + (i - copied);
        match (state, c) {
            (Where::Outside, b'[') => {
                state = Where::Search;
                out.terms.push((pos + 1, pos + 1));
            }
            (Where::Outside, b'*') if i == 0 || b[i - 1] != b'#' => out.stars.push(None),
            (Where::Outside, b'+' | b'#') => {
                out.hop.get_or_insert(i);
            }
            (Where::Outside, b'{') => {
                let (name, end) = placeholder(src, i)?;
                if name.contains('.') {
                    return Err(PatternError::new(i + 1, format!("bad capture name {name:?}")));
                }
                out.stars.push(Some((Arc::from(name), i)));
                replace(&mut out, &mut copied, i, end, "*");
                i = end;
                continue;
            }
            (Where::Search, b'"') => state = Where::Quoted,
            (Where::Quoted, b'"') => state = Where::Search,
            (Where::Search, b']') => {
                state = Where::Outside;
                if let Some(t) = out.terms.last_mut() {
                    t.1 = pos;
                }
            }
            (Where::Search, b'&') if b.get(i + 1) == Some(&b'&') => {
                if let Some(t) = out.terms.last_mut() {
                    t.1 = pos;
                }
                out.terms.push((pos + 2, pos + 2));
                i += 2;
                continue;
            }
            (Where::Search | Where::Quoted, b'{' | b'}') if b.get(i + 1) == Some(&c) => {
                let brace = if c == b'{' { "{" } else { "}" };
                replace(&mut out, &mut copied, i, i + 2, brace);
                i += 2;
                continue;
            }
            (Where::Search | Where::Quoted, b'}') => {
                return Err(PatternError::new(i, "lone `}` (write `}}` for a literal brace)"));
            }
            (Where::Search | Where::Quoted, b'{') => {
                let (name, end) = placeholder(src, i)?;
                out.vars.push((name.to_owned(), i));
                let mut mark = [0; 4];
                replace(&mut out, &mut copied, i, end, MARK.encode_utf8(&mut mark));
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.text.push_str(&src[copied..]);
    Ok(out)
}

/// Reads `{name}` at `open`; returns the name and the offset after `}`.
fn placeholder(src: &str, open: usize) -> Result<(&str, usize), PatternError> {
    let start = open + 1;
    let close = src
        .get(start..)
        .and_then(|rest| rest.find('}'))
        .map(|e| start + e)
        .ok_or_else(|| PatternError::new(open, "unclosed `{` (write `{{` for a literal brace)"))?;
    let name = &src[start..close];
    if !is_var_name(name) {
        return Err(PatternError::new(
            start,
            format!("bad placeholder name {name:?}: letters, digits, `_`, and one `.` as in `args.Cause`"),
        ));
    }
    Ok((name, close + 1))
}

/// The grammar's error, at its place in the rule text.
fn grammar_error(sub: &Substituted, e: &PathError) -> PatternError {
    let at = sub.original(e.offset());
    if sub.text.get(e.offset()..).is_some_and(|rest| rest.starts_with(MARK)) {
        return PatternError::new(
            at,
            "a placeholder stands for an instance number or inside a search constant, not here",
        );
    }
    PatternError::new(at, e.kind().to_string())
}

impl PathPattern {
    /// Parses and checks a pattern (see the module documentation of
    /// [`super`] for the syntax).
    pub(crate) fn parse(text: &str) -> Result<PathPattern, PatternError> {
        if !text.starts_with("Device.") {
            let hint = if text.is_empty() { "empty path" } else { "a path starts with `Device.`" };
            return Err(PatternError::new(0, hint));
        }
        let sub = substitute(text)?;
        let path = Path::parse(&sub.text).map_err(|e| grammar_error(&sub, &e))?;
        convert(text, path, &sub)
    }
}

/// The AST as a [`PathPattern`], placeholders restored.
fn convert(text: &str, path: Path, sub: &Substituted) -> Result<PathPattern, PatternError> {
    let mut stars = sub.stars.iter();
    let mut vars = sub.vars.iter();
    let mut terms = sub.terms.iter();
    let mut segs = Vec::with_capacity(path.segments.len());
    let mut names = Vec::new();
    for segment in path.segments {
        let seg = match segment {
            Segment::Name(n) => Seg::Name(n.into_boxed_str()),
            Segment::Reference { .. } => {
                return Err(PatternError::new(
                    sub.hop.unwrap_or(0),
                    "reference following (`Ref+`) is not supported in rules",
                ));
            }
            Segment::Instance(Selector::Number(n)) => Seg::Number(n),
            Segment::Instance(Selector::Wildcard | Selector::AnyInstance) => match stars.next() {
                Some(Some((name, at))) => {
                    names.push(Placeholder { name: name.clone(), at: *at, capture: true });
                    Seg::Capture(name.clone())
                }
                _ => Seg::Wildcard,
            },
            Segment::Instance(Selector::Search(expr)) => {
                let mut out = Vec::with_capacity(expr.terms.len());
                for term in expr.terms {
                    let &(start, end) =
                        terms.next().ok_or_else(|| PatternError::new(0, "search term lost"))?;
                    if !term.param.objects.iter().all(|o| matches!(o, Segment::Name(_))) {
                        return Err(PatternError::new(
                            sub.original(start),
                            "reference following (`Ref+`) is not supported in rules",
                        ));
                    }
                    let mut param: Vec<Box<str>> = term
                        .param
                        .objects
                        .into_iter()
                        .filter_map(|o| match o {
                            Segment::Name(n) => Some(n.into_boxed_str()),
                            _ => None,
                        })
                        .collect();
                    param.push(term.param.param.into_boxed_str());
                    let (raw, quoted) = match term.value {
                        Constant::Quoted(s) => (s, true),
                        Constant::Bare(s) => (s, false),
                    };
                    if !quoted && matches!(term.op, super::Op::Eq | super::Op::Ne) && !raw.contains(MARK) {
                        // Unquoted `==` constants are numbers, booleans or
                        // dates; a bare word is almost always a missing quote.
                        let looks_typed = raw.parse::<f64>().is_ok()
                            || matches!(raw.as_str(), "true" | "false")
                            || raw.starts_with(|c: char| c.is_ascii_digit());
                        if !looks_typed {
                            let slice = sub.text.get(start..end).unwrap_or_default().trim_end();
                            let at = sub.original(start + slice.len().saturating_sub(raw.len()));
                            return Err(PatternError::new(
                                at,
                                format!("string constants are quoted: write \"{raw}\""),
                            ));
                        }
                    }
                    let value = restore(&raw, &mut vars)?;
                    names.extend(value.vars().map(|(name, at)| Placeholder {
                        name: Arc::from(name),
                        at,
                        capture: false,
                    }));
                    out.push(Term { param, op: term.op, value, quoted });
                }
                Seg::Search(out)
            }
        };
        segs.push(seg);
    }
    Ok(PathPattern { segs, leaf: path.leaf, text: text.into(), names })
}

/// A decoded constant with its markers turned back into placeholders.
fn restore<'a>(
    raw: &str,
    vars: &mut impl Iterator<Item = &'a (String, usize)>,
) -> Result<Template, PatternError> {
    if !raw.contains(MARK) {
        return Ok(Template::literal(raw));
    }
    let mut parts = Vec::new();
    for (k, piece) in raw.split(MARK).enumerate() {
        if k > 0 {
            let (name, at) = vars.next().ok_or_else(|| PatternError::new(0, "placeholder lost"))?;
            parts.push(Part::Var(name.clone(), *at));
        }
        if !piece.is_empty() {
            parts.push(Part::Lit(piece.to_owned()));
        }
    }
    Ok(Template::from_parts(parts))
}
