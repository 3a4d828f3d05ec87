use std::sync::Arc;

use proptest::prelude::*;

use super::{
    compile::{Check, Env, Scope, Var, compile, eval},
    *,
};
use crate::time::TimeOfDay;

fn err(text: &str) -> ExprError {
    parse(text).unwrap_err()
}

#[test]
fn parses_and_prints_canonically() {
    let cases = [
        ("value > 26", "value > 26"),
        ("value==true&&!window", "value == true and not window"),
        ("a || b && c", "a or b and c"),
        ("(a or b) and c", "(a or b) and c"),
        ("a or (b or c)", "a or (b or c)"),
        ("not (a and b)", "not (a and b)"),
        ("not a == 1", "not a == 1"),
        ("(a or b) == false", "(a or b) == false"),
        ("time >= 22:00 or time < 6:00", "time >= 22:00 or time < 06:00"),
        ("weekday in [\"sat\",\"sun\"]", "weekday in [\"sat\", \"sun\"]"),
        (
            "Device.Node.{node}.IoTCapability.2.BinarySensor.Value == true",
            "Device.Node.{node}.IoTCapability.2.BinarySensor.Value == true",
        ),
        ("args.Cause == \"Remote\\\"Reboot\\\\\"", "args.Cause == \"Remote\\\"Reboot\\\\\""),
        ("x == -3.50", "x == -3.5"),
        ("((a))", "a"),
    ];
    for (input, printed) in cases {
        let e = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(e.to_string(), printed, "{input}");
        assert_eq!(parse(printed).unwrap(), e, "{printed} reads back");
    }
}

#[test]
fn errors_point_at_the_problem() {
    assert_eq!(err(""), ExprError { at: 0, kind: ExprErrorKind::Empty });
    assert_eq!(err("value = 26").at, 6);
    assert_eq!(err("value = 26").kind, ExprErrorKind::SingleEquals);
    assert_eq!(err("value > ").kind, ExprErrorKind::UnexpectedEnd { expected: "a value, a name or `(`" });
    assert_eq!(err("value > 26 26").at, 11);
    assert_eq!(err("(value > 26").at, 11);
    assert_eq!(err("value > \"abc").at, 8);
    assert_eq!(err("value > 2a").at, 8);
    assert_eq!(err("value > 1.").at, 8);
    assert_eq!(err("time > 25:00").at, 7);
    assert_eq!(err("a in []").kind, ExprErrorKind::EmptyList);
    assert_eq!(err("a in [b]").at, 6);
    assert_eq!(err("a in [1 2]").at, 8);
    assert_eq!(err("a in 1").at, 5);
    assert_eq!(err("Device.Node.01.X").at, 12);
    assert_eq!(err("Device.Node..X").at, 12);
    assert_eq!(err("a < b < c").at, 6);
    assert_eq!(err("a # b").kind, ExprErrorKind::UnexpectedChar('#'));
    assert_eq!(err("\"a\\n\"").kind, ExprErrorKind::BadEscape(Some('n')));
    assert_eq!(err(&"not ".repeat(40)).kind, ExprErrorKind::TooDeep);
    assert_eq!(err(&"(".repeat(40)).kind, ExprErrorKind::TooDeep);
    assert_eq!(err(&"a or ".repeat(1000)).kind, ExprErrorKind::TooLong);
    assert!(parse("a or ".repeat(800).trim_end_matches(" or ")).is_ok(), "long flat lists are fine");
}

struct TestEnv;

impl Env for TestEnv {
    fn get(&self, var: &Var) -> Value {
        match var {
            Var::Value => Value::Str(Arc::from("27.5")),
            Var::Time => Value::Time(TimeOfDay::parse("23:15").unwrap()),
            Var::Weekday => Value::Str(Arc::from("sat")),
            Var::Capture(c) if &**c == "room" => Value::Str(Arc::from("101")),
            Var::Alias(0) => Value::Str(Arc::from("true")),
            Var::Read(p) if p.as_str() == "Device.Node.4.Value" => Value::Str(Arc::from("false")),
            _ => Value::Missing,
        }
    }
}

fn run(text: &str) -> (bool, Vec<Check>, Vec<String>) {
    let captures = [Arc::from("room")];
    let aliases = ["window".to_string()];
    let scope = Scope { captures: &captures, aliases: &aliases, agent_context: true };
    let mut texts = Vec::new();
    let c = compile(&parse(text).unwrap(), &scope, &mut texts).unwrap();
    let mut rec = Vec::new();
    (eval(&c, &TestEnv, &mut rec), rec, texts)
}

#[test]
fn evaluates_and_records_checks() {
    assert!(run("value > 26").0);
    assert!(!run("value > 28").0);
    assert!(run("window and not Device.Node.4.Value").0);
    assert!(run("room == 101 and weekday in [\"sat\", \"sun\"]").0);
    assert!(run("time >= 22:00 or time < 06:00").0);
    assert!(!run("args.Cause == \"x\"").0, "missing compares false");
    assert!(!run("args.Cause != \"x\"").0, "missing compares false, also with !=");
    assert!(run("(value > 26) == true").0);
    let (held, rec, texts) = run("value > 28 and window");
    assert!(!held);
    assert_eq!(rec.len(), 1, "short-circuit: `window` was not needed");
    assert_eq!(texts, vec!["value > 28".to_string(), "window".to_string()]);
    assert_eq!(rec[0].lhs, Value::Str(Arc::from("27.5")));
    assert_eq!(rec[0].rhs, Some(Value::Num(28.0)));
}

#[test]
fn compile_refuses_unknown_names() {
    let captures = [Arc::from("room")];
    let scope = Scope { captures: &captures, aliases: &[], agent_context: true };
    let e = compile(&parse("value > 1 and romm == 2").unwrap(), &scope, &mut Vec::new()).unwrap_err();
    assert_eq!(e.at, 14);
    assert!(matches!(e.kind, ExprErrorKind::UnknownName { ref name, .. } if name == "romm"));
    let e = compile(&parse("Device.Node.{nod}.Value == 1").unwrap(), &scope, &mut Vec::new()).unwrap_err();
    assert_eq!(e.at, 12);
    let e = compile(&parse("Device == 1").unwrap(), &scope, &mut Vec::new()).unwrap_err();
    assert_eq!(e.kind, ExprErrorKind::BadPath, "a read names a parameter below Device.");
    let no_agent = Scope { captures: &[], aliases: &[], agent_context: false };
    let e = compile(&parse("Device.Node.1.Value == 1").unwrap(), &no_agent, &mut Vec::new()).unwrap_err();
    assert_eq!(e.kind, ExprErrorKind::NoAgent);
}

// ---- property tests ----

fn name() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,6}".prop_filter("keywords are not names", |s| {
        !matches!(s.as_str(), "and" | "or" | "not" | "in" | "true" | "false")
    })
}

fn reference() -> impl Strategy<Value = Reference> {
    let seg = prop_oneof![
        "[A-Za-z_][A-Za-z0-9_]{0,5}".prop_map(RefSeg::Name),
        (1u32..1000).prop_map(RefSeg::Index),
        "[a-z][a-z0-9]{0,3}".prop_map(RefSeg::Capture),
    ];
    (name(), prop::collection::vec(seg, 0..4)).prop_map(|(first, rest)| {
        let mut segments = vec![RefSeg::Name(first)];
        segments.extend(rest);
        Reference { segments, span: Span::default() }
    })
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Literal::Num),
        (-100_000i64..100_000).prop_map(|n| Literal::Num(n as f64 / 100.0)),
        "[ -~é\"\\\\]{0,8}".prop_map(Literal::Str),
        any::<bool>().prop_map(Literal::Bool),
        (0u32..24, 0u32..60, 0u32..60).prop_map(|(h, m, s)| Literal::Time(TimeOfDay::new(h, m, s).unwrap())),
    ]
}

fn op() -> impl Strategy<Value = CmpOp> {
    prop_oneof![
        Just(CmpOp::Eq),
        Just(CmpOp::Ne),
        Just(CmpOp::Lt),
        Just(CmpOp::Le),
        Just(CmpOp::Gt),
        Just(CmpOp::Ge)
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    let simple_operand = prop_oneof![literal().prop_map(Operand::Lit), reference().prop_map(Operand::Ref)];
    let leaf = prop_oneof![
        (simple_operand.clone(), op(), simple_operand.clone()).prop_map(|(a, o, b)| Expr::Compare(a, o, b)),
        (simple_operand.clone(), prop::collection::vec(literal(), 1..4)).prop_map(|(a, l)| Expr::In(a, l)),
        simple_operand.prop_map(Expr::Truthy),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            (inner.clone(), op(), literal()).prop_map(|(e, o, l)| Expr::Compare(
                Operand::Group(Box::new(e)),
                o,
                Operand::Lit(l)
            )),
        ]
    })
}

proptest! {
    #[test]
    fn any_text_parses_or_fails_cleanly(text in "\\PC{0,64}") {
        let _ = parse(&text);
    }

    #[test]
    fn grammar_shaped_text_parses_or_fails_cleanly(
        text in "[a-z0-9_ .(){}\\[\\],:\"!=<>&|-]{0,64}"
    ) {
        if let Ok(e) = parse(&text) {
            let printed = e.to_string();
            let again = parse(&printed).expect("printed form parses");
            prop_assert_eq!(&again, &e);
            prop_assert_eq!(again.to_string(), printed);
        }
    }

    #[test]
    fn print_then_parse_is_identity(e in expr()) {
        let printed = e.to_string();
        let back = parse(&printed).map_err(|err| TestCaseError::fail(format!("{printed}: {err}")))?;
        prop_assert_eq!(&back, &e, "{}", printed);
    }
}
