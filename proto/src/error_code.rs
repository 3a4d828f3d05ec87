//! USP error codes (TR-369 1.4, "Error Codes" table).

use std::fmt;

/// A USP error code, as carried in `err_code` fields and `Error` messages.
///
/// A newtype rather than a closed enum because the code space is open: codes
/// 7200–7299 are defined by data models and 7800–7999 by vendors. The codes
/// the specification names are associated constants, so they can be matched
/// on:
///
/// ```
/// use usp_proto::ErrCode;
/// let code = ErrCode(7026);
/// assert_eq!(code, ErrCode::INVALID_PATH);
/// assert_eq!(code.name(), Some("Invalid path"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrCode(pub u32);

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $value:literal, $text:literal;)*) => {
        impl ErrCode {
            $($(#[$doc])* pub const $name: ErrCode = ErrCode($value);)*

            /// The name the specification gives this code, if it names it.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($text),)*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    /// General failure; details in the message text.
    MESSAGE_FAILED = 7000, "Message failed";
    /// The message type is not understood by the target.
    MESSAGE_NOT_SUPPORTED = 7001, "Message not supported";
    /// The target cannot or will not process the request.
    REQUEST_DENIED = 7002, "Request denied";
    /// Internal hardware or software failure.
    INTERNAL_ERROR = 7003, "Internal error";
    /// Invalid values in the message (also oneof violations, R-ENC.5).
    INVALID_ARGUMENTS = 7004, "Invalid arguments";
    /// Memory or processing limits exceeded.
    RESOURCES_EXCEEDED = 7005, "Resources exceeded";
    /// The requester lacks authorization.
    PERMISSION_DENIED = 7006, "Permission denied";
    /// The request would leave the target in an invalid configuration.
    INVALID_CONFIGURATION = 7007, "Invalid configuration";
    /// The path is not syntactically valid.
    INVALID_PATH_SYNTAX = 7008, "Invalid path syntax";
    /// A parameter update failed.
    PARAMETER_ACTION_FAILED = 7009, "Parameter action failed";
    /// The parameter is not supported.
    UNSUPPORTED_PARAMETER = 7010, "Unsupported parameter";
    /// The value cannot be parsed as the parameter's type.
    INVALID_TYPE = 7011, "Invalid type";
    /// The value is outside the allowed values or range.
    INVALID_VALUE = 7012, "Invalid value";
    /// The parameter is not writable.
    PARAM_READ_ONLY = 7013, "Attempt to update non-writeable parameter";
    /// The value conflicts with other parameter values.
    VALUE_CONFLICT = 7014, "Value conflict";
    /// General object create, update or delete failure.
    CRUD_FAILURE = 7015, "Operation error";
    /// The addressed object does not exist in the instantiated data model.
    OBJECT_DOES_NOT_EXIST = 7016, "Object does not exist";
    /// Instance creation failed.
    CREATION_FAILURE = 7017, "Object could not be created";
    /// The object is not a multi-instance object (table).
    NOT_A_TABLE = 7018, "Object is not a table";
    /// The table does not allow instances to be created.
    OBJECT_NOT_CREATABLE = 7019, "Attempt to create non-creatable object";
    /// The object could not be updated.
    SET_FAILURE = 7020, "Object could not be updated";
    /// A required parameter failed.
    REQUIRED_PARAM_FAILED = 7021, "Required parameter failed";
    /// The command failed.
    COMMAND_FAILURE = 7022, "Command failure";
    /// The asynchronous command was cancelled.
    COMMAND_CANCELLED = 7023, "Command canceled";
    /// The instance could not be deleted.
    DELETE_FAILURE = 7024, "Delete failure";
    /// An instance with the same unique key already exists.
    OBJECT_EXISTS_WITH_DUPLICATE_KEY = 7025, "Object exists with duplicate key";
    /// The path is not in the supported data model.
    INVALID_PATH = 7026, "Invalid path";
    /// Missing mandatory or invalid command arguments.
    INVALID_COMMAND_ARGUMENTS = 7027, "Invalid command arguments";
    /// The path could not be registered.
    REGISTER_FAILURE = 7028, "Register failure";
    /// The path is registered by another Service.
    PATH_ALREADY_IN_USE = 7029, "Already in use";
    /// The path could not be deregistered.
    DEREGISTER_FAILURE = 7030, "Deregister failure";
    /// The path is registered by another Service.
    PATH_ALREADY_REGISTERED = 7031, "Path already registered";
    /// The Record could not be parsed.
    RECORD_NOT_PARSED = 7100, "Record could not be parsed";
    /// A secure session is required.
    SECURE_SESS_REQUIRED = 7101, "Secure session required";
    /// A secure session is not supported.
    SECURE_SESS_NOT_SUPPORTED = 7102, "Secure session not supported";
    /// Segmentation and reassembly are not supported.
    SEG_NOT_SUPPORTED = 7103, "Segmentation and reassembly not supported";
    /// A Record field has an invalid value.
    RECORD_FIELD_INVALID = 7104, "Invalid Record value";
    /// The session context is being terminated.
    SESS_CONTEXT_TERMINATED = 7105, "Session context terminated";
    /// Session context is not allowed or not supported.
    SESS_CONTEXT_NOT_ALLOWED = 7106, "Session context not allowed";
}

impl ErrCode {
    /// True for the vendor-specific range 7800–7999.
    pub fn is_vendor(self) -> bool {
        (7800..=7999).contains(&self.0)
    }

    /// The name of the code, or the range it falls in.
    pub fn describe(self) -> &'static str {
        match (self.name(), self.0) {
            (Some(name), _) => name,
            (None, 0) => "Success",
            (None, 7200..=7299) => "Data-model defined error",
            (None, 7800..=7999) => "Vendor-defined error",
            (None, _) => "Unassigned error code",
        }
    }
}

impl fmt::Display for ErrCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.describe())
    }
}

impl From<ErrCode> for u32 {
    fn from(code: ErrCode) -> u32 {
        code.0
    }
}

impl From<u32> for ErrCode {
    fn from(code: u32) -> ErrCode {
        ErrCode(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ranges() {
        assert_eq!(ErrCode::REQUIRED_PARAM_FAILED.name(), Some("Required parameter failed"));
        assert_eq!(ErrCode(7250).describe(), "Data-model defined error");
        assert_eq!(ErrCode(7801).describe(), "Vendor-defined error");
        assert!(ErrCode(7801).is_vendor());
        assert_eq!(ErrCode(7050).describe(), "Unassigned error code");
        assert_eq!(ErrCode(7026).to_string(), "7026 (Invalid path)");
    }
}
