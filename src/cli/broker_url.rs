//! [`BrokerUrl`]: where the MQTT server or USP WebSocket server is.
//!
//! | form | MTP | default port |
//! |---|---|---|
//! | `mqtt://HOST[:PORT]` | MQTT over TCP | 1883 |
//! | `mqtts://HOST[:PORT]` | MQTT over TLS | 8883 |
//! | `ws://HOST[:PORT][/PATH]` | USP WebSocket | 80 |
//! | `wss://HOST[:PORT][/PATH]` | USP WebSocket over TLS | 443 |
//!
//! `HOST` is a name, an IPv4 address or a bracketed IPv6 address
//! (`[::1]`). An MQTT URL takes no path; a WebSocket URL without a path
//! gets `/usp`, the path `uspmesh serve` listens on.

use std::fmt;

/// The MTP a [`BrokerUrl`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// `mqtt://`
    Mqtt,
    /// `mqtts://`
    Mqtts,
    /// `ws://`
    Ws,
    /// `wss://`
    Wss,
}

impl Scheme {
    fn name(self) -> &'static str {
        match self {
            Scheme::Mqtt => "mqtt",
            Scheme::Mqtts => "mqtts",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Mqtt => 1883,
            Scheme::Mqtts => 8883,
            Scheme::Ws => 80,
            Scheme::Wss => 443,
        }
    }

    /// True for `mqtts` and `wss`.
    pub(crate) fn is_tls(self) -> bool {
        matches!(self, Scheme::Mqtts | Scheme::Wss)
    }

    /// True for `ws` and `wss`.
    pub(crate) fn is_websocket(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }
}

/// A parsed `--broker` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BrokerUrl {
    /// The MTP.
    pub(crate) scheme: Scheme,
    /// Host name or address (IPv6 without brackets).
    pub(crate) host: String,
    /// Port.
    pub(crate) port: u16,
    /// WebSocket resource path (with its query, if any); `None` for MQTT.
    pub(crate) path: Option<String>,
}

/// The WebSocket path used when a `ws://` URL has none.
pub(crate) const DEFAULT_WS_PATH: &str = "/usp";

impl BrokerUrl {
    /// `mqtt://127.0.0.1:1883`, where `uspmesh serve` listens by default.
    pub(crate) fn default_mqtt() -> BrokerUrl {
        BrokerUrl { scheme: Scheme::Mqtt, host: "127.0.0.1".into(), port: 1883, path: None }
    }

    /// `ws://127.0.0.1:8080/usp`, where `uspmesh serve` listens by default.
    pub(crate) fn default_ws() -> BrokerUrl {
        BrokerUrl {
            scheme: Scheme::Ws,
            host: "127.0.0.1".into(),
            port: 8080,
            path: Some(DEFAULT_WS_PATH.into()),
        }
    }

    /// Parses a `--broker` value (see the module documentation).
    pub(crate) fn parse(text: &str) -> Result<BrokerUrl, String> {
        let (scheme, rest) = text.split_once("://").ok_or_else(|| {
            format!("{text:?} has no scheme: write mqtt://HOST[:PORT], mqtts://…, ws://HOST[:PORT]/PATH or wss://…")
        })?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => Scheme::Mqtt,
            "mqtts" | "ssl" => Scheme::Mqtts,
            "ws" => Scheme::Ws,
            "wss" => Scheme::Wss,
            other => return Err(format!("unknown scheme {other:?}: use mqtt, mqtts, ws or wss")),
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], Some(&rest[i..])),
            None => (rest, None),
        };
        if authority.contains('@') {
            return Err("credentials in the URL are not supported: use --username and --password".into());
        }
        let (host, port) = split_host_port(authority)?;
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| format!("bad port {p:?}"))?,
            None => scheme.default_port(),
        };
        let path = match (scheme.is_websocket(), path) {
            (true, None) => Some(DEFAULT_WS_PATH.to_owned()),
            (true, Some(p)) if p.starts_with('?') => Some(format!("{DEFAULT_WS_PATH}{p}")),
            (true, Some(p)) => Some(p.to_owned()),
            (false, None | Some("/")) => None,
            (false, Some(p)) => return Err(format!("an MQTT URL takes no path, found {p:?}")),
        };
        Ok(BrokerUrl { scheme, host: host.to_owned(), port, path })
    }

    /// The URL for the WebSocket client (`ws://host:port/path`).
    pub(crate) fn websocket_url(&self) -> String {
        format!(
            "{}://{}:{}{}",
            self.scheme.name(),
            self.host_text(),
            self.port,
            self.path.as_deref().unwrap_or("")
        )
    }

    fn host_text(&self) -> String {
        if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() }
    }
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed '[' in the host")?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| format!("unexpected {p:?} after the host"))?),
        };
        return if host.is_empty() { Err("empty host".into()) } else { Ok((host, port)) };
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err("empty host".into());
    }
    if host.contains(':') {
        return Err("write an IPv6 address in brackets, e.g. mqtt://[::1]:1883".into());
    }
    Ok((host, port))
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scheme.is_websocket() {
            f.write_str(&self.websocket_url())
        } else {
            write!(f, "{}://{}:{}", self.scheme.name(), self.host_text(), self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> BrokerUrl {
        BrokerUrl::parse(s).unwrap()
    }

    #[test]
    fn schemes_and_default_ports() {
        assert_eq!(
            p("mqtt://localhost"),
            BrokerUrl { scheme: Scheme::Mqtt, host: "localhost".into(), port: 1883, path: None }
        );
        assert_eq!(p("mqtts://b.example:9000").port, 9000);
        assert_eq!(p("mqtts://b.example").port, 8883);
        assert_eq!(p("MQTT://h/").path, None);
        let ws = p("ws://127.0.0.1:8080");
        assert_eq!((ws.port, ws.path.as_deref()), (8080, Some("/usp")));
        assert_eq!(ws.websocket_url(), "ws://127.0.0.1:8080/usp");
        assert_eq!(p("wss://gw/usp/agent").websocket_url(), "wss://gw:443/usp/agent");
        assert_eq!(p("ws://h:1?x=1").websocket_url(), "ws://h:1/usp?x=1");
        assert_eq!(p("mqtt://[::1]:1884").to_string(), "mqtt://[::1]:1884");
        assert_eq!(p("mqtt://[::1]").host, "::1");
    }

    #[test]
    fn defaults() {
        assert_eq!(BrokerUrl::default_mqtt(), p("mqtt://127.0.0.1:1883"));
        assert_eq!(BrokerUrl::default_ws(), p("ws://127.0.0.1:8080/usp"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = BrokerUrl::parse(&s);
        }

        #[test]
        fn display_parses_back(
            scheme in proptest::sample::select(vec!["mqtt", "mqtts", "ws", "wss"]),
            host in "[a-z][a-z0-9.-]{0,12}|\\[::[0-9]{1,3}\\]",
            port in 1u16..,
        ) {
            let url = p(&format!("{scheme}://{host}:{port}"));
            proptest::prop_assert_eq!(p(&url.to_string()), url);
        }
    }

    #[test]
    fn bad_urls_say_why() {
        let e = |s: &str| BrokerUrl::parse(s).unwrap_err();
        assert!(e("localhost:1883").contains("no scheme"));
        assert!(e("http://x").contains("unknown scheme"));
        assert!(e("mqtt://x:0").contains("bad port"));
        assert!(e("mqtt://x:99999").contains("bad port"));
        assert!(e("mqtt://x:abc").contains("bad port"));
        assert!(e("mqtt://").contains("empty host"));
        assert!(e("mqtt://x/usp").contains("no path"));
        assert!(e("mqtt://u:p@x").contains("--username"));
        assert!(e("mqtt://::1").contains("brackets"));
        assert!(e("mqtt://[::1").contains("unclosed"));
        assert!(e("mqtt://[::1]x").contains("unexpected"));
    }
}
