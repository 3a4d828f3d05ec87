//! Conditions bound to a rule: names resolved, ready to evaluate.
//!
//! Compiling checks every name against what the rule provides (a typo is a
//! load error with its column), turns constants into [`Value`]s once, and
//! numbers each comparison so an evaluation can record which ones held.

use std::sync::Arc;

use super::{
    ExprError, ExprErrorKind,
    ast::{CmpOp, Expr, Operand, RefSeg, Reference},
    value::Value,
};
use crate::pattern::path::{Leaf, PathPattern};

/// A compiled condition.
#[derive(Debug, Clone)]
pub(crate) enum CExpr {
    Or(Vec<CExpr>),
    And(Vec<CExpr>),
    Not(Box<CExpr>),
    Cmp { id: u16, lhs: COperand, op: CmpOp, rhs: COperand },
    In { id: u16, lhs: COperand, list: Vec<Value> },
    Truthy { id: u16, operand: COperand },
}

/// A compiled operand.
#[derive(Debug, Clone)]
pub(crate) enum COperand {
    Lit(Value),
    Var(Var),
    Group(Box<CExpr>),
}

/// What a name in a condition reads.
#[derive(Debug, Clone)]
pub(crate) enum Var {
    /// The trigger's value (ValueChange).
    Value,
    /// The cached value of the trigger's parameter before this change.
    Previous,
    /// The trigger's path.
    Path,
    /// The trigger's Agent.
    Agent,
    /// The local time of day.
    Time,
    /// The local weekday, `"mon"` … `"sun"`.
    Weekday,
    /// A capture.
    Capture(Arc<str>),
    /// An event argument, OperationComplete output or signal value.
    Arg(Box<str>),
    /// A unique key of a created object.
    Key(Box<str>),
    /// A named value of the rule (`[rule.X.values]`), by index.
    Alias(usize),
    /// A parameter of the trigger's Agent, read from the cache.
    Read(Arc<PathPattern>),
}

/// The names a condition may use.
pub(crate) struct Scope<'a> {
    /// Captures every trigger of the rule binds.
    pub(crate) captures: &'a [Arc<str>],
    /// Names of the rule's `values`.
    pub(crate) aliases: &'a [String],
    /// Whether every trigger has an Agent (so `Device.…` reads make sense).
    pub(crate) agent_context: bool,
}

/// Built-in names.
pub(crate) const BUILTINS: &[&str] = &["value", "previous", "path", "agent", "time", "weekday"];

/// One comparison's outcome during an evaluation, for the trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Which comparison (index into the rule's check texts).
    pub id: u16,
    /// The left-hand value (the only one for `in` and lone operands).
    pub lhs: Value,
    /// The right-hand value of a comparison.
    pub rhs: Option<Value>,
    /// Whether it held.
    pub held: bool,
}

/// Where an evaluation records the comparisons it made.
pub(crate) trait Record {
    fn check(&mut self, id: u16, lhs: Value, rhs: Option<Value>, held: bool);
}

impl Record for Vec<Check> {
    fn check(&mut self, id: u16, lhs: Value, rhs: Option<Value>, held: bool) {
        self.push(Check { id, lhs, rhs, held });
    }
}

/// Where a condition's names get their values.
pub(crate) trait Env {
    fn get(&self, var: &Var) -> Value;
}

/// Compiles `e`; `checks` receives the text of each comparison, indexed by id.
pub(crate) fn compile(e: &Expr, scope: &Scope<'_>, checks: &mut Vec<String>) -> Result<CExpr, ExprError> {
    Ok(match e {
        Expr::Or(items) => {
            CExpr::Or(items.iter().map(|i| compile(i, scope, checks)).collect::<Result<_, _>>()?)
        }
        Expr::And(items) => {
            CExpr::And(items.iter().map(|i| compile(i, scope, checks)).collect::<Result<_, _>>()?)
        }
        Expr::Not(inner) => CExpr::Not(Box::new(compile(inner, scope, checks)?)),
        Expr::Compare(a, op, b) => {
            let id = next_id(checks, e)?;
            CExpr::Cmp { id, lhs: operand(a, scope, checks)?, op: *op, rhs: operand(b, scope, checks)? }
        }
        Expr::In(a, list) => {
            let id = next_id(checks, e)?;
            CExpr::In { id, lhs: operand(a, scope, checks)?, list: list.iter().map(Value::from).collect() }
        }
        Expr::Truthy(o) => {
            let id = next_id(checks, e)?;
            CExpr::Truthy { id, operand: operand(o, scope, checks)? }
        }
    })
}

fn next_id(checks: &mut Vec<String>, e: &Expr) -> Result<u16, ExprError> {
    let id = u16::try_from(checks.len()).map_err(|_| ExprError { at: 0, kind: ExprErrorKind::TooLong })?;
    checks.push(e.to_string());
    Ok(id)
}

fn operand(o: &Operand, scope: &Scope<'_>, checks: &mut Vec<String>) -> Result<COperand, ExprError> {
    Ok(match o {
        Operand::Lit(l) => COperand::Lit(Value::from(l)),
        Operand::Group(e) => COperand::Group(Box::new(compile(e, scope, checks)?)),
        Operand::Ref(r) => COperand::Var(resolve(r, scope)?),
    })
}

fn resolve(r: &Reference, scope: &Scope<'_>) -> Result<Var, ExprError> {
    let unknown = || ExprError {
        at: r.span.start,
        kind: ExprErrorKind::UnknownName { name: r.text(), known: known_names(scope) },
    };
    match r.segments.as_slice() {
        [RefSeg::Name(n), ..] if n == "Device" => {
            if !scope.agent_context {
                return Err(ExprError { at: r.span.start, kind: ExprErrorKind::NoAgent });
            }
            let text = r.text();
            let path = PathPattern::parse(&text)
                .map_err(|e| ExprError { at: r.span.start + e.at, kind: ExprErrorKind::BadPath })?;
            if !matches!(path.leaf, Leaf::Param(_)) {
                return Err(ExprError { at: r.span.start, kind: ExprErrorKind::BadPath });
            }
            for c in path.capture_names() {
                if !scope.captures.contains(c) {
                    let at = r.span.start + text.find(&format!("{{{c}}}")).unwrap_or(0);
                    return Err(ExprError {
                        at,
                        kind: ExprErrorKind::UnknownName { name: c.to_string(), known: known_names(scope) },
                    });
                }
            }
            Ok(Var::Read(Arc::new(path)))
        }
        [RefSeg::Name(a), RefSeg::Name(x)] if a == "args" => Ok(Var::Arg(x.as_str().into())),
        [RefSeg::Name(a), RefSeg::Name(x)] if a == "keys" => Ok(Var::Key(x.as_str().into())),
        [RefSeg::Name(n)] => match n.as_str() {
            "value" => Ok(Var::Value),
            "previous" => Ok(Var::Previous),
            "path" => Ok(Var::Path),
            "agent" => Ok(Var::Agent),
            "time" => Ok(Var::Time),
            "weekday" => Ok(Var::Weekday),
            _ => {
                if let Some(i) = scope.aliases.iter().position(|a| a == n) {
                    Ok(Var::Alias(i))
                } else if let Some(c) = scope.captures.iter().find(|c| ***c == **n) {
                    Ok(Var::Capture(c.clone()))
                } else {
                    Err(unknown())
                }
            }
        },
        _ => Err(unknown()),
    }
}

fn known_names(scope: &Scope<'_>) -> String {
    let mut names: Vec<String> = BUILTINS.iter().map(|s| (*s).to_owned()).collect();
    names.extend(scope.aliases.iter().cloned());
    names.extend(scope.captures.iter().map(ToString::to_string));
    names.push("args.NAME".into());
    names.push("keys.NAME".into());
    names.push("Device.… paths".into());
    names.join(", ")
}

/// Evaluates `e`, recording each comparison made (short-circuit: those not
/// needed are not made, and not recorded).
pub(crate) fn eval(e: &CExpr, env: &dyn Env, rec: &mut dyn Record) -> bool {
    match e {
        CExpr::Or(items) => items.iter().any(|i| eval(i, env, rec)),
        CExpr::And(items) => items.iter().all(|i| eval(i, env, rec)),
        CExpr::Not(inner) => !eval(inner, env, rec),
        CExpr::Cmp { id, lhs, op, rhs } => {
            let (a, b) = (value(lhs, env, rec), value(rhs, env, rec));
            let held = a.compare(*op, &b);
            rec.check(*id, a, Some(b), held);
            held
        }
        CExpr::In { id, lhs, list } => {
            let a = value(lhs, env, rec);
            let held = list.iter().any(|v| a.compare(CmpOp::Eq, v));
            rec.check(*id, a, None, held);
            held
        }
        CExpr::Truthy { id, operand } => {
            let a = value(operand, env, rec);
            let held = a.truthy();
            rec.check(*id, a, None, held);
            held
        }
    }
}

/// The value of an operand.
pub(crate) fn value(o: &COperand, env: &dyn Env, rec: &mut dyn Record) -> Value {
    match o {
        COperand::Lit(v) => v.clone(),
        COperand::Var(v) => env.get(v),
        COperand::Group(e) => Value::Bool(eval(e, env, rec)),
    }
}

/// Every `Device.…` read in a condition (to subscribe to them and prime them).
pub(crate) fn reads(e: &CExpr, out: &mut Vec<Arc<PathPattern>>) {
    let op = |o: &COperand, out: &mut Vec<Arc<PathPattern>>| match o {
        COperand::Var(Var::Read(p)) => out.push(p.clone()),
        COperand::Group(g) => reads(g, out),
        _ => {}
    };
    match e {
        CExpr::Or(items) | CExpr::And(items) => items.iter().for_each(|i| reads(i, out)),
        CExpr::Not(inner) => reads(inner, out),
        CExpr::Cmp { lhs, rhs, .. } => {
            op(lhs, out);
            op(rhs, out);
        }
        CExpr::In { lhs, .. } => op(lhs, out),
        CExpr::Truthy { operand, .. } => op(operand, out),
    }
}
