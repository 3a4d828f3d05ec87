//! Why a string is not a valid Path Name, and where.
//!
//! Every syntax error maps to USP error 7008 (Invalid path syntax, step 1 of
//! the resolution algorithm in `paths.md` §6); the kinds exist so that the
//! message an Agent sends back (`err_msg`) says what is wrong, and so tests
//! can tell one mistake from another.

use std::fmt;

use usp_proto::ErrCode;

use super::dialect::{Construct, Dialect};

/// A Path Name that does not follow the grammar: what is wrong and the byte
/// offset in the input where it was noticed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid path syntax at byte {offset}: {kind}")]
pub struct PathError {
    kind: PathErrorKind,
    offset: usize,
}

impl PathError {
    pub(super) fn new(kind: PathErrorKind, offset: usize) -> PathError {
        PathError { kind, offset }
    }

    /// What is wrong.
    pub fn kind(&self) -> &PathErrorKind {
        &self.kind
    }

    /// Byte offset into the input where the problem was found (the input's
    /// length when it ended too early, except for an unclosed `[` or `"`,
    /// which point at the opening character).
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The USP error code for a syntax error: always 7008
    /// (`INVALID_PATH_SYNTAX`).
    pub fn code(&self) -> ErrCode {
        ErrCode::INVALID_PATH_SYNTAX
    }
}

/// The kinds of Path Name syntax error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathErrorKind {
    /// The input is empty.
    #[error("the path is empty")]
    Empty,
    /// A name (`[A-Za-z_][A-Za-z0-9_]*`) was required here.
    #[error("expected a name (a letter or '_', then letters, digits or '_'), found {}", Found(*.found))]
    ExpectedName {
        /// The character found instead, `None` at the end of the input.
        found: Option<char>,
    },
    /// A name starts with a digit (`Device.1abc.`, `[2G.Enable==1]`).
    #[error("a name cannot start with a digit")]
    NameStartsWithDigit,
    /// Something other than what the grammar allows at this point.
    #[error("expected {expected}, found {}", Found(*.found))]
    Unexpected {
        /// The character found, `None` at the end of the input.
        found: Option<char>,
        /// What would have been valid here.
        expected: Expected,
    },
    /// An instance number or list index `0`; both start at 1.
    #[error("instance numbers and reference indexes start at 1; 0 is not valid")]
    ZeroNumber,
    /// An instance number or list index written with a leading zero (`01`).
    #[error("a number cannot have leading zeros")]
    LeadingZero,
    /// An instance number or list index above 4294967295.
    #[error("the number is larger than 4294967295")]
    NumberTooLarge,
    /// An instance selector that does not follow an object name: right
    /// after the root object, after another selector, or after a reference
    /// hop (`Device.1.`, `Table.1.2.`, `Ref+.3.`).
    #[error("an instance selector must follow the name of a multi-instance object")]
    MisplacedInstance,
    /// `{` not starting `{i}`.
    #[error("'{{' must start '{{i}}'")]
    MalformedAnyInstance,
    /// A construct the path's dialect does not allow, e.g. `{i}` in an
    /// instantiated path, `*` in a Supported-DM path, an instance number in
    /// a Register path.
    #[error("{construct} not allowed in {dialect}")]
    NotAllowed {
        /// What was found.
        construct: Construct,
        /// The grammar the path was parsed with.
        dialect: Dialect,
    },
    /// `[]`: a search expression needs at least one term.
    #[error("empty search expression '[]'")]
    EmptyExpression,
    /// A `[` without its `]` (the offset is the `[`'s).
    #[error("'[' is never closed by ']'")]
    UnterminatedExpression,
    /// A `"` without its closing `"` (the offset is the opening quote's).
    #[error("string literal is never closed by '\"'")]
    UnterminatedLiteral,
    /// `=` where `==` was meant (`[Name="x"]`).
    #[error("'=' is not an operator; equality is '=='")]
    SingleEquals,
    /// `||`: USP search expressions have no OR, only `&&`.
    #[error("'||' is not an operator; search expressions only join terms with '&&'")]
    OrOperator,
    /// An operator with no constant after it (`[Value>]`, `[A==&&B==1]`).
    #[error("missing constant after the operator")]
    MissingConstant,
}

/// What the grammar would have accepted where an
/// [`PathErrorKind::Unexpected`] character was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expected {
    /// `.` (after the root name, an instance selector or a reference hop).
    Dot,
    /// What may follow a name in a path: `.`, `()`, `!`, `+`, `#` or the
    /// end of the path.
    AfterName,
    /// `.` or the end of a relative path.
    DotOrEnd,
    /// The end of the input (after `()` or `!`).
    End,
    /// `)` completing `()`.
    CloseParen,
    /// A positive number or `*` after `#`.
    RefIndex,
    /// `+` completing `#n+` or `#*+`.
    Plus,
    /// A comparison operator (`==`, `!=`, `~=`, `<`, `>`, `<=`, `>=`).
    Operator,
    /// `&&` or `]` after a search term.
    AndOrClose,
    /// A constant: a quoted literal or an unquoted value, which cannot
    /// start with an operator character.
    Constant,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::Dot => "'.'",
            Expected::AfterName => "'.', '()', '!', '+', '#' or the end of the path",
            Expected::DotOrEnd => "'.' or the end of the path",
            Expected::End => "the end of the path",
            Expected::CloseParen => "')'",
            Expected::RefIndex => "a positive number or '*' after '#'",
            Expected::Plus => "'+'",
            Expected::Operator => "an operator (==, !=, ~=, <, >, <=, >=)",
            Expected::AndOrClose => "'&&' or ']'",
            Expected::Constant => "a constant (\"literal\" or an unquoted value not starting with = < > ! ~)",
        })
    }
}

/// Formats a found character, or the end of input, for error messages.
struct Found(Option<char>);

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(c) => write!(f, "{c:?}"),
            None => f.write_str("the end of the path"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_invalid_path_syntax() {
        let e = PathError::new(PathErrorKind::Empty, 0);
        assert_eq!(e.code(), ErrCode::INVALID_PATH_SYNTAX);
        assert_eq!(e.code().0, 7008);
    }

    #[test]
    fn message_names_the_problem_and_offset() {
        let e =
            PathError::new(PathErrorKind::Unexpected { found: Some('-'), expected: Expected::AfterName }, 10);
        assert_eq!(
            e.to_string(),
            "invalid path syntax at byte 10: expected '.', '()', '!', '+', '#' or the end of the path, found '-'"
        );
        let e = PathError::new(PathErrorKind::ExpectedName { found: None }, 7);
        assert_eq!(
            e.to_string(),
            "invalid path syntax at byte 7: expected a name (a letter or '_', then letters, digits or '_'), \
             found the end of the path"
        );
        let e = PathError::new(
            PathErrorKind::NotAllowed { construct: Construct::AnyInstance, dialect: Dialect::Instantiated },
            21,
        );
        assert_eq!(
            e.to_string(),
            "invalid path syntax at byte 21: '{i}' not allowed in an instantiated data model path"
        );
    }
}
