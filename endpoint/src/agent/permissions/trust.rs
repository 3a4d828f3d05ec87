//! Role determination and the cache of compiled permissions.
//!
//! For a requester's Endpoint ID (security-and-e2e.md §3, *Determine
//! Role*): its `Controller.{i}` row gives `AssignedRole` ∪
//! `InheritedRole`; a Controller with no row, or with no Role, gets the
//! `UntrustedRole`. The result is cached per Endpoint ID and dropped as a
//! whole whenever anything under `Device.LocalAgent.Controller.` or
//! `Device.LocalAgent.ControllerTrust.` changes (the Agent watches its
//! change log for that), so a permission change applies from the next
//! message on.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Access, CompiledRole};
use crate::agent::ids::Ids;
use crate::datamodel::{DataModel, ObjRef, ParamId, Target, Value};

/// The most Endpoint IDs remembered; past it the cache starts over, so a
/// peer cycling through made-up `from_id`s cannot grow it.
const MAX_CACHED: usize = 1024;

/// What the Agent knows about one requester.
#[derive(Debug)]
pub(crate) struct Peer {
    /// Its rights.
    pub(crate) access: Arc<Access>,
    /// Its `Controller.{i}` row, if it has one.
    pub(crate) row: Option<ObjRef>,
    /// `Controller.{i}.Enable` (true for Controllers without a row: they
    /// are served with the UntrustedRole).
    pub(crate) enabled: bool,
    /// It holds the `BannedRole`.
    pub(crate) banned: bool,
}

/// The cache.
#[derive(Debug, Default)]
pub(crate) struct Trust {
    roles: HashMap<u32, Arc<CompiledRole>>,
    peers: HashMap<String, Arc<Peer>>,
}

/// Role instance numbers named by a list of Role references.
fn role_numbers(dm: &DataModel, ids: &Ids, value: Option<&Value>, out: &mut Vec<u32>) {
    let Some(Value::List(items)) = value else { return };
    for item in items.iter().filter_map(Value::as_str) {
        if let Ok(Target::Object(o)) = dm.lookup(item) {
            if o.obj == ids.trust.role_table {
                if let Some(n) = o.inst.last() {
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
            }
        }
    }
}

impl Trust {
    /// Forgets everything (a Controller or ControllerTrust row changed).
    pub(crate) fn invalidate(&mut self) {
        self.roles.clear();
        self.peers.clear();
    }

    /// Forgets one requester (it sent a DisconnectRecord).
    pub(crate) fn forget(&mut self, endpoint_id: &str) {
        self.peers.remove(endpoint_id);
    }

    /// The requester `endpoint_id` as the Agent sees it now.
    pub(crate) fn peer(&mut self, dm: &DataModel, ids: &Ids, endpoint_id: &str) -> Arc<Peer> {
        if let Some(p) = self.peers.get(endpoint_id) {
            return p.clone();
        }
        let peer = Arc::new(self.determine(dm, ids, endpoint_id));
        if self.peers.len() >= MAX_CACHED {
            self.peers.clear();
        }
        self.peers.insert(endpoint_id.to_owned(), peer.clone());
        peer
    }

    fn determine(&mut self, dm: &DataModel, ids: &Ids, endpoint_id: &str) -> Peer {
        let store = dm.store();
        let trust = ids.trust_object();
        let row = store.find_by_key(
            &ids.controller_table(),
            ids.controller.endpoint_id_key,
            &[Value::String(endpoint_id.to_owned())],
        );
        let mut roles = Vec::new();
        let mut enabled = true;
        if let Some(row) = &row {
            let c = &ids.controller;
            enabled = store.get(&row.param(c.enable)).and_then(Value::as_bool).unwrap_or(false);
            role_numbers(dm, ids, store.get(&row.param(c.assigned_role)), &mut roles);
            role_numbers(dm, ids, store.get(&row.param(c.inherited_role)), &mut roles);
        }
        let list = |param: ParamId| {
            let mut out = Vec::new();
            role_numbers(dm, ids, store.get(&trust.param(param)), &mut out);
            out
        };
        if roles.is_empty() {
            roles = list(ids.trust.untrusted_role);
        }
        let banned = match store.get(&trust.param(ids.trust.banned_role)).and_then(Value::as_str) {
            Some(s) if !s.is_empty() => match dm.lookup(s) {
                Ok(Target::Object(o)) => o.inst.last().is_some_and(|n| roles.contains(&n)),
                _ => false,
            },
            _ => false,
        };
        let secured = list(ids.trust.secured_roles).iter().any(|n| roles.contains(n));
        let compiled = roles
            .iter()
            .filter_map(|n| {
                let role = ids.role_table().row(*n)?;
                Some(
                    self.roles
                        .entry(*n)
                        .or_insert_with(|| Arc::new(CompiledRole::compile(dm, ids, &role)))
                        .clone(),
                )
            })
            .collect();
        Peer { access: Arc::new(Access::new(compiled, secured)), row, enabled, banned }
    }
}
