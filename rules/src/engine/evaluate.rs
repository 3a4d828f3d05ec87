//! A matched trigger reaches its rule: condition, state, timers, and the
//! decision to fire.
//!
//! Rules without state (no `for`, `hysteresis`, `debounce`, `cooldown`)
//! fire on every trigger whose condition holds and run `else` on every one
//! whose condition fails. Rules with state keep one instance per situation
//! (by default per Agent and trigger path; `key` can say otherwise):
//!
//! * `debounce`: the trigger is held back until triggers stay quiet that
//!   long, then the last one is evaluated;
//! * `hysteresis`: a latch switches on past `on_*` and off past `off_*`; the
//!   rule's state is "latched and condition holds";
//! * `for`: the state must hold that long (a timer, cancelled when it stops
//!   holding); then the rule fires once, and clears (`else`) when the state
//!   ends;
//! * without `for`, a hysteresis rule fires when its state starts and clears
//!   when it ends;
//! * `cooldown`: after firing, an instance does not fire again for that long;
//!   `rate_limit`: the rule as a whole fires at most N times per window.

use std::{borrow::Cow, sync::Arc};

use super::{
    Engine,
    causality::{count, extend},
    io::{Output, StopReason},
    notify::term_holds,
    state::{Branch, Ctx},
    timers::TimerKind,
};
use crate::{
    expr::{
        Value,
        compile::{Env, Record, Var, eval, value as operand_value},
    },
    model::{Edge, Rule, RuleId},
    pattern::path::{PathPattern, Seg},
    time::{Ms, WEEKDAYS, from_ms, local},
    trace::{TraceEntry, TracedCheck, Verdict},
};

/// A firing or clearing to carry out: the steps to run and the signal to raise.
struct Launch {
    branch: Branch,
    edge: Edge,
    ctx: Ctx,
}

/// What to do once the instance bookkeeping is done.
enum Decision {
    Fire,
    Clear,
    Nothing(Verdict),
}

/// Records comparisons straight into a trace entry's buffer.
struct TraceRec<'a> {
    texts: &'a [Arc<str>],
    out: &'a mut Vec<TracedCheck>,
}

impl Record for TraceRec<'_> {
    fn check(&mut self, id: u16, lhs: Value, rhs: Option<Value>, held: bool) {
        let text = self.texts.get(usize::from(id)).cloned().unwrap_or_else(|| Arc::from("?"));
        self.out.push(TracedCheck { text, lhs, rhs, held });
    }
}

/// The values a condition sees.
pub(crate) struct EvalEnv<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) rule: &'a Rule,
    pub(crate) ctx: &'a Ctx,
    pub(crate) now: Ms,
}

fn opt(v: &Option<Arc<str>>) -> Value {
    v.as_ref().map_or(Value::Missing, |s| Value::Str(s.clone()))
}

impl Env for EvalEnv<'_> {
    fn get(&self, var: &Var) -> Value {
        let ctx = self.ctx;
        match var {
            Var::Value => opt(&ctx.value),
            Var::Previous => opt(&ctx.previous),
            Var::Path => opt(&ctx.path),
            Var::Agent => opt(&ctx.agent),
            Var::Time => Value::Time(local(self.now, &self.engine.cfg.timezone).0),
            Var::Weekday => Value::Str(Arc::from(
                WEEKDAYS.get(local(self.now, &self.engine.cfg.timezone).1).copied().unwrap_or(""),
            )),
            Var::Capture(c) => opt(&ctx.capture(c).cloned()),
            Var::Arg(a) => ctx
                .args
                .as_ref()
                .and_then(|m| m.get(&**a))
                .map_or(Value::Missing, |s| Value::Str(Arc::from(s.as_str()))),
            Var::Key(k) => ctx
                .keys
                .as_ref()
                .and_then(|m| m.get(&**k))
                .map_or(Value::Missing, |s| Value::Str(Arc::from(s.as_str()))),
            Var::Alias(i) => self.rule.aliases.get(*i).map_or(Value::Missing, |a| {
                let agent = match &a.agent {
                    None => ctx.agent.as_deref().map(Cow::Borrowed),
                    Some(t) => {
                        t.render(&|n| self.engine.template_var(self.rule, ctx, None, n)).map(Cow::Owned)
                    }
                };
                agent.map_or(Value::Missing, |ag| self.engine.read(&ag, &a.path, ctx))
            }),
            Var::Read(p) => ctx.agent.as_deref().map_or(Value::Missing, |ag| self.engine.read(ag, p, ctx)),
        }
    }
}

impl Engine {
    /// A parameter of an Agent, from the cache. Captures are filled from the
    /// trigger; a search expression picks the lowest-numbered instance that
    /// satisfies it (a scan of that Agent's cached keys under the table).
    pub(crate) fn read(&self, agent: &str, p: &PathPattern, ctx: &Ctx) -> Value {
        let Some(entry) = self.agents.get(agent) else { return Value::Missing };
        let plain = p.segs.iter().all(|s| matches!(s, Seg::Name(_) | Seg::Number(_)));
        if plain {
            return entry.cache.get(p.as_str()).map_or(Value::Missing, |v| Value::Str(v.clone()));
        }
        let vars = super::notify::caps_vars(&ctx.captures);
        let mut prefix = String::new();
        for seg in &p.segs {
            match seg {
                Seg::Name(n) => prefix.push_str(n),
                Seg::Number(n) => prefix.push_str(&n.to_string()),
                Seg::Capture(c) => match ctx.capture(c) {
                    Some(v) => prefix.push_str(v),
                    None => return Value::Missing,
                },
                Seg::Wildcard => return Value::Missing,
                Seg::Search(terms) => {
                    let mut found: Option<u64> = None;
                    for (k, _) in entry.cache.with_prefix(&prefix) {
                        let rest = &k[prefix.len()..];
                        let Some((num, _)) = rest.split_once('.') else { continue };
                        let Ok(n) = num.parse::<u64>() else { continue };
                        if found.is_some_and(|f| f <= n) {
                            continue;
                        }
                        let inst = format!("{prefix}{num}.");
                        let ok = terms.iter().all(|t| {
                            let key = format!("{inst}{}", t.param.join("."));
                            term_holds(entry.cache.get(&key).map(|v| &**v), t, &vars)
                        });
                        if ok {
                            found = Some(n);
                        }
                    }
                    match found {
                        Some(n) => prefix.push_str(&n.to_string()),
                        None => return Value::Missing,
                    }
                }
            }
            prefix.push('.');
        }
        if let Some(name) = p.leaf_name() {
            prefix.push_str(name);
        }
        entry.cache.get(&prefix).map_or(Value::Missing, |v| Value::Str(v.clone()))
    }

    /// A template variable's value for a step or a key: `target` is the
    /// Agent a fan-out step addresses (its captures are in `extra`).
    pub(crate) fn template_var<'a>(
        &'a self,
        rule: &'a Rule,
        ctx: &'a Ctx,
        target: Option<(&'a Arc<str>, &'a crate::pattern::Captures)>,
        name: &str,
    ) -> Option<Cow<'a, str>> {
        let s = |v: &'a Option<Arc<str>>| v.as_deref().map(Cow::Borrowed);
        match name {
            "value" => s(&ctx.value),
            "previous" => s(&ctx.previous),
            "path" => s(&ctx.path),
            "agent" => match target {
                Some((a, _)) => Some(Cow::Borrowed(&**a)),
                None => s(&ctx.agent),
            },
            "rule" => Some(Cow::Borrowed(&*rule.name)),
            _ => {
                if let Some(a) = name.strip_prefix("args.") {
                    return ctx.args.as_ref()?.get(a).map(|v| Cow::Borrowed(v.as_str()));
                }
                if let Some(k) = name.strip_prefix("keys.") {
                    return ctx.keys.as_ref()?.get(k).map(|v| Cow::Borrowed(v.as_str()));
                }
                if let Some((_, caps)) = target {
                    if let Some((_, v)) = caps.iter().find(|(k, _)| **k == *name) {
                        return Some(Cow::Borrowed(&**v));
                    }
                }
                if let Some(v) = ctx.capture(name) {
                    return Some(Cow::Borrowed(&**v));
                }
                let i = rule.aliases.iter().position(|a| a.name == name)?;
                match (EvalEnv { engine: self, rule, ctx, now: ctx.at }).get(&Var::Alias(i)) {
                    Value::Str(v) => Some(Cow::Owned(v.to_string())),
                    Value::Missing => None,
                    other => Some(Cow::Owned(other.to_string())),
                }
            }
        }
    }

    /// Evaluates the rule's condition (true when it has none).
    fn condition(&mut self, rid: RuleId, rule: &Rule, ctx: &Ctx, now: Ms) -> (bool, Vec<TracedCheck>) {
        let Some(c) = &rule.condition else { return (true, Vec::new()) };
        let mut out = self.states[rid].trace.take_spare();
        let held = eval(
            &c.expr,
            &EvalEnv { engine: self, rule, ctx, now },
            &mut TraceRec { texts: &c.checks, out: &mut out },
        );
        (held, out)
    }

    /// The instance key of a trigger: the rule's `key` template, or
    /// `agent|path` (just the rule's name for triggers without either).
    fn instance_key(&self, rule: &Rule, ctx: &Ctx) -> Arc<str> {
        if let Some(t) = &rule.key {
            if let Some(k) = t.render(&|n| self.template_var(rule, ctx, None, n)) {
                return Arc::from(k);
            }
        }
        match (&ctx.agent, &ctx.path) {
            (Some(a), Some(p)) => Arc::from(format!("{a}|{p}")),
            (Some(a), None) => a.clone(),
            (None, _) => Arc::from(""),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn trace(
        &mut self,
        rid: RuleId,
        ctx: &Ctx,
        key: Option<&Arc<str>>,
        checks: Vec<TracedCheck>,
        hysteresis: Option<(Value, bool)>,
        verdict: Verdict,
        now: Ms,
    ) {
        let trigger = self
            .set
            .rules
            .get(rid)
            .and_then(|r| r.triggers.get(ctx.trigger))
            .and_then(|t| self.set.triggers.get(*t))
            .map_or_else(|| Arc::from("?"), |t| t.desc.clone());
        let entry = TraceEntry {
            at: from_ms(now),
            trigger,
            agent: ctx.agent.clone(),
            path: ctx.path.clone(),
            value: ctx.value.clone(),
            key: key.cloned(),
            checks,
            hysteresis,
            verdict,
        };
        self.record_trace(rid, entry);
    }

    /// A trigger matched rule `rid`.
    pub(crate) fn on_trigger(&mut self, rid: RuleId, ctx: Ctx, now: Ms) {
        let set = self.set.clone();
        let Some(rule) = set.rules.get(rid) else { return };
        if !rule.enabled {
            return;
        }
        self.stats.evaluations += 1;
        let st = &mut self.states[rid];
        st.counts.evaluations += 1;
        if st.stopped.is_some() {
            st.counts.suppressed += 1;
            st.metrics.stopped.increment(1);
            self.trace(rid, &ctx, None, Vec::new(), None, Verdict::IsStopped, now);
            return;
        }
        if !rule.is_stateful() {
            let (held, checks) = self.condition(rid, rule, &ctx, now);
            let (verdict, launch) = if held {
                self.fire(rid, None, &ctx, now)
            } else if !rule.otherwise.is_empty() {
                self.clear(rid, &ctx, now)
            } else {
                (Verdict::NotHeld, None)
            };
            // The evaluation is traced before its steps run (a step may fail at once).
            self.trace(rid, &ctx, None, checks, None, verdict, now);
            self.launch(rid, launch, now);
            return;
        }
        let key = self.instance_key(rule, &ctx);
        let st = &mut self.states[rid];
        if !st.instances.contains_key(&key) && st.instances.len() >= self.cfg.max_instances {
            st.counts.suppressed += 1;
            let reason = format!("more than {} instances; {key} not tracked", self.cfg.max_instances);
            self.trace(
                rid,
                &ctx,
                Some(&key),
                Vec::new(),
                None,
                Verdict::StepFailed { step: 0, action: "track", reason },
                now,
            );
            return;
        }
        if let Some(d) = rule.debounce {
            let inst = st.instances.entry(key.clone()).or_default();
            if let Some(t) = inst.debounce.take() {
                self.timers.cancel(t);
            }
            let until = now.saturating_add(d);
            inst.debounce = Some(
                self.timers.arm(until, TimerKind::Debounce { rule: rule.name.clone(), key: key.clone() }),
            );
            inst.ctx = Some(ctx.clone());
            self.dirty.instance(&rule.name, &key, self.cfg.persist);
            self.trace(
                rid,
                &ctx,
                Some(&key),
                Vec::new(),
                None,
                Verdict::Debounced { until: from_ms(until) },
                now,
            );
            return;
        }
        self.evaluate_state(rid, key, ctx, now);
    }

    /// Evaluates a stateful rule instance.
    fn evaluate_state(&mut self, rid: RuleId, key: Arc<str>, ctx: Ctx, now: Ms) {
        let set = self.set.clone();
        let Some(rule) = set.rules.get(rid) else { return };
        let (held, checks) = self.condition(rid, rule, &ctx, now);
        let hyst_value = rule
            .hysteresis
            .as_ref()
            .map(|h| operand_value(&h.of, &EvalEnv { engine: self, rule, ctx: &ctx, now }, &mut Vec::new()));
        let hold = rule.hold;
        let persist = self.cfg.persist;
        let inst = self.states[rid].instances.entry(key.clone()).or_default();
        let mut hyst_trace = None;
        let state = match (&rule.hysteresis, hyst_value) {
            (Some(h), Some(v)) => {
                let x = match &v {
                    Value::Num(n) => Some(*n),
                    Value::Str(s) => crate::expr::value::parse_num(s),
                    _ => None,
                };
                if let Some(x) = x {
                    if h.rising {
                        if x > h.on {
                            inst.latch = true;
                        } else if x < h.off {
                            inst.latch = false;
                        }
                    } else if x < h.on {
                        inst.latch = true;
                    } else if x > h.off {
                        inst.latch = false;
                    }
                }
                hyst_trace = Some((v, inst.latch));
                inst.latch && held
            }
            _ => held,
        };
        let decision = if let Some(hold) = hold {
            if state {
                if inst.active {
                    Decision::Nothing(Verdict::AlreadyActive)
                } else if let Some(t) = inst.hold {
                    inst.ctx = Some(ctx.clone());
                    Decision::Nothing(Verdict::StillArmed { until: from_ms(t.0) })
                } else {
                    let until = now.saturating_add(hold);
                    inst.hold = Some(
                        self.timers.arm(until, TimerKind::Hold { rule: rule.name.clone(), key: key.clone() }),
                    );
                    inst.ctx = Some(ctx.clone());
                    Decision::Nothing(Verdict::Armed { until: from_ms(until) })
                }
            } else if let Some(t) = inst.hold.take() {
                self.timers.cancel(t);
                inst.ctx = None;
                Decision::Nothing(Verdict::Cancelled)
            } else if inst.active {
                inst.active = false;
                Decision::Clear
            } else {
                Decision::Nothing(Verdict::NotHeld)
            }
        } else if rule.hysteresis.is_some() {
            match (state, inst.active) {
                (true, false) => {
                    inst.active = true;
                    Decision::Fire
                }
                (false, true) => {
                    inst.active = false;
                    Decision::Clear
                }
                (true, true) => Decision::Nothing(Verdict::AlreadyActive),
                (false, false) => Decision::Nothing(Verdict::NotHeld),
            }
        } else if state {
            Decision::Fire
        } else if !rule.otherwise.is_empty() {
            Decision::Clear
        } else {
            Decision::Nothing(Verdict::NotHeld)
        };
        self.dirty.instance(&rule.name, &key, persist);
        let (verdict, launch) = match decision {
            Decision::Fire => self.fire(rid, Some(&key), &ctx, now),
            Decision::Clear => self.clear(rid, &ctx, now),
            Decision::Nothing(v) => (v, None),
        };
        self.trace(rid, &ctx, Some(&key), checks, hyst_trace, verdict, now);
        self.launch(rid, launch, now);
        self.forget_if_idle(rid, &key, now);
    }

    /// Drops an instance that holds nothing.
    fn forget_if_idle(&mut self, rid: RuleId, key: &Arc<str>, now: Ms) {
        let st = &mut self.states[rid];
        if st.instances.get(key).is_some_and(|i| i.is_idle(now)) {
            st.instances.remove(key);
        }
    }

    pub(crate) fn on_hold_elapsed(&mut self, rule: &str, key: &Arc<str>, now: Ms) {
        let set = self.set.clone();
        let Some(rid) = set.id(rule) else { return };
        let r = &set.rules[rid];
        let Some(inst) = self.states[rid].instances.get_mut(key) else { return };
        inst.hold = None;
        let Some(ctx) = inst.ctx.take() else { return };
        let latched = r.hysteresis.is_none() || inst.latch;
        self.dirty.instance(&r.name, key, self.cfg.persist);
        if self.states[rid].stopped.is_some() {
            return;
        }
        let (held, checks) = self.condition(rid, r, &ctx, now);
        let (verdict, launch) = if held && latched {
            if let Some(inst) = self.states[rid].instances.get_mut(key) {
                inst.active = true;
            }
            self.fire(rid, Some(key), &ctx, now)
        } else {
            (Verdict::HoldEndedNotHeld, None)
        };
        self.trace(rid, &ctx, Some(key), checks, None, verdict, now);
        self.launch(rid, launch, now);
        self.forget_if_idle(rid, key, now);
    }

    pub(crate) fn on_debounce_elapsed(&mut self, rule: &str, key: &Arc<str>, now: Ms) {
        let Some(rid) = self.set.id(rule) else { return };
        let Some(inst) = self.states[rid].instances.get_mut(key) else { return };
        inst.debounce = None;
        let Some(ctx) = inst.ctx.take() else { return };
        if self.states[rid].stopped.is_some() {
            return;
        }
        self.evaluate_state(rid, key.clone(), ctx, now);
    }

    /// Decides to fire rule `rid`, unless a stop, cooldown, rate limit,
    /// loop or fuse says otherwise; on firing, returns the context its `then`
    /// steps and listeners get (for [`Engine::launch`]).
    fn fire(&mut self, rid: RuleId, key: Option<&Arc<str>>, ctx: &Ctx, now: Ms) -> (Verdict, Option<Launch>) {
        let set = self.set.clone();
        let rule = &set.rules[rid];
        if let Some(v) = self.loop_check(rid, ctx, now) {
            return (v, None);
        }
        let st = &mut self.states[rid];
        if let (Some(_), Some(key)) = (rule.cooldown, key) {
            if let Some(inst) = st.instances.get(key) {
                if inst.cooldown_until > now {
                    st.counts.suppressed += 1;
                    st.metrics.cooldown.increment(1);
                    return (Verdict::Cooldown { until: from_ms(inst.cooldown_until) }, None);
                }
            }
        }
        if let Some(rl) = rule.rate_limit {
            while st.rate.front().is_some_and(|t| t.saturating_add(rl.per) <= now) {
                st.rate.pop_front();
            }
            if st.rate.len() >= rl.count as usize {
                st.counts.suppressed += 1;
                st.metrics.rate_limit.increment(1);
                return (Verdict::RateLimited { count: rl.count, per_ms: rl.per }, None);
            }
        }
        if let Some(f) = self.cfg.fuse {
            let window = Self::ms(f.window);
            if now.saturating_sub(st.fuse.0) >= window {
                st.fuse = (now, 0);
            }
            st.fuse.1 += 1;
            if st.fuse.1 > f.max_firings {
                let reason = StopReason::Fuse { max: f.max_firings, window_ms: window };
                self.stop(rid, reason.clone(), now);
                return (Verdict::Stopped(reason), None);
            }
        }
        if let (Some(cd), Some(key)) = (rule.cooldown, key) {
            st.instances.entry(key.clone()).or_default().cooldown_until = now.saturating_add(cd);
        }
        if rule.rate_limit.is_some() {
            st.rate.push_back(now);
            self.dirty.rule(&rule.name, self.cfg.persist);
        }
        st.counts.fired += 1;
        st.metrics.fired.increment(1);
        let latency = match ctx.received {
            Some(received) => self.now_exact.duration_since(received).unwrap_or_default().as_secs_f64(),
            None => now.saturating_sub(ctx.at) as f64 / 1000.0,
        };
        st.metrics.latency.record(latency);
        self.stats.fired += 1;
        let mut run_ctx = ctx.clone();
        run_ctx.chain = extend(&ctx.chain, &rule.name);
        (Verdict::Fired, Some(Launch { branch: Branch::Then, edge: Edge::Fired, ctx: run_ctx }))
    }

    /// Loop protection: stops the rule if its trigger was caused by its own
    /// writes (or by too long a chain of rules).
    fn loop_check(&mut self, rid: RuleId, ctx: &Ctx, now: Ms) -> Option<Verdict> {
        let name = self.set.rules[rid].name.clone();
        if count(&ctx.chain, &name) < self.cfg.loop_limit
            && ctx.chain.as_ref().is_none_or(|c| c.len() < self.cfg.max_chain)
        {
            return None;
        }
        let mut chain: Vec<String> =
            ctx.chain.as_deref().unwrap_or(&[]).iter().map(ToString::to_string).collect();
        chain.push(name.to_string());
        let reason = StopReason::Loop { chain };
        self.stop(rid, reason.clone(), now);
        Some(Verdict::Stopped(reason))
    }

    /// Decides to clear rule `rid` (its `else` steps); the loop check applies
    /// (an `else` that undoes what retriggered it is a loop too).
    fn clear(&mut self, rid: RuleId, ctx: &Ctx, now: Ms) -> (Verdict, Option<Launch>) {
        if let Some(v) = self.loop_check(rid, ctx, now) {
            return (v, None);
        }
        let set = self.set.clone();
        let rule = &set.rules[rid];
        self.states[rid].counts.cleared += 1;
        let mut run_ctx = ctx.clone();
        run_ctx.chain = extend(&ctx.chain, &rule.name);
        (Verdict::Cleared, Some(Launch { branch: Branch::Else, edge: Edge::Cleared, ctx: run_ctx }))
    }

    /// Raises the rule's signal and starts its steps.
    fn launch(&mut self, rid: RuleId, launch: Option<Launch>, now: Ms) {
        if let Some(l) = launch {
            self.signal(rid, l.edge, &l.ctx);
            self.start_run(rid, l.branch, l.ctx, now);
        }
    }

    /// Queues the triggers listening to rule `rid`'s signal.
    fn signal(&mut self, rid: RuleId, edge: Edge, ctx: &Ctx) {
        let set = self.set.clone();
        let Some(listeners) = set.listeners.get(rid) else { return };
        for &tid in listeners {
            let Some(t) = set.triggers.get(tid) else { continue };
            if let crate::model::TriggerKind::Signal { edge: e, .. } = t.kind {
                if e == edge {
                    let mut c = ctx.clone();
                    c.trigger = t.index;
                    self.signals.push_back((t.rule, c));
                }
            }
        }
    }

    /// Stops a rule: no more firings, its timers and sequences cancelled.
    pub(crate) fn stop(&mut self, rid: RuleId, reason: StopReason, now: Ms) {
        let name = self.set.rules[rid].name.clone();
        let st = &mut self.states[rid];
        st.stopped = Some((now, reason.clone()));
        st.counts.suppressed += 1;
        st.metrics.stopped.increment(1);
        for inst in st.instances.values_mut() {
            if let Some(t) = inst.hold.take() {
                self.timers.cancel(t);
            }
            if let Some(t) = inst.debounce.take() {
                self.timers.cancel(t);
            }
            inst.ctx = None;
        }
        let runs: Vec<u64> = self.runs.iter().filter(|(_, r)| r.rule == name).map(|(id, _)| *id).collect();
        for id in runs {
            self.drop_run(id);
        }
        self.dirty.rule(&name, self.cfg.persist);
        for key in self.states[rid].instances.keys() {
            self.dirty.instance(&name, key, self.cfg.persist);
        }
        self.out.push(Output::RuleStopped { rule: name, reason });
    }
}
