//! From a change to its notifications (records-and-messages.md §13).
//!
//! Each entry of the data model's change log — whoever made it: a Set, an
//! Add, the Agent itself, a provider's report — is looked up in the
//! subscription index by the schema ids it names, confirmed against each
//! candidate's ReferenceList with [`DataModel::covers`], checked against
//! the Recipient's `n` right, and sent at once:
//!
//! | change | type | index keys | confirmed by | right |
//! |---|---|---|---|---|
//! | value | ValueChange | the parameter, each object above it | covers(parameter) | Param `n` |
//! | row created | ObjectCreation | the table | covers(row) | Obj `n` on the table |
//! | row deleted | ObjectDeletion | the table | covers(row), or the remembered matches of a search | InstantiatedObj `n` |
//! | async command done | OperationComplete | the command, each object above it | covers(command) | CommandEvent `n` |
//! | event | Event | the event, each object above it | covers(event) | CommandEvent `n` |
//!
//! Parameters the model marks `VALUE_CHANGE_WILL_IGNORE` (uptime counters)
//! send no ValueChange. A Recipient whose Controller row is disabled, or
//! that holds the BannedRole, gets nothing. Values and unique keys are
//! shown as the Recipient may see them (write-only and `secured` ones as
//! `""`; unreadable unique keys left out).

use std::collections::BTreeMap;

use usp_proto::usp::Notify;

use super::controllers::Controllers;
use super::delivery::{Delivery, Origin, RetryPolicy};
use super::ids::Ids;
use super::output::Output;
use super::permissions::{Access, Category, Rights, Trust};
use super::read::{readable, shown};
use super::requests::Requests;
use super::subscriptions::index::IndexKey;
use super::subscriptions::{Sub, Subscriptions, cmp_rows};
use crate::controller::NotifType;
use crate::datamodel::{
    Change, DataModel, DateTime, Everything, ObjId, ParamId, Target, Value, ValueChangePolicy,
    args_to_strings,
};

/// The parts of the Agent the notification path uses, borrowed apart.
pub(crate) struct Notifier<'a> {
    pub(crate) dm: &'a DataModel,
    pub(crate) ids: &'a Ids,
    pub(crate) subs: &'a Subscriptions,
    pub(crate) controllers: &'a Controllers,
    pub(crate) requests: &'a Requests,
    pub(crate) trust: &'a mut Trust,
    pub(crate) delivery: &'a mut Delivery,
    pub(crate) scratch: &'a mut Vec<u32>,
}

/// The index keys of an element of object `obj`: the element's own key,
/// then every object from `Device.` down to `obj`.
fn keys_of(dm: &DataModel, own: IndexKey, obj: ObjId) -> impl Iterator<Item = IndexKey> + '_ {
    std::iter::once(own).chain(dm.schema().object(obj).ancestry().iter().map(|a| IndexKey::Obj(*a)))
}

impl Notifier<'_> {
    /// Sends what `change` triggers.
    pub(crate) fn change(&mut self, change: &Change, now: DateTime, out: &mut Output) {
        if self.subs.none_active() {
            return;
        }
        let dm = self.dm;
        let schema = dm.schema();
        let mut candidates = std::mem::take(self.scratch);
        candidates.clear();
        match change {
            Change::Value { param, new, .. } => {
                if schema.param(param.param).value_change == ValueChangePolicy::WillIgnore {
                    *self.scratch = candidates;
                    return;
                }
                let keys = keys_of(dm, IndexKey::Param(param.param), param.obj.obj);
                self.subs.candidates(NotifType::ValueChange, keys, &mut candidates);
                let target = Target::Param(*param);
                for &n in &candidates {
                    self.send_if_covered(
                        n,
                        &target,
                        Category::Param,
                        &target,
                        now,
                        out,
                        |access, id, retry| {
                            Notify::value_change(
                                id,
                                retry,
                                schema.param_path(param),
                                shown(dm, access, param, new),
                            )
                        },
                    );
                }
            }
            Change::Created { row, keys } => {
                self.subs.candidates(
                    NotifType::ObjectCreation,
                    std::iter::once(IndexKey::Obj(row.obj)),
                    &mut candidates,
                );
                let target = Target::Object(*row);
                let Some(table) = schema.table_of(row) else {
                    *self.scratch = candidates;
                    return;
                };
                for &n in &candidates {
                    self.send_if_covered(
                        n,
                        &target,
                        Category::Obj,
                        &Target::Table(table),
                        now,
                        out,
                        |access, id, retry| {
                            Notify::object_creation(
                                id,
                                retry,
                                schema.obj_path(row),
                                unique_keys(dm, access, row, keys),
                            )
                        },
                    );
                }
            }
            Change::Deleted { row, .. } => {
                self.subs.candidates(
                    NotifType::ObjectDeletion,
                    std::iter::once(IndexKey::Obj(row.obj)),
                    &mut candidates,
                );
                let target = Target::Object(*row);
                for &n in &candidates {
                    self.send_if_covered(
                        n,
                        &target,
                        Category::InstantiatedObj,
                        &target,
                        now,
                        out,
                        |_, id, retry| Notify::object_deletion(id, retry, schema.obj_path(row)),
                    );
                }
            }
            Change::Completed { op, command, result } => {
                let keys = keys_of(dm, IndexKey::Command(command.command), command.obj.obj);
                self.subs.candidates(NotifType::OperationComplete, keys, &mut candidates);
                let target = Target::Command(*command);
                let key = self.requests.get(*op).map(|r| r.command_key.clone()).unwrap_or_default();
                let name = format!("{}()", schema.command(command.command).name);
                for &n in &candidates {
                    self.send_if_covered(
                        n,
                        &target,
                        Category::CommandEvent,
                        &target,
                        now,
                        out,
                        |_, id, retry| {
                            let obj = schema.obj_path(&command.obj);
                            match result {
                                Ok(args) => Notify::operation_complete(
                                    id,
                                    retry,
                                    obj,
                                    name.clone(),
                                    key.clone(),
                                    args_to_strings(args),
                                ),
                                Err(e) => Notify::operation_failed(
                                    id,
                                    retry,
                                    obj,
                                    name.clone(),
                                    key.clone(),
                                    e.code,
                                    e.message.clone(),
                                ),
                            }
                        },
                    );
                }
            }
            Change::Event { event, args } => {
                let keys = keys_of(dm, IndexKey::Event(event.event), event.obj.obj);
                self.subs.candidates(NotifType::Event, keys, &mut candidates);
                let target = Target::Event(*event);
                let name = format!("{}!", schema.event(event.event).name);
                for &n in &candidates {
                    self.send_if_covered(
                        n,
                        &target,
                        Category::CommandEvent,
                        &target,
                        now,
                        out,
                        |_, id, retry| {
                            Notify::event(
                                id,
                                retry,
                                schema.obj_path(&event.obj),
                                name.clone(),
                                args_to_strings(args),
                            )
                        },
                    );
                }
            }
        }
        *self.scratch = candidates;
    }

    /// Sends subscription `n` its notification if one of its references
    /// covers `target` and its Recipient holds `n` in `category` on
    /// `guarded`.
    #[allow(clippy::too_many_arguments)]
    fn send_if_covered(
        &mut self,
        n: u32,
        target: &Target,
        category: Category,
        guarded: &Target,
        now: DateTime,
        out: &mut Output,
        build: impl FnOnce(&Access, String, bool) -> Notify,
    ) {
        let Some(sub) = self.subs.get(n) else { return };
        if !covers(self.dm, sub, target) {
            return;
        }
        let Some(row) = sub.recipient else { return };
        let Some(info) = self.controllers.get(row) else { return };
        if !info.enabled {
            return;
        }
        let peer = self.trust.peer(self.dm, self.ids, &info.endpoint_id);
        if peer.banned || !peer.access.allows(self.dm, category, guarded, Rights::NOTIFY) {
            return;
        }
        let notify = build(&peer.access, sub.id.clone(), sub.retry);
        let retry = sub.retry.then_some(RetryPolicy { expiration: sub.expiration });
        self.delivery.send(
            out,
            self.controllers,
            &info.endpoint_id,
            row,
            Origin::Subscription(n),
            notify,
            retry,
            now,
        );
    }
}

/// Whether a reference of `sub` covers `target`. A row an ObjectDeletion
/// search matched is remembered (a deleted row matches no expression).
fn covers(dm: &DataModel, sub: &Sub, target: &Target) -> bool {
    sub.refs.iter().any(|r| match target {
        Target::Object(row) if r.search && sub.kind == Some(NotifType::ObjectDeletion) => {
            sub.matched.binary_search_by(|m| cmp_rows(m, row)).is_ok()
        }
        _ => dm.covers(&r.path, target, &Everything).unwrap_or(false),
    })
}

/// The unique keys of a new row the Recipient may read.
fn unique_keys(
    dm: &DataModel,
    access: &Access,
    row: &crate::datamodel::ObjRef,
    keys: &[(ParamId, Value)],
) -> BTreeMap<String, String> {
    keys.iter()
        .map(|(pid, v)| (row.param(*pid), v))
        .filter(|(p, _)| readable(dm, access, p))
        .map(|(p, v)| (dm.schema().param(p.param).name.to_string(), shown(dm, access, &p, v)))
        .collect()
}
