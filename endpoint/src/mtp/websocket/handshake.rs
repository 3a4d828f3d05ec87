//! The USP opening handshake (mtp-websocket.md §2): request URI with the
//! `eid` query, the `v1.usp` subprotocol, the `bbf-usp-protocol` extension.

use tokio_tungstenite::tungstenite::{
    client::IntoClientRequest,
    handshake::client::{Request, Response},
    http::HeaderValue,
};

/// The USP WebSocket subprotocol for protobuf Records (R-WS.9).
pub const SUBPROTOCOL: &str = "v1.usp";

/// The extension through which a server names its Endpoint ID (R-WS.11a).
pub const EXTENSION: &str = "bbf-usp-protocol";

/// Where a `ws://` or `wss://` URL points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Target<'a> {
    /// `wss://`: TLS.
    pub(super) secure: bool,
    /// The host: a DNS name or an IP address (IPv6 without its brackets).
    /// It is also the name the server's certificate must carry.
    pub(super) host: &'a str,
    /// The port, 80 / 443 by default.
    pub(super) port: u16,
}

/// Parses a `ws://` or `wss://` URL's authority; `None` if the URL is not
/// one (other scheme, empty host, user info, bad port).
pub(super) fn target(url: &str) -> Option<Target<'_>> {
    let (secure, rest) = match url.strip_prefix("wss://") {
        Some(rest) => (true, rest),
        None => (false, url.strip_prefix("ws://")?),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.contains('@') {
        return None;
    }
    let default_port = if secure { 443 } else { 80 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        match after {
            "" => (host, default_port),
            _ => (host, after.strip_prefix(':')?.parse().ok()?),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, port.parse().ok()?),
            None => (authority, default_port),
        }
    };
    (!host.is_empty()).then_some(Target { secure, host, port })
}

/// `url` with `eid=<endpoint id>` added to its query (R-WS.10b), `%`
/// written `%25` (R-WS.10c; the other Endpoint ID characters are allowed
/// in a query as they are).
pub fn url_with_eid(url: &str, endpoint_id: &str) -> String {
    let (base, fragment) = url.split_once('#').map_or((url, None), |(b, f)| (b, Some(f)));
    let mut out = String::with_capacity(url.len() + endpoint_id.len() + 8);
    out.push_str(base);
    out.push(if base.contains('?') { '&' } else { '?' });
    out.push_str("eid=");
    for c in endpoint_id.chars() {
        if c == '%' {
            out.push_str("%25");
        } else {
            out.push(c);
        }
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// The client's handshake request: our `eid`, the `v1.usp` subprotocol
/// (R-WS.10) and an offer of the `bbf-usp-protocol` extension, so a server
/// may tell its Endpoint ID (R-WS.11a; the offer carries no `eid` of ours,
/// the deprecated R-WS.10a form).
pub(super) fn request(url: &str, endpoint_id: &str) -> Result<Request, String> {
    let mut request = url_with_eid(url, endpoint_id).into_client_request().map_err(|e| e.to_string())?;
    let headers = request.headers_mut();
    headers.insert("Sec-WebSocket-Protocol", HeaderValue::from_static(SUBPROTOCOL));
    headers.insert("Sec-WebSocket-Extensions", HeaderValue::from_static(EXTENSION));
    Ok(request)
}

/// The server's Endpoint ID from its `Sec-WebSocket-Extensions` answer, if
/// it sent one. tungstenite has already refused a response without our
/// subprotocol (R-WS.12).
pub(super) fn server_eid(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all("Sec-WebSocket-Extensions")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| extension_eid(v).map(str::to_owned))
}

/// The `eid` parameter of the `bbf-usp-protocol` extension in a
/// `Sec-WebSocket-Extensions` value (`bbf-usp-protocol; eid="os::x"`),
/// quoted or not. Other extensions in the list are skipped.
pub fn extension_eid(header: &str) -> Option<&str> {
    header.split(',').find_map(|ext| {
        let mut parts = ext.split(';').map(str::trim);
        if !parts.next()?.eq_ignore_ascii_case(EXTENSION) {
            return None;
        }
        parts.find_map(|param| {
            let (name, value) = param.split_once('=')?;
            if !name.trim().eq_ignore_ascii_case("eid") {
                return None;
            }
            let value = value.trim();
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            (!value.is_empty()).then_some(value)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_eid_goes_in_the_query_with_percent_escaped() {
        assert_eq!(url_with_eid("ws://h:1/usp", "os::00256D-0001"), "ws://h:1/usp?eid=os::00256D-0001");
        assert_eq!(
            url_with_eid("ws://h/usp", "doc::agent%21"),
            "ws://h/usp?eid=doc::agent%2521",
            "R-WS.10c example"
        );
        assert_eq!(url_with_eid("ws://h/usp?site=a", "proto::x"), "ws://h/usp?site=a&eid=proto::x");
        assert_eq!(url_with_eid("ws://h/usp#f", "proto::x"), "ws://h/usp?eid=proto::x#f");
    }

    #[test]
    fn the_request_carries_subprotocol_and_extension_offer() {
        let r = request("ws://127.0.0.1:9/usp/controller", "proto::a").unwrap();
        assert_eq!(r.uri().to_string(), "ws://127.0.0.1:9/usp/controller?eid=proto::a");
        assert_eq!(r.headers()["Sec-WebSocket-Protocol"], "v1.usp");
        assert_eq!(r.headers()["Sec-WebSocket-Extensions"], "bbf-usp-protocol");
    }

    #[test]
    fn targets() {
        let t = |secure, host, port| Some(Target { secure, host, port });
        assert_eq!(target("ws://h:8080/usp"), t(false, "h", 8080));
        assert_eq!(target("ws://h"), t(false, "h", 80), "default port");
        assert_eq!(target("ws://h?x"), t(false, "h", 80));
        assert_eq!(target("wss://h/x"), t(true, "h", 443));
        assert_eq!(target("wss://127.0.0.1:8443/usp"), t(true, "127.0.0.1", 8443));
        assert_eq!(target("wss://[::1]:8443/usp"), t(true, "::1", 8443), "IPv6 without brackets");
        assert_eq!(target("ws://[::1]"), t(false, "::1", 80));
        for bad in
            ["ws:///x", "http://h/x", "h:1/x", "ws://h:port/x", "ws://h:99999", "ws://u@h/x", "ws://[::1"]
        {
            assert_eq!(target(bad), None, "{bad}");
        }
    }

    #[test]
    fn extension_eids() {
        assert_eq!(extension_eid(r#"bbf-usp-protocol; eid="self::ctrl""#), Some("self::ctrl"));
        assert_eq!(extension_eid(r#"permessage-deflate, bbf-usp-protocol;eid=self::c"#), Some("self::c"));
        assert_eq!(extension_eid(r#"BBF-USP-PROTOCOL; EID = "x::y:z" "#), Some("x::y:z"));
        assert_eq!(extension_eid("bbf-usp-protocol"), None);
        assert_eq!(extension_eid(r#"bbf-usp-protocol; eid="""#), None);
        assert_eq!(extension_eid(r#"other; eid="self::c""#), None);
    }

    proptest! {
        #[test]
        fn extension_parsing_never_panics(s in "\\PC{0,80}") {
            let _ = extension_eid(&s);
            let _ = target(&s);
        }

        #[test]
        fn eid_query_round_trips(eid in "[a-z]{1,5}:[A-Za-z0-9]{0,6}:[A-Za-z0-9._%-]{1,20}") {
            let url = url_with_eid("ws://h/p", &eid);
            let query = url.split_once("?eid=").unwrap().1;
            prop_assert_eq!(query.replace("%25", "%"), eid);
        }
    }
}
