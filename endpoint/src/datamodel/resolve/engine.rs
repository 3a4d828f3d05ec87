//! The expansion of an Instantiated-DM path, level by level.
//!
//! Two things walk down the path together:
//!
//! * the **static position** in the schema ([`At`]), which checks every
//!   name against the Supported DM (7026) whether or not any instance
//!   exists — so `Device.IoTCapability.9.Foo` fails with 7026 even when
//!   row 9 is absent; after a reference hop whose facet names no target
//!   table it becomes unknown and names are checked per instance;
//! * the **frontier**: the concrete objects and tables reached so far.
//!   Names map each one to its child without a lookup per instance (the
//!   schema child is found once), instance selectors expand tables, and
//!   reference hops jump to the referenced objects. Each element carries
//!   the store node it stands for, so going one level down is a slot
//!   access, not a new walk from `Device.`.

use std::collections::HashSet;

use super::expr::Compiled;
use super::{Matches, PathKind, Resolution, ResolveError, Visibility};
use crate::datamodel::DataModel;
use crate::datamodel::refs::{CommandRef, EventRef, ObjRef, ParamRef, TableRef, Target};
use crate::datamodel::schema::{ObjId, ParamId, Schema, SchemaNode};
use crate::datamodel::store::{Child, Node, Table};
use crate::datamodel::value::{Comparison, Value};
use crate::path::{Expr, Leaf, Path, RefItem, Segment, Selector, Term};

/// Where the path is in the schema, independent of the data.
#[derive(Clone, Copy, Debug)]
enum At {
    /// At an object, or at a row after its instance selector.
    Obj(ObjId),
    /// Right after a table's name.
    Table(ObjId),
    /// After a reference hop to an undeclared target.
    Unknown,
}

/// One element of the frontier, with its store data.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pos<'a> {
    Obj(ObjRef, &'a Node),
    Table(TableRef, &'a Table),
}

impl Pos<'_> {
    /// Identity without the data, for de-duplication.
    fn key(&self) -> Result<ObjRef, TableRef> {
        match self {
            Pos::Obj(o, _) => Ok(*o),
            Pos::Table(t, _) => Err(*t),
        }
    }
}

pub(crate) struct Engine<'a, V: Visibility + ?Sized> {
    dm: &'a DataModel,
    schema: &'a Schema,
    vis: &'a V,
}

impl<'a, V: Visibility + ?Sized> Engine<'a, V> {
    pub(crate) fn new(dm: &'a DataModel, vis: &'a V) -> Self {
        Engine { dm, schema: dm.schema(), vis }
    }

    pub(crate) fn dm(&self) -> &'a DataModel {
        self.dm
    }

    pub(crate) fn schema(&self) -> &'a Schema {
        self.schema
    }

    pub(crate) fn vis(&self) -> &'a V {
        self.vis
    }

    fn not_supported(&self, obj: ObjId, name: &str) -> ResolveError {
        ResolveError::NotSupported(format!("{}{name}", self.schema.object(obj).supported_path()))
    }

    /// A name right after a table's name, where an instance selector must
    /// be (`Device.IoTCapability.LevelSensor.`).
    fn needs_instance(&self, table: ObjId, name: &str) -> ResolveError {
        let path = self.schema.object(table).supported_path().trim_end_matches("{i}.");
        ResolveError::NotSupported(format!("{path}{name}: an instance selector must follow the table name"))
    }

    /// The visible child object `name` of `obj`.
    pub(crate) fn visible_child(&self, obj: ObjId, name: &str) -> Result<ObjId, ResolveError> {
        self.schema
            .child(obj, name)
            .filter(|c| self.vis.schema_node(SchemaNode::Object(*c)))
            .ok_or_else(|| self.not_supported(obj, name))
    }

    /// The visible parameter `name` of `obj`.
    pub(crate) fn visible_param(&self, obj: ObjId, name: &str) -> Result<ParamId, ResolveError> {
        self.schema
            .param_named(obj, name)
            .filter(|p| self.vis.schema_node(SchemaNode::Param(*p)))
            .ok_or_else(|| self.not_supported(obj, name))
    }

    pub(crate) fn resolve(&self, path: &Path) -> Result<Resolution, ResolveError> {
        let root = self.schema.root();
        let mut segments = path.segments.iter();
        match segments.next() {
            Some(Segment::Name(n)) if n == self.schema.object(root).name() => {}
            Some(Segment::Name(n)) => return Err(ResolveError::NotSupported(format!("{n}."))),
            _ => return Err(ResolveError::NotSupported(String::new())),
        }
        let mut at = At::Obj(root);
        // Two buffers, swapped after each level, so a path costs two
        // allocations however long it is.
        let mut frontier = Vec::with_capacity(4);
        let root_ref = self.schema.root_ref();
        frontier.extend(self.dm.store().node(&root_ref).map(|n| Pos::Obj(root_ref, n)));
        let mut next = Vec::with_capacity(4);
        let mut search = false;
        let mut keyed = false;
        let mut hops = false;
        for seg in segments {
            next.clear();
            match seg {
                Segment::Name(name) => {
                    let child = match at {
                        At::Obj(o) => Some(self.visible_child(o, name)?),
                        At::Table(t) => return Err(self.needs_instance(t, name)),
                        At::Unknown => None,
                    };
                    at = match child {
                        Some(c) if self.schema.object(c).is_table() => At::Table(c),
                        Some(c) => At::Obj(c),
                        None => At::Unknown,
                    };
                    self.step_name(&frontier, &mut next, name, child)?;
                }
                Segment::Instance(sel) => {
                    let table = match at {
                        At::Table(t) => {
                            at = At::Obj(t);
                            Some(t)
                        }
                        At::Obj(o) => {
                            return Err(ResolveError::NotSupported(format!(
                                "{}: instance selector after an object that is not a table",
                                self.schema.object(o).supported_path()
                            )));
                        }
                        At::Unknown => None,
                    };
                    self.step_instance(&frontier, &mut next, sel, table, &mut search, &mut keyed)?;
                }
                Segment::Reference { name, item } => {
                    let param = match at {
                        At::Obj(o) => Some(self.visible_param(o, name)?),
                        At::Table(t) => return Err(self.needs_instance(t, name)),
                        At::Unknown => None,
                    };
                    at = match param.and_then(|p| self.declared_target(p)) {
                        Some(t) => At::Obj(t),
                        None => At::Unknown,
                    };
                    if *item == RefItem::All {
                        search = true;
                    }
                    let addressing = !search && frontier.len() <= 1;
                    self.step_reference(&frontier, &mut next, name, *item, param, addressing)?;
                    hops = true;
                }
            }
            std::mem::swap(&mut frontier, &mut next);
        }
        if hops {
            // Several references may lead to the same object.
            let mut seen = HashSet::with_capacity(frontier.len());
            frontier.retain(|p| seen.insert(p.key()));
        }
        let kind = match (search, keyed) {
            (true, _) => PathKind::Search,
            (false, true) => PathKind::KeyAddressing,
            (false, false) => PathKind::Addressing,
        };
        let matches = self.leaf(&path.leaf, at, frontier)?;
        Ok(Resolution { kind, matches })
    }

    /// The table a reference parameter's facet says it points into.
    fn declared_target(&self, param: ParamId) -> Option<ObjId> {
        let target = self.schema.param(param).ty.reference()?.target.as_deref()?;
        match self.schema.lookup(target)? {
            SchemaNode::Object(t) => Some(t),
            _ => None,
        }
    }

    fn step_name(
        &self,
        frontier: &[Pos<'a>],
        next: &mut Vec<Pos<'a>>,
        name: &str,
        child: Option<ObjId>,
    ) -> Result<(), ResolveError> {
        for &pos in frontier {
            let Pos::Obj(o, node) = pos else { return Err(ResolveError::NotSupported(name.to_owned())) };
            let c = match child {
                Some(c) => c,
                None => self.visible_child(o.obj, name)?,
            };
            // An absent optional object has an empty slot: it is skipped.
            match node.children.get(self.schema.object(c).slot()) {
                Some(Child::Table(t)) => next.push(Pos::Table(TableRef { table: c, parent: o.inst }, t)),
                Some(Child::Single(Some(n))) => next.push(Pos::Obj(ObjRef::new(c, o.inst), n)),
                Some(Child::Single(None)) | None => {}
            }
        }
        Ok(())
    }

    fn step_instance(
        &self,
        frontier: &[Pos<'a>],
        rows: &mut Vec<Pos<'a>>,
        sel: &Selector,
        table: Option<ObjId>,
        search: &mut bool,
        key_addressed: &mut bool,
    ) -> Result<(), ResolveError> {
        let tables = frontier.iter().map(|p| match *p {
            Pos::Table(t, data) => Ok((t, data)),
            Pos::Obj(o, _) => Err(ResolveError::NotSupported(format!(
                "{}: instance selector after an object that is not a table",
                self.schema.obj_path(&o)
            ))),
        });
        match sel {
            Selector::AnyInstance => return Err(ResolveError::AnyInstance),
            Selector::Number(n) => {
                for t in tables {
                    let (t, data) = t?;
                    if let (Some(r), Some(node)) = (t.row(*n), data.rows.get(n)) {
                        rows.push(Pos::Obj(r, node));
                    }
                }
            }
            Selector::Wildcard => {
                *search = true;
                for t in tables {
                    let (t, data) = t?;
                    for (n, node) in &data.rows {
                        if let Some(r) = t.row(*n).filter(|r| self.vis.instance(r)) {
                            rows.push(Pos::Obj(r, node));
                        }
                    }
                }
            }
            Selector::Search(expr) => {
                // Compile against the static table even when no row is
                // reached, so type errors and key-ness do not depend on
                // the data.
                let mut compiled: Option<(ObjId, Compiled<'_>)> = match table {
                    Some(t) => Some((t, Compiled::new(self, t, expr)?)),
                    None => None,
                };
                let mut keyed = compiled.as_ref().is_some_and(|(_, c)| c.key.is_some());
                for t in tables {
                    let (t, data) = t?;
                    if compiled.as_ref().is_none_or(|(id, _)| *id != t.table) {
                        compiled = Some((t.table, self.compile(t.table, expr)?));
                    }
                    if let Some((_, c)) = &compiled {
                        keyed = c.key.is_some();
                        c.select(self, &t, data, rows)?;
                    }
                }
                if keyed {
                    *key_addressed = true;
                } else {
                    *search = true;
                }
            }
        }
        Ok(())
    }

    fn compile<'p>(&self, table: ObjId, expr: &'p Expr) -> Result<Compiled<'p>, ResolveError> {
        Compiled::new(self, table, expr)
    }

    fn step_reference(
        &self,
        frontier: &[Pos<'a>],
        next: &mut Vec<Pos<'a>>,
        name: &str,
        item: RefItem,
        param: Option<ParamId>,
        addressing: bool,
    ) -> Result<(), ResolveError> {
        let store = self.dm.store();
        for &pos in frontier {
            let Pos::Obj(o, _) = pos else { return Err(ResolveError::NotSupported(name.to_owned())) };
            let pid = match param {
                Some(p) => p,
                None => self.visible_param(o.obj, name)?,
            };
            for target in self.follow(&o.param(pid), item) {
                match target {
                    Ok(r) => next.extend(store.node(&r).map(|n| Pos::Obj(r, n))),
                    Err(e) if addressing => return Err(e),
                    Err(_) => {}
                }
            }
        }
        Ok(())
    }

    /// The existing objects the reference parameter `param` leads to:
    /// empty items and dangling paths lead nowhere; items that are not
    /// object paths are errors (7008).
    pub(crate) fn follow(&self, param: &ParamRef, item: RefItem) -> Vec<Result<ObjRef, ResolveError>> {
        let Some(value) = self.dm.read(param) else { return Vec::new() };
        let texts: Vec<&str> = match &*value {
            Value::List(items) => items.iter().filter_map(Value::as_str).collect(),
            Value::String(s) => s.split(',').map(str::trim).collect(),
            _ => Vec::new(),
        };
        let picked: Vec<&str> = match item {
            RefItem::First => texts.first().copied().into_iter().collect(),
            RefItem::Index(n) => texts.get((n as usize).wrapping_sub(1)).copied().into_iter().collect(),
            RefItem::All => texts,
        };
        picked
            .into_iter()
            .filter(|s| !s.is_empty())
            .filter_map(|s| match self.dm.lookup(s) {
                Ok(Target::Object(r)) => Some(Ok(r)),
                Err(super::LookupError::NotFound) => None,
                Ok(_) | Err(_) => Some(Err(ResolveError::NotAnObjectReference(s.to_owned()))),
            })
            .collect()
    }

    /// Evaluates a term whose parameter is reached through a reference hop:
    /// true if any object it leads to has a matching value.
    pub(crate) fn eval_dynamic(&self, row: &ObjRef, term: &Term) -> Result<bool, ResolveError> {
        let store = self.dm.store();
        let mut objs = vec![*row];
        for seg in &term.param.objects {
            let mut next = Vec::new();
            for o in objs {
                match seg {
                    Segment::Name(n) => {
                        let c = self.visible_child(o.obj, n)?;
                        if self.schema.object(c).is_table() {
                            return Err(ResolveError::ExpressionIntoTable(term.param.to_string()));
                        }
                        let r = ObjRef::new(c, o.inst);
                        if store.has_object(&r) {
                            next.push(r);
                        }
                    }
                    Segment::Reference { name, item } => {
                        let pid = self.visible_param(o.obj, name)?;
                        next.extend(self.follow(&o.param(pid), *item).into_iter().filter_map(Result::ok));
                    }
                    Segment::Instance(_) => {
                        return Err(ResolveError::ExpressionIntoTable(term.param.to_string()));
                    }
                }
            }
            objs = next;
        }
        for o in objs {
            let pid = self.visible_param(o.obj, &term.param.param)?;
            let pref = o.param(pid);
            if !self.vis.param(&pref) {
                continue;
            }
            let cmp = Comparison::compile(&self.schema.param(pid).ty, term.op, &term.value)?;
            if self.dm.read(&pref).is_some_and(|v| cmp.matches(&v)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn leaf(&self, leaf: &Leaf, at: At, frontier: Vec<Pos<'a>>) -> Result<Matches, ResolveError> {
        // Static check of the leaf name, then per element.
        let member = |o: ObjId, kind: &Leaf| -> Result<Member, ResolveError> {
            let node = match kind {
                Leaf::Object => return Ok(Member::None),
                Leaf::Param(n) => self.schema.param_named(o, n).map(SchemaNode::Param),
                Leaf::Command(n) => self.schema.command_named(o, n).map(SchemaNode::Command),
                Leaf::Event(n) => self.schema.event_named(o, n).map(SchemaNode::Event),
            };
            let suffix = match kind {
                Leaf::Command(_) => "()",
                Leaf::Event(_) => "!",
                _ => "",
            };
            match node.filter(|n| self.vis.schema_node(*n)) {
                Some(SchemaNode::Param(p)) => Ok(Member::Param(p)),
                Some(SchemaNode::Command(c)) => Ok(Member::Command(c)),
                Some(SchemaNode::Event(e)) => Ok(Member::Event(e)),
                _ => Err(self.not_supported(o, &format!("{}{suffix}", leaf_name(kind)))),
            }
        };
        let fixed = match (at, leaf) {
            (_, Leaf::Object) => Member::None,
            (At::Obj(o), l) => member(o, l)?,
            (At::Table(t), l) => return Err(self.needs_instance(t, leaf_name(l))),
            (At::Unknown, _) => Member::Unknown,
        };
        if *leaf == Leaf::Object {
            if matches!(at, At::Table(_)) {
                return Ok(Matches::Tables(
                    frontier
                        .into_iter()
                        .filter_map(|p| if let Pos::Table(t, _) = p { Some(t) } else { None })
                        .collect(),
                ));
            }
            return Ok(Matches::Objects(
                frontier
                    .into_iter()
                    .filter_map(|p| if let Pos::Obj(o, _) = p { Some(o) } else { None })
                    .collect(),
            ));
        }
        let mut params = Vec::new();
        let mut commands = Vec::new();
        let mut events = Vec::new();
        for pos in frontier {
            let Pos::Obj(o, _) = pos else { continue };
            let m = match fixed {
                Member::Unknown => member(o.obj, leaf)?,
                m => m,
            };
            match m {
                Member::Param(p) => params.push(ParamRef { obj: o, param: p }),
                Member::Command(c) => commands.push(CommandRef { obj: o, command: c }),
                Member::Event(e) => events.push(EventRef { obj: o, event: e }),
                Member::None | Member::Unknown => {}
            }
        }
        Ok(match leaf {
            Leaf::Param(_) => Matches::Params(params),
            Leaf::Command(_) => Matches::Commands(commands),
            Leaf::Event(_) | Leaf::Object => Matches::Events(events),
        })
    }
}

#[derive(Clone, Copy)]
enum Member {
    None,
    Unknown,
    Param(ParamId),
    Command(crate::datamodel::schema::CommandId),
    Event(crate::datamodel::schema::EventId),
}

fn leaf_name(leaf: &Leaf) -> &str {
    match leaf {
        Leaf::Object => "",
        Leaf::Param(n) | Leaf::Command(n) | Leaf::Event(n) => n,
    }
}
