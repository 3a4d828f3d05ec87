//! Notifications in: update the cache, find the triggers through the
//! Agent's index, match them fully, and evaluate their rules.
//!
//! A notification reaches only the triggers bound to the subscription it
//! came on ([`Route`]): when several of the engine's subscriptions on an
//! Agent select the same change, each rule still evaluates it once (the
//! other copies only feed the cache). See [`super::index`] for why.

use std::{borrow::Cow, collections::BTreeMap, sync::Arc};

use usp_proto::usp::{GetResp, Notify, notify::Notification, notify::operation_complete::OperationResp};

use super::{
    Engine,
    cache::Stored,
    index::{AgentView, Hits, Route},
    io::{Notice, Output},
    state::Ctx,
};
use crate::{
    expr::value::{parse_bool, parse_num},
    model::TriggerKind,
    pattern::{
        Captures,
        path::{Op, Term},
    },
    time::Ms,
};

/// Where a value came from: a ValueChange, or a Get that primed the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Change,
    Prime,
}

/// Whether a cached value satisfies one search-expression term (TR-369
/// typing: quoted constants compare as text with `==`/`!=`; unquoted ones as
/// numbers or booleans when both sides read so; `~=` looks for an item of a
/// comma-separated list). A missing value never matches (the row is skipped).
pub(crate) fn term_holds<'v>(
    value: Option<&str>,
    term: &Term,
    vars: &dyn Fn(&str) -> Option<Cow<'v, str>>,
) -> bool {
    let Some(value) = value else { return false };
    let Some(constant) = term.value.render(vars) else { return false };
    let num = || parse_num(value).zip(parse_num(&constant));
    match term.op {
        Op::Contains => value.split(',').any(|item| item.trim() == constant),
        Op::Eq | Op::Ne => {
            let eq = if term.quoted {
                value == constant
            } else if let Some((a, b)) = num() {
                a == b
            } else if let (Some(a), Some(b)) = (parse_bool(value), parse_bool(&constant)) {
                a == b
            } else {
                value == constant
            };
            eq == (term.op == Op::Eq)
        }
        Op::Lt | Op::Gt | Op::Le | Op::Ge => {
            // Numbers as numbers; anything else (ISO dates) as text.
            let ord = match num() {
                Some((a, b)) => a.partial_cmp(&b),
                None => Some(value.cmp(constant.as_str())),
            };
            let Some(ord) = ord else { return false };
            match term.op {
                Op::Lt => ord.is_lt(),
                Op::Gt => ord.is_gt(),
                Op::Le => ord.is_le(),
                _ => ord.is_ge(),
            }
        }
    }
}

/// A variable lookup over captures only.
pub(crate) fn caps_vars<'c>(caps: &'c Captures) -> impl Fn(&str) -> Option<Cow<'c, str>> + 'c {
    move |n: &str| caps.iter().find(|(k, _)| **k == *n).map(|(_, v)| Cow::Borrowed(&**v))
}

/// The entries a notification on `sub_id` may reach, and whether they are
/// bound to that subscription (then the Agent may have checked their
/// searches). `lookup` finds candidates by path, for a subscription the
/// engine did not make.
fn candidates(view: &AgentView, sub_id: &str, prefix: &str, lookup: impl FnOnce(&mut Hits)) -> (Hits, bool) {
    let mut hits = Hits::new();
    match view.route(sub_id, prefix) {
        Route::Bound(list) => {
            hits.extend_from_slice(list);
            (hits, true)
        }
        Route::Unbound => (hits, false),
        Route::Foreign => {
            lookup(&mut hits);
            (hits, false)
        }
    }
}

impl Engine {
    /// Whether an instance satisfies a search, from the cache.
    pub(crate) fn search_in_cache(&self, agent: &str, prefix: &str, terms: &[Term], caps: &Captures) -> bool {
        let Some(entry) = self.agents.get(agent) else { return false };
        let vars = caps_vars(caps);
        let mut key = String::with_capacity(prefix.len() + 32);
        terms.iter().all(|t| {
            key.clear();
            key.push_str(prefix);
            for (i, p) in t.param.iter().enumerate() {
                if i > 0 {
                    key.push('.');
                }
                key.push_str(p);
            }
            term_holds(entry.cache.get(&key).map(|v| &**v), t, &vars)
        })
    }

    pub(crate) fn on_notify(&mut self, agent: &str, notify: Notify, received_at: Ms, now: Ms) {
        let agent = self.agent_id(agent);
        let Notify { subscription_id, notification, .. } = notify;
        match notification {
            Some(Notification::ValueChange(vc)) => {
                self.on_value(
                    &agent,
                    &subscription_id,
                    &vc.param_path,
                    &vc.param_value,
                    received_at,
                    now,
                    Source::Change,
                );
            }
            Some(Notification::Event(ev)) => {
                if ev.obj_path == "Device." && ev.event_name == "Boot!" {
                    // The Agent restarted: its non-persistent state (and
                    // maybe our subscriptions) is gone. Ask again.
                    self.resubscribe(&agent, true, now);
                }
                self.on_event(
                    &agent,
                    &subscription_id,
                    &ev.obj_path,
                    &ev.event_name,
                    ev.params,
                    received_at,
                    now,
                );
            }
            Some(Notification::ObjCreation(oc)) => {
                self.on_object(
                    &agent,
                    &subscription_id,
                    &oc.obj_path,
                    Some(oc.unique_keys),
                    received_at,
                    now,
                );
            }
            Some(Notification::ObjDeletion(od)) => {
                self.on_object(&agent, &subscription_id, &od.obj_path, None, received_at, now);
            }
            Some(Notification::OperComplete(oc)) => {
                let result = match oc.operation_resp {
                    Some(OperationResp::CmdFailure(f)) => {
                        Err(format!("command failed: {} {}", f.err_code, f.err_msg))
                    }
                    _ => Ok(()),
                };
                self.on_operation_complete(&oc.command_key, result, now);
            }
            // OnBoardRequests are for the runtime's Controller core; a Notify
            // without a notification carries nothing.
            Some(Notification::OnBoardReq(_)) | None => {}
        }
    }

    /// A parameter's new value, from a ValueChange or a priming Get.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_value(
        &mut self,
        agent: &Arc<str>,
        sub_id: &str,
        path: &str,
        value: &str,
        received_at: Ms,
        now: Ms,
        source: Source,
    ) {
        let limit = self.cfg.cache_limit;
        let persist = self.cfg.persist;
        let set = self.set.clone();
        // One lookup of the Agent for the cache, the causes and the index.
        let Some(entry) = self.agents.get_mut(agent) else { return };
        let (key, value, previous) = match entry.cache.set(path, value, limit) {
            Stored::Value { key, value, previous, changed } => {
                if !changed && source == Source::Prime {
                    return;
                }
                if changed {
                    self.dirty.cache(agent, &key, persist);
                }
                (key, value, previous)
            }
            Stored::Full { first } => {
                if first {
                    self.out.push(Output::Notice(Notice::CacheFull { agent: agent.clone() }));
                }
                (Arc::from(path), Arc::from(value), None)
            }
        };
        let chain = if source == Source::Change { entry.writes.cause(path, Some(&value), now) } else { None };
        let prefix = &self.sub_prefix;
        let shapes = &mut self.shapes;
        let view =
            entry.view.get_or_insert_with(|| Arc::new(AgentView::build(&set, agent, prefix, shapes))).clone();
        let (hits, bound) = candidates(&view, sub_id, prefix, |hits| view.shape.vc.lookup(path, hits));
        self.stats.candidates += hits.len() as u64;
        for h in hits {
            let Some(ve) = view.entries.get(h as usize) else { continue };
            let Some(trig) = set.triggers.get(ve.trigger) else { continue };
            let TriggerKind::ValueChange(pattern) = &trig.kind else { continue };
            if source == Source::Prime && !set.rules.get(trig.rule).is_some_and(|r| r.is_level()) {
                // A primed value is a baseline, not a change: only rules about
                // a state (for-duration, hysteresis) look at it.
                continue;
            }
            let by_sub = bound && ve.binding.as_ref().is_some_and(|b| b.agent_checks_searches);
            let mut caps = ve.caps.clone();
            let matched = pattern.match_param(path, &mut caps, &mut |prefix, terms| {
                by_sub || self.search_in_cache(agent, prefix, terms, &ve.caps)
            });
            if !matched {
                continue;
            }
            let mut ctx = Ctx::new(trig.index, received_at);
            ctx.received = self.received_exact;
            ctx.agent = Some(agent.clone());
            ctx.path = Some(key.clone());
            ctx.value = Some(value.clone());
            ctx.previous = previous.clone();
            ctx.captures = caps;
            ctx.chain = chain.clone();
            self.on_trigger(trig.rule, ctx, now);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_event(
        &mut self,
        agent: &Arc<str>,
        sub_id: &str,
        obj_path: &str,
        event_name: &str,
        params: BTreeMap<String, String>,
        received_at: Ms,
        now: Ms,
    ) {
        let view = self.view(agent);
        let name = event_name.strip_suffix('!').unwrap_or(event_name);
        let (hits, bound) = candidates(&view, sub_id, &self.sub_prefix, |hits| {
            if let Some(list) = view.shape.events.get(name) {
                hits.extend_from_slice(list);
            }
        });
        if hits.is_empty() {
            return;
        }
        self.stats.candidates += hits.len() as u64;
        let set = self.set.clone();
        let chain = self.agents.get_mut(agent).and_then(|e| e.writes.cause(obj_path, None, now));
        let params = Arc::new(params);
        let path: Arc<str> = Arc::from(obj_path);
        for h in hits {
            let Some(ve) = view.entries.get(h as usize) else { continue };
            let Some(trig) = set.triggers.get(ve.trigger) else { continue };
            let TriggerKind::Event { path: pattern, args } = &trig.kind else { continue };
            // A subscription's ID says which triggers, not which event.
            if pattern.leaf_name() != Some(name) || !args.iter().all(|(k, v)| params.get(k) == Some(v)) {
                continue;
            }
            let by_sub = bound && ve.binding.as_ref().is_some_and(|b| b.agent_checks_searches);
            let mut caps = ve.caps.clone();
            let matched = pattern.match_object(obj_path, &mut caps, &mut |prefix, terms| {
                by_sub || self.search_in_cache(agent, prefix, terms, &ve.caps)
            });
            if !matched {
                continue;
            }
            let mut ctx = Ctx::new(trig.index, received_at);
            ctx.received = self.received_exact;
            ctx.agent = Some(agent.clone());
            ctx.path = Some(path.clone());
            ctx.captures = caps;
            ctx.args = Some(params.clone());
            ctx.chain = chain.clone();
            self.on_trigger(trig.rule, ctx, now);
        }
    }

    /// ObjectCreation (with unique keys) or ObjectDeletion (without).
    fn on_object(
        &mut self,
        agent: &Arc<str>,
        sub_id: &str,
        obj_path: &str,
        keys: Option<BTreeMap<String, String>>,
        received_at: Ms,
        now: Ms,
    ) {
        let limit = self.cfg.cache_limit;
        let persist = self.cfg.persist;
        let prefix = if obj_path.ends_with('.') { obj_path.to_owned() } else { format!("{obj_path}.") };
        if let Some(entry) = self.agents.get_mut(agent) {
            match &keys {
                Some(keys) => {
                    for (k, v) in keys {
                        if let Stored::Value { key, changed: true, .. } =
                            entry.cache.set(&format!("{prefix}{k}"), v, limit)
                        {
                            self.dirty.cache(agent, &key, persist);
                        }
                    }
                }
                None => {
                    for key in entry.cache.remove_prefix(&prefix) {
                        self.dirty.cache(agent, &key, persist);
                    }
                }
            }
        }
        let chain = self.agents.get_mut(agent).and_then(|e| e.writes.cause(&prefix, None, now));
        let view = self.view(agent);
        let (hits, bound) = candidates(&view, sub_id, &self.sub_prefix, |hits| {
            if keys.is_some() {
                view.shape.created.lookup(&prefix, hits)
            } else {
                view.shape.deleted.lookup(&prefix, hits)
            }
        });
        self.stats.candidates += hits.len() as u64;
        let set = self.set.clone();
        let keys = keys.map(Arc::new);
        let path: Arc<str> = Arc::from(prefix.as_str());
        for h in hits {
            let Some(ve) = view.entries.get(h as usize) else { continue };
            let Some(trig) = set.triggers.get(ve.trigger) else { continue };
            let pattern = match (&trig.kind, &keys) {
                (TriggerKind::Created(p), Some(_)) | (TriggerKind::Deleted(p), None) => p,
                _ => continue,
            };
            let by_sub = bound && ve.binding.as_ref().is_some_and(|b| b.agent_checks_searches);
            let mut caps = ve.caps.clone();
            let matched = pattern.match_instance(&prefix, &mut caps, &mut |p, terms| {
                by_sub || self.search_in_cache(agent, p, terms, &ve.caps)
            });
            if !matched {
                continue;
            }
            let mut ctx = Ctx::new(trig.index, received_at);
            ctx.received = self.received_exact;
            ctx.agent = Some(agent.clone());
            ctx.path = Some(path.clone());
            ctx.captures = caps;
            ctx.keys = keys.clone();
            ctx.chain = chain.clone();
            self.on_trigger(trig.rule, ctx, now);
        }
    }

    /// Values from a Get response: into the cache; rules about a state look
    /// at values that differ from what was cached.
    pub(crate) fn apply_get(&mut self, agent: &Arc<str>, resp: &GetResp, now: Ms) {
        for r in &resp.req_path_results {
            if r.err_code != 0 {
                continue;
            }
            for res in &r.resolved_path_results {
                let base = if res.resolved_path.ends_with('.') {
                    Cow::Borrowed(res.resolved_path.as_str())
                } else {
                    Cow::Owned(format!("{}.", res.resolved_path))
                };
                for (k, v) in &res.result_params {
                    let path = format!("{base}{k}");
                    self.on_value(agent, "", &path, v, now, now, Source::Prime);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::path::{PathPattern, Seg};

    fn terms(p: &str) -> Vec<Term> {
        let p = PathPattern::parse(p).unwrap();
        match &p.segs[2] {
            Seg::Search(t) => t.clone(),
            _ => panic!("no search"),
        }
    }

    #[test]
    fn search_terms_follow_the_typing_rules() {
        let none = |_: &str| -> Option<Cow<'_, str>> { None };
        let t = &terms(r#"Device.X.[Name=="r101"].Y"#)[0];
        assert!(term_holds(Some("r101"), t, &none));
        assert!(!term_holds(Some("r102"), t, &none));
        assert!(!term_holds(None, t, &none), "a missing value skips the row");
        let t = &terms("Device.X.[Value>=20.5].Y")[0];
        assert!(term_holds(Some("21"), t, &none));
        assert!(!term_holds(Some("20"), t, &none));
        let t = &terms("Device.X.[Enable==1].Y")[0];
        assert!(term_holds(Some("true"), t, &none), "1 and true are equal booleans");
        let t = &terms(r#"Device.X.[Tags~="lobby"].Y"#)[0];
        assert!(term_holds(Some("hall,lobby"), t, &none));
        assert!(!term_holds(Some("lobbyist"), t, &none));
        let t = &terms(r#"Device.X.[Name!="a"].Y"#)[0];
        assert!(term_holds(Some("b"), t, &none));
        let room = |n: &str| -> Option<Cow<'_, str>> { (n == "room").then_some(Cow::Borrowed("7")) };
        let t = &terms(r#"Device.X.[Name=="r{room}"].Y"#)[0];
        assert!(term_holds(Some("r7"), t, &room));
    }
}
