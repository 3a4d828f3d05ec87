//! Search-expression comparisons with the TR-369 typing rules
//! (paths.md §4.4).
//!
//! A term `Param op constant` is compiled once against the parameter's
//! type — which checks the operator and the constant's form — and then
//! tested against each row's value without any further parsing.

use std::cmp::Ordering;

use usp_proto::ErrCode;

use super::{DateTime, Decimal, ParamType, Value, ValueError, ValueType};
use crate::path::{Constant, Op};

/// A compiled search-expression term: operator and typed constant.
///
/// | parameter type | constant | operators |
/// |---|---|---|
/// | `string` (and enums, paths, ...) | quoted | `==` `!=` |
/// | `boolean` | unquoted `true`/`false`/`1`/`0` | `==` `!=` |
/// | numeric | unquoted, compared numerically | all six |
/// | `dateTime` | unquoted ISO 8601 | all six; Unknown Time only `==` `!=` |
/// | `base64`, `hexBinary` | quoted or unquoted, compared as bytes | `==` `!=` |
/// | list of T | `~=`: a T constant (quoted if T is a string); `==`/`!=`: quoted whole list | `~=` `==` `!=` |
///
/// Choices where the spec is silent: `==`/`!=` on a list compare the whole
/// canonical list string with a quoted constant; a row whose `dateTime` is
/// the Unknown Time never satisfies an ordering operator; a numeric
/// constant must be in the parameter's type's value space (`20.5` against
/// an `int` parameter is an error), while the parameter's range facets do
/// not apply to constants.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    op: Op,
    operand: Operand,
}

#[derive(Clone, Debug, PartialEq)]
enum Operand {
    Text(String),
    Bool(bool),
    Number(Decimal),
    Time(DateTime),
    Bytes(Vec<u8>),
    Item(Value),
    ListText(String),
}

/// A term whose operator or constant does not fit the parameter's type.
/// Always USP **7008** (the code OBUSPA reports; see paths.md §6).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ComparisonError {
    /// The operator is not allowed for the type (`<` on a string, `~=` on a
    /// scalar).
    #[error("operator {} not allowed for a {}{ty} parameter", op_str(*op), if *list { "list of " } else { "" })]
    Operator {
        /// The operator.
        op: Op,
        /// The parameter's primitive type.
        ty: ValueType,
        /// Whether the parameter is a list.
        list: bool,
    },
    /// The constant is quoted where it must not be, or the reverse.
    #[error("{ty} constants must be {}", if *quoted { "double-quoted" } else { "unquoted" })]
    Quoting {
        /// The type the constant is compared as.
        ty: ValueType,
        /// Whether the type wants a quoted constant.
        quoted: bool,
    },
    /// The constant is not a value of the type.
    #[error("constant is not a valid {ty}: {source}")]
    Constant {
        /// The type the constant is compared as.
        ty: ValueType,
        /// Why.
        source: ValueError,
    },
    /// An ordering operator against the Unknown Time.
    #[error("the Unknown Time allows only == and !=")]
    UnknownTimeOrdering,
}

impl ComparisonError {
    /// USP 7008 Invalid path syntax.
    pub fn code(&self) -> ErrCode {
        ErrCode::INVALID_PATH_SYNTAX
    }
}

fn op_str(op: Op) -> &'static str {
    match op {
        Op::Eq => "==",
        Op::Ne => "!=",
        Op::Contains => "~=",
        Op::Lt => "<",
        Op::Gt => ">",
        Op::Le => "<=",
        Op::Ge => ">=",
    }
}

fn is_equality(op: Op) -> bool {
    matches!(op, Op::Eq | Op::Ne)
}

/// The constant's text, checking its quoting against what `ty` wants.
fn constant_text(ty: ValueType, c: &Constant) -> Result<&str, ComparisonError> {
    match (ty, c) {
        (ValueType::Base64 | ValueType::HexBinary, Constant::Quoted(s) | Constant::Bare(s)) => Ok(s),
        (ValueType::String, Constant::Quoted(s)) => Ok(s),
        (ValueType::String, Constant::Bare(_)) => Err(ComparisonError::Quoting { ty, quoted: true }),
        (_, Constant::Bare(s)) => Ok(s),
        (_, Constant::Quoted(_)) => Err(ComparisonError::Quoting { ty, quoted: false }),
    }
}

impl Comparison {
    /// Checks `op` and `constant` against the parameter type `ty` and
    /// compiles the term.
    pub fn compile(ty: &ParamType, op: Op, constant: &Constant) -> Result<Comparison, ComparisonError> {
        let base = ty.base();
        let bad_op = || ComparisonError::Operator { op, ty: base, list: ty.is_list() };
        let parse =
            |text: &str| base.parse(text).map_err(|source| ComparisonError::Constant { ty: base, source });
        let operand = if ty.is_list() {
            match (op, constant) {
                (Op::Contains, c) => Operand::Item(parse(constant_text(base, c)?)?),
                (Op::Eq | Op::Ne, Constant::Quoted(s)) => Operand::ListText(s.clone()),
                (Op::Eq | Op::Ne, Constant::Bare(_)) => {
                    return Err(ComparisonError::Quoting { ty: ValueType::String, quoted: true });
                }
                _ => return Err(bad_op()),
            }
        } else {
            if op == Op::Contains {
                return Err(bad_op());
            }
            let text = constant_text(base, constant)?;
            match parse(text)? {
                Value::String(s) if is_equality(op) => Operand::Text(s),
                Value::Boolean(b) if is_equality(op) => Operand::Bool(b),
                Value::Base64(b) | Value::HexBinary(b) if is_equality(op) => Operand::Bytes(b),
                Value::DateTime(t) if t.is_unknown() && !is_equality(op) => {
                    return Err(ComparisonError::UnknownTimeOrdering);
                }
                Value::DateTime(t) => Operand::Time(t),
                v => match v.as_decimal() {
                    Some(n) => Operand::Number(n),
                    None => return Err(bad_op()),
                },
            }
        };
        Ok(Comparison { op, operand })
    }

    /// The operator.
    pub fn op(&self) -> Op {
        self.op
    }

    /// Whether `value` satisfies the term. A value of another shape than
    /// the compiled type never does.
    pub fn matches(&self, value: &Value) -> bool {
        let eq = |equal: bool| if self.op == Op::Ne { !equal } else { equal };
        let ord = |o: Ordering| match self.op {
            Op::Eq => o == Ordering::Equal,
            Op::Ne => o != Ordering::Equal,
            Op::Lt => o == Ordering::Less,
            Op::Gt => o == Ordering::Greater,
            Op::Le => o != Ordering::Greater,
            Op::Ge => o != Ordering::Less,
            Op::Contains => false,
        };
        match (&self.operand, value) {
            (Operand::Text(c), Value::String(s)) => eq(s == c),
            (Operand::Bool(c), Value::Boolean(b)) => eq(b == c),
            (Operand::Number(c), v) => v.as_decimal().is_some_and(|n| ord(n.cmp(c))),
            (Operand::Time(_), Value::DateTime(t)) if t.is_unknown() && !is_equality(self.op) => false,
            (Operand::Time(c), Value::DateTime(t)) => ord(t.cmp(c)),
            (Operand::Bytes(c), Value::Base64(b) | Value::HexBinary(b)) => eq(b == c),
            (Operand::Item(c), Value::List(items)) => items.contains(c),
            (Operand::ListText(c), Value::List(_)) => eq(value.to_string() == *c),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Constant {
        Constant::Quoted(s.into())
    }
    fn b(s: &str) -> Constant {
        Constant::Bare(s.into())
    }
    fn test(ty: &ParamType, op: Op, c: Constant, value: &str) -> bool {
        Comparison::compile(ty, op, &c).unwrap().matches(&ty.parse(value).unwrap())
    }

    #[test]
    fn strings_take_quoted_constants_and_equality_only() {
        let t = ParamType::string();
        assert!(test(&t, Op::Eq, q("r101-temp"), "r101-temp"));
        assert!(test(&t, Op::Ne, q("r101-temp"), "r101-occ"));
        assert_eq!(
            Comparison::compile(&t, Op::Eq, &b("r101-temp")),
            Err(ComparisonError::Quoting { ty: ValueType::String, quoted: true })
        );
        for op in [Op::Lt, Op::Gt, Op::Le, Op::Ge, Op::Contains] {
            let e = Comparison::compile(&t, op, &q("Level")).unwrap_err();
            assert!(matches!(e, ComparisonError::Operator { .. }), "{op:?}");
            assert_eq!(e.code(), ErrCode::INVALID_PATH_SYNTAX);
        }
    }

    #[test]
    fn booleans_unquoted_one_and_zero() {
        let t = ParamType::boolean();
        assert!(test(&t, Op::Eq, b("1"), "true"));
        assert!(test(&t, Op::Eq, b("false"), "0"));
        assert!(test(&t, Op::Ne, b("true"), "false"));
        assert!(matches!(Comparison::compile(&t, Op::Eq, &q("true")), Err(ComparisonError::Quoting { .. })));
        assert!(matches!(Comparison::compile(&t, Op::Lt, &b("true")), Err(ComparisonError::Operator { .. })));
        assert!(matches!(Comparison::compile(&t, Op::Eq, &b("yes")), Err(ComparisonError::Constant { .. })));
    }

    #[test]
    fn numbers_compare_numerically_with_all_six_operators() {
        let t = ParamType::int();
        for c in ["123", "+123", "0123"] {
            assert!(test(&t, Op::Eq, b(c), "123"), "{c}");
        }
        assert!(test(&t, Op::Lt, b("124"), "123"));
        assert!(test(&t, Op::Le, b("123"), "123"));
        assert!(test(&t, Op::Gt, b("-5"), "123"));
        assert!(test(&t, Op::Ge, b("123"), "123"));
        assert!(!test(&t, Op::Ne, b("123"), "0123"));
        let d = ParamType::decimal();
        assert!(test(&d, Op::Ge, b("21.5"), "40"));
        assert!(!test(&d, Op::Ge, b("21.5"), "21"));
        assert!(test(&d, Op::Eq, b("21.50"), "21.5"));
        assert!(matches!(Comparison::compile(&t, Op::Gt, &b("20.5")), Err(ComparisonError::Constant { .. })));
        assert!(matches!(Comparison::compile(&t, Op::Gt, &q("20")), Err(ComparisonError::Quoting { .. })));
        // Range facets bound the parameter, not the constant.
        assert!(!test(&ParamType::unsigned_int().range(0, 100), Op::Gt, b("1000"), "50"));
        assert!(test(&ParamType::unsigned_long(), Op::Gt, b("18446744073709551614"), "18446744073709551615"));
    }

    #[test]
    fn date_times_order_except_unknown_time() {
        let t = ParamType::date_time();
        assert!(test(&t, Op::Lt, b("2021-06-06T08:00:00Z"), "2021-06-06T07:59:59Z"));
        assert!(test(&t, Op::Ge, b("2021-06-06T08:00:00Z"), "2021-06-06T10:00:00+02:00"));
        assert!(test(&t, Op::Eq, b("0001-01-01T00:00:00Z"), "0001-01-01T00:00:00Z"));
        assert!(test(&t, Op::Ne, b("0001-01-01T00:00:00Z"), "2021-06-06T08:00:00Z"));
        assert_eq!(
            Comparison::compile(&t, Op::Lt, &b("0001-01-01T00:00:00Z")),
            Err(ComparisonError::UnknownTimeOrdering)
        );
        // A row holding the Unknown Time is neither before nor after anything.
        assert!(!test(&t, Op::Lt, b("2021-06-06T08:00:00Z"), "0001-01-01T00:00:00Z"));
        assert!(!test(&t, Op::Gt, b("2021-06-06T08:00:00Z"), "0001-01-01T00:00:00Z"));
        assert!(test(&t, Op::Ne, b("2021-06-06T08:00:00Z"), "0001-01-01T00:00:00Z"));
    }

    #[test]
    fn lists_use_contains() {
        let t = ParamType::string().list();
        assert!(test(&t, Op::Contains, q("MQTT"), "WebSocket,MQTT"));
        assert!(!test(&t, Op::Contains, q("MQ"), "WebSocket,MQTT"));
        assert!(test(&t, Op::Eq, q("WebSocket,MQTT"), "WebSocket, MQTT"));
        assert!(matches!(Comparison::compile(&t, Op::Lt, &q("a")), Err(ComparisonError::Operator { .. })));
        assert!(matches!(
            Comparison::compile(&t, Op::Contains, &b("MQTT")),
            Err(ComparisonError::Quoting { .. })
        ));
        let n = ParamType::unsigned_int().list();
        assert!(test(&n, Op::Contains, b("007"), "1,7,9"));
        assert!(matches!(
            Comparison::compile(&n, Op::Contains, &q("7")),
            Err(ComparisonError::Quoting { .. })
        ));
        let d = ParamType::decimal().list();
        assert!(test(&d, Op::Contains, b("11.57555"), "48.1372056,11.57555"));
    }

    #[test]
    fn binary_is_string_like_either_quoting() {
        let t = ParamType::hex_binary();
        assert!(test(&t, Op::Eq, b("08"), "08"));
        assert!(test(&t, Op::Eq, q("0a"), "0A"));
        assert!(matches!(Comparison::compile(&t, Op::Gt, &b("08")), Err(ComparisonError::Operator { .. })));
        assert!(test(&ParamType::base64(), Op::Ne, q("aGVsbG8="), "aGk="));
    }

    #[test]
    fn mismatched_row_values_never_match() {
        let c = Comparison::compile(&ParamType::int(), Op::Ne, &b("1")).unwrap();
        assert!(!c.matches(&Value::from("1")));
        let c = Comparison::compile(&ParamType::string(), Op::Ne, &q("1")).unwrap();
        assert!(!c.matches(&Value::Int(2)));
    }
}
