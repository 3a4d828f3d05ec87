//! The WebSocket opening handshake of the USP binding (R-WS.7–12a), as a
//! check of the HTTP upgrade request. Sans-I/O: takes the request, returns
//! what it says or the HTTP refusal.
//!
//! * the path must be the listener's resource path (else 404);
//! * `Sec-WebSocket-Protocol` must offer `v1.usp` (R-WS.12a; else 400), and
//!   the answer names it (R-WS.11);
//! * the `eid` query item is the client's Endpoint ID, percent-decoded once
//!   (R-WS.10b/10c: `%25` → `%`);
//! * an offered `bbf-usp-protocol` extension is noted, to be answered with
//!   the broker's own Endpoint ID when one is configured (R-WS.11a); its
//!   absence is not an error (R-WS.11b/c);
//! * `Authorization: Basic` carries a username/password when the broker
//!   requires credentials and the client has no certificate.

use base64::Engine;
use tokio_tungstenite::tungstenite::{
    handshake::server::{ErrorResponse, Request},
    http::{HeaderValue, StatusCode, header},
};

/// The USP WebSocket subprotocol (R-WS.9).
pub const SUBPROTOCOL: &str = "v1.usp";
/// The USP WebSocket extension name (R-WS.11a).
pub const EXTENSION: &str = "bbf-usp-protocol";

/// What an acceptable upgrade request says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Upgrade {
    /// The decoded `eid` query value.
    pub(crate) eid: Option<String>,
    /// Whether the client offered the `bbf-usp-protocol` extension.
    pub(crate) offers_extension: bool,
    /// `Authorization: Basic` credentials.
    pub(crate) basic: Option<(String, Vec<u8>)>,
}

/// Why an upgrade request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeRefusal {
    /// Not the listener's resource path.
    #[error("no USP endpoint at this path")]
    NotFound,
    /// No `v1.usp` subprotocol offered.
    #[error("the v1.usp subprotocol is required")]
    NoSubprotocol,
    /// The `eid` query value is not decodable.
    #[error("malformed eid query parameter")]
    BadEid,
    /// Credentials missing or wrong.
    #[error("credentials required")]
    Unauthorized,
    /// The identity is not a valid Endpoint ID.
    #[error("identity is not a valid Endpoint ID")]
    BadIdentity,
}

impl HandshakeRefusal {
    /// The HTTP response sent instead of `101 Switching Protocols`.
    pub(crate) fn response(&self) -> ErrorResponse {
        let status = match self {
            HandshakeRefusal::NotFound => StatusCode::NOT_FOUND,
            HandshakeRefusal::NoSubprotocol | HandshakeRefusal::BadEid | HandshakeRefusal::BadIdentity => {
                StatusCode::BAD_REQUEST
            }
            HandshakeRefusal::Unauthorized => StatusCode::UNAUTHORIZED,
        };
        let mut response = ErrorResponse::new(Some(self.to_string()));
        *response.status_mut() = status;
        if *self == HandshakeRefusal::Unauthorized {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"uspmesh\""));
        }
        response
    }
}

/// Checks an upgrade request against the listener's resource `path`.
pub(crate) fn check_request(request: &Request, path: &str) -> Result<Upgrade, HandshakeRefusal> {
    if request.uri().path() != path {
        return Err(HandshakeRefusal::NotFound);
    }
    let offers = |name: header::HeaderName, token: &str| {
        request.headers().get_all(name).iter().filter_map(|v| v.to_str().ok()).any(|v| {
            v.split(',')
                .any(|item| item.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !offers(header::SEC_WEBSOCKET_PROTOCOL, SUBPROTOCOL) {
        return Err(HandshakeRefusal::NoSubprotocol);
    }
    let eid = match request.uri().query() {
        Some(query) => query
            .split('&')
            .find_map(|item| item.strip_prefix("eid="))
            .map(|raw| percent_decode(raw).ok_or(HandshakeRefusal::BadEid))
            .transpose()?,
        None => None,
    };
    Ok(Upgrade {
        eid,
        offers_extension: offers(header::SEC_WEBSOCKET_EXTENSIONS, EXTENSION),
        basic: basic_credentials(request),
    })
}

/// The `Sec-WebSocket-Extensions` answer naming the broker (R-WS.11a): the
/// Endpoint ID is quoted because `:` is not an HTTP token character.
pub(crate) fn extension_answer(server_eid: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("{EXTENSION}; eid=\"{server_eid}\"")).ok()
}

fn basic_credentials(request: &Request) -> Option<(String, Vec<u8>)> {
    let value = request.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let at = decoded.iter().position(|&b| b == b':')?;
    let user = String::from_utf8(decoded.get(..at)?.to_vec()).ok()?;
    Some((user, decoded.get(at + 1..)?.to_vec()))
}

/// Decodes every `%HH` escape; `None` for a malformed escape or a result
/// that is not UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hi = (*hex.first()? as char).to_digit(16)?;
            let lo = (*hex.get(1)? as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn request(uri: &str, protocol: Option<&str>, extra: &[(&str, &str)]) -> Request {
        let mut b = Request::builder().uri(uri);
        if let Some(p) = protocol {
            b = b.header("Sec-WebSocket-Protocol", p);
        }
        for (k, v) in extra {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn accepts_the_spec_example() {
        let up = check_request(&request("/usp?eid=doc::agent%2521&x=1", Some("foo, v1.usp"), &[]), "/usp")
            .unwrap();
        assert_eq!(up.eid.as_deref(), Some("doc::agent%21"), "R-WS.10c: %25 decodes to %");
        assert!(!up.offers_extension);
        let up = check_request(
            &request(
                "/usp?x=1&eid=os::00256D-0001",
                Some("v1.usp"),
                &[("Sec-WebSocket-Extensions", "bbf-usp-protocol")],
            ),
            "/usp",
        )
        .unwrap();
        assert_eq!(up.eid.as_deref(), Some("os::00256D-0001"));
        assert!(up.offers_extension);
    }

    #[test]
    fn the_fuzz_entry_checks_a_request_given_as_text() {
        use crate::ws::fuzz_upgrade_request;
        let ok = b"/usp?eid=proto%3A%3Aa\nSec-WebSocket-Protocol: v1.usp\nAuthorization: Basic dTpw";
        assert_eq!(fuzz_upgrade_request(ok), Some(Ok(Some("proto::a".to_owned()))));
        let no_protocol = b"/usp?eid=proto%3A%3Aa";
        assert_eq!(fuzz_upgrade_request(no_protocol), Some(Err(HandshakeRefusal::NoSubprotocol)));
        assert_eq!(fuzz_upgrade_request(b"/usp\nno colon here"), None);
    }

    #[test]
    fn refusals() {
        assert_eq!(
            check_request(&request("/other?eid=a", Some("v1.usp"), &[]), "/usp"),
            Err(HandshakeRefusal::NotFound)
        );
        assert_eq!(
            check_request(&request("/usp?eid=a", None, &[]), "/usp"),
            Err(HandshakeRefusal::NoSubprotocol)
        );
        assert_eq!(
            check_request(&request("/usp?eid=a", Some("v2.usp"), &[]), "/usp"),
            Err(HandshakeRefusal::NoSubprotocol)
        );
        assert_eq!(
            check_request(&request("/usp?eid=a%2", Some("v1.usp"), &[]), "/usp"),
            Err(HandshakeRefusal::BadEid)
        );
        assert_eq!(HandshakeRefusal::Unauthorized.response().status(), StatusCode::UNAUTHORIZED);
        assert_eq!(HandshakeRefusal::NoSubprotocol.response().status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn basic_auth_and_extension_answer() {
        // "site:se:cret"
        let up = check_request(
            &request("/usp", Some("v1.usp"), &[("Authorization", "Basic c2l0ZTpzZTpjcmV0")]),
            "/usp",
        )
        .unwrap();
        assert_eq!(up.basic, Some(("site".to_owned(), b"se:cret".to_vec())));
        assert_eq!(extension_answer("self::broker").unwrap(), "bbf-usp-protocol; eid=\"self::broker\"");
    }

    proptest! {
        #[test]
        fn percent_decoding_inverts_encoding(s in "[a-zA-Z0-9:%._-]{0,30}") {
            let encoded: String = s.chars().map(|c| if c == '%' { "%25".to_owned() } else { c.to_string() }).collect();
            prop_assert_eq!(percent_decode(&encoded), Some(s));
        }

        #[test]
        fn percent_decoding_never_panics(s in "\\PC{0,30}") {
            let _ = percent_decode(&s);
        }
    }
}
