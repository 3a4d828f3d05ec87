//! Options shared by the networked commands: how to reach the broker
//! ([`BrokerArgs`], also used by `sim`) and whom to ask ([`TargetArgs`]).

use std::{path::PathBuf, time::Duration};

use clap::{Args, ValueEnum};
use usp_endpoint::mtp::{Role, mqtt::MqttConfig, tls::TlsConfig, websocket::WsConfig};
use usp_proto::{EndpointId, usp_record::mqtt_connect_record::MqttVersion};

use super::{BrokerUrl, CliError, duration};
use crate::mtp::Mtp;

/// The Endpoint ID the Controller commands use unless `--from` says
/// otherwise. Agents started by `uspmesh sim` trust it with full access.
pub(crate) const DEFAULT_CONTROLLER_ID: &str = uspmesh::appliance::CLI_CONTROLLER_ID;

/// The MQTT protocol version (`--mqtt-version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum MqttVersionArg {
    /// MQTT 5 (TR-369's preferred version).
    #[value(name = "5")]
    V5,
    /// MQTT 3.1.1.
    #[value(name = "3.1.1")]
    V311,
}

/// Where the MQTT server or USP WebSocket server is, and how to log in.
#[derive(Debug, Clone, Args)]
pub(crate) struct BrokerArgs {
    /// The MQTT server or USP WebSocket server: mqtt://HOST[:PORT] (port
    /// 1883), mqtts://HOST[:PORT] (8883), ws://HOST[:PORT][/PATH] (path
    /// /usp), wss://HOST[:PORT][/PATH]. Default: mqtt://127.0.0.1:1883,
    /// where `uspmesh serve` listens.
    #[arg(long, short = 'b', value_name = "URL", env = "USPMESH_BROKER", value_parser = BrokerUrl::parse)]
    pub(crate) broker: Option<BrokerUrl>,
    /// MQTT protocol version.
    #[arg(long, value_name = "VERSION", default_value = "5")]
    pub(crate) mqtt_version: MqttVersionArg,
    /// MQTT user name (the password comes from --password or
    /// USPMESH_PASSWORD).
    #[arg(long, short = 'u', value_name = "NAME", env = "USPMESH_USERNAME")]
    pub(crate) username: Option<String>,
    /// MQTT password.
    #[arg(long, value_name = "PASSWORD", env = "USPMESH_PASSWORD", hide_env_values = true)]
    pub(crate) password: Option<String>,
    /// PEM file of the CA certificates that may sign the server's
    /// certificate (mqtts://, wss://). Default: the system's CA store.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca: Option<PathBuf>,
    /// PEM file of our client certificate (with --key), for servers that
    /// ask for one.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub(crate) cert: Option<PathBuf>,
    /// PEM file of the private key of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub(crate) key: Option<PathBuf>,
}

impl BrokerArgs {
    /// The broker: `--broker`, or `mqtt://127.0.0.1:1883`.
    pub(crate) fn url(&self) -> BrokerUrl {
        self.broker.clone().unwrap_or_else(BrokerUrl::default_mqtt)
    }

    /// Refuses combinations the parser cannot see: TLS files with a plain
    /// URL, credentials over WebSocket, a password without a user name.
    pub(crate) fn check(&self) -> Result<(), CliError> {
        let url = self.url();
        let scheme = url.scheme;
        if !scheme.is_tls() && (self.ca.is_some() || self.cert.is_some()) {
            return Err(CliError::Usage(format!(
                "--ca, --cert and --key need a TLS URL (mqtts:// or wss://), not {url}"
            )));
        }
        if scheme.is_websocket() && (self.username.is_some() || self.password.is_some()) {
            return Err(CliError::Usage(
                "--username and --password are for MQTT servers, not WebSocket".into(),
            ));
        }
        if self.password.is_some() && self.username.is_none() {
            return Err(CliError::Usage("--password needs --username".into()));
        }
        Ok(())
    }

    /// The TLS settings of a TLS URL.
    fn tls(&self) -> Option<TlsConfig> {
        if !self.url().scheme.is_tls() {
            return None;
        }
        let mut tls = match &self.ca {
            Some(ca) => TlsConfig::with_ca_file(ca),
            None => TlsConfig::default(),
        };
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            tls = tls.with_identity_files(cert, key);
        }
        Some(tls)
    }

    /// The MTP client configuration of endpoint `eid`: MQTT or WebSocket
    /// as the URL says.
    pub(crate) fn mtp(&self, eid: &str, role: Role) -> Mtp {
        if self.url().scheme.is_websocket() {
            Mtp::Ws(self.ws_config(eid, role))
        } else {
            Mtp::Mqtt(self.mqtt_config(eid, role))
        }
    }

    /// The MQTT client configuration of endpoint `eid` (an MQTT URL).
    fn mqtt_config(&self, eid: &str, role: Role) -> MqttConfig {
        let version = match self.mqtt_version {
            MqttVersionArg::V5 => MqttVersion::V5,
            MqttVersionArg::V311 => MqttVersion::V311,
        };
        let url = self.url();
        let mut config = MqttConfig::new(eid, role, url.host, url.port).with_version(version);
        config.tls = self.tls();
        config.credentials =
            self.username.clone().map(|user| (user, self.password.clone().unwrap_or_default()));
        config
    }

    /// The WebSocket client configuration of endpoint `eid` (a WebSocket
    /// URL).
    fn ws_config(&self, eid: &str, role: Role) -> WsConfig {
        let mut config = WsConfig::new(eid, role, self.url().websocket_url());
        config.tls = self.tls();
        config
    }
}

/// An Endpoint ID argument, checked with the TR-369 grammar.
pub(crate) fn endpoint_id(text: &str) -> Result<String, String> {
    EndpointId::parse(text).map(|_| text.to_owned()).map_err(|e| format!("{text:?}: {e}"))
}

/// Whom a Controller command talks to, as whom, and how results are shown.
#[derive(Debug, Clone, Args)]
pub(crate) struct TargetArgs {
    /// The Agent's Endpoint ID (e.g. proto::room-101).
    #[arg(long, short = 't', value_name = "EID", value_parser = endpoint_id)]
    pub(crate) to: String,
    /// Our Controller Endpoint ID. Agents of `uspmesh sim` trust the default
    /// with full access.
    #[arg(long, value_name = "EID", env = "USPMESH_FROM", default_value = DEFAULT_CONTROLLER_ID, value_parser = endpoint_id)]
    pub(crate) from: String,
    /// How long to wait for the broker and for each answer (e.g. 500ms,
    /// 10s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration::parse)]
    pub(crate) timeout: Duration,
    /// The MQTT topic the Agent listens on, when it is not
    /// usp/agent/<EID>.
    #[arg(long, value_name = "TOPIC")]
    pub(crate) agent_topic: Option<String>,
    /// Print JSON for scripts instead of readable text: one document (for
    /// `watch`, one object per line, per notification).
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) broker: BrokerArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        target: TargetArgs,
    }

    fn parse(args: &[&str]) -> Result<TargetArgs, clap::Error> {
        T::try_parse_from(std::iter::once("t").chain(args.iter().copied())).map(|t| t.target)
    }

    #[test]
    fn defaults_and_checks() {
        let t = parse(&["--to", "proto::room-101"]).unwrap();
        assert_eq!(t.from, DEFAULT_CONTROLLER_ID);
        assert_eq!(t.timeout, Duration::from_secs(10));
        assert!(t.broker.check().is_ok());
        assert!(parse(&["--to", "room-101"]).is_err(), "not an endpoint id");
        assert!(parse(&["--to", "proto::r", "--cert", "c.pem"]).is_err(), "--cert needs --key");
        let plain_tls = parse(&["--to", "proto::r", "--ca", "ca.pem"]).unwrap();
        assert_eq!(plain_tls.broker.check().unwrap_err().exit_status(), 2);
        let ws_login = parse(&["--to", "proto::r", "-b", "ws://h", "-u", "x"]).unwrap();
        assert!(ws_login.broker.check().unwrap_err().to_string().contains("not WebSocket"));
    }

    #[test]
    fn configs() {
        let t = parse(&[
            "--to",
            "proto::r",
            "-b",
            "mqtts://h:1",
            "--ca",
            "ca.pem",
            "--mqtt-version",
            "3.1.1",
            "-u",
            "u",
            "--password",
            "p",
        ])
        .unwrap();
        let c = t.broker.mqtt_config("self::c", Role::Controller);
        assert_eq!((c.host.as_str(), c.port, c.version), ("h", 1, MqttVersion::V311));
        assert_eq!(c.credentials, Some(("u".into(), "p".into())));
        assert_eq!(c.tls, Some(TlsConfig::with_ca_file("ca.pem")));
        let w =
            parse(&["--to", "proto::r", "-b", "ws://h:2"]).unwrap().broker.ws_config("self::c", Role::Agent);
        assert_eq!((w.url.as_str(), w.tls), ("ws://h:2/usp", None));
    }
}
