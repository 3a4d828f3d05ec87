//! TR-369 Path Names: the grammar of `../shared/usp/paths.md`.
//!
//! [`ast`] holds the parsed form shared by the parser, the resolver and the
//! agent. A path is parsed once into a [`Path`] and then resolved against a
//! data model; nothing downstream re-reads the string.

pub mod ast;

pub use ast::{Constant, Expr, Leaf, Op, Path, RefItem, RelPath, Segment, Selector, Term};
