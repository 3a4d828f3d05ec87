//! Typed views of the responses whose results are per object or per
//! command, so that a partial failure is a value to match on rather than a
//! nested oneof to dig out.
//!
//! Each response kind has its own module: [`add`], [`set`], [`delete`],
//! [`operate`]. A result whose `oper_status` oneof is missing (a malformed
//! response) is reported as a [`Failure`] with code 7000 and a message
//! saying so, so that it is never mistaken for a success.

use std::fmt;

use usp_proto::ErrCode;

pub mod add;
pub mod delete;
pub mod operate;
pub mod set;

pub use add::{AddOutcome, Created};
pub use delete::{DeleteOutcome, Deleted, PathFailure};
pub use operate::{CommandOutcome, CommandResult};
pub use set::{InstanceFailure, SetFailure, SetOutcome, Updated};

/// The failure of one object or command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The USP error code.
    pub code: ErrCode,
    /// The Agent's message.
    pub message: String,
}

impl Failure {
    pub(crate) fn new(code: u32, message: String) -> Failure {
        Failure { code: ErrCode(code), message }
    }

    /// The stand-in for a result without its `oper_status`.
    pub(crate) fn missing_status() -> Failure {
        Failure { code: ErrCode::MESSAGE_FAILED, message: "agent sent a result without oper_status".into() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// The failure of one parameter (name relative to its object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamFailure {
    /// The parameter, relative to the object.
    pub param: String,
    /// The USP error code.
    pub code: ErrCode,
    /// The Agent's message.
    pub message: String,
}
