//! From spanned TOML to a checked [`RuleSet`].
//!
//! Order of work: parse every file; collect tags and rule names (so that
//! duplicates and signals can be checked across files); order the rules so
//! that a rule listening to another's signal is compiled after it (it
//! inherits that rule's captures and Agent); compile each rule, keeping the
//! first error of each and going on with the next, so one load reports as
//! many problems as it can.

use std::{collections::HashMap, ops::Range, sync::Arc};

use toml::{Spanned, de::DeTable};

use super::{
    ConfigTags, LoadError, LoadErrorKind, LoadErrors, Source,
    reader::{Cx, Scalar, Str, Table},
};
use crate::{
    expr::{
        self, Expr, ExprError, Operand,
        compile::{BUILTINS, COperand, Scope, compile as compile_expr},
    },
    model::{
        Action, ActionKind, AgentSel, Alias, Condition, Edge, Hysteresis, Origin, RateLimit, Rule, RuleId,
        RuleSet, Target, Trigger, TriggerKind,
    },
    pattern::{agent::AgentPattern, path::PathPattern, template::Template},
    schedule::Schedule,
    time::{Ms, dur_ms, parse_duration},
};

const RULE_KEYS: &[&str] = &[
    "description",
    "enabled",
    "when",
    "if",
    "values",
    "hysteresis",
    "for",
    "debounce",
    "cooldown",
    "rate_limit",
    "key",
    "then",
    "else",
];
const TRIGGER_KINDS: &[&str] =
    &["value_change", "event", "object_created", "object_deleted", "agent_status", "schedule", "signal"];
const TRIGGER_KEYS: &[&str] = &[
    "value_change",
    "event",
    "object_created",
    "object_deleted",
    "agent_status",
    "schedule",
    "signal",
    "agents",
    "tag",
    "args",
    "edge",
    "notif_retry",
];
const ACTION_KINDS: &[&str] = &["set", "add", "delete", "operate", "publish", "delay"];
const ACTION_KEYS: &[&str] = &[
    "set", "value", "params", "add", "delete", "operate", "args", "publish", "fields", "delay", "agent",
    "agents", "tag", "wait", "timeout",
];
const HYSTERESIS_KEYS: &[&str] = &["of", "on_above", "off_below", "on_below", "off_above"];
const VALUE_KEYS: &[&str] = &["path", "agent"];
/// How long a waited (or followed) step may take unless `timeout` says otherwise.
pub(crate) const DEFAULT_TIMEOUT: Ms = 60_000;
/// Template names every rule provides (besides captures, values, `args.*`, `keys.*`).
const TEMPLATE_BUILTINS: &[&str] = &["value", "previous", "path", "agent", "rule"];

/// A rule found in a file, before compiling.
struct Decl<'a, 'i> {
    file: usize,
    name: String,
    name_span: Range<usize>,
    table: Table<'a, 'i>,
}

/// What later rules need to know about a compiled one.
#[derive(Clone)]
struct Summary {
    captures: Vec<Arc<str>>,
    agent_context: bool,
}

pub(super) fn compile(sources: &[Source], cfg_tags: &ConfigTags) -> Result<RuleSet, LoadErrors> {
    let mut errors: Vec<(usize, LoadError)> = Vec::new();
    let cxs: Vec<Cx<'_>> = sources.iter().map(|s| Cx::new(&s.name, &s.text)).collect();
    let mut docs: Vec<Option<Spanned<DeTable<'_>>>> = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        match DeTable::parse(&s.text) {
            Ok(t) => docs.push(Some(t)),
            Err(e) => {
                let at = e.span().map_or(0, |r| r.start);
                errors.push((i, cxs[i].err(at, LoadErrorKind::Syntax(e.message().trim().to_owned()))));
                docs.push(None);
            }
        }
    }

    // Tags: configuration first, then files.
    let mut set = RuleSet::default();
    let mut tag_origin: HashMap<String, String> = HashMap::new();
    for (name, patterns) in cfg_tags {
        let mut pats = Vec::new();
        for p in patterns {
            match AgentPattern::parse(p) {
                Ok(p) => pats.push(p),
                Err(e) => errors.push((
                    usize::MAX,
                    LoadError {
                        file: Arc::from("configuration"),
                        line: 1,
                        column: 1,
                        kind: LoadErrorKind::Agent(e),
                    },
                )),
            }
        }
        tag_origin.insert(name.clone(), "configuration".into());
        set.tags.push((Arc::from(name.as_str()), pats));
    }

    let mut decls: Vec<Decl<'_, '_>> = Vec::new();
    let mut first_rule: HashMap<String, String> = HashMap::new();
    for (fi, doc) in docs.iter().enumerate() {
        let Some(doc) = doc else { continue };
        let cx = &cxs[fi];
        let top = Table::new(doc, "the file");
        if let Err(e) = top.check_keys(cx, &["tags", "rule"]) {
            errors.push((fi, e));
            continue;
        }
        match top.table(cx, "tags", "tags".into()) {
            Err(e) => errors.push((fi, e)),
            Ok(None) => {}
            Ok(Some(tags)) => {
                for (name, span, _) in tags.entries() {
                    if let Some(first) = tag_origin.get(name) {
                        errors.push((
                            fi,
                            cx.err(
                                span.start,
                                LoadErrorKind::Duplicate {
                                    what: "tag",
                                    name: name.to_owned(),
                                    first: first.clone(),
                                },
                            ),
                        ));
                        continue;
                    }
                    tag_origin.insert(name.to_owned(), format!("{}:{}", cx.file, cx.line(span.start)));
                    match agent_patterns(cx, &tags, name) {
                        Ok(pats) => set.tags.push((Arc::from(name), pats)),
                        Err(e) => errors.push((fi, e)),
                    }
                }
            }
        }
        match top.table(cx, "rule", "rule".into()) {
            Err(e) => errors.push((fi, e)),
            Ok(None) => {}
            Ok(Some(rules)) => {
                for (name, span, v) in rules.entries() {
                    let where_ = format!("{}:{}", cx.file, cx.line(span.start));
                    if let Some(first) = first_rule.get(name) {
                        errors.push((
                            fi,
                            cx.err(
                                span.start,
                                LoadErrorKind::Duplicate {
                                    what: "rule",
                                    name: name.to_owned(),
                                    first: first.clone(),
                                },
                            ),
                        ));
                        continue;
                    }
                    if !valid_rule_name(name) {
                        errors.push((
                            fi,
                            cx.err(
                                span.start,
                                LoadErrorKind::Invalid(format!(
                                    "rule name {name:?}: use letters, digits, `-`, `_` and `.`, starting with a letter or digit"
                                )),
                            ),
                        ));
                        continue;
                    }
                    first_rule.insert(name.to_owned(), where_);
                    match v.get_ref() {
                        toml::de::DeValue::Table(t) => decls.push(Decl {
                            file: fi,
                            name: name.to_owned(),
                            name_span: span,
                            table: Table { t, span: v.span(), what: format!("rule {name:?}") },
                        }),
                        _ => errors.push((
                            fi,
                            cx.err(
                                v.span().start,
                                LoadErrorKind::WrongType {
                                    key: name.to_owned(),
                                    expected: "a table ([rule.NAME])",
                                    found: "another value",
                                },
                            ),
                        )),
                    }
                }
            }
        }
    }

    let ids: HashMap<String, RuleId> = decls.iter().enumerate().map(|(i, d)| (d.name.clone(), i)).collect();
    let order = match signal_order(&decls, &cxs, &ids) {
        Ok(order) => order,
        Err(fe) => {
            errors.push(*fe);
            (0..decls.len()).collect()
        }
    };

    let mut rules: Vec<Option<Rule>> = vec![None; decls.len()];
    let mut summaries: Vec<Option<Summary>> = vec![None; decls.len()];
    let mut triggers: Vec<Option<Vec<Trigger>>> = vec![None; decls.len()];
    for id in order {
        let d = &decls[id];
        let cx = &cxs[d.file];
        let mut rc = RuleCx { cx, set: &set, ids: &ids, summaries: &summaries, decls: &decls };
        match rc.rule(id, d) {
            Ok(Some((rule, trigs))) => {
                summaries[id] =
                    Some(Summary { captures: rule.captures.clone(), agent_context: rule.agent_context });
                rules[id] = Some(rule);
                triggers[id] = Some(trigs);
            }
            // It depends on a rule that failed (whose error is reported).
            Ok(None) => {}
            Err(e) => errors.push((d.file, e)),
        }
    }

    if !errors.is_empty() {
        errors.sort_by(|(fa, a), (fb, b)| (fa, a.line, a.column).cmp(&(fb, b.line, b.column)));
        return Err(LoadErrors(errors.into_iter().map(|(_, e)| e).collect()));
    }

    // Assemble, in declaration order.
    set.listeners = vec![Vec::new(); decls.len()];
    for (id, (rule, trigs)) in rules.into_iter().zip(triggers).enumerate() {
        let (Some(mut rule), Some(trigs)) = (rule, trigs) else { continue };
        for (index, t) in trigs.into_iter().enumerate() {
            let tid = set.triggers.len();
            if let TriggerKind::Signal { from, .. } = t.kind {
                if let Some(l) = set.listeners.get_mut(from) {
                    l.push(tid);
                }
            }
            rule.triggers.push(tid);
            set.triggers.push(Trigger { rule: id, index, ..t });
        }
        set.by_name.insert(rule.name.clone(), id);
        set.rules.push(rule);
    }
    // Descriptions need the whole set (signals name their source rule).
    let descs: Vec<Arc<str>> = set
        .triggers
        .iter()
        .map(|t| {
            let agents = if t.kind.is_agent_scoped() {
                format!(" on {}", t.agents.describe(&set))
            } else {
                String::new()
            };
            Arc::from(format!("{}{agents}", t.kind.describe(&set)))
        })
        .collect();
    for (t, d) in set.triggers.iter_mut().zip(descs) {
        t.desc = d;
    }
    Ok(set)
}

fn valid_rule_name(name: &str) -> bool {
    name.bytes().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && name.len() <= 128
}

fn agent_patterns(cx: &Cx<'_>, t: &Table<'_, '_>, key: &str) -> Result<Vec<AgentPattern>, LoadError> {
    let items = t.strings(cx, key)?;
    if items.is_empty() {
        let at = t.get(key).map_or(t.span.start, |(_, k)| k.start);
        return Err(
            cx.err(at, LoadErrorKind::Invalid(format!("{key:?} needs at least one endpoint id pattern")))
        );
    }
    items
        .iter()
        .map(|s| {
            AgentPattern::parse(s.value)
                .map_err(|e| cx.err(cx.inside(&s.span, s.value, e.at), LoadErrorKind::Agent(e)))
        })
        .collect()
}

/// Orders rules so that every signal source comes before its listeners;
/// refuses cycles.
fn signal_order(
    decls: &[Decl<'_, '_>],
    cxs: &[Cx<'_>],
    ids: &HashMap<String, RuleId>,
) -> Result<Vec<RuleId>, Box<(usize, LoadError)>> {
    // Edges: listener → (source, where the signal is named).
    let mut sources: Vec<Vec<(RuleId, usize)>> = vec![Vec::new(); decls.len()];
    for (id, d) in decls.iter().enumerate() {
        let cx = &cxs[d.file];
        let Ok(whens) = d.table.tables(cx, "when", "trigger") else { continue };
        for w in whens {
            if let Ok(Some(s)) = w.str(cx, "signal") {
                if let Some(src) = ids.get(s.value) {
                    sources[id].push((*src, s.span.start));
                }
            }
        }
    }
    // Depth-first search with colours; a grey node reached again closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    let mut colour = vec![Colour::White; decls.len()];
    let mut order = Vec::new();
    for start in 0..decls.len() {
        if colour[start] != Colour::White {
            continue;
        }
        let mut stack: Vec<(RuleId, usize)> = vec![(start, 0)];
        colour[start] = Colour::Grey;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&(src, at)) = sources[node].get(*next) {
                *next += 1;
                match colour[src] {
                    Colour::White => {
                        colour[src] = Colour::Grey;
                        stack.push((src, 0));
                    }
                    Colour::Grey => {
                        let pos = stack.iter().position(|(n, _)| *n == src).unwrap_or(0);
                        let mut cycle: Vec<String> =
                            stack[pos..].iter().map(|(n, _)| decls[*n].name.clone()).collect();
                        cycle.push(decls[src].name.clone());
                        let d = &decls[node];
                        return Err(Box::new((
                            d.file,
                            cxs[d.file].err(at, LoadErrorKind::SignalCycle(cycle)),
                        )));
                    }
                    Colour::Black => {}
                }
            } else {
                colour[node] = Colour::Black;
                order.push(node);
                stack.pop();
            }
        }
    }
    Ok(order)
}

/// Compiling one rule.
struct RuleCx<'c, 's, 'a, 'i> {
    cx: &'c Cx<'s>,
    set: &'c RuleSet,
    ids: &'c HashMap<String, RuleId>,
    summaries: &'c [Option<Summary>],
    decls: &'c [Decl<'a, 'i>],
}

/// Names a template may use in one place.
struct TemplateScope<'a> {
    captures: &'a [Arc<str>],
    aliases: &'a [String],
    agent_context: bool,
}

impl TemplateScope<'_> {
    fn knows(&self, name: &str) -> bool {
        if name == "agent" {
            return self.agent_context;
        }
        TEMPLATE_BUILTINS.contains(&name)
            || name.starts_with("args.")
            || name.starts_with("keys.")
            || self.captures.iter().any(|c| **c == *name)
            || self.aliases.iter().any(|a| a == name)
    }

    fn known(&self) -> String {
        let mut names: Vec<String> = TEMPLATE_BUILTINS
            .iter()
            .filter(|n| **n != "agent" || self.agent_context)
            .map(|s| (*s).to_owned())
            .collect();
        names.extend(self.captures.iter().map(ToString::to_string));
        names.extend(self.aliases.iter().cloned());
        names.push("args.NAME".into());
        names.push("keys.NAME".into());
        names.join(", ")
    }
}

impl<'c, 's, 'a, 'i> RuleCx<'c, 's, 'a, 'i> {
    fn err(&self, at: usize, kind: LoadErrorKind) -> LoadError {
        self.cx.err(at, kind)
    }

    fn duration(&self, t: &Table<'_, '_>, key: &str) -> Result<Option<Ms>, LoadError> {
        let Some(s) = t.str(self.cx, key)? else { return Ok(None) };
        let d = parse_duration(s.value).map_err(|e| {
            let at = match &e {
                crate::time::DurationError::ExpectedNumber { at }
                | crate::time::DurationError::MissingUnit { at }
                | crate::time::DurationError::UnknownUnit { at, .. } => *at,
                _ => 0,
            };
            self.err(self.cx.inside(&s.span, s.value, at), LoadErrorKind::Duration(e))
        })?;
        if d.is_zero() {
            return Err(
                self.err(s.span.start, LoadErrorKind::Invalid(format!("{key:?} must be longer than 0s")))
            );
        }
        Ok(Some(dur_ms(d)))
    }

    fn path(&self, s: &Str<'_>) -> Result<PathPattern, LoadError> {
        PathPattern::parse(s.value)
            .map_err(|e| self.err(self.cx.inside(&s.span, s.value, e.at), LoadErrorKind::Path(e)))
    }

    fn template(&self, s: &Scalar, scope: &TemplateScope<'_>) -> Result<Template, LoadError> {
        if !s.is_string {
            return Ok(Template::literal(s.text.clone()));
        }
        let t = Template::parse(&s.text)
            .map_err(|e| self.err(self.cx.inside(&s.span, &s.text, e.at), LoadErrorKind::Template(e)))?;
        for (name, at) in t.vars() {
            if !scope.knows(name) {
                return Err(self.unknown_name(&s.span, &s.text, at, name, scope));
            }
        }
        Ok(t)
    }

    fn unknown_name(
        &self,
        span: &Range<usize>,
        text: &str,
        at: usize,
        name: &str,
        scope: &TemplateScope<'_>,
    ) -> LoadError {
        let why = if name == "agent" && !scope.agent_context {
            "{agent} is not known: a trigger of this rule has no Agent (schedule or signal)".to_owned()
        } else {
            format!("unknown name {{{name}}}; known names: {}", scope.known())
        };
        self.err(
            self.cx.inside(span, text, at),
            LoadErrorKind::Template(crate::pattern::PatternError::new(at, why)),
        )
    }

    fn check_path_names(
        &self,
        s: &Str<'_>,
        p: &PathPattern,
        scope: &TemplateScope<'_>,
    ) -> Result<(), LoadError> {
        for (name, at) in p.placeholders() {
            if !scope.knows(&name) {
                return Err(self.unknown_name(&s.span, s.value, at, &name, scope));
            }
        }
        Ok(())
    }

    fn expr_err(&self, s: &Str<'_>, e: ExprError) -> LoadError {
        self.err(self.cx.inside(&s.span, s.value, e.at), LoadErrorKind::Expression(e))
    }

    /// Compiles a rule; `None` when it listens to a rule that failed.
    fn rule(&mut self, id: RuleId, d: &Decl<'a, 'i>) -> Result<Option<(Rule, Vec<Trigger>)>, LoadError> {
        let cx = self.cx;
        let t = &d.table;
        t.check_keys(cx, RULE_KEYS)?;
        let name: Arc<str> = Arc::from(d.name.as_str());
        let whens = t.tables(cx, "when", "trigger")?;
        if whens.is_empty() {
            return Err(self.err(
                d.name_span.start,
                LoadErrorKind::Missing {
                    context: format!("rule {:?}", d.name),
                    what: "a trigger: `when = { value_change = \"Device.…\" }` (or event, schedule, …)"
                        .into(),
                },
            ));
        }
        let mut triggers = Vec::new();
        let mut capture_sets: Vec<Vec<Arc<str>>> = Vec::new();
        let mut agent_context = true;
        for w in &whens {
            let Some((trig, caps, has_agent)) = self.trigger(id, w)? else { return Ok(None) };
            triggers.push(trig);
            capture_sets.push(caps);
            agent_context &= has_agent;
        }
        // Captures every trigger binds.
        let mut captures = capture_sets.first().cloned().unwrap_or_default();
        for other in &capture_sets[1..] {
            captures.retain(|c| other.contains(c));
        }

        // Named values.
        let mut aliases = Vec::new();
        let mut alias_names: Vec<String> = Vec::new();
        if let Some(values) = t.table(cx, "values", format!("values of rule {:?}", d.name))? {
            for (vname, vspan, _) in values.entries() {
                if BUILTINS.contains(&vname)
                    || TEMPLATE_BUILTINS.contains(&vname)
                    || captures.iter().any(|c| **c == *vname)
                    || !vname.bytes().next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
                    || !vname.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    return Err(self.err(
                        vspan.start,
                        LoadErrorKind::Invalid(format!(
                            "value name {vname:?} must be a plain name (letters, digits, `_`) that is not a built-in or capture name"
                        )),
                    ));
                }
                alias_names.push(vname.to_owned());
            }
            for (vname, vspan, v) in values.entries() {
                let scope = TemplateScope { captures: &captures, aliases: &[], agent_context };
                let (path_s, agent_t) = match v.get_ref() {
                    toml::de::DeValue::String(s) => (Str { value: s, span: v.span() }, None),
                    toml::de::DeValue::Table(tab) => {
                        let tv = Table { t: tab, span: v.span(), what: format!("value {vname:?}") };
                        tv.check_keys(cx, VALUE_KEYS)?;
                        let Some(p) = tv.str(cx, "path")? else {
                            return Err(self.err(
                                vspan.start,
                                LoadErrorKind::Missing {
                                    context: format!("value {vname:?}"),
                                    what: "`path`".into(),
                                },
                            ));
                        };
                        let agent = match tv.scalar(cx, "agent")? {
                            Some(a) => Some(self.agent_template(&a, &scope)?),
                            None => None,
                        };
                        (p, agent)
                    }
                    _ => {
                        return Err(self.err(
                            v.span().start,
                            LoadErrorKind::WrongType {
                                key: vname.to_owned(),
                                expected: "a path string or a table { path, agent }",
                                found: "another value",
                            },
                        ));
                    }
                };
                if agent_t.is_none() && !agent_context {
                    return Err(self.err(
                        vspan.start,
                        LoadErrorKind::Missing {
                            context: format!("value {vname:?}"),
                            what: "`agent`: a trigger of this rule has no Agent".into(),
                        },
                    ));
                }
                let path = self.path(&path_s)?;
                if path.leaf_name().is_none() || !matches!(path.leaf, crate::pattern::path::Leaf::Param(_)) {
                    return Err(self.err(
                        path_s.span.start,
                        LoadErrorKind::Invalid(
                            "a value reads one parameter: the path must end in a parameter name".into(),
                        ),
                    ));
                }
                self.check_path_names(&path_s, &path, &scope)?;
                aliases.push(Alias { name: vname.to_owned(), agent: agent_t, path: Arc::new(path) });
            }
        }

        let scope = Scope { captures: &captures, aliases: &alias_names, agent_context };
        let mut checks = Vec::new();
        let condition = match t.str(cx, "if")? {
            None => None,
            Some(s) => {
                let parsed = expr::parse(s.value).map_err(|e| self.expr_err(&s, e))?;
                let expr = compile_expr(&parsed, &scope, &mut checks).map_err(|e| self.expr_err(&s, e))?;
                Some(Condition {
                    expr,
                    text: parsed.to_string(),
                    checks: checks.iter().map(|c| Arc::from(c.as_str())).collect(),
                })
            }
        };
        let hysteresis = match t.table(cx, "hysteresis", format!("hysteresis of rule {:?}", d.name))? {
            None => None,
            Some(h) => Some(self.hysteresis(&h, &scope)?),
        };
        let hold = self.duration(t, "for")?;
        let debounce = self.duration(t, "debounce")?;
        let cooldown = self.duration(t, "cooldown")?;
        let rate_limit = match t.str(cx, "rate_limit")? {
            None => None,
            Some(s) => Some(self.rate_limit(&s)?),
        };
        let tscope = TemplateScope { captures: &captures, aliases: &alias_names, agent_context };
        let key = match t.scalar(cx, "key")? {
            None => None,
            Some(k) => Some(self.template(&k, &tscope)?),
        };
        let then = self.actions(t, "then", &tscope)?;
        let otherwise = self.actions(t, "else", &tscope)?;
        let rule = Rule {
            name,
            description: t.str(cx, "description")?.map(|s| s.value.to_owned()),
            origin: Origin { file: cx.file.clone(), line: cx.line(d.name_span.start) },
            enabled: t.bool(cx, "enabled")?.unwrap_or(true),
            triggers: Vec::new(),
            condition,
            aliases,
            hysteresis,
            hold,
            debounce,
            cooldown,
            rate_limit,
            key,
            then: then.into(),
            otherwise: otherwise.into(),
            captures,
            agent_context,
        };
        Ok(Some((rule, triggers)))
    }

    fn agent_template(&self, a: &Scalar, scope: &TemplateScope<'_>) -> Result<Template, LoadError> {
        let t = self.template(a, scope)?;
        // Check the literal parts as an endpoint-id pattern would be checked.
        let probe: String = t
            .parts()
            .iter()
            .map(|p| match p {
                crate::pattern::template::Part::Lit(s) => s.clone(),
                crate::pattern::template::Part::Var(..) => "x".into(),
            })
            .collect();
        if t.as_literal().is_some() || !probe.is_empty() {
            AgentPattern::parse(&probe)
                .map_err(|e| self.err(self.cx.inside(&a.span, &a.text, e.at), LoadErrorKind::Agent(e)))?;
        }
        if a.text.contains('*') {
            return Err(self.err(
                a.span.start,
                LoadErrorKind::Invalid("`agent` names one Agent; use `agents` or `tag` for several".into()),
            ));
        }
        Ok(t)
    }

    /// Compiles one trigger; returns it, the captures it binds, and whether
    /// it comes with an Agent.
    #[allow(clippy::type_complexity)]
    fn trigger(
        &self,
        rule: RuleId,
        w: &Table<'_, '_>,
    ) -> Result<Option<(Trigger, Vec<Arc<str>>, bool)>, LoadError> {
        let cx = self.cx;
        w.check_keys(cx, TRIGGER_KEYS)?;
        let kinds: Vec<&str> = TRIGGER_KINDS.iter().copied().filter(|k| w.has(k)).collect();
        let kind_name = match kinds.as_slice() {
            [one] => *one,
            [] => {
                return Err(self.err(
                    w.span.start,
                    LoadErrorKind::Missing {
                        context: "a trigger".into(),
                        what: format!("one of: {}", TRIGGER_KINDS.join(", ")),
                    },
                ));
            }
            [_, second, ..] => {
                let at = w.get(second).map_or(w.span.start, |(_, k)| k.start);
                return Err(self.err(
                    at,
                    LoadErrorKind::Invalid(format!(
                        "a trigger has one kind, but this one has {}; write one trigger per kind as [[rule.NAME.when]] tables",
                        kinds.join(" and ")
                    )),
                ));
            }
        };
        let key_at = |k: &str| w.get(k).map_or(w.span.start, |(_, s)| s.start);
        let only_for = |key: &str, kinds: &[&str]| -> Result<(), LoadError> {
            if w.has(key) && !kinds.contains(&kind_name) {
                return Err(self.err(
                    key_at(key),
                    LoadErrorKind::Invalid(format!("{key:?} does not apply to a {kind_name} trigger")),
                ));
            }
            Ok(())
        };
        only_for("agents", &["value_change", "event", "object_created", "object_deleted", "agent_status"])?;
        only_for("tag", &["value_change", "event", "object_created", "object_deleted", "agent_status"])?;
        only_for("args", &["event"])?;
        only_for("edge", &["signal"])?;
        only_for("notif_retry", &["value_change", "event", "object_created", "object_deleted"])?;
        if w.has("agents") && w.has("tag") {
            return Err(
                self.err(key_at("tag"), LoadErrorKind::Invalid("use `agents` or `tag`, not both".into()))
            );
        }

        // Agents and their captures.
        let mut captures: Vec<Arc<str>> = Vec::new();
        let agents = if w.has("agents") {
            let pats = agent_patterns(cx, w, "agents")?;
            // Captures every pattern binds.
            let mut common: Option<Vec<Arc<str>>> = None;
            for p in &pats {
                let names: Vec<Arc<str>> = p.capture_names().cloned().collect();
                common = Some(match common {
                    None => names,
                    Some(c) => c.into_iter().filter(|n| names.contains(n)).collect(),
                });
            }
            captures.extend(common.unwrap_or_default());
            AgentSel::Patterns(pats)
        } else if let Some(tag) = w.str(cx, "tag")? {
            let idx =
                self.set.tags.iter().position(|(n, _)| **n == *tag.value).ok_or_else(|| {
                    self.err(tag.span.start, LoadErrorKind::UnknownTag(tag.value.to_owned()))
                })?;
            AgentSel::Tag(idx)
        } else {
            AgentSel::Any
        };
        let agent_caps = captures.clone();
        let mut path_captures = |p: &PathPattern, s: &Str<'_>| -> Result<(), LoadError> {
            // Names inside search constants must come from the Agent pattern:
            // the search is checked before the path's own captures are known.
            for (n, at) in p.search_vars() {
                if !agent_caps.iter().any(|c| **c == *n) {
                    return Err(self.err(
                        self.cx.inside(&s.span, s.value, at),
                        LoadErrorKind::Template(crate::pattern::PatternError::new(
                            at,
                            format!("{{{n}}} is not captured by this trigger's `agents` pattern"),
                        )),
                    ));
                }
            }
            for c in p.capture_names() {
                if captures.contains(c) {
                    let at = s.value.find(&format!("{{{c}}}")).unwrap_or(0);
                    return Err(self.err(
                        self.cx.inside(&s.span, s.value, at),
                        LoadErrorKind::Invalid(format!("{{{c}}} is captured twice")),
                    ));
                }
                captures.push(c.clone());
            }
            Ok(())
        };

        let notif_retry = w.bool(cx, "notif_retry")?.unwrap_or(true);
        let mut has_agent = true;
        let kind = match kind_name {
            "value_change" => {
                let s = w
                    .str(cx, "value_change")?
                    .ok_or_else(|| self.err(key_at("value_change"), missing_str()))?;
                let p = self.path(&s)?;
                if !matches!(
                    p.leaf,
                    crate::pattern::path::Leaf::Param(_) | crate::pattern::path::Leaf::Object
                ) {
                    return Err(self.err(
                        s.span.start,
                        LoadErrorKind::Invalid(
                            "value_change watches a parameter (or every parameter below an object path ending in `.`)"
                                .into(),
                        ),
                    ));
                }
                path_captures(&p, &s)?;
                TriggerKind::ValueChange(Arc::new(p))
            }
            "event" => {
                let s = w.str(cx, "event")?.ok_or_else(|| self.err(key_at("event"), missing_str()))?;
                let p = self.path(&s)?;
                if !matches!(p.leaf, crate::pattern::path::Leaf::Event(_)) {
                    return Err(self.err(
                        s.span.start,
                        LoadErrorKind::Invalid(
                            "an event path ends in the event name and `!`, e.g. Device.Boot!".into(),
                        ),
                    ));
                }
                path_captures(&p, &s)?;
                let args = w.scalar_map(cx, "args")?.into_iter().map(|(k, v)| (k, v.text)).collect();
                TriggerKind::Event { path: Arc::new(p), args }
            }
            "object_created" | "object_deleted" => {
                let s = w.str(cx, kind_name)?.ok_or_else(|| self.err(key_at(kind_name), missing_str()))?;
                let p = self.path(&s)?;
                if !(p.is_table() || p.is_instance()) {
                    return Err(self.err(
                        s.span.start,
                        LoadErrorKind::Invalid(format!(
                            "{kind_name} watches a table (`Device.Node.`) or its instances (`Device.Node.*.`)"
                        )),
                    ));
                }
                path_captures(&p, &s)?;
                if kind_name == "object_created" {
                    TriggerKind::Created(Arc::new(p))
                } else {
                    TriggerKind::Deleted(Arc::new(p))
                }
            }
            "agent_status" => {
                let s = w
                    .str(cx, "agent_status")?
                    .ok_or_else(|| self.err(key_at("agent_status"), missing_str()))?;
                match s.value {
                    "online" => TriggerKind::Online,
                    "offline" => TriggerKind::Offline,
                    other => {
                        return Err(self.err(
                            s.span.start,
                            LoadErrorKind::Invalid(format!(
                                "agent_status is \"online\" or \"offline\", not {other:?}"
                            )),
                        ));
                    }
                }
            }
            "schedule" => {
                let s = w.str(cx, "schedule")?.ok_or_else(|| self.err(key_at("schedule"), missing_str()))?;
                let sch = Schedule::parse(s.value).map_err(|e| {
                    self.err(self.cx.inside(&s.span, s.value, e.at), LoadErrorKind::Schedule(e))
                })?;
                has_agent = false;
                TriggerKind::Schedule(sch)
            }
            _ => {
                let s = w.str(cx, "signal")?.ok_or_else(|| self.err(key_at("signal"), missing_str()))?;
                let from = *self
                    .ids
                    .get(s.value)
                    .ok_or_else(|| self.err(s.span.start, LoadErrorKind::UnknownRule(s.value.to_owned())))?;
                if from == rule {
                    return Err(self.err(
                        s.span.start,
                        LoadErrorKind::SignalCycle(vec![
                            self.decls[rule].name.clone(),
                            self.decls[rule].name.clone(),
                        ]),
                    ));
                }
                let edge = match w.str(cx, "edge")? {
                    None => Edge::Fired,
                    Some(e) if e.value == "fired" => Edge::Fired,
                    Some(e) if e.value == "cleared" => Edge::Cleared,
                    Some(e) => {
                        return Err(self.err(
                            e.span.start,
                            LoadErrorKind::Invalid(format!(
                                "edge is \"fired\" or \"cleared\", not {:?}",
                                e.value
                            )),
                        ));
                    }
                };
                // The listener sees what the source rule saw.
                let summary = self.summaries.get(from).cloned().flatten();
                let Some(summary) = summary else {
                    // The source failed to compile (or is in a cycle); its
                    // own error is reported.
                    return Ok(None);
                };
                captures.extend(summary.captures);
                has_agent = summary.agent_context;
                TriggerKind::Signal { from, edge }
            }
        };
        Ok(Some((
            Trigger { rule, index: 0, kind, agents, notif_retry, desc: Arc::from("") },
            captures,
            has_agent,
        )))
    }

    fn hysteresis(&self, h: &Table<'_, '_>, scope: &Scope<'_>) -> Result<Hysteresis, LoadError> {
        let cx = self.cx;
        h.check_keys(cx, HYSTERESIS_KEYS)?;
        let (of, of_text) = match h.str(cx, "of")? {
            None => (
                compile_operand_text("value", scope)
                    .map_err(|e| self.err(h.span.start, LoadErrorKind::Expression(e)))?,
                "value".to_owned(),
            ),
            Some(s) => {
                let parsed = expr::parse(s.value).map_err(|e| self.expr_err(&s, e))?;
                let Expr::Truthy(Operand::Ref(_)) = &parsed else {
                    return Err(self.err(
                        s.span.start,
                        LoadErrorKind::Invalid(
                            "`of` names one value: `value`, a value name or a Device.… path".into(),
                        ),
                    ));
                };
                (compile_operand_text(s.value, scope).map_err(|e| self.expr_err(&s, e))?, parsed.to_string())
            }
        };
        let on_above = h.number(cx, "on_above")?;
        let off_below = h.number(cx, "off_below")?;
        let on_below = h.number(cx, "on_below")?;
        let off_above = h.number(cx, "off_above")?;
        let bad = |why: &str| self.err(h.span.start, LoadErrorKind::Invalid(format!("hysteresis: {why}")));
        match (on_above, off_below, on_below, off_above) {
            (Some((on, _)), Some((off, span)), None, None) => {
                if on <= off {
                    return Err(self.err(
                        span.start,
                        LoadErrorKind::Invalid("hysteresis: off_below must be lower than on_above".into()),
                    ));
                }
                Ok(Hysteresis { of, of_text, on, off, rising: true })
            }
            (None, None, Some((on, _)), Some((off, span))) => {
                if on >= off {
                    return Err(self.err(
                        span.start,
                        LoadErrorKind::Invalid("hysteresis: off_above must be higher than on_below".into()),
                    ));
                }
                Ok(Hysteresis { of, of_text, on, off, rising: false })
            }
            _ => Err(bad(
                "give on_above with off_below (switch on when rising), or on_below with off_above (when falling)",
            )),
        }
    }

    fn rate_limit(&self, s: &Str<'_>) -> Result<RateLimit, LoadError> {
        let text = s.value;
        let (count, per, per_at) = match text.split_once(" per ").or_else(|| text.split_once('/')) {
            Some((c, p)) => (c.trim(), p.trim(), text.len() - p.len() + (p.len() - p.trim_start().len())),
            None => {
                return Err(self.err(
                    s.span.start,
                    LoadErrorKind::Invalid(
                        "rate_limit is written \"COUNT per DURATION\", e.g. \"10 per 1h\"".into(),
                    ),
                ));
            }
        };
        let count: u32 = count.parse().ok().filter(|c| *c > 0).ok_or_else(|| {
            self.err(
                s.span.start,
                LoadErrorKind::Invalid("rate_limit: the count must be a whole number above 0".into()),
            )
        })?;
        let per = parse_duration(per)
            .map_err(|e| self.err(self.cx.inside(&s.span, text, per_at), LoadErrorKind::Duration(e)))?;
        if per.is_zero() {
            return Err(self.err(
                self.cx.inside(&s.span, text, per_at),
                LoadErrorKind::Invalid("rate_limit: the period must be longer than 0s".into()),
            ));
        }
        Ok(RateLimit { count, per: dur_ms(per) })
    }

    fn actions(
        &self,
        t: &Table<'_, '_>,
        key: &str,
        scope: &TemplateScope<'_>,
    ) -> Result<Vec<Action>, LoadError> {
        t.tables(self.cx, key, &format!("{key} step"))?.iter().map(|a| self.action(a, scope)).collect()
    }

    fn action(&self, a: &Table<'_, '_>, scope: &TemplateScope<'_>) -> Result<Action, LoadError> {
        let cx = self.cx;
        a.check_keys(cx, ACTION_KEYS)?;
        let kinds: Vec<&str> = ACTION_KINDS.iter().copied().filter(|k| a.has(k)).collect();
        let kind_name = match kinds.as_slice() {
            [one] => *one,
            [] => {
                return Err(self.err(
                    a.span.start,
                    LoadErrorKind::Missing {
                        context: a.what.clone(),
                        what: format!("one of: {}", ACTION_KINDS.join(", ")),
                    },
                ));
            }
            [_, second, ..] => {
                let at = a.get(second).map_or(a.span.start, |(_, k)| k.start);
                return Err(self.err(
                    at,
                    LoadErrorKind::Invalid(format!(
                        "a step does one thing, but this one has {}; write one [[…then]] table per step",
                        kinds.join(" and ")
                    )),
                ));
            }
        };
        let key_at = |k: &str| a.get(k).map_or(a.span.start, |(_, s)| s.start);
        let only_for = |key: &str, kinds: &[&str]| -> Result<(), LoadError> {
            if a.has(key) && !kinds.contains(&kind_name) {
                return Err(self.err(
                    key_at(key),
                    LoadErrorKind::Invalid(format!("{key:?} does not apply to a {kind_name} step")),
                ));
            }
            Ok(())
        };
        only_for("value", &["set"])?;
        only_for("params", &["set", "add"])?;
        only_for("args", &["operate"])?;
        only_for("fields", &["publish"])?;
        let addressed = ["set", "add", "delete", "operate"];
        for k in ["agent", "agents", "tag", "wait", "timeout"] {
            only_for(k, &addressed)?;
        }
        let targets: Vec<&str> = ["agent", "agents", "tag"].into_iter().filter(|k| a.has(k)).collect();
        if targets.len() > 1 {
            return Err(self.err(
                key_at(targets[1]),
                LoadErrorKind::Invalid("use one of `agent`, `agents`, `tag`".into()),
            ));
        }

        // Target first: `agents` patterns bind captures the step may use.
        let mut step_caps: Vec<Arc<str>> = scope.captures.to_vec();
        let target = if !addressed.contains(&kind_name) {
            Target::None
        } else if let Some(ag) = a.scalar(cx, "agent")? {
            Target::One(self.agent_template(&ag, scope)?)
        } else if a.has("agents") {
            let pats = agent_patterns(cx, a, "agents")?;
            let mut common: Option<Vec<Arc<str>>> = None;
            for p in &pats {
                let names: Vec<Arc<str>> = p.capture_names().cloned().collect();
                common = Some(match common {
                    None => names,
                    Some(c) => c.into_iter().filter(|n| names.contains(n)).collect(),
                });
            }
            step_caps.extend(common.unwrap_or_default());
            Target::Each(AgentSel::Patterns(pats))
        } else if let Some(tag) = a.str(cx, "tag")? {
            let idx =
                self.set.tags.iter().position(|(n, _)| **n == *tag.value).ok_or_else(|| {
                    self.err(tag.span.start, LoadErrorKind::UnknownTag(tag.value.to_owned()))
                })?;
            Target::Each(AgentSel::Tag(idx))
        } else if scope.agent_context {
            Target::One(
                Template::parse("{agent}").map_err(|e| self.err(a.span.start, LoadErrorKind::Template(e)))?,
            )
        } else {
            return Err(self.err(
                key_at(kind_name),
                LoadErrorKind::Missing {
                    context: format!("this {kind_name} step"),
                    what: "`agent`, `agents` or `tag`: a trigger of this rule has no Agent to default to"
                        .into(),
                },
            ));
        };
        let in_fanout = matches!(target, Target::Each(_));
        let sscope = TemplateScope {
            captures: &step_caps,
            aliases: scope.aliases,
            // In a fan-out, `{agent}` is each target Agent.
            agent_context: scope.agent_context || in_fanout,
        };
        let params = |key: &str| -> Result<Vec<(String, Template)>, LoadError> {
            a.scalar_map(cx, key)?
                .into_iter()
                .map(|(k, v)| {
                    if !k.bytes().next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
                        || !k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
                    {
                        return Err(self.err(
                            v.span.start,
                            LoadErrorKind::Invalid(format!("{k:?} is not a parameter name")),
                        ));
                    }
                    Ok((k, self.template(&v, &sscope)?))
                })
                .collect()
        };
        let path_of = |key: &str| -> Result<(PathPattern, Str<'_>), LoadError> {
            let s = a.str(cx, key)?.ok_or_else(|| self.err(key_at(key), missing_str()))?;
            let p = self.path(&s)?;
            self.check_path_names(&s, &p, &sscope)?;
            Ok((p, s))
        };
        let kind = match kind_name {
            "set" => {
                let (p, s) = path_of("set")?;
                match (a.scalar(cx, "value")?, a.has("params")) {
                    (Some(v), false) => {
                        let crate::pattern::path::Leaf::Param(param) = &p.leaf else {
                            return Err(self.err(
                                s.span.start,
                                LoadErrorKind::Invalid(
                                    "with `value`, `set` names a parameter (no trailing `.`); to set several, give an object path and `params`".into(),
                                ),
                            ));
                        };
                        let object_text = &s.value[..s.value.len() - param.len()];
                        let object = PathPattern::parse(object_text)
                            .map_err(|e| self.err(s.span.start, LoadErrorKind::Path(e)))?;
                        ActionKind::Set {
                            object: Arc::new(object),
                            params: vec![(param.to_string(), self.template(&v, &sscope)?)],
                        }
                    }
                    (None, true) => {
                        if p.leaf != crate::pattern::path::Leaf::Object {
                            return Err(self.err(
                                s.span.start,
                                LoadErrorKind::Invalid(
                                    "with `params`, `set` names an object path ending in `.`".into(),
                                ),
                            ));
                        }
                        let params = params("params")?;
                        if params.is_empty() {
                            return Err(self
                                .err(key_at("params"), LoadErrorKind::Invalid("`params` is empty".into())));
                        }
                        ActionKind::Set { object: Arc::new(p), params }
                    }
                    (Some(_), true) => {
                        return Err(self.err(
                            key_at("params"),
                            LoadErrorKind::Invalid(
                                "give `value` (with a parameter path) or `params`, not both".into(),
                            ),
                        ));
                    }
                    (None, false) => {
                        return Err(self.err(
                            key_at("set"),
                            LoadErrorKind::Missing {
                                context: "a set step".into(),
                                what: "`value` or `params`".into(),
                            },
                        ));
                    }
                }
            }
            "add" => {
                let (p, s) = path_of("add")?;
                if !p.is_table() {
                    return Err(self.err(
                        s.span.start,
                        LoadErrorKind::Invalid(
                            "`add` names a table, ending in `.`, e.g. Device.LocalAgent.Threshold.".into(),
                        ),
                    ));
                }
                ActionKind::Add { table: Arc::new(p), params: params("params")? }
            }
            "delete" => {
                let (p, s) = path_of("delete")?;
                if !p.is_instance() {
                    return Err(self.err(
                        s.span.start,
                        LoadErrorKind::Invalid("`delete` names instances, e.g. Device.LocalAgent.Threshold.3. or …[Alias==\"x\"].".into()),
                    ));
                }
                ActionKind::Delete { path: Arc::new(p) }
            }
            "operate" => {
                let (p, s) = path_of("operate")?;
                if !matches!(p.leaf, crate::pattern::path::Leaf::Command(_)) {
                    return Err(self.err(
                        s.span.start,
                        LoadErrorKind::Invalid(
                            "`operate` names a command ending in `()`, e.g. …BinaryControl.Toggle()".into(),
                        ),
                    ));
                }
                ActionKind::Operate { command: Arc::new(p), args: params("args")? }
            }
            "publish" => {
                let name =
                    a.scalar(cx, "publish")?.ok_or_else(|| self.err(key_at("publish"), missing_str()))?;
                let name = self.template(&name, &sscope)?;
                ActionKind::Publish { name, fields: params("fields")? }
            }
            _ => ActionKind::Delay(self.duration(a, "delay")?.unwrap_or(0)),
        };
        Ok(Action {
            kind,
            target,
            wait: a.bool(cx, "wait")?.unwrap_or(false),
            timeout: self.duration(a, "timeout")?.unwrap_or(DEFAULT_TIMEOUT),
            line: cx.line(a.span.start),
        })
    }
}

fn missing_str() -> LoadErrorKind {
    LoadErrorKind::Invalid("expected a string".into())
}

/// Compiles a lone reference (`value`, a value name, a `Device.…` path) to an operand.
fn compile_operand_text(text: &str, scope: &Scope<'_>) -> Result<COperand, ExprError> {
    let parsed = expr::parse(text)?;
    let compiled = compile_expr(&parsed, scope, &mut Vec::new())?;
    match compiled {
        crate::expr::compile::CExpr::Truthy { operand, .. } => Ok(operand),
        _ => Err(ExprError { at: 0, kind: crate::expr::ExprErrorKind::BadPath }),
    }
}
