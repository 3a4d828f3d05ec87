//! The path grammars USP uses, and which constructs each allows.
//!
//! One parser serves them all; the dialect only decides which instance
//! selectors and whether reference hops are accepted, and is checked at the
//! first character of each construct so the error points at it.

use std::fmt;

/// Which grammar a path was parsed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Instantiated Data Model paths (Get, Set, Add, Delete, Operate,
    /// GetInstances, subscriptions): instance numbers, `*`, `[expr]` and
    /// reference hops; no `{i}`.
    Instantiated,
    /// Supported Data Model paths (GetSupportedDM): `{i}` and instance
    /// numbers; no wildcards, searches or reference hops.
    Supported,
    /// Register / Deregister paths: object names only, no instance
    /// selectors at all.
    Registration,
    /// A relative parameter path (Set/Add `param`, `result_params` keys):
    /// names only.
    Relative,
}

impl Dialect {
    /// Whether `construct` may appear in a path of this dialect.
    pub fn allows(self, construct: Construct) -> bool {
        match self {
            Dialect::Instantiated => construct != Construct::AnyInstance,
            Dialect::Supported => matches!(construct, Construct::InstanceNumber | Construct::AnyInstance),
            Dialect::Registration | Dialect::Relative => false,
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Instantiated => "an instantiated data model path",
            Dialect::Supported => "a supported data model path",
            Dialect::Registration => "a Register/Deregister path",
            Dialect::Relative => "a relative parameter path",
        })
    }
}

/// A path construct that some dialects reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Construct {
    /// An instance number (`.3.`).
    InstanceNumber,
    /// The wildcard `*`.
    Wildcard,
    /// A search expression `[...]`.
    Search,
    /// `{i}`.
    AnyInstance,
    /// A reference hop (`Ref+`, `Ref#n+`, `Ref#*+`).
    Reference,
}

impl fmt::Display for Construct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Construct::InstanceNumber => "an instance number",
            Construct::Wildcard => "the wildcard '*'",
            Construct::Search => "a search expression '[...]'",
            Construct::AnyInstance => "'{i}'",
            Construct::Reference => "a reference hop ('+', '#n+', '#*+')",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Construct; 5] = [
        Construct::InstanceNumber,
        Construct::Wildcard,
        Construct::Search,
        Construct::AnyInstance,
        Construct::Reference,
    ];

    #[test]
    fn each_dialect_allows_exactly_its_constructs() {
        let allowed = |d: Dialect| ALL.into_iter().filter(|c| d.allows(*c)).collect::<Vec<_>>();
        assert_eq!(
            allowed(Dialect::Instantiated),
            [Construct::InstanceNumber, Construct::Wildcard, Construct::Search, Construct::Reference]
        );
        assert_eq!(allowed(Dialect::Supported), [Construct::InstanceNumber, Construct::AnyInstance]);
        assert!(allowed(Dialect::Registration).is_empty());
        assert!(allowed(Dialect::Relative).is_empty());
    }
}
