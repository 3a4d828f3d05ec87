//! Why a request did not produce the response it asked for.

use std::time::Duration;

use usp_proto::{ErrCode, MsgKind, usp::error::ParamError};

use crate::mtp::LinkError;

/// The failure of one request.
///
/// "Errors are data": the Agent's answer keeps its USP code (and, for
/// Add/Set/Delete with `allow_partial = false`, its per-parameter errors);
/// local failures say what happened without a code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UspError {
    /// The Agent answered with an Error message, or (for the helpers that
    /// send one path and expect one result) with a failed per-path result.
    #[error("agent answered {code}: {message}")]
    Agent {
        /// The USP error code.
        code: ErrCode,
        /// The Agent's `err_msg`.
        message: String,
        /// `Error.param_errs`: the failing objects or parameters (full paths).
        param_errs: Vec<ParamError>,
    },
    /// No answer arrived within the request's timeout.
    #[error("no response within {0:?}")]
    Timeout(Duration),
    /// The answer carried the request's msg_id but another response type.
    #[error("expected a {expected:?} response, got {got:?}")]
    UnexpectedResponse {
        /// The response kind that answers the request.
        expected: MsgKind,
        /// The kind received.
        got: MsgKind,
    },
    /// The Agent answered with a result the specification does not allow
    /// (for example a GetResp without the requested path).
    #[error("malformed response: {0}")]
    MalformedResponse(&'static str),
    /// The request could not be sent.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The client was shut down (its link closed) before an answer came.
    #[error("the controller client stopped")]
    Closed,
}

impl UspError {
    /// The USP error code, when the failure came from the Agent.
    pub fn code(&self) -> Option<ErrCode> {
        match self {
            UspError::Agent { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// An Agent failure with no parameter details.
    pub(crate) fn agent(code: impl Into<ErrCode>, message: impl Into<String>) -> UspError {
        UspError::Agent { code: code.into(), message: message.into(), param_errs: Vec::new() }
    }
}
