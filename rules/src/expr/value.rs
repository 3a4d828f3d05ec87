//! Values a condition compares, and how they compare.
//!
//! USP carries every value as a string. A condition's constants have types
//! (`26` is a number, `true` a boolean, `22:00` a time, `"Auto"` a string),
//! and a string from an Agent is read as the type of what it is compared
//! with: `value > 26` reads `"27.5"` as 27.5, `value == true` reads `"1"` and
//! `"true"` as true (TR-106 booleans). Two Agent strings compare as numbers
//! when both are numbers, otherwise as text.
//!
//! A missing value (never reported, or a name the trigger does not provide)
//! makes every comparison false — `!=` included — so a rule never acts on
//! data it does not have; the trace shows `(missing)`. A string that does
//! not read as the other side's type also compares false.

use std::{cmp::Ordering, fmt, sync::Arc};

use super::ast::{CmpOp, Literal};
use crate::time::TimeOfDay;

/// A value seen by a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value.
    Missing,
    /// A boolean.
    Bool(bool),
    /// A number.
    Num(f64),
    /// A string (all Agent data arrives so).
    Str(Arc<str>),
    /// A time of day.
    Time(TimeOfDay),
}

impl From<&Literal> for Value {
    fn from(l: &Literal) -> Value {
        match l {
            Literal::Num(n) => Value::Num(*n),
            Literal::Str(s) => Value::Str(Arc::from(s.as_str())),
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Time(t) => Value::Time(*t),
        }
    }
}

/// Reads a TR-106 boolean.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Reads a number (int, unsignedInt, long, decimal).
pub(crate) fn parse_num(s: &str) -> Option<f64> {
    let n: f64 = s.parse().ok()?;
    n.is_finite().then_some(n)
}

fn order(o: Option<Ordering>, op: CmpOp) -> bool {
    let Some(o) = o else { return false };
    match op {
        CmpOp::Eq => o == Ordering::Equal,
        CmpOp::Ne => o != Ordering::Equal,
        CmpOp::Lt => o == Ordering::Less,
        CmpOp::Le => o != Ordering::Greater,
        CmpOp::Gt => o == Ordering::Greater,
        CmpOp::Ge => o != Ordering::Less,
    }
}

fn eq_only(eq: Option<bool>, op: CmpOp) -> bool {
    match (eq, op) {
        (Some(e), CmpOp::Eq) => e,
        (Some(e), CmpOp::Ne) => !e,
        _ => false,
    }
}

impl Value {
    /// `self <op> other`, with the conversions described in the module
    /// documentation.
    pub fn compare(&self, op: CmpOp, other: &Value) -> bool {
        use Value as V;
        match (self, other) {
            (V::Missing, _) | (_, V::Missing) => false,
            (V::Num(a), V::Num(b)) => order(a.partial_cmp(b), op),
            (V::Bool(a), V::Bool(b)) => eq_only(Some(a == b), op),
            (V::Time(a), V::Time(b)) => order(Some(a.cmp(b)), op),
            (V::Str(a), V::Str(b)) => match (parse_num(a), parse_num(b)) {
                (Some(x), Some(y)) => order(x.partial_cmp(&y), op),
                _ => order(Some(a.cmp(b)), op),
            },
            (V::Str(s), V::Num(n)) => order(parse_num(s).and_then(|x| x.partial_cmp(n)), op),
            (V::Num(n), V::Str(s)) => order(parse_num(s).and_then(|x| n.partial_cmp(&x)), op),
            (V::Str(s), V::Bool(b)) | (V::Bool(b), V::Str(s)) => eq_only(parse_bool(s).map(|x| x == *b), op),
            (V::Str(s), V::Time(t)) => order(TimeOfDay::parse(s).ok().map(|x| x.cmp(t)), op),
            (V::Time(t), V::Str(s)) => order(TimeOfDay::parse(s).ok().map(|x| t.cmp(&x)), op),
            _ => false,
        }
    }

    /// Whether the value counts as true on its own.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            Value::Str(s) => parse_bool(s) == Some(true),
            _ => false,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Missing => f.write_str("(missing)"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Num(n) => write!(f, "{n}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Time(t) => write!(f, "{t}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::Str(Arc::from(x))
    }

    #[test]
    fn agent_strings_take_the_constant_type() {
        assert!(s("27.5").compare(CmpOp::Gt, &Value::Num(26.0)));
        assert!(!s("25").compare(CmpOp::Gt, &Value::Num(26.0)));
        assert!(Value::Num(26.0).compare(CmpOp::Lt, &s("27.5")));
        assert!(s("1").compare(CmpOp::Eq, &Value::Bool(true)));
        assert!(s("false").compare(CmpOp::Ne, &Value::Bool(true)));
        assert!(!s("yes").compare(CmpOp::Eq, &Value::Bool(true)));
        assert!(!s("yes").compare(CmpOp::Ne, &Value::Bool(true)), "unreadable compares false");
        assert!(!s("true").compare(CmpOp::Lt, &Value::Bool(true)), "booleans have no order");
        assert!(s("22:30").compare(CmpOp::Ge, &Value::Time(TimeOfDay::parse("22:00").unwrap())));
        assert!(s("10").compare(CmpOp::Gt, &s("9")), "two numbers compare as numbers");
        assert!(s("b").compare(CmpOp::Gt, &s("a")));
        assert!(s("Auto").compare(CmpOp::Eq, &s("Auto")));
        assert!(!s("NaN").compare(CmpOp::Ne, &Value::Num(1.0)));
    }

    #[test]
    fn missing_compares_false() {
        for op in [CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Ge] {
            assert!(!Value::Missing.compare(op, &Value::Num(1.0)));
            assert!(!Value::Num(1.0).compare(op, &Value::Missing));
        }
        assert!(!Value::Missing.truthy());
        assert!(s("true").truthy());
        assert!(!Value::Num(1.0).compare(CmpOp::Eq, &Value::Bool(true)), "typed constants do not mix");
    }
}
