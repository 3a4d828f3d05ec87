//! Which subscriptions each Agent needs, derived from the rules, and the Get
//! that primes the cache.
//!
//! For an Agent, the engine needs:
//! * one subscription per distinct (type, reference) of the triggers that
//!   select it (ValueChange, Event, ObjectCreation, ObjectDeletion), with
//!   the Agent's captures filled in (`[Name=="r{room}-presence"]` becomes
//!   `[Name=="r101-presence"]`) and path captures turned into `*`; rules
//!   watching the same path share it, and its ID, derived from type and
//!   reference, stays the same as long as one rule still needs it (so a
//!   sync keeps the row when another rule on it goes). Which triggers a
//!   notification on it reaches is the index's business
//!   ([`super::index`]);
//! * ValueChange on every parameter a condition reads from it (`Device.…`
//!   in `if`, `values`), so the cache stays current;
//! * OperationComplete on the commands rules may run on it (to follow them);
//! * `Device.Boot!`, to repair subscriptions after the Agent restarts.
//!
//! NotifRetry is asked for unless every trigger using the reference says
//! `notif_retry = false`: losing a notification loses a state change.

use std::{borrow::Cow, collections::BTreeMap, sync::Arc};

use super::{
    Engine,
    index::{AgentView, subscription_id},
    io::{AgentSubscriptions, NotifType, Output, SubscriptionSpec},
};
use crate::{
    expr::compile::reads,
    model::{ActionKind, Rule, Target, TriggerKind},
    pattern::{
        Captures,
        agent::AgentPattern,
        path::{PathPattern, Seg},
    },
    time::Ms,
};

impl Engine {
    /// The subscriptions `agent` needs and the paths to prime with a Get.
    pub(crate) fn specs(&self, agent: &Arc<str>, view: &AgentView) -> (Vec<SubscriptionSpec>, Vec<String>) {
        let set = &self.set;
        // (type, reference) → notif_retry
        let mut refs: BTreeMap<(NotifType, String), bool> = BTreeMap::new();
        let mut prime: Vec<String> = Vec::new();
        let add = |refs: &mut BTreeMap<(NotifType, String), bool>, t: NotifType, r: String, retry: bool| {
            let e = refs.entry((t, r)).or_insert(false);
            *e |= retry;
        };
        let vc_with_prime = |refs: &mut BTreeMap<(NotifType, String), bool>,
                             prime: &mut Vec<String>,
                             p: &PathPattern,
                             caps: &Captures,
                             retry: bool| {
            let known = |n: &str| caps.iter().find(|(k, _)| **k == *n).map(|(_, v)| Cow::Borrowed(&**v));
            let r = p.reference(&known);
            prime.push(r.clone());
            prime.extend(search_keys(p));
            add(refs, NotifType::ValueChange, r, retry);
        };
        // Each trigger's own subscription, as the view bound it (one per
        // distinct type and reference, shared by the triggers that need it).
        for ve in &view.entries {
            let Some(trig) = set.triggers.get(ve.trigger) else { continue };
            let Some(b) = &ve.binding else { continue };
            add(&mut refs, b.kind, b.reference.clone(), trig.notif_retry);
            match &trig.kind {
                TriggerKind::ValueChange(p) => {
                    prime.push(b.reference.clone());
                    prime.extend(search_keys(p));
                }
                TriggerKind::Event { path: p, .. } | TriggerKind::Created(p) | TriggerKind::Deleted(p) => {
                    prime.extend(search_keys(p));
                }
                TriggerKind::Online
                | TriggerKind::Offline
                | TriggerKind::Schedule(_)
                | TriggerKind::Signal { .. } => {}
            }
        }
        // Reads of the trigger's Agent, for rules triggered here.
        for ve in &view.entries {
            let Some(trig) = set.triggers.get(ve.trigger) else { continue };
            let Some(rule) = set.rules.get(trig.rule) else { continue };
            for p in rule_reads(rule) {
                vc_with_prime(&mut refs, &mut prime, &p, &ve.caps, true);
            }
        }
        // Reads and commands aimed at this Agent by name.
        for rule in set.rules.iter().filter(|r| r.enabled) {
            for a in &rule.aliases {
                let Some(t) = &a.agent else { continue };
                let Some(pat) = AgentPattern::from_template(t) else { continue };
                let mut caps = Captures::new();
                if pat.matches(agent, &mut caps) {
                    vc_with_prime(&mut refs, &mut prime, &a.path, &caps, true);
                }
            }
            let triggered_here = view.shape.rules.contains(&set.id(&rule.name).unwrap_or(usize::MAX));
            for action in rule.then.iter().chain(rule.otherwise.iter()) {
                let ActionKind::Operate { command, .. } = &action.kind else { continue };
                let mut caps = Captures::new();
                let aimed = match &action.target {
                    Target::One(t) if t.is_var("agent") => triggered_here,
                    Target::One(t) => {
                        AgentPattern::from_template(t).is_some_and(|p| p.matches(agent, &mut caps))
                    }
                    Target::Each(sel) => sel.matches(set, agent, &mut caps),
                    Target::None => false,
                };
                if aimed {
                    let known =
                        |n: &str| caps.iter().find(|(k, _)| **k == *n).map(|(_, v)| Cow::Borrowed(&**v));
                    add(&mut refs, NotifType::OperationComplete, command.reference(&known), true);
                }
            }
        }
        if !refs.is_empty() {
            add(&mut refs, NotifType::Event, "Device.Boot!".into(), true);
        }
        let mut specs: Vec<SubscriptionSpec> = refs
            .into_iter()
            .map(|((t, r), retry)| SubscriptionSpec {
                id: subscription_id(&self.sub_prefix, t, &r),
                notif_type: t,
                reference: r,
                notif_retry: retry,
            })
            .collect();
        specs.sort();
        prime.sort();
        prime.dedup();
        (specs, prime)
    }

    /// Asks the runtime to put the Agent's subscriptions in place (when
    /// `force`, or when they changed) and primes its cache.
    pub(crate) fn resubscribe(&mut self, agent: &Arc<str>, force: bool, now: Ms) {
        let view = self.view(agent);
        let (specs, prime) = self.specs(agent, &view);
        let Some(entry) = self.agents.get_mut(agent) else { return };
        if !force && entry.subscribed.as_ref() == Some(&specs) {
            return;
        }
        entry.subscribed = Some(specs.clone());
        self.out.push(Output::Subscribe(AgentSubscriptions { agent: agent.clone(), subscriptions: specs }));
        self.prime(agent, prime, now);
    }
}

/// The `Device.…` paths a rule's condition and trigger-relative values read.
fn rule_reads(rule: &Rule) -> Vec<Arc<PathPattern>> {
    let mut out = Vec::new();
    if let Some(c) = &rule.condition {
        reads(&c.expr, &mut out);
    }
    out.extend(rule.aliases.iter().filter(|a| a.agent.is_none()).map(|a| a.path.clone()));
    out
}

/// For a pattern with search expressions, the parameters the searches read,
/// across all instances (`Device.Node.*.IoTCapability.*.Name`), so the cache
/// can evaluate them.
fn search_keys(p: &PathPattern) -> Vec<String> {
    let mut out = Vec::new();
    let mut prefix = String::new();
    for seg in &p.segs {
        match seg {
            Seg::Name(n) => prefix.push_str(n),
            Seg::Number(n) => prefix.push_str(&n.to_string()),
            Seg::Wildcard | Seg::Capture(_) => prefix.push('*'),
            Seg::Search(terms) => {
                for t in terms {
                    out.push(format!("{prefix}*.{}", t.param.join(".")));
                }
                prefix.push('*');
            }
        }
        prefix.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_keys_cover_every_instance() {
        let p = PathPattern::parse(
            r#"Device.Node.{n}.IoTCapability.[Name=="x"&&Class=="BinarySensor"].BinarySensor.Value"#,
        )
        .unwrap();
        assert_eq!(
            search_keys(&p),
            vec![
                "Device.Node.*.IoTCapability.*.Name".to_string(),
                "Device.Node.*.IoTCapability.*.Class".to_string()
            ]
        );
        assert!(search_keys(&PathPattern::parse("Device.A.1.B").unwrap()).is_empty());
    }
}
