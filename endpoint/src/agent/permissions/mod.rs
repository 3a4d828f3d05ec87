//! ControllerTrust: what each Controller may do (agent-datamodel.md §7).
//!
//! A Controller's rights come from its Roles (`Controller.{i}.AssignedRole`
//! ∪ `InheritedRole`, or the `UntrustedRole` when it has none). Each Role's
//! enabled `Permission.{i}` rows grant four `rwxn` strings — `Param`,
//! `Obj`, `InstantiatedObj`, `CommandEvent` — on their `Targets`. For one
//! element, inside a Role the covering row with the highest `Order` wins;
//! across Roles the winners are OR-ed; no covering row means no right
//! (§7.3).
//!
//! * [`Rights`], [`Grant`], [`Category`]: the permission strings;
//! * `role.rs`: a Role compiled from its rows — each target parsed once
//!   into a schema scope (a subtree, or one parameter, command or event)
//!   and, when it names instances (`Device.IoTCapability.3.`, a search
//!   expression), the path checked against concrete places with
//!   [`DataModel::covers`];
//! * [`Access`]: one Controller's compiled Roles, answering "which rights
//!   on this element"; a Role whose highest row covers all of `Device.`
//!   makes the answer constant (the usual full-access case costs nothing);
//! * `trust.rs`: the cache of Accesses per Endpoint ID, dropped whenever a
//!   Controller or ControllerTrust row changes;
//! * `view.rs`: the [`Visibility`](crate::datamodel::Visibility) views
//!   resolution uses, so that what a Controller cannot read is absent;
//! * [`setup`]: helpers to create Roles (a [`setup::full_access_role`]
//!   among them) and trusted Controller rows.
//!
//! How each message uses it (paths.md §6, records-and-messages.md):
//!
//! | message | check | refused |
//! |---|---|---|
//! | Get | Param `r` per parameter; InstantiatedObj `r` for rows reached through `*`, searches and partial paths | absent: 7026 / omitted |
//! | GetInstances | InstantiatedObj `r` per row; Param `r` per unique key | absent / omitted |
//! | GetSupportedDM | Obj / Param / CommandEvent `r` | absent (7026) |
//! | Set | Param `w` | 7006 on the parameter |
//! | Add | Obj `w` on the table; Param `w` per parameter | 7006 |
//! | Delete | InstantiatedObj `w` | 7006 |
//! | Operate | CommandEvent `x` | `cmd_failure` 7006 |
//! | Notify | Param `n` (ValueChange), Obj `n` (ObjectCreation), InstantiatedObj `n` (ObjectDeletion), CommandEvent `n` (OperationComplete, Event) | not sent |
//!
//! Choices: `Obj r` governs only GetSupportedDM, as the table of §7.2
//! says — an object path in a Get needs no `Obj r`, only readable
//! parameters below. A target may be written with or without its trailing
//! dot (`Device.LocalAgent` ≡ `Device.LocalAgent.`) and with `{i}` for
//! "every instance". For "could this element be readable at all" (the
//! schema checks of resolution and GSDM) a Role counts as granting a right
//! if its winning instance-independent row does, or if any higher-ordered
//! instance-specific row does — the concrete check follows per instance.

mod role;
pub mod setup;
mod trust;
mod view;

use std::fmt;
use std::sync::Arc;

pub(crate) use role::CompiledRole;
pub(crate) use trust::{Peer, Trust};
pub(crate) use view::{ReadView, SupportedView};

use crate::datamodel::{DataModel, SchemaNode, Target};

/// A set of the four rights `r`, `w`, `x`, `n`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rights(u8);

impl Rights {
    /// No right (`----`).
    pub const NONE: Rights = Rights(0);
    /// `r`: read.
    pub const READ: Rights = Rights(1);
    /// `w`: write (Set, Add, Delete).
    pub const WRITE: Rights = Rights(2);
    /// `x`: execute (Operate).
    pub const EXECUTE: Rights = Rights(4);
    /// `n`: be notified.
    pub const NOTIFY: Rights = Rights(8);
    /// `rwxn`.
    pub const ALL: Rights = Rights(15);

    /// Parses a 4-character permission string: position 1 `r` or `-`, 2
    /// `w`/`-`, 3 `x`/`-`, 4 `n`/`-`. `None` for anything else.
    pub fn parse(s: &str) -> Option<Rights> {
        let b = s.as_bytes();
        if b.len() != 4 {
            return None;
        }
        let mut bits = 0u8;
        for (i, (&c, letter)) in b.iter().zip(*b"rwxn").enumerate() {
            match c {
                b'-' => {}
                c if c == letter => bits |= 1 << i,
                _ => return None,
            }
        }
        Some(Rights(bits))
    }

    /// True if every right of `other` is in `self`.
    pub fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets together.
    pub fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }
}

impl fmt::Display for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, letter) in "rwxn".chars().enumerate() {
            let c = if self.0 & (1 << i) != 0 { letter } else { '-' };
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rights({self})")
    }
}

/// Which of a Permission row's four strings applies to an element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// `Param`: parameters.
    Param,
    /// `Obj`: objects and tables of the Supported DM.
    Obj,
    /// `InstantiatedObj`: table rows.
    InstantiatedObj,
    /// `CommandEvent`: commands and events.
    CommandEvent,
}

/// The four strings of a Permission row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Grant {
    /// `Param`.
    pub param: Rights,
    /// `Obj`.
    pub obj: Rights,
    /// `InstantiatedObj`.
    pub instantiated_obj: Rights,
    /// `CommandEvent`.
    pub command_event: Rights,
}

impl Grant {
    /// `rwxn` in all four.
    pub const ALL: Grant = Grant {
        param: Rights::ALL,
        obj: Rights::ALL,
        instantiated_obj: Rights::ALL,
        command_event: Rights::ALL,
    };

    /// The string for `category`.
    pub fn get(&self, category: Category) -> Rights {
        match category {
            Category::Param => self.param,
            Category::Obj => self.obj,
            Category::InstantiatedObj => self.instantiated_obj,
            Category::CommandEvent => self.command_event,
        }
    }

    /// Both grants together (across Roles).
    pub fn union(self, other: Grant) -> Grant {
        Grant {
            param: self.param.union(other.param),
            obj: self.obj.union(other.obj),
            instantiated_obj: self.instantiated_obj.union(other.instantiated_obj),
            command_event: self.command_event.union(other.command_event),
        }
    }
}

/// The schema node of a concrete place.
pub(crate) fn node_of(target: &Target) -> SchemaNode {
    match target {
        Target::Object(o) => SchemaNode::Object(o.obj),
        Target::Table(t) => SchemaNode::Object(t.table),
        Target::Param(p) => SchemaNode::Param(p.param),
        Target::Command(c) => SchemaNode::Command(c.command),
        Target::Event(e) => SchemaNode::Event(e.event),
    }
}

/// What one Controller may do: its compiled Roles.
#[derive(Debug)]
pub struct Access {
    roles: Vec<Arc<CompiledRole>>,
    /// Set when every element gets the same grant (each Role's highest
    /// row covers all of `Device.`): checks are then free.
    uniform: Option<Grant>,
    /// The Controller holds one of the `SecuredRoles`: it reads `secured`
    /// parameters' values.
    secured: bool,
}

impl Access {
    pub(crate) fn new(roles: Vec<Arc<CompiledRole>>, secured: bool) -> Access {
        let uniform =
            roles.iter().map(|r| r.uniform()).try_fold(Grant::default(), |acc, g| g.map(|g| acc.union(g)));
        Access { roles, uniform, secured }
    }

    /// Full rights on everything (the Agent's own view).
    pub fn everything() -> Access {
        Access { roles: Vec::new(), uniform: Some(Grant::ALL), secured: true }
    }

    /// No right on anything.
    pub fn nothing() -> Access {
        Access { roles: Vec::new(), uniform: Some(Grant::default()), secured: false }
    }

    /// True when the Controller reads `secured` values.
    pub fn sees_secured(&self) -> bool {
        self.secured
    }

    /// The grant when it is the same for every element.
    pub fn uniform(&self) -> Option<Grant> {
        self.uniform
    }

    /// The rights in `category` on a concrete place.
    pub fn rights(&self, dm: &DataModel, category: Category, target: &Target) -> Rights {
        if let Some(g) = self.uniform {
            return g.get(category);
        }
        let node = node_of(target);
        self.roles.iter().fold(Rights::NONE, |acc, role| {
            acc.union(role.winner(dm, node, target).map_or(Rights::NONE, |g| g.get(category)))
        })
    }

    /// Whether the Controller holds `right` in `category` on `target`.
    pub fn allows(&self, dm: &DataModel, category: Category, target: &Target, right: Rights) -> bool {
        self.rights(dm, category, target).contains(right)
    }

    /// The rights in `category` the Controller may hold on some instance
    /// of schema element `node` (an upper bound; see the module docs).
    pub fn possible(
        &self,
        category: Category,
        node: SchemaNode,
        schema: &crate::datamodel::Schema,
    ) -> Rights {
        if let Some(g) = self.uniform {
            return g.get(category);
        }
        self.roles.iter().fold(Rights::NONE, |acc, role| acc.union(role.possible(schema, node, category)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_parse_and_print() {
        assert_eq!(Rights::parse("rwxn"), Some(Rights::ALL));
        assert_eq!(Rights::parse("----"), Some(Rights::NONE));
        let r = Rights::parse("r-xn").unwrap();
        assert!(r.contains(Rights::READ) && r.contains(Rights::EXECUTE) && r.contains(Rights::NOTIFY));
        assert!(!r.contains(Rights::WRITE));
        assert_eq!(r.to_string(), "r-xn");
        for bad in ["", "rwx", "rwxnn", "wrxn", "RWXN", "r x "] {
            assert_eq!(Rights::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Rights::READ.union(Rights::NOTIFY).to_string(), "r--n");
    }
}
