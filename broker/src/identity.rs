//! Who a connection is: its Endpoint ID and where that came from.
//!
//! Order (DESIGN.md, "Identity, topics and access"): the TLS client
//! certificate's `urn:bbf:usp:id:` SAN, else the `usp-endpoint-id` CONNECT user
//! property (R-MQTT.13), else the MQTT ClientId (what 3.1.1 clients use,
//! R-MQTT.8). WebSocket clients name themselves with the `eid` query
//! (R-WS.10b) when they have no certificate. Credentials are checked before
//! any of this (see [`crate::acl::AccessPolicy::check_credentials`]).

use std::sync::Arc;

/// Where an identity was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentitySource {
    /// The `urn:bbf:usp:id:` subjectAltName of a verified client certificate.
    Certificate,
    /// The MQTT 5 `usp-endpoint-id` CONNECT user property.
    UserProperty,
    /// The MQTT ClientId.
    ClientId,
    /// The `eid` query parameter of the WebSocket upgrade request.
    WebSocketQuery,
    /// An in-process link created by the embedding program.
    InProcess,
}

/// The identity of one connection: the Endpoint ID it may speak for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    eid: Arc<str>,
    source: IdentitySource,
    admin: bool,
}

impl Identity {
    pub(crate) fn new(eid: &str, source: IdentitySource, admin: bool) -> Identity {
        Identity { eid: Arc::from(eid), source, admin }
    }

    /// The Endpoint ID (or, for an admin, the configured admin name).
    pub fn endpoint_id(&self) -> &str {
        &self.eid
    }

    /// Where the identity came from.
    pub fn source(&self) -> IdentitySource {
        self.source
    }

    /// Admins may subscribe to any topic filter (`uspmesh watch`).
    pub fn is_admin(&self) -> bool {
        self.admin
    }
}

/// The identity claims one connection makes, strongest first.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Claims<'a> {
    /// Endpoint ID from a verified client certificate.
    pub(crate) certificate: Option<&'a str>,
    /// `usp-endpoint-id` CONNECT user property, or the WebSocket `eid` query.
    pub(crate) declared: Option<(&'a str, IdentitySource)>,
    /// MQTT ClientId.
    pub(crate) client_id: Option<&'a str>,
}

impl<'a> Claims<'a> {
    /// The strongest non-empty claim.
    pub(crate) fn strongest(&self) -> Option<(&'a str, IdentitySource)> {
        if let Some(eid) = self.certificate.filter(|s| !s.is_empty()) {
            return Some((eid, IdentitySource::Certificate));
        }
        if let Some(claim) = self.declared.filter(|(s, _)| !s.is_empty()) {
            return Some(claim);
        }
        self.client_id.filter(|s| !s.is_empty()).map(|id| (id, IdentitySource::ClientId))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_beats_property_beats_client_id() {
        let mut c = Claims {
            certificate: Some("proto::cert"),
            declared: Some(("proto::prop", IdentitySource::UserProperty)),
            client_id: Some("proto::cid"),
        };
        assert_eq!(c.strongest(), Some(("proto::cert", IdentitySource::Certificate)));
        c.certificate = None;
        assert_eq!(c.strongest(), Some(("proto::prop", IdentitySource::UserProperty)));
        c.declared = Some(("", IdentitySource::UserProperty));
        assert_eq!(c.strongest(), Some(("proto::cid", IdentitySource::ClientId)));
        c.client_id = Some("");
        assert_eq!(c.strongest(), None);
    }
}
