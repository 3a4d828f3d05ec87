//! A bad rule file is refused with file:line:column and the reason.
//! (Helpers here unwrap: a failure there is a test failure.)
#![allow(clippy::unwrap_used)]

use usp_rules::{LoadErrorKind, LoadErrors, Source, load, load_with_tags};

fn errs(text: &str) -> LoadErrors {
    load(&[Source::new("r.toml", text)]).expect_err("should be refused")
}

/// The first error as `line:column: message`.
fn first(text: &str) -> String {
    let e = errs(text);
    let f = e.first().unwrap();
    format!("{}:{}: {}", f.line, f.column, f.kind)
}

const WHEN: &str = "when = { value_change = \"Device.X\" }\n";

#[test]
fn toml_syntax() {
    let e = errs("[rule.a]\nwhen = {\n");
    assert!(matches!(e.first().unwrap().kind, LoadErrorKind::Syntax(_)));
    assert_eq!(e.first().unwrap().line, 2);
}

#[test]
fn unknown_keys_with_suggestions() {
    assert!(
        first(&format!("[rule.a]\n{WHEN}cooldwon = \"1m\"\n"))
            .starts_with("3:1: unknown key \"cooldwon\" in rule \"a\"; did you mean \"cooldown\"?")
    );
    assert!(
        first("[rule.a]\nwhen = { value_chnage = \"Device.X\" }\n")
            .starts_with("2:10: unknown key \"value_chnage\" in trigger; did you mean \"value_change\"?")
    );
    assert!(
        first(&format!("[rule.a]\n{WHEN}[[rule.a.then]]\nsett = \"Device.X\"\n"))
            .starts_with("4:1: unknown key \"sett\"")
    );
    assert!(
        first("[rules.a]\n").starts_with("1:2: unknown key \"rules\" in the file; did you mean \"rule\"?")
    );
}

#[test]
fn bad_durations_point_into_the_string() {
    assert_eq!(
        first(&format!("[rule.a]\n{WHEN}for = \"10 min\"\n")),
        "3:8: bad duration: number at offset 0 has no unit; units are ms, s, m, h, d"
    );
    assert!(
        first(&format!("[rule.a]\n{WHEN}debounce = \"5x\"\n"))
            .starts_with("3:14: bad duration: unknown unit \"x\"")
    );
    assert!(
        first(&format!("[rule.a]\n{WHEN}cooldown = 5\n"))
            .starts_with("3:12: \"cooldown\" must be a string, found an integer")
    );
    assert!(first(&format!("[rule.a]\n{WHEN}for = \"0s\"\n")).contains("longer than 0s"));
    assert!(
        first(&format!("[rule.a]\n{WHEN}rate_limit = \"10 per 1x\"\n")).starts_with("3:22: bad duration")
    );
    assert!(first(&format!("[rule.a]\n{WHEN}rate_limit = \"lots\"\n")).contains("COUNT per DURATION"));
}

#[test]
fn bad_paths_point_at_the_typo() {
    assert_eq!(
        first("[rule.a]\nwhen = { value_change = \"Devcie.Node.1.Value\" }\n"),
        "2:26: bad path: a path starts with `Device.`"
    );
    assert_eq!(
        first("[rule.a]\nwhen = { value_change = \"Device.Node.01.Value\" }\n"),
        "2:38: bad path: instance numbers start at 1 and have no leading zero"
    );
    assert!(
        first("[rule.a]\nwhen = { value_change = 'Device.Node.[Name=\"x\"].Value' }\n")
            .starts_with("2:43: bad path: `=` is not an operator")
    );
    assert!(
        first("[rule.a]\nwhen = { event = \"Device.Boot\" }\n").contains("ends in the event name and `!`")
    );
    assert!(
        first("[rule.a]\nwhen = { object_created = \"Device.Node.1.Value\" }\n").contains("watches a table")
    );
    assert!(
        first(&format!("[rule.a]\n{WHEN}[[rule.a.then]]\noperate = \"Device.X.Toggle\"\n"))
            .contains("ending in `()`")
    );
    assert!(
        first(&format!("[rule.a]\n{WHEN}[[rule.a.then]]\nset = \"Device.X.\"\nvalue = 1\n"))
            .contains("names a parameter")
    );
    assert!(
        first(&format!("[rule.a]\n{WHEN}[[rule.a.then]]\ndelete = \"Device.X.\"\n"))
            .contains("names instances")
    );
    assert!(
        first(&format!("[rule.a]\n{WHEN}[[rule.a.then]]\nadd = \"Device.X.1.\"\n")).contains("names a table")
    );
}

#[test]
fn bad_expressions_point_at_the_column() {
    assert_eq!(
        first(&format!("[rule.a]\n{WHEN}if = \"value = 26\"\n")),
        "3:13: bad condition: `=` is not an operator; write `==` to compare"
    );
    assert!(
        first(&format!("[rule.a]\n{WHEN}if = 'value > 26 and romm == 1'\n"))
            .starts_with("3:22: bad condition: unknown name `romm`")
    );
    assert!(
        first(&format!("[rule.a]\n{WHEN}if = \"(value > 26\"\n"))
            .starts_with("3:18: bad condition: unexpected end")
    );
    // With escapes in the TOML string the position is the string's start.
    assert!(
        first(&format!("[rule.a]\n{WHEN}if = \"value == \\\"a\\\" and x\"\n"))
            .starts_with("3:6: bad condition: unknown name `x`")
    );
    assert!(
        first("[rule.a]\nwhen = { schedule = \"daily at 22:00\" }\nif = \"Device.X == 1\"\n")
            .contains("trigger without an Agent")
    );
}

#[test]
fn unknown_and_duplicate_names() {
    assert_eq!(first("[rule.a]\nwhen = { signal = \"nope\" }\n"), "2:19: unknown rule \"nope\"");
    assert_eq!(
        first("[rule.a]\nwhen = { value_change = \"Device.X\", tag = \"rooms\" }\n"),
        "2:43: unknown tag \"rooms\""
    );
    let e = load(&[
        Source::new("one.toml", format!("[rule.a]\n{WHEN}")),
        Source::new("two.toml", format!("\n[rule.a]\n{WHEN}")),
    ])
    .unwrap_err();
    assert_eq!(e.to_string(), "two.toml:2:7: rule \"a\" is already defined at one.toml:1");
    // Within one file TOML itself refuses the second table.
    assert!(matches!(
        errs(&format!("[rule.a]\n{WHEN}[rule.a]\n{WHEN}")).first().unwrap().kind,
        LoadErrorKind::Syntax(_)
    ));
    let e = load_with_tags(
        &[Source::new("t.toml", "[tags]\nrooms = \"proto::room-*\"\n")],
        &[("rooms".into(), vec!["proto::x".into()])],
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("t.toml:2:1: tag \"rooms\" is already defined at configuration"));
}

#[test]
fn templates_and_patterns() {
    assert!(
        first("[rule.a]\nwhen = { value_change = \"Device.X\", agents = \"prot::room-*\" }\n")
            .starts_with("2:47: bad endpoint id pattern: unknown endpoint id scheme")
    );
    assert_eq!(
        first(
            "[rule.a]\nwhen = { value_change = \"Device.X\", agents = \"proto::room-{room}\" }\n[[rule.a.then]]\nagent = \"proto::light-{rom}\"\nset = \"Device.Y\"\nvalue = 1\n"
        ),
        "4:24: bad template: unknown name {rom}; known names: value, previous, path, agent, rule, room, args.NAME, keys.NAME"
    );
    assert!(first("[rule.a]\nwhen = { schedule = \"daily at 22:00\" }\n[[rule.a.then]]\nset = \"Device.Y\"\nvalue = 1\n").contains("`agent`, `agents` or `tag`"));
    assert!(
        first("[rule.a]\nwhen = { value_change = 'Device.X.[Name==\"{room}\"].Y' }\n")
            .contains("{room} is not captured")
    );
    assert!(
        first("[rule.a]\nwhen = { value_change = \"Device.X.{n}.Y\", agents = \"proto::{n}\" }\n")
            .contains("captured twice")
    );
}

#[test]
fn structure() {
    assert!(first("[rule.a]\ndescription = \"x\"\n").starts_with("1:7: rule \"a\" needs a trigger"));
    assert!(
        first("[rule.a]\nwhen = { value_change = \"Device.X\", event = \"Device.B!\" }\n")
            .contains("a trigger has one kind")
    );
    assert!(first("[rule.a]\nwhen = { agents = \"proto::x\" }\n").contains("needs one of"));
    assert!(
        first(&format!(
            "[rule.a]\n{WHEN}[[rule.a.then]]\nset = \"Device.Y\"\nvalue = 1\noperate = \"Device.Z()\"\n"
        ))
        .contains("a step does one thing")
    );
    assert!(
        first(&format!("[rule.a]\n{WHEN}[[rule.a.then]]\nset = \"Device.Y\"\n"))
            .contains("needs `value` or `params`")
    );
    assert!(
        first(&format!("[rule.a]\n{WHEN}hysteresis = {{ on_above = 20, off_below = 25 }}\n"))
            .contains("off_below must be lower")
    );
    assert!(
        first(&format!("[rule.a]\n{WHEN}hysteresis = {{ on_above = 20 }}\n"))
            .contains("give on_above with off_below")
    );
    assert!(first("[rule.a]\nwhen = { agent_status = \"up\" }\n").contains("\"online\" or \"offline\""));
    assert!(first("[rule.a]\nwhen = { schedule = \"daily at 25:00\" }\n").starts_with("2:31: bad schedule"));
    assert!(
        first("[rule.a]\nwhen = { schedule = \"daily at 22:00\", tag = \"x\" }\n")
            .contains("does not apply to a schedule trigger")
    );
    assert!(first("[rule.\"a b\"]\nwhen = { schedule = \"22:00\" }\n").contains("rule name"));
    assert!(
        first(&format!("[rule.a]\n{WHEN}[rule.a.values]\nvalue = \"Device.Y\"\n"))
            .contains("value name \"value\"")
    );
}

#[test]
fn signal_cycles_are_refused() {
    let e = errs("[rule.a]\nwhen = { signal = \"b\" }\n[rule.b]\nwhen = { signal = \"a\" }\n");
    assert_eq!(e.0.len(), 1, "one error, no cascade: {e}");
    assert!(matches!(&e.first().unwrap().kind, LoadErrorKind::SignalCycle(c) if c.len() == 3), "{e}");
    assert!(first("[rule.a]\nwhen = { signal = \"a\" }\n").contains("signal cycle: a → a"));
}

#[test]
fn several_problems_are_reported_at_once_in_order() {
    let e = errs(
        "[rule.a]\nwhen = { value_change = \"Devcie.X\" }\n[rule.b]\nwhen = { value_change = \"Device.X\" }\nfor = \"1y\"\n",
    );
    let lines: Vec<usize> = e.0.iter().map(|x| x.line).collect();
    assert_eq!(lines, vec![2, 5]);
}
