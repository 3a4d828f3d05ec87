//! The store's tree: one [`Node`] per object instance, holding its
//! parameter values by slot and its children by slot; tables keep rows in
//! instance-number order with a hash index per unique key.

use std::collections::HashMap;

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
    pub(crate) rows: Rows,
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
        Table { rows: Rows::default(), next: 1, keys: vec![HashMap::new(); keys] }
    }
}

/// A table's rows: instance numbers and nodes in two parallel vectors
/// sorted by number.
///
/// Why not a `BTreeMap`: lookups are a binary search over a dense `u32`
/// slice (a 10,000-row table fits in 40 KB), iteration is a slice walk,
/// and appending — the usual case, numbers only grow — is a push. Removal
/// shifts the tail, which costs microseconds even for large tables and is
/// rare next to reads.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rows {
    numbers: Vec<u32>,
    nodes: Vec<Node>,
}

impl Rows {
    pub(crate) fn get(&self, n: &u32) -> Option<&Node> {
        self.nodes.get(self.numbers.binary_search(n).ok()?)
    }

    pub(crate) fn get_mut(&mut self, n: &u32) -> Option<&mut Node> {
        self.nodes.get_mut(self.numbers.binary_search(n).ok()?)
    }

    pub(crate) fn contains_key(&self, n: &u32) -> bool {
        self.numbers.binary_search(n).is_ok()
    }

    pub(crate) fn len(&self) -> usize {
        self.numbers.len()
    }

    /// Inserts (or replaces) row `n`.
    pub(crate) fn insert(&mut self, n: u32, node: Node) {
        if self.numbers.last().is_none_or(|last| *last < n) {
            self.numbers.push(n);
            self.nodes.push(node);
            return;
        }
        match self.numbers.binary_search(&n) {
            Ok(i) => {
                if let Some(slot) = self.nodes.get_mut(i) {
                    *slot = node;
                }
            }
            Err(i) => {
                self.numbers.insert(i, n);
                self.nodes.insert(i, node);
            }
        }
    }

    pub(crate) fn remove(&mut self, n: &u32) -> Option<Node> {
        let i = self.numbers.binary_search(n).ok()?;
        self.numbers.remove(i);
        Some(self.nodes.remove(i))
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &u32> {
        self.numbers.iter()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&u32, &Node)> {
        self.numbers.iter().zip(self.nodes.iter())
    }
}

impl<'a> IntoIterator for &'a Rows {
    type Item = (&'a u32, &'a Node);
    type IntoIter = std::iter::Zip<std::slice::Iter<'a, u32>, std::slice::Iter<'a, Node>>;

    fn into_iter(self) -> Self::IntoIter {
        self.numbers.iter().zip(self.nodes.iter())
    }
}
