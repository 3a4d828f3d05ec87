//! USP Endpoint IDs (TR-369 "Endpoint Identifier").
//!
//! Form: `authority-scheme ":" [authority-id] ":" instance-id`, always with
//! two colons (`self::rules`, `oui:00256D:gw-42`). The `instance-id` may hold
//! `A–Z a–z 0–9 - . _` and `%HH` escapes only (R-ARC.5); it may itself
//! contain `:` for some schemes in the wild, so only the first two colons
//! split.
//!
//! Choice: the scheme must be one of TR-369's, and the 50-character limit
//! of R-ARC.6 is reported by [`EndpointId::is_within_length_limit`] rather
//! than enforced, because deployed agents exceed it and refusing their
//! traffic helps no one.

use std::fmt;

/// Authority schemes defined by TR-369.
pub const SCHEMES: &[&str] =
    &["oui", "cid", "pen", "self", "user", "os", "ops", "uuid", "imei", "proto", "doc", "fqdn"];

/// Why a string is not an Endpoint ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointIdError {
    /// Fewer than two `:` separators.
    #[error("endpoint id {0:?} is not of the form scheme:authority:instance")]
    Form(String),
    /// The authority scheme is not one of TR-369's.
    #[error("endpoint id {id:?} has unknown authority scheme {scheme:?}")]
    Scheme {
        /// The whole id.
        id: String,
        /// The scheme found.
        scheme: String,
    },
    /// The instance id is empty or holds a character R-ARC.5 does not allow.
    #[error("endpoint id {0:?} has an empty instance id or a character other than A-Z a-z 0-9 - . _ %HH")]
    Instance(String),
}

/// A validated Endpoint ID, borrowed from the string it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EndpointId<'a> {
    full: &'a str,
    scheme: &'a str,
    authority: &'a str,
    instance: &'a str,
}

impl<'a> EndpointId<'a> {
    /// Parses and validates an Endpoint ID.
    pub fn parse(id: &'a str) -> Result<EndpointId<'a>, EndpointIdError> {
        let mut parts = id.splitn(3, ':');
        let (Some(scheme), Some(authority), Some(instance)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(EndpointIdError::Form(id.to_owned()));
        };
        if !SCHEMES.contains(&scheme) {
            return Err(EndpointIdError::Scheme { id: id.to_owned(), scheme: scheme.to_owned() });
        }
        if instance.is_empty() || !valid_instance(instance) {
            return Err(EndpointIdError::Instance(id.to_owned()));
        }
        Ok(EndpointId { full: id, scheme, authority, instance })
    }

    /// The whole id.
    pub fn as_str(&self) -> &'a str {
        self.full
    }

    /// The authority scheme (`oui`, `self`, `proto`, ...).
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// The authority id (may be empty).
    pub fn authority(&self) -> &'a str {
        self.authority
    }

    /// The instance id.
    pub fn instance(&self) -> &'a str {
        self.instance
    }

    /// True when the instance id respects R-ARC.6 (at most 50 characters).
    pub fn is_within_length_limit(&self) -> bool {
        self.instance.len() <= 50
    }
}

impl fmt::Display for EndpointId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.full)
    }
}

fn valid_instance(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b':' => i += 1,
            b'%' if b.len() > i + 2 && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit() => i += 3,
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_spec_examples() {
        for id in [
            "proto::room-101",
            "self::site1-rules",
            "oui:00256D:my-unique-bbf-id-42",
            "os::00256D-0123456789",
            "uuid::f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
            "fqdn::www.example.org",
            "oui:00D0B8:LS200-AX0042",
            "user::hall%20panel",
        ] {
            let parsed = EndpointId::parse(id).unwrap();
            assert_eq!(parsed.as_str(), id);
        }
        let id = EndpointId::parse("oui:00256D:gw-42").unwrap();
        assert_eq!((id.scheme(), id.authority(), id.instance()), ("oui", "00256D", "gw-42"));
    }

    #[test]
    fn refuses_malformed_ids() {
        assert!(matches!(EndpointId::parse("room-101"), Err(EndpointIdError::Form(_))));
        assert!(matches!(EndpointId::parse("abc:x:y"), Err(EndpointIdError::Scheme { .. })));
        assert!(matches!(EndpointId::parse("proto::"), Err(EndpointIdError::Instance(_))));
        assert!(matches!(EndpointId::parse("proto::a b"), Err(EndpointIdError::Instance(_))));
        assert!(matches!(EndpointId::parse("proto::a%2"), Err(EndpointIdError::Instance(_))));
        assert!(!EndpointId::parse(&format!("self::{}", "a".repeat(51))).unwrap().is_within_length_limit());
    }
}
