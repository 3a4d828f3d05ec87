//! The store's tree: one [`Node`] per object instance, holding its
//! parameter values by slot and its children by slot; tables keep rows in
//! instance-number order with a hash index per unique key.

use std::collections::{BTreeMap, HashMap};

use crate::datamodel::schema::{ObjId, ObjectKind, Schema};
use crate::datamodel::value::Value;

/// An object instance.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    /// Values, indexed by `ParamDef::slot`.
    pub(crate) values: Box<[Value]>,
    /// Children, indexed by `ObjectDef::slot` of the child.
    pub(crate) children: Box<[Child]>,
}

/// A child slot of a node.
#[derive(Clone, Debug)]
pub(crate) enum Child {
    /// A single-instance object; `None` while an optional object is absent.
    Single(Option<Box<Node>>),
    /// A table.
    Table(Table),
}

/// The rows of one table under one parent instance.
#[derive(Clone, Debug)]
pub(crate) struct Table {
    /// Rows by instance number (iteration is in number order).
    pub(crate) rows: BTreeMap<u32, Node>,
    /// The number the next row gets. Only grows: numbers are never reused
    /// while the store lives (R-ARC.8).
    pub(crate) next: u32,
    /// One index per unique key of the table: key values → row number.
    pub(crate) keys: Vec<HashMap<Box<[Value]>, u32>>,
}

impl Node {
    /// A fresh instance of `obj`: defaults, non-optional single children,
    /// empty tables.
    pub(crate) fn new(schema: &Schema, obj: ObjId) -> Node {
        let def = schema.object(obj);
        let values = def.params().iter().map(|p| schema.param(*p).default.clone()).collect();
        let children = def
            .children()
            .iter()
            .map(|&c| match schema.object(c).kind() {
                ObjectKind::Table(t) => Child::Table(Table::new(t.unique_keys.len())),
                ObjectKind::Single { optional: true } => Child::Single(None),
                ObjectKind::Single { optional: false } => Child::Single(Some(Box::new(Node::new(schema, c)))),
            })
            .collect();
        Node { values, children }
    }
}

impl Table {
    fn new(keys: usize) -> Table {
        Table { rows: BTreeMap::new(), next: 1, keys: vec![HashMap::new(); keys] }
    }
}
