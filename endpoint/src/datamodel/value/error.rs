//! Why a value was refused, with the USP error code each reason maps to.

use usp_proto::ErrCode;

use super::ValueType;

/// A value that does not fit a parameter's type or facets.
///
/// [`ValueError::code`] gives the USP code: **7011 Invalid type** when the
/// string is not in the type's lexical form or outside the type's value
/// space (`"abc"` or `"3000000000"` for an `int`); **7012 Invalid value**
/// when it is a well-formed value that the parameter's facets refuse
/// (range, enumeration, length, item count, precision).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Not in the lexical form of the type.
    #[error("not a valid {0} value")]
    Syntax(ValueType),
    /// Well-formed, but outside the value space of the type.
    #[error("outside the value space of {0}")]
    TypeRange(ValueType),
    /// A typed value of another type than the parameter's.
    #[error("a {} value given for a {expected} parameter", actual.map_or("list", ValueType::name))]
    WrongType {
        /// The parameter's type.
        expected: ValueType,
        /// The type of the value given (`None` for a list given to a scalar
        /// parameter).
        actual: Option<ValueType>,
    },
    /// A list given to a scalar parameter or the reverse.
    #[error("list/scalar mismatch")]
    ListMismatch,
    /// A `decimal` with more fractional digits than can be kept.
    #[error("more fractional digits than supported")]
    Precision,
    /// Outside every `range` facet of the parameter.
    #[error("outside the allowed range")]
    OutOfRange,
    /// Not one of the parameter's enumerated values.
    #[error("not one of the allowed values")]
    NotEnumerated,
    /// String length (characters) or binary length (bytes) outside the
    /// parameter's size facet.
    #[error("length {actual} outside {min}..={}", max.map_or("unbounded".to_owned(), |m| m.to_string()))]
    Length {
        /// Minimum length.
        min: u32,
        /// Maximum length, if any.
        max: Option<u32>,
        /// The length given.
        actual: usize,
    },
    /// Number of list items outside the list facet.
    #[error("{actual} list items, allowed {min}..={}", max.map_or("unbounded".to_owned(), |m| m.to_string()))]
    Items {
        /// Minimum item count.
        min: u32,
        /// Maximum item count, if any.
        max: Option<u32>,
        /// The count given.
        actual: usize,
    },
}

impl ValueError {
    /// The USP error code: 7011 or 7012 (see the type's documentation).
    pub fn code(&self) -> ErrCode {
        match self {
            ValueError::Syntax(_)
            | ValueError::TypeRange(_)
            | ValueError::WrongType { .. }
            | ValueError::ListMismatch => ErrCode::INVALID_TYPE,
            ValueError::Precision
            | ValueError::OutOfRange
            | ValueError::NotEnumerated
            | ValueError::Length { .. }
            | ValueError::Items { .. } => ErrCode::INVALID_VALUE,
        }
    }
}
