//! The parsed form of a condition.

use crate::time::TimeOfDay;

/// A byte range in the expression text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// A condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `a or b or …` (two or more).
    Or(Vec<Expr>),
    /// `a and b and …` (two or more).
    And(Vec<Expr>),
    /// `not a`.
    Not(Box<Expr>),
    /// `a <op> b`.
    Compare(Operand, CmpOp, Operand),
    /// `a in [x, y, …]`.
    In(Operand, Vec<Literal>),
    /// A lone operand, true when it is the boolean `true` (or a USP
    /// boolean string `"true"`/`"1"`).
    Truthy(Operand),
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A constant.
    Lit(Literal),
    /// A name or a data-model path.
    Ref(Reference),
    /// A parenthesised condition, used as a boolean value.
    Group(Box<Expr>),
}

/// A constant.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A number (`26`, `-3.5`).
    Num(f64),
    /// A double-quoted string.
    Str(String),
    /// `true` / `false`.
    Bool(bool),
    /// A time of day (`22:00`).
    Time(TimeOfDay),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A dotted name: a variable (`value`, `room`, `args.Cause`) or a
/// data-model path read from the cache (`Device.Node.1.IoTCapability.2.BinarySensor.Value`).
#[derive(Debug, Clone)]
pub struct Reference {
    /// The dotted parts.
    pub segments: Vec<RefSeg>,
    /// Where it was written.
    pub span: Span,
}

/// Two references are equal when they name the same thing, wherever they
/// were written.
impl PartialEq for Reference {
    fn eq(&self, other: &Reference) -> bool {
        self.segments == other.segments
    }
}

/// One dotted part of a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefSeg {
    /// A name.
    Name(String),
    /// An instance number.
    Index(u32),
    /// `{capture}`: an instance number taken from the trigger.
    Capture(String),
}

impl Reference {
    /// The reference as written (`Device.Node.{node}.Value`).
    pub fn text(&self) -> String {
        let mut s = String::new();
        for (k, seg) in self.segments.iter().enumerate() {
            if k > 0 {
                s.push('.');
            }
            match seg {
                RefSeg::Name(n) => s.push_str(n),
                RefSeg::Index(i) => s.push_str(&i.to_string()),
                RefSeg::Capture(c) => {
                    s.push('{');
                    s.push_str(c);
                    s.push('}');
                }
            }
        }
        s
    }
}
