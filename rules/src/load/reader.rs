//! Typed reading of a spanned TOML tree, with exact errors.
//!
//! The file is parsed once into toml's span-carrying tree
//! ([`toml::de::DeTable`]); this module reads it the way a serde derive
//! would, but every error can point at the exact key or value, unknown keys
//! come with the closest known key, and a one-or-many value (a table or an
//! array of tables, a string or an array of strings) needs no untagged enum
//! that would lose the positions.

use std::{ops::Range, sync::Arc};

use toml::{
    Spanned,
    de::{DeTable, DeValue},
};

use super::{Lines, LoadError, LoadErrorKind};

/// Position bookkeeping for one file.
pub(crate) struct Cx<'s> {
    pub(crate) file: Arc<str>,
    pub(crate) src: &'s str,
    pub(crate) lines: Lines<'s>,
}

impl<'s> Cx<'s> {
    pub(crate) fn new(file: &str, src: &'s str) -> Cx<'s> {
        Cx { file: Arc::from(file), src, lines: Lines::new(src) }
    }

    /// An error at a byte offset of the file.
    pub(crate) fn err(&self, offset: usize, kind: LoadErrorKind) -> LoadError {
        let (line, column) = self.lines.position(offset);
        LoadError { file: self.file.clone(), line, column, kind }
    }

    /// The line of a byte offset.
    pub(crate) fn line(&self, offset: usize) -> usize {
        self.lines.position(offset).0
    }

    /// The file offset of byte `at` inside a string value whose TOML token
    /// spans `span`: exact for strings written without escapes, the start of
    /// the string otherwise.
    pub(crate) fn inside(&self, span: &Range<usize>, value: &str, at: usize) -> usize {
        let Some(raw) = self.src.get(span.clone()) else { return span.start };
        for q in ["\"\"\"", "'''", "\"", "'"] {
            if raw.len() >= 2 * q.len() && raw.starts_with(q) && raw.ends_with(q) {
                let inner = &raw[q.len()..raw.len() - q.len()];
                if inner == value {
                    return span.start + q.len() + at;
                }
                // A multi-line string drops the newline right after its opening quotes.
                if q.len() == 3 {
                    for nl in ["\n", "\r\n"] {
                        if inner.strip_prefix(nl) == Some(value) {
                            return span.start + q.len() + nl.len() + at;
                        }
                    }
                }
                return span.start;
            }
        }
        span.start
    }
}

/// A string value and where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Str<'a> {
    pub(crate) value: &'a str,
    pub(crate) span: Range<usize>,
}

/// A scalar written as a value: its text and whether it was a string (only
/// strings are templates; numbers and booleans are taken literally).
#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    pub(crate) text: String,
    pub(crate) is_string: bool,
    pub(crate) span: Range<usize>,
}

/// A table and where it was written, with a name for messages.
#[derive(Clone)]
pub(crate) struct Table<'a, 'i> {
    pub(crate) t: &'a DeTable<'i>,
    pub(crate) span: Range<usize>,
    pub(crate) what: String,
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Edit distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

impl<'a, 'i> Table<'a, 'i> {
    pub(crate) fn new(t: &'a Spanned<DeTable<'i>>, what: impl Into<String>) -> Table<'a, 'i> {
        Table { t: t.get_ref(), span: t.span(), what: what.into() }
    }

    /// Refuses keys not in `allowed`, naming the closest allowed key.
    pub(crate) fn check_keys(&self, cx: &Cx<'_>, allowed: &[&'static str]) -> Result<(), LoadError> {
        for (k, _) in self.t.iter() {
            let key: &str = k.get_ref();
            if !allowed.contains(&key) {
                let suggestion = allowed
                    .iter()
                    .map(|a| (distance(key, a), *a))
                    .filter(|(d, a)| *d <= 2.max(a.len() / 3))
                    .min_by_key(|(d, _)| *d)
                    .map(|(_, a)| a);
                return Err(cx.err(
                    k.span().start,
                    LoadErrorKind::UnknownKey {
                        key: key.to_owned(),
                        context: self.what.clone(),
                        expected: allowed.to_vec(),
                        suggestion,
                    },
                ));
            }
        }
        Ok(())
    }

    /// The value of a key and the key's span.
    pub(crate) fn get(&self, key: &str) -> Option<(&'a Spanned<DeValue<'i>>, Range<usize>)> {
        self.t.get_key_value(key).map(|(k, v)| (v, k.span()))
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.t.get(key).is_some()
    }

    fn wrong(&self, cx: &Cx<'_>, key: &str, v: &Spanned<DeValue<'_>>, expected: &'static str) -> LoadError {
        cx.err(
            v.span().start,
            LoadErrorKind::WrongType { key: key.to_owned(), expected, found: type_name(v.get_ref()) },
        )
    }

    /// A string value.
    pub(crate) fn str(&self, cx: &Cx<'_>, key: &str) -> Result<Option<Str<'a>>, LoadError> {
        match self.get(key) {
            None => Ok(None),
            Some((v, _)) => match v.get_ref() {
                DeValue::String(s) => Ok(Some(Str { value: s, span: v.span() })),
                _ => Err(self.wrong(cx, key, v, "a string")),
            },
        }
    }

    /// A boolean value.
    pub(crate) fn bool(&self, cx: &Cx<'_>, key: &str) -> Result<Option<bool>, LoadError> {
        match self.get(key) {
            None => Ok(None),
            Some((v, _)) => match v.get_ref() {
                DeValue::Boolean(b) => Ok(Some(*b)),
                _ => Err(self.wrong(cx, key, v, "true or false")),
            },
        }
    }

    /// A number (integer or float).
    pub(crate) fn number(&self, cx: &Cx<'_>, key: &str) -> Result<Option<(f64, Range<usize>)>, LoadError> {
        match self.get(key) {
            None => Ok(None),
            Some((v, _)) => {
                let n = match v.get_ref() {
                    DeValue::Integer(i) => {
                        i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok().map(|i| i as f64)
                    }
                    DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
                    _ => None,
                };
                match n {
                    Some(n) if n.is_finite() => Ok(Some((n, v.span()))),
                    _ => Err(self.wrong(cx, key, v, "a number")),
                }
            }
        }
    }

    /// A sub-table.
    pub(crate) fn table(
        &self,
        cx: &Cx<'_>,
        key: &str,
        what: String,
    ) -> Result<Option<Table<'a, 'i>>, LoadError> {
        match self.get(key) {
            None => Ok(None),
            Some((v, _)) => match v.get_ref() {
                DeValue::Table(t) => Ok(Some(Table { t, span: v.span(), what })),
                _ => Err(self.wrong(cx, key, v, "a table")),
            },
        }
    }

    /// A table or an array of tables (`[x]` or `[[x]]`, `x = {…}` or `x = [{…}, …]`).
    pub(crate) fn tables(&self, cx: &Cx<'_>, key: &str, what: &str) -> Result<Vec<Table<'a, 'i>>, LoadError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some((v, _)) => match v.get_ref() {
                DeValue::Table(t) => Ok(vec![Table { t, span: v.span(), what: what.to_owned() }]),
                DeValue::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(n, item)| match item.get_ref() {
                        DeValue::Table(t) => {
                            Ok(Table { t, span: item.span(), what: format!("{what} #{}", n + 1) })
                        }
                        _ => Err(self.wrong(cx, key, item, "a table")),
                    })
                    .collect(),
                _ => Err(self.wrong(cx, key, v, "a table or an array of tables")),
            },
        }
    }

    /// A string or an array of strings.
    pub(crate) fn strings(&self, cx: &Cx<'_>, key: &str) -> Result<Vec<Str<'a>>, LoadError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some((v, _)) => match v.get_ref() {
                DeValue::String(s) => Ok(vec![Str { value: s, span: v.span() }]),
                DeValue::Array(items) => items
                    .iter()
                    .map(|item| match item.get_ref() {
                        DeValue::String(s) => Ok(Str { value: s, span: item.span() }),
                        _ => Err(self.wrong(cx, key, item, "a string")),
                    })
                    .collect(),
                _ => Err(self.wrong(cx, key, v, "a string or an array of strings")),
            },
        }
    }

    /// A scalar (string, number or boolean), as text.
    pub(crate) fn scalar(&self, cx: &Cx<'_>, key: &str) -> Result<Option<Scalar>, LoadError> {
        match self.get(key) {
            None => Ok(None),
            Some((v, _)) => scalar_of(cx, key, v).map(Some),
        }
    }

    /// A table of scalars (`{ Value = 70, Mode = "Auto" }`), in file order.
    pub(crate) fn scalar_map(&self, cx: &Cx<'_>, key: &str) -> Result<Vec<(String, Scalar)>, LoadError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some((v, _)) => match v.get_ref() {
                DeValue::Table(t) => t
                    .iter()
                    .map(|(k, item)| Ok((k.get_ref().to_string(), scalar_of(cx, k.get_ref(), item)?)))
                    .collect(),
                _ => Err(self.wrong(cx, key, v, "a table of values")),
            },
        }
    }

    /// The entries of the table, with key spans.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&'a str, Range<usize>, &'a Spanned<DeValue<'i>>)> {
        self.t.iter().map(|(k, v)| (&**k.get_ref(), k.span(), v))
    }
}

/// A scalar value as text.
pub(crate) fn scalar_of(cx: &Cx<'_>, key: &str, v: &Spanned<DeValue<'_>>) -> Result<Scalar, LoadError> {
    let span = v.span();
    let (text, is_string) = match v.get_ref() {
        DeValue::String(s) => (s.to_string(), true),
        DeValue::Integer(i) => {
            let n = i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).map_err(|_| {
                cx.err(span.start, LoadErrorKind::Invalid(format!("{key:?}: integer out of range")))
            })?;
            (n.to_string(), false)
        }
        DeValue::Float(f) => {
            let n: f64 = f.as_str().replace('_', "").parse().map_err(|_| {
                cx.err(span.start, LoadErrorKind::Invalid(format!("{key:?}: malformed float")))
            })?;
            if !n.is_finite() {
                return Err(cx.err(
                    span.start,
                    LoadErrorKind::Invalid(format!("{key:?}: inf and nan are not values")),
                ));
            }
            (n.to_string(), false)
        }
        DeValue::Boolean(b) => (b.to_string(), false),
        other => {
            return Err(cx.err(
                span.start,
                LoadErrorKind::WrongType {
                    key: key.to_owned(),
                    expected: "a string, number or boolean",
                    found: type_name(other),
                },
            ));
        }
    };
    Ok(Scalar { text, is_string, span })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_close_keys() {
        assert_eq!(distance("fro", "for"), 2);
        assert_eq!(distance("cooldwon", "cooldown"), 2);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn positions_inside_strings() {
        let src = "a = \"xyz\"\nb = 'x\\y'\nc = \"x\\ty\"\nd = \"\"\"\nxyz\"\"\"\n";
        let cx = Cx::new("f", src);
        let t = DeTable::parse(src).unwrap();
        let tab = Table::new(&t, "file");
        let span = |k| tab.get(k).unwrap().0.span();
        assert_eq!(cx.inside(&span("a"), "xyz", 2), 7);
        assert_eq!(cx.inside(&span("b"), "x\\y", 1), 16);
        assert_eq!(cx.inside(&span("c"), "x\ty", 2), span("c").start, "escapes: the string's start");
        assert_eq!(cx.lines.position(cx.inside(&span("d"), "xyz", 1)), (5, 2));
    }
}
