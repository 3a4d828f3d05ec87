//! The appliance `uspmesh serve` runs: the embedded broker, the rules
//! engine as the Controller `self::<site>-rules`, the cloud bridge and the
//! NATS node when configured, the Prometheus endpoint
//! and the admin API, from one TOML file.
//!
//! | file | holds |
//! |---|---|
//! | `config.rs` | [`ApplianceConfig`]: the TOML file, its defaults, errors with file:line:column |
//! | `serve.rs` | [`Appliance::start`]: the assembly, in order |
//! | `admin.rs` | the HTTP endpoints: `/metrics` and the `/v1/…` admin API |
//! | `upstream.rs` | rule `publish` events to the bridge and NATS (their JSON shape) |
//! | `schedule_gate.rs` | on a NATS mesh, each schedule firing is claimed once (a lease) and run by one node (the site's job queue group) |
//! | `metrics.rs` | the process's Prometheus recorder |
//! | `reload.rs` | [`Appliance::reload_rules`]: the rules directory again, all or nothing |
//! | `shutdown.rs` | [`Appliance::shutdown`]: the graceful stop |
//! | `logging.rs` | the `tracing` subscriber |

mod admin;
pub mod config;
pub mod logging;
pub mod metrics;
mod reload;
mod schedule_gate;
mod serve;
mod shutdown;
mod upstream;

pub use config::{ApplianceConfig, ConfigError, DEFAULT_ADMIN_ADDR};
pub use reload::ReloadError;
pub use serve::{Appliance, CLI_CONTROLLER_ID, StartError, StartOptions};
pub use shutdown::{DRAIN_LIMIT, ShutdownReport};
