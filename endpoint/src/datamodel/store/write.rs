//! Changing the store: values, rows, optional objects; savepoints that
//! undo a group of changes (R-SET.2a, Add/Set with `allow_partial=false`).

use super::{Change, Child, Node, Store, StoreError};
use crate::datamodel::refs::{ObjRef, ParamRef, TableRef};
use crate::datamodel::schema::{ObjId, ParamId, Schema};
use crate::datamodel::value::{Value, ValueError};

/// A point to roll back to. Made by [`Store::savepoint`], consumed by
/// [`Store::rollback`] or [`Store::release`]; savepoints nest.
///
/// Do not drain the change log while a savepoint is open: rolling back
/// removes the log entries made since the savepoint, and entries already
/// drained cannot be taken back.
#[derive(Debug)]
#[must_use = "a savepoint must be rolled back or released"]
pub struct Savepoint {
    undo_len: usize,
    changes_len: usize,
}

/// A change a rollback undid, so that providers can be told.
#[derive(Clone, Debug, PartialEq)]
pub enum Undone {
    /// A parameter got its old value back.
    Value {
        /// The parameter.
        param: ParamRef,
        /// The value it has again.
        restored: Value,
    },
    /// A row added since the savepoint was removed.
    Added(ObjRef),
    /// A row deleted since the savepoint is back.
    Deleted(ObjRef),
    /// An optional object created since the savepoint was removed.
    Created(ObjRef),
    /// An optional object removed since the savepoint is back.
    Removed(ObjRef),
}

/// How to undo one change.
#[derive(Debug)]
pub(crate) enum Undo {
    Value { param: ParamRef, old: Value },
    Added { row: ObjRef },
    Deleted { row: ObjRef, node: Node },
    Created { obj: ObjRef },
    Removed { obj: ObjRef, node: Box<Node> },
}

/// The key tuple of unique key `k` of table `table` for a row's values.
fn key_tuple(schema: &Schema, table: ObjId, k: usize, values: &[Value]) -> Option<Box<[Value]>> {
    let key = schema.object(table).table()?.unique_keys.get(k)?;
    key.params.iter().map(|p| values.get(usize::from(schema.param(*p).slot)).cloned()).collect()
}

fn key_tuples(schema: &Schema, table: ObjId, values: &[Value]) -> Vec<Box<[Value]>> {
    let n = schema.object(table).table().map_or(0, |t| t.unique_keys.len());
    (0..n).filter_map(|k| key_tuple(schema, table, k, values)).collect()
}

/// Every unique-key parameter of a row with its value, each once.
pub(super) fn key_values(schema: &Schema, table: ObjId, node: &Node) -> Vec<(ParamId, Value)> {
    let mut out: Vec<(ParamId, Value)> = Vec::new();
    let Some(t) = schema.object(table).table() else { return out };
    for p in t.unique_keys.iter().flat_map(|k| k.params.iter()) {
        if !out.iter().any(|(q, _)| q == p) {
            if let Some(v) = node.values.get(usize::from(schema.param(*p).slot)) {
                out.push((*p, v.clone()));
            }
        }
    }
    out
}

fn key_names(schema: &Schema, table: ObjId, k: usize) -> String {
    let Some(key) = schema.object(table).table().and_then(|t| t.unique_keys.get(k)) else {
        return String::new();
    };
    key.params.iter().map(|p| &*schema.param(*p).name).collect::<Vec<_>>().join(",")
}

fn shape_error(def: &crate::datamodel::ParamDef, v: &Value) -> StoreError {
    StoreError::Value(match (def.ty.is_list(), v.value_type()) {
        (true, Some(_)) | (false, None) => ValueError::ListMismatch,
        (_, actual) => ValueError::WrongType { expected: def.ty.base(), actual },
    })
}

impl Store {
    /// Writes a parameter. Returns whether the value changed; a change is
    /// logged ([`Change::Value`]). The value must have the parameter's
    /// type (facets are not checked here); a unique-key parameter may not
    /// take a value another row's key already has (7025).
    pub fn set(&mut self, param: &ParamRef, value: Value) -> Result<bool, StoreError> {
        let schema = self.schema.clone();
        let def = schema.param(param.param);
        if def.owner != param.obj.obj {
            return Err(StoreError::BadReference);
        }
        if !def.ty.accepts_shape(&value) {
            return Err(shape_error(def, &value));
        }
        let slot = usize::from(def.slot);
        let node = self.node(&param.obj).ok_or(StoreError::NoSuchObject)?;
        let Some(old) = node.values.get(slot) else { return Err(StoreError::BadReference) };
        if *old == value {
            return Ok(false);
        }
        let in_key = schema
            .object(param.obj.obj)
            .table()
            .is_some_and(|t| t.unique_keys.iter().any(|k| k.params.contains(&param.param)));
        if in_key {
            let mut values = node.values.to_vec();
            if let Some(v) = values.get_mut(slot) {
                *v = value.clone();
            }
            let table = schema.table_of(&param.obj).ok_or(StoreError::BadReference)?;
            let own = param.obj.inst.last();
            let t = self.table(&table).ok_or(StoreError::NoSuchObject)?;
            for (k, tuple) in key_tuples(&schema, table.table, &values).iter().enumerate() {
                if let Some(n) = t.keys.get(k).and_then(|index| index.get(tuple)) {
                    if Some(*n) != own {
                        return Err(StoreError::DuplicateKey { key: key_names(&schema, table.table, k) });
                    }
                }
            }
        }
        let old = self.replace_value(param, value.clone()).ok_or(StoreError::NoSuchObject)?;
        self.record(Undo::Value { param: *param, old: old.clone() });
        self.changes.push(Change::Value { param: *param, old, new: value });
        Ok(true)
    }

    /// Replaces a value, keeping the key indexes right; no checks, no log.
    fn replace_value(&mut self, param: &ParamRef, value: Value) -> Option<Value> {
        let slot = usize::from(self.schema.param(param.param).slot);
        let mut old = None;
        self.reindex(&param.obj, |node| {
            if let Some(v) = node.values.get_mut(slot) {
                old = Some(std::mem::replace(v, value));
            }
        });
        old
    }

    /// Applies `f` to an instance's node; if the instance is a table row,
    /// its key-index entries are removed before and re-added after.
    fn reindex(&mut self, obj: &ObjRef, f: impl FnOnce(&mut Node)) {
        let schema = self.schema.clone();
        let Some(table) = schema.table_of(obj) else {
            if let Some(node) = self.node_mut(obj) {
                f(node);
            }
            return;
        };
        let Some(n) = obj.inst.last() else { return };
        let Some(t) = self.table_mut(&table) else { return };
        let Some(node) = t.rows.get_mut(&n) else { return };
        for (k, tuple) in key_tuples(&schema, table.table, &node.values).iter().enumerate() {
            if let Some(index) = t.keys.get_mut(k) {
                index.remove(tuple);
            }
        }
        f(node);
        let tuples = key_tuples(&schema, table.table, &node.values);
        for (k, tuple) in tuples.into_iter().enumerate() {
            if let Some(index) = t.keys.get_mut(k) {
                index.insert(tuple, n);
            }
        }
    }

    /// Adds a row with the next instance number. `values` may set
    /// parameters of the row and of its single-instance sub-objects (an
    /// optional sub-object named this way is created); the rest take their
    /// defaults. An empty `Alias` key gets `cpe-<number>` (R-ADD.5).
    /// Logs [`Change::Created`] and the new `NumberOfEntries`.
    pub fn add(&mut self, table: &TableRef, values: Vec<(ParamId, Value)>) -> Result<ObjRef, StoreError> {
        let n = self.table(table).ok_or(StoreError::NoSuchObject)?.next;
        self.insert_row(table, n, values)
    }

    /// Adds a row with a chosen instance number (restoring persisted
    /// rows). The number must be free; later rows are numbered above it.
    pub fn add_numbered(
        &mut self,
        table: &TableRef,
        number: u32,
        values: Vec<(ParamId, Value)>,
    ) -> Result<ObjRef, StoreError> {
        if number == 0 {
            return Err(StoreError::NumberUnavailable);
        }
        self.insert_row(table, number, values)
    }

    fn insert_row(
        &mut self,
        table: &TableRef,
        n: u32,
        values: Vec<(ParamId, Value)>,
    ) -> Result<ObjRef, StoreError> {
        let schema = self.schema.clone();
        let tdef = schema.object(table.table).table().ok_or(StoreError::BadReference)?;
        let t = self.table(table).ok_or(StoreError::NoSuchObject)?;
        if t.rows.contains_key(&n) {
            return Err(StoreError::NumberUnavailable);
        }
        if tdef.max_entries.is_some_and(|max| t.rows.len() >= max as usize) {
            return Err(StoreError::TableFull);
        }
        let row = table.row(n).ok_or(StoreError::BadReference)?;
        let mut node = Node::new(&schema, table.table);
        for (pid, v) in values {
            let def = schema.param(pid);
            if !def.ty.accepts_shape(&v) {
                return Err(shape_error(def, &v));
            }
            let holder = descend_creating(&schema, &mut node, table.table, def.owner)
                .ok_or(StoreError::BadReference)?;
            if let Some(slot) = holder.values.get_mut(usize::from(def.slot)) {
                *slot = v;
            }
        }
        // R-ADD.5: the Agent assigns Alias keys nobody supplied.
        for key in &tdef.unique_keys {
            for &pid in &key.params {
                let def = schema.param(pid);
                let slot = usize::from(def.slot);
                if &*def.name != "Alias" || node.values.get(slot) != Some(&Value::String(String::new())) {
                    continue;
                }
                // Through the Alias key's index when Alias is a key on its
                // own (it always is in TR-181); else by looking at the rows.
                let alias_key = tdef.unique_keys.iter().position(|k| k.params == [pid]);
                let taken = |alias: &str| match alias_key.and_then(|k| t.keys.get(k)) {
                    Some(index) => index.contains_key([Value::String(alias.to_owned())].as_slice()),
                    None => {
                        t.rows.iter().any(|(_, r)| r.values.get(slot).and_then(Value::as_str) == Some(alias))
                    }
                };
                let mut alias = format!("cpe-{n}");
                let mut k = 2;
                while taken(&alias) {
                    alias = format!("cpe-{n}-{k}");
                    k += 1;
                }
                if let Some(v) = node.values.get_mut(slot) {
                    *v = Value::String(alias);
                }
            }
        }
        let tuples = key_tuples(&schema, table.table, &node.values);
        for (k, tuple) in tuples.iter().enumerate() {
            if t.keys.get(k).is_some_and(|index| index.contains_key(tuple)) {
                return Err(StoreError::DuplicateKey { key: key_names(&schema, table.table, k) });
            }
        }
        let keys = key_values(&schema, table.table, &node);
        let t = self.table_mut(table).ok_or(StoreError::NoSuchObject)?;
        for (k, tuple) in tuples.into_iter().enumerate() {
            if let Some(index) = t.keys.get_mut(k) {
                index.insert(tuple, n);
            }
        }
        t.rows.insert(n, node);
        // Numbers only grow; at u32::MAX the table is exhausted (the next
        // add finds the number taken).
        t.next = t.next.max(n.saturating_add(1));
        self.record(Undo::Added { row });
        self.changes.push(Change::Created { row, keys });
        self.update_count(table);
        Ok(row)
    }

    /// Deletes a table row and everything below it. Logs
    /// [`Change::Deleted`] for nested rows (innermost first) and the row,
    /// the new `NumberOfEntries`, and the emptying of strong references to
    /// any deleted row (R-ARC.12).
    pub fn delete(&mut self, row: &ObjRef) -> Result<(), StoreError> {
        let schema = self.schema.clone();
        let table = schema.table_of(row).ok_or(StoreError::BadReference)?;
        let n = row.inst.last().ok_or(StoreError::BadReference)?;
        let node = self.node(row).ok_or(StoreError::NoSuchObject)?;
        let mut deleted = Vec::new();
        collect_rows(&schema, row, node, &mut deleted);
        let t = self.table_mut(&table).ok_or(StoreError::NoSuchObject)?;
        let node = t.rows.remove(&n).ok_or(StoreError::NoSuchObject)?;
        for (k, tuple) in key_tuples(&schema, table.table, &node.values).iter().enumerate() {
            if let Some(index) = t.keys.get_mut(k) {
                index.remove(tuple);
            }
        }
        self.record(Undo::Deleted { row: *row, node });
        for (r, keys) in &deleted {
            self.changes.push(Change::Deleted { row: *r, keys: keys.clone() });
        }
        self.update_count(&table);
        for (r, _) in &deleted {
            self.clear_strong_refs(r);
        }
        Ok(())
    }

    /// Creates an optional single-instance object with default values.
    /// Returns false if it already existed.
    pub fn create(&mut self, obj: &ObjRef) -> Result<bool, StoreError> {
        let schema = self.schema.clone();
        if !schema.object(obj.obj).is_optional() {
            return Err(StoreError::NotOptional);
        }
        let slot = self.single_slot(obj).ok_or(StoreError::NoSuchObject)?;
        if slot.is_some() {
            return Ok(false);
        }
        *slot = Some(Box::new(Node::new(&schema, obj.obj)));
        self.record(Undo::Created { obj: *obj });
        Ok(true)
    }

    /// Removes an optional single-instance object. Returns false if it was
    /// absent.
    pub fn remove(&mut self, obj: &ObjRef) -> Result<bool, StoreError> {
        if !self.schema.object(obj.obj).is_optional() {
            return Err(StoreError::NotOptional);
        }
        let slot = self.single_slot(obj).ok_or(StoreError::NoSuchObject)?;
        let Some(node) = slot.take() else { return Ok(false) };
        self.record(Undo::Removed { obj: *obj, node });
        Ok(true)
    }

    fn single_slot(&mut self, obj: &ObjRef) -> Option<&mut Option<Box<Node>>> {
        let parent = self.schema.parent_of(obj)?;
        let slot = self.schema.object(obj.obj).slot();
        match self.node_mut(&parent)?.children.get_mut(slot)? {
            Child::Single(s) => Some(s),
            Child::Table(_) => None,
        }
    }

    fn update_count(&mut self, table: &TableRef) {
        let Some(count) = self.schema.object(table.table).table().and_then(|t| t.count_param) else { return };
        let Some(parent) = self.schema.object(table.table).parent() else { return };
        let rows = self.row_count(table);
        let param = ObjRef::new(parent, table.parent).param(count);
        let _ = self.set(&param, Value::UnsignedInt(u32::try_from(rows).unwrap_or(u32::MAX)));
    }

    /// R-ARC.12: strong references to a deleted row become empty, or lose
    /// that item when list-valued.
    fn clear_strong_refs(&mut self, row: &ObjRef) {
        let schema = self.schema.clone();
        let refs = schema.strong_refs_to(row.obj);
        if refs.is_empty() {
            return;
        }
        let path = schema.obj_path(row);
        let bare = path.trim_end_matches('.');
        let same = |v: &Value| v.as_str().is_some_and(|s| s.trim_end_matches('.') == bare);
        for &pid in refs {
            for holder in self.instances_of(schema.param(pid).owner) {
                let param = holder.param(pid);
                let new = match self.get(&param) {
                    Some(Value::List(items)) if items.iter().any(same) => {
                        Value::List(items.iter().filter(|i| !same(i)).cloned().collect())
                    }
                    Some(v) if same(v) => Value::String(String::new()),
                    _ => continue,
                };
                let _ = self.set(&param, new);
            }
        }
    }

    /// Opens a savepoint: from now on changes are recorded so that
    /// [`Store::rollback`] can undo them.
    pub fn savepoint(&mut self) -> Savepoint {
        self.open_savepoints += 1;
        Savepoint { undo_len: self.undo.len(), changes_len: self.changes.len() }
    }

    /// Undoes every change made since `sp` (values, rows, key indexes,
    /// optional objects) and drops their change-log entries. Instance
    /// numbers handed out meanwhile stay used. Returns what was undone,
    /// latest first.
    pub fn rollback(&mut self, sp: Savepoint) -> Vec<Undone> {
        let mut undone = Vec::with_capacity(self.undo.len().saturating_sub(sp.undo_len));
        while self.undo.len() > sp.undo_len {
            let Some(undo) = self.undo.pop() else { break };
            undone.extend(self.apply_undo(undo));
        }
        self.changes.truncate(sp.changes_len);
        self.close_savepoint();
        undone
    }

    /// Keeps the changes made since `sp`.
    pub fn release(&mut self, sp: Savepoint) {
        let _ = sp;
        self.close_savepoint();
    }

    fn close_savepoint(&mut self) {
        self.open_savepoints = self.open_savepoints.saturating_sub(1);
        if self.open_savepoints == 0 {
            self.undo.clear();
        }
    }

    fn record(&mut self, undo: Undo) {
        if self.open_savepoints > 0 {
            self.undo.push(undo);
        }
    }

    fn apply_undo(&mut self, undo: Undo) -> Option<Undone> {
        let schema = self.schema.clone();
        match undo {
            Undo::Value { param, old } => {
                self.replace_value(&param, old.clone())?;
                Some(Undone::Value { param, restored: old })
            }
            Undo::Added { row } => {
                let table = schema.table_of(&row)?;
                let t = self.table_mut(&table)?;
                let node = t.rows.remove(&row.inst.last()?)?;
                for (k, tuple) in key_tuples(&schema, table.table, &node.values).iter().enumerate() {
                    if let Some(index) = t.keys.get_mut(k) {
                        index.remove(tuple);
                    }
                }
                Some(Undone::Added(row))
            }
            Undo::Deleted { row, node } => {
                let table = schema.table_of(&row)?;
                let n = row.inst.last()?;
                let t = self.table_mut(&table)?;
                for (k, tuple) in key_tuples(&schema, table.table, &node.values).into_iter().enumerate() {
                    if let Some(index) = t.keys.get_mut(k) {
                        index.insert(tuple, n);
                    }
                }
                t.rows.insert(n, node);
                Some(Undone::Deleted(row))
            }
            Undo::Created { obj } => {
                *self.single_slot(&obj)? = None;
                Some(Undone::Created(obj))
            }
            Undo::Removed { obj, node } => {
                *self.single_slot(&obj)? = Some(node);
                Some(Undone::Removed(obj))
            }
        }
    }
}

/// The node of `target` inside a fresh row node of `row_obj`, creating
/// optional single objects on the way; `None` if `target` is not the row
/// object or a single-instance object below it (without crossing a table).
fn descend_creating<'a>(
    schema: &Schema,
    node: &'a mut Node,
    row_obj: ObjId,
    target: ObjId,
) -> Option<&'a mut Node> {
    let ancestry = schema.object(target).ancestry();
    let start = ancestry.iter().position(|a| *a == row_obj)?;
    let mut node = node;
    for &id in ancestry.get(start + 1..)? {
        let def = schema.object(id);
        if def.is_table() {
            return None;
        }
        node = match node.children.get_mut(def.slot())? {
            Child::Single(slot) => slot.get_or_insert_with(|| Box::new(Node::new(schema, id))),
            Child::Table(_) => return None,
        };
    }
    Some(node)
}

/// The rows of the subtree of `row` (nested ones first, innermost first),
/// each with its key values.
fn collect_rows(schema: &Schema, at: &ObjRef, node: &Node, out: &mut Vec<(ObjRef, Vec<(ParamId, Value)>)>) {
    for (&child, slot) in schema.object(at.obj).children().iter().zip(node.children.iter()) {
        match slot {
            Child::Single(Some(n)) => collect_rows(schema, &ObjRef::new(child, at.inst), n, out),
            Child::Single(None) => {}
            Child::Table(t) => {
                for (num, row) in &t.rows {
                    if let Some(inst) = at.inst.push(*num) {
                        collect_rows(schema, &ObjRef::new(child, inst), row, out);
                    }
                }
            }
        }
    }
    if schema.object(at.obj).is_table() {
        out.push((*at, key_values(schema, at.obj, node)));
    }
}
