//! CONNECT → CONNACK: credentials, identity, keep-alive and the CONNACK
//! properties a USP endpoint needs. Sans-I/O: takes the decoded packet and
//! returns the decision.
//!
//! An accepted MQTT 5 endpoint gets in its CONNACK:
//! * Response Information = its reply topic, when it asked for it with
//!   Request Response Information = 1 (R-MQTT.12; MQTT 5 forbids sending it
//!   otherwise);
//! * a `subscribe-topic` user property with the same topic (R-MQTT.15b,
//!   R-MQTT.44), unless it is an admin;
//! * Assigned Client Identifier when its ClientId was empty (R-MQTT.8/9);
//! * Maximum QoS 1, Retain Available 0, no Topic Aliases, no Subscription
//!   Identifiers, no Shared Subscriptions, Maximum Packet Size, and Session
//!   Expiry 0 when a longer one was asked for (sessions are not kept).

use std::time::Duration;

use rumqttd::protocol::{
    ConnAck, ConnAckProperties, Connect, ConnectProperties, ConnectReturnCode, LastWill, LastWillProperties,
    Login, Packet,
};

use super::Version;
use crate::{
    acl::{AccessPolicy, ConnectRefusal},
    config::LimitsConfig,
    identity::{Claims, Identity, IdentitySource},
};

/// The CONNECT user property naming the client's Endpoint ID (R-MQTT.13).
pub const ENDPOINT_ID_PROPERTY: &str = "usp-endpoint-id";
/// The CONNACK user property naming a topic to subscribe to (R-MQTT.15b).
pub const SUBSCRIBE_TOPIC_PROPERTY: &str = "subscribe-topic";

/// A decoded CONNECT.
#[derive(Debug)]
pub(crate) struct ConnectPacket {
    pub(crate) connect: Connect,
    pub(crate) properties: Option<ConnectProperties>,
    pub(crate) will: Option<LastWill>,
    pub(crate) will_properties: Option<LastWillProperties>,
    pub(crate) login: Option<Login>,
}

impl ConnectPacket {
    /// Splits a `Packet::Connect`; other packets give `None`.
    pub(crate) fn from_packet(packet: Packet) -> Option<ConnectPacket> {
        match packet {
            Packet::Connect(connect, properties, will, will_properties, login) => {
                Some(ConnectPacket { connect, properties, will, will_properties, login })
            }
            _ => None,
        }
    }
}

/// What the TLS layer proved about the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PeerCertificate {
    /// A client certificate was presented and verified against the CA.
    pub(crate) verified: bool,
    /// The Endpoint ID in its `urn:bbf:usp:id:` SAN.
    pub(crate) endpoint_id: Option<String>,
}

/// An accepted connection.
#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) identity: Identity,
    /// The ClientId in force (assigned when the client sent none).
    pub(crate) client_id: String,
    /// Read timeout: 1.5 × the keep-alive in force; `None` when disabled.
    pub(crate) idle_timeout: Option<Duration>,
    /// The topic Records for this endpoint go to.
    pub(crate) reply_topic: String,
    /// Unacknowledged QoS 1 deliveries allowed towards the client.
    pub(crate) send_window: u16,
    /// Largest packet the client accepts (MQTT 5 Maximum Packet Size).
    pub(crate) client_max_packet: usize,
    /// The CONNACK to send.
    pub(crate) connack: Packet,
}

/// Decides on a CONNECT. `assign_client_id` is called when the ClientId is
/// empty. On refusal, the CONNACK to send (without properties) is returned
/// with the reason.
pub(crate) fn decide(
    policy: &AccessPolicy,
    limits: &LimitsConfig,
    version: Version,
    packet: &ConnectPacket,
    certificate: &PeerCertificate,
    assign_client_id: impl FnOnce() -> String,
) -> Result<Accepted, (ConnectRefusal, ConnAck)> {
    // Both codes exist in 3.1.1 (4 and 2) and in 5 (0x86 and 0x85).
    let refuse = |reason: ConnectRefusal| {
        let code = match reason {
            ConnectRefusal::BadCredentials => ConnectReturnCode::BadUserNamePassword,
            ConnectRefusal::NoIdentity | ConnectRefusal::InvalidEndpointId(_) => {
                ConnectReturnCode::ClientIdentifierNotValid
            }
        };
        (reason, ConnAck { session_present: false, code })
    };

    let login = packet.login.as_ref().map(|l| (l.username.as_str(), l.password.as_bytes()));
    policy.check_credentials(login, certificate.verified).map_err(refuse)?;

    let props = packet.properties.as_ref();
    let declared = props.and_then(|p| {
        p.user_properties.iter().find(|(k, _)| k == ENDPOINT_ID_PROPERTY).map(|(_, v)| v.as_str())
    });
    let claims = Claims {
        certificate: certificate.endpoint_id.as_deref().filter(|_| certificate.verified),
        declared: declared.map(|d| (d, IdentitySource::UserProperty)),
        client_id: Some(packet.connect.client_id.as_str()),
    };
    let identity = policy.identify(&claims).map_err(refuse)?;

    let (client_id, assigned) = if packet.connect.client_id.is_empty() {
        (assign_client_id(), true)
    } else {
        (packet.connect.client_id.clone(), false)
    };
    let reply_topic = policy.reply_topic(identity.endpoint_id());

    let requested_keep_alive = packet.connect.keep_alive;
    let max = limits.max_keep_alive_s;
    let keep_alive = match version {
        Version::V5 if max > 0 && (requested_keep_alive == 0 || requested_keep_alive > max) => max,
        _ => requested_keep_alive,
    };
    let idle_timeout = (keep_alive > 0).then(|| Duration::from_millis(u64::from(keep_alive) * 1500));

    let send_window = props
        .and_then(|p| p.receive_maximum)
        .filter(|&r| r > 0)
        .unwrap_or(u16::MAX)
        .min(limits.max_inflight.max(1));
    let client_max_packet =
        props.and_then(|p| p.max_packet_size).filter(|&m| m > 0).map_or(usize::MAX, |m| m as usize);

    let connack_properties = match version {
        Version::V311 => None,
        Version::V5 => {
            let asked_info = props.and_then(|p| p.request_response_info) == Some(1);
            let asked_expiry = props.and_then(|p| p.session_expiry_interval).unwrap_or(0);
            let mut user_properties = Vec::new();
            if !identity.is_admin() {
                user_properties.push((SUBSCRIBE_TOPIC_PROPERTY.to_owned(), reply_topic.clone()));
            }
            Some(ConnAckProperties {
                session_expiry_interval: (asked_expiry > 0).then_some(0),
                max_qos: Some(1),
                retain_available: Some(0),
                max_packet_size: Some(u32::try_from(limits.max_packet_size()).unwrap_or(u32::MAX)),
                assigned_client_identifier: assigned.then(|| client_id.clone()),
                user_properties,
                subscription_identifiers_available: Some(0),
                shared_subscription_available: Some(0),
                server_keep_alive: (keep_alive != requested_keep_alive).then_some(keep_alive),
                response_information: asked_info.then(|| reply_topic.clone()),
                ..ConnAckProperties::default()
            })
        }
    };
    let connack = Packet::ConnAck(
        ConnAck { session_present: false, code: ConnectReturnCode::Success },
        connack_properties,
    );
    Ok(Accepted { identity, client_id, idle_timeout, reply_topic, send_window, client_max_packet, connack })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AccessConfig, AuthConfig, UserConfig};

    fn policy(users: bool) -> AccessPolicy {
        let auth = AuthConfig {
            users: if users {
                vec![UserConfig { username: "u".into(), password: "p".into() }]
            } else {
                vec![]
            },
            allow_anonymous: None,
        };
        let access = AccessConfig { admins: vec!["watch".into()], ..AccessConfig::default() };
        AccessPolicy::new(&access, &auth).unwrap()
    }

    fn connect(
        client_id: &str,
        props: Option<ConnectProperties>,
        login: Option<(&str, &str)>,
    ) -> ConnectPacket {
        ConnectPacket {
            connect: Connect { keep_alive: 60, client_id: client_id.into(), clean_session: true },
            properties: props,
            will: None,
            will_properties: None,
            login: login.map(|(u, p)| Login { username: u.into(), password: p.into() }),
        }
    }

    fn usp_props(eid: &str) -> ConnectProperties {
        ConnectProperties {
            session_expiry_interval: Some(3600),
            receive_maximum: Some(10),
            max_packet_size: Some(4096),
            topic_alias_max: None,
            request_response_info: Some(1),
            request_problem_info: None,
            user_properties: vec![(ENDPOINT_ID_PROPERTY.into(), eid.into())],
            authentication_method: None,
            authentication_data: None,
        }
    }

    #[test]
    fn mqtt5_usp_endpoint_gets_its_topics_in_connack() {
        let a = decide(
            &policy(false),
            &LimitsConfig::default(),
            Version::V5,
            &connect("", Some(usp_props("proto::a")), None),
            &PeerCertificate::default(),
            || "assigned-1".into(),
        )
        .unwrap();
        assert_eq!(a.identity.endpoint_id(), "proto::a");
        assert_eq!(a.identity.source(), IdentitySource::UserProperty);
        assert_eq!(a.client_id, "assigned-1");
        assert_eq!((a.send_window, a.client_max_packet), (10, 4096));
        assert_eq!(a.idle_timeout, Some(Duration::from_secs(90)));
        let Packet::ConnAck(ack, Some(p)) = a.connack else { panic!() };
        assert_eq!(ack.code, ConnectReturnCode::Success);
        assert_eq!(p.response_information.as_deref(), Some("usp/agent/proto::a"));
        assert_eq!(
            p.user_properties,
            vec![(SUBSCRIBE_TOPIC_PROPERTY.to_owned(), "usp/agent/proto::a".to_owned())]
        );
        assert_eq!(p.assigned_client_identifier.as_deref(), Some("assigned-1"));
        assert_eq!((p.max_qos, p.retain_available, p.session_expiry_interval), (Some(1), Some(0), Some(0)));
    }

    #[test]
    fn certificate_identity_wins_and_only_when_verified() {
        let cert = PeerCertificate { verified: true, endpoint_id: Some("proto::cert".into()) };
        let p = connect("proto::cid", Some(usp_props("proto::prop")), None);
        let a = decide(&policy(true), &LimitsConfig::default(), Version::V5, &p, &cert, || unreachable!())
            .unwrap();
        assert_eq!(a.identity.endpoint_id(), "proto::cert");
        let unverified = PeerCertificate { verified: false, endpoint_id: Some("proto::cert".into()) };
        let a =
            decide(&policy(false), &LimitsConfig::default(), Version::V5, &p, &unverified, || unreachable!())
                .unwrap();
        assert_eq!(a.identity.endpoint_id(), "proto::prop");
    }

    #[test]
    fn refusals_carry_the_version_s_code() {
        let limits = LimitsConfig::default();
        let none = PeerCertificate::default();
        let (why, ack) = decide(
            &policy(true),
            &limits,
            Version::V311,
            &connect("proto::a", None, Some(("u", "x"))),
            &none,
            String::new,
        )
        .unwrap_err();
        assert_eq!(why, ConnectRefusal::BadCredentials);
        assert_eq!(ack.code, ConnectReturnCode::BadUserNamePassword);
        let (why, ack) =
            decide(&policy(false), &limits, Version::V311, &connect("", None, None), &none, || "gen".into())
                .unwrap_err();
        assert_eq!(why, ConnectRefusal::NoIdentity, "an assigned ClientId is no identity");
        assert_eq!(ack.code, ConnectReturnCode::ClientIdentifierNotValid);
        assert!(
            decide(
                &policy(true),
                &limits,
                Version::V311,
                &connect("proto::a", None, Some(("u", "p"))),
                &none,
                String::new
            )
            .is_ok()
        );
    }

    #[test]
    fn server_keep_alive_caps_mqtt5_clients() {
        let limits = LimitsConfig { max_keep_alive_s: 30, ..LimitsConfig::default() };
        let a = decide(
            &policy(false),
            &limits,
            Version::V5,
            &connect("proto::a", None, None),
            &PeerCertificate::default(),
            String::new,
        )
        .unwrap();
        assert_eq!(a.idle_timeout, Some(Duration::from_secs(45)));
        let Packet::ConnAck(_, Some(p)) = a.connack else { panic!() };
        assert_eq!(p.server_keep_alive, Some(30));
        assert_eq!(p.response_information, None, "not requested");
        let admin = decide(
            &policy(false),
            &limits,
            Version::V5,
            &connect("watch", None, None),
            &PeerCertificate::default(),
            String::new,
        )
        .unwrap();
        let Packet::ConnAck(_, Some(p)) = admin.connack else { panic!() };
        assert!(p.user_properties.is_empty());
    }
}
