//! The Supported Data Model: objects, tables, parameters, commands and
//! events, as an immutable arena addressed by small ids.
//!
//! A [`Schema`] is made once with a [`SchemaBuilder`] and shared (behind an
//! `Arc`) by the store, the resolver and the agent. Every id
//! ([`ObjId`], [`ParamId`], [`CommandId`], [`EventId`]) is an index into
//! the schema that made it — ids of one schema must not be used with
//! another. Everything GetSupportedDM reports is derived from here
//! ([`gsdm`]).

mod builder;
pub mod gsdm;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

pub use builder::{
    ArgBuilder, CommandBuilder, EventBuilder, ObjectBuilder, ParamBuilder, SchemaBuilder, SchemaError,
};

use super::value::{ParamType, Value};

/// Most nested tables a path may cross (`Device.A.{i}.B.{i}. …`). TR-181's
/// deepest tables are five levels down.
pub const MAX_TABLE_DEPTH: usize = 8;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub(crate) u32);

        impl $name {
            /// Position in the schema's arena (dense, from 0).
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id!(
    /// An object (single-instance object or table) of a [`Schema`].
    ObjId
);
id!(
    /// A parameter of a [`Schema`].
    ParamId
);
id!(
    /// A command of a [`Schema`].
    CommandId
);
id!(
    /// An event of a [`Schema`].
    EventId
);

/// Any element of the Supported Data Model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchemaNode {
    /// An object or table.
    Object(ObjId),
    /// A parameter.
    Param(ParamId),
    /// A command.
    Command(CommandId),
    /// An event.
    Event(EventId),
}

/// What Controllers may do to a table's rows (GSDM `ObjAccessType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjAccess {
    /// Rows are managed by the Agent only.
    ReadOnly,
    /// Controllers may add and delete rows.
    AddDelete,
    /// Controllers may add rows.
    AddOnly,
    /// Controllers may delete rows.
    DeleteOnly,
}

impl ObjAccess {
    /// Controllers may Add.
    pub fn can_add(self) -> bool {
        matches!(self, ObjAccess::AddDelete | ObjAccess::AddOnly)
    }

    /// Controllers may Delete.
    pub fn can_delete(self) -> bool {
        matches!(self, ObjAccess::AddDelete | ObjAccess::DeleteOnly)
    }
}

/// What Controllers may do to a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamAccess {
    /// Read only (`R`).
    ReadOnly,
    /// Read and write (`RW`).
    ReadWrite,
    /// Write only: reads return an empty string (passwords).
    WriteOnly,
    /// Writable once, when the row is created (in the Add), then read only
    /// (`W1`, e.g. `Alias`). Reported as read-write by GetSupportedDM.
    WriteOnceReadOnly,
}

impl ParamAccess {
    /// Writable by a Set on an existing object.
    pub fn settable(self) -> bool {
        matches!(self, ParamAccess::ReadWrite | ParamAccess::WriteOnly)
    }

    /// Writable in an Add.
    pub fn settable_on_add(self) -> bool {
        !matches!(self, ParamAccess::ReadOnly)
    }
}

/// Whether the Agent acts on ValueChange subscriptions to a parameter
/// (GSDM `ValueChangeType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueChangePolicy {
    /// Changes are notified.
    Allowed,
    /// Changes are not notified (fast counters, uptime).
    WillIgnore,
}

/// A command's execution mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandKind {
    /// Runs to completion within the Operate; results in the OperateResp.
    Sync,
    /// Runs in the background: a `Device.LocalAgent.Request.{i}` row while
    /// it runs, completion via OperationComplete.
    Async,
}

/// Single-instance object or table.
#[derive(Clone, Debug, PartialEq)]
pub enum ObjectKind {
    /// A single-instance object.
    Single {
        /// Present only when created (`IoTCapability.{i}.LevelSensor.`
        /// exists only in rows of that class); non-optional objects exist
        /// whenever their parent does.
        optional: bool,
    },
    /// A multi-instance object.
    Table(TableDef),
}

/// Facets of a table.
#[derive(Clone, Debug, PartialEq)]
pub struct TableDef {
    /// What Controllers may do.
    pub access: ObjAccess,
    /// Fewest rows (deletes below refused).
    pub min_entries: u32,
    /// Most rows, if bounded.
    pub max_entries: Option<u32>,
    /// The unique keys; each is a set of the row's own parameters.
    pub unique_keys: Vec<UniqueKey>,
    /// The parent's `<Name>NumberOfEntries` parameter, kept up to date by
    /// the store.
    pub count_param: Option<ParamId>,
}

/// One unique key of a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UniqueKey {
    /// The parameters that together are unique.
    pub params: Vec<ParamId>,
    /// Functional keys may change after creation (R-KEY.2);
    /// non-functional ones may not (R-KEY.1).
    pub functional: bool,
}

/// An object or table of the schema.
#[derive(Clone, Debug)]
pub struct ObjectDef {
    name: Box<str>,
    parent: Option<ObjId>,
    kind: ObjectKind,
    supported_path: Box<str>,
    params: Vec<ParamId>,
    children: Vec<ObjId>,
    commands: Vec<CommandId>,
    events: Vec<EventId>,
    table_depth: u8,
    slot: u16,
    ancestry: Box<[ObjId]>,
    members: Members,
}

/// FNV-1a, for the member-name maps: names are short, and the maps are
/// built from the model, never from what a peer sends, so an unkeyed hash
/// cannot be turned against us (a crafted name only meets one bucket).
#[derive(Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Member name → member.
pub(crate) type Members = HashMap<Box<str>, Member, BuildHasherDefault<Fnv>>;

#[derive(Clone, Copy, Debug)]
pub(crate) enum Member {
    Param(ParamId),
    Object(ObjId),
}

impl ObjectDef {
    /// The object's name (`IoTCapability`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parent object; `None` for `Device.`.
    pub fn parent(&self) -> Option<ObjId> {
        self.parent
    }

    /// Single-instance or table.
    pub fn kind(&self) -> &ObjectKind {
        &self.kind
    }

    /// The table facets, for tables.
    pub fn table(&self) -> Option<&TableDef> {
        match &self.kind {
            ObjectKind::Table(t) => Some(t),
            ObjectKind::Single { .. } => None,
        }
    }

    /// True for multi-instance objects.
    pub fn is_table(&self) -> bool {
        matches!(self.kind, ObjectKind::Table(_))
    }

    /// True for single-instance objects that exist only once created.
    pub fn is_optional(&self) -> bool {
        matches!(self.kind, ObjectKind::Single { optional: true })
    }

    /// The path in `{i}` notation, with a final `{i}.` for tables
    /// (`Device.IoTCapability.{i}.LevelSensor.`), as GSDM reports it.
    pub fn supported_path(&self) -> &str {
        &self.supported_path
    }

    /// The object's own parameters.
    pub fn params(&self) -> &[ParamId] {
        &self.params
    }

    /// Child objects and tables.
    pub fn children(&self) -> &[ObjId] {
        &self.children
    }

    /// Commands.
    pub fn commands(&self) -> &[CommandId] {
        &self.commands
    }

    /// Events.
    pub fn events(&self) -> &[EventId] {
        &self.events
    }

    /// Number of tables on the way from `Device.` to this object,
    /// including itself: how many instance numbers an instance path of this
    /// object carries.
    pub fn table_depth(&self) -> usize {
        usize::from(self.table_depth)
    }

    /// The objects from `Device.` down to this one (inclusive).
    pub fn ancestry(&self) -> &[ObjId] {
        &self.ancestry
    }

    pub(crate) fn slot(&self) -> usize {
        usize::from(self.slot)
    }
}

/// A parameter of the schema.
#[derive(Clone, Debug)]
pub struct ParamDef {
    /// Name, relative to its object.
    pub name: Box<str>,
    /// The object it belongs to.
    pub owner: ObjId,
    /// Type and facets.
    pub ty: ParamType,
    /// Controller access.
    pub access: ParamAccess,
    /// Value of a new instance: the model's default, else the type's zero.
    pub default: Value,
    /// `secured` (TR-181 2.16): the value is shown only to Controllers
    /// holding a SecuredRole; others read an empty string.
    pub secured: bool,
    /// Whether ValueChange notifications are honoured.
    pub value_change: ValueChangePolicy,
    pub(crate) slot: u16,
}

/// A command or event argument.
#[derive(Clone, Debug)]
pub struct ArgDef {
    /// Name, relative to the command (may name an object argument's
    /// parameter, e.g. `Result.{i}.SSID`).
    pub name: Box<str>,
    /// Type and facets.
    pub ty: ParamType,
    /// A missing mandatory input argument fails the command with 7027.
    pub mandatory: bool,
    /// Value used when an optional input argument is missing (R-OPR.7).
    pub default: Option<Value>,
}

/// A command of the schema.
#[derive(Clone, Debug)]
pub struct CommandDef {
    /// Name without `()`.
    pub name: Box<str>,
    /// The object it belongs to.
    pub owner: ObjId,
    /// Sync or async.
    pub kind: CommandKind,
    /// Input arguments.
    pub input: Vec<ArgDef>,
    /// Output arguments.
    pub output: Vec<ArgDef>,
}

/// An event of the schema.
#[derive(Clone, Debug)]
pub struct EventDef {
    /// Name without `!`.
    pub name: Box<str>,
    /// The object it belongs to.
    pub owner: ObjId,
    /// Arguments.
    pub args: Vec<ArgDef>,
}

/// The Supported Data Model.
#[derive(Clone, Debug)]
pub struct Schema {
    objects: Vec<ObjectDef>,
    params: Vec<ParamDef>,
    commands: Vec<CommandDef>,
    events: Vec<EventDef>,
    /// For each table, the strong-reference parameters that point at its
    /// rows (R-ARC.12: deleting a row empties them).
    strong_refs: HashMap<ObjId, Vec<ParamId>>,
}

impl Schema {
    /// A builder for a schema rooted at `Device.`.
    pub fn builder() -> SchemaBuilder {
        SchemaBuilder::new()
    }

    /// `Device.`
    pub fn root(&self) -> ObjId {
        ObjId(0)
    }

    /// An object's definition.
    pub fn object(&self, id: ObjId) -> &ObjectDef {
        &self.objects[id.index()]
    }

    /// A parameter's definition.
    pub fn param(&self, id: ParamId) -> &ParamDef {
        &self.params[id.index()]
    }

    /// A command's definition.
    pub fn command(&self, id: CommandId) -> &CommandDef {
        &self.commands[id.index()]
    }

    /// An event's definition.
    pub fn event(&self, id: EventId) -> &EventDef {
        &self.events[id.index()]
    }

    /// Every object, `Device.` first, parents before children.
    pub fn objects(&self) -> impl Iterator<Item = (ObjId, &ObjectDef)> {
        self.objects.iter().enumerate().map(|(i, o)| (ObjId(i as u32), o))
    }

    /// Every parameter.
    pub fn params(&self) -> impl Iterator<Item = (ParamId, &ParamDef)> {
        self.params.iter().enumerate().map(|(i, p)| (ParamId(i as u32), p))
    }

    /// The child object or table `name` of `obj`.
    pub fn child(&self, obj: ObjId, name: &str) -> Option<ObjId> {
        match self.object(obj).members.get(name) {
            Some(Member::Object(id)) => Some(*id),
            _ => None,
        }
    }

    /// The parameter `name` of `obj`.
    pub fn param_named(&self, obj: ObjId, name: &str) -> Option<ParamId> {
        match self.object(obj).members.get(name) {
            Some(Member::Param(id)) => Some(*id),
            _ => None,
        }
    }

    /// The command `name` (without `()`) of `obj`.
    pub fn command_named(&self, obj: ObjId, name: &str) -> Option<CommandId> {
        self.object(obj).commands.iter().copied().find(|c| &*self.command(*c).name == name)
    }

    /// The event `name` (without `!`) of `obj`.
    pub fn event_named(&self, obj: ObjId, name: &str) -> Option<EventId> {
        self.object(obj).events.iter().copied().find(|e| &*self.event(*e).name == name)
    }

    /// The parameter reached from `obj` by a relative path through
    /// single-instance sub-objects (`Stats.BytesSent`), with the object
    /// that holds it. Never descends into a table.
    pub fn relative_param(&self, obj: ObjId, rel: &str) -> Option<ParamId> {
        let mut at = obj;
        let mut parts = rel.split('.');
        let mut name = parts.next()?;
        for next in parts {
            at = self.child(at, name).filter(|c| !self.object(*c).is_table())?;
            name = next;
        }
        self.param_named(at, name)
    }

    /// Looks up a Supported-DM path: `Device.IoTCapability.{i}.Name`,
    /// `Device.IoTCapability.{i}.BinaryControl.Toggle()`, `Device.Boot!`,
    /// `Device.IoTCapability.{i}.` or, with the final `{i}.` omitted,
    /// `Device.IoTCapability.`. No instance numbers.
    pub fn lookup(&self, path: &str) -> Option<SchemaNode> {
        let (body, leaf) = if let Some(b) = path.strip_suffix("()") {
            (b, Some(true))
        } else if let Some(b) = path.strip_suffix('!') {
            (b, Some(false))
        } else {
            (path, None)
        };
        let mut parts = body.split('.').peekable();
        if parts.next()? != self.object(self.root()).name() {
            return None;
        }
        let mut at = self.root();
        let mut expect_instance = false;
        while let Some(part) = parts.next() {
            let last = parts.peek().is_none();
            if last {
                return match (part, leaf) {
                    ("", None) => Some(SchemaNode::Object(at)),
                    (name, None) if !expect_instance => self.param_named(at, name).map(SchemaNode::Param),
                    (name, Some(true)) if !expect_instance => {
                        self.command_named(at, name).map(SchemaNode::Command)
                    }
                    (name, Some(false)) if !expect_instance => {
                        self.event_named(at, name).map(SchemaNode::Event)
                    }
                    _ => None,
                };
            }
            if expect_instance && part == "{i}" {
                expect_instance = false;
                continue;
            }
            if expect_instance {
                return None;
            }
            at = self.child(at, part)?;
            expect_instance = self.object(at).is_table();
        }
        None
    }

    /// Strong-reference parameters that point at rows of `table`.
    pub fn strong_refs_to(&self, table: ObjId) -> &[ParamId] {
        self.strong_refs.get(&table).map_or(&[], Vec::as_slice)
    }
}
