//! Set (records-and-messages.md §10).
//!
//! For each UpdateObject the `obj_path` is resolved (an object, instance or
//! search path) and every matched object updated:
//!
//! * each `param_settings` entry is checked — 7010 unknown parameter, 7013
//!   not writable, 7011/7012 bad value, 7006 no Param `w` — then the good
//!   ones are written together; a provider's refusal or a unique-key clash
//!   (7025) fails the parameters it names, and the rest are written again
//!   without them;
//! * a `required` parameter that fails fails the object (R-SET.2), with
//!   7021 and every parameter error; other failures are reported in the
//!   object's `param_errs` (the allow_partial × required matrix, §9);
//! * R-SET.2a: when the path matched several objects and one fails, what
//!   was done for the others is undone, whatever `allow_partial` says; the
//!   result names each object that failed;
//! * `allow_partial=false`: any object failing undoes the whole message
//!   and the answer is an Error carrying every parameter error (full
//!   paths). With `true` the object gets `oper_failure`, the rest stand.
//! * `updated_params` holds the values after the update, of the
//!   parameters the Controller may read (R-SET.3).
//! * 7016 for an addressed object that does not exist, 7008/7026 for bad
//!   paths; a search matching nothing succeeds with no results.
//!
//! Subscription rows have rules of their own (agent-datamodel.md §4):
//! `ReferenceList` cannot change once non-empty (7013), and must suit the
//! `NotifType` (7012).

use std::collections::BTreeMap;

use usp_proto::{
    ErrCode,
    usp::{
        Error, Set, SetResp,
        set::{UpdateObject, UpdateParamSetting},
        set_resp::{ParameterError, UpdatedInstanceFailure, UpdatedInstanceResult, UpdatedObjectResult},
    },
};

use super::Agent;
use super::permissions::{Category, ReadView, Rights};
use super::read::{readable, shown};
use super::record::{Reply, Requester};
use super::subscriptions::reference;
use crate::datamodel::{Matches, ObjRef, ParamRef, Target, Value};
use crate::path::Path;

/// A failed object: its code and text, the failing instances, and the
/// parameter errors with full paths (for an Error message).
struct ObjectFailure {
    code: ErrCode,
    message: String,
    instances: Vec<UpdatedInstanceFailure>,
    full: Vec<(String, ErrCode, String)>,
}

impl ObjectFailure {
    fn path(code: ErrCode, message: impl Into<String>, path: &str) -> ObjectFailure {
        let message = message.into();
        ObjectFailure {
            code,
            full: vec![(path.to_owned(), code, message.clone())],
            message,
            instances: Vec::new(),
        }
    }
}

/// One parameter's failure.
struct ParamFailure {
    param: String,
    code: ErrCode,
    message: String,
    required: bool,
}

impl Agent {
    pub(crate) fn set(&mut self, who: &Requester, req: &Set) -> Reply {
        let all = self.dm.savepoint();
        let mut results = Vec::with_capacity(req.update_objs.len());
        for obj in &req.update_objs {
            match self.set_object(who, obj) {
                Ok(instances) => results.push(UpdatedObjectResult::success(&obj.obj_path, instances)),
                Err(f) if !req.allow_partial => {
                    self.dm.rollback(all);
                    let mut error = Error::new(f.code, format!("{}: {}", obj.obj_path, f.message));
                    for (path, code, msg) in f.full {
                        error = error.param_err(path, code, msg);
                    }
                    return Reply::Error(error);
                }
                Err(f) => {
                    results.push(UpdatedObjectResult::failure(&obj.obj_path, f.code, f.message, f.instances))
                }
            }
        }
        self.dm.release(all);
        Reply::Response(SetResp::new(results).into())
    }

    fn set_object(
        &mut self,
        who: &Requester,
        req: &UpdateObject,
    ) -> Result<Vec<UpdatedInstanceResult>, ObjectFailure> {
        let text = req.obj_path.as_str();
        let path = Path::parse(text).map_err(|e| ObjectFailure::path(e.code(), e.to_string(), text))?;
        let access = who.peer.access.clone();
        let res = self
            .dm
            .resolve_with(&path, &ReadView { access: &access, dm: &self.dm })
            .map_err(|e| ObjectFailure::path(e.code(), e.to_string(), text))?;
        if res.is_missing() {
            return Err(ObjectFailure::path(ErrCode::OBJECT_DOES_NOT_EXIST, "object does not exist", text));
        }
        let objs = match res.matches {
            Matches::Objects(objs) => objs,
            _ => return Err(ObjectFailure::path(ErrCode::INVALID_PATH, "Set takes object paths", text)),
        };
        // R-SET.2a: the objects of one obj_path stand or fall together.
        let sp = self.dm.savepoint();
        let mut done = Vec::with_capacity(objs.len());
        let mut failed = Vec::new();
        let mut full = Vec::new();
        for obj in &objs {
            match self.set_instance(who, obj, &req.param_settings) {
                Ok(r) => done.push(r),
                Err(errs) => {
                    let obj_path = self.dm.schema().obj_path(obj);
                    full.extend(
                        errs.iter().map(|e| (format!("{obj_path}{}", e.param), e.code, e.message.clone())),
                    );
                    failed.push(UpdatedInstanceFailure {
                        affected_path: obj_path,
                        param_errs: errs
                            .into_iter()
                            .map(|e| ParameterError {
                                param: e.param,
                                err_code: e.code.0,
                                err_msg: e.message,
                            })
                            .collect(),
                    });
                }
            }
        }
        if failed.is_empty() {
            self.dm.release(sp);
            return Ok(done);
        }
        self.dm.rollback(sp);
        let message = if objs.len() > 1 {
            format!("{} of {} objects failed; none was updated", failed.len(), objs.len())
        } else {
            "a required parameter failed".to_owned()
        };
        Err(ObjectFailure { code: ErrCode::REQUIRED_PARAM_FAILED, message, instances: failed, full })
    }

    /// Updates one object. `Err` holds every parameter error when a
    /// required one failed (nothing was written then).
    fn set_instance(
        &mut self,
        who: &Requester,
        obj: &ObjRef,
        settings: &[UpdateParamSetting],
    ) -> Result<UpdatedInstanceResult, Vec<ParamFailure>> {
        let access = who.peer.access.clone();
        let mut errors: Vec<ParamFailure> = Vec::new();
        let mut writes: Vec<(ParamRef, Value, &str, bool)> = Vec::with_capacity(settings.len());
        for s in settings {
            let fail = |code: ErrCode, message: String| ParamFailure {
                param: s.param.clone(),
                code,
                message,
                required: s.required,
            };
            match self.dm.prepare_set(obj, &s.param, &s.value) {
                Ok((param, _))
                    if !access.allows(&self.dm, Category::Param, &Target::Param(param), Rights::WRITE) =>
                {
                    errors.push(fail(ErrCode::PERMISSION_DENIED, "no write permission".to_owned()));
                }
                Ok((param, value)) => writes.push((param, value, &s.param, s.required)),
                Err(e) => errors.push(fail(e.code(), e.to_string())),
            }
        }
        if obj.obj == self.ids.subscription.table {
            self.check_subscription_set(obj, &mut writes, &mut errors);
        }
        if errors.iter().any(|e| e.required) {
            return Err(errors);
        }
        // Write what passed; drop what the store or provider refuses and
        // write the rest again (a batch is all-or-nothing).
        while !writes.is_empty() {
            let batch: Vec<(ParamRef, Value)> = writes.iter().map(|(p, v, _, _)| (*p, v.clone())).collect();
            let Err(refused) = self.dm.set(obj, &batch) else { break };
            let before = writes.len();
            writes.retain(|(p, _, rel, required)| match refused.iter().find(|r| r.param == p.param) {
                Some(r) => {
                    errors.push(ParamFailure {
                        param: (*rel).to_owned(),
                        code: r.code,
                        message: r.message.clone(),
                        required: *required,
                    });
                    false
                }
                None => true,
            });
            if writes.len() == before {
                // A refusal naming none of our parameters fails them all.
                for (_, _, rel, required) in writes.drain(..) {
                    errors.push(ParamFailure {
                        param: rel.to_owned(),
                        code: ErrCode::SET_FAILURE,
                        message: "the object could not be updated".to_owned(),
                        required,
                    });
                }
            }
            if errors.iter().any(|e| e.required) {
                return Err(errors);
            }
        }
        let mut updated = BTreeMap::new();
        for (param, _, rel, _) in &writes {
            if readable(&self.dm, &access, param) {
                if let Some(v) = self.dm.read(param) {
                    updated.insert((*rel).to_owned(), shown(&self.dm, &access, param, &v));
                }
            }
        }
        Ok(UpdatedInstanceResult {
            affected_path: self.dm.schema().obj_path(obj),
            param_errs: errors
                .into_iter()
                .map(|e| ParameterError { param: e.param, err_code: e.code.0, err_msg: e.message })
                .collect(),
            updated_params: updated,
        })
    }

    /// Subscription rows: `ReferenceList` is immutable once non-empty
    /// (7013) and must suit the `NotifType` in force after the Set (7012).
    fn check_subscription_set(
        &self,
        obj: &ObjRef,
        writes: &mut Vec<(ParamRef, Value, &str, bool)>,
        errors: &mut Vec<ParamFailure>,
    ) {
        let s = &self.ids.subscription;
        let store = self.dm.store();
        let current = |p| store.get(&obj.param(p)).cloned();
        let new_kind = writes.iter().find(|w| w.0.param == s.notif_type).map(|w| w.1.clone());
        let kind_text = new_kind.or_else(|| current(s.notif_type));
        let kind = kind_text.as_ref().and_then(Value::as_str).and_then(reference::notif_type);
        let old_list = current(s.reference_list);
        let old_is_set = old_list.as_ref().and_then(Value::as_list).is_some_and(|l| !l.is_empty());
        let mut refuse =
            |i: usize, code: ErrCode, message: String, writes: &mut Vec<(ParamRef, Value, &str, bool)>| {
                let (_, _, rel, required) = writes.remove(i);
                errors.push(ParamFailure { param: rel.to_owned(), code, message, required });
            };
        if let Some(i) = writes.iter().position(|w| w.0.param == s.reference_list) {
            if old_is_set && old_list.as_ref() != writes.get(i).map(|w| &w.1) {
                let msg = "ReferenceList cannot change once set; delete the subscription and add a new one";
                refuse(i, ErrCode::PARAM_READ_ONLY, msg.to_owned(), writes);
                return;
            }
        }
        let list_write = writes.iter().position(|w| w.0.param == s.reference_list);
        let list = match list_write.and_then(|i| writes.get(i)) {
            Some(w) => Some(w.1.clone()),
            None => old_list,
        };
        if let (Some(kind), Some(list)) = (kind, list) {
            if let Err(msg) = reference::parse_list(self.dm.schema(), kind, &list) {
                let culprit = list_write.or_else(|| writes.iter().position(|w| w.0.param == s.notif_type));
                if let Some(i) = culprit {
                    refuse(i, ErrCode::INVALID_VALUE, msg, writes);
                }
            }
        }
    }
}
