//! What survives a restart: Subscription rows with `Persistent=true`
//! (agent-datamodel.md §4; non-persistent rows vanish on restart).
//!
//! The Agent writes no file: [`Agent::export_persistent`] hands the rows to
//! the runtime, which stores them as it likes, and
//! [`AgentBuilder::restore`](super::AgentBuilder::restore) puts them back
//! when the Agent is built again. Each row keeps its instance number
//! (R-ARC.8) and names its Recipient by Endpoint ID, since Controller rows
//! may be numbered differently after a restart. A row is not restored when
//! its Controller is unknown, when its `TimeToLive` has run out meanwhile,
//! or when its number or keys are taken. Pending retries are not kept
//! (R-NOT.4: a reboot resets them).

use super::Agent;
use super::ids::Ids;
use super::subscriptions::recipient_row;
use crate::datamodel::{DataModel, DateTime, Value};

use super::clock;

/// The persistent state of an Agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersistentState {
    /// The persistent Subscription rows.
    pub subscriptions: Vec<PersistedRow>,
}

/// One persisted row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistedRow {
    /// Its instance number.
    pub number: u32,
    /// The Endpoint ID of its Recipient Controller.
    pub recipient: String,
    /// Its other parameters, by name, in lexical form.
    pub params: Vec<(String, String)>,
}

impl Agent {
    /// The Subscription rows with `Persistent=true`, for the runtime to
    /// keep.
    pub fn export_persistent(&self) -> PersistentState {
        let s = &self.ids.subscription;
        let store = self.dm.store();
        let schema = self.dm.schema();
        let mut rows = Vec::new();
        for sub in self.subs.iter().filter(|s| s.persistent) {
            let Some(row) = Ids::row(s.table, sub.number) else { continue };
            let Some(recipient) = sub.recipient.and_then(|r| self.controllers.get(r)) else { continue };
            let Some(params) = store.params(&row) else { continue };
            let params = params
                .filter(|(p, _)| *p != s.recipient)
                .map(|(p, v)| (schema.param(p).name.to_string(), v.to_string()))
                .collect();
            rows.push(PersistedRow { number: sub.number, recipient: recipient.endpoint_id.clone(), params });
        }
        rows.sort_by_key(|r| r.number);
        PersistentState { subscriptions: rows }
    }
}

/// Puts persisted rows back into the store; returns how many were
/// restored.
pub(crate) fn restore(dm: &mut DataModel, ids: &Ids, state: &PersistentState, now: DateTime) -> usize {
    let s = &ids.subscription;
    let schema = dm.schema().clone();
    let mut restored = 0;
    for row in &state.subscriptions {
        let key = [Value::String(row.recipient.clone())];
        let Some(controller) =
            dm.store().find_by_key(&ids.controller_table(), ids.controller.endpoint_id_key, &key)
        else {
            continue;
        };
        let recipient = schema.obj_path(&controller).trim_end_matches('.').to_owned();
        if recipient_row(dm, ids, &recipient).is_none() {
            continue;
        }
        let mut values = vec![(s.recipient, Value::String(recipient))];
        for (name, text) in &row.params {
            let Some(p) = schema.param_named(s.table, name).filter(|p| *p != s.recipient) else { continue };
            if let Ok(v) = schema.param(p).ty.parse(text) {
                values.push((p, v));
            }
        }
        let get = |p| values.iter().find(|(q, _)| *q == p).map(|(_, v)| v);
        let ttl = match get(s.time_to_live) {
            Some(Value::UnsignedInt(n)) => *n,
            _ => 0,
        };
        let created = get(s.creation_date).and_then(Value::as_datetime).unwrap_or(DateTime::UNKNOWN);
        if ttl > 0 && clock::after_secs(created, ttl) <= now {
            continue;
        }
        if dm.store_mut().add_numbered(&ids.subscription_table(), row.number, values).is_ok() {
            restored += 1;
        }
    }
    restored
}
