//! Does a path match a given concrete place? The question a subscription
//! index asks when a change comes in: the index finds the candidate
//! subscriptions by schema id, this confirms the instance part.

use super::engine::Engine;
use super::expr::Compiled;
use super::{Matches, ResolveError, Visibility};
use crate::datamodel::DataModel;
use crate::datamodel::refs::{Instances, ObjRef, Target};
use crate::datamodel::schema::ObjId;
use crate::path::{Leaf, Path, Segment, Selector};

/// The schema object, instance numbers and leaf name of a target.
fn parts(dm: &DataModel, target: &Target) -> (ObjId, Instances, Option<(LeafKind, String)>) {
    let s = dm.schema();
    match target {
        Target::Object(o) => (o.obj, o.inst, None),
        Target::Table(t) => (t.table, t.parent, None),
        Target::Param(p) => {
            (p.obj.obj, p.obj.inst, Some((LeafKind::Param, s.param(p.param).name.to_string())))
        }
        Target::Command(c) => {
            (c.obj.obj, c.obj.inst, Some((LeafKind::Command, s.command(c.command).name.to_string())))
        }
        Target::Event(e) => {
            (e.obj.obj, e.obj.inst, Some((LeafKind::Event, s.event(e.event).name.to_string())))
        }
    }
}

#[derive(PartialEq, Eq)]
enum LeafKind {
    Param,
    Command,
    Event,
}

impl DataModel {
    /// Whether `path` names `target`, or — when `path` is an object path —
    /// an object or table that `target` lies in (an object path in a
    /// ValueChange ReferenceList covers every parameter below it; a table
    /// path in an ObjectCreation one covers its new rows).
    ///
    /// Evaluated along the target's own ancestry: instance numbers are
    /// compared, `*` matches, search expressions are tested on that one
    /// row (a row that no longer exists matches no expression). Paths
    /// with reference hops are resolved in full instead.
    pub fn covers<V: Visibility + ?Sized>(
        &self,
        path: &Path,
        target: &Target,
        vis: &V,
    ) -> Result<bool, ResolveError> {
        if path.has_reference() {
            let resolution = self.resolve_with(path, vis)?;
            return Ok(contains(self, &resolution.matches, target));
        }
        let engine = Engine::new(self, vis);
        let schema = self.schema();
        let (obj, inst, leaf) = parts(self, target);
        let ancestry = schema.object(obj).ancestry();
        let nums = inst.as_slice();
        let mut j = 0usize;
        let mut k = 0usize;
        let mut segments = path.segments.iter();
        match (segments.next(), ancestry.first()) {
            (Some(Segment::Name(n)), Some(root)) if n == schema.object(*root).name() => {}
            _ => return Ok(false),
        }
        for seg in segments {
            match seg {
                Segment::Name(n) => {
                    j += 1;
                    match ancestry.get(j) {
                        Some(id) if schema.object(*id).name() == n => {}
                        _ => return Ok(false),
                    }
                }
                Segment::Instance(sel) => {
                    let Some(&table) = ancestry.get(j) else { return Ok(false) };
                    let Some(&num) = nums.get(k) else { return Ok(false) };
                    k += 1;
                    let Some(row_inst) = nums.get(..k).and_then(Instances::new) else { return Ok(false) };
                    let row = ObjRef::new(table, row_inst);
                    let hit = match sel {
                        Selector::Number(m) => *m == num,
                        Selector::Wildcard => vis.instance(&row),
                        Selector::Search(expr) => {
                            let compiled = Compiled::new(&engine, table, expr)?;
                            match self.store().node(&row) {
                                Some(node) => vis.instance(&row) && compiled.matches(&engine, &row, node)?,
                                None => false,
                            }
                        }
                        Selector::AnyInstance => return Err(ResolveError::AnyInstance),
                    };
                    if !hit {
                        return Ok(false);
                    }
                }
                Segment::Reference { .. } => return Ok(false),
            }
        }
        Ok(match (&path.leaf, leaf) {
            // The target is at or below the object the path names.
            (Leaf::Object, _) => true,
            (Leaf::Param(n), Some((LeafKind::Param, name)))
            | (Leaf::Command(n), Some((LeafKind::Command, name)))
            | (Leaf::Event(n), Some((LeafKind::Event, name))) => {
                j + 1 == ancestry.len() && k == nums.len() && *n == name
            }
            _ => false,
        })
    }
}

/// Whether a resolved match names `target` or contains it.
fn contains(dm: &DataModel, matches: &Matches, target: &Target) -> bool {
    let schema = dm.schema();
    let (obj, inst, _) = parts(dm, target);
    let ancestry = schema.object(obj).ancestry();
    let below = |o: ObjId, prefix: &Instances| {
        ancestry.contains(&o) && inst.as_slice().get(..prefix.len()) == Some(prefix.as_slice())
    };
    match (matches, target) {
        (Matches::Objects(v), _) => v.iter().any(|o| below(o.obj, &o.inst)),
        (Matches::Tables(v), _) => v.iter().any(|t| below(t.table, &t.parent)),
        (Matches::Params(v), Target::Param(p)) => v.contains(p),
        (Matches::Commands(v), Target::Command(c)) => v.contains(c),
        (Matches::Events(v), Target::Event(e)) => v.contains(e),
        _ => false,
    }
}
