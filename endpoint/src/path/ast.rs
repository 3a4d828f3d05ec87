//! The parsed form of a Path Name.
//!
//! ```text
//! Device.IoTCapability.[Class=="LevelSensor"&&LevelSensor.Value>20.5].LevelSensor.Value
//! └ Name(Device) └ Name(IoTCapability)
//!                      └ Instance(Search(Expr[Term{Class == "LevelSensor"}, Term{LevelSensor.Value > 20.5}]))
//!                                                                  └ Name(LevelSensor)  leaf: Param(Value)
//! ```
//!
//! The same types describe Supported-Data-Model paths, where the only
//! instance selector allowed is [`Selector::AnyInstance`] (`{i}`) or a
//! number (an instantiated path given to GetSupportedDM).

/// A parsed Path Name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path {
    /// The object part, from the root name (`Device`) down: object names,
    /// instance selectors (each right after a table name) and reference
    /// hops.
    pub segments: Vec<Segment>,
    /// What the path ends in.
    pub leaf: Leaf,
}

/// One step of a path's object part.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// An object name, e.g. `Device`, `IoTCapability`, `LevelSensor`.
    Name(String),
    /// An instance selector; follows the name of a multi-instance object.
    Instance(Selector),
    /// A reference hop: the parameter `name` of the current object holds a
    /// path to an object, which the rest of the path continues from
    /// (`Interface+`, `AssignedRole#2+`, `AssignedRole#*+`).
    Reference {
        /// The reference parameter's name.
        name: String,
        /// Which item of the (possibly list-valued) reference to follow.
        item: RefItem,
    },
}

/// How a path picks instances of a table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Selector {
    /// An instance number: positive, no leading zeros.
    Number(u32),
    /// `*`: every instance.
    Wildcard,
    /// `[expr]`: the instances for which every term holds. A complete
    /// unique key written this way addresses (0 or 1 instance); anything
    /// else searches.
    Search(Expr),
    /// `{i}`: any instance, in Supported-Data-Model paths only.
    AnyInstance,
}

/// Which item of a reference parameter a hop follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefItem {
    /// `Name+`: the first (or only) item.
    First,
    /// `Name#n+`: the n-th item, 1-based.
    Index(u32),
    /// `Name#*+`: every item (search semantics).
    All,
}

/// What a path ends in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Leaf {
    /// The path ends in `.`: an object, a table, or an instance.
    Object,
    /// A parameter name (no trailing dot).
    Param(String),
    /// A command; the name without its `()`.
    Command(String),
    /// An event; the name without its `!`.
    Event(String),
}

/// A search expression: terms joined by `&&` (there is no OR in USP).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Expr {
    /// At least one term.
    pub terms: Vec<Term>,
}

/// One comparison of a search expression, `param op value`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Term {
    /// The parameter compared, relative to the instance being tested.
    pub param: RelPath,
    /// The operator.
    pub op: Op,
    /// The constant, still untyped: it is checked against the parameter's
    /// type when the path is resolved (TR-369 typing rules).
    pub value: Constant,
}

/// A parameter path relative to an instance, as used in search
/// expressions: through single-instance sub-objects and reference hops,
/// never into a child table (`Stats.ErrorsSent`, `SSIDReference+.SSID`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RelPath {
    /// Object steps before the parameter: only [`Segment::Name`] and
    /// [`Segment::Reference`].
    pub objects: Vec<Segment>,
    /// The parameter's name.
    pub param: String,
}

/// A search-expression operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `~=`: a list-valued parameter has an item equal to the constant.
    Contains,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
}

/// A search-expression constant, as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Constant {
    /// A double-quoted literal, `%22` and `%25` already decoded.
    Quoted(String),
    /// An unquoted token (number, boolean, dateTime, hexBinary ...),
    /// whitespace trimmed.
    Bare(String),
}
