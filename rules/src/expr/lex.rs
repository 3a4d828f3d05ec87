//! Tokens of the condition language.

use super::{
    ExprError, ExprErrorKind,
    ast::{RefSeg, Span},
};
use crate::time::TimeOfDay;

/// A token and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: Tok,
    pub(crate) span: Span,
}

/// Token kinds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Num(f64),
    Str(String),
    Time(TimeOfDay),
    Ref(Vec<RefSeg>),
    True,
    False,
    And,
    Or,
    Not,
    In,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
}

impl Tok {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Num(n) => format!("number {n}"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Time(t) => format!("time {t}"),
            Tok::Ref(_) => "a name".into(),
            Tok::True => "`true`".into(),
            Tok::False => "`false`".into(),
            Tok::And => "`and`".into(),
            Tok::Or => "`or`".into(),
            Tok::Not => "`not`".into(),
            Tok::In => "`in`".into(),
            Tok::Eq => "`==`".into(),
            Tok::Ne => "`!=`".into(),
            Tok::Lt => "`<`".into(),
            Tok::Le => "`<=`".into(),
            Tok::Gt => "`>`".into(),
            Tok::Ge => "`>=`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::Comma => "`,`".into(),
        }
    }
}

fn err(at: usize, kind: ExprErrorKind) -> ExprError {
    ExprError { at, kind }
}

fn ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Splits an expression into tokens.
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, ExprError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let single = |kind| Token { kind, span: Span { start, end: start + 1 } };
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push(single(Tok::LParen));
                i += 1;
            }
            b')' => {
                out.push(single(Tok::RParen));
                i += 1;
            }
            b'[' => {
                out.push(single(Tok::LBracket));
                i += 1;
            }
            b']' => {
                out.push(single(Tok::RBracket));
                i += 1;
            }
            b',' => {
                out.push(single(Tok::Comma));
                i += 1;
            }
            b'=' | b'!' | b'<' | b'>' | b'&' | b'|' => {
                let next = b.get(i + 1).copied();
                let (kind, len) = match (c, next) {
                    (b'=', Some(b'=')) => (Tok::Eq, 2),
                    (b'!', Some(b'=')) => (Tok::Ne, 2),
                    (b'<', Some(b'=')) => (Tok::Le, 2),
                    (b'>', Some(b'=')) => (Tok::Ge, 2),
                    (b'&', Some(b'&')) => (Tok::And, 2),
                    (b'|', Some(b'|')) => (Tok::Or, 2),
                    (b'!', _) => (Tok::Not, 1),
                    (b'<', _) => (Tok::Lt, 1),
                    (b'>', _) => (Tok::Gt, 1),
                    (b'=', _) => return Err(err(i, ExprErrorKind::SingleEquals)),
                    _ => return Err(err(i, ExprErrorKind::UnexpectedChar(char::from(c)))),
                };
                out.push(Token { kind, span: Span { start, end: start + len } });
                i += len;
            }
            b'"' => {
                i += 1;
                let mut s = String::new();
                loop {
                    let Some(&c) = b.get(i) else {
                        return Err(err(start, ExprErrorKind::UnterminatedString));
                    };
                    match c {
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\\' => match b.get(i + 1) {
                            Some(b'"') => {
                                s.push('"');
                                i += 2;
                            }
                            Some(b'\\') => {
                                s.push('\\');
                                i += 2;
                            }
                            _ => {
                                let ch = text[i + 1..].chars().next();
                                return Err(err(i, ExprErrorKind::BadEscape(ch)));
                            }
                        },
                        _ => {
                            let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
                            s.push_str(&text[i..i + ch_len]);
                            i += ch_len;
                        }
                    }
                }
                out.push(Token { kind: Tok::Str(s), span: Span { start, end: i } });
            }
            b'-' | b'0'..=b'9' => {
                if c == b'-' {
                    i += 1;
                    if !b.get(i).is_some_and(u8::is_ascii_digit) {
                        return Err(err(start, ExprErrorKind::BadNumber));
                    }
                }
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                let kind = if c != b'-' && b.get(i) == Some(&b':') {
                    // HH:MM or HH:MM:SS
                    i += 1;
                    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b':') {
                        i += 1;
                    }
                    let t =
                        TimeOfDay::parse(&text[start..i]).map_err(|_| err(start, ExprErrorKind::BadTime))?;
                    Tok::Time(t)
                } else {
                    if b.get(i) == Some(&b'.') {
                        i += 1;
                        if !b.get(i).is_some_and(u8::is_ascii_digit) {
                            return Err(err(start, ExprErrorKind::BadNumber));
                        }
                        while b.get(i).is_some_and(u8::is_ascii_digit) {
                            i += 1;
                        }
                    }
                    let n: f64 = text[start..i].parse().map_err(|_| err(start, ExprErrorKind::BadNumber))?;
                    if !n.is_finite() {
                        return Err(err(start, ExprErrorKind::BadNumber));
                    }
                    Tok::Num(n)
                };
                if b.get(i).is_some_and(|c| ident_char(*c) || *c == b'.') {
                    return Err(err(start, ExprErrorKind::BadNumber));
                }
                out.push(Token { kind, span: Span { start, end: i } });
            }
            c if ident_start(c) => {
                let mut segs = Vec::new();
                while i < b.len() && ident_char(b[i]) {
                    i += 1;
                }
                segs.push(RefSeg::Name(text[start..i].to_owned()));
                // Further dotted parts: names, instance numbers, `{capture}`.
                while b.get(i) == Some(&b'.') {
                    let s = i + 1;
                    match b.get(s) {
                        Some(c) if ident_start(*c) => {
                            i = s;
                            while i < b.len() && ident_char(b[i]) {
                                i += 1;
                            }
                            segs.push(RefSeg::Name(text[s..i].to_owned()));
                        }
                        Some(c) if c.is_ascii_digit() => {
                            i = s;
                            while b.get(i).is_some_and(u8::is_ascii_digit) {
                                i += 1;
                            }
                            let n: u32 = text[s..i].parse().map_err(|_| err(s, ExprErrorKind::BadPath))?;
                            if n == 0 || text[s..i].starts_with('0') {
                                return Err(err(s, ExprErrorKind::BadPath));
                            }
                            segs.push(RefSeg::Index(n));
                        }
                        Some(b'{') => {
                            let close =
                                text[s..].find('}').map(|e| s + e).ok_or(err(s, ExprErrorKind::BadPath))?;
                            let name = &text[s + 1..close];
                            if !name.bytes().next().is_some_and(ident_start) || !name.bytes().all(ident_char)
                            {
                                return Err(err(s, ExprErrorKind::BadPath));
                            }
                            segs.push(RefSeg::Capture(name.to_owned()));
                            i = close + 1;
                        }
                        _ => return Err(err(s, ExprErrorKind::BadPath)),
                    }
                }
                let span = Span { start, end: i };
                let kind = match segs.as_slice() {
                    [RefSeg::Name(n)] => match n.as_str() {
                        "true" => Tok::True,
                        "false" => Tok::False,
                        "and" => Tok::And,
                        "or" => Tok::Or,
                        "not" => Tok::Not,
                        "in" => Tok::In,
                        _ => Tok::Ref(segs),
                    },
                    _ => Tok::Ref(segs),
                };
                out.push(Token { kind, span });
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return Err(err(i, ExprErrorKind::UnexpectedChar(ch)));
            }
        }
    }
    Ok(out)
}
