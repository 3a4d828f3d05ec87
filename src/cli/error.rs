//! [`CliError`]: why a command failed, and the exit status that says so.

use std::fmt;

use usp_proto::ErrCode;

/// A failed command: its message and the exit status it maps to.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// The input could not be read or is not valid (exit status 1).
    #[error("{0}")]
    BadInput(String),
    /// Reading or writing failed (exit status 1).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The Agent answered with one or more USP errors (exit status 1).
    #[error("{}", UspFailure::join(.0))]
    Usp(Vec<UspFailure>),
    /// The Agent answered something that cannot be used: another response
    /// type, a result the specification does not allow (exit status 1).
    #[error("{0}")]
    Protocol(String),
    /// The command line is wrong in a way the parser cannot see (exit
    /// status 2, like the parser's own errors).
    #[error("{0}")]
    Usage(String),
    /// The broker (MQTT server, WebSocket server) cannot be reached, or
    /// refused us (exit status 3). The message says what to check.
    #[error("{0}")]
    Unreachable(String),
    /// No answer came in time (exit status 3). The message says what to
    /// check.
    #[error("{0}")]
    Timeout(String),
}

impl CliError {
    /// The process exit status for this error: 1 for a USP error or bad
    /// input, 2 for a usage error, 3 for an unreachable broker or Agent.
    pub(crate) fn exit_status(&self) -> u8 {
        match self {
            CliError::BadInput(_) | CliError::Io { .. } | CliError::Usp(_) | CliError::Protocol(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Unreachable(_) | CliError::Timeout(_) => 3,
        }
    }
}

/// One USP error an Agent reported: for the whole request, or for one
/// path, object, parameter or command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UspFailure {
    /// The USP error code.
    pub(crate) code: ErrCode,
    /// What failed, when the Agent said (a requested path, a parameter).
    pub(crate) path: Option<String>,
    /// The Agent's message.
    pub(crate) message: String,
}

impl UspFailure {
    /// Several failures, one per line, each after the `error: ` prefix the
    /// program prints before the first.
    fn join(failures: &[UspFailure]) -> String {
        let lines: Vec<String> = failures.iter().map(ToString::to_string).collect();
        lines.join("\nerror: ")
    }

    /// The JSON form: `{"code", "name", "message"}` plus `"path"` when known.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "code": self.code.0,
            "name": self.code.describe(),
            "message": self.message,
        });
        if let (Some(path), Some(map)) = (&self.path, v.as_object_mut()) {
            map.insert("path".into(), path.clone().into());
        }
        v
    }
}

/// `7026 Invalid path: Device.Foo.: object does not exist` — the code and
/// its name first, so that scripts and people find it in the same place.
impl fmt::Display for UspFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code.0, self.code.describe())?;
        if let Some(path) = &self.path {
            write!(f, ": {path}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_name_their_code() {
        let one = CliError::Usp(vec![UspFailure {
            code: ErrCode::INVALID_PATH,
            path: Some("Device.Foo.".into()),
            message: "object does not exist".into(),
        }]);
        assert_eq!(one.to_string(), "7026 Invalid path: Device.Foo.: object does not exist");
        assert_eq!(one.exit_status(), 1);
        let two = CliError::Usp(vec![
            UspFailure { code: ErrCode(7012), path: None, message: "outside 0..100".into() },
            UspFailure { code: ErrCode(7899), path: Some("X".into()), message: String::new() },
        ]);
        assert_eq!(
            two.to_string(),
            "7012 Invalid value: outside 0..100\nerror: 7899 Vendor-defined error: X"
        );
        assert_eq!(CliError::Usage("x".into()).exit_status(), 2);
        assert_eq!(CliError::Timeout("x".into()).exit_status(), 3);
        assert_eq!(CliError::Unreachable("x".into()).exit_status(), 3);
    }

    #[test]
    fn json_form() {
        let f = UspFailure { code: ErrCode(7026), path: Some("Device.Foo.".into()), message: "gone".into() };
        assert_eq!(
            f.to_json(),
            serde_json::json!({"code": 7026, "name": "Invalid path", "message": "gone", "path": "Device.Foo."})
        );
    }
}
