//! Access control: credentials, identities, and which topics a connection may
//! subscribe and publish to (R-MQTT.42).
//!
//! * Credentials: a verified client certificate, or a configured
//!   username/password, or anonymous access when allowed.
//! * Identity: the strongest claim (see [`crate::identity`]); it must be a
//!   valid TR-369 Endpoint ID unless it names a configured admin.
//! * Subscribe: an endpoint may subscribe only inside its own topics
//!   ([`TopicLayout::owns`]); admins anywhere. Shared subscriptions are not
//!   offered.
//! * Publish: any topic name that is valid, has no wildcard and does not start
//!   with `$`; what may be published is decided by the Record's `from_id`
//!   ([`crate::record_check`]), not by the topic.

use std::collections::{HashMap, HashSet};

use subtle::ConstantTimeEq;

use crate::{
    config::{AccessConfig, AuthConfig},
    identity::{Claims, Identity},
    topics::{BadPrefix, Role, TopicLayout},
};

/// Why a connection is refused before it starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectRefusal {
    /// Credentials are required and missing or wrong.
    #[error("bad user name or password")]
    BadCredentials,
    /// The connection names no identity at all.
    #[error("no identity: no certificate Endpoint ID, no usp-endpoint-id property, empty ClientId")]
    NoIdentity,
    /// The identity is not a TR-369 Endpoint ID (and not an admin name).
    #[error("identity {0:?} is not a valid Endpoint ID")]
    InvalidEndpointId(String),
}

/// Why a subscription is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeRefusal {
    /// Not a valid MQTT topic filter.
    #[error("invalid topic filter")]
    InvalidFilter,
    /// Shared subscriptions (`$share/...`) are not offered.
    #[error("shared subscriptions are not supported")]
    SharedUnsupported,
    /// The filter reaches beyond the endpoint's own topics.
    #[error("not authorized for this topic filter")]
    NotAuthorized,
}

/// Why a publish topic is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TopicRefusal {
    /// Empty, holds a wildcard or a NUL, or is not UTF-8.
    #[error("invalid topic name")]
    Invalid,
    /// Starts with `$` (reserved for the server).
    #[error("topics starting with '$' are reserved")]
    Reserved,
}

/// The compiled access rules of a broker.
#[derive(Debug, Clone)]
pub struct AccessPolicy {
    layout: TopicLayout,
    admins: HashSet<String>,
    controllers: HashSet<String>,
    users: HashMap<String, String>,
    allow_anonymous: bool,
}

impl AccessPolicy {
    /// Compiles the access and auth sections of the configuration.
    pub fn new(access: &AccessConfig, auth: &AuthConfig) -> Result<AccessPolicy, BadPrefix> {
        Ok(AccessPolicy {
            layout: TopicLayout::new(&access.agent_topic_prefix, &access.controller_topic_prefix)?,
            admins: access.admins.iter().cloned().collect(),
            controllers: access.controllers.iter().cloned().collect(),
            users: auth.users.iter().map(|u| (u.username.clone(), u.password.clone())).collect(),
            allow_anonymous: auth.anonymous_allowed(),
        })
    }

    /// The topic layout.
    pub fn layout(&self) -> &TopicLayout {
        &self.layout
    }

    /// Checks credentials: a verified client certificate suffices; otherwise a
    /// configured username with its password; otherwise anonymous access must
    /// be allowed. A login that is presented is always checked, even when
    /// anonymous access is allowed.
    pub fn check_credentials(
        &self,
        login: Option<(&str, &[u8])>,
        certificate_verified: bool,
    ) -> Result<(), ConnectRefusal> {
        if certificate_verified {
            return Ok(());
        }
        match login {
            Some((user, password)) if !self.users.is_empty() || !self.allow_anonymous => {
                let ok = self
                    .users
                    .get(user)
                    .is_some_and(|expected| bool::from(expected.as_bytes().ct_eq(password)));
                if ok { Ok(()) } else { Err(ConnectRefusal::BadCredentials) }
            }
            _ if self.allow_anonymous => Ok(()),
            _ => Err(ConnectRefusal::BadCredentials),
        }
    }

    /// Picks the identity from the claims and checks it is usable.
    pub(crate) fn identify(&self, claims: &Claims<'_>) -> Result<Identity, ConnectRefusal> {
        let (eid, source) = claims.strongest().ok_or(ConnectRefusal::NoIdentity)?;
        let admin = self.admins.contains(eid);
        if !admin && usp_proto::EndpointId::parse(eid).is_err() {
            return Err(ConnectRefusal::InvalidEndpointId(eid.to_owned()));
        }
        Ok(Identity::new(eid, source, admin))
    }

    /// The role an Endpoint ID is configured with.
    pub fn role(&self, eid: &str) -> Role {
        if self.controllers.contains(eid) { Role::Controller } else { Role::Agent }
    }

    /// The reply topic the broker gives an endpoint (CONNACK Response
    /// Information, `subscribe-topic`, and the Response Topic of Records it
    /// sends over WebSocket or an in-process link).
    pub fn reply_topic(&self, eid: &str) -> String {
        self.layout.reply_topic(eid, self.role(eid))
    }

    /// Whether `identity` may subscribe to `filter`.
    pub fn check_subscribe(&self, identity: &Identity, filter: &str) -> Result<(), SubscribeRefusal> {
        if filter.starts_with("$share/") {
            return Err(SubscribeRefusal::SharedUnsupported);
        }
        if filter.contains('\0') || !rumqttd::protocol::valid_filter(filter) {
            return Err(SubscribeRefusal::InvalidFilter);
        }
        if identity.is_admin() || self.layout.owns(identity.endpoint_id(), filter) {
            Ok(())
        } else {
            Err(SubscribeRefusal::NotAuthorized)
        }
    }
}

/// Checks a PUBLISH topic name.
pub fn check_publish_topic(topic: &str) -> Result<(), TopicRefusal> {
    if topic.is_empty() || topic.contains(['+', '#', '\0']) {
        return Err(TopicRefusal::Invalid);
    }
    if topic.starts_with('$') {
        return Err(TopicRefusal::Reserved);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::UserConfig, identity::IdentitySource};
    use proptest::prelude::*;

    fn policy(users: &[(&str, &str)], anonymous: Option<bool>) -> AccessPolicy {
        let auth = AuthConfig {
            users: users
                .iter()
                .map(|(u, p)| UserConfig { username: (*u).to_owned(), password: (*p).to_owned() })
                .collect(),
            allow_anonymous: anonymous,
        };
        let access = AccessConfig {
            admins: vec!["watch".to_owned()],
            controllers: vec!["proto::ctl".to_owned()],
            ..AccessConfig::default()
        };
        AccessPolicy::new(&access, &auth).unwrap()
    }

    #[test]
    fn credentials() {
        let p = policy(&[("site", "secret")], None);
        assert_eq!(p.check_credentials(Some(("site", b"secret")), false), Ok(()));
        assert_eq!(
            p.check_credentials(Some(("site", b"secreT")), false),
            Err(ConnectRefusal::BadCredentials)
        );
        assert_eq!(
            p.check_credentials(Some(("other", b"secret")), false),
            Err(ConnectRefusal::BadCredentials)
        );
        assert_eq!(p.check_credentials(None, false), Err(ConnectRefusal::BadCredentials));
        assert_eq!(p.check_credentials(None, true), Ok(()), "a verified certificate is a credential");

        let open = policy(&[], None);
        assert_eq!(open.check_credentials(None, false), Ok(()));
        assert_eq!(open.check_credentials(Some(("any", b"thing")), false), Ok(()));

        let mixed = policy(&[("site", "secret")], Some(true));
        assert_eq!(mixed.check_credentials(None, false), Ok(()));
        assert_eq!(
            mixed.check_credentials(Some(("site", b"nope")), false),
            Err(ConnectRefusal::BadCredentials)
        );
    }

    #[test]
    fn identities_must_be_endpoint_ids_unless_admin() {
        let p = policy(&[], None);
        let claims = |cid| Claims { client_id: Some(cid), ..Claims::default() };
        assert!(p.identify(&claims("proto::agent-1")).is_ok());
        assert!(matches!(p.identify(&claims("agent-1")), Err(ConnectRefusal::InvalidEndpointId(_))));
        assert!(matches!(p.identify(&claims("")), Err(ConnectRefusal::NoIdentity)));
        let admin = p.identify(&claims("watch")).unwrap();
        assert!(admin.is_admin());
        assert_eq!(admin.source(), IdentitySource::ClientId);
    }

    #[test]
    fn subscriptions_stay_inside_own_topics() {
        let p = policy(&[], None);
        let a = Identity::new("proto::a", IdentitySource::ClientId, false);
        for ok in ["usp/agent/proto::a", "usp/agent/proto::a/#", "usp/controller/proto::a/+"] {
            assert_eq!(p.check_subscribe(&a, ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("usp/agent/proto::b", SubscribeRefusal::NotAuthorized),
            ("usp/agent/+", SubscribeRefusal::NotAuthorized),
            ("usp/#", SubscribeRefusal::NotAuthorized),
            ("#", SubscribeRefusal::NotAuthorized),
            ("usp/agent/proto::a/#/x", SubscribeRefusal::InvalidFilter),
            ("$share/g/usp/agent/proto::a", SubscribeRefusal::SharedUnsupported),
        ] {
            assert_eq!(p.check_subscribe(&a, bad), Err(why), "{bad}");
        }
        let admin = Identity::new("watch", IdentitySource::ClientId, true);
        assert_eq!(p.check_subscribe(&admin, "#"), Ok(()));
    }

    #[test]
    fn reply_topics_follow_the_role() {
        let p = policy(&[], None);
        assert_eq!(p.reply_topic("proto::ctl"), "usp/controller/proto::ctl");
        assert_eq!(p.reply_topic("proto::a"), "usp/agent/proto::a");
    }

    #[test]
    fn publish_topics() {
        assert_eq!(check_publish_topic("usp/agent/proto::a"), Ok(()));
        assert_eq!(check_publish_topic(""), Err(TopicRefusal::Invalid));
        assert_eq!(check_publish_topic("usp/+/x"), Err(TopicRefusal::Invalid));
        assert_eq!(check_publish_topic("$SYS/x"), Err(TopicRefusal::Reserved));
    }

    proptest! {
        /// Whatever filter a non-admin endpoint gets accepted can never match
        /// a topic of another endpoint.
        #[test]
        fn accepted_filters_never_reach_other_endpoints(
            start in prop::sample::select(vec!["usp/agent/proto::me", "usp/controller/proto::me", "usp/agent/", "usp/", ""]),
            rest in "[a-z/+#:.]{0,12}",
            other in "[a-z]{1,4}",
        ) {
            let p = policy(&[], None);
            let me = Identity::new("proto::me", IdentitySource::ClientId, false);
            let filter = format!("{start}{rest}");
            prop_assume!(other != "me");
            if p.check_subscribe(&me, &filter).is_ok() {
                for topic in p.layout().own_topics(&format!("proto::{other}")) {
                    prop_assert!(!rumqttd::protocol::matches(&topic, &filter), "{} matches {}", filter, topic);
                }
            }
        }
    }
}
