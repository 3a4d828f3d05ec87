//! Path patterns: USP Path Names as rules write them.
//!
//! The grammar is TR-369's (see `paths.md`), checked strictly enough to catch
//! typos, plus one addition: `{name}` in an instance position is a capture
//! (in a trigger it matches any instance number and remembers it; in an
//! action it is filled in), and `{name}` may appear inside a search
//! expression's constant (`[Name=="r{room}-light"]`).
//!
//! ```text
//! pattern := "Device" ( "." segment )* ( "." | "." leaf )
//! segment := name | instance
//! instance:= posnum | "*" | "{" ident "}" | "[" term ( "&&" term )* "]"
//! term    := name ( "." name )* op constant            op: == != ~= < > <= >=
//! leaf    := name | name "()" | name "!"
//! ```
//!
//! Choices: a path must start with `Device.`; an instance selector must
//! follow a name; reference following (`Ref+`) is refused in rules (the
//! engine matches notification paths against its cache and cannot follow
//! references there).

use std::{borrow::Cow, fmt, fmt::Write as _, sync::Arc};

use super::{Captures, PatternError, template::Template};

/// A parsed path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathPattern {
    pub(crate) segs: Vec<Seg>,
    pub(crate) leaf: Leaf,
    text: Box<str>,
}

/// One step of a pattern's object part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    /// An object name.
    Name(Box<str>),
    /// An instance number.
    Number(u32),
    /// `*`.
    Wildcard,
    /// `{name}`.
    Capture(Arc<str>),
    /// `[terms]`.
    Search(Vec<Term>),
}

/// One `param op constant` comparison of a search expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Term {
    /// Relative parameter path, e.g. `["LevelSensor", "Value"]`.
    pub(crate) param: Vec<Box<str>>,
    /// The operator.
    pub(crate) op: SearchOp,
    /// The constant, possibly with placeholders.
    pub(crate) value: Template,
    /// Whether the constant was double-quoted (string-typed).
    pub(crate) quoted: bool,
}

/// A search-expression operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SearchOp {
    Eq,
    Ne,
    Contains,
    Lt,
    Gt,
    Le,
    Ge,
}

impl SearchOp {
    fn as_str(self) -> &'static str {
        match self {
            SearchOp::Eq => "==",
            SearchOp::Ne => "!=",
            SearchOp::Contains => "~=",
            SearchOp::Lt => "<",
            SearchOp::Gt => ">",
            SearchOp::Le => "<=",
            SearchOp::Ge => ">=",
        }
    }
}

/// What a pattern ends in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Leaf {
    /// Ends in `.`.
    Object,
    /// A parameter name.
    Param(Box<str>),
    /// A command name (without `()`).
    Command(Box<str>),
    /// An event name (without `!`).
    Event(Box<str>),
}

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

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl PathPattern {
    /// Parses and checks a pattern.
    pub(crate) fn parse(text: &str) -> Result<PathPattern, PatternError> {
        let b = text.as_bytes();
        if let Some(ws) = b.iter().position(|c| c.is_ascii_whitespace()) {
            return Err(PatternError::new(ws, "whitespace inside a path"));
        }
        if !text.starts_with("Device.") && text != "Device." {
            let hint = if text.is_empty() { "empty path" } else { "a path starts with `Device.`" };
            return Err(PatternError::new(0, hint));
        }
        let mut segs = Vec::new();
        let mut i = 0;
        loop {
            // At the start of a segment.
            let start = i;
            let c = *b.get(i).ok_or_else(|| PatternError::new(i, "path ends after `.`"))?;
            let after_name = matches!(segs.last(), Some(Seg::Name(_)));
            let instance = |segs: &Vec<Seg>| -> Result<(), PatternError> {
                // `Device` itself is never a table.
                if segs.len() < 2 || !after_name {
                    Err(PatternError::new(start, "an instance selector must follow an object name"))
                } else {
                    Ok(())
                }
            };
            if is_name_start(c) {
                while i < b.len() && is_name_char(b[i]) {
                    i += 1;
                }
                let name = &text[start..i];
                match b.get(i) {
                    None => {
                        return Ok(PathPattern { segs, leaf: Leaf::Param(name.into()), text: text.into() });
                    }
                    Some(b'.') => {
                        segs.push(Seg::Name(name.into()));
                        i += 1;
                        if i == b.len() {
                            return Ok(PathPattern { segs, leaf: Leaf::Object, text: text.into() });
                        }
                        continue;
                    }
                    Some(b'(') if &text[i..] == "()" => {
                        return Ok(PathPattern { segs, leaf: Leaf::Command(name.into()), text: text.into() });
                    }
                    Some(b'!') if i + 1 == b.len() => {
                        return Ok(PathPattern { segs, leaf: Leaf::Event(name.into()), text: text.into() });
                    }
                    Some(b'+' | b'#') => {
                        return Err(PatternError::new(
                            i,
                            "reference following (`Ref+`) is not supported in rules",
                        ));
                    }
                    Some(_) => {
                        let ch = text[i..].chars().next().unwrap_or('?');
                        return Err(PatternError::new(
                            i,
                            format!(
                                "unexpected {ch:?} after name {name:?} (names hold letters, digits and `_`)"
                            ),
                        ));
                    }
                }
            }
            let seg = match c {
                b'0'..=b'9' => {
                    instance(&segs)?;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                    let digits = &text[start..i];
                    if digits.starts_with('0') {
                        return Err(PatternError::new(
                            start,
                            "instance numbers start at 1 and have no leading zero",
                        ));
                    }
                    Seg::Number(
                        digits.parse().map_err(|_| PatternError::new(start, "instance number too large"))?,
                    )
                }
                b'*' => {
                    instance(&segs)?;
                    i += 1;
                    Seg::Wildcard
                }
                b'{' => {
                    instance(&segs)?;
                    let end = text[i..]
                        .find('}')
                        .map(|e| i + e)
                        .ok_or_else(|| PatternError::new(i, "unclosed `{`"))?;
                    let name = &text[i + 1..end];
                    if !super::template::is_var_name(name) || name.contains('.') {
                        return Err(PatternError::new(i + 1, format!("bad capture name {name:?}")));
                    }
                    i = end + 1;
                    Seg::Capture(name.into())
                }
                b'[' => {
                    instance(&segs)?;
                    let (terms, end) = parse_search(text, i)?;
                    i = end;
                    Seg::Search(terms)
                }
                _ => {
                    let ch = text[i..].chars().next().unwrap_or('?');
                    return Err(PatternError::new(
                        i,
                        format!("unexpected {ch:?}; expected a name or an instance"),
                    ));
                }
            };
            segs.push(seg);
            match b.get(i) {
                Some(b'.') => {
                    i += 1;
                    if i == b.len() {
                        return Ok(PathPattern { segs, leaf: Leaf::Object, text: text.into() });
                    }
                }
                None => return Err(PatternError::new(i, "an instance selector must be followed by `.`")),
                Some(_) => return Err(PatternError::new(i, "expected `.` after the instance selector")),
            }
        }
    }

    /// The pattern as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// True for a table path (`Device.Node.`): ends in `.` after a name.
    pub(crate) fn is_table(&self) -> bool {
        self.leaf == Leaf::Object && matches!(self.segs.last(), Some(Seg::Name(_))) && self.segs.len() > 1
    }

    /// True for an instance path (`Device.Node.3.`, `Device.Node.*.`).
    pub(crate) fn is_instance(&self) -> bool {
        self.leaf == Leaf::Object && !matches!(self.segs.last(), Some(Seg::Name(_)) | None)
    }

    /// True when some segment is a search expression.
    pub(crate) fn has_search(&self) -> bool {
        self.segs.iter().any(|s| matches!(s, Seg::Search(_)))
    }

    /// Every placeholder name: instance captures and names inside search
    /// constants, with their offset in the pattern text (0 when unknown).
    pub(crate) fn placeholders(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        for s in &self.segs {
            match s {
                Seg::Capture(c) => {
                    out.push((c.to_string(), self.text.find(&format!("{{{c}}}")).unwrap_or(0)))
                }
                Seg::Search(terms) => {
                    for t in terms {
                        for (n, _) in t.value.vars() {
                            out.push((n.to_owned(), self.text.find(&format!("{{{n}}}")).unwrap_or(0)));
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The placeholder names inside search constants, with offsets.
    pub(crate) fn search_vars(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        for s in &self.segs {
            if let Seg::Search(terms) = s {
                for t in terms {
                    for (n, _) in t.value.vars() {
                        out.push((n.to_owned(), self.text.find(&format!("{{{n}}}")).unwrap_or(0)));
                    }
                }
            }
        }
        out
    }

    /// The names captured by `{name}` instance segments.
    pub(crate) fn capture_names(&self) -> impl Iterator<Item = &Arc<str>> {
        self.segs.iter().filter_map(|s| match s {
            Seg::Capture(c) => Some(c),
            _ => None,
        })
    }

    /// The path of the leaf's parent object, as written (for a param pattern).
    pub(crate) fn leaf_name(&self) -> Option<&str> {
        match &self.leaf {
            Leaf::Object => None,
            Leaf::Param(n) | Leaf::Command(n) | Leaf::Event(n) => Some(n),
        }
    }

    /// Matches the object segments against the start of a concrete path.
    ///
    /// Returns the byte offset just after the matched prefix (after its
    /// trailing `.`), or `None`. Captures are appended to `caps`; each
    /// search segment is checked by `search(instance_prefix, terms)`, where
    /// `instance_prefix` is the concrete path up to and including the
    /// instance's `.`.
    pub(crate) fn match_prefix(
        &self,
        path: &str,
        caps: &mut Captures,
        search: &mut dyn FnMut(&str, &[Term]) -> bool,
    ) -> Option<usize> {
        let mut pos = 0;
        for seg in &self.segs {
            let rest = path.get(pos..)?;
            let dot = rest.find('.')?;
            let piece = &rest[..dot];
            let end = pos + dot + 1;
            let is_inst = !piece.is_empty() && piece.bytes().all(|c| c.is_ascii_digit());
            let ok = match seg {
                Seg::Name(n) => **n == *piece,
                Seg::Number(n) => is_inst && piece.parse::<u32>().ok() == Some(*n),
                Seg::Wildcard => is_inst,
                Seg::Capture(name) => {
                    if is_inst {
                        caps.push((name.clone(), Arc::from(piece)));
                    }
                    is_inst
                }
                Seg::Search(terms) => is_inst && search(&path[..end], terms),
            };
            if !ok {
                return None;
            }
            pos = end;
        }
        Some(pos)
    }

    /// Whether a ValueChange `param_path` matches: a parameter pattern
    /// matches that parameter, an object pattern every parameter below it
    /// (a ReferenceList object path is a filter).
    pub(crate) fn match_param(
        &self,
        path: &str,
        caps: &mut Captures,
        search: &mut dyn FnMut(&str, &[Term]) -> bool,
    ) -> bool {
        let Some(end) = self.match_prefix(path, caps, search) else { return false };
        let rest = &path[end..];
        match &self.leaf {
            Leaf::Param(n) => **n == *rest,
            Leaf::Object => !rest.is_empty() && !rest.ends_with('.'),
            Leaf::Command(_) | Leaf::Event(_) => false,
        }
    }

    /// Whether an object path from an Event notification matches the
    /// pattern's object part exactly.
    pub(crate) fn match_object(
        &self,
        obj_path: &str,
        caps: &mut Captures,
        search: &mut dyn FnMut(&str, &[Term]) -> bool,
    ) -> bool {
        self.match_prefix(obj_path, caps, search) == Some(obj_path.len())
    }

    /// Whether an ObjectCreation/ObjectDeletion instance path matches: a
    /// table pattern matches any new row of the table, an instance pattern
    /// the rows it selects.
    pub(crate) fn match_instance(
        &self,
        obj_path: &str,
        caps: &mut Captures,
        search: &mut dyn FnMut(&str, &[Term]) -> bool,
    ) -> bool {
        let Some(end) = self.match_prefix(obj_path, caps, search) else { return false };
        let rest = &obj_path[end..];
        if self.is_table() {
            rest.strip_suffix('.').is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
        } else {
            rest.is_empty()
        }
    }

    /// Fills the placeholders, for a request to an Agent.
    ///
    /// Instance placeholders must be instance numbers; values inside quoted
    /// search constants are escaped (`%` → `%25`, `"` → `%22`, TR-369).
    pub(crate) fn render<'v>(
        &self,
        vars: &dyn Fn(&str) -> Option<Cow<'v, str>>,
    ) -> Result<String, RenderError> {
        let mut out = String::with_capacity(self.text.len() + 8);
        for (k, seg) in self.segs.iter().enumerate() {
            if k > 0 {
                out.push('.');
            }
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
        }
        out.push('.');
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
        Ok(out)
    }

    /// The pattern as a subscription ReferenceList entry for one Agent:
    /// placeholders that `known` fills are filled, an instance capture
    /// becomes `*`, and a search whose constants cannot all be filled becomes
    /// `*` (the engine then checks the search itself, from its cache).
    pub(crate) fn reference<'v>(&self, known: &dyn Fn(&str) -> Option<Cow<'v, str>>) -> String {
        let mut out = String::with_capacity(self.text.len());
        for (k, seg) in self.segs.iter().enumerate() {
            if k > 0 {
                out.push('.');
            }
            match seg {
                Seg::Name(n) => out.push_str(n),
                Seg::Number(n) => {
                    let _ = write!(out, "{n}");
                }
                Seg::Wildcard | Seg::Capture(_) => out.push('*'),
                Seg::Search(terms) => {
                    let mut s = String::new();
                    if render_search(&mut s, terms, known).is_ok() {
                        out.push_str(&s);
                    } else {
                        out.push('*');
                    }
                }
            }
        }
        out.push('.');
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
        out
    }
}

fn render_search<'v>(
    out: &mut String,
    terms: &[Term],
    vars: &dyn Fn(&str) -> Option<Cow<'v, str>>,
) -> Result<(), RenderError> {
    out.push('[');
    for (k, t) in terms.iter().enumerate() {
        if k > 0 {
            out.push_str("&&");
        }
        out.push_str(&t.param.join("."));
        out.push_str(t.op.as_str());
        if t.quoted {
            out.push('"');
        }
        for p in t.value.parts() {
            match p {
                super::template::Part::Lit(s) => out.push_str(s),
                super::template::Part::Var(n, _) => {
                    let v = vars(n).ok_or_else(|| RenderError::Missing(n.clone()))?;
                    if t.quoted {
                        for ch in v.chars() {
                            match ch {
                                '%' => out.push_str("%25"),
                                '"' => out.push_str("%22"),
                                c => out.push(c),
                            }
                        }
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

/// Parses `[ ... ]` starting at `open` (the `[`); returns the terms and the
/// offset after `]`.
fn parse_search(text: &str, open: usize) -> Result<(Vec<Term>, usize), PatternError> {
    let b = text.as_bytes();
    let mut i = open + 1;
    let mut terms = Vec::new();
    loop {
        // Relative parameter path.
        let mut param = Vec::new();
        loop {
            let s = i;
            if !b.get(i).copied().is_some_and(is_name_start) {
                let what = if param.is_empty() { "a parameter name" } else { "a name after `.`" };
                return Err(PatternError::new(i, format!("expected {what} in the search expression")));
            }
            while i < b.len() && is_name_char(b[i]) {
                i += 1;
            }
            param.push(Box::from(&text[s..i]));
            match b.get(i) {
                Some(b'.') => i += 1,
                Some(b'+' | b'#') => {
                    return Err(PatternError::new(
                        i,
                        "reference following (`Ref+`) is not supported in rules",
                    ));
                }
                _ => break,
            }
        }
        let two = text.get(i..i + 2).unwrap_or("");
        let (op, len) = match two {
            "==" => (SearchOp::Eq, 2),
            "!=" => (SearchOp::Ne, 2),
            "~=" => (SearchOp::Contains, 2),
            "<=" => (SearchOp::Le, 2),
            ">=" => (SearchOp::Ge, 2),
            _ => match b.get(i) {
                Some(b'<') => (SearchOp::Lt, 1),
                Some(b'>') => (SearchOp::Gt, 1),
                Some(b'=') => return Err(PatternError::new(i, "`=` is not an operator; write `==`")),
                _ => {
                    return Err(PatternError::new(i, "expected an operator (== != ~= < > <= >=)"));
                }
            },
        };
        i += len;
        let (value, quoted) = if b.get(i) == Some(&b'"') {
            let start = i + 1;
            let end = text[start..]
                .find('"')
                .map(|e| start + e)
                .ok_or_else(|| PatternError::new(i, "unterminated string in the search expression"))?;
            let value = Template::parse(&text[start..end]).map_err(|e| e.shifted(start))?;
            i = end + 1;
            (value, true)
        } else {
            let start = i;
            while i < b.len() && b[i] != b']' && !text[i..].starts_with("&&") {
                i += 1;
            }
            if i == start {
                return Err(PatternError::new(i, "expected a value after the operator"));
            }
            let raw = &text[start..i];
            if let Some(q) = raw.find('"') {
                return Err(PatternError::new(
                    start + q,
                    "a quoted value must start right after the operator",
                ));
            }
            (Template::parse(raw).map_err(|e| e.shifted(start))?, false)
        };
        if !quoted && matches!(op, SearchOp::Eq | SearchOp::Ne) {
            // Unquoted `==` constants are numbers, booleans, dates or
            // placeholders; a bare word is almost always a missing quote.
            if let Some(lit) = value.as_literal() {
                let looks_typed = lit.parse::<f64>().is_ok()
                    || matches!(lit, "true" | "false")
                    || lit.starts_with(|c: char| c.is_ascii_digit());
                if !looks_typed {
                    return Err(PatternError::new(
                        i - lit.len(),
                        format!("string constants are quoted: write \"{lit}\""),
                    ));
                }
            }
        }
        terms.push(Term { param, op, value, quoted });
        match b.get(i) {
            Some(b']') => return Ok((terms, i + 1)),
            Some(b'&') if text[i..].starts_with("&&") => i += 2,
            _ => return Err(PatternError::new(i, "expected `&&` or `]`")),
        }
    }
}

impl fmt::Display for PathPattern {
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
        fn any_pattern_text_parses_or_fails_cleanly(text in "Device\\.[A-Za-z0-9.{}\\[\\]\"=<>&!~*()_+#-]{0,60}") {
            if let Ok(p) = PathPattern::parse(&text) {
                // What parses can be filled in and matched without panicking,
                // and its reference is itself a valid pattern.
                let vars = |_: &str| -> Option<Cow<'static, str>> { Some(Cow::Borrowed("7")) };
                let _ = p.render(&vars);
                let r = p.reference(&vars);
                prop_assert!(PathPattern::parse(&r).is_ok(), "{} → {}", text, r);
                let mut caps = Captures::new();
                let _ = p.match_param(&text, &mut caps, &mut |_, _| true);
                let _ = p.match_instance(&text, &mut caps, &mut |_, _| true);
            }
        }

        #[test]
        fn any_concrete_path_matches_or_not_cleanly(path in "\\PC{0,60}") {
            let p = PathPattern::parse(r#"Device.Node.{n}.IoTCapability.[Name=="x"].Value"#).unwrap();
            let mut caps = Captures::new();
            let _ = p.match_param(&path, &mut caps, &mut |_, _| true);
            let _ = p.match_object(&path, &mut caps, &mut |_, _| false);
        }
    }

    fn p(s: &str) -> PathPattern {
        PathPattern::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err_at(s: &str) -> usize {
        PathPattern::parse(s).map(|_| ()).unwrap_err().at
    }

    fn no_search(_: &str, _: &[Term]) -> bool {
        false
    }

    #[test]
    fn parses_the_path_kinds() {
        assert_eq!(p("Device.Node.1.IoTCapability.2.BinarySensor.Value").leaf, Leaf::Param("Value".into()));
        assert!(p("Device.Node.").is_table());
        assert!(p("Device.Node.*.").is_instance());
        assert!(p("Device.Node.{n}.").is_instance());
        assert_eq!(p("Device.Boot!").leaf, Leaf::Event("Boot".into()));
        assert_eq!(
            p("Device.Node.2.IoTCapability.1.BinaryControl.Toggle()").leaf,
            Leaf::Command("Toggle".into())
        );
        let s = p(r#"Device.IoTCapability.[Class=="LevelSensor"&&LevelSensor.Value>=20.5].Name"#);
        assert!(s.has_search());
        let Seg::Search(terms) = &s.segs[2] else { panic!() };
        assert_eq!(terms.len(), 2);
        assert_eq!(terms[1].param, vec![Box::from("LevelSensor"), Box::from("Value")]);
        assert_eq!(terms[1].op, SearchOp::Ge);
        assert!(!terms[1].quoted);
        let t = p(r#"Device.Node.2.IoTCapability.[Name=="r{room}-light"].BinaryControl.Value"#);
        assert_eq!(t.placeholders(), vec![("room".to_string(), 37)]);
    }

    #[test]
    fn refuses_typos_with_the_offset() {
        assert_eq!(err_at("Devcie.Node.1.Value"), 0);
        assert_eq!(err_at("Device.Node.01.Value"), 12);
        assert_eq!(err_at("Device.Node.0.Value"), 12);
        assert_eq!(err_at("Device.Node..Value"), 12);
        assert_eq!(err_at("Device.Node.1"), 13);
        assert_eq!(err_at("Device.Node.1.2.Value"), 14);
        assert_eq!(err_at("Device.Node.1.Bin-Sensor.Value"), 17);
        assert_eq!(err_at("Device.Node.1.Value "), 19);
        assert_eq!(err_at("Device.Node.[Name=\"x\"].Value"), 17);
        assert_eq!(err_at("Device.Node.[Name==x].Value"), 19);
        assert_eq!(err_at("Device.Node.[Name==\"x\".Value"), 22);
        assert_eq!(err_at("Device.Node.[].Value"), 13);
        assert_eq!(err_at("Device.Node.[Name==\"x].Value"), 19);
        assert_eq!(err_at("Device.NAT.PortMapping.1.Interface+.Name"), 34);
        assert_eq!(err_at("Device.Node.*"), 13);
        assert_eq!(err_at("Device.*.Value"), 7);
        assert_eq!(err_at("Device.Toggle(x)"), 13);
        assert_eq!(err_at("Device.Boot!x"), 11);
        assert_eq!(err_at("Device.Node.{1}.Value"), 13);
        assert_eq!(err_at(""), 0);
    }

    #[test]
    fn matches_notification_paths() {
        let mut caps = Captures::new();
        let pat = p("Device.Node.{node}.IoTCapability.*.LevelSensor.Value");
        assert!(pat.match_param(
            "Device.Node.1.IoTCapability.7.LevelSensor.Value",
            &mut caps,
            &mut no_search
        ));
        assert_eq!(caps.len(), 1);
        assert_eq!(&*caps[0].1, "1");
        let mut caps = Captures::new();
        assert!(!pat.match_param(
            "Device.Node.x.IoTCapability.7.LevelSensor.Value",
            &mut caps,
            &mut no_search
        ));
        assert!(!pat.match_param(
            "Device.Node.1.IoTCapability.7.LevelSensor.Unit",
            &mut caps,
            &mut no_search
        ));
        assert!(!pat.match_param("Device.Node.1.IoTCapability.7.LevelSensor", &mut caps, &mut no_search));
        let filter = p("Device.Node.1.");
        assert!(filter.match_param(
            "Device.Node.1.IoTCapability.7.LevelSensor.Value",
            &mut caps,
            &mut no_search
        ));
        assert!(!filter.match_param("Device.Node.1.", &mut caps, &mut no_search));
        assert!(!filter.match_param("Device.Node.2.Alias", &mut caps, &mut no_search));

        let search = p(r#"Device.IoTCapability.[Name=="r101-occ"].BinarySensor.Value"#);
        let mut seen = Vec::new();
        let mut check = |prefix: &str, _: &[Term]| {
            seen.push(prefix.to_owned());
            true
        };
        assert!(search.match_param("Device.IoTCapability.2.BinarySensor.Value", &mut caps, &mut check));
        assert_eq!(seen, vec!["Device.IoTCapability.2.".to_string()]);

        let table = p("Device.ProxiedDevice.");
        assert!(table.match_instance("Device.ProxiedDevice.3.", &mut caps, &mut no_search));
        assert!(!table.match_instance("Device.ProxiedDevice.3.Node.1.", &mut caps, &mut no_search));
        let inst = p("Device.ProxiedDevice.*.");
        assert!(inst.match_instance("Device.ProxiedDevice.3.", &mut caps, &mut no_search));
        let ev = p("Device.LocalAgent.Threshold.*.Triggered!");
        assert!(ev.match_object("Device.LocalAgent.Threshold.2.", &mut caps, &mut no_search));
        assert!(!ev.match_object("Device.LocalAgent.Threshold.2.X.", &mut caps, &mut no_search));
    }

    #[test]
    fn renders_actions_and_references() {
        let vars = |n: &str| -> Option<Cow<'static, str>> {
            match n {
                "room" => Some("101".into()),
                "node" => Some("2".into()),
                "evil" => Some("a\"]&&x==\"%".into()),
                "word" => Some("x]y".into()),
                _ => None,
            }
        };
        let pat = p(r#"Device.Node.{node}.IoTCapability.[Name=="r{room}-light"].BinaryControl.Value"#);
        assert_eq!(
            pat.render(&vars).unwrap(),
            r#"Device.Node.2.IoTCapability.[Name=="r101-light"].BinaryControl.Value"#
        );
        let evil = p(r#"Device.IoTCapability.[Name=="{evil}"].Toggle()"#);
        assert_eq!(
            evil.render(&vars).unwrap(),
            r#"Device.IoTCapability.[Name=="a%22]&&x==%22%25"].Toggle()"#
        );
        assert!(matches!(p("Device.Node.{room}.X").render(&vars), Ok(s) if s == "Device.Node.101.X"));
        assert!(matches!(p("Device.Node.{evil}.X").render(&vars), Err(RenderError::NotInstance { .. })));
        assert!(matches!(p("Device.Node.{gone}.X").render(&vars), Err(RenderError::Missing(_))));
        assert!(matches!(p("Device.Node.[Level>{word}].X").render(&vars), Err(RenderError::BadBare { .. })));
        // References for one Agent: agent captures filled, path captures wildcarded.
        let known = |n: &str| -> Option<Cow<'static, str>> { (n == "room").then(|| "101".into()) };
        assert_eq!(
            pat.reference(&known),
            "Device.Node.*.IoTCapability.[Name==\"r101-light\"].BinaryControl.Value"
        );
        let unknown = |_: &str| -> Option<Cow<'static, str>> { None };
        assert_eq!(pat.reference(&unknown), "Device.Node.*.IoTCapability.*.BinaryControl.Value");
        assert_eq!(p("Device.Boot!").reference(&unknown), "Device.Boot!");
        assert_eq!(p("Device.X.").render(&unknown).unwrap(), "Device.X.");
    }
}
