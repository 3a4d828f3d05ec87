//! The appliance's configuration: one TOML file (`deploy/uspmesh.toml` is
//! the documented example), read into [`ApplianceConfig`].
//!
//! Every key has a default, so an empty file — or no file at all — starts
//! an appliance that listens on loopback only: MQTT on `127.0.0.1:1883`,
//! USP WebSocket on `127.0.0.1:8080/usp`, metrics on `127.0.0.1:9464`, the
//! admin API on `127.0.0.1:9465`, no rules and no rule state kept.
//!
//! An unknown key anywhere is an error that names it (a misspelt key that
//! is silently ignored is a setting that silently does not apply).
//!
//! `[bridge]` (the cloud bridge, [`usp_broker::bridge::BridgeConfig`]) and
//! `[nats]` (a node of a NATS cluster, [`usp_broker::nats::NatsConfig`])
//! are the broker's own configuration types, read here as they are: their
//! keys are documented there and in `deploy/uspmesh.toml`.
//!
//! Errors carry the file, line and column ([`ConfigError`]), as rule files'
//! do.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
};

use serde::Deserialize;
use usp_broker::{BrokerConfig, bridge::BridgeConfig, nats::NatsConfig};

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApplianceConfig {
    /// The embedded broker: listeners, credentials, access, limits
    /// (`[broker]`, `[[broker.mqtt]]`, `[[broker.websocket]]`, …; see
    /// [`usp_broker::config`]).
    pub broker: BrokerConfig,
    /// The rules engine (`[rules]`).
    pub rules: RulesConfig,
    /// The Prometheus endpoint (`[metrics]`).
    pub metrics: MetricsConfig,
    /// The admin API the CLI talks to (`[admin]`).
    pub admin: AdminConfig,
    /// Logging (`[log]`).
    pub log: LogConfig,
    /// The cloud bridge (`[bridge]`); none: no uplink.
    pub bridge: Option<BridgeConfig>,
    /// This appliance as a node of a NATS cluster (`[nats]`); none: alone.
    pub nats: Option<NatsConfig>,
}

/// The rules engine's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// Whether the rules engine runs at all.
    pub enabled: bool,
    /// The site's name; the engine is the Controller `self::<site>-rules`
    /// unless `endpoint_id` says otherwise (simulated rooms trust
    /// `self::site1-rules` by default).
    pub site: String,
    /// The engine's Endpoint ID, overriding the one derived from `site`.
    pub endpoint_id: Option<String>,
    /// Directory whose `*.toml` files are the rules (read in name order);
    /// none: no rules until one is configured.
    pub dir: Option<PathBuf>,
    /// The redb file rule state is kept in across restarts (timers under
    /// way, cooldowns, cached values); none: nothing is kept.
    pub state: Option<PathBuf>,
    /// Time zone of schedules and time-of-day conditions (IANA name such as
    /// `Europe/Paris`); default: the system's.
    pub timezone: Option<String>,
    /// Tags defined here rather than in rule files: name → endpoint-id
    /// patterns.
    pub tags: BTreeMap<String, Vec<String>>,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            enabled: true,
            site: "site1".to_owned(),
            endpoint_id: None,
            dir: None,
            state: None,
            timezone: None,
            tags: BTreeMap::new(),
        }
    }
}

impl RulesConfig {
    /// The engine's Endpoint ID: `endpoint_id`, or `self::<site>-rules`.
    pub fn engine_id(&self) -> String {
        self.endpoint_id.clone().unwrap_or_else(|| format!("self::{}-rules", self.site))
    }

    /// The configured tags in the form the rules loader takes.
    pub fn tag_list(&self) -> Vec<(String, Vec<String>)> {
        self.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// The Prometheus endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Whether `/metrics` is served.
    pub enabled: bool,
    /// Where `GET /metrics` is served (Prometheus text format). It only
    /// reads; exposing it beyond loopback is reasonable.
    pub bind: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { enabled: true, bind: SocketAddr::from(([127, 0, 0, 1], 9464)) }
    }
}

/// The admin API (`uspmesh endpoints`, `uspmesh rules …`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Whether the admin API is served.
    pub enabled: bool,
    /// Where it listens. It has no authentication of its own and can
    /// reload rules: keep it on loopback (or a socket only operators
    /// reach).
    pub bind: SocketAddr,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig { enabled: true, bind: DEFAULT_ADMIN_ADDR }
    }
}

/// Where the admin API listens unless configured otherwise (also the CLI's
/// default `--admin`).
pub const DEFAULT_ADMIN_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9465);

/// Logging.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter (`info`, `usp_broker=debug,info`, …); the
    /// `RUST_LOG` environment variable wins over it.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { filter: "info".to_owned() }
    }
}

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// The system error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a key or value is wrong.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        file: PathBuf,
        /// 1-based line (1 when the parser gave no position).
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What is wrong, as the parser says it.
        message: String,
    },
}

impl ApplianceConfig {
    /// Reads and checks `file`.
    pub fn load(file: &Path) -> Result<ApplianceConfig, ConfigError> {
        let text = std::fs::read_to_string(file)
            .map_err(|source| ConfigError::Read { file: file.to_owned(), source })?;
        ApplianceConfig::parse(file, &text)
    }

    /// Parses `text`, naming `file` in errors.
    pub fn parse(file: &Path, text: &str) -> Result<ApplianceConfig, ConfigError> {
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let (line, column) = e.span().map_or((1, 1), |span| line_column(text, span.start));
            ConfigError::Invalid {
                file: file.to_owned(),
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })
    }
}

/// 1-based line and column (in characters) of byte `offset` of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ApplianceConfig, ConfigError> {
        ApplianceConfig::parse(Path::new("u.toml"), text)
    }

    #[test]
    fn no_keys_means_loopback_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c, ApplianceConfig::default());
        assert!(c.broker.mqtt.iter().all(|l| l.bind.ip().is_loopback()));
        assert!(c.broker.websocket.iter().all(|l| l.bind.ip().is_loopback()));
        assert!(c.metrics.bind.ip().is_loopback() && c.admin.bind.ip().is_loopback());
        assert_eq!(c.rules.engine_id(), "self::site1-rules");
        assert_eq!(c.rules.state, None);
    }

    #[test]
    fn sections_are_read() {
        let c = parse(
            "[[broker.mqtt]]\nbind = \"0.0.0.0:1884\"\n[rules]\nsite = \"hq\"\ndir = \"/r\"\n\
             [rules.tags]\nlobby = [\"proto::lobby-*\"]\n[metrics]\nbind = \"0.0.0.0:9000\"\n",
        )
        .unwrap();
        assert_eq!(c.broker.mqtt[0].bind.port(), 1884);
        assert_eq!(c.rules.engine_id(), "self::hq-rules");
        assert_eq!(c.rules.dir.as_deref(), Some(Path::new("/r")));
        assert_eq!(c.rules.tag_list(), vec![("lobby".to_owned(), vec!["proto::lobby-*".to_owned()])]);
        assert_eq!(c.metrics.bind.port(), 9000);
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let e = parse("[rules]\nsite = \"a\"\nsiet = \"b\"\n").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("u.toml:3:1: unknown field `siet`"), "{text}");
    }

    #[test]
    fn a_wrong_value_is_named_with_its_line() {
        let e = parse("[metrics]\nbind = \"localhost\"\n").unwrap_err().to_string();
        assert!(e.starts_with("u.toml:2:8: "), "{e}");
        let e = parse("[broker.limits]\nmax_record_size = -1\n").unwrap_err().to_string();
        assert!(e.starts_with("u.toml:2:19: "), "{e}");
    }

    #[test]
    fn bridge_and_nats_sections_are_read() {
        let c = parse(
            "[bridge]\nurl = \"mqtt://127.0.0.1:1883\"\ncontrollers = [{ endpoint_id = \"proto::cloud\" }]\n\
             queue = { dir = \"/q\" }\n[nats]\nservers = [\"nats://127.0.0.1:4222\"]\nsite = \"hq\"\nnode = \"n1\"\n",
        )
        .unwrap();
        let bridge = c.bridge.unwrap();
        assert_eq!(bridge.controllers[0].endpoint_id, "proto::cloud");
        assert_eq!(bridge.queue.dir, Path::new("/q"));
        let nats = c.nats.unwrap();
        assert_eq!((nats.site.as_str(), nats.node.as_str()), ("hq", "n1"));
    }

    #[test]
    fn bad_bridge_and_nats_values_are_named_with_their_line() {
        // A bridge without its required keys, a misspelt key, a wrong type.
        let e = parse("[rules]\nsite = \"a\"\n[bridge]\nurl = \"mqtt://x\"\n").unwrap_err().to_string();
        assert!(e.starts_with("u.toml:3:1: ") && e.contains("missing field"), "{e}");
        let e =
            parse("[nats]\nservers = []\nsite = \"a\"\nnode = \"b\"\nsiet = 1\n").unwrap_err().to_string();
        assert!(e.starts_with("u.toml:5:1: unknown field `siet`"), "{e}");
        let e = parse("[bridge]\nurl = \"mqtt://x\"\ncontrollers = []\nqueue = { dir = \"/q\", overflow = \"drop-all\" }\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("u.toml:4:"), "{e}");
    }

    #[test]
    fn a_syntax_error_has_a_position() {
        let e = parse("[rules\n").unwrap_err().to_string();
        assert!(e.starts_with("u.toml:1:"), "{e}");
    }

    /// The documented example spells out the defaults (its "example"
    /// values are commented out), so it must parse to exactly them.
    #[test]
    fn the_documented_example_is_the_defaults() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/uspmesh.toml");
        let c = ApplianceConfig::load(&file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c, ApplianceConfig::default());
    }

    /// The commented `[bridge]` and `[nats]` examples of the documented
    /// file, uncommented, are a valid configuration.
    #[test]
    fn the_commented_bridge_and_nats_examples_parse() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/uspmesh.toml");
        let text = std::fs::read_to_string(&file).unwrap();
        let start = text.find("# [bridge]").unwrap();
        let is_setting = |l: &&str| {
            l.starts_with("# [")
                || l.strip_prefix("# ").is_some_and(|rest| {
                    rest.split_once(" = ")
                        .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
                })
        };
        let uncommented: String =
            text[start..].lines().filter(is_setting).map(|l| format!("{}\n", &l[2..])).collect();
        let c = parse(&uncommented).unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
        let bridge = c.bridge.unwrap();
        assert_eq!(bridge.controllers[0].endpoint_id, "proto::cloud-acs");
        assert_eq!(bridge.events.filters.len(), 1);
        assert_eq!(bridge.queue.max_records, 100_000);
        let nats = c.nats.unwrap();
        assert_eq!((nats.site.as_str(), nats.node.as_str()), ("hq", "appliance-1"));
        assert_eq!(nats.rules.lease_ttl_s, 300);
    }

    #[test]
    fn the_container_configuration_loads() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/container.toml");
        let c = ApplianceConfig::load(&file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.rules.state.as_deref(), Some(Path::new("/var/lib/uspmesh/rules.redb")));
        assert!(c.admin.bind.ip().is_loopback());
    }

    #[test]
    fn positions_count_characters() {
        assert_eq!(line_column("a\nbé c", 6), (2, 4));
        assert_eq!(line_column("", 0), (1, 1));
        assert_eq!(line_column("abc", 99), (1, 4));
    }
}
