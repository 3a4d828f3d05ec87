//! Add (records-and-messages.md §9).
//!
//! Each CreateObject names a table (`Device.LocalAgent.Subscription.`);
//! parent levels may use keys, wildcards or searches, so one `obj_path`
//! may create a row under each matched parent (several results with the
//! same `requested_path`).
//!
//! * The table must be creatable (7019) and the Controller needs Obj `w`
//!   on it (7006). Each parameter is checked like a Set's (7010, 7013,
//!   7011, 7012, 7006 without Param `w`); unique-key parameters count as
//!   required whatever the request says. A required failure refuses the
//!   object (R-ADD.3) with 7021; other failures go to the result's
//!   `param_errs` (R-ADD.4) and the row is created with defaults for them.
//!   **Choice:** a unique key refused for lack of permission follows the
//!   request's `required` flag instead — the worked example of
//!   agent-datamodel.md §7.3 (a hidden `Permission.{i}.Order` "silently
//!   not applied" when not required); the key then takes its default, and
//!   the store still refuses a duplicate (7025).
//! * The store checks unique keys (7025) and the table's limit (7017);
//!   the Agent assigns `Alias` keys nobody gave (`cpe-<n>`, R-ADD.5).
//! * The success result carries every unique key of the new row the
//!   Controller may read (R-ADD.5, R-ADD.6).
//! * `allow_partial=false`: any failure undoes the whole message
//!   (R-ADD.1, R-ADD.2a) and answers an Error with the parameter errors;
//!   `true`: failures are per-object results (R-ADD.0).
//! * 7016 when the table's parent does not exist, 7018 when the path is
//!   not a table, 7008/7026 for bad paths; a search matching no parent
//!   creates nothing and succeeds.
//!
//! Subscription rows (agent-datamodel.md §4): the Agent fills `Recipient`
//! (the requesting Controller's row — a Controller without one cannot
//! subscribe: 7002), `CreationDate`, and `ID` when omitted (`cpe-<n>`,
//! unique for the Recipient); `ReferenceList` must suit `NotifType`
//! (7012).

use usp_proto::{
    ErrCode,
    usp::{
        Add, AddResp, Error,
        add::{CreateObject, CreateParamSetting},
        add_resp::{CreatedObjectResult, ParameterError},
    },
};

use super::Agent;
use super::permissions::{Category, ReadView, Rights};
use super::read::{readable, shown};
use super::record::{Reply, Requester};
use super::subscriptions::reference;
use crate::datamodel::{DateTime, Matches, ObjRef, ParamId, TableRef, Target, Value};
use crate::path::Path;

/// Why a row was not created: the object-level code and text, and the
/// parameter errors (relative names).
struct Refused {
    code: ErrCode,
    message: String,
    params: Vec<(String, ErrCode, String)>,
}

impl Refused {
    fn new(code: ErrCode, message: impl Into<String>) -> Refused {
        Refused { code, message: message.into(), params: Vec::new() }
    }
}

impl Agent {
    pub(crate) fn add(&mut self, who: &Requester, req: &Add, now: DateTime) -> Reply {
        let all = self.dm.savepoint();
        let mut results = Vec::new();
        for obj in &req.create_objs {
            for outcome in self.add_object(who, obj, now) {
                match outcome {
                    Ok(r) => results.push(r),
                    Err((prefix, f)) if !req.allow_partial => {
                        self.dm.rollback(all);
                        let mut error = Error::new(f.code, format!("{}: {}", obj.obj_path, f.message));
                        if f.params.is_empty() {
                            error = error.param_err(&prefix, f.code, f.message);
                        }
                        for (param, code, msg) in f.params {
                            error = error.param_err(format!("{prefix}{param}"), code, msg);
                        }
                        return Reply::Error(error);
                    }
                    Err((_, f)) => {
                        results.push(CreatedObjectResult::failure(&obj.obj_path, f.code, f.message))
                    }
                }
            }
        }
        self.dm.release(all);
        Reply::Response(AddResp::new(results).into())
    }

    /// One CreateObject: a result per matched table. A failure carries the
    /// path its parameter errors are relative to.
    fn add_object(
        &mut self,
        who: &Requester,
        req: &CreateObject,
        now: DateTime,
    ) -> Vec<Result<CreatedObjectResult, (String, Refused)>> {
        let text = req.obj_path.as_str();
        let refuse = |code, msg: String| vec![Err((text.to_owned(), Refused::new(code, msg)))];
        let path = match Path::parse(text) {
            Ok(p) => p,
            Err(e) => return refuse(e.code(), e.to_string()),
        };
        let access = who.peer.access.clone();
        let res = match self.dm.resolve_with(&path, &ReadView { access: &access, dm: &self.dm }) {
            Ok(r) => r,
            Err(e) => return refuse(e.code(), e.to_string()),
        };
        if res.is_missing() {
            return refuse(ErrCode::OBJECT_DOES_NOT_EXIST, "the table's parent does not exist".to_owned());
        }
        let tables = match res.matches {
            Matches::Tables(t) => t,
            Matches::Objects(_) => {
                return refuse(ErrCode::NOT_A_TABLE, "not a multi-instance object".to_owned());
            }
            _ => return refuse(ErrCode::INVALID_PATH, "Add takes the path of a table".to_owned()),
        };
        let mut out = Vec::with_capacity(tables.len());
        for t in tables {
            match self.add_row(who, &t, &req.param_settings, now) {
                Ok((row, param_errs)) => {
                    let schema = self.dm.schema();
                    let keys = self
                        .dm
                        .store()
                        .unique_keys(&row)
                        .into_iter()
                        .map(|(pid, v)| (row.param(pid), v))
                        .filter(|(p, _)| readable(&self.dm, &access, p))
                        .map(|(p, v)| {
                            (schema.param(p.param).name.to_string(), shown(&self.dm, &access, &p, &v))
                        })
                        .collect();
                    out.push(Ok(CreatedObjectResult::success(text, schema.obj_path(&row), keys, param_errs)));
                }
                Err(f) => out.push(Err((self.dm.schema().table_path(&t), f))),
            }
        }
        out
    }

    /// Creates one row of `table`.
    fn add_row(
        &mut self,
        who: &Requester,
        table: &TableRef,
        settings: &[CreateParamSetting],
        now: DateTime,
    ) -> Result<(ObjRef, Vec<ParameterError>), Refused> {
        let access = who.peer.access.clone();
        let schema = self.dm.schema().clone();
        if !access.allows(&self.dm, Category::Obj, &Target::Table(*table), Rights::WRITE) {
            return Err(Refused::new(ErrCode::PERMISSION_DENIED, "no permission to add rows to this table"));
        }
        let tdef = schema.object(table.table).table();
        if !tdef.is_some_and(|t| t.access.can_add()) {
            return Err(Refused::new(
                ErrCode::OBJECT_NOT_CREATABLE,
                "Controllers cannot create rows of this table",
            ));
        }
        let key_params: Vec<ParamId> = tdef
            .map(|t| t.unique_keys.iter().flat_map(|k| k.params.iter().copied()).collect())
            .unwrap_or_default();
        // The row-to-be, for permission targets that name instances.
        let future = self.dm.store().next_number(table).and_then(|n| table.row(n));
        let mut values: Vec<(ParamId, Value)> = Vec::with_capacity(settings.len() + 3);
        let mut errors: Vec<(String, ErrCode, String, bool)> = Vec::new();
        for s in settings {
            let key = schema.relative_param(table.table, &s.param).is_some_and(|p| key_params.contains(&p));
            match self.dm.prepare_add(table, &s.param, &s.value) {
                Ok((pid, value)) => {
                    let allowed = future.is_none_or(|row| {
                        let holder = ObjRef::new(schema.param(pid).owner, row.inst);
                        access.allows(
                            &self.dm,
                            Category::Param,
                            &Target::Param(holder.param(pid)),
                            Rights::WRITE,
                        )
                    });
                    if allowed {
                        values.retain(|(p, _)| *p != pid);
                        values.push((pid, value));
                    } else {
                        // The §7.3 example: a hidden key follows `required`.
                        errors.push((
                            s.param.clone(),
                            ErrCode::PERMISSION_DENIED,
                            "no write permission".into(),
                            s.required,
                        ));
                    }
                }
                Err(e) => errors.push((s.param.clone(), e.code(), e.to_string(), s.required || key)),
            }
        }
        if table.table == self.ids.subscription.table {
            if let Some(msg) = self.fill_subscription(who, table, &mut values, now)? {
                let required = settings.iter().any(|s| s.param == "ReferenceList" && s.required);
                errors.push(("ReferenceList".into(), ErrCode::INVALID_VALUE, msg, required));
            }
        }
        let split = |errors: Vec<(String, ErrCode, String, bool)>| -> Vec<(String, ErrCode, String)> {
            errors.into_iter().map(|(p, c, m, _)| (p, c, m)).collect()
        };
        if errors.iter().any(|e| e.3) {
            return Err(Refused {
                code: ErrCode::REQUIRED_PARAM_FAILED,
                message: "a required parameter failed".into(),
                params: split(errors),
            });
        }
        let row = self.dm.add(table, values).map_err(|e| Refused::new(e.code(), e.to_string()))?;
        let param_errs = split(errors)
            .into_iter()
            .map(|(param, code, msg)| ParameterError { param, err_code: code.0, err_msg: msg })
            .collect();
        Ok((row, param_errs))
    }

    /// The Agent's part of a Subscription row (see the module docs);
    /// `Ok(Some(_))` tells why the `ReferenceList` given was dropped.
    fn fill_subscription(
        &self,
        who: &Requester,
        table: &TableRef,
        values: &mut Vec<(ParamId, Value)>,
        now: DateTime,
    ) -> Result<Option<String>, Refused> {
        let s = &self.ids.subscription;
        let schema = self.dm.schema();
        let Some(controller) = who.peer.row else {
            return Err(Refused::new(
                ErrCode::REQUEST_DENIED,
                "only Controllers known to the Agent (Device.LocalAgent.Controller.{i}) can subscribe",
            ));
        };
        let recipient = Value::String(schema.obj_path(&controller).trim_end_matches('.').to_owned());
        let given = |p: ParamId| values.iter().find(|(q, _)| *q == p).map(|(_, v)| v.clone());
        // ID: unique per Recipient; assign `cpe-<n>` when omitted (R-ADD.5).
        let id = match given(s.id) {
            Some(Value::String(id)) if !id.is_empty() => None,
            _ => {
                let n = self.dm.store().next_number(table).unwrap_or(1);
                let mut k = 1;
                let mut id = format!("cpe-{n}");
                let store = self.dm.store();
                while store
                    .find_by_key(table, s.recipient_id_key, &[recipient.clone(), Value::String(id.clone())])
                    .is_some()
                {
                    k += 1;
                    id = format!("cpe-{n}-{k}");
                }
                Some(Value::String(id))
            }
        };
        let kind_value = given(s.notif_type).unwrap_or_else(|| schema.param(s.notif_type).default.clone());
        let mut refused = None;
        if let (Some(kind), Some(list)) =
            (kind_value.as_str().and_then(reference::notif_type), given(s.reference_list))
        {
            if let Err(msg) = reference::parse_list(schema, kind, &list) {
                values.retain(|(p, _)| *p != s.reference_list);
                refused = Some(msg);
            }
        }
        values.retain(|(p, _)| *p != s.recipient && *p != s.creation_date);
        values.push((s.recipient, recipient));
        values.push((s.creation_date, Value::DateTime(now)));
        if let Some(id) = id {
            values.retain(|(p, _)| *p != s.id);
            values.push((s.id, id));
        }
        Ok(refused)
    }
}
