//! Tests of the data model: schema and GSDM derivation, the store,
//! providers, the models, and path resolution against the paths.md §7
//! room.

mod covers;
mod gsdm;
mod models;
mod provider;
mod resolve_examples;
mod resolve_more;
mod room;
mod store;
mod writes;
