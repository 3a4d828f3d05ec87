//! # usp-rules
//!
//! The uspmesh rules engine (placeholder doc; rewritten below).

pub mod engine;
pub mod expr;
pub mod load;
pub mod metrics;
pub mod model;
pub(crate) mod pattern;
pub mod schedule;
pub mod store;
pub mod time;
pub mod trace;

pub use engine::{Engine, EngineConfig, Fuse, Stats};
pub use load::{LoadError, LoadErrorKind, LoadErrors, Source, load, load_dir, load_with_tags};
pub use model::RuleSet;
pub use pattern::PatternError;
pub use store::{Store, StoreError};
