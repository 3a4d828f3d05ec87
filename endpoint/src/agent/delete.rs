//! Delete (records-and-messages.md §11).
//!
//! Every path must name rows (an instance path or a search selecting
//! instances). The Agent checks every matched row before deleting any —
//! a provider's delete cannot be undone — and then deletes.
//!
//! * R-DEL.1 (`allow_partial=false`, 1.4.1): the Delete fails with an
//!   Error, deleting nothing, if any path is not an instance path (7018),
//!   names an instance that does not exist (7016), targets a table
//!   Controllers may not delete from (7024), or a row without
//!   InstantiatedObj `w` (7006). That precedence applies before R-DEL.2a.
//! * `allow_partial=true` (R-DEL.0, R-DEL.3): each path on its own; rows
//!   that cannot be deleted are listed in `unaffected_path_errs`; a path
//!   that cannot be resolved gets `oper_failure`.
//! * R-DEL.2a: a valid path resolving to no instance is a success with
//!   empty `affected_paths` (with `allow_partial=false`, only for search
//!   paths: a missing addressed instance is R-DEL.1's 7016).
//! * `affected_paths` lists the matched rows only, not the rows nested in
//!   them that go too (the common practice the spec leaves open).
//! * Rows the Controller cannot read are not matched by `*` or searches
//!   (R-DEL.2, R-DEL.4).

use usp_proto::{
    ErrCode,
    usp::{
        Delete, DeleteResp, Error,
        delete_resp::{DeletedObjectResult, UnaffectedPathError},
    },
};

use super::Agent;
use super::permissions::{Category, ReadView, Rights};
use super::record::{Reply, Requester};
use crate::datamodel::{Matches, ObjRef, Target};
use crate::path::Path;

/// What one path asks for, once checked.
struct Plan {
    requested: String,
    /// Why the path as a whole fails.
    failure: Option<(ErrCode, String)>,
    /// Rows that may go.
    rows: Vec<ObjRef>,
    /// Rows that may not: path, code, text.
    refused: Vec<(String, ErrCode, String)>,
}

impl Agent {
    pub(crate) fn delete(&mut self, who: &Requester, req: &Delete) -> Reply {
        let plans: Vec<Plan> =
            req.obj_paths.iter().map(|p| self.plan_delete(who, p, req.allow_partial)).collect();
        if !req.allow_partial {
            let first = plans.iter().find_map(|p| {
                p.failure.clone().or_else(|| p.refused.first().map(|(_, c, m)| (*c, m.clone())))
            });
            if let Some((code, msg)) = first {
                let mut error = Error::new(code, msg);
                for p in &plans {
                    if let Some((c, m)) = &p.failure {
                        error = error.param_err(&p.requested, *c, m.clone());
                    }
                    for (path, c, m) in &p.refused {
                        error = error.param_err(path, *c, m.clone());
                    }
                }
                return Reply::Error(error);
            }
        }
        let sp = self.dm.savepoint();
        let mut results = Vec::with_capacity(plans.len());
        for plan in plans {
            if let Some((code, msg)) = plan.failure {
                results.push(DeletedObjectResult::failure(plan.requested, code, msg));
                continue;
            }
            let mut affected = Vec::with_capacity(plan.rows.len());
            let mut unaffected: Vec<UnaffectedPathError> = plan
                .refused
                .into_iter()
                .map(|(path, code, msg)| UnaffectedPathError {
                    unaffected_path: path,
                    err_code: code.0,
                    err_msg: msg,
                })
                .collect();
            for row in plan.rows {
                let path = self.dm.schema().obj_path(&row);
                if !self.dm.store().has_object(&row) {
                    // Already gone with a row deleted before it.
                    affected.push(path);
                    continue;
                }
                match self.dm.delete(&row) {
                    Ok(()) => affected.push(path),
                    Err(e) if !req.allow_partial => {
                        self.dm.rollback(sp);
                        return Reply::Error(Error::new(e.code(), e.to_string()).param_err(
                            path,
                            e.code(),
                            e.to_string(),
                        ));
                    }
                    Err(e) => unaffected.push(UnaffectedPathError {
                        unaffected_path: path,
                        err_code: e.code().0,
                        err_msg: e.to_string(),
                    }),
                }
            }
            results.push(DeletedObjectResult::success(plan.requested, affected, unaffected));
        }
        self.dm.release(sp);
        Reply::Response(DeleteResp::new(results).into())
    }

    fn plan_delete(&self, who: &Requester, text: &str, allow_partial: bool) -> Plan {
        let mut plan =
            Plan { requested: text.to_owned(), failure: None, rows: Vec::new(), refused: Vec::new() };
        let path = match Path::parse(text) {
            Ok(p) => p,
            Err(e) => {
                plan.failure = Some((e.code(), e.to_string()));
                return plan;
            }
        };
        let access = &who.peer.access;
        let res = match self.dm.resolve_with(&path, &ReadView { access, dm: &self.dm }) {
            Ok(r) => r,
            Err(e) => {
                plan.failure = Some((e.code(), e.to_string()));
                return plan;
            }
        };
        let schema = self.dm.schema();
        let missing = res.is_missing();
        let rows = match res.matches {
            Matches::Objects(objs) if objs.iter().all(|o| schema.object(o.obj).is_table()) => objs,
            _ => {
                plan.failure = Some((ErrCode::NOT_A_TABLE, "Delete takes instance paths".to_owned()));
                return plan;
            }
        };
        if rows.is_empty() && !allow_partial {
            if missing {
                plan.failure = Some((ErrCode::OBJECT_DOES_NOT_EXIST, "object does not exist".to_owned()));
                return plan;
            }
            // R-DEL.1 judges deletability by the Supported DM, rows or not.
            let table = path.supported_form().and_then(|f| schema.lookup(&f));
            if let Some(crate::datamodel::SchemaNode::Object(t)) = table {
                if schema.object(t).table().is_some_and(|t| !t.access.can_delete()) {
                    plan.failure = Some((
                        ErrCode::DELETE_FAILURE,
                        "Controllers cannot delete rows of this table".to_owned(),
                    ));
                    return plan;
                }
            }
        }
        for row in rows {
            let refusal =
                if !access.allows(&self.dm, Category::InstantiatedObj, &Target::Object(row), Rights::WRITE) {
                    Some((ErrCode::PERMISSION_DENIED, "no permission to delete this instance".to_owned()))
                } else {
                    self.dm.check_delete(&row).err().map(|e| (e.code(), e.to_string()))
                };
            match refusal {
                Some((code, msg)) => plan.refused.push((schema.obj_path(&row), code, msg)),
                None => plan.rows.push(row),
            }
        }
        plan
    }
}
