//! `uspmesh serve`: the appliance (see [`uspmesh::appliance`]) until
//! SIGTERM or SIGINT, then a graceful stop. SIGHUP reloads the rules from
//! their directory (as `uspmesh rules reload` does).
//!
//! Exit status: 0 after a graceful stop; 2 when the configuration or a
//! rule file is wrong (the message names the file, line and column); 1
//! when the system refuses (a port in use) or the stop could not write the
//! rule state.

use std::{net::SocketAddr, path::PathBuf};

use clap::Args;
use uspmesh::appliance::{Appliance, ApplianceConfig, ConfigError, ReloadError, StartOptions, logging};

use super::CliError;
use crate::signal::StopSignals;

/// Arguments of `uspmesh serve`.
#[derive(Debug, Args)]
#[command(after_long_help = "\
Without --config, everything listens on loopback only: MQTT 127.0.0.1:1883,
USP WebSocket 127.0.0.1:8080/usp, metrics http://127.0.0.1:9464/metrics, admin
API 127.0.0.1:9465; no rules run and no state is kept. deploy/uspmesh.toml is
the documented example configuration.

The flags override the file: --mqtt and --ws replace the address of the
first listener of their kind (keeping its TLS settings), --metrics and --admin
the HTTP endpoints'.

SIGTERM or Ctrl-C stops gracefully; SIGHUP reloads the rules directory
(a file that does not load is logged, and the running rules stay).

Logs go to standard error; RUST_LOG (e.g. RUST_LOG=usp_broker=debug,info)
overrides [log] filter.

Examples:
  uspmesh serve
  uspmesh serve --config /etc/uspmesh/uspmesh.toml
  uspmesh serve --mqtt 0.0.0.0:1883 --metrics 0.0.0.0:9464")]
pub(crate) struct ServeArgs {
    /// The configuration file (TOML).
    #[arg(long, short = 'c', value_name = "FILE", env = "USPMESH_CONFIG")]
    config: Option<PathBuf>,
    /// Address of the MQTT listener.
    #[arg(long, value_name = "ADDR")]
    mqtt: Option<SocketAddr>,
    /// Address of the USP WebSocket listener.
    #[arg(long, value_name = "ADDR")]
    ws: Option<SocketAddr>,
    /// Address of the Prometheus endpoint (GET /metrics).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Address of the admin API (`uspmesh endpoints`, `uspmesh rules`).
    #[arg(long, value_name = "ADDR")]
    admin: Option<SocketAddr>,
}

/// The listener addresses the command line overrides.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Overrides {
    pub(crate) mqtt: Option<SocketAddr>,
    pub(crate) ws: Option<SocketAddr>,
    pub(crate) metrics: Option<SocketAddr>,
    pub(crate) admin: Option<SocketAddr>,
}

impl Overrides {
    /// Applies the addresses to `config`.
    pub(crate) fn apply(self, config: &mut ApplianceConfig) {
        if let Some(addr) = self.mqtt {
            match config.broker.mqtt.first_mut() {
                Some(l) => l.bind = addr,
                None => {
                    config.broker.mqtt.push(usp_broker::config::MqttListenerConfig { bind: addr, tls: None })
                }
            }
        }
        if let Some(addr) = self.ws {
            match config.broker.websocket.first_mut() {
                Some(l) => l.bind = addr,
                None => config
                    .broker
                    .websocket
                    .push(usp_broker::config::WebSocketListenerConfig { bind: addr, ..Default::default() }),
            }
        }
        if let Some(addr) = self.metrics {
            config.metrics.enabled = true;
            config.metrics.bind = addr;
        }
        if let Some(addr) = self.admin {
            config.admin.enabled = true;
            config.admin.bind = addr;
        }
    }
}

/// A configuration error as the command reports it (exit status 2).
pub(crate) fn config_error(e: ConfigError) -> CliError {
    match e {
        ConfigError::Read { .. } => CliError::Usage(e.to_string()),
        ConfigError::Invalid { .. } => CliError::Usage(format!("invalid configuration: {e}")),
    }
}

/// A start failure as the command reports it.
pub(crate) fn start_error(e: uspmesh::appliance::StartError) -> CliError {
    if e.is_configuration() { CliError::Usage(e.to_string()) } else { CliError::BadInput(e.to_string()) }
}

/// The SIGHUP handler (none where there is no SIGHUP, or it could not be
/// installed: the signal then keeps its default action).
struct Hangup {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangup {
    fn install() -> Hangup {
        Hangup {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok(),
        }
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(s) = &mut self.signal {
            if s.recv().await.is_some() {
                return;
            }
        }
        std::future::pending::<()>().await;
    }
}

/// Runs `uspmesh serve`.
pub(crate) fn run(args: ServeArgs) -> Result<(), CliError> {
    let mut config = match &args.config {
        Some(file) => ApplianceConfig::load(file).map_err(config_error)?,
        None => ApplianceConfig::default(),
    };
    Overrides { mqtt: args.mqtt, ws: args.ws, metrics: args.metrics, admin: args.admin }.apply(&mut config);
    logging::init(&config.log.filter);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| CliError::Io { context: "cannot start the async runtime".into(), source })?;
    runtime.block_on(serve(config, args.config))
}

async fn serve(config: ApplianceConfig, file: Option<PathBuf>) -> Result<(), CliError> {
    // Installed before starting, so a signal during the start is not lost
    // (and a SIGHUP then does not end the process, its default action).
    let mut signals = StopSignals::install();
    let mut hangup = Hangup::install();
    match &file {
        Some(f) => tracing::info!(config = %f.display(), "starting"),
        None => tracing::info!("starting with the loopback defaults (no --config)"),
    }
    let appliance = Appliance::start(config, StartOptions::default()).await.map_err(start_error)?;
    // SIGHUP (`systemctl reload`) reloads the rules; SIGTERM/SIGINT stop.
    loop {
        tokio::select! {
            () = signals.recv() => break,
            () = hangup.recv() => {
                tracing::info!("SIGHUP: reloading the rules");
                // The outcome is logged by the reload itself.
                if let Err(e @ (ReloadError::NotEnabled | ReloadError::NoDirectory | ReloadError::Stopped)) =
                    appliance.reload_rules().await
                {
                    tracing::warn!("SIGHUP: {e}");
                }
            }
        }
    }
    tracing::info!("stop requested: draining");
    // A second signal cuts the graceful stop short.
    let report = tokio::select! {
        report = appliance.shutdown() => report,
        () = signals.recv() => return Err(CliError::BadInput("stopped before the graceful stop completed".into())),
    };
    if !report.rules_persisted {
        return Err(CliError::BadInput("the rule state could not be written (see the log)".into()));
    }
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_the_first_listener_and_keep_its_tls() {
        let mut config = ApplianceConfig::parse(
            std::path::Path::new("t.toml"),
            "[[broker.mqtt]]\nbind = \"0.0.0.0:8883\"\ntls = { certificate_chain = \"c\", private_key = \"k\" }\n\
             [[broker.mqtt]]\nbind = \"0.0.0.0:1883\"\n[metrics]\nenabled = false\n",
        )
        .unwrap();
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        Overrides {
            mqtt: Some(addr("127.0.0.1:9883")),
            metrics: Some(addr("127.0.0.1:9000")),
            ..Overrides::default()
        }
        .apply(&mut config);
        assert_eq!(config.broker.mqtt[0].bind, addr("127.0.0.1:9883"));
        assert!(config.broker.mqtt[0].tls.is_some());
        assert_eq!(config.broker.mqtt[1].bind, addr("0.0.0.0:1883"));
        assert!(config.metrics.enabled);
        assert_eq!(config.metrics.bind, addr("127.0.0.1:9000"));

        let mut empty =
            ApplianceConfig::parse(std::path::Path::new("t.toml"), "[broker]\nwebsocket = []\n").unwrap();
        Overrides { ws: Some(addr("127.0.0.1:8081")), ..Overrides::default() }.apply(&mut empty);
        assert_eq!(empty.broker.websocket.len(), 1);
        assert_eq!(empty.broker.websocket[0].bind, addr("127.0.0.1:8081"));
        assert_eq!(empty.broker.websocket[0].path, "/usp");
    }
}
