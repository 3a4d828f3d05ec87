//! Resolving paths against the data model (paths.md §6).
//!
//! * [`DataModel::resolve`] / [`DataModel::resolve_with`]: an
//!   Instantiated-DM [`Path`] (already parsed: lexical errors, 7008, are
//!   the parser's) → [`Resolution`]: whether it was an addressing or a
//!   search path and the concrete objects, tables, parameters, commands or
//!   events it names. Schema check first (7026, independent of the data),
//!   then expansion level by level: instance numbers, `*`, search
//!   expressions (a complete unique key is an index lookup and counts as
//!   addressing), reference hops `+`, `#n+`, `#*+`.
//! * [`DataModel::resolve_supported`]: a Supported-DM path (GSDM) →
//!   [`SchemaNode`].
//! * [`DataModel::lookup`]: a concrete path string (reference values,
//!   provider reports) → [`Target`].
//! * [`DataModel::covers`]: does a (search) path match this concrete
//!   parameter / row / command / event? — for subscriptions, evaluated
//!   along the target's own ancestry, without expanding the path.
//!
//! An addressing path whose object does not exist resolves to an empty
//! result of kind [`PathKind::Addressing`]; the handler maps that to its
//! message's code (Get 7026, Set/Operate/GetInstances 7016, …).

mod concrete;
mod covers;
mod engine;
mod expr;
mod supported;

use usp_proto::ErrCode;

pub use concrete::LookupError;

use super::DataModel;
use super::refs::{CommandRef, EventRef, ObjRef, ParamRef, TableRef, Target};
use super::schema::SchemaNode;
use super::value::ComparisonError;
use crate::path::Path;

/// What a Controller may see; resolution treats anything it may not see as
/// absent. The default methods see everything ([`Everything`]).
pub trait Visibility {
    /// May the Controller see this Supported-DM element (Obj / Param /
    /// CommandEvent `r`)? If not, a path naming it fails with 7026
    /// (R-GET.1, R-GSP.0).
    fn schema_node(&self, node: SchemaNode) -> bool {
        let _ = node;
        true
    }

    /// May the Controller see this row when a `*` or a search expression
    /// selects it (InstantiatedObj `r`)? If not, the row is skipped.
    fn instance(&self, row: &ObjRef) -> bool {
        let _ = row;
        true
    }

    /// May the Controller read this parameter? Rows whose search-expression
    /// parameter it cannot read do not match (R-GIN.0, applied to every
    /// message).
    fn param(&self, param: &ParamRef) -> bool {
        let _ = param;
        true
    }
}

/// Sees everything (the Agent's own view).
#[derive(Clone, Copy, Debug, Default)]
pub struct Everything;

impl Visibility for Everything {}

/// Whether a path addresses (0 or 1 object) or searches (0..n).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathKind {
    /// Instance numbers and single reference hops only.
    Addressing,
    /// Addressing in which at least one level is a complete unique key
    /// (`[Name=="r101-temp"]`, `[ID=="x"&&Recipient=="…"]`): at most one
    /// object, found by an index lookup (paths.md §4.2). Kept apart from
    /// [`PathKind::Addressing`] because TR-369 writes it as a search
    /// expression and paths.md §7 #7 answers a Get of a key that matches
    /// nothing with `err_code 0`, like a search (OBUSPA does the same);
    /// see [`Resolution::is_missing`].
    KeyAddressing,
    /// Has a `*`, a search expression that is not a complete unique key,
    /// or a `#*+` hop.
    Search,
}

/// What a path resolved to, all of one kind (the path's leaf decides).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Matches {
    /// Object or row instances (path ends in `.` after an object, an
    /// instance selector or a reference hop).
    Objects(Vec<ObjRef>),
    /// Tables as a whole (path ends in `.` right after a table's name).
    Tables(Vec<TableRef>),
    /// Parameters.
    Params(Vec<ParamRef>),
    /// Commands.
    Commands(Vec<CommandRef>),
    /// Events.
    Events(Vec<EventRef>),
}

impl Matches {
    /// Number of matches.
    pub fn len(&self) -> usize {
        match self {
            Matches::Objects(v) => v.len(),
            Matches::Tables(v) => v.len(),
            Matches::Params(v) => v.len(),
            Matches::Commands(v) => v.len(),
            Matches::Events(v) => v.len(),
        }
    }

    /// True when nothing matched.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The matches as [`Target`]s.
    pub fn into_targets(self) -> Vec<Target> {
        match self {
            Matches::Objects(v) => v.into_iter().map(Target::Object).collect(),
            Matches::Tables(v) => v.into_iter().map(Target::Table).collect(),
            Matches::Params(v) => v.into_iter().map(Target::Param).collect(),
            Matches::Commands(v) => v.into_iter().map(Target::Command).collect(),
            Matches::Events(v) => v.into_iter().map(Target::Event).collect(),
        }
    }
}

/// The result of resolving an Instantiated-DM path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// Addressing or search.
    pub kind: PathKind,
    /// What it matched, in instance-number order.
    pub matches: Matches,
}

impl Resolution {
    /// True for search paths.
    pub fn is_search(&self) -> bool {
        self.kind == PathKind::Search
    }

    /// True for an instance-number addressing path that named nothing that
    /// exists: the "instance absent" row of paths.md §6 (Get 7026,
    /// Set/Operate/GetInstances 7016, …).
    ///
    /// Choice: a [`PathKind::KeyAddressing`] path that matches nothing is
    /// not "missing" — handlers answer it like a search with no match
    /// (paths.md §7 #7). A handler that wants the stricter reading tests
    /// `kind != Search && matches.is_empty()`.
    pub fn is_missing(&self) -> bool {
        self.kind == PathKind::Addressing && self.matches.is_empty()
    }
}

/// A path that cannot be resolved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// An element is not in the Supported Data Model (or not visible), or
    /// an instance selector follows something that is not a table, or a
    /// table name is followed by a name without an instance selector.
    #[error("{0}: not in the supported data model")]
    NotSupported(String),
    /// `{i}` in an Instantiated-DM path.
    #[error("{{i}} is only allowed in supported-data-model paths")]
    AnyInstance,
    /// `*`, a search expression or a reference hop in a Supported-DM
    /// path.
    #[error("instance searches and references are not allowed in supported-data-model paths")]
    SupportedSelector,
    /// A search-expression term whose operator or constant does not fit
    /// the parameter's type.
    #[error("{0}")]
    Comparison(#[from] ComparisonError),
    /// A search-expression parameter inside a child table.
    #[error("search expression parameter {0} is inside a table")]
    ExpressionIntoTable(String),
    /// A followed reference that does not hold a path to an object.
    #[error("{0} does not hold a path to an object")]
    NotAnObjectReference(String),
    /// A Supported-DM path with instance numbers whose instance does not
    /// exist.
    #[error("object does not exist")]
    NotFound,
}

impl ResolveError {
    /// The USP error code: 7026 for schema mismatches, 7016 for a missing
    /// instance in a GSDM path, 7008 for the rest (type/operator
    /// mismatches and malformed references, as OBUSPA reports them).
    pub fn code(&self) -> ErrCode {
        match self {
            ResolveError::NotSupported(_) => ErrCode::INVALID_PATH,
            ResolveError::NotFound => ErrCode::OBJECT_DOES_NOT_EXIST,
            ResolveError::AnyInstance
            | ResolveError::SupportedSelector
            | ResolveError::Comparison(_)
            | ResolveError::ExpressionIntoTable(_)
            | ResolveError::NotAnObjectReference(_) => ErrCode::INVALID_PATH_SYNTAX,
        }
    }
}

impl DataModel {
    /// Resolves an Instantiated-DM path as the Agent sees the data model.
    pub fn resolve(&self, path: &Path) -> Result<Resolution, ResolveError> {
        self.resolve_with(path, &Everything)
    }

    /// Resolves an Instantiated-DM path as a Controller sees it.
    ///
    /// Rows lacking a search-expression parameter (an absent optional
    /// sub-object, e.g. `[LevelSensor.Value>20]` on a BinarySensor row)
    /// do not match; the path is not an error (paths.md §4.4 ambiguity).
    pub fn resolve_with<V: Visibility + ?Sized>(
        &self,
        path: &Path,
        vis: &V,
    ) -> Result<Resolution, ResolveError> {
        engine::Engine::new(self, vis).resolve(path)
    }
}
