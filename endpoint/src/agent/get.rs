//! Get (records-and-messages.md §5).
//!
//! Each requested path is answered on its own, in a RequestedPathResult
//! with its own error code; the Get as a whole always succeeds.
//!
//! * A parameter path gives one ResolvedPathResult per matched instance:
//!   the parent object and that one parameter (R-GET.2/3).
//! * A partial path gives one ResolvedPathResult per object in the
//!   subtree, parameters named relative to it (USP 1.2+), down to
//!   `max_depth` levels: 1 = the addressed object, 2 = also its children
//!   (single objects and the rows of child tables), …; 0 = everything.
//!   **Choice** (the spec leaves it open): for a table path
//!   (`Device.IoTCapability.`) the rows are level 1.
//! * Objects with no parameter the Controller may read are left out (an
//!   object path with nothing to report gives an empty result, R-GET.1b).
//! * Codes: 7008 bad syntax or a type/operator mismatch in a search
//!   expression; 7026 not in the Supported DM, not readable, an instance
//!   number that does not exist (R-GET.0), or a command/event path. A
//!   search (or unique-key address) matching nothing is `err_code` 0 with
//!   no results (R-GET.1a; paths.md §7 #7).
//!
//! Permissions: unreadable parameters are absent (7026 when named by an
//! addressing path) or omitted (R-GET.4); rows reached through `*`, a
//! search expression, or by walking a partial path into a child table need
//! InstantiatedObj `r`.

use usp_proto::{
    ErrCode,
    usp::{
        Get, GetResp,
        get_resp::{RequestedPathResult, ResolvedPathResult},
    },
};

use super::permissions::{Access, Category, ReadView, Rights};
use super::read::{object_params, readable, rows_above, shown};
use crate::datamodel::{DataModel, Matches, ObjRef, PathKind, Target};
use crate::path::Path;

/// Answers a Get.
pub(crate) fn handle(dm: &DataModel, access: &Access, req: &Get) -> GetResp {
    let depth = usize::try_from(req.max_depth).unwrap_or(0);
    GetResp::new(req.param_paths.iter().map(|p| one_path(dm, access, p, depth)).collect())
}

fn one_path(dm: &DataModel, access: &Access, text: &str, depth: usize) -> RequestedPathResult {
    let path = match Path::parse(text) {
        Ok(p) => p,
        Err(e) => return RequestedPathResult::failure(text, e.code(), e.to_string()),
    };
    let view = ReadView { access, dm };
    let res = match dm.resolve_with(&path, &view) {
        Ok(r) => r,
        Err(e) => return RequestedPathResult::failure(text, e.code(), e.to_string()),
    };
    if res.is_missing() {
        return RequestedPathResult::failure(text, ErrCode::INVALID_PATH, "object does not exist");
    }
    let schema = dm.schema();
    let mut results = Vec::new();
    match res.matches {
        Matches::Params(params) => {
            let matched = params.len();
            for p in params {
                if !readable(dm, access, &p) {
                    continue;
                }
                let Some(value) = dm.read(&p) else { continue };
                let name = schema.param(p.param).name.to_string();
                let value = shown(dm, access, &p, &value);
                results.push(ResolvedPathResult::new(schema.obj_path(&p.obj), [(name, value)]));
            }
            if results.is_empty() && matched > 0 && res.kind != PathKind::Search {
                return RequestedPathResult::failure(
                    text,
                    ErrCode::INVALID_PATH,
                    "parameter is not readable",
                );
            }
        }
        Matches::Objects(objs) => {
            for obj in objs {
                let base = obj.inst.len();
                dm.store().walk(&obj, depth, &mut |o| visit(dm, access, base, o, &mut results));
            }
        }
        Matches::Tables(tables) => {
            for t in tables {
                let base = t.parent.len();
                dm.store().walk_table(&t, depth, &mut |o| visit(dm, access, base, o, &mut results));
            }
        }
        Matches::Commands(_) | Matches::Events(_) => {
            return RequestedPathResult::failure(
                text,
                ErrCode::INVALID_PATH,
                "Get takes parameter and object paths, not commands or events",
            );
        }
    }
    RequestedPathResult::ok(text, results)
}

/// One object of a partial path's subtree: its readable parameters, unless
/// a row on the way below the addressed level is hidden from the
/// Controller.
fn visit(dm: &DataModel, access: &Access, base: usize, obj: &ObjRef, out: &mut Vec<ResolvedPathResult>) {
    let rows_ok = access.uniform().is_some_and(|g| g.instantiated_obj.contains(Rights::READ));
    if !rows_ok && obj.inst.len() > base {
        let hidden = rows_above(dm, obj)
            .iter()
            .skip(base)
            .any(|row| !access.allows(dm, Category::InstantiatedObj, &Target::Object(*row), Rights::READ));
        if hidden {
            return;
        }
    }
    if let Some(params) = object_params(dm, access, obj) {
        if !params.is_empty() {
            out.push(ResolvedPathResult { resolved_path: dm.schema().obj_path(obj), result_params: params });
        }
    }
}
