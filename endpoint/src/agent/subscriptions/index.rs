//! The subscription index: from a schema id to the subscriptions whose
//! ReferenceList names it, per notification type.
//!
//! A change names a parameter (or a row, command, event) and the objects
//! above it; the index is asked for exactly those ids — the parameter's
//! own id and every object of its ancestry, since an object path in a
//! ReferenceList covers everything below it — so finding the candidates
//! costs a few hash lookups however many subscriptions exist. Paths whose
//! schema position is only known after following a reference (`Ref+.`)
//! cannot be keyed; they sit in a per-type list every change of that type
//! consults.

use std::collections::HashMap;

use crate::controller::NotifType;
use crate::datamodel::{CommandId, EventId, ObjId, ParamId, SchemaNode};

/// A schema element a ReferenceList entry names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum IndexKey {
    /// An object or table (covers what is below it).
    Obj(ObjId),
    /// A parameter.
    Param(ParamId),
    /// A command.
    Command(CommandId),
    /// An event.
    Event(EventId),
}

impl From<SchemaNode> for IndexKey {
    fn from(node: SchemaNode) -> IndexKey {
        match node {
            SchemaNode::Object(o) => IndexKey::Obj(o),
            SchemaNode::Param(p) => IndexKey::Param(p),
            SchemaNode::Command(c) => IndexKey::Command(c),
            SchemaNode::Event(e) => IndexKey::Event(e),
        }
    }
}

/// Subscription row numbers by (type, key), plus the unkeyed ones.
#[derive(Debug, Default)]
pub(crate) struct Index {
    keyed: HashMap<(NotifType, IndexKey), Vec<u32>>,
    dynamic: HashMap<NotifType, Vec<u32>>,
}

impl Index {
    /// Files subscription `sub` under `key` (`None`: unkeyed).
    pub(crate) fn insert(&mut self, kind: NotifType, key: Option<IndexKey>, sub: u32) {
        let list = match key {
            Some(k) => self.keyed.entry((kind, k)).or_default(),
            None => self.dynamic.entry(kind).or_default(),
        };
        if !list.contains(&sub) {
            list.push(sub);
        }
    }

    /// Removes subscription `sub` from under `key`.
    pub(crate) fn remove(&mut self, kind: NotifType, key: Option<IndexKey>, sub: u32) {
        match key {
            Some(k) => {
                if let Some(list) = self.keyed.get_mut(&(kind, k)) {
                    list.retain(|s| *s != sub);
                    if list.is_empty() {
                        self.keyed.remove(&(kind, k));
                    }
                }
            }
            None => {
                if let Some(list) = self.dynamic.get_mut(&kind) {
                    list.retain(|s| *s != sub);
                }
            }
        }
    }

    /// Appends to `out` the subscriptions of type `kind` filed under any
    /// of `keys`, and the unkeyed ones; `out` is sorted and de-duplicated.
    pub(crate) fn candidates(
        &self,
        kind: NotifType,
        keys: impl Iterator<Item = IndexKey>,
        out: &mut Vec<u32>,
    ) {
        if self.keyed.is_empty() && self.dynamic.is_empty() {
            return;
        }
        for key in keys {
            if let Some(list) = self.keyed.get(&(kind, key)) {
                out.extend_from_slice(list);
            }
        }
        if let Some(list) = self.dynamic.get(&kind) {
            out.extend_from_slice(list);
        }
        if out.len() > 1 {
            out.sort_unstable();
            out.dedup();
        }
    }

    /// True when nothing is indexed.
    pub(crate) fn is_empty(&self) -> bool {
        self.keyed.is_empty() && self.dynamic.values().all(Vec::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datamodel::models;

    #[test]
    fn files_and_finds_by_key_and_type() {
        let s = models::agent_schema().unwrap();
        let Some(SchemaNode::Param(value)) = s.lookup("Device.IoTCapability.{i}.LevelSensor.Value") else {
            panic!()
        };
        let Some(SchemaNode::Object(table)) = s.lookup("Device.IoTCapability.") else { panic!() };
        let mut index = Index::default();
        index.insert(NotifType::ValueChange, Some(IndexKey::Param(value)), 3);
        index.insert(NotifType::ValueChange, Some(IndexKey::Obj(table)), 3);
        index.insert(NotifType::ValueChange, Some(IndexKey::Obj(table)), 5);
        index.insert(NotifType::ObjectCreation, Some(IndexKey::Obj(table)), 7);
        index.insert(NotifType::ValueChange, None, 9);
        let mut out = Vec::new();
        index.candidates(
            NotifType::ValueChange,
            [IndexKey::Param(value), IndexKey::Obj(table)].into_iter(),
            &mut out,
        );
        assert_eq!(out, [3, 5, 9]);
        index.remove(NotifType::ValueChange, Some(IndexKey::Obj(table)), 5);
        index.remove(NotifType::ValueChange, None, 9);
        out.clear();
        index.candidates(NotifType::ValueChange, [IndexKey::Obj(table)].into_iter(), &mut out);
        assert_eq!(out, [3]);
        assert!(!index.is_empty());
    }
}
