//! What the notification path needs of each `Device.LocalAgent.Controller.{i}`
//! row — its Endpoint ID, whether it is enabled, its retry parameters —
//! kept in step with the store through the change log.
//!
//! Why a copy and not a store read: a Controller row being deleted, or
//! disabled, still gets the notification of that very change (its last
//! one, agent-datamodel.md §3). Each change is notified before the copy is
//! updated, so the copy still says where to send it.

use std::collections::HashMap;

use super::ids::Ids;
use crate::datamodel::{DataModel, Value};

/// One Controller row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ControllerInfo {
    /// `EndpointID`.
    pub(crate) endpoint_id: String,
    /// `Enable`.
    pub(crate) enabled: bool,
    /// `USPNotifRetryMinimumWaitInterval` (m, seconds).
    pub(crate) retry_min_wait: u32,
    /// `USPNotifRetryIntervalMultiplier` (k, per mille).
    pub(crate) retry_multiplier: u32,
}

/// The Controller rows by instance number.
#[derive(Debug, Default)]
pub(crate) struct Controllers {
    rows: HashMap<u32, ControllerInfo>,
}

fn read(dm: &DataModel, ids: &Ids, number: u32) -> Option<ControllerInfo> {
    let c = &ids.controller;
    let row = Ids::row(c.table, number)?;
    let store = dm.store();
    let get = |p| store.get(&row.param(p));
    let uint = |p, default| match get(p) {
        Some(Value::UnsignedInt(n)) => *n,
        _ => default,
    };
    Some(ControllerInfo {
        endpoint_id: get(c.endpoint_id)?.as_str()?.to_owned(),
        enabled: get(c.enable).and_then(Value::as_bool).unwrap_or(false),
        retry_min_wait: uint(c.retry_min_wait, 5),
        retry_multiplier: uint(c.retry_multiplier, 2000),
    })
}

impl Controllers {
    /// Reads every row.
    pub(crate) fn load_all(dm: &DataModel, ids: &Ids) -> Controllers {
        let mut c = Controllers::default();
        let numbers: Vec<u32> =
            dm.store().rows(&ids.controller_table()).filter_map(|r| r.inst.last()).collect();
        for n in numbers {
            c.reload(dm, ids, n);
        }
        c
    }

    /// Re-reads row `number` (dropping it if gone).
    pub(crate) fn reload(&mut self, dm: &DataModel, ids: &Ids, number: u32) {
        match read(dm, ids, number) {
            Some(info) => self.rows.insert(number, info),
            None => self.rows.remove(&number),
        };
    }

    /// Drops row `number`.
    pub(crate) fn remove(&mut self, number: u32) {
        self.rows.remove(&number);
    }

    /// Row `number`.
    pub(crate) fn get(&self, number: u32) -> Option<&ControllerInfo> {
        self.rows.get(&number)
    }
}
