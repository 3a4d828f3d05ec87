//! State that survives a restart: what changed, as key/value records.
//!
//! The engine stays free of I/O: it remembers which records changed, and
//! [`Engine::take_changes`] hands them out as a [`PersistBatch`] of puts and
//! deletes (JSON values) that a [`crate::Store`] writes in one transaction
//! (the runtime calls it after handling inputs, or every so often). On
//! start, the records read back go to [`Engine::restore`].
//!
//! Kept: the state cache; each stateful rule instance (latch, active, the
//! deadlines of its for-duration and debounce with the trigger they will
//! evaluate, the end of its cooldown); each rule's rate-limit window and
//! stop; sequences waiting on a `delay`; id counters (so command keys stay
//! unique). Restored timers keep their original deadlines; one that passed
//! while the process was down runs at the first input after the restore.
//!
//! Choices: a sequence that was waiting for a response when the process
//! stopped is not resumed (the response can no longer be matched): it is
//! reported as failed. Records of rules that no longer exist are dropped.
//! Traces are not kept.

use std::{
    collections::{BTreeMap, HashSet},
    sync::Arc,
};

use serde::{Deserialize, Serialize};

use super::{
    Engine,
    io::{Notice, Output, StopReason},
    state::{Branch, Ctx, Instance, Run, Wait},
    timers::TimerKind,
};
use crate::{pattern::Captures, time::Ms};

/// The tables of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Cached parameter values: `agent \u{1f} path` → value.
    Cache,
    /// Rule instances: `rule \u{1f} key` → instance.
    Instance,
    /// Per-rule state: `rule` → rate window, stop.
    Rule,
    /// Sequences waiting on a delay: run id → run.
    Run,
    /// Counters: `meta` → next ids.
    Meta,
}

impl Table {
    /// Every table.
    pub const ALL: [Table; 5] = [Table::Cache, Table::Instance, Table::Rule, Table::Run, Table::Meta];

    /// The table's name in the store.
    pub fn name(self) -> &'static str {
        match self {
            Table::Cache => "cache",
            Table::Instance => "instance",
            Table::Rule => "rule",
            Table::Run => "run",
            Table::Meta => "meta",
        }
    }
}

/// One change to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersistOp {
    /// Write a record.
    Put {
        /// Table.
        table: Table,
        /// Key.
        key: String,
        /// Value (JSON, or the raw value for the cache).
        value: String,
    },
    /// Remove a record.
    Delete {
        /// Table.
        table: Table,
        /// Key.
        key: String,
    },
}

/// Changes since the last [`Engine::take_changes`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersistBatch {
    /// The changes, in no particular order (keys are distinct).
    pub ops: Vec<PersistOp>,
}

impl PersistBatch {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

const SEP: char = '\u{1f}';

/// Keys whose records changed.
#[derive(Debug, Default)]
pub(crate) struct Dirty {
    cache: HashSet<(Arc<str>, Arc<str>)>,
    instances: HashSet<(Arc<str>, Arc<str>)>,
    rules: HashSet<Arc<str>>,
    runs: HashSet<u64>,
    meta: bool,
}

impl Dirty {
    pub(crate) fn cache(&mut self, agent: &Arc<str>, path: &Arc<str>, on: bool) {
        if on {
            self.cache.insert((agent.clone(), path.clone()));
        }
    }

    pub(crate) fn instance(&mut self, rule: &Arc<str>, key: &Arc<str>, on: bool) {
        if on {
            self.instances.insert((rule.clone(), key.clone()));
        }
    }

    pub(crate) fn rule(&mut self, rule: &Arc<str>, on: bool) {
        if on {
            self.rules.insert(rule.clone());
        }
    }

    pub(crate) fn run(&mut self, id: u64, on: bool) {
        if on {
            self.runs.insert(id);
        }
    }

    pub(crate) fn meta(&mut self, on: bool) {
        self.meta |= on;
    }
}

/// A trigger context as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CtxRecord {
    trigger: usize,
    agent: Option<String>,
    path: Option<String>,
    value: Option<String>,
    previous: Option<String>,
    captures: Vec<(String, String)>,
    args: Option<BTreeMap<String, String>>,
    keys: Option<BTreeMap<String, String>>,
    chain: Vec<String>,
    at: Ms,
}

impl CtxRecord {
    fn of(c: &Ctx) -> CtxRecord {
        let s = |v: &Option<Arc<str>>| v.as_deref().map(str::to_owned);
        CtxRecord {
            trigger: c.trigger,
            agent: s(&c.agent),
            path: s(&c.path),
            value: s(&c.value),
            previous: s(&c.previous),
            captures: c.captures.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            args: c.args.as_deref().cloned(),
            keys: c.keys.as_deref().cloned(),
            chain: c.chain.as_deref().unwrap_or(&[]).iter().map(ToString::to_string).collect(),
            at: c.at,
        }
    }

    fn into_ctx(self) -> Ctx {
        let a = |v: Option<String>| v.map(|s| Arc::from(s.as_str()));
        Ctx {
            trigger: self.trigger,
            agent: a(self.agent),
            path: a(self.path),
            value: a(self.value),
            previous: a(self.previous),
            captures: self
                .captures
                .into_iter()
                .map(|(k, v)| (Arc::from(k.as_str()), Arc::from(v.as_str())))
                .collect::<Captures>(),
            args: self.args.map(Arc::new),
            keys: self.keys.map(Arc::new),
            chain: if self.chain.is_empty() {
                None
            } else {
                Some(self.chain.iter().map(|s| Arc::from(s.as_str())).collect::<Vec<_>>().into())
            },
            at: self.at,
            received: None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct InstanceRecord {
    ctx: Option<CtxRecord>,
    hold_until: Option<Ms>,
    debounce_until: Option<Ms>,
    active: bool,
    latch: bool,
    cooldown_until: Ms,
}

#[derive(Debug, Serialize, Deserialize)]
struct RuleRecord {
    rate: Vec<Ms>,
    stopped: Option<(Ms, StopReason)>,
}

#[derive(Debug, Serialize, Deserialize)]
enum WaitRecord {
    Delay(Ms),
    Response,
}

#[derive(Debug, Serialize, Deserialize)]
struct RunRecord {
    rule: String,
    branch: Branch,
    pc: usize,
    ctx: CtxRecord,
    wait: WaitRecord,
}

#[derive(Debug, Serialize, Deserialize)]
struct MetaRecord {
    next_run: u64,
    next_request: u64,
}

fn json<T: Serialize>(v: &T) -> String {
    // Serialising these plain records cannot fail (string keys, no floats).
    serde_json::to_string(v).unwrap_or_default()
}

impl Engine {
    /// The records changed since the last call, to be written to the store.
    pub fn take_changes(&mut self) -> PersistBatch {
        let mut ops = Vec::new();
        let dirty = std::mem::take(&mut self.dirty);
        for (agent, path) in dirty.cache {
            let key = format!("{agent}{SEP}{path}");
            match self.agents.get(&agent).and_then(|e| e.cache.get(&path)) {
                Some(v) => ops.push(PersistOp::Put { table: Table::Cache, key, value: v.to_string() }),
                None => ops.push(PersistOp::Delete { table: Table::Cache, key }),
            }
        }
        for (rule, ikey) in dirty.instances {
            let key = format!("{rule}{SEP}{ikey}");
            let inst = self.set.id(&rule).and_then(|id| self.states[id].instances.get(&ikey));
            match inst {
                Some(i) => {
                    let rec = InstanceRecord {
                        ctx: i.ctx.as_ref().map(CtxRecord::of),
                        hold_until: i.hold.map(|t| t.0),
                        debounce_until: i.debounce.map(|t| t.0),
                        active: i.active,
                        latch: i.latch,
                        cooldown_until: i.cooldown_until,
                    };
                    ops.push(PersistOp::Put { table: Table::Instance, key, value: json(&rec) });
                }
                None => ops.push(PersistOp::Delete { table: Table::Instance, key }),
            }
        }
        for rule in dirty.rules {
            let key = rule.to_string();
            match self.set.id(&rule).map(|id| &self.states[id]) {
                Some(st) if !st.rate.is_empty() || st.stopped.is_some() => {
                    let rec =
                        RuleRecord { rate: st.rate.iter().copied().collect(), stopped: st.stopped.clone() };
                    ops.push(PersistOp::Put { table: Table::Rule, key, value: json(&rec) });
                }
                _ => ops.push(PersistOp::Delete { table: Table::Rule, key }),
            }
        }
        for id in dirty.runs {
            let key = id.to_string();
            match self.runs.get(&id) {
                Some(r) => {
                    let wait = match r.wait {
                        Wait::Delay(t) => WaitRecord::Delay(t.0),
                        _ => WaitRecord::Response,
                    };
                    let rec = RunRecord {
                        rule: r.rule.to_string(),
                        branch: r.branch,
                        pc: r.pc,
                        ctx: CtxRecord::of(&r.ctx),
                        wait,
                    };
                    ops.push(PersistOp::Put { table: Table::Run, key, value: json(&rec) });
                }
                None => ops.push(PersistOp::Delete { table: Table::Run, key }),
            }
        }
        if dirty.meta {
            let rec = MetaRecord { next_run: self.next_run, next_request: self.next_request };
            ops.push(PersistOp::Put { table: Table::Meta, key: "meta".into(), value: json(&rec) });
        }
        PersistBatch { ops }
    }

    /// Takes back stored records (call once, after [`Engine::new`] and
    /// before any input). Returns notices about records that could not be
    /// restored.
    pub fn restore(&mut self, records: impl IntoIterator<Item = (Table, String, String)>) -> Vec<Output> {
        let limit = self.cfg.cache_limit;
        let mut skipped = |what: String, reason: String| {
            self.out.push(Output::Notice(Notice::RestoreSkipped { what, reason }));
        };
        let mut instances = Vec::new();
        let mut rules = Vec::new();
        let mut runs = Vec::new();
        let mut cache = Vec::new();
        for (table, key, value) in records {
            match table {
                Table::Cache => cache.push((key, value)),
                Table::Instance => match serde_json::from_str::<InstanceRecord>(&value) {
                    Ok(r) => instances.push((key, r)),
                    Err(e) => skipped(format!("instance {key}"), e.to_string()),
                },
                Table::Rule => match serde_json::from_str::<RuleRecord>(&value) {
                    Ok(r) => rules.push((key, r)),
                    Err(e) => skipped(format!("rule {key}"), e.to_string()),
                },
                Table::Run => match (key.parse::<u64>(), serde_json::from_str::<RunRecord>(&value)) {
                    (Ok(id), Ok(r)) => runs.push((id, r)),
                    (_, Err(e)) => skipped(format!("run {key}"), e.to_string()),
                    (Err(e), _) => skipped(format!("run {key}"), e.to_string()),
                },
                Table::Meta => match serde_json::from_str::<MetaRecord>(&value) {
                    Ok(m) => {
                        self.next_run = self.next_run.max(m.next_run);
                        self.next_request = self.next_request.max(m.next_request);
                    }
                    Err(e) => skipped("meta".into(), e.to_string()),
                },
            }
        }
        for (key, value) in cache {
            let Some((agent, path)) = key.split_once(SEP) else { continue };
            let id = self.agent_id(agent);
            if let Some(e) = self.agents.get_mut(&id) {
                e.cache.restore(path, &value, limit);
            }
        }
        for (key, rec) in instances {
            let Some((rule, ikey)) = key.split_once(SEP) else { continue };
            let Some(rid) = self.set.id(rule) else { continue };
            let name = self.set.rules[rid].name.clone();
            let ikey: Arc<str> = Arc::from(ikey);
            let ntriggers = self.set.rules[rid].triggers.len();
            let ctx = rec.ctx.filter(|c| c.trigger < ntriggers).map(CtxRecord::into_ctx);
            let mut inst = Instance {
                ctx,
                hold: None,
                debounce: None,
                active: rec.active,
                latch: rec.latch,
                cooldown_until: rec.cooldown_until,
            };
            if inst.ctx.is_some() {
                if let Some(at) = rec.hold_until {
                    inst.hold =
                        Some(self.timers.arm(at, TimerKind::Hold { rule: name.clone(), key: ikey.clone() }));
                }
                if let Some(at) = rec.debounce_until {
                    inst.debounce = Some(
                        self.timers.arm(at, TimerKind::Debounce { rule: name.clone(), key: ikey.clone() }),
                    );
                }
            }
            self.states[rid].instances.insert(ikey, inst);
        }
        for (rule, rec) in rules {
            let Some(rid) = self.set.id(&rule) else { continue };
            self.states[rid].rate = rec.rate.into();
            self.states[rid].stopped = rec.stopped;
        }
        for (id, rec) in runs {
            let Some(rid) = self.set.id(&rec.rule) else { continue };
            self.next_run = self.next_run.max(id + 1);
            let rule = &self.set.rules[rid];
            let steps = match rec.branch {
                Branch::Then => rule.then.clone(),
                Branch::Else => rule.otherwise.clone(),
            };
            let name = rule.name.clone();
            match rec.wait {
                WaitRecord::Delay(at) => {
                    let t = self.timers.arm(at, TimerKind::Delay { run: id });
                    let run = Run {
                        rule: name,
                        branch: rec.branch,
                        steps,
                        pc: rec.pc,
                        ctx: rec.ctx.into_ctx(),
                        wait: Wait::Delay(t),
                    };
                    self.runs.insert(id, run);
                }
                WaitRecord::Response => {
                    let ctx = rec.ctx.into_ctx();
                    let step = rec.pc.saturating_sub(1);
                    let kind = steps.get(step).map_or("step", |a| a.kind.name());
                    let now = ctx.at;
                    self.step_failed(
                        &name,
                        &ctx,
                        step,
                        kind,
                        "interrupted by a restart while waiting for a response".into(),
                        now,
                    );
                    self.dirty.run(id, self.cfg.persist);
                }
            }
        }
        std::mem::take(&mut self.out)
    }
}
