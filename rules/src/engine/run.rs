//! Running a rule's steps: requests to Agents, events upstream, delays;
//! following responses and asynchronous commands to their end.
//!
//! A sequence runs straight through until a step makes it wait (`delay`, or
//! `wait = true` on a request step); only then is it stored, to be resumed by
//! its timer or by the responses. Steps not waited for are still followed,
//! so a failure is counted, traced and logged.
//!
//! Operate: the engine sends a unique `command_key`; an OperateResp with
//! `req_obj_path` means the command runs asynchronously, and the step ends
//! at the OperationComplete carrying that key (or fails at its timeout).

use std::{collections::BTreeMap, sync::Arc};

use usp_proto::{
    EndpointId,
    usp::{
        Add, Delete, Get, Operate, Set, add,
        add_resp::created_object_result::operation_status::OperStatus as AddStatus,
        delete_resp::deleted_object_result::operation_status::OperStatus as DeleteStatus,
        operate_resp::operation_result::OperationResp, request::ReqType, response::RespType, set,
        set_resp::updated_object_result::operation_status::OperStatus as SetStatus,
    },
};

use super::{
    Engine,
    causality::Write,
    io::{Notice, Outcome, OutgoingRequest, Output, RequestId, UpstreamEvent},
    state::{Branch, Ctx, Pending, PendingOp, Run, Status, Wait},
    timers::TimerKind,
};
use crate::{
    model::{Action, ActionKind, RuleId, Target},
    pattern::Captures,
    time::{Ms, from_ms},
    trace::{TraceEntry, Verdict},
};

/// What a response means for its step.
enum Done {
    /// The step is done.
    Ok,
    /// An asynchronous command started; wait for its OperationComplete.
    Follow,
}

impl Engine {
    pub(crate) fn start_run(&mut self, rid: RuleId, branch: Branch, ctx: Ctx, now: Ms) {
        let Some(rule) = self.set.rules.get(rid) else { return };
        let steps = match branch {
            Branch::Then => rule.then.clone(),
            Branch::Else => rule.otherwise.clone(),
        };
        if steps.is_empty() {
            return;
        }
        let run = Run { rule: rule.name.clone(), branch, steps, pc: 0, ctx, wait: Wait::Nothing };
        self.advance(None, run, now);
    }

    fn new_run_id(&mut self) -> u64 {
        let id = self.next_run;
        self.next_run += 1;
        self.dirty.meta(self.cfg.persist);
        id
    }

    /// Runs steps until the sequence ends or waits.
    pub(crate) fn advance(&mut self, id: Option<u64>, mut run: Run, now: Ms) {
        let steps = run.steps.clone();
        while let Some(action) = steps.get(run.pc) {
            let step = run.pc;
            run.pc += 1;
            match &action.kind {
                ActionKind::Delay(ms) => {
                    let id = id.unwrap_or_else(|| self.new_run_id());
                    let t = self.timers.arm(now.saturating_add(*ms), TimerKind::Delay { run: id });
                    run.wait = Wait::Delay(t);
                    self.runs.insert(id, run);
                    self.dirty.run(id, self.cfg.persist);
                    return;
                }
                ActionKind::Publish { name, fields } => {
                    let Some(rid) = self.set.id(&run.rule) else { continue };
                    let rule = &self.set.rules[rid];
                    let vars = |n: &str| self.template_var(rule, &run.ctx, None, n);
                    let rendered = name.render(&vars).and_then(|name| {
                        let mut out = BTreeMap::new();
                        for (k, t) in fields {
                            out.insert(k.clone(), t.render(&vars)?);
                        }
                        Some((name, out))
                    });
                    match rendered {
                        Some((name, fields)) => self.out.push(Output::Publish(UpstreamEvent {
                            name,
                            rule: run.rule.clone(),
                            agent: run.ctx.agent.clone(),
                            at: from_ms(now),
                            fields,
                        })),
                        None => {
                            let rule = run.rule.clone();
                            self.step_failed(
                                &rule,
                                &run.ctx,
                                step,
                                "publish",
                                "a placeholder has no value".into(),
                                now,
                            );
                        }
                    }
                }
                _ => {
                    // A waited step needs the run's id before its requests go out.
                    let run_id =
                        if action.wait { Some(id.unwrap_or_else(|| self.new_run_id())) } else { None };
                    let issued = self.issue_step(&run, action, step, run_id, now);
                    if let (Some(rid), true) = (run_id, issued > 0) {
                        run.wait = Wait::Step { outstanding: issued };
                        self.runs.insert(rid, run);
                        self.dirty.run(rid, self.cfg.persist);
                        return;
                    }
                }
            }
        }
        // Finished.
        if let Some(id) = id {
            self.dirty.run(id, self.cfg.persist);
        }
    }

    /// The Agents a step addresses, with the captures a fan-out pattern bound.
    fn targets(&self, run: &Run, target: &Target) -> Result<Vec<(Arc<str>, Captures)>, String> {
        match target {
            Target::None => Ok(Vec::new()),
            Target::One(t) if t.is_var("agent") => {
                // The trigger's own Agent (the default): no rendering needed.
                let id = run.ctx.agent.clone().ok_or("the trigger has no agent")?;
                if self.agents.get(&id).is_some_and(|e| e.status == Status::Offline) {
                    return Err(format!("{id} is offline"));
                }
                Ok(vec![(id, Captures::new())])
            }
            Target::One(t) => {
                let rid = self.set.id(&run.rule).ok_or("rule gone")?;
                let rule = &self.set.rules[rid];
                let agent = t
                    .render(&|n| self.template_var(rule, &run.ctx, None, n))
                    .ok_or_else(|| format!("the agent {t} has no value for this trigger"))?;
                EndpointId::parse(&agent).map_err(|e| e.to_string())?;
                let id = self
                    .agents
                    .get_key_value(agent.as_str())
                    .map_or_else(|| Arc::from(agent.as_str()), |(k, _)| k.clone());
                if self.agents.get(&id).is_some_and(|e| e.status == Status::Offline) {
                    return Err(format!("{id} is offline"));
                }
                Ok(vec![(id, Captures::new())])
            }
            Target::Each(sel) => {
                let mut out: Vec<(Arc<str>, Captures)> = self
                    .agents
                    .values()
                    .filter(|e| e.status != Status::Offline)
                    .filter_map(|e| {
                        let mut caps = Captures::new();
                        sel.matches(&self.set, &e.id, &mut caps).then(|| (e.id.clone(), caps))
                    })
                    .collect();
                out.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(out)
            }
        }
    }

    /// Sends a request step to its Agents; returns how many requests went out.
    fn issue_step(&mut self, run: &Run, action: &Action, step: usize, run_id: Option<u64>, now: Ms) -> u32 {
        let targets = match self.targets(run, &action.target) {
            Ok(t) => t,
            Err(reason) => {
                self.step_failed(&run.rule.clone(), &run.ctx, step, action.kind.name(), reason, now);
                return 0;
            }
        };
        let mut issued = 0;
        for (agent, caps) in targets {
            match self.build(run, action, &agent, &caps) {
                Ok((body, write, command_key)) => {
                    let id = self.issue(
                        &agent,
                        body,
                        Pending {
                            rule: Some(run.rule.clone()),
                            agent: agent.clone(),
                            run: run_id,
                            step,
                            kind: action.kind.name(),
                            command_key,
                            follow_timeout: action.timeout,
                        },
                        now,
                    );
                    let _ = id;
                    let expires = now.saturating_add(Self::ms(self.cfg.causality_window));
                    if let Some(e) = self.agents.get_mut(&agent) {
                        for (path, value) in write {
                            e.writes.record(Write { expires, path, value, chain: run.ctx.chain.clone() });
                        }
                    }
                    issued += 1;
                }
                Err(reason) => {
                    self.step_failed(&run.rule.clone(), &run.ctx, step, action.kind.name(), reason, now)
                }
            }
        }
        issued
    }

    /// Builds one request: its body, the writes it makes (for loop
    /// detection) and, for an Operate, its command key.
    #[allow(clippy::type_complexity)]
    fn build(
        &mut self,
        run: &Run,
        action: &Action,
        agent: &Arc<str>,
        caps: &Captures,
    ) -> Result<(ReqType, Vec<(String, Option<Arc<str>>)>, Option<Arc<str>>), String> {
        let rid = self.set.id(&run.rule).ok_or("rule gone")?;
        let set = self.set.clone();
        let rule = &set.rules[rid];
        let target = Some((agent, caps));
        let vars = |n: &str| self.template_var(rule, &run.ctx, target, n);
        let text = |t: &crate::pattern::template::Template| {
            t.render(&vars).ok_or_else(|| format!("a placeholder of {t:?} has no value"))
        };
        match &action.kind {
            ActionKind::Set { object, params } => {
                let obj = object.render(&vars).map_err(|e| e.to_string())?;
                let mut update = set::UpdateObject::new(obj.clone());
                let mut writes = Vec::new();
                for (p, t) in params {
                    let v = text(t)?;
                    writes.push((format!("{obj}{p}"), Some(Arc::from(v.as_str()))));
                    update = update.required(p.clone(), v);
                }
                Ok((ReqType::Set(Set::new(false).object(update)), writes, None))
            }
            ActionKind::Add { table, params } => {
                let obj = table.render(&vars).map_err(|e| e.to_string())?;
                let mut create = add::CreateObject::new(obj.clone());
                for (p, t) in params {
                    create = create.required(p.clone(), text(t)?);
                }
                Ok((ReqType::Add(Add::new(false).object(create)), vec![(obj, None)], None))
            }
            ActionKind::Delete { path } => {
                let obj = path.render(&vars).map_err(|e| e.to_string())?;
                Ok((ReqType::Delete(Delete::new(false, [obj.clone()])), vec![(obj, None)], None))
            }
            ActionKind::Operate { command, args } => {
                let cmd = command.render(&vars).map_err(|e| e.to_string())?;
                let mut input = BTreeMap::new();
                for (k, t) in args {
                    input.insert(k.clone(), text(t)?);
                }
                let key: Arc<str> =
                    Arc::from(format!("{}-{}", self.cfg.command_key_prefix, self.next_request));
                let object = cmd.rfind('.').map_or(cmd.clone(), |i| cmd[..=i].to_owned());
                let op = Operate::new(cmd, &*key).args(input);
                Ok((ReqType::Operate(op), vec![(object, None)], Some(key)))
            }
            ActionKind::Publish { .. } | ActionKind::Delay(_) => Err("not a request".into()),
        }
    }

    /// Hands a request to the runtime.
    pub(crate) fn issue(&mut self, agent: &Arc<str>, body: ReqType, pending: Pending, now: Ms) -> RequestId {
        let id = self.next_request;
        self.next_request += 1;
        self.dirty.meta(self.cfg.persist);
        self.stats.requests += 1;
        let rule = pending.rule.clone();
        self.requests.insert(id, pending);
        self.request_deadlines.push_back((now.saturating_add(Self::ms(self.cfg.request_timeout)), id));
        self.out.push(Output::Request(OutgoingRequest {
            id: RequestId(id),
            agent: agent.clone(),
            body,
            rule,
        }));
        RequestId(id)
    }

    /// Issues the Get that primes an Agent's cache.
    pub(crate) fn prime(&mut self, agent: &Arc<str>, paths: Vec<String>, now: Ms) {
        if paths.is_empty() {
            return;
        }
        let pending = Pending {
            rule: None,
            agent: agent.clone(),
            run: None,
            step: 0,
            kind: "get",
            command_key: None,
            follow_timeout: 0,
        };
        self.issue(agent, ReqType::Get(Get::new(paths)), pending, now);
    }

    pub(crate) fn on_response(&mut self, id: RequestId, outcome: Outcome, now: Ms) {
        let Some(p) = self.requests.remove(&id.0) else {
            self.out.push(Output::Notice(Notice::UnknownResponse { id }));
            return;
        };
        let Some(rule) = p.rule.clone() else {
            // The engine's own Get.
            if let Outcome::Response(RespType::GetResp(resp)) = outcome {
                self.apply_get(&p.agent, &resp, now);
            }
            return;
        };
        match interpret(p.kind, outcome) {
            Ok(Done::Ok) => self.step_done(p.run, now),
            Ok(Done::Follow) => {
                let Some(key) = p.command_key.clone() else {
                    self.step_done(p.run, now);
                    return;
                };
                let timer = self.timers.arm(
                    now.saturating_add(p.follow_timeout),
                    TimerKind::Operation { command_key: key.clone() },
                );
                self.operations.insert(key, PendingOp { rule, run: p.run, step: p.step, timer });
            }
            Err(reason) => {
                let ctx = p.run.and_then(|r| self.runs.get(&r)).map(|r| r.ctx.clone());
                let ctx = ctx.unwrap_or_else(|| {
                    let mut c = Ctx::new(0, now);
                    c.agent = Some(p.agent.clone());
                    c
                });
                self.step_failed(&rule, &ctx, p.step, p.kind, format!("{}: {reason}", p.agent), now);
                self.abort_run(p.run);
            }
        }
    }

    pub(crate) fn on_operation_complete(&mut self, command_key: &str, result: Result<(), String>, now: Ms) {
        let Some(op) = self.operations.remove(command_key) else { return };
        self.timers.cancel(op.timer);
        let ctx =
            op.run.and_then(|r| self.runs.get(&r)).map(|r| r.ctx.clone()).unwrap_or_else(|| Ctx::new(0, now));
        match result {
            Ok(()) => {
                if let Some(rid) = self.set.id(&op.rule) {
                    self.push_trace(rid, &ctx, Verdict::OperationDone { step: op.step + 1 }, now);
                }
                self.step_done(op.run, now);
            }
            Err(reason) => {
                self.step_failed(&op.rule, &ctx, op.step, "operate", reason, now);
                self.abort_run(op.run);
            }
        }
    }

    pub(crate) fn on_operation_timeout(&mut self, command_key: &str, now: Ms) {
        let Some(op) = self.operations.remove(command_key) else { return };
        let ctx =
            op.run.and_then(|r| self.runs.get(&r)).map(|r| r.ctx.clone()).unwrap_or_else(|| Ctx::new(0, now));
        self.step_failed(
            &op.rule,
            &ctx,
            op.step,
            "operate",
            "no OperationComplete before the timeout".into(),
            now,
        );
        self.abort_run(op.run);
    }

    pub(crate) fn on_delay_elapsed(&mut self, id: u64, now: Ms) {
        let Some(mut run) = self.runs.remove(&id) else { return };
        run.wait = Wait::Nothing;
        self.advance(Some(id), run, now);
    }

    /// One request (or followed command) of a waited step is done.
    fn step_done(&mut self, run: Option<u64>, now: Ms) {
        let Some(id) = run else { return };
        let Some(r) = self.runs.get_mut(&id) else { return };
        if let Wait::Step { outstanding } = &mut r.wait {
            *outstanding = outstanding.saturating_sub(1);
            if *outstanding == 0 {
                if let Some(mut run) = self.runs.remove(&id) {
                    run.wait = Wait::Nothing;
                    self.advance(Some(id), run, now);
                }
            }
        }
    }

    /// A waited step failed: the rest of its sequence does not run.
    fn abort_run(&mut self, run: Option<u64>) {
        if let Some(id) = run {
            if self.runs.get(&id).is_some_and(|r| matches!(r.wait, Wait::Step { .. })) {
                self.drop_run(id);
            }
        }
    }

    /// Forgets a run (cancelling its delay).
    pub(crate) fn drop_run(&mut self, id: u64) {
        if let Some(r) = self.runs.remove(&id) {
            if let Wait::Delay(t) = r.wait {
                self.timers.cancel(t);
            }
            self.dirty.run(id, self.cfg.persist);
        }
    }

    fn push_trace(&mut self, rid: RuleId, ctx: &Ctx, verdict: Verdict, now: Ms) {
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
            key: None,
            checks: Vec::new(),
            hysteresis: None,
            verdict,
        };
        if let Some(st) = self.states.get_mut(rid) {
            st.trace.push(entry);
        }
    }

    /// Counts, traces and reports a failed step.
    pub(crate) fn step_failed(
        &mut self,
        rule: &Arc<str>,
        ctx: &Ctx,
        step: usize,
        action: &'static str,
        reason: String,
        now: Ms,
    ) {
        if let Some(rid) = self.set.id(rule) {
            let st = &mut self.states[rid];
            st.counts.failed += 1;
            st.metrics.failed.increment(1);
            self.push_trace(
                rid,
                ctx,
                Verdict::StepFailed { step: step + 1, action, reason: reason.clone() },
                now,
            );
        }
        self.out.push(Output::Notice(Notice::ActionFailed { rule: rule.clone(), step: step + 1, reason }));
    }
}

/// Reads a response: done, follow the command, or failed (why).
fn interpret(kind: &str, outcome: Outcome) -> Result<Done, String> {
    let resp = match outcome {
        Outcome::Response(r) => r,
        Outcome::Error(e) => return Err(format!("error {} {}", e.err_code, e.err_msg)),
        Outcome::Failed(why) => return Err(why),
    };
    let fail = |code: u32, msg: &str| Err(format!("error {code} {msg}"));
    match (kind, resp) {
        ("set", RespType::SetResp(r)) => {
            for o in r.updated_obj_results {
                match o.oper_status.and_then(|s| s.oper_status) {
                    Some(SetStatus::OperFailure(f)) => return fail(f.err_code, &f.err_msg),
                    Some(SetStatus::OperSuccess(s)) => {
                        if let Some(pe) = s.updated_inst_results.iter().flat_map(|i| &i.param_errs).next() {
                            return Err(format!("{}: error {} {}", pe.param, pe.err_code, pe.err_msg));
                        }
                    }
                    None => {}
                }
            }
            Ok(Done::Ok)
        }
        ("add", RespType::AddResp(r)) => {
            for o in r.created_obj_results {
                if let Some(AddStatus::OperFailure(f)) = o.oper_status.and_then(|s| s.oper_status) {
                    return fail(f.err_code, &f.err_msg);
                }
            }
            Ok(Done::Ok)
        }
        ("delete", RespType::DeleteResp(r)) => {
            for o in r.deleted_obj_results {
                match o.oper_status.and_then(|s| s.oper_status) {
                    Some(DeleteStatus::OperFailure(f)) => return fail(f.err_code, &f.err_msg),
                    Some(DeleteStatus::OperSuccess(s)) => {
                        if let Some(u) = s.unaffected_path_errs.first() {
                            return Err(format!("{}: error {} {}", u.unaffected_path, u.err_code, u.err_msg));
                        }
                    }
                    None => {}
                }
            }
            Ok(Done::Ok)
        }
        ("operate", RespType::OperateResp(r)) => {
            let mut follow = false;
            for o in r.operation_results {
                match o.operation_resp {
                    Some(OperationResp::CmdFailure(f)) => return fail(f.err_code, &f.err_msg),
                    Some(OperationResp::ReqObjPath(_)) => follow = true,
                    Some(OperationResp::ReqOutputArgs(_)) | None => {}
                }
            }
            Ok(if follow { Done::Follow } else { Done::Ok })
        }
        (kind, other) => {
            Err(format!("unexpected {} to a {kind}", usp_proto::msg::resp_kind(&other).as_str_name()))
        }
    }
}

#[cfg(test)]
mod tests {
    use usp_proto::{
        ErrCode,
        usp::{OperateResp, SetResp, operate_resp, set_resp},
    };

    use super::*;

    #[test]
    fn responses_are_read_per_request_kind() {
        let ok = SetResp::new(vec![set_resp::UpdatedObjectResult::success("Device.X.", vec![])]);
        assert!(matches!(interpret("set", Outcome::Response(RespType::SetResp(ok))), Ok(Done::Ok)));
        let bad = SetResp::new(vec![set_resp::UpdatedObjectResult::failure(
            "Device.X.",
            ErrCode::INVALID_VALUE,
            "range",
            vec![],
        )]);
        let e = interpret("set", Outcome::Response(RespType::SetResp(bad))).err().unwrap();
        assert!(e.contains("7012"), "{e}");
        let started = OperateResp::new(vec![operate_resp::OperationResult::started(
            "Device.X.Toggle()",
            "Device.LocalAgent.Request.3.",
        )]);
        assert!(matches!(
            interpret("operate", Outcome::Response(RespType::OperateResp(started))),
            Ok(Done::Follow)
        ));
        let sync =
            OperateResp::new(vec![operate_resp::OperationResult::output("Device.X.Reset()", [("a", "b")])]);
        assert!(matches!(interpret("operate", Outcome::Response(RespType::OperateResp(sync))), Ok(Done::Ok)));
        assert!(interpret("set", Outcome::Failed("timeout".into())).is_err());
        assert!(interpret("set", Outcome::Response(RespType::OperateResp(OperateResp::default()))).is_err());
    }
}
