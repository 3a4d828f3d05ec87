//! Controller-facing writes: Set, Add, Delete, with the checks and error
//! codes of TR-369, and savepoints for all-or-nothing requests.
//!
//! The handlers work in two steps, which keeps `allow_partial` and
//! `required` logic in the Agent and the data rules here:
//!
//! 1. `prepare_*` turns one `param`/`value` pair of the request into a
//!    typed write, without side effects: unknown parameter → 7010, not
//!    writable → 7013, bad lexical form → 7011, refused by a facet or a
//!    dangling strong reference → 7012;
//! 2. `set` / `add` / `delete` apply a prepared batch: the store checks
//!    unique keys (7025) and limits, the provider may refuse; nothing is
//!    left half-done.

use usp_proto::ErrCode;

use super::DataModel;
use crate::datamodel::provider::{ParamError, ProviderError};
use crate::datamodel::refs::{ObjRef, ParamRef, TableRef, Target};
use crate::datamodel::schema::{ObjId, ParamAccess, ParamDef, ParamId};
use crate::datamodel::store::{Savepoint, StoreError, Undone};
use crate::datamodel::value::{RefKind, Value, ValueError};
use crate::path::Path;

/// Why a Controller's write was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DmError {
    /// The object (or the table's parent) does not exist.
    #[error("object does not exist")]
    NoSuchObject,
    /// A row operation on something that is not a table row.
    #[error("object is not a table")]
    NotATable,
    /// The table does not let Controllers create rows.
    #[error("Controllers cannot create rows of this table")]
    NotCreatable,
    /// The table does not let Controllers delete rows.
    #[error("Controllers cannot delete rows of this table")]
    NotDeletable,
    /// Deleting would leave fewer rows than the table's minimum.
    #[error("the table must keep at least {0} rows")]
    MinEntries(u32),
    /// No such parameter (in the object or its single-instance
    /// sub-objects).
    #[error("no parameter {0}")]
    UnsupportedParam(String),
    /// The parameter is read-only (or write-once and already written).
    #[error("parameter {0} is not writable")]
    NotWritable(String),
    /// The value does not fit the parameter's type or facets.
    #[error("{0}")]
    Value(#[from] ValueError),
    /// A strong reference to an object that does not exist, or a
    /// reference that is not an object path.
    #[error("{0} does not name an existing object")]
    BadReference(String),
    /// Refused by the store.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Refused by the provider.
    #[error("{0}")]
    Provider(#[from] ProviderError),
}

impl DmError {
    /// The USP error code.
    pub fn code(&self) -> ErrCode {
        match self {
            DmError::NoSuchObject => ErrCode::OBJECT_DOES_NOT_EXIST,
            DmError::NotATable => ErrCode::NOT_A_TABLE,
            DmError::NotCreatable => ErrCode::OBJECT_NOT_CREATABLE,
            DmError::NotDeletable | DmError::MinEntries(_) => ErrCode::DELETE_FAILURE,
            DmError::UnsupportedParam(_) => ErrCode::UNSUPPORTED_PARAMETER,
            DmError::NotWritable(_) => ErrCode::PARAM_READ_ONLY,
            DmError::Value(e) => e.code(),
            DmError::BadReference(_) => ErrCode::INVALID_VALUE,
            DmError::Store(e) => e.code(),
            DmError::Provider(e) => e.code,
        }
    }
}

impl DataModel {
    /// Prepares one `param_settings` entry of a Set on object instance
    /// `obj`: `rel` is the parameter's path relative to `obj` (possibly
    /// through single-instance sub-objects, `Stats.Foo`).
    pub fn prepare_set(&self, obj: &ObjRef, rel: &str, value: &str) -> Result<(ParamRef, Value), DmError> {
        let param = self.relative_param(obj, rel)?;
        let def = self.schema.param(param.param);
        if !def.access.settable() {
            return Err(DmError::NotWritable(rel.to_owned()));
        }
        if !self.store.has_object(&param.obj) {
            return Err(DmError::UnsupportedParam(rel.to_owned()));
        }
        Ok((param, self.typed_value(def, value)?))
    }

    /// Prepares one `param_settings` entry of an Add to `table`. Read-only
    /// parameters are refused; write-once ones accepted.
    pub fn prepare_add(&self, table: &TableRef, rel: &str, value: &str) -> Result<(ParamId, Value), DmError> {
        let pid = self
            .schema
            .relative_param(table.table, rel)
            .ok_or_else(|| DmError::UnsupportedParam(rel.to_owned()))?;
        let def = self.schema.param(pid);
        if !def.access.settable_on_add() {
            return Err(DmError::NotWritable(rel.to_owned()));
        }
        Ok((pid, self.typed_value(def, value)?))
    }

    fn relative_param(&self, obj: &ObjRef, rel: &str) -> Result<ParamRef, DmError> {
        let pid = self
            .schema
            .relative_param(obj.obj, rel)
            .ok_or_else(|| DmError::UnsupportedParam(rel.to_owned()))?;
        Ok(ObjRef::new(self.schema.param(pid).owner, obj.inst).param(pid))
    }

    /// Parses a value for `def`, checks its facets, and normalises path
    /// references: key-based paths are resolved to instance numbers
    /// (R-ARC.11), trailing dots dropped, strong references must name an
    /// existing object (R-ARC.12).
    fn typed_value(&self, def: &ParamDef, text: &str) -> Result<Value, DmError> {
        let value = def.ty.parse(text)?;
        let Some(reference) = def.ty.reference() else { return Ok(value) };
        let normalise = |item: &Value| -> Result<Value, DmError> {
            let Some(s) = item.as_str() else { return Ok(item.clone()) };
            if s.is_empty() {
                return Ok(item.clone());
            }
            match self.reference_target(s) {
                Some(obj) => Ok(Value::String(self.schema.obj_path(&obj).trim_end_matches('.').to_owned())),
                None if reference.kind == RefKind::Weak => Ok(item.clone()),
                None => Err(DmError::BadReference(s.to_owned())),
            }
        };
        let value = match &value {
            Value::List(items) => Value::List(items.iter().map(normalise).collect::<Result<_, _>>()?),
            scalar => normalise(scalar)?,
        };
        def.ty.check(&value)?;
        Ok(value)
    }

    /// The existing object a reference value names, accepting instance
    /// numbers or unique keys, with or without the trailing dot.
    fn reference_target(&self, s: &str) -> Option<ObjRef> {
        let with_dot = if s.ends_with('.') { s.to_owned() } else { format!("{s}.") };
        let path = Path::parse(&with_dot).ok()?;
        match self.resolve(&path).ok()?.matches.into_targets().as_slice() {
            [Target::Object(obj)] => Some(*obj),
            _ => None,
        }
    }

    /// Applies prepared writes to object instance `obj` (see
    /// [`DataModel::prepare_set`]) as one unit: either all land or none.
    /// Errors name the parameter: 7025 for a unique-key clash, or the
    /// provider's codes.
    pub fn set(&mut self, obj: &ObjRef, writes: &[(ParamRef, Value)]) -> Result<(), Vec<ParamError>> {
        let sp = self.store.savepoint();
        let mut errors = Vec::new();
        for (param, value) in writes {
            if let Err(e) = self.store.set(param, value.clone()) {
                errors.push(ParamError { param: param.param, code: e.code(), message: e.to_string() });
            }
        }
        if errors.is_empty() {
            if let Some(i) = self.provider_of(obj.obj) {
                if let Some(Err(refused)) = self.with_provider(i, |p, ctx| p.set(ctx, obj, writes)) {
                    errors = refused;
                }
            }
        }
        if errors.is_empty() {
            self.store.release(sp);
            Ok(())
        } else {
            self.store.rollback(sp);
            Err(errors)
        }
    }

    /// Adds a row to `table` for a Controller, with prepared values (see
    /// [`DataModel::prepare_add`]). Refused with 7019 when the table is not
    /// creatable by Controllers; 7025 on a unique-key clash; 7017 when full.
    ///
    /// Access is checked in `prepare_add`, not here, so the Agent may add
    /// values it fills itself (`Subscription.Recipient`, `CreationDate`,
    /// an assigned `ID`). Unique keys are checked as each write lands, not
    /// deferred to the end of the message.
    pub fn add(&mut self, table: &TableRef, values: Vec<(ParamId, Value)>) -> Result<ObjRef, DmError> {
        let tdef = self.schema.object(table.table).table().ok_or(DmError::NotATable)?;
        if !tdef.access.can_add() {
            return Err(DmError::NotCreatable);
        }
        if !self.store.exists(&Target::Table(*table)) {
            return Err(DmError::NoSuchObject);
        }
        let sp = self.store.savepoint();
        let row = match self.store.add(table, values.clone()) {
            Ok(row) => row,
            Err(e) => {
                self.store.rollback(sp);
                return Err(e.into());
            }
        };
        if let Some(i) = self.provider_of(table.table) {
            let writes: Vec<(ParamRef, Value)> = values
                .into_iter()
                .map(|(p, v)| (ObjRef::new(self.schema.param(p).owner, row.inst).param(p), v))
                .collect();
            if let Some(Err(e)) = self.with_provider(i, |p, ctx| p.add(ctx, &row, &writes)) {
                self.store.rollback(sp);
                return Err(e.into());
            }
        }
        self.store.release(sp);
        Ok(row)
    }

    /// Checks that a Controller may delete `row`, without deleting it:
    /// 7018 if not a row, 7016 if absent, 7024 if the table forbids it or
    /// is at its minimum. Lets `allow_partial=false` Deletes check every
    /// path before changing anything (R-DEL.1).
    pub fn check_delete(&self, row: &ObjRef) -> Result<(), DmError> {
        let table = self.schema.table_of(row).ok_or(DmError::NotATable)?;
        let tdef = self.schema.object(row.obj).table().ok_or(DmError::NotATable)?;
        if !self.store.has_object(row) {
            return Err(DmError::NoSuchObject);
        }
        if !tdef.access.can_delete() {
            return Err(DmError::NotDeletable);
        }
        if self.store.row_count(&table) <= tdef.min_entries as usize {
            return Err(DmError::MinEntries(tdef.min_entries));
        }
        Ok(())
    }

    /// Deletes a row for a Controller (after [`DataModel::check_delete`]'s
    /// checks); the provider may refuse.
    pub fn delete(&mut self, row: &ObjRef) -> Result<(), DmError> {
        self.check_delete(row)?;
        if let Some(i) = self.provider_of(row.obj) {
            if let Some(Err(e)) = self.with_provider(i, |p, ctx| p.delete(ctx, row)) {
                return Err(e.into());
            }
        }
        Ok(self.store.delete(row)?)
    }

    /// Opens a savepoint for a request that must be all-or-nothing (Set
    /// with R-SET.2a, `allow_partial=false`); see [`Savepoint`].
    pub fn savepoint(&mut self) -> Savepoint {
        self.store.savepoint()
    }

    /// Keeps everything done since `sp`.
    pub fn release(&mut self, sp: Savepoint) {
        self.store.release(sp);
    }

    /// Undoes everything done since `sp`. Providers are told: values they
    /// accepted are set back (their `set` is called with the restored
    /// values) and rows they accepted are deleted again. A provider's
    /// delete cannot be undone — check deletes first
    /// ([`DataModel::check_delete`]) and apply them last.
    pub fn rollback(&mut self, sp: Savepoint) {
        let undone = self.store.rollback(sp);
        let mut restored: Vec<(ObjRef, Vec<(ParamRef, Value)>)> = Vec::new();
        let mut removed: Vec<ObjRef> = Vec::new();
        for u in undone {
            match u {
                // Only Controller-writable parameters can have reached a
                // provider's `set`; read-only ones (entry counts, values
                // the Agent keeps) were the store's alone.
                Undone::Value { param, restored: value }
                    if self.provider_of(param.obj.obj).is_some()
                        && self.schema.param(param.param).access != ParamAccess::ReadOnly =>
                {
                    match restored.iter_mut().find(|(o, _)| *o == param.obj) {
                        Some((_, w)) => w.push((param, value)),
                        None => restored.push((param.obj, vec![(param, value)])),
                    }
                }
                Undone::Added(row) if self.provider_of(row.obj).is_some() => removed.push(row),
                _ => {}
            }
        }
        for (obj, writes) in restored {
            if let Some(i) = self.provider_of(obj.obj) {
                let _ = self.with_provider(i, |p, ctx| p.set(ctx, &obj, &writes));
            }
        }
        for row in removed {
            if let Some(i) = self.provider_of(row.obj) {
                let _ = self.with_provider(i, |p, ctx| p.delete(ctx, &row));
            }
        }
    }

    /// The schema object that a `Device.`-relative supported path names
    /// (convenience for models and tests).
    pub fn object_id(&self, supported_path: &str) -> Option<ObjId> {
        match self.schema.lookup(supported_path)? {
            crate::datamodel::schema::SchemaNode::Object(id) => Some(id),
            _ => None,
        }
    }
}
