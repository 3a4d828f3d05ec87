//! Creating Roles and trusted Controllers in code, before (or while) an
//! Agent runs: what a device's factory configuration, `uspmesh sim` and
//! tests need.
//!
//! ```
//! use std::sync::Arc;
//! use usp_endpoint::agent::permissions::{Grant, Rights, setup::{self, PermissionSpec}};
//! use usp_endpoint::datamodel::{models, Store};
//!
//! let mut store = Store::new(Arc::new(models::agent_schema().unwrap()));
//! let admin = setup::full_access_role(&mut store).unwrap();
//! setup::add_controller(&mut store, "self::rules", &[admin]).unwrap();
//! let viewer = setup::add_role(&mut store, "Viewer", &[PermissionSpec::new(
//!     1, ["Device."], Grant { param: Rights::READ, ..Grant::default() })]).unwrap();
//! setup::set_untrusted_roles(&mut store, &[viewer]).unwrap();
//! ```

use super::Grant;
use crate::agent::AgentError;
use crate::agent::ids::Ids;
use crate::datamodel::{ObjRef, ParamId, Store, TableRef, Value};

/// Name of the Role made by [`full_access_role`].
pub const FULL_ACCESS_ROLE: &str = "FullAccess";

/// One `Permission.{i}` row to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PermissionSpec {
    /// `Order` (larger wins inside the Role; unique within it).
    pub order: u32,
    /// `Targets`.
    pub targets: Vec<String>,
    /// The four permission strings.
    pub grant: Grant,
}

impl PermissionSpec {
    /// A row granting `grant` on `targets` with priority `order`.
    pub fn new<S: Into<String>>(order: u32, targets: impl IntoIterator<Item = S>, grant: Grant) -> Self {
        PermissionSpec { order, targets: targets.into_iter().map(Into::into).collect(), grant }
    }
}

fn ids(store: &Store) -> Result<Ids, AgentError> {
    Ids::new(store.schema())
}

/// The reference value of a row: its path without the trailing dot.
fn reference(store: &Store, row: &ObjRef) -> Value {
    Value::String(store.schema().obj_path(row).trim_end_matches('.').to_owned())
}

fn text(s: impl std::fmt::Display) -> Value {
    Value::String(s.to_string())
}

/// Adds an enabled Role called `name` with enabled Permission rows.
pub fn add_role(store: &mut Store, name: &str, permissions: &[PermissionSpec]) -> Result<ObjRef, AgentError> {
    let ids = ids(store)?;
    let t = &ids.trust;
    let role = store
        .add(&ids.role_table(), vec![(t.role_enable, Value::Boolean(true)), (t.role_name, text(name))])?;
    let table = TableRef { table: t.permission_table, parent: role.inst };
    for p in permissions {
        store.add(
            &table,
            vec![
                (t.perm_enable, Value::Boolean(true)),
                (t.perm_order, Value::UnsignedInt(p.order)),
                (t.perm_targets, Value::List(p.targets.iter().map(text).collect())),
                (t.perm_param, text(p.grant.param)),
                (t.perm_obj, text(p.grant.obj)),
                (t.perm_instantiated_obj, text(p.grant.instantiated_obj)),
                (t.perm_command_event, text(p.grant.command_event)),
            ],
        )?;
    }
    Ok(role)
}

/// The Role [`FULL_ACCESS_ROLE`] — `rwxn` on all four strings for all of
/// `Device.` — creating it on first use.
pub fn full_access_role(store: &mut Store) -> Result<ObjRef, AgentError> {
    let ids = ids(store)?;
    let existing = store.rows(&ids.role_table()).find(|row| {
        store.get(&row.param(ids.trust.role_name)).and_then(Value::as_str) == Some(FULL_ACCESS_ROLE)
    });
    match existing {
        Some(row) => Ok(row),
        None => add_role(store, FULL_ACCESS_ROLE, &[PermissionSpec::new(1, ["Device."], Grant::ALL)]),
    }
}

/// Makes `endpoint_id` a known, enabled Controller holding `roles` (its
/// `AssignedRole`), with onboarding marked complete. An existing row for
/// that Endpoint ID gets the roles added and is enabled.
pub fn add_controller(store: &mut Store, endpoint_id: &str, roles: &[ObjRef]) -> Result<ObjRef, AgentError> {
    let ids = ids(store)?;
    let c = &ids.controller;
    let key = [Value::String(endpoint_id.to_owned())];
    let refs: Vec<Value> = roles.iter().map(|r| reference(store, r)).collect();
    match store.find_by_key(&ids.controller_table(), c.endpoint_id_key, &key) {
        Some(row) => {
            let mut assigned = match store.get(&row.param(c.assigned_role)) {
                Some(Value::List(items)) => items.clone(),
                _ => Vec::new(),
            };
            for r in refs {
                if !assigned.contains(&r) {
                    assigned.push(r);
                }
            }
            store.set(&row.param(c.assigned_role), Value::List(assigned))?;
            store.set(&row.param(c.enable), Value::Boolean(true))?;
            Ok(row)
        }
        None => Ok(store.add(
            &ids.controller_table(),
            vec![
                (c.endpoint_id, text(endpoint_id)),
                (c.enable, Value::Boolean(true)),
                (c.assigned_role, Value::List(refs)),
                (c.onboarding_complete, Value::Boolean(true)),
            ],
        )?),
    }
}

fn set_role_list(store: &mut Store, param: fn(&Ids) -> ParamId, roles: &[ObjRef]) -> Result<(), AgentError> {
    let ids = ids(store)?;
    let refs = roles.iter().map(|r| reference(store, r)).collect();
    store.set(&ids.trust_object().param(param(&ids)), Value::List(refs))?;
    Ok(())
}

/// Sets `ControllerTrust.UntrustedRole`: the Roles of Controllers the
/// Agent does not know (no row, or a row without Roles).
pub fn set_untrusted_roles(store: &mut Store, roles: &[ObjRef]) -> Result<(), AgentError> {
    set_role_list(store, |ids| ids.trust.untrusted_role, roles)
}

/// Sets `ControllerTrust.SecuredRoles`: Roles that read `secured` values.
pub fn set_secured_roles(store: &mut Store, roles: &[ObjRef]) -> Result<(), AgentError> {
    set_role_list(store, |ids| ids.trust.secured_roles, roles)
}
