//! Writing a schema: nested closures that read like the TR-181 tree.
//!
//! ```
//! use usp_endpoint::datamodel::{CommandKind, ObjAccess, ParamType, Schema};
//!
//! let mut b = Schema::builder();
//! b.root().table("IoTCapability", |t| {
//!     t.unique_key(&["Alias"]).functional_key(&["Name"]);
//!     t.param("Alias", ParamType::alias()).write_once();
//!     t.param("Name", ParamType::string().max_len(64)).read_write();
//!     t.object("BinaryControl", |o| {
//!         o.optional();
//!         o.param("Value", ParamType::boolean()).read_write();
//!         o.command("Toggle", CommandKind::Async, |_| {});
//!     });
//! });
//! let schema = b.build().unwrap();
//! assert!(schema.lookup("Device.IoTCapability.{i}.BinaryControl.Toggle()").is_some());
//! assert!(schema.lookup("Device.IoTCapabilityNumberOfEntries").is_some());
//! # let _ = ObjAccess::ReadOnly;
//! ```
//!
//! Calling [`ObjectBuilder::object`] or [`ObjectBuilder::table`] with a
//! name that already exists continues that object, so several models can
//! add to `Device.` or `Device.LocalAgent.`; [`ObjectBuilder::param`] with
//! an existing name redefines the parameter.

use std::collections::HashMap;

use super::{
    ArgDef, CommandDef, CommandId, CommandKind, EventDef, EventId, MAX_TABLE_DEPTH, Member, Members,
    ObjAccess, ObjId, ObjectDef, ObjectKind, ParamAccess, ParamDef, ParamId, Schema, SchemaNode, TableDef,
    UniqueKey, ValueChangePolicy,
};
use crate::datamodel::value::{ParamType, ValueError};

/// A mistake in a model, found by [`SchemaBuilder::build`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// A name that is not `[A-Za-z_][A-Za-z0-9_]*`.
    #[error("{path}: invalid name {name:?}")]
    InvalidName {
        /// Supported path of the object.
        path: String,
        /// The name.
        name: String,
    },
    /// Two members of one object share a name.
    #[error("{path}: {name} defined twice")]
    Duplicate {
        /// Supported path of the object.
        path: String,
        /// The name.
        name: String,
    },
    /// A unique key names a parameter the table does not have.
    #[error("{path}: unique key parameter {name} is not a parameter of the table")]
    UnknownKey {
        /// Supported path of the table.
        path: String,
        /// The name.
        name: String,
    },
    /// A default that does not fit its type.
    #[error("{path}: default of {name} is invalid: {source}")]
    BadDefault {
        /// Supported path of the object.
        path: String,
        /// The parameter or argument.
        name: String,
        /// Why.
        source: ValueError,
    },
    /// More than [`MAX_TABLE_DEPTH`] nested tables.
    #[error("{path}: more than {MAX_TABLE_DEPTH} nested tables")]
    TooDeep {
        /// Supported path of the object.
        path: String,
    },
    /// A reference facet whose target is not a table of the schema.
    #[error("{param}: reference target {target} is not a table")]
    BadRefTarget {
        /// Supported path of the parameter.
        param: String,
        /// The target given.
        target: String,
    },
}

/// Builds a [`Schema`] rooted at `Device.`.
#[derive(Debug)]
pub struct SchemaBuilder {
    root: ObjectBuilder,
}

impl Default for SchemaBuilder {
    fn default() -> Self {
        SchemaBuilder::new()
    }
}

impl SchemaBuilder {
    /// An empty `Device.` object.
    pub fn new() -> SchemaBuilder {
        SchemaBuilder { root: ObjectBuilder::new("Device", None) }
    }

    /// The `Device.` object, to add to.
    pub fn root(&mut self) -> &mut ObjectBuilder {
        &mut self.root
    }

    /// Checks the model and lays it out.
    pub fn build(self) -> Result<Schema, SchemaError> {
        let mut flat = Flat::default();
        flat.add(self.root, None, 0)?;
        let mut schema = Schema {
            objects: flat.objects,
            params: flat.params,
            commands: flat.commands,
            events: flat.events,
            strong_refs: HashMap::new(),
        };
        let mut strong: HashMap<ObjId, Vec<ParamId>> = HashMap::new();
        for (id, p) in schema.params() {
            let Some(reference) = p.ty.reference() else { continue };
            let Some(target) = &reference.target else { continue };
            let bad = || SchemaError::BadRefTarget {
                param: format!("{}{}", schema.object(p.owner).supported_path(), p.name),
                target: target.to_string(),
            };
            let table = match schema.lookup(target) {
                Some(SchemaNode::Object(t)) if schema.object(t).is_table() => t,
                _ => return Err(bad()),
            };
            if reference.kind == crate::datamodel::value::RefKind::Strong {
                strong.entry(table).or_default().push(id);
            }
        }
        schema.strong_refs = strong;
        Ok(schema)
    }
}

/// An object or table being defined.
#[derive(Debug)]
pub struct ObjectBuilder {
    name: String,
    table: Option<TableSpec>,
    optional: bool,
    params: Vec<ParamBuilder>,
    children: Vec<ObjectBuilder>,
    commands: Vec<CommandBuilder>,
    events: Vec<EventBuilder>,
}

#[derive(Debug)]
struct TableSpec {
    access: ObjAccess,
    min_entries: u32,
    max_entries: Option<u32>,
    keys: Vec<(Vec<String>, bool)>,
    counted: bool,
}

impl ObjectBuilder {
    fn new(name: &str, table: Option<TableSpec>) -> ObjectBuilder {
        ObjectBuilder {
            name: name.to_owned(),
            table,
            optional: false,
            params: Vec::new(),
            children: Vec::new(),
            commands: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Defines (or redefines) a parameter, read-only until told otherwise.
    pub fn param(&mut self, name: &str, ty: ParamType) -> &mut ParamBuilder {
        let fresh = ParamBuilder {
            name: name.to_owned(),
            ty,
            access: ParamAccess::ReadOnly,
            default: None,
            secured: false,
            value_change: ValueChangePolicy::Allowed,
        };
        let i = match self.params.iter().position(|p| p.name == name) {
            Some(i) => {
                self.params[i] = fresh;
                i
            }
            None => {
                self.params.push(fresh);
                self.params.len() - 1
            }
        };
        &mut self.params[i]
    }

    /// Defines or continues the single-instance child object `name`.
    pub fn object(&mut self, name: &str, f: impl FnOnce(&mut ObjectBuilder)) -> &mut Self {
        self.child(name, false, f)
    }

    /// Defines or continues the child table `name` (read-only rows, no
    /// keys, no entry limits, counted by a `<name>NumberOfEntries`
    /// parameter of this object until told otherwise).
    pub fn table(&mut self, name: &str, f: impl FnOnce(&mut ObjectBuilder)) -> &mut Self {
        self.child(name, true, f)
    }

    fn child(&mut self, name: &str, table: bool, f: impl FnOnce(&mut ObjectBuilder)) -> &mut Self {
        let existing = self.children.iter().position(|c| c.name == name && c.table.is_some() == table);
        let i = match existing {
            Some(i) => i,
            None => {
                let spec = table.then(|| TableSpec {
                    access: ObjAccess::ReadOnly,
                    min_entries: 0,
                    max_entries: None,
                    keys: Vec::new(),
                    counted: true,
                });
                self.children.push(ObjectBuilder::new(name, spec));
                self.children.len() - 1
            }
        };
        f(&mut self.children[i]);
        self
    }

    /// Marks a single-instance object as present only once created (one of
    /// the seven `IoTCapability.{i}` class objects).
    pub fn optional(&mut self) -> &mut Self {
        self.optional = true;
        self
    }

    /// What Controllers may do to the table's rows.
    pub fn access(&mut self, access: ObjAccess) -> &mut Self {
        if let Some(t) = &mut self.table {
            t.access = access;
        }
        self
    }

    /// Row-count limits of the table.
    pub fn entries(&mut self, min: u32, max: Option<u32>) -> &mut Self {
        if let Some(t) = &mut self.table {
            t.min_entries = min;
            t.max_entries = max;
        }
        self
    }

    /// Adds a non-functional unique key (fixed after creation, like
    /// `Alias`).
    pub fn unique_key(&mut self, params: &[&str]) -> &mut Self {
        if let Some(t) = &mut self.table {
            t.keys.push((params.iter().map(|p| (*p).to_owned()).collect(), false));
        }
        self
    }

    /// Adds a functional unique key (may change, stays unique).
    pub fn functional_key(&mut self, params: &[&str]) -> &mut Self {
        if let Some(t) = &mut self.table {
            t.keys.push((params.iter().map(|p| (*p).to_owned()).collect(), true));
        }
        self
    }

    /// No `<name>NumberOfEntries` parameter for this table.
    pub fn uncounted(&mut self) -> &mut Self {
        if let Some(t) = &mut self.table {
            t.counted = false;
        }
        self
    }

    /// Defines a command (`name` without `()`).
    pub fn command(
        &mut self,
        name: &str,
        kind: CommandKind,
        f: impl FnOnce(&mut CommandBuilder),
    ) -> &mut Self {
        let mut c = CommandBuilder { name: name.to_owned(), kind, input: Vec::new(), output: Vec::new() };
        f(&mut c);
        self.commands.push(c);
        self
    }

    /// Defines an event (`name` without `!`).
    pub fn event(&mut self, name: &str, f: impl FnOnce(&mut EventBuilder)) -> &mut Self {
        let mut e = EventBuilder { name: name.to_owned(), args: Vec::new() };
        f(&mut e);
        self.events.push(e);
        self
    }
}

/// A parameter being defined.
#[derive(Debug)]
pub struct ParamBuilder {
    name: String,
    ty: ParamType,
    access: ParamAccess,
    default: Option<String>,
    secured: bool,
    value_change: ValueChangePolicy,
}

impl ParamBuilder {
    /// Read-write.
    pub fn read_write(&mut self) -> &mut Self {
        self.access = ParamAccess::ReadWrite;
        self
    }

    /// Write-only (reads return an empty string).
    pub fn write_only(&mut self) -> &mut Self {
        self.access = ParamAccess::WriteOnly;
        self
    }

    /// Writable in the Add that creates the row, read-only after.
    pub fn write_once(&mut self) -> &mut Self {
        self.access = ParamAccess::WriteOnceReadOnly;
        self
    }

    /// Value of new instances, in lexical form (checked by `build`).
    pub fn default(&mut self, value: &str) -> &mut Self {
        self.default = Some(value.to_owned());
        self
    }

    /// Shown only to Controllers holding a SecuredRole.
    pub fn secured(&mut self) -> &mut Self {
        self.secured = true;
        self
    }

    /// ValueChange subscriptions on it are not acted upon.
    pub fn ignore_value_change(&mut self) -> &mut Self {
        self.value_change = ValueChangePolicy::WillIgnore;
        self
    }
}

/// A command being defined.
#[derive(Debug)]
pub struct CommandBuilder {
    name: String,
    kind: CommandKind,
    input: Vec<ArgBuilder>,
    output: Vec<ArgBuilder>,
}

impl CommandBuilder {
    /// Adds an input argument (optional until told otherwise).
    pub fn input(&mut self, name: &str, ty: ParamType) -> &mut ArgBuilder {
        self.input.push(ArgBuilder::new(name, ty));
        let i = self.input.len() - 1;
        &mut self.input[i]
    }

    /// Adds an output argument.
    pub fn output(&mut self, name: &str, ty: ParamType) -> &mut ArgBuilder {
        self.output.push(ArgBuilder::new(name, ty));
        let i = self.output.len() - 1;
        &mut self.output[i]
    }
}

/// An event being defined.
#[derive(Debug)]
pub struct EventBuilder {
    name: String,
    args: Vec<ArgBuilder>,
}

impl EventBuilder {
    /// Adds an argument.
    pub fn arg(&mut self, name: &str, ty: ParamType) -> &mut ArgBuilder {
        self.args.push(ArgBuilder::new(name, ty));
        let i = self.args.len() - 1;
        &mut self.args[i]
    }
}

/// An argument being defined.
#[derive(Debug)]
pub struct ArgBuilder {
    name: String,
    ty: ParamType,
    mandatory: bool,
    default: Option<String>,
}

impl ArgBuilder {
    fn new(name: &str, ty: ParamType) -> ArgBuilder {
        ArgBuilder { name: name.to_owned(), ty, mandatory: false, default: None }
    }

    /// The Operate fails with 7027 when it is missing.
    pub fn mandatory(&mut self) -> &mut Self {
        self.mandatory = true;
        self
    }

    /// Value used when the argument is missing.
    pub fn default(&mut self, value: &str) -> &mut Self {
        self.default = Some(value.to_owned());
        self
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The arenas being filled by [`SchemaBuilder::build`].
#[derive(Default)]
struct Flat {
    objects: Vec<ObjectDef>,
    params: Vec<ParamDef>,
    commands: Vec<CommandDef>,
    events: Vec<EventDef>,
}

impl Flat {
    fn add(&mut self, b: ObjectBuilder, parent: Option<ObjId>, slot: u16) -> Result<ObjId, SchemaError> {
        let id = ObjId(self.objects.len() as u32);
        let (parent_path, parent_depth, mut ancestry) = match parent {
            Some(p) => {
                let p = &self.objects[p.index()];
                (p.supported_path.to_string(), p.table_depth, p.ancestry.to_vec())
            }
            None => (String::new(), 0, Vec::new()),
        };
        ancestry.push(id);
        let is_table = b.table.is_some();
        let path = format!("{parent_path}{}.{}", b.name, if is_table { "{i}." } else { "" });
        if !valid_name(&b.name) {
            return Err(SchemaError::InvalidName { path: parent_path, name: b.name });
        }
        let table_depth = parent_depth + u8::from(is_table);
        if usize::from(table_depth) > MAX_TABLE_DEPTH {
            return Err(SchemaError::TooDeep { path });
        }
        self.objects.push(ObjectDef {
            name: b.name.as_str().into(),
            parent,
            kind: ObjectKind::Single { optional: b.optional },
            supported_path: path.as_str().into(),
            params: Vec::new(),
            children: Vec::new(),
            commands: Vec::new(),
            events: Vec::new(),
            table_depth,
            slot,
            ancestry: ancestry.into(),
            members: Members::default(),
        });

        let mut members = Members::default();
        let claim = |members: &mut Members, name: &str, m: Member| {
            if !valid_name(name) {
                return Err(SchemaError::InvalidName { path: path.clone(), name: name.to_owned() });
            }
            match members.insert(name.into(), m) {
                Some(_) => Err(SchemaError::Duplicate { path: path.clone(), name: name.to_owned() }),
                None => Ok(()),
            }
        };

        // Own parameters, then the NumberOfEntries of each counted child
        // table (unless the model declared it itself).
        let mut own = b.params;
        for c in &b.children {
            if c.table.as_ref().is_some_and(|t| t.counted) {
                let name = format!("{}NumberOfEntries", c.name);
                if !own.iter().any(|p| p.name == name) {
                    own.push(ParamBuilder {
                        name,
                        ty: ParamType::unsigned_int(),
                        access: ParamAccess::ReadOnly,
                        default: None,
                        secured: false,
                        value_change: ValueChangePolicy::Allowed,
                    });
                }
            }
        }
        let mut params = Vec::with_capacity(own.len());
        for (slot, p) in own.into_iter().enumerate() {
            let pid = ParamId(self.params.len() as u32);
            claim(&mut members, &p.name, Member::Param(pid))?;
            let default = match &p.default {
                Some(text) => p.ty.parse(text).map_err(|source| SchemaError::BadDefault {
                    path: path.clone(),
                    name: p.name.clone(),
                    source,
                })?,
                None => p.ty.zero(),
            };
            self.params.push(ParamDef {
                name: p.name.into(),
                owner: id,
                ty: p.ty,
                access: p.access,
                default,
                secured: p.secured,
                value_change: p.value_change,
                slot: slot as u16,
            });
            params.push(pid);
        }

        let mut commands = Vec::new();
        for c in b.commands {
            if !valid_name(&c.name)
                || commands.iter().any(|x: &CommandId| *self.commands[x.index()].name == *c.name)
            {
                return Err(SchemaError::Duplicate { path: path.clone(), name: format!("{}()", c.name) });
            }
            let input = self.args(&path, c.input)?;
            let output = self.args(&path, c.output)?;
            commands.push(CommandId(self.commands.len() as u32));
            self.commands.push(CommandDef { name: c.name.into(), owner: id, kind: c.kind, input, output });
        }
        let mut events = Vec::new();
        for e in b.events {
            if !valid_name(&e.name)
                || events.iter().any(|x: &EventId| *self.events[x.index()].name == *e.name)
            {
                return Err(SchemaError::Duplicate { path: path.clone(), name: format!("{}!", e.name) });
            }
            let args = self.args(&path, e.args)?;
            events.push(EventId(self.events.len() as u32));
            self.events.push(EventDef { name: e.name.into(), owner: id, args });
        }

        let mut children = Vec::with_capacity(b.children.len());
        let mut counts = Vec::new();
        for (slot, c) in b.children.into_iter().enumerate() {
            let count = c.table.as_ref().filter(|t| t.counted).map(|_| format!("{}NumberOfEntries", c.name));
            let name = c.name.clone();
            let cid = self.add(c, Some(id), slot as u16)?;
            claim(&mut members, &name, Member::Object(cid))?;
            if let Some(count) = count {
                if let Some(Member::Param(pid)) = members.get(count.as_str()) {
                    counts.push((cid, *pid));
                }
            }
            children.push(cid);
        }

        let kind = match b.table {
            None => ObjectKind::Single { optional: b.optional },
            Some(t) => {
                let mut unique_keys = Vec::new();
                for (names, functional) in t.keys {
                    let mut ids = Vec::new();
                    for n in names {
                        match members.get(n.as_str()) {
                            Some(Member::Param(pid)) => ids.push(*pid),
                            _ => return Err(SchemaError::UnknownKey { path: path.clone(), name: n }),
                        }
                    }
                    unique_keys.push(UniqueKey { params: ids, functional });
                }
                ObjectKind::Table(TableDef {
                    access: t.access,
                    min_entries: t.min_entries,
                    max_entries: t.max_entries,
                    unique_keys,
                    count_param: None,
                })
            }
        };
        for (table, pid) in counts {
            if let ObjectKind::Table(t) = &mut self.objects[table.index()].kind {
                t.count_param = Some(pid);
            }
        }
        let obj = &mut self.objects[id.index()];
        obj.kind = kind;
        obj.params = params;
        obj.children = children;
        obj.commands = commands;
        obj.events = events;
        obj.members = members;
        Ok(id)
    }

    fn args(&self, path: &str, args: Vec<ArgBuilder>) -> Result<Vec<ArgDef>, SchemaError> {
        args.into_iter()
            .map(|a| {
                let default = match &a.default {
                    Some(text) => Some(a.ty.parse(text).map_err(|source| SchemaError::BadDefault {
                        path: path.to_owned(),
                        name: a.name.clone(),
                        source,
                    })?),
                    None => None,
                };
                Ok(ArgDef { name: a.name.into(), ty: a.ty, mandatory: a.mandatory, default })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_tree_with_ids_paths_keys_and_counts() {
        let mut b = SchemaBuilder::new();
        b.root().object("LocalAgent", |la| {
            la.param("EndpointID", ParamType::string());
            la.table("Controller", |c| {
                c.access(ObjAccess::AddDelete).entries(0, Some(4));
                c.unique_key(&["Alias"]).functional_key(&["EndpointID"]);
                c.param("Alias", ParamType::alias()).write_once();
                c.param("EndpointID", ParamType::string()).read_write();
                c.table("MTP", |m| {
                    m.param("Protocol", ParamType::string());
                });
            });
        });
        // Continuing an existing object from another "model".
        b.root().object("LocalAgent", |la| {
            la.param("SoftwareVersion", ParamType::string().max_len(64));
        });
        let s = b.build().unwrap();
        let Some(SchemaNode::Object(ctrl)) = s.lookup("Device.LocalAgent.Controller.{i}.") else { panic!() };
        assert_eq!(s.lookup("Device.LocalAgent.Controller."), Some(SchemaNode::Object(ctrl)));
        let def = s.object(ctrl);
        assert_eq!(def.supported_path(), "Device.LocalAgent.Controller.{i}.");
        assert_eq!(def.table_depth(), 1);
        let t = def.table().unwrap();
        assert_eq!(t.access, ObjAccess::AddDelete);
        assert_eq!(t.max_entries, Some(4));
        assert_eq!(t.unique_keys.len(), 2);
        assert_eq!(&*s.param(t.unique_keys[1].params[0]).name, "EndpointID");
        assert!(t.unique_keys[1].functional && !t.unique_keys[0].functional);
        let count = t.count_param.unwrap();
        assert_eq!(&*s.param(count).name, "ControllerNumberOfEntries");
        assert_eq!(s.lookup("Device.LocalAgent.ControllerNumberOfEntries"), Some(SchemaNode::Param(count)));
        let Some(SchemaNode::Object(mtp)) = s.lookup("Device.LocalAgent.Controller.{i}.MTP.{i}.") else {
            panic!()
        };
        assert_eq!(s.object(mtp).table_depth(), 2);
        assert!(s.lookup("Device.LocalAgent.Controller.{i}.MTPNumberOfEntries").is_some());
        assert!(s.lookup("Device.LocalAgent.SoftwareVersion").is_some());
        assert!(s.lookup("Device.LocalAgent.Controller.MTP.").is_none(), "mid-path {{i}} may not be omitted");
        assert!(s.lookup("Device.LocalAgent.Controller.1.").is_none());
        assert_eq!(s.relative_param(ctrl, "EndpointID"), s.param_named(ctrl, "EndpointID"));
        assert_eq!(s.relative_param(ctrl, "MTP.Protocol"), None, "never into a table");
    }

    #[test]
    fn build_errors() {
        let mut b = SchemaBuilder::new();
        b.root().param("1Bad", ParamType::string());
        assert!(matches!(b.build(), Err(SchemaError::InvalidName { .. })));

        let mut b = SchemaBuilder::new();
        b.root().param("X", ParamType::string()).default("x");
        b.root().object("X", |_| {});
        assert!(matches!(b.build(), Err(SchemaError::Duplicate { .. })));

        let mut b = SchemaBuilder::new();
        b.root().table("T", |t| {
            t.unique_key(&["Nope"]);
        });
        assert!(matches!(b.build(), Err(SchemaError::UnknownKey { .. })));

        let mut b = SchemaBuilder::new();
        b.root().param("N", ParamType::unsigned_int().range(1, 5)).default("9");
        let err = b.build().unwrap_err();
        assert!(matches!(err, SchemaError::BadDefault { source: ValueError::OutOfRange, .. }), "{err}");

        let mut b = SchemaBuilder::new();
        b.root().param("R", ParamType::string().strong_ref("Device.Nowhere."));
        assert!(matches!(b.build(), Err(SchemaError::BadRefTarget { .. })));

        let mut b = SchemaBuilder::new();
        fn nest(o: &mut ObjectBuilder, n: usize) {
            if n > 0 {
                o.table("T", |t| nest(t, n - 1));
            }
        }
        nest(b.root(), MAX_TABLE_DEPTH + 1);
        assert!(matches!(b.build(), Err(SchemaError::TooDeep { .. })));
    }

    #[test]
    fn defaults_commands_events_and_strong_refs() {
        let mut b = SchemaBuilder::new();
        b.root()
            .table("Role", |r| {
                r.param("Name", ParamType::string());
            })
            .param("Assigned", ParamType::string().list().strong_ref("Device.Role."))
            .read_write();
        b.root().param("Flag", ParamType::boolean()).default("1");
        b.root().command("Reboot", CommandKind::Sync, |_| {});
        b.root().command("Ping", CommandKind::Async, |c| {
            c.input("Host", ParamType::string()).mandatory();
            c.input("Count", ParamType::unsigned_int()).default("3");
            c.output("Rtt", ParamType::decimal());
        });
        b.root().event("Boot", |e| {
            e.arg("Cause", ParamType::string());
        });
        let s = b.build().unwrap();
        let Some(SchemaNode::Param(flag)) = s.lookup("Device.Flag") else { panic!() };
        assert_eq!(s.param(flag).default, crate::datamodel::Value::Boolean(true));
        let Some(SchemaNode::Command(ping)) = s.lookup("Device.Ping()") else { panic!() };
        let ping = s.command(ping);
        assert_eq!(ping.kind, CommandKind::Async);
        assert!(ping.input[0].mandatory);
        assert_eq!(ping.input[1].default, Some(crate::datamodel::Value::UnsignedInt(3)));
        assert!(matches!(s.lookup("Device.Boot!"), Some(SchemaNode::Event(_))));
        assert!(s.lookup("Device.Boot()").is_none());
        let Some(SchemaNode::Object(role)) = s.lookup("Device.Role.") else { panic!() };
        let Some(SchemaNode::Param(assigned)) = s.lookup("Device.Assigned") else { panic!() };
        assert_eq!(s.strong_refs_to(role), &[assigned]);
    }
}
