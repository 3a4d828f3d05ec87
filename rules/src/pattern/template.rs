//! Strings with `{name}` placeholders, filled in from the trigger.
//!
//! ```text
//! "proto::room-{room}"      → "proto::room-101"       (a capture)
//! "{value}"                 → "27.5"                  (the trigger's value)
//! "{args.Cause}"            → "RemoteReboot"          (an event argument)
//! "{{literal braces}}"      → "{literal braces}"
//! ```
//!
//! Names are checked against what the rule's triggers provide when the rule
//! is compiled, so a typo is a load error, not a silent empty string.

use std::{borrow::Cow, fmt};

use super::PatternError;

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// Text copied as is.
    Lit(String),
    /// A placeholder: the variable's name and its byte offset in the template.
    Var(String, usize),
}

impl Template {
    /// Parses `text`; `{{` and `}}` stand for literal braces.
    pub(crate) fn parse(text: &str) -> Result<Template, PatternError> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'{' if b.get(i + 1) == Some(&b'{') => {
                    lit.push('{');
                    i += 2;
                }
                b'}' if b.get(i + 1) == Some(&b'}') => {
                    lit.push('}');
                    i += 2;
                }
                b'{' => {
                    let start = i + 1;
                    let end = text[start..].find('}').map(|e| start + e).ok_or_else(|| {
                        PatternError::new(i, "unclosed `{` (write `{{` for a literal brace)")
                    })?;
                    let name = &text[start..end];
                    if !is_var_name(name) {
                        return Err(PatternError::new(
                            start,
                            format!(
                                "bad placeholder name {name:?}: letters, digits, `_`, and one `.` as in `args.Cause`"
                            ),
                        ));
                    }
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Var(name.to_owned(), start));
                    i = end + 1;
                }
                b'}' => return Err(PatternError::new(i, "lone `}` (write `}}` for a literal brace)")),
                _ => {
                    // Copy one whole UTF-8 character.
                    let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
                    lit.push_str(&text[i..i + ch_len]);
                    i += ch_len;
                }
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template { parts })
    }

    /// A template that is just `text`, no placeholders.
    pub(crate) fn literal(text: impl Into<String>) -> Template {
        let text = text.into();
        Template { parts: if text.is_empty() { Vec::new() } else { vec![Part::Lit(text)] } }
    }

    /// Whether the template is exactly `{name}`.
    pub(crate) fn is_var(&self, name: &str) -> bool {
        matches!(self.parts.as_slice(), [Part::Var(n, _)] if n == name)
    }

    /// The parts, in order.
    pub(crate) fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The placeholders with their offsets.
    pub(crate) fn vars(&self) -> impl Iterator<Item = (&str, usize)> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(n, at) => Some((n.as_str(), *at)),
            Part::Lit(_) => None,
        })
    }

    /// The text when there are no placeholders.
    pub(crate) fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Lit(s)] => Some(s),
            _ => None,
        }
    }

    /// Fills the placeholders; `None` when a variable has no value.
    pub(crate) fn render<'v>(&self, vars: &dyn Fn(&str) -> Option<Cow<'v, str>>) -> Option<String> {
        let mut out = String::new();
        self.render_into(&mut out, vars, |out, v| out.push_str(v))?;
        Some(out)
    }

    /// Fills the placeholders into `out`, passing each value through
    /// `escape` (literal text is copied as is).
    pub(crate) fn render_into<'v>(
        &self,
        out: &mut String,
        vars: &dyn Fn(&str) -> Option<Cow<'v, str>>,
        escape: impl Fn(&mut String, &str),
    ) -> Option<()> {
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Var(n, _) => escape(out, &vars(n)?),
            }
        }
        Some(())
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.parts {
            match p {
                Part::Lit(s) => f.write_str(&s.replace('{', "{{").replace('}', "}}"))?,
                Part::Var(n, _) => write!(f, "{{{n}}}")?,
            }
        }
        Ok(())
    }
}

/// `ident` or `ident.ident` (the second part may start with a digit).
pub(crate) fn is_var_name(name: &str) -> bool {
    let (head, tail) = match name.split_once('.') {
        Some((h, t)) => (h, Some(t)),
        None => (name, None),
    };
    let ident = |s: &str| {
        s.bytes().next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
            && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
    };
    ident(head)
        && tail.is_none_or(|t| !t.is_empty() && t.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<Cow<'static, str>> {
        match name {
            "room" => Some("101".into()),
            "args.Cause" => Some("RemoteReboot".into()),
            _ => None,
        }
    }

    #[test]
    fn renders_and_escapes_braces() {
        let t = Template::parse("proto::room-{room}").unwrap();
        assert_eq!(t.render(&vars).as_deref(), Some("proto::room-101"));
        assert_eq!(t.vars().collect::<Vec<_>>(), vec![("room", 13)]);
        let t = Template::parse("{{x}} {args.Cause}").unwrap();
        assert_eq!(t.render(&vars).as_deref(), Some("{x} RemoteReboot"));
        assert_eq!(t.to_string(), "{{x}} {args.Cause}");
        assert_eq!(Template::parse("{nope}").unwrap().render(&vars), None);
        assert_eq!(Template::parse("plain").unwrap().as_literal(), Some("plain"));
        assert_eq!(Template::parse("é{room}").unwrap().render(&vars).as_deref(), Some("é101"));
    }

    #[test]
    fn refuses_bad_placeholders_with_offsets() {
        assert_eq!(Template::parse("a{room").unwrap_err().at, 1);
        assert_eq!(Template::parse("a}b").unwrap_err().at, 1);
        assert_eq!(Template::parse("a{1x}").unwrap_err().at, 2);
        assert_eq!(Template::parse("a{}").unwrap_err().at, 2);
        assert_eq!(Template::parse("{a.b.c}").unwrap_err().at, 1);
    }
}
