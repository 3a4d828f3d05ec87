//! GetInstances (records-and-messages.md §6).
//!
//! Each path names a table (`Device.Node.`), possibly through searches in
//! its parent levels, or rows of one (`Device.Node.*.`, `Device.Node.2.`).
//! The answer lists the rows — with `first_level_only=false` also every row
//! of every table below them — each with all its unique keys.
//!
//! * Codes: 7008 bad syntax; 7026 not in the Supported DM; 7016 an
//!   instance number that does not exist; 7018 a path that is neither a
//!   table nor rows of one.
//! * R-GIN.0: rows without InstantiatedObj `r` (and everything below them)
//!   are absent; a search-expression parameter without Param `r` matches
//!   nothing. R-GIN.1: unique keys without Param `r` are left out.

use usp_proto::{
    ErrCode,
    usp::{
        GetInstances, GetInstancesResp,
        get_instances_resp::{CurrInstance, RequestedPathResult},
    },
};

use super::permissions::{Access, Category, ReadView, Rights};
use super::read::{readable, rows_above, shown};
use crate::datamodel::{DataModel, Matches, ObjRef, Target};
use crate::path::Path;

/// Answers a GetInstances.
pub(crate) fn handle(dm: &DataModel, access: &Access, req: &GetInstances) -> GetInstancesResp {
    GetInstancesResp::new(
        req.obj_paths.iter().map(|p| one_path(dm, access, p, req.first_level_only)).collect(),
    )
}

fn one_path(dm: &DataModel, access: &Access, text: &str, first_level_only: bool) -> RequestedPathResult {
    let path = match Path::parse(text) {
        Ok(p) => p,
        Err(e) => return RequestedPathResult::failure(text, e.code(), e.to_string()),
    };
    let res = match dm.resolve_with(&path, &ReadView { access, dm }) {
        Ok(r) => r,
        Err(e) => return RequestedPathResult::failure(text, e.code(), e.to_string()),
    };
    if res.is_missing() {
        return RequestedPathResult::failure(text, ErrCode::OBJECT_DOES_NOT_EXIST, "object does not exist");
    }
    let schema = dm.schema();
    let store = dm.store();
    let depth = if first_level_only { 1 } else { 0 };
    let mut rows = Vec::new();
    let mut collect = |base: usize, o: &ObjRef| {
        if schema.object(o.obj).is_table() && visible(dm, access, base, o) {
            rows.push(*o);
        }
    };
    match res.matches {
        Matches::Tables(tables) => {
            for t in tables {
                store.walk_table(&t, depth, &mut |o| collect(t.parent.len(), o));
            }
        }
        Matches::Objects(objs) => {
            if objs.iter().any(|o| !schema.object(o.obj).is_table()) {
                return RequestedPathResult::failure(
                    text,
                    ErrCode::NOT_A_TABLE,
                    "not a multi-instance object",
                );
            }
            for o in objs {
                store.walk(&o, depth, &mut |x| collect(o.inst.len().saturating_sub(1), x));
            }
        }
        Matches::Params(_) | Matches::Commands(_) | Matches::Events(_) => {
            return RequestedPathResult::failure(text, ErrCode::NOT_A_TABLE, "not a multi-instance object");
        }
    }
    let insts = rows
        .into_iter()
        .map(|row| {
            let unique_keys = store
                .unique_keys(&row)
                .into_iter()
                .map(|(pid, v)| (row.param(pid), v))
                .filter(|(p, _)| readable(dm, access, p))
                .map(|(p, v)| (schema.param(p.param).name.to_string(), shown(dm, access, &p, &v)))
                .collect();
            CurrInstance { instantiated_obj_path: schema.obj_path(&row), unique_keys }
        })
        .collect();
    RequestedPathResult::ok(text, insts)
}

/// Whether every row on the way to `row`, below the first `base` levels,
/// is readable (InstantiatedObj `r`).
fn visible(dm: &DataModel, access: &Access, base: usize, row: &ObjRef) -> bool {
    if access.uniform().is_some_and(|g| g.instantiated_obj.contains(Rights::READ)) {
        return true;
    }
    rows_above(dm, row)
        .iter()
        .skip(base)
        .all(|r| access.allows(dm, Category::InstantiatedObj, &Target::Object(*r), Rights::READ))
}
