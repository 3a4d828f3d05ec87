//! The appliance's library half: how the crates are wired together.
//!
//! The binary (`main.rs`) is the command line; what it starts is assembled
//! by [`appliance`] from [`wiring`], which is also what the end-to-end tests and benches use,
//! so they run the appliance's own glue rather than a copy of it.

pub mod appliance;
pub mod wiring;
