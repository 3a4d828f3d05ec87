//! TR-369 Path Names: the grammar of `../shared/usp/paths.md`.
//!
//! [`ast`] holds the parsed form shared by the parser, the resolver and the
//! agent. A path is parsed once into a [`Path`] and then resolved against a
//! data model; nothing downstream re-reads the string.
//!
//! * [`Path::parse`]: Instantiated Data Model paths (Get, Set, Add, Delete,
//!   Operate, GetInstances, subscriptions);
//! * [`Path::parse_supported`], [`Path::parse_registration`]: GetSupportedDM
//!   and Register/Deregister paths;
//! * [`RelPath::parse`]: relative parameter paths (`param` fields,
//!   `result_params` keys);
//! * `Display` on every AST type prints the canonical text;
//! * [`PathError`]: what is wrong and where; always USP error 7008.

pub mod ast;
mod build;
mod cursor;
mod dialect;
mod display;
mod error;
mod expr;
mod inspect;
mod parse;
mod relative;
mod supported;

pub use ast::{Constant, Expr, Leaf, Op, Path, RefItem, RelPath, Segment, Selector, Term};
pub use dialect::{Construct, Dialect};
pub use error::{Expected, PathError, PathErrorKind};
