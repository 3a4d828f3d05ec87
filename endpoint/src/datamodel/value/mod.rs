//! TR-106 data types: typed [`Value`]s, their lexical forms, the facets a
//! parameter puts on them ([`ParamType`]), and search-expression
//! comparisons ([`Comparison`]).
//!
//! USP carries every value as a string in its TR-106 lexical form
//! (R-ENC.6). A value is parsed once, when it enters the data model, and
//! kept typed, so comparisons are numeric where they must be and a Get
//! formats the canonical form.

mod binary;
mod datetime;
mod decimal;
mod error;
mod param_type;
mod search;

use std::fmt::{self, Write as _};

pub use datetime::{DateTime, DateTimeError};
pub use decimal::{Decimal, DecimalError, FRACTION_DIGITS};
pub use error::ValueError;
pub use param_type::{ListFacet, ParamType, Range, RefKind, Reference};
pub use search::{Comparison, ComparisonError};

/// A TR-106 primitive type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// `string` and every type derived from it (enumerations, Alias,
    /// IPAddress, path references ...).
    String,
    /// `boolean`: `true`/`false`, `1`/`0` accepted on input.
    Boolean,
    /// `int`: 32-bit signed.
    Int,
    /// `unsignedInt`: 32-bit unsigned.
    UnsignedInt,
    /// `long`: 64-bit signed.
    Long,
    /// `unsignedLong`: 64-bit unsigned.
    UnsignedLong,
    /// `decimal`: exact fixed point (see [`Decimal`]).
    Decimal,
    /// `dateTime`: ISO 8601 UTC (see [`DateTime`]).
    DateTime,
    /// `base64`: binary data, base64 encoded.
    Base64,
    /// `hexBinary`: binary data, hex encoded.
    HexBinary,
}

impl ValueType {
    /// The TR-106 name of the type (`unsignedInt`, `dateTime` ...).
    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::Boolean => "boolean",
            ValueType::Int => "int",
            ValueType::UnsignedInt => "unsignedInt",
            ValueType::Long => "long",
            ValueType::UnsignedLong => "unsignedLong",
            ValueType::Decimal => "decimal",
            ValueType::DateTime => "dateTime",
            ValueType::Base64 => "base64",
            ValueType::HexBinary => "hexBinary",
        }
    }

    /// True for the five numeric types (all six comparison operators).
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            ValueType::Int
                | ValueType::UnsignedInt
                | ValueType::Long
                | ValueType::UnsignedLong
                | ValueType::Decimal
        )
    }

    /// The zero value: `""`, `false`, `0`, the Unknown Time, empty binary.
    pub fn zero(self) -> Value {
        match self {
            ValueType::String => Value::String(String::new()),
            ValueType::Boolean => Value::Boolean(false),
            ValueType::Int => Value::Int(0),
            ValueType::UnsignedInt => Value::UnsignedInt(0),
            ValueType::Long => Value::Long(0),
            ValueType::UnsignedLong => Value::UnsignedLong(0),
            ValueType::Decimal => Value::Decimal(Decimal::ZERO),
            ValueType::DateTime => Value::DateTime(DateTime::UNKNOWN),
            ValueType::Base64 => Value::Base64(Vec::new()),
            ValueType::HexBinary => Value::HexBinary(Vec::new()),
        }
    }

    /// Parses the lexical form of one value of this type, without facets.
    ///
    /// Integers accept a leading `+` and leading zeros (`+123`, `0123`);
    /// booleans accept `1`/`0`.
    pub fn parse(self, s: &str) -> Result<Value, ValueError> {
        fn int<T: std::str::FromStr<Err = std::num::ParseIntError>>(
            ty: ValueType,
            s: &str,
        ) -> Result<T, ValueError> {
            s.parse::<T>().map_err(|e| match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    ValueError::TypeRange(ty)
                }
                // "-5" for an unsigned type is an integer outside the
                // type's value space, not a syntax error.
                _ if s
                    .strip_prefix('-')
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())) =>
                {
                    ValueError::TypeRange(ty)
                }
                _ => ValueError::Syntax(ty),
            })
        }
        Ok(match self {
            ValueType::String => Value::String(s.to_owned()),
            ValueType::Boolean => match s {
                "true" | "1" => Value::Boolean(true),
                "false" | "0" => Value::Boolean(false),
                _ => return Err(ValueError::Syntax(self)),
            },
            ValueType::Int => Value::Int(int(self, s)?),
            ValueType::UnsignedInt => Value::UnsignedInt(int(self, s)?),
            ValueType::Long => Value::Long(int(self, s)?),
            ValueType::UnsignedLong => Value::UnsignedLong(int(self, s)?),
            ValueType::Decimal => Value::Decimal(Decimal::parse(s).map_err(|e| match e {
                DecimalError::Syntax => ValueError::Syntax(self),
                DecimalError::Overflow => ValueError::TypeRange(self),
                DecimalError::Precision => ValueError::Precision,
            })?),
            ValueType::DateTime => Value::DateTime(DateTime::parse(s).map_err(|e| match e {
                DateTimeError::Syntax => ValueError::Syntax(self),
                DateTimeError::Field | DateTimeError::OutOfRange => ValueError::TypeRange(self),
            })?),
            ValueType::Base64 => Value::Base64(binary::base64_decode(s).ok_or(ValueError::Syntax(self))?),
            ValueType::HexBinary => Value::HexBinary(binary::hex_decode(s).ok_or(ValueError::Syntax(self))?),
        })
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A typed parameter or argument value.
///
/// Equality and hashing follow the value, not the text it came from:
/// `Int(123)` parsed from `"0123"` equals one parsed from `"+123"`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    /// `string` and derived types.
    String(String),
    /// `boolean`.
    Boolean(bool),
    /// `int`.
    Int(i32),
    /// `unsignedInt`.
    UnsignedInt(u32),
    /// `long`.
    Long(i64),
    /// `unsignedLong`.
    UnsignedLong(u64),
    /// `decimal`.
    Decimal(Decimal),
    /// `dateTime`.
    DateTime(DateTime),
    /// `base64` (the decoded bytes).
    Base64(Vec<u8>),
    /// `hexBinary` (the decoded bytes).
    HexBinary(Vec<u8>),
    /// A list (comma-separated on the wire) of scalar values of one type.
    List(Vec<Value>),
}

impl Value {
    /// The scalar type of the value; `None` for a list.
    pub fn value_type(&self) -> Option<ValueType> {
        Some(match self {
            Value::String(_) => ValueType::String,
            Value::Boolean(_) => ValueType::Boolean,
            Value::Int(_) => ValueType::Int,
            Value::UnsignedInt(_) => ValueType::UnsignedInt,
            Value::Long(_) => ValueType::Long,
            Value::UnsignedLong(_) => ValueType::UnsignedLong,
            Value::Decimal(_) => ValueType::Decimal,
            Value::DateTime(_) => ValueType::DateTime,
            Value::Base64(_) => ValueType::Base64,
            Value::HexBinary(_) => ValueType::HexBinary,
            Value::List(_) => return None,
        })
    }

    /// The string, for `string` values.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, for `boolean` values.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// Any numeric value, exactly, as a [`Decimal`].
    pub fn as_decimal(&self) -> Option<Decimal> {
        Some(match self {
            Value::Int(v) => Decimal::from(*v),
            Value::UnsignedInt(v) => Decimal::from(*v),
            Value::Long(v) => Decimal::from(*v),
            Value::UnsignedLong(v) => Decimal::from(*v),
            Value::Decimal(v) => *v,
            _ => return None,
        })
    }

    /// The `dateTime`, for dateTime values.
    pub fn as_datetime(&self) -> Option<DateTime> {
        match self {
            Value::DateTime(t) => Some(*t),
            _ => None,
        }
    }

    /// The items, for lists.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// Appends the canonical lexical form to `out`.
    pub fn write_to(&self, out: &mut String) {
        match self {
            Value::String(s) => out.push_str(s),
            Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Base64(bytes) => binary::base64_encode(bytes, out),
            Value::HexBinary(bytes) => binary::hex_encode(bytes, out),
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_to(out);
                }
            }
            // Writing to a String cannot fail.
            Value::Int(v) => {
                let _ = write!(out, "{v}");
            }
            Value::UnsignedInt(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Long(v) => {
                let _ = write!(out, "{v}");
            }
            Value::UnsignedLong(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Decimal(v) => {
                let _ = write!(out, "{v}");
            }
            Value::DateTime(v) => {
                let _ = write!(out, "{v}");
            }
        }
    }
}

/// The canonical TR-106 lexical form: `true`/`false`, decimal integers,
/// `21.5`, `2021-06-06T08:00:00Z`, base64 with padding, upper-case hex,
/// lists joined with `,`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) => f.write_str(s),
            Value::Int(v) => write!(f, "{v}"),
            Value::UnsignedInt(v) => write!(f, "{v}"),
            Value::Long(v) => write!(f, "{v}"),
            Value::UnsignedLong(v) => write!(f, "{v}"),
            Value::Decimal(v) => write!(f, "{v}"),
            Value::DateTime(v) => write!(f, "{v}"),
            other => {
                let mut s = String::new();
                other.write_to(&mut s);
                f.write_str(&s)
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Boolean(b)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Value {
        Value::Int(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::UnsignedInt(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Long(v)
    }
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::UnsignedLong(v)
    }
}

impl From<Decimal> for Value {
    fn from(v: Decimal) -> Value {
        Value::Decimal(v)
    }
}

impl From<DateTime> for Value {
    fn from(v: DateTime) -> Value {
        Value::DateTime(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_parses_and_formats_canonically() {
        let cases: &[(ValueType, &str, &str)] = &[
            (ValueType::String, " a,b ", " a,b "),
            (ValueType::Boolean, "true", "true"),
            (ValueType::Boolean, "1", "true"),
            (ValueType::Boolean, "0", "false"),
            (ValueType::Int, "+123", "123"),
            (ValueType::Int, "0123", "123"),
            (ValueType::Int, "-2147483648", "-2147483648"),
            (ValueType::UnsignedInt, "4294967295", "4294967295"),
            (ValueType::Long, "-9223372036854775808", "-9223372036854775808"),
            (ValueType::UnsignedLong, "18446744073709551615", "18446744073709551615"),
            (ValueType::Decimal, "21.50", "21.5"),
            (ValueType::DateTime, "2021-06-06T08:00:00Z", "2021-06-06T08:00:00Z"),
            (ValueType::DateTime, "0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
            (ValueType::Base64, "aGVsbG8=", "aGVsbG8="),
            (ValueType::HexBinary, "0a1b", "0A1B"),
        ];
        for &(ty, input, canonical) in cases {
            let v = ty.parse(input).unwrap_or_else(|e| panic!("{ty} {input}: {e}"));
            assert_eq!(v.value_type(), Some(ty));
            assert_eq!(v.to_string(), canonical, "{ty} {input}");
            let mut s = String::new();
            v.write_to(&mut s);
            assert_eq!(s, canonical);
        }
    }

    #[test]
    fn lexical_errors_are_7011() {
        let cases: &[(ValueType, &str, ValueError)] = &[
            (ValueType::Boolean, "True", ValueError::Syntax(ValueType::Boolean)),
            (ValueType::Boolean, "yes", ValueError::Syntax(ValueType::Boolean)),
            (ValueType::Int, "12a", ValueError::Syntax(ValueType::Int)),
            (ValueType::Int, "", ValueError::Syntax(ValueType::Int)),
            (ValueType::Int, "1.0", ValueError::Syntax(ValueType::Int)),
            (ValueType::Int, "2147483648", ValueError::TypeRange(ValueType::Int)),
            (ValueType::UnsignedInt, "-1", ValueError::TypeRange(ValueType::UnsignedInt)),
            (ValueType::UnsignedInt, "-x", ValueError::Syntax(ValueType::UnsignedInt)),
            (ValueType::UnsignedLong, "18446744073709551616", ValueError::TypeRange(ValueType::UnsignedLong)),
            (ValueType::Long, " 1", ValueError::Syntax(ValueType::Long)),
            (ValueType::Decimal, "1e3", ValueError::Syntax(ValueType::Decimal)),
            (ValueType::DateTime, "2021-06-06", ValueError::Syntax(ValueType::DateTime)),
            (ValueType::DateTime, "2021-02-30T00:00:00Z", ValueError::TypeRange(ValueType::DateTime)),
            (ValueType::Base64, "!!", ValueError::Syntax(ValueType::Base64)),
            (ValueType::HexBinary, "abc", ValueError::Syntax(ValueType::HexBinary)),
        ];
        for (ty, input, err) in cases {
            let got = ty.parse(input).unwrap_err();
            assert_eq!(&got, err, "{ty} {input:?}");
            assert_eq!(got.code(), usp_proto::ErrCode::INVALID_TYPE);
        }
        assert_eq!(ValueType::Decimal.parse("0.0000000000000000001").unwrap_err().code().0, 7012);
    }

    #[test]
    fn typed_equality_ignores_spelling() {
        assert_eq!(ValueType::Int.parse("0123").unwrap(), ValueType::Int.parse("+123").unwrap());
        assert_eq!(ValueType::HexBinary.parse("ab").unwrap(), ValueType::HexBinary.parse("AB").unwrap());
        assert_eq!(Value::Int(5).as_decimal(), Some(Decimal::from(5)));
        assert_eq!(Value::from("x").as_decimal(), None);
    }

    const ALL: [ValueType; 10] = [
        ValueType::String,
        ValueType::Boolean,
        ValueType::Int,
        ValueType::UnsignedInt,
        ValueType::Long,
        ValueType::UnsignedLong,
        ValueType::Decimal,
        ValueType::DateTime,
        ValueType::Base64,
        ValueType::HexBinary,
    ];

    /// Parsing the canonical form gives the same value back, and the
    /// canonical form of that is the same text.
    fn canonical_is_stable(ty: ValueType, s: &str) -> Result<(), proptest::test_runner::TestCaseError> {
        if let Ok(v) = ty.parse(s) {
            let text = v.to_string();
            let again = ty.parse(&text);
            proptest::prop_assert_eq!(again.as_ref(), Ok(&v), "{} {:?} -> {:?}", ty, s, text);
            proptest::prop_assert_eq!(again.map(|a| a.to_string()), Ok(text));
        }
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,48}") {
            for ty in ALL {
                let _ = ty.parse(&s);
                canonical_is_stable(ty, &s)?;
            }
            let _ = ParamType::unsigned_int().range(1, 9).list().items(0, Some(3)).parse(&s);
        }

        #[test]
        fn integers_round_trip(s in "[+-]?[0-9]{1,21}") {
            for ty in [ValueType::Int, ValueType::UnsignedInt, ValueType::Long, ValueType::UnsignedLong] {
                canonical_is_stable(ty, &s)?;
            }
        }

        #[test]
        fn decimals_round_trip(s in "[+-]?[0-9]{0,8}(\\.[0-9]{0,20})?") {
            canonical_is_stable(ValueType::Decimal, &s)?;
        }

        #[test]
        fn date_times_round_trip(
            s in "[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-][01][0-9]:[0-5][0-9])"
        ) {
            canonical_is_stable(ValueType::DateTime, &s)?;
        }

        #[test]
        fn binary_round_trips(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..32)) {
            let mut hex = String::new();
            binary::hex_encode(&bytes, &mut hex);
            proptest::prop_assert_eq!(ValueType::HexBinary.parse(&hex.to_lowercase()), Ok(Value::HexBinary(bytes.clone())));
            let mut b64 = String::new();
            binary::base64_encode(&bytes, &mut b64);
            proptest::prop_assert_eq!(ValueType::Base64.parse(&b64), Ok(Value::Base64(bytes)));
        }

        #[test]
        fn lists_round_trip(items in proptest::collection::vec(0u32..1000, 0..6)) {
            let ty = ParamType::unsigned_int().list();
            let text = items.iter().map(|i| format!(" {i:03}")).collect::<Vec<_>>().join(",");
            let v = ty.parse(&text).unwrap();
            proptest::prop_assert_eq!(ty.parse(&v.to_string()), Ok(v.clone()));
            proptest::prop_assert_eq!(v.as_list().map(<[Value]>::len), Some(items.len()));
        }
    }
}
