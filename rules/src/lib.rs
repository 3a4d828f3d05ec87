//! # usp-rules
//!
//! The uspmesh rules engine core (work in progress).

pub mod expr;
pub mod load;
pub mod model;
pub(crate) mod pattern;
pub mod schedule;
pub mod time;

pub use load::{LoadError, LoadErrorKind, LoadErrors, Source, load, load_dir, load_with_tags};
pub use model::RuleSet;
pub use pattern::PatternError;
