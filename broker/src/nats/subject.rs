//! NATS subjects of a site, and the encoding that makes an Endpoint ID (or a
//! site or node name) one subject token.
//!
//! `.` separates NATS subject tokens, `*` and `>` are wildcards and
//! whitespace ends a subject, while Endpoint IDs are free to contain dots
//! (`os::00D09E-10.0.0.1`) and other characters. [`encode_token`] writes:
//!
//! * `A`–`Z`, `a`–`z`, `0`–`9` and `-` as they are;
//! * `:` as `_` (every Endpoint ID has two colons: `proto::room-101` stays
//!   readable as `proto__room-101`);
//! * every other byte of the UTF-8 text, `_` included, as `=` and two
//!   upper-case hex digits (`.` → `=2E`).
//!
//! The result uses only `[A-Za-z0-9_=-]`: never `.`, `*`, `>` or whitespace,
//! so it is one subject token, and also a valid JetStream KV key (the
//! registry's keys are encoded Endpoint IDs). The mapping is injective and
//! [`decode_token`] inverts it; an empty text has no token (an empty subject
//! token is invalid).

use std::fmt::Write as _;

/// Why a subject token cannot be decoded (or an empty text encoded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The text is empty: an empty subject token is not allowed.
    #[error("empty subject token")]
    Empty,
    /// The token holds a character the encoding never writes.
    #[error("character {0:?} is not produced by the encoding")]
    BadChar(char),
    /// A `=` not followed by two hex digits.
    #[error("truncated or invalid '=' escape")]
    BadEscape,
    /// The decoded bytes are not UTF-8.
    #[error("decoded token is not UTF-8")]
    NotUtf8,
}

fn unescaped(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// Appends the token for `text` to `out`.
pub fn push_token(out: &mut String, text: &str) -> Result<(), TokenError> {
    if text.is_empty() {
        return Err(TokenError::Empty);
    }
    out.reserve(text.len());
    for &b in text.as_bytes() {
        if unescaped(b) {
            out.push(char::from(b));
        } else if b == b':' {
            out.push('_');
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "={b:02X}");
        }
    }
    Ok(())
}

/// The subject token for `text` (an Endpoint ID, a site or a node name).
///
/// ```
/// use usp_broker::nats::subject::encode_token;
/// assert_eq!(encode_token("proto::room-101").unwrap(), "proto__room-101");
/// assert_eq!(encode_token("os::00D09E-10.0.0.1").unwrap(), "os__00D09E-10=2E0=2E0=2E1");
/// ```
pub fn encode_token(text: &str) -> Result<String, TokenError> {
    let mut out = String::new();
    push_token(&mut out, text)?;
    Ok(out)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The text a token stands for.
pub fn decode_token(token: &str) -> Result<String, TokenError> {
    if token.is_empty() {
        return Err(TokenError::Empty);
    }
    let mut bytes = Vec::with_capacity(token.len());
    let mut rest = token.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'_' => bytes.push(b':'),
            b'=' => {
                let (Some(hi), Some(lo)) =
                    (rest.first().copied().and_then(hex), rest.get(1).copied().and_then(hex))
                else {
                    return Err(TokenError::BadEscape);
                };
                let decoded = hi << 4 | lo;
                // Only the canonical form decodes, so the mapping stays a
                // bijection: a character written plainly is never escaped.
                if unescaped(decoded) || decoded == b':' {
                    return Err(TokenError::BadEscape);
                }
                bytes.push(decoded);
                rest = &rest[2..];
            }
            b if unescaped(b) => bytes.push(b),
            other => {
                let at = token.len() - rest.len() - 1;
                let c = token.get(at..).and_then(|t| t.chars().next()).unwrap_or(char::from(other));
                return Err(TokenError::BadChar(c));
            }
        }
    }
    String::from_utf8(bytes).map_err(|_| TokenError::NotUtf8)
}

/// The subjects of one site, with the site token computed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    /// `usp.<site>`.
    root: String,
}

impl Subjects {
    /// The subjects of `site`.
    pub fn new(site: &str) -> Result<Subjects, TokenError> {
        let mut root = String::from("usp.");
        push_token(&mut root, site)?;
        Ok(Subjects { root })
    }

    /// `usp.<site>`.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// `usp.<site>.ep.<eid>`: Records for the endpoint `eid`.
    pub fn endpoint(&self, eid: &str) -> Result<String, TokenError> {
        let mut s = String::with_capacity(self.root.len() + 4 + eid.len() + 8);
        s.push_str(&self.root);
        s.push_str(".ep.");
        push_token(&mut s, eid)?;
        Ok(s)
    }

    /// `usp.<site>.notify.<eid>.<kind>`: a site event raised by `eid`.
    pub fn notify(&self, eid: &str, kind: &str) -> Result<String, TokenError> {
        let mut s = self.notify_prefix();
        push_token(&mut s, eid)?;
        s.push('.');
        push_token(&mut s, kind)?;
        Ok(s)
    }

    /// `usp.<site>.notify.`, the prefix of every event subject.
    fn notify_prefix(&self) -> String {
        format!("{}.notify.", self.root)
    }

    /// `usp.<site>.notify.>`: every event of the site (the stream's subject).
    pub fn notify_all(&self) -> String {
        format!("{}.notify.>", self.root)
    }

    /// `usp.<site>.rules`: rule work, taken by one member of a queue group.
    pub fn rules(&self) -> String {
        format!("{}.rules", self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn subjects_of_a_site() {
        let s = Subjects::new("hq.north").unwrap();
        assert_eq!(s.root(), "usp.hq=2Enorth");
        assert_eq!(s.endpoint("proto::a.b").unwrap(), "usp.hq=2Enorth.ep.proto__a=2Eb");
        assert_eq!(s.notify("os::x", "value_change").unwrap(), "usp.hq=2Enorth.notify.os__x.value=5Fchange");
        assert_eq!(s.notify_all(), "usp.hq=2Enorth.notify.>");
        assert_eq!(s.rules(), "usp.hq=2Enorth.rules");
        assert_eq!(s.endpoint(""), Err(TokenError::Empty));
    }

    #[test]
    fn refuses_non_canonical_and_foreign_tokens() {
        assert_eq!(decode_token("a=41"), Err(TokenError::BadEscape), "'A' is never escaped");
        assert_eq!(decode_token("a=3A"), Err(TokenError::BadEscape), "':' is written '_'");
        assert_eq!(decode_token("a=2"), Err(TokenError::BadEscape));
        assert_eq!(decode_token("a=2e"), Err(TokenError::BadEscape), "upper-case hex only");
        assert_eq!(decode_token("a.b"), Err(TokenError::BadChar('.')));
        assert_eq!(decode_token("é"), Err(TokenError::BadChar('é')));
        assert_eq!(decode_token("=C3"), Err(TokenError::NotUtf8));
        assert_eq!(decode_token(""), Err(TokenError::Empty));
    }

    proptest! {
        #[test]
        fn round_trips_and_is_one_safe_token(text in "\\PC{1,40}|[a-z:.*> _=%-]{1,20}") {
            let token = encode_token(&text).unwrap();
            prop_assert!(!token.is_empty());
            prop_assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"_=-".contains(&b)),
                "{token:?} is one token and a KV key");
            prop_assert_eq!(decode_token(&token).unwrap(), text);
        }

        #[test]
        fn distinct_texts_get_distinct_tokens(a in "[a-z:._=-]{1,8}", b in "[a-z:._=-]{1,8}") {
            prop_assume!(a != b);
            prop_assert_ne!(encode_token(&a).unwrap(), encode_token(&b).unwrap());
        }

        #[test]
        fn decoding_never_panics(token in "\\PC{0,30}") {
            let _ = decode_token(&token);
        }
    }
}
