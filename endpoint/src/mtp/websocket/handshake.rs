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

/// The `host:port` of a `ws://` URL, or `None` if it is not one.
pub(super) fn authority(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("ws://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    (!authority.is_empty()).then_some(authority)
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
    fn authorities() {
        assert_eq!(authority("ws://h:8080/usp"), Some("h:8080"));
        assert_eq!(authority("ws://h"), Some("h"));
        assert_eq!(authority("ws://h?x"), Some("h"));
        assert_eq!(authority("ws:///x"), None);
        assert_eq!(authority("wss://h/x"), None);
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
            let _ = authority(&s);
        }

        #[test]
        fn eid_query_round_trips(eid in "[a-z]{1,5}:[A-Za-z0-9]{0,6}:[A-Za-z0-9._%-]{1,20}") {
            let url = url_with_eid("ws://h/p", &eid);
            let query = url.split_once("?eid=").unwrap().1;
            prop_assert_eq!(query.replace("%25", "%"), eid);
        }
    }
}
