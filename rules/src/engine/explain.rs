//! Assembling a rule's [`Explanation`].

use std::{sync::Arc, time::SystemTime};

use super::Engine;
use crate::{
    model::{Action, ActionKind, Rule, RuleSet, Target},
    time::{format_duration, from_ms},
    trace::{Explanation, InstanceState},
};

fn dur(ms: u64) -> String {
    format_duration(std::time::Duration::from_millis(ms))
}

fn describe_action(a: &Action, set: &RuleSet) -> String {
    let target = match &a.target {
        Target::One(t) => format!(" on {t}"),
        Target::Each(sel) => format!(" on each of {}", sel.describe(set)),
        Target::None => String::new(),
    };
    let list = |ps: &[(String, crate::pattern::template::Template)]| {
        ps.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
    };
    let mut s = match &a.kind {
        ActionKind::Set { object, params } => format!("set {object} {}{target}", list(params)),
        ActionKind::Add { table, params } => format!("add to {table} {}{target}", list(params)),
        ActionKind::Delete { path } => format!("delete {path}{target}"),
        ActionKind::Operate { command, args } => format!("operate {command} {}{target}", list(args)),
        ActionKind::Publish { name, fields } => format!("publish {name} {}", list(fields)),
        ActionKind::Delay(ms) => format!("wait {}", dur(*ms)),
    };
    if a.wait {
        s.push_str(&format!(" (waits, timeout {})", dur(a.timeout)));
    }
    s.push_str(&format!("  [line {}]", a.line));
    s
}

fn conditions(rule: &Rule) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(c) = &rule.condition {
        out.push(format!("if:     {}", c.text));
    }
    if let Some(h) = &rule.hysteresis {
        out.push(if h.rising {
            format!("hysteresis: on when {} > {}, off when < {}", h.of_text, h.on, h.off)
        } else {
            format!("hysteresis: on when {} < {}, off when > {}", h.of_text, h.on, h.off)
        });
    }
    if let Some(ms) = rule.hold {
        out.push(format!("for:    {}", dur(ms)));
    }
    if let Some(ms) = rule.debounce {
        out.push(format!("debounce: {}", dur(ms)));
    }
    if let Some(ms) = rule.cooldown {
        out.push(format!("cooldown: {}", dur(ms)));
    }
    if let Some(rl) = rule.rate_limit {
        out.push(format!("rate limit: {} per {}", rl.count, dur(rl.per)));
    }
    if let Some(k) = &rule.key {
        out.push(format!("key:    {k}"));
    }
    out
}

impl Engine {
    /// Why a rule did or did not fire: its definition, state at `now` and
    /// recent evaluations. `None` if there is no such rule.
    pub fn explain(&self, name: &str, now: SystemTime) -> Option<Explanation> {
        let id = self.set.id(name)?;
        let rule = &self.set.rules[id];
        let st = &self.states[id];
        let now_ms = crate::time::to_ms(now);
        let mut instances: Vec<InstanceState> = st
            .instances
            .iter()
            .map(|(k, i)| InstanceState {
                key: k.clone(),
                latched: i.latch,
                active: i.active,
                hold_until: i.hold.map(|t| from_ms(t.0)),
                debounce_until: i.debounce.map(|t| from_ms(t.0)),
                cooldown_until: (i.cooldown_until > now_ms).then(|| from_ms(i.cooldown_until)),
            })
            .collect();
        instances.sort_by(|a, b| a.key.cmp(&b.key));
        let steps = rule
            .then
            .iter()
            .map(|a| describe_action(a, &self.set))
            .chain(rule.otherwise.iter().map(|a| format!("else: {}", describe_action(a, &self.set))))
            .collect();
        Some(Explanation {
            rule: rule.name.to_string(),
            description: rule.description.clone(),
            origin: rule.origin.to_string(),
            enabled: rule.enabled,
            stopped: st.stopped.as_ref().map(|(at, r)| (from_ms(*at), r.clone())),
            triggers: rule
                .triggers
                .iter()
                .filter_map(|t| self.set.triggers.get(*t))
                .map(|t| t.desc.to_string())
                .collect(),
            conditions: conditions(rule),
            steps,
            counts: st.counts,
            instances,
            rate_used: rule.rate_limit.map(|rl| (st.rate.len(), rl.count)),
            recent: st.trace.recent(),
        })
    }

    /// The names of the rules, with whether each is stopped.
    pub fn rule_status(&self) -> Vec<(Arc<str>, bool)> {
        self.set.rules.iter().zip(&self.states).map(|(r, s)| (r.name.clone(), s.stopped.is_some())).collect()
    }
}
