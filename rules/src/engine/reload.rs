//! Swapping in a new rule set without losing what the old one knew.
//!
//! The caller loads and checks the new files first ([`crate::load()`]); a bad
//! file never reaches the engine, so the old rules keep running. On a good
//! reload:
//!
//! * rules that still exist (by name) keep their instances — latches,
//!   for-duration and debounce timers with their deadlines (unless the new
//!   definition dropped `for` / `debounce`), cooldowns — their rate-limit
//!   windows, traces and counters; a stopped rule is restarted (reloading is
//!   how an operator re-arms it after fixing it);
//! * sequences under way continue with the steps they started with;
//! * rules that are gone lose their state, timers and sequences;
//! * schedules are re-armed, Agent indexes rebuilt, and Agents whose needed
//!   subscriptions changed are asked to update them.

use std::{collections::HashMap, sync::Arc, time::SystemTime};

use super::{
    Engine,
    io::{Notice, Output},
    state::{RuleState, Status},
};
use crate::{model::RuleSet, time::to_ms};

impl Engine {
    /// Runs `set` from now on; returns what to do (subscription updates,
    /// primes, a notice).
    pub fn reload(&mut self, set: RuleSet, now: SystemTime) -> Vec<Output> {
        let now = to_ms(now);
        let persist = self.cfg.persist;
        let set = Arc::new(set);
        let old_set = std::mem::replace(&mut self.set, set.clone());
        let mut old: HashMap<Arc<str>, RuleState> =
            old_set.rules.iter().map(|r| r.name.clone()).zip(std::mem::take(&mut self.states)).collect();
        let mut states = Vec::with_capacity(set.rules.len());
        for rule in &set.rules {
            let st = match old.remove(&rule.name) {
                Some(mut st) => {
                    st.stopped = None;
                    st.fuse = (0, 0);
                    for inst in st.instances.values_mut() {
                        // Timers the new definition no longer has go.
                        if rule.hold.is_none() {
                            if let Some(t) = inst.hold.take() {
                                self.timers.cancel(t);
                            }
                        }
                        if rule.debounce.is_none() {
                            if let Some(t) = inst.debounce.take() {
                                self.timers.cancel(t);
                            }
                        }
                        if inst.ctx.as_ref().is_some_and(|c| c.trigger >= rule.triggers.len()) {
                            inst.ctx = None;
                            if let Some(t) = inst.hold.take() {
                                self.timers.cancel(t);
                            }
                            if let Some(t) = inst.debounce.take() {
                                self.timers.cancel(t);
                            }
                        }
                    }
                    st
                }
                None => RuleState::new(&rule.name, self.cfg.trace_len),
            };
            self.dirty.rule(&rule.name, persist);
            states.push(st);
        }
        for (name, st) in old {
            for (key, inst) in st.instances {
                if let Some(t) = inst.hold {
                    self.timers.cancel(t);
                }
                if let Some(t) = inst.debounce {
                    self.timers.cancel(t);
                }
                self.dirty.instance(&name, &key, persist);
            }
            self.dirty.rule(&name, persist);
            let runs: Vec<u64> =
                self.runs.iter().filter(|(_, r)| r.rule == name).map(|(id, _)| *id).collect();
            for id in runs {
                self.drop_run(id);
            }
        }
        self.states = states;
        for e in self.agents.values_mut() {
            e.view = None;
        }
        self.shapes.clear();
        self.arm_schedules(now);
        let mut online: Vec<Arc<str>> =
            self.agents.values().filter(|e| e.status == Status::Online).map(|e| e.id.clone()).collect();
        online.sort();
        for agent in online {
            self.resubscribe(&agent, false, now);
        }
        self.out.push(Output::Notice(Notice::Reloaded { rules: set.rules.len() }));
        std::mem::take(&mut self.out)
    }
}
