//! Concrete places in the Instantiated Data Model: a schema id plus the
//! instance numbers of every table on the way down.
//!
//! `Device.Node.2.IoTCapability.1.LevelControl.Value` is
//! `ParamRef { obj: ObjRef { obj: <LevelControl>, inst: [2, 1] }, param: <Value> }`.
//! These are small `Copy` values: no strings, no allocation. The path text
//! is made only when a message needs it ([`Schema::obj_path`] and
//! friends).

use std::fmt;

use super::schema::{CommandId, EventId, MAX_TABLE_DEPTH, ObjId, ParamId, Schema};

/// The instance numbers along a path, outermost table first.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Instances {
    len: u8,
    // Invariant: entries at and beyond `len` are 0, so derived equality
    // and hashing see only the used part.
    nums: [u32; MAX_TABLE_DEPTH],
}

impl Instances {
    /// No instance numbers (objects outside any table).
    pub const EMPTY: Instances = Instances { len: 0, nums: [0; MAX_TABLE_DEPTH] };

    /// From a slice; `None` if longer than [`MAX_TABLE_DEPTH`].
    pub fn new(nums: &[u32]) -> Option<Instances> {
        let mut out = Instances::EMPTY;
        out.nums.get_mut(..nums.len())?.copy_from_slice(nums);
        out.len = nums.len() as u8;
        Some(out)
    }

    /// The numbers.
    pub fn as_slice(&self) -> &[u32] {
        &self.nums[..usize::from(self.len)]
    }

    /// How many numbers.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The last (innermost) number.
    pub fn last(&self) -> Option<u32> {
        self.as_slice().last().copied()
    }

    /// With `n` appended; `None` when full.
    pub fn push(mut self, n: u32) -> Option<Instances> {
        *self.nums.get_mut(usize::from(self.len))? = n;
        self.len += 1;
        Some(self)
    }

    /// The first `len` numbers.
    pub fn prefix(mut self, len: usize) -> Instances {
        for n in self.nums.iter_mut().skip(len) {
            *n = 0;
        }
        self.len = self.len.min(len as u8);
        self
    }
}

impl fmt::Debug for Instances {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// An object instance: a single-instance object, or a row of a table.
///
/// `inst.len()` equals the object's [`table_depth`](super::ObjectDef::table_depth).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ObjRef {
    /// The schema object.
    pub obj: ObjId,
    /// Instance numbers of every table on the way, this one included.
    pub inst: Instances,
}

/// A table as a whole (`Device.IoTCapability.`): the table's schema object
/// and the instance numbers of the tables above it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TableRef {
    /// The table's schema object.
    pub table: ObjId,
    /// Instance numbers of the enclosing tables.
    pub parent: Instances,
}

/// A parameter of an object instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParamRef {
    /// The object instance.
    pub obj: ObjRef,
    /// The parameter (a parameter of `obj.obj`).
    pub param: ParamId,
}

/// A command of an object instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CommandRef {
    /// The object instance.
    pub obj: ObjRef,
    /// The command (of `obj.obj`).
    pub command: CommandId,
}

/// An event of an object instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventRef {
    /// The object instance.
    pub obj: ObjRef,
    /// The event (of `obj.obj`).
    pub event: EventId,
}

/// Any concrete place a path can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// An object or table row (path ends in `.`).
    Object(ObjRef),
    /// A table as a whole (path ends in `<Table>.`).
    Table(TableRef),
    /// A parameter.
    Param(ParamRef),
    /// A command.
    Command(CommandRef),
    /// An event.
    Event(EventRef),
}

impl ObjRef {
    /// The object `obj` at instance numbers `inst`.
    pub fn new(obj: ObjId, inst: Instances) -> ObjRef {
        ObjRef { obj, inst }
    }

    /// A parameter of this instance.
    pub fn param(self, param: ParamId) -> ParamRef {
        ParamRef { obj: self, param }
    }

    /// A command of this instance.
    pub fn command(self, command: CommandId) -> CommandRef {
        CommandRef { obj: self, command }
    }

    /// An event of this instance.
    pub fn event(self, event: EventId) -> EventRef {
        EventRef { obj: self, event }
    }
}

impl TableRef {
    /// Row `n` of the table; `None` past [`MAX_TABLE_DEPTH`].
    pub fn row(self, n: u32) -> Option<ObjRef> {
        Some(ObjRef { obj: self.table, inst: self.parent.push(n)? })
    }
}

impl Schema {
    /// `Device.` as an [`ObjRef`].
    pub fn root_ref(&self) -> ObjRef {
        ObjRef::new(self.root(), Instances::EMPTY)
    }

    /// The table holding `row`, when `row` is a table row.
    pub fn table_of(&self, row: &ObjRef) -> Option<TableRef> {
        self.object(row.obj)
            .is_table()
            .then(|| TableRef { table: row.obj, parent: row.inst.prefix(row.inst.len().saturating_sub(1)) })
    }

    /// The object containing `obj` (for a row: the table's parent object).
    pub fn parent_of(&self, obj: &ObjRef) -> Option<ObjRef> {
        let parent = self.object(obj.obj).parent()?;
        Some(ObjRef { obj: parent, inst: obj.inst.prefix(self.object(parent).table_depth()) })
    }

    /// The child `child` of `obj` as a reference: a single-instance child
    /// as an [`ObjRef`], a child table as a [`TableRef`].
    pub fn child_target(&self, obj: &ObjRef, child: ObjId) -> Target {
        if self.object(child).is_table() {
            Target::Table(TableRef { table: child, parent: obj.inst })
        } else {
            Target::Object(ObjRef { obj: child, inst: obj.inst })
        }
    }

    /// Appends the object path with instance numbers and the trailing dot
    /// (`Device.Node.2.IoTCapability.1.LevelControl.`).
    pub fn write_obj_path(&self, obj: &ObjRef, out: &mut String) {
        self.write_chain(obj.obj, obj.inst.as_slice(), true, out);
    }

    /// The object path (see [`Schema::write_obj_path`]).
    pub fn obj_path(&self, obj: &ObjRef) -> String {
        let mut s = String::with_capacity(64);
        self.write_obj_path(obj, &mut s);
        s
    }

    /// The table path (`Device.Node.2.IoTCapability.`).
    pub fn table_path(&self, table: &TableRef) -> String {
        let mut s = String::with_capacity(64);
        self.write_chain(table.table, table.parent.as_slice(), false, &mut s);
        s
    }

    /// The full parameter path (`Device.Node.2.IoTCapability.1.LevelControl.Value`).
    pub fn param_path(&self, param: &ParamRef) -> String {
        let mut s = String::with_capacity(80);
        self.write_obj_path(&param.obj, &mut s);
        s.push_str(&self.param(param.param).name);
        s
    }

    /// The full command path, with `()`.
    pub fn command_path(&self, command: &CommandRef) -> String {
        let mut s = self.obj_path(&command.obj);
        s.push_str(&self.command(command.command).name);
        s.push_str("()");
        s
    }

    /// The full event path, with `!`.
    pub fn event_path(&self, event: &EventRef) -> String {
        let mut s = self.obj_path(&event.obj);
        s.push_str(&self.event(event.event).name);
        s.push('!');
        s
    }

    /// The path of any target.
    pub fn target_path(&self, target: &Target) -> String {
        match target {
            Target::Object(o) => self.obj_path(o),
            Target::Table(t) => self.table_path(t),
            Target::Param(p) => self.param_path(p),
            Target::Command(c) => self.command_path(c),
            Target::Event(e) => self.event_path(e),
        }
    }

    /// Names along the ancestry of `obj`, with an instance number after
    /// each table (the last table's only when `last_instance`).
    fn write_chain(&self, obj: ObjId, nums: &[u32], last_instance: bool, out: &mut String) {
        use std::fmt::Write as _;
        let ancestry = self.object(obj).ancestry();
        let mut nums = nums.iter();
        for (i, &id) in ancestry.iter().enumerate() {
            let def = self.object(id);
            out.push_str(def.name());
            out.push('.');
            let is_last = i + 1 == ancestry.len();
            if def.is_table() && (!is_last || last_instance) {
                if let Some(n) = nums.next() {
                    let _ = write!(out, "{n}.");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datamodel::{ParamType, SchemaNode};

    #[test]
    fn instances_invariants() {
        let a = Instances::new(&[2, 1]).unwrap();
        assert_eq!(a.as_slice(), &[2, 1]);
        assert_eq!(a.prefix(1), Instances::new(&[2]).unwrap());
        assert_eq!(Instances::new(&[2]).unwrap().push(1), Some(a));
        assert_eq!(a.last(), Some(1));
        assert!(Instances::new(&[1; MAX_TABLE_DEPTH + 1]).is_none());
        let full = Instances::new(&[1; MAX_TABLE_DEPTH]).unwrap();
        assert_eq!(full.push(1), None);
        assert_eq!(format!("{a:?}"), "[2, 1]");
    }

    #[test]
    fn formats_paths() {
        let mut b = Schema::builder();
        b.root().table("Node", |n| {
            n.table("IoTCapability", |c| {
                c.object("LevelControl", |l| {
                    l.param("Value", ParamType::decimal());
                    l.command("StepUp", crate::datamodel::CommandKind::Async, |_| {});
                });
            });
        });
        let s = b.build().unwrap();
        let Some(SchemaNode::Param(value)) = s.lookup("Device.Node.{i}.IoTCapability.{i}.LevelControl.Value")
        else {
            panic!()
        };
        let lc = s.param(value).owner;
        let obj = ObjRef::new(lc, Instances::new(&[2, 1]).unwrap());
        assert_eq!(s.obj_path(&obj), "Device.Node.2.IoTCapability.1.LevelControl.");
        assert_eq!(s.param_path(&obj.param(value)), "Device.Node.2.IoTCapability.1.LevelControl.Value");
        let step = s.command_named(lc, "StepUp").unwrap();
        assert_eq!(s.command_path(&obj.command(step)), "Device.Node.2.IoTCapability.1.LevelControl.StepUp()");
        let row = s.parent_of(&obj).unwrap();
        assert_eq!(s.obj_path(&row), "Device.Node.2.IoTCapability.1.");
        let table = s.table_of(&row).unwrap();
        assert_eq!(s.table_path(&table), "Device.Node.2.IoTCapability.");
        assert_eq!(table.row(7).map(|r| s.obj_path(&r)).as_deref(), Some("Device.Node.2.IoTCapability.7."));
        let node = s.parent_of(&row).unwrap();
        assert_eq!(s.obj_path(&node), "Device.Node.2.");
        assert_eq!(s.obj_path(&s.parent_of(&node).unwrap()), "Device.");
        assert_eq!(s.parent_of(&s.root_ref()), None);
    }
}
