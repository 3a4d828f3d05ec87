//! Patterns a rule file writes: USP paths with captures, endpoint-id globs,
//! and `{name}` templates.

pub(crate) mod agent;
pub(crate) mod path;
pub(crate) mod template;

use std::sync::Arc;

use smallvec::SmallVec;

/// Names bound by a match (`room` → `101`), in the order they were matched.
pub(crate) type Captures = SmallVec<[(Arc<str>, Arc<str>); 4]>;

/// Why a pattern was refused: a byte offset into the pattern and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct PatternError {
    /// Byte offset of the problem in the pattern text.
    pub at: usize,
    /// What is wrong, for a person.
    pub reason: String,
}

impl PatternError {
    pub(crate) fn new(at: usize, reason: impl Into<String>) -> PatternError {
        PatternError { at, reason: reason.into() }
    }

    /// The same error, `by` bytes further into an enclosing text.
    pub(crate) fn shifted(mut self, by: usize) -> PatternError {
        self.at += by;
        self
    }
}
