//! The condition language of rule files (`if = "…"`).
//!
//! ```text
//! expr       := or
//! or         := and ( ("or" | "||") and )*
//! and        := unary ( ("and" | "&&") unary )*
//! unary      := ("not" | "!") unary | comparison
//! comparison := primary ( cmp-op primary | "in" list )?
//! primary    := NUMBER | STRING | TIME | "true" | "false" | reference | "(" expr ")"
//! list       := "[" constant ( "," constant )* "]"
//! cmp-op     := "==" | "!=" | "<" | "<=" | ">" | ">="
//! reference  := NAME ( "." ( NAME | POSNUM | "{" NAME "}" ) )*
//! NUMBER     := "-"? DIGITS ( "." DIGITS )?          26  -3.5
//! TIME       := H?H ":" MM ( ":" SS )?               22:00
//! STRING     := '"' ( [^"\\] | '\"' | '\\' )* '"'     "Auto"
//! ```
//!
//! Names: `value` (the trigger's new value), `previous` (the value cached
//! before it), `path`, `agent`, `time` (local time of day), `weekday`
//! (`"mon"`…`"sun"`), captures (`room`), the rule's named `values`,
//! `args.NAME` (event arguments, signal values), `keys.NAME` (unique keys of
//! a created object), and data-model paths of the trigger's Agent
//! (`Device.Node.4.IoTCapability.1.BinarySensor.Value`, read from the cache).
//! How values compare is described in [`value`].
//!
//! Examples: `value > 26`, `value == true and not window`,
//! `time >= 22:00 or time < 06:00`, `weekday in ["sat", "sun"]`.
//!
//! Limits, so that no input can exhaust the stack or memory: 4096 bytes of
//! text and 32 levels of `not`/parentheses.

mod ast;
pub(crate) mod compile;
mod lex;
mod parse;
mod print;
pub mod value;

pub use ast::{CmpOp, Expr, Literal, Operand, RefSeg, Reference, Span};
pub use compile::Check;
pub use parse::parse;
pub use value::Value;

/// Longest condition text accepted, in bytes.
pub const MAX_LEN: usize = 4096;
/// Deepest nesting of `not` and parentheses accepted.
pub const MAX_DEPTH: usize = 32;

/// Why a condition was refused: a byte offset into its text and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct ExprError {
    /// Byte offset of the problem.
    pub at: usize,
    /// What is wrong.
    pub kind: ExprErrorKind,
}

/// The reasons a condition can be refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprErrorKind {
    /// Nothing to parse.
    #[error("empty condition")]
    Empty,
    /// A character that starts no token.
    #[error("unexpected character {0:?}")]
    UnexpectedChar(char),
    /// `=` alone.
    #[error("`=` is not an operator; write `==` to compare")]
    SingleEquals,
    /// A string without its closing quote.
    #[error("unterminated string")]
    UnterminatedString,
    /// An escape other than `\"` and `\\`.
    #[error("unknown escape `\\{}` (only \\\" and \\\\ are escapes)", .0.map(String::from).unwrap_or_default())]
    BadEscape(Option<char>),
    /// A malformed number.
    #[error("malformed number")]
    BadNumber,
    /// A malformed time of day.
    #[error("malformed time of day; write HH:MM or HH:MM:SS")]
    BadTime,
    /// A malformed dotted name or data-model path.
    #[error(
        "malformed path: names, instance numbers or {{capture}} between the dots, a parameter at the end"
    )]
    BadPath,
    /// A token where another was expected.
    #[error("unexpected {found}, expected {expected}")]
    Unexpected {
        /// What was found.
        found: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// The text ended too early.
    #[error("unexpected end of the condition, expected {expected}")]
    UnexpectedEnd {
        /// What would have been accepted.
        expected: &'static str,
    },
    /// `in []`.
    #[error("empty list")]
    EmptyList,
    /// More than [`MAX_LEN`] bytes (or too many comparisons).
    #[error("condition too long")]
    TooLong,
    /// More than [`MAX_DEPTH`] levels of nesting.
    #[error("condition nested too deeply")]
    TooDeep,
    /// A name the rule does not provide.
    #[error("unknown name `{name}`; known names: {known}")]
    UnknownName {
        /// The name.
        name: String,
        /// The names this rule provides.
        known: String,
    },
    /// A `Device.…` read in a rule with a trigger that has no Agent.
    #[error(
        "this rule has a trigger without an Agent (schedule or signal); name the Agent in [rule.NAME.values]"
    )]
    NoAgent,
}

#[cfg(test)]
mod tests;
