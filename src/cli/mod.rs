//! Command-line interface: argument definitions and dispatch.
//!
//! | file | holds |
//! |---|---|
//! | `codec.rs`, `input.rs`, `text.rs` | `decode` / `encode` |
//! | `args.rs` | the options every networked command shares (`--broker`, TLS, `--to`, `--from`, `--timeout`, `--json`) |
//! | `broker_url.rs` | `mqtt://`, `mqtts://`, `ws://`, `wss://` addresses |
//! | `duration.rs`, `settings.rs` | `10s`-style durations; `PATH=VALUE` and `NAME=VALUE` arguments |
//! | `session.rs` | a Controller session over MQTT or WebSocket, and what its failures mean for the user |
//! | `error.rs` | [`CliError`] and its exit statuses, [`UspFailure`] |
//! | `render.rs` | readable and JSON forms shared by the commands |
//! | `progress.rs` | progress on a terminal's standard error |
//! | `get.rs`, `set.rs`, `add.rs`, `delete.rs`, `operate.rs`, `instances.rs`, `supported_dm.rs`, `supported_protocol.rs`, `watch.rs` | one Controller command each |
//! | `sim.rs` | `uspmesh sim` (the building itself is in `crate::sim`) |
//! | `serve.rs` | `uspmesh serve` (the appliance itself is `uspmesh::appliance`) |
//! | `demo.rs` | `uspmesh demo`: serve + sim + the example rules, with a live view |
//! | `admin_client.rs`, `endpoints.rs`, `rules.rs` | `uspmesh endpoints`, `uspmesh rules …` through the admin API |
//!
//! Exit statuses: 0 success; 1 the Agent answered with a USP error (or the
//! input could not be read); 2 the command line is wrong; 3 the broker or
//! the Agent could not be reached in time.

mod add;
mod admin_client;
mod args;
mod broker_url;
mod codec;
mod delete;
mod demo;
mod duration;
mod endpoints;
mod error;
mod get;
mod input;
mod instances;
mod operate;
mod progress;
mod render;
mod rules;
mod serve;
mod session;
mod set;
mod settings;
mod sim;
mod supported_dm;
mod supported_protocol;
mod text;
mod watch;

use clap::{Parser, Subcommand};

pub(crate) use args::DEFAULT_CONTROLLER_ID;
pub(crate) use broker_url::BrokerUrl;
pub(crate) use error::{CliError, UspFailure};

/// uspmesh — an on-premise USP (TR-369) broker and automation mesh for
/// smart buildings.
///
/// The Controller commands (get, set, add, delete, operate, instances,
/// supported-dm, supported-protocol, watch) talk to any USP Agent through an
/// MQTT server or a USP WebSocket server. Exit status: 0 ok, 1 the Agent
/// answered with a USP error (its code is printed), 2 bad command line, 3
/// timeout or broker unreachable.
#[derive(Debug, Parser)]
#[command(name = "uspmesh", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read parameters of an Agent (USP Get).
    ///
    /// Prints one `path = value` line per parameter; `--json` prints
    /// `{"results": [{"requested_path", "params": {path: value}} | {"requested_path", "error"}]}`.
    Get(get::GetArgs),
    /// Change parameters of an Agent (USP Set).
    ///
    /// Each setting is `OBJECT.PARAM=VALUE`; settings of the same object go
    /// into one update. Prints the parameters as the Agent updated them.
    Set(set::SetArgs),
    /// Create a row in a table of an Agent (USP Add).
    ///
    /// Prints the new row's path and its unique keys.
    Add(add::AddArgs),
    /// Delete rows of an Agent (USP Delete).
    ///
    /// Prints each deleted row.
    Delete(delete::DeleteArgs),
    /// Run a command of an Agent (USP Operate), optionally waiting for an
    /// asynchronous command to complete.
    Operate(operate::OperateArgs),
    /// List the rows of tables of an Agent with their unique keys (USP
    /// GetInstances).
    Instances(instances::InstancesArgs),
    /// Show the supported data model of an Agent: objects, parameters,
    /// commands, events (USP GetSupportedDM).
    #[command(name = "supported-dm")]
    SupportedDm(supported_dm::SupportedDmArgs),
    /// Show the USP versions an Agent supports (USP GetSupportedProtocol).
    #[command(name = "supported-protocol")]
    SupportedProtocol(supported_protocol::SupportedProtocolArgs),
    /// Subscribe to notifications of an Agent and print each as it arrives,
    /// until Ctrl-C (the subscription is removed on exit).
    Watch(watch::WatchArgs),
    /// Run the appliance: the USP broker (MQTT, WebSocket), the rules engine,
    /// the metrics endpoint and the admin API, from one configuration file.
    Serve(serve::ServeArgs),
    /// The appliance, a simulated building and the example rules in one
    /// process, with a live view of what happens.
    Demo(demo::DemoArgs),
    /// List the endpoints the running appliance has connected (through its
    /// admin API).
    Endpoints(endpoints::EndpointsArgs),
    /// Ask the running appliance's rules engine: explain a rule, show the
    /// status, reload the rules.
    Rules(rules::RulesArgs),
    /// Run a simulated building: one USP Agent per room, with sensors and
    /// actuators whose values drift realistically.
    Sim(sim::SimArgs),
    /// Decode a binary USP Record and print it (readable text, or proto3 JSON).
    ///
    /// The Record's Msg payload is decoded in place. Bad input exits with
    /// status 1 and says what is wrong.
    Decode(codec::DecodeArgs),
    /// Encode a USP Record from proto3 JSON (as `decode --json` prints it)
    /// and write the binary Record to standard output.
    Encode(codec::EncodeArgs),
}

/// Runs a parsed command line.
pub(crate) fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Get(args) => session::block_on(get::run(args)),
        Command::Set(args) => session::block_on(set::run(args)),
        Command::Add(args) => session::block_on(add::run(args)),
        Command::Delete(args) => session::block_on(delete::run(args)),
        Command::Operate(args) => session::block_on(operate::run(args)),
        Command::Instances(args) => session::block_on(instances::run(args)),
        Command::SupportedDm(args) => session::block_on(supported_dm::run(args)),
        Command::SupportedProtocol(args) => session::block_on(supported_protocol::run(args)),
        Command::Watch(args) => session::block_on(watch::run(args)),
        Command::Serve(args) => serve::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Endpoints(args) => session::block_on(endpoints::run(args)),
        Command::Rules(args) => session::block_on(rules::run(args)),
        Command::Sim(args) => sim::run(args),
        Command::Decode(args) => codec::decode(&args),
        Command::Encode(args) => codec::encode(&args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap's own consistency checks (unique names, valid defaults, …)
    /// over every subcommand.
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
