//! The in-memory instance store: table rows with stable instance numbers,
//! parameter values, unique-key indexes, and the change log.
//!
//! The store is the raw layer: it enforces what keeps the data consistent
//! (value shapes, unique keys, instance numbers never reused, entry
//! counts, strong references emptied when their target goes) and logs
//! every change, but it does not check Controller-facing rules (access,
//! facets, creatable tables) — that is [`DataModel`](crate::datamodel::DataModel)'s job.
//! The Agent writes its own tables (Request rows, Subscription
//! `Recipient`) here directly.
//!
//! Reads are a walk down the tree by child slot and instance number: a
//! parameter read is a slot access per object and a binary search over
//! the row numbers per table, no hashing, no allocation.

mod change;
mod node;
mod write;

use std::sync::Arc;

use usp_proto::ErrCode;

pub use change::Change;
pub(crate) use node::{Child, Node, Table};
pub use write::{Savepoint, Undone};

use super::refs::{ObjRef, ParamRef, TableRef, Target};
use super::schema::{ObjId, ParamId, Schema};
use super::value::{Value, ValueError};

/// Why the store refused a change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The object instance (or the table's parent) does not exist.
    #[error("object does not exist")]
    NoSuchObject,
    /// The reference does not fit the schema (a parameter of another
    /// object, a table given where a row is needed, wrong instance count).
    #[error("reference does not fit the schema")]
    BadReference,
    /// The value's type is not the parameter's.
    #[error("{0}")]
    Value(#[from] ValueError),
    /// Another row already has these unique-key values.
    #[error("another row has the same value for unique key {key}")]
    DuplicateKey {
        /// Names of the key's parameters, comma-separated.
        key: String,
    },
    /// The table already has `max_entries` rows.
    #[error("table is full")]
    TableFull,
    /// The instance number asked for is taken, or numbers ran out.
    #[error("instance number unavailable")]
    NumberUnavailable,
    /// `create`/`remove` on an object that is not optional.
    #[error("object is not optional")]
    NotOptional,
}

impl StoreError {
    /// The USP error code: 7016, 7011/7012, 7025, 7017, or 7003 for
    /// references that do not fit the schema (a caller's bug).
    pub fn code(&self) -> ErrCode {
        match self {
            StoreError::NoSuchObject => ErrCode::OBJECT_DOES_NOT_EXIST,
            StoreError::BadReference | StoreError::NotOptional => ErrCode::INTERNAL_ERROR,
            StoreError::Value(e) => e.code(),
            StoreError::DuplicateKey { .. } => ErrCode::OBJECT_EXISTS_WITH_DUPLICATE_KEY,
            StoreError::TableFull | StoreError::NumberUnavailable => ErrCode::CREATION_FAILURE,
        }
    }
}

/// The instance store of one schema.
#[derive(Debug)]
pub struct Store {
    schema: Arc<Schema>,
    root: Node,
    changes: Vec<Change>,
    undo: Vec<write::Undo>,
    open_savepoints: u32,
}

impl Store {
    /// An empty store: `Device.` and its non-optional single objects with
    /// default values, every table empty.
    pub fn new(schema: Arc<Schema>) -> Store {
        let root = Node::new(&schema, schema.root());
        Store { schema, root, changes: Vec::new(), undo: Vec::new(), open_savepoints: 0 }
    }

    /// The schema.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    pub(crate) fn node(&self, obj: &ObjRef) -> Option<&Node> {
        let def = self.schema.object(obj.obj);
        if obj.inst.len() != def.table_depth() {
            return None;
        }
        let mut nums = obj.inst.as_slice().iter();
        let mut node = &self.root;
        for &id in def.ancestry().get(1..)? {
            node = match node.children.get(self.schema.object(id).slot())? {
                Child::Single(Some(n)) => n,
                Child::Single(None) => return None,
                Child::Table(t) => t.rows.get(nums.next()?)?,
            };
        }
        Some(node)
    }

    pub(crate) fn node_mut(&mut self, obj: &ObjRef) -> Option<&mut Node> {
        let schema = &*self.schema;
        let def = schema.object(obj.obj);
        if obj.inst.len() != def.table_depth() {
            return None;
        }
        let mut nums = obj.inst.as_slice().iter();
        let mut node = &mut self.root;
        for &id in def.ancestry().get(1..)? {
            node = match node.children.get_mut(schema.object(id).slot())? {
                Child::Single(Some(n)) => n,
                Child::Single(None) => return None,
                Child::Table(t) => t.rows.get_mut(nums.next()?)?,
            };
        }
        Some(node)
    }

    /// The parent instance of a table.
    fn table_parent(&self, table: &TableRef) -> Option<ObjRef> {
        let parent = self.schema.object(table.table).parent()?;
        Some(ObjRef::new(parent, table.parent))
    }

    pub(crate) fn table(&self, table: &TableRef) -> Option<&Table> {
        let slot = self.schema.object(table.table).slot();
        match self.node(&self.table_parent(table)?)?.children.get(slot)? {
            Child::Table(t) => Some(t),
            Child::Single(_) => None,
        }
    }

    pub(crate) fn table_mut(&mut self, table: &TableRef) -> Option<&mut Table> {
        let slot = self.schema.object(table.table).slot();
        let parent = self.table_parent(table)?;
        match self.node_mut(&parent)?.children.get_mut(slot)? {
            Child::Table(t) => Some(t),
            Child::Single(_) => None,
        }
    }

    /// Whether the object instance exists (for a table: whether its parent
    /// does).
    pub fn exists(&self, target: &Target) -> bool {
        match target {
            Target::Object(o) => self.node(o).is_some(),
            Target::Table(t) => self.table(t).is_some(),
            Target::Param(p) => self.get(p).is_some(),
            Target::Command(c) => self.node(&c.obj).is_some(),
            Target::Event(e) => self.node(&e.obj).is_some(),
        }
    }

    /// Whether the object instance exists.
    pub fn has_object(&self, obj: &ObjRef) -> bool {
        self.node(obj).is_some()
    }

    /// A parameter's value; `None` if the object does not exist or the
    /// parameter is not one of its parameters.
    pub fn get(&self, param: &ParamRef) -> Option<&Value> {
        let def = self.schema.param(param.param);
        if def.owner != param.obj.obj {
            return None;
        }
        self.node(&param.obj)?.values.get(usize::from(def.slot))
    }

    /// The parameters of an object instance with their values, in schema
    /// order.
    pub fn params(&self, obj: &ObjRef) -> Option<impl Iterator<Item = (ParamId, &Value)>> {
        let node = self.node(obj)?;
        Some(self.schema.object(obj.obj).params().iter().copied().zip(node.values.iter()))
    }

    /// The rows of a table, in instance-number order (none if the table's
    /// parent does not exist).
    pub fn rows(&self, table: &TableRef) -> impl Iterator<Item = ObjRef> + '_ {
        let table = *table;
        self.table(&table).into_iter().flat_map(move |t| t.rows.keys().filter_map(move |n| table.row(*n)))
    }

    /// Number of rows of a table.
    pub fn row_count(&self, table: &TableRef) -> usize {
        self.table(table).map_or(0, |t| t.rows.len())
    }

    /// The number the next row of the table will get.
    pub fn next_number(&self, table: &TableRef) -> Option<u32> {
        self.table(table).map(|t| t.next)
    }

    /// The row whose unique key number `key` (index into
    /// `TableDef::unique_keys`) has `values` (in the key's parameter
    /// order): an index lookup.
    pub fn find_by_key(&self, table: &TableRef, key: usize, values: &[Value]) -> Option<ObjRef> {
        let n = self.table(table)?.keys.get(key)?.get(values)?;
        table.row(*n)
    }

    /// Every unique-key parameter of a row with its value (each parameter
    /// once, in key order), for `unique_keys` maps.
    pub fn unique_keys(&self, row: &ObjRef) -> Vec<(ParamId, Value)> {
        let Some(node) = self.node(row) else { return Vec::new() };
        write::key_values(&self.schema, row.obj, node)
    }

    /// Visits `obj` and the object instances below it, parents first, in
    /// schema and instance-number order. `max_depth` counts levels: 1 =
    /// `obj` only, 2 = also its child objects and the rows of its child
    /// tables, …; 0 = unlimited (the rows of a table count as one level
    /// below the table's parent, the table itself is not a level).
    pub fn walk(&self, obj: &ObjRef, max_depth: usize, f: &mut dyn FnMut(&ObjRef)) {
        if let Some(node) = self.node(obj) {
            self.walk_node(obj, node, max_depth, f);
        }
    }

    /// Visits the rows of `table` and what is below them (see
    /// [`Store::walk`]; the rows are level 1).
    pub fn walk_table(&self, table: &TableRef, max_depth: usize, f: &mut dyn FnMut(&ObjRef)) {
        let Some(t) = self.table(table) else { return };
        for (n, row) in &t.rows {
            if let Some(r) = table.row(*n) {
                self.walk_node(&r, row, max_depth, f);
            }
        }
    }

    fn walk_node(&self, obj: &ObjRef, node: &Node, depth: usize, f: &mut dyn FnMut(&ObjRef)) {
        f(obj);
        if depth == 1 {
            return;
        }
        let next = depth.saturating_sub(1);
        for (&child, slot) in self.schema.object(obj.obj).children().iter().zip(node.children.iter()) {
            match slot {
                Child::Single(Some(n)) => self.walk_node(&ObjRef::new(child, obj.inst), n, next, f),
                Child::Single(None) => {}
                Child::Table(t) => {
                    for (num, row) in &t.rows {
                        if let Some(inst) = obj.inst.push(*num) {
                            self.walk_node(&ObjRef::new(child, inst), row, next, f);
                        }
                    }
                }
            }
        }
    }

    /// Every existing instance of schema object `obj`, anywhere in the
    /// tree, in instance-number order.
    pub fn instances_of(&self, obj: ObjId) -> Vec<ObjRef> {
        let mut out = Vec::new();
        let ancestry = self.schema.object(obj).ancestry();
        self.collect_instances(
            &self.root,
            self.schema.root_ref(),
            ancestry.get(1..).unwrap_or(&[]),
            &mut out,
        );
        out
    }

    fn collect_instances(&self, node: &Node, at: ObjRef, rest: &[ObjId], out: &mut Vec<ObjRef>) {
        let Some((&next, rest)) = rest.split_first() else {
            out.push(at);
            return;
        };
        match node.children.get(self.schema.object(next).slot()) {
            Some(Child::Single(Some(n))) => self.collect_instances(n, ObjRef::new(next, at.inst), rest, out),
            Some(Child::Table(t)) => {
                for (num, row) in &t.rows {
                    if let Some(inst) = at.inst.push(*num) {
                        self.collect_instances(row, ObjRef::new(next, inst), rest, out);
                    }
                }
            }
            _ => {}
        }
    }

    /// The change log since the last drain.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// Moves the change log into `out` (appending), leaving the store's log
    /// empty; reuse `out` between calls to avoid allocating.
    pub fn drain_changes(&mut self, out: &mut Vec<Change>) {
        out.append(&mut self.changes);
    }

    /// Appends an entry (command completions and events come from the
    /// provider layer).
    pub(crate) fn log(&mut self, change: Change) {
        self.changes.push(change);
    }
}
