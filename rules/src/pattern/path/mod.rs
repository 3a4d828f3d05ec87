//! Path patterns: USP Path Names as rules write them.
//!
//! The grammar is TR-369's, checked by the project's one path parser
//! ([`usp_endpoint::path`]; `parse.rs` bridges to it), plus one addition:
//! `{name}` in an instance position is a capture (in a trigger it matches
//! any instance number and remembers it; in an action it is filled in), and
//! `{name}` may appear inside a search expression's constant
//! (`[Name=="r{room}-light"]`).
//!
//! ```text
//! Device.Node.{node}.IoTCapability.[Name=="r{room}-light"].BinaryControl.Value
//!             └ capture            └ search, constant with a placeholder
//! ```
//!
//! Choices: a path must start with `Device.`; reference following (`Ref+`)
//! is refused in rules (the engine matches notification paths against its
//! cache and cannot follow references there); an unquoted `==`/`!=`
//! constant must look like a number, boolean or date (a bare word is a
//! missing quote); whitespace inside `[...]` is tolerated as the grammar
//! does (R-ARC.9a) and dropped when a path is written for an Agent.

mod parse;
mod render;

use std::sync::Arc;

pub(crate) use usp_endpoint::path::{Leaf, Op};

use super::{Captures, template::Template};

/// A parsed path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathPattern {
    pub(crate) segs: Vec<Seg>,
    pub(crate) leaf: Leaf,
    text: Box<str>,
    /// Every placeholder, in the order written.
    names: Vec<Placeholder>,
}

/// A `{name}` of a pattern and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Placeholder {
    name: Arc<str>,
    /// Byte offset of its `{` in the pattern text.
    at: usize,
    /// An instance capture (else a placeholder in a search constant).
    capture: bool,
}

/// One step of a pattern's object part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    /// An object name.
    Name(Box<str>),
    /// An instance number.
    Number(u32),
    /// `*`.
    Wildcard,
    /// `{name}`.
    Capture(Arc<str>),
    /// `[terms]`.
    Search(Vec<Term>),
}

/// One `param op constant` comparison of a search expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Term {
    /// Relative parameter path, e.g. `["LevelSensor", "Value"]`.
    pub(crate) param: Vec<Box<str>>,
    /// The operator.
    pub(crate) op: Op,
    /// The constant (quoted ones decoded: `%22` is `"`), possibly with
    /// placeholders.
    pub(crate) value: Template,
    /// Whether the constant was double-quoted (string-typed).
    pub(crate) quoted: bool,
}

impl PathPattern {
    /// The pattern as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// True for a table path (`Device.Node.`): ends in `.` after a name.
    pub(crate) fn is_table(&self) -> bool {
        self.leaf == Leaf::Object && matches!(self.segs.last(), Some(Seg::Name(_))) && self.segs.len() > 1
    }

    /// True for an instance path (`Device.Node.3.`, `Device.Node.*.`).
    pub(crate) fn is_instance(&self) -> bool {
        self.leaf == Leaf::Object && !matches!(self.segs.last(), Some(Seg::Name(_)) | None)
    }

    /// Every placeholder name: instance captures and names inside search
    /// constants, with their offset in the pattern text.
    pub(crate) fn placeholders(&self) -> impl Iterator<Item = (&str, usize)> {
        self.names.iter().map(|p| (&*p.name, p.at))
    }

    /// The placeholder names inside search constants, with offsets.
    pub(crate) fn search_vars(&self) -> impl Iterator<Item = (&str, usize)> {
        self.names.iter().filter(|p| !p.capture).map(|p| (&*p.name, p.at))
    }

    /// The names captured by `{name}` instance segments, with offsets.
    pub(crate) fn captures(&self) -> impl Iterator<Item = (&Arc<str>, usize)> {
        self.names.iter().filter(|p| p.capture).map(|p| (&p.name, p.at))
    }

    /// The leaf's name (parameter, command or event), if any.
    pub(crate) fn leaf_name(&self) -> Option<&str> {
        match &self.leaf {
            Leaf::Object => None,
            Leaf::Param(n) | Leaf::Command(n) | Leaf::Event(n) => Some(n),
        }
    }

    /// Matches the object segments against the start of a concrete path.
    ///
    /// Returns the byte offset just after the matched prefix (after its
    /// trailing `.`), or `None`. Captures are appended to `caps`; each
    /// search segment is checked by `search(instance_prefix, terms)`, where
    /// `instance_prefix` is the concrete path up to and including the
    /// instance's `.`.
    pub(crate) fn match_prefix(
        &self,
        path: &str,
        caps: &mut Captures,
        search: &mut dyn FnMut(&str, &[Term]) -> bool,
    ) -> Option<usize> {
        let mut pos = 0;
        for seg in &self.segs {
            let rest = path.get(pos..)?;
            let dot = rest.find('.')?;
            let piece = &rest[..dot];
            let end = pos + dot + 1;
            let is_inst = !piece.is_empty() && piece.bytes().all(|c| c.is_ascii_digit());
            let ok = match seg {
                Seg::Name(n) => **n == *piece,
                Seg::Number(n) => is_inst && piece.parse::<u32>().ok() == Some(*n),
                Seg::Wildcard => is_inst,
                Seg::Capture(name) => {
                    if is_inst {
                        caps.push((name.clone(), Arc::from(piece)));
                    }
                    is_inst
                }
                Seg::Search(terms) => is_inst && search(&path[..end], terms),
            };
            if !ok {
                return None;
            }
            pos = end;
        }
        Some(pos)
    }

    /// Whether a ValueChange `param_path` matches: a parameter pattern
    /// matches that parameter, an object pattern every parameter below it
    /// (a ReferenceList object path is a filter).
    pub(crate) fn match_param(
        &self,
        path: &str,
        caps: &mut Captures,
        search: &mut dyn FnMut(&str, &[Term]) -> bool,
    ) -> bool {
        let Some(end) = self.match_prefix(path, caps, search) else { return false };
        let rest = &path[end..];
        match &self.leaf {
            Leaf::Param(n) => **n == *rest,
            Leaf::Object => !rest.is_empty() && !rest.ends_with('.'),
            Leaf::Command(_) | Leaf::Event(_) => false,
        }
    }

    /// Whether an object path from an Event notification matches the
    /// pattern's object part exactly.
    pub(crate) fn match_object(
        &self,
        obj_path: &str,
        caps: &mut Captures,
        search: &mut dyn FnMut(&str, &[Term]) -> bool,
    ) -> bool {
        self.match_prefix(obj_path, caps, search) == Some(obj_path.len())
    }

    /// Whether an ObjectCreation/ObjectDeletion instance path matches: a
    /// table pattern matches any new row of the table, an instance pattern
    /// the rows it selects.
    pub(crate) fn match_instance(
        &self,
        obj_path: &str,
        caps: &mut Captures,
        search: &mut dyn FnMut(&str, &[Term]) -> bool,
    ) -> bool {
        let Some(end) = self.match_prefix(obj_path, caps, search) else { return false };
        let rest = &obj_path[end..];
        if self.is_table() {
            rest.strip_suffix('.').is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
        } else {
            rest.is_empty()
        }
    }
}

impl std::fmt::Display for PathPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use proptest::prelude::*;

    use super::{render::RenderError, *};

    proptest! {
        #[test]
        fn any_pattern_text_parses_or_fails_cleanly(text in "Device\\.[A-Za-z0-9.{}\\[\\]\"=<>&!~*()_+#-]{0,60}") {
            if let Ok(p) = PathPattern::parse(&text) {
                // What parses can be filled in and matched without panicking,
                // and its reference is itself a valid pattern.
                let vars = |_: &str| -> Option<Cow<'static, str>> { Some(Cow::Borrowed("7")) };
                let _ = p.render(&vars);
                let r = p.reference(&vars);
                prop_assert!(usp_endpoint::path::Path::parse(&r).is_ok(), "{} → {}", text, r);
                if let Ok(rendered) = p.render(&vars) {
                    prop_assert!(usp_endpoint::path::Path::parse(&rendered).is_ok(), "{} → {}", text, rendered);
                }
                let mut caps = Captures::new();
                let _ = p.match_param(&text, &mut caps, &mut |_, _| true);
                let _ = p.match_instance(&text, &mut caps, &mut |_, _| true);
            }
        }

        #[test]
        fn any_concrete_path_matches_or_not_cleanly(path in "\\PC{0,60}") {
            let p = PathPattern::parse(r#"Device.Node.{n}.IoTCapability.[Name=="x"].Value"#).unwrap();
            let mut caps = Captures::new();
            let _ = p.match_param(&path, &mut caps, &mut |_, _| true);
            let _ = p.match_object(&path, &mut caps, &mut |_, _| false);
        }
    }

    fn p(s: &str) -> PathPattern {
        PathPattern::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err_at(s: &str) -> usize {
        PathPattern::parse(s).map(|_| ()).unwrap_err().at
    }

    fn no_search(_: &str, _: &[Term]) -> bool {
        false
    }

    #[test]
    fn parses_the_path_kinds() {
        assert_eq!(p("Device.Node.1.IoTCapability.2.BinarySensor.Value").leaf, Leaf::Param("Value".into()));
        assert!(p("Device.Node.").is_table());
        assert!(p("Device.Node.*.").is_instance());
        assert!(p("Device.Node.{n}.").is_instance());
        assert_eq!(p("Device.Boot!").leaf, Leaf::Event("Boot".into()));
        assert_eq!(
            p("Device.Node.2.IoTCapability.1.BinaryControl.Toggle()").leaf,
            Leaf::Command("Toggle".into())
        );
        let s = p(r#"Device.IoTCapability.[Class=="LevelSensor"&&LevelSensor.Value>=20.5].Name"#);
        let Seg::Search(terms) = &s.segs[2] else { panic!() };
        assert_eq!(terms.len(), 2);
        assert_eq!(terms[1].param, vec![Box::from("LevelSensor"), Box::from("Value")]);
        assert_eq!(terms[1].op, Op::Ge);
        assert!(!terms[1].quoted);
        let t = p(r#"Device.Node.2.IoTCapability.[Name=="r{room}-light"].BinaryControl.Value"#);
        assert_eq!(t.placeholders().collect::<Vec<_>>(), vec![("room", 37)]);
    }

    #[test]
    fn refuses_typos_with_the_offset() {
        assert_eq!(err_at("Devcie.Node.1.Value"), 0);
        assert_eq!(err_at("Device.Node.01.Value"), 12);
        assert_eq!(err_at("Device.Node.0.Value"), 12);
        assert_eq!(err_at("Device.Node..Value"), 12);
        assert_eq!(err_at("Device.Node.1"), 13);
        assert_eq!(err_at("Device.Node.1.2.Value"), 14);
        assert_eq!(err_at("Device.Node.1.Bin-Sensor.Value"), 17);
        assert_eq!(err_at("Device.Node.1.Value "), 19);
        assert_eq!(err_at("Device.Node.[Name=\"x\"].Value"), 17);
        assert_eq!(err_at("Device.Node.[Name==x].Value"), 19);
        assert_eq!(err_at("Device.Node.[Name==\"x\".Value"), 22);
        assert_eq!(err_at("Device.Node.[].Value"), 12);
        assert_eq!(err_at("Device.Node.[Name==\"x].Value"), 19);
        assert_eq!(err_at("Device.NAT.PortMapping.1.Interface+.Name"), 34);
        assert_eq!(err_at("Device.Node.*"), 13);
        assert_eq!(err_at("Device.*.Value"), 7);
        assert_eq!(err_at("Device.Toggle(x)"), 14);
        assert_eq!(err_at("Device.Boot!x"), 12);
        assert_eq!(err_at("Device.Node.{1}.Value"), 13);
        assert_eq!(err_at(""), 0);
    }

    #[test]
    fn the_project_grammar_with_placeholders_put_back() {
        // Whitespace inside a search is the grammar's (R-ARC.9a); it is
        // dropped when the path is written for an Agent.
        let spaced =
            p(r#"Device.Node.{n}.IoTCapability.[ Name == "r{room}-light" && Class=="BinaryControl" ].X"#);
        let vars =
            |n: &str| -> Option<Cow<'static, str>> { Some(if n == "n" { "2".into() } else { "101".into() }) };
        assert_eq!(
            spaced.render(&vars).unwrap(),
            r#"Device.Node.2.IoTCapability.[Name=="r101-light"&&Class=="BinaryControl"].X"#
        );
        assert_eq!(spaced.placeholders().collect::<Vec<_>>(), vec![("n", 12), ("room", 42)]);
        assert_eq!(spaced.captures().map(|(n, at)| (&**n, at)).collect::<Vec<_>>(), vec![("n", 12)]);
        // Quoted constants are decoded by the grammar and re-escaped when written.
        let q = p(r#"Device.X.[Name=="50%25 %22off%22 {{{room}}}"].Y"#);
        let Seg::Search(terms) = &q.segs[2] else { panic!() };
        assert_eq!(terms[0].value.to_string(), "50% \"off\" {{{room}}}");
        assert_eq!(q.render(&vars).unwrap(), r#"Device.X.[Name=="50%25 %22off%22 {101}"].Y"#);
        // `{i}` and `*` are instance selectors like any capture.
        assert!(matches!(
            p("Device.Node.{i}.A.*.").segs.as_slice(),
            [_, _, Seg::Capture(_), _, Seg::Wildcard]
        ));
    }

    #[test]
    fn placeholders_and_hops_refused_where_they_cannot_stand() {
        let err = |s: &str| PathPattern::parse(s).map(|_| ()).unwrap_err();
        let e = err(r#"Device.X.[{name}=="a"].Y"#);
        assert_eq!(e.at, 10);
        assert!(e.reason.contains("placeholder"), "{e}");
        assert_eq!(err("Device.X.[A==\u{E000}].Y").at, 13);
        assert_eq!(err(r#"Device.X.[A=="a}b"].Y"#).at, 15);
        assert_eq!(err(r#"Device.X.[A=="{b"].Y"#).at, 14);
        assert_eq!(err(r#"Device.X.[A=="{b c}"].Y"#).at, 15);
        let hop = err(r#"Device.X.[A==1 && Ref+.Name=="x"].Y"#);
        assert_eq!(hop.at, 17);
        assert!(hop.reason.contains("reference following"));
        assert_eq!(err("Device.X.{a.b}.Y").at, 10);
        assert_eq!(err("Device.X.[A==1&&B==word].Y").at, 19);
        assert_eq!(err("Device.X.[ A == word ].Y").at, 16);
        assert!(err("Device.X.[A==1 || B==2].Y").reason.contains("'||'"));
    }

    #[test]
    fn matches_notification_paths() {
        let mut caps = Captures::new();
        let pat = p("Device.Node.{node}.IoTCapability.*.LevelSensor.Value");
        assert!(pat.match_param(
            "Device.Node.1.IoTCapability.7.LevelSensor.Value",
            &mut caps,
            &mut no_search
        ));
        assert_eq!(caps.len(), 1);
        assert_eq!(&*caps[0].1, "1");
        let mut caps = Captures::new();
        assert!(!pat.match_param(
            "Device.Node.x.IoTCapability.7.LevelSensor.Value",
            &mut caps,
            &mut no_search
        ));
        assert!(!pat.match_param(
            "Device.Node.1.IoTCapability.7.LevelSensor.Unit",
            &mut caps,
            &mut no_search
        ));
        assert!(!pat.match_param("Device.Node.1.IoTCapability.7.LevelSensor", &mut caps, &mut no_search));
        let filter = p("Device.Node.1.");
        assert!(filter.match_param(
            "Device.Node.1.IoTCapability.7.LevelSensor.Value",
            &mut caps,
            &mut no_search
        ));
        assert!(!filter.match_param("Device.Node.1.", &mut caps, &mut no_search));
        assert!(!filter.match_param("Device.Node.2.Alias", &mut caps, &mut no_search));

        let search = p(r#"Device.IoTCapability.[Name=="r101-occ"].BinarySensor.Value"#);
        let mut seen = Vec::new();
        let mut check = |prefix: &str, _: &[Term]| {
            seen.push(prefix.to_owned());
            true
        };
        assert!(search.match_param("Device.IoTCapability.2.BinarySensor.Value", &mut caps, &mut check));
        assert_eq!(seen, vec!["Device.IoTCapability.2.".to_string()]);

        let table = p("Device.ProxiedDevice.");
        assert!(table.match_instance("Device.ProxiedDevice.3.", &mut caps, &mut no_search));
        assert!(!table.match_instance("Device.ProxiedDevice.3.Node.1.", &mut caps, &mut no_search));
        let inst = p("Device.ProxiedDevice.*.");
        assert!(inst.match_instance("Device.ProxiedDevice.3.", &mut caps, &mut no_search));
        let ev = p("Device.LocalAgent.Threshold.*.Triggered!");
        assert!(ev.match_object("Device.LocalAgent.Threshold.2.", &mut caps, &mut no_search));
        assert!(!ev.match_object("Device.LocalAgent.Threshold.2.X.", &mut caps, &mut no_search));
    }

    #[test]
    fn renders_actions_and_references() {
        let vars = |n: &str| -> Option<Cow<'static, str>> {
            match n {
                "room" => Some("101".into()),
                "node" => Some("2".into()),
                "evil" => Some("a\"]&&x==\"%".into()),
                "word" => Some("x]y".into()),
                _ => None,
            }
        };
        let pat = p(r#"Device.Node.{node}.IoTCapability.[Name=="r{room}-light"].BinaryControl.Value"#);
        assert_eq!(
            pat.render(&vars).unwrap(),
            r#"Device.Node.2.IoTCapability.[Name=="r101-light"].BinaryControl.Value"#
        );
        let evil = p(r#"Device.IoTCapability.[Name=="{evil}"].Toggle()"#);
        assert_eq!(
            evil.render(&vars).unwrap(),
            r#"Device.IoTCapability.[Name=="a%22]&&x==%22%25"].Toggle()"#
        );
        assert!(matches!(p("Device.Node.{room}.X").render(&vars), Ok(s) if s == "Device.Node.101.X"));
        assert!(matches!(p("Device.Node.{evil}.X").render(&vars), Err(RenderError::NotInstance { .. })));
        assert!(matches!(p("Device.Node.{gone}.X").render(&vars), Err(RenderError::Missing(_))));
        assert!(matches!(p("Device.Node.[Level>{word}].X").render(&vars), Err(RenderError::BadBare { .. })));
        // References for one Agent: agent captures filled, path captures wildcarded.
        let known = |n: &str| -> Option<Cow<'static, str>> { (n == "room").then(|| "101".into()) };
        assert_eq!(
            pat.reference(&known),
            "Device.Node.*.IoTCapability.[Name==\"r101-light\"].BinaryControl.Value"
        );
        let unknown = |_: &str| -> Option<Cow<'static, str>> { None };
        assert_eq!(pat.reference(&unknown), "Device.Node.*.IoTCapability.*.BinaryControl.Value");
        assert_eq!(p("Device.Boot!").reference(&unknown), "Device.Boot!");
        assert_eq!(p("Device.X.").render(&unknown).unwrap(), "Device.X.");
        // Whether the Agent checks the searches of such a subscription.
        let all = pat.segs.len();
        assert!(pat.agent_checks_searches(all, &known));
        assert!(!pat.agent_checks_searches(all, &unknown), "widened to *");
        assert!(!pat.agent_checks_searches(3, &known), "the search lies beyond the reference");
        assert!(p("Device.Node.*.").agent_checks_searches(1, &unknown), "no search to check");
    }
}
