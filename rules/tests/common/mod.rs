//! A test driver for the engine: a controllable clock, notification
//! builders, and readers for the outputs.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::{
    collections::BTreeMap,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use usp_proto::usp::{
    AddResp, DeleteResp, GetResp, Notify, OperateResp, SetResp, add_resp, delete_resp, get_resp,
    operate_resp, request::ReqType, response::RespType, set_resp,
};
use usp_rules::{
    Engine, EngineConfig, RuleSet, Source,
    engine::{Input, Outcome, OutgoingRequest, Output, UpstreamEvent},
};

/// 2024-01-01T00:00:00Z, a Monday.
pub const T0: u64 = 1_704_067_200_000;
pub const SEC: u64 = 1000;
pub const MIN: u64 = 60 * SEC;
pub const HOUR: u64 = 60 * MIN;

pub fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

pub fn ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

pub fn config() -> EngineConfig {
    EngineConfig { timezone: jiff::tz::TimeZone::UTC, ..EngineConfig::default() }
}

pub fn rules(text: &str) -> RuleSet {
    usp_rules::load(&[Source::new("test.toml", text)]).unwrap_or_else(|e| panic!("{e}"))
}

/// The engine and its clock.
pub struct H {
    pub engine: Engine,
    pub now: u64,
}

impl H {
    pub fn new(text: &str) -> H {
        H::with(rules(text), config(), T0)
    }

    pub fn with(set: RuleSet, cfg: EngineConfig, now: u64) -> H {
        H { engine: Engine::new(cfg, set, at(now)), now }
    }

    pub fn input(&mut self, i: Input) -> Vec<Output> {
        self.engine.handle(i, at(self.now))
    }

    pub fn notify(&mut self, agent: &str, n: Notify) -> Vec<Output> {
        self.input(Input::Notify { agent: agent.into(), notify: n, received_at: at(self.now) })
    }

    pub fn vc(&mut self, agent: &str, path: &str, value: &str) -> Vec<Output> {
        self.notify(agent, Notify::value_change("", false, path, value))
    }

    pub fn vc_sub(&mut self, agent: &str, sub: &str, path: &str, value: &str) -> Vec<Output> {
        self.notify(agent, Notify::value_change(sub, false, path, value))
    }

    pub fn online(&mut self, agent: &str) -> Vec<Output> {
        self.input(Input::AgentOnline { agent: agent.into() })
    }

    pub fn offline(&mut self, agent: &str) -> Vec<Output> {
        self.input(Input::AgentOffline { agent: agent.into() })
    }

    /// Moves the clock forward and ticks.
    pub fn advance(&mut self, d: u64) -> Vec<Output> {
        self.now += d;
        self.input(Input::Tick)
    }

    /// Sets the clock and ticks.
    pub fn advance_to(&mut self, t: u64) -> Vec<Output> {
        assert!(t >= self.now);
        self.now = t;
        self.input(Input::Tick)
    }

    pub fn respond(&mut self, req: &OutgoingRequest, outcome: Outcome) -> Vec<Output> {
        self.input(Input::Response { id: req.id, outcome })
    }

    /// Answers every request in `out` with success (async start for Operate).
    pub fn ack_all(&mut self, out: &[Output]) -> Vec<Output> {
        let mut more = Vec::new();
        for r in requests(out) {
            more.extend(self.respond(r, success(r)));
        }
        more
    }

    pub fn deadline(&self) -> Option<u64> {
        self.engine.next_deadline().map(ms)
    }

    pub fn explain(&self, rule: &str) -> usp_rules::trace::Explanation {
        self.engine.explain(rule, at(self.now)).unwrap_or_else(|| panic!("no rule {rule}"))
    }
}

pub fn requests(out: &[Output]) -> Vec<&OutgoingRequest> {
    out.iter()
        .filter_map(|o| match o {
            Output::Request(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// `(agent, full parameter path, value)` of every Set.
pub fn sets(out: &[Output]) -> Vec<(String, String, String)> {
    let mut v = Vec::new();
    for r in requests(out) {
        if let ReqType::Set(s) = &r.body {
            for o in &s.update_objs {
                for p in &o.param_settings {
                    v.push((r.agent.to_string(), format!("{}{}", o.obj_path, p.param), p.value.clone()));
                }
            }
        }
    }
    v
}

/// `(agent, command, command_key, args)` of every Operate.
pub fn operates(out: &[Output]) -> Vec<(String, String, String, BTreeMap<String, String>)> {
    requests(out)
        .into_iter()
        .filter_map(|r| match &r.body {
            ReqType::Operate(o) => {
                Some((r.agent.to_string(), o.command.clone(), o.command_key.clone(), o.input_args.clone()))
            }
            _ => None,
        })
        .collect()
}

pub fn publishes(out: &[Output]) -> Vec<UpstreamEvent> {
    out.iter()
        .filter_map(|o| match o {
            Output::Publish(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

pub fn published_names(out: &[Output]) -> Vec<String> {
    publishes(out).into_iter().map(|e| e.name).collect()
}

pub fn gets(out: &[Output]) -> Vec<(String, Vec<String>)> {
    requests(out)
        .into_iter()
        .filter_map(|r| match &r.body {
            ReqType::Get(g) => Some((r.agent.to_string(), g.param_paths.clone())),
            _ => None,
        })
        .collect()
}

/// A successful answer to a request.
pub fn success(r: &OutgoingRequest) -> Outcome {
    let body = match &r.body {
        ReqType::Set(s) => RespType::SetResp(SetResp::new(
            s.update_objs
                .iter()
                .map(|o| set_resp::UpdatedObjectResult::success(o.obj_path.clone(), vec![]))
                .collect(),
        )),
        ReqType::Add(a) => RespType::AddResp(AddResp::new(
            a.create_objs
                .iter()
                .map(|o| {
                    add_resp::CreatedObjectResult::success(
                        o.obj_path.clone(),
                        format!("{}1.", o.obj_path),
                        BTreeMap::new(),
                        vec![],
                    )
                })
                .collect(),
        )),
        ReqType::Delete(d) => RespType::DeleteResp(DeleteResp::new(
            d.obj_paths
                .iter()
                .map(|p| delete_resp::DeletedObjectResult::success(p.clone(), [p.clone()], vec![]))
                .collect(),
        )),
        ReqType::Operate(o) => {
            RespType::OperateResp(OperateResp::new(vec![operate_resp::OperationResult::started(
                o.command.clone(),
                "Device.LocalAgent.Request.1.",
            )]))
        }
        ReqType::Get(_) => RespType::GetResp(GetResp::new(vec![])),
        other => panic!("unexpected request {other:?}"),
    };
    Outcome::Response(body)
}

/// A GetResp holding `(object path, param, value)` triples.
pub fn get_resp(values: &[(&str, &str, &str)]) -> GetResp {
    let mut by_obj: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
    for (obj, p, v) in values {
        by_obj.entry(obj).or_default().insert((*p).to_owned(), (*v).to_owned());
    }
    GetResp::new(vec![get_resp::RequestedPathResult::ok(
        "Device.",
        by_obj
            .into_iter()
            .map(|(o, params)| get_resp::ResolvedPathResult {
                resolved_path: o.to_owned(),
                result_params: params,
            })
            .collect(),
    )])
}
