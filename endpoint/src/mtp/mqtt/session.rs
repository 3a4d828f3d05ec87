//! What one MQTT connection uses: our reply-to topic and the filters to
//! subscribe to, from the configuration and (MQTT 5) the CONNACK.
//!
//! R-MQTT.15 and R-MQTT.21:
//! * the reply-to topic is the CONNACK *Response Information* when the
//!   server sent one (MQTT 5), else `ResponseTopicConfigured` (or the
//!   default topic);
//! * the filters are the configured `Subscription.{i}.Topic`s, every
//!   CONNACK user property `subscribe-topic` (MQTT 5), and the reply-to
//!   topic unless those already cover it. The reply-to topic is subscribed
//!   as `<topic>/#` when 3.1.1 senders must reach us (see
//!   [`MqttConfig::reply_topic_wildcard`]), else exactly.

use usp_proto::usp_record::mqtt_connect_record::MqttVersion;

use super::{MqttConfig, topic};

/// The CONNACK user property naming a topic to subscribe to.
pub const SUBSCRIBE_TOPIC_PROPERTY: &str = "subscribe-topic";

/// The topics of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTopics {
    /// Our exact reply-to topic.
    pub reply_topic: String,
    /// The filters to subscribe to, without duplicates.
    pub filters: Vec<String>,
}

/// Decides the topics of a connection. `response_information` and
/// `user_properties` come from an MQTT 5 CONNACK (empty for 3.1.1).
pub fn session_topics(
    config: &MqttConfig,
    response_information: Option<&str>,
    user_properties: &[(String, String)],
) -> SessionTopics {
    let reply_topic = match response_information {
        Some(t) if config.version == MqttVersion::V5 && topic::is_valid_name(t) => t.to_owned(),
        _ => config.configured_reply_topic(),
    };
    let mut filters: Vec<String> = Vec::new();
    let offered = user_properties.iter().filter(|(k, _)| k == SUBSCRIBE_TOPIC_PROPERTY).map(|(_, v)| v);
    for f in config.subscriptions.iter().chain(offered) {
        if topic::is_valid_filter(f) && !filters.contains(f) {
            filters.push(f.clone());
        }
    }
    let wildcard = config.reply_topic_wildcard || config.version == MqttVersion::V311;
    // What must reach us: the exact topic, and with the wildcard a 3.1.1
    // sender's suffixed form of it.
    let suffixed = format!("{reply_topic}{}", topic::reply_to_suffix("x"));
    let covered = |t: &str| filters.iter().any(|f| topic::filter_matches(f, t));
    if !(covered(&reply_topic) && (!wildcard || covered(&suffixed))) {
        filters.push(if wildcard { format!("{reply_topic}/#") } else { reply_topic.clone() });
    }
    SessionTopics { reply_topic, filters }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mtp::mqtt::Role;

    fn cfg() -> MqttConfig {
        MqttConfig::new("proto::room101", Role::Agent, "h", 1883)
    }

    fn props(values: &[&str]) -> Vec<(String, String)> {
        values.iter().map(|v| (SUBSCRIBE_TOPIC_PROPERTY.to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_subscribe_to_the_wildcarded_default_topic() {
        let s = session_topics(&cfg(), None, &[]);
        assert_eq!(s.reply_topic, "usp/agent/proto::room101");
        assert_eq!(s.filters, ["usp/agent/proto::room101/#"]);
        let exact = MqttConfig { reply_topic_wildcard: false, ..cfg() };
        assert_eq!(session_topics(&exact, None, &[]).filters, ["usp/agent/proto::room101"]);
        let v311 = MqttConfig { reply_topic_wildcard: false, ..cfg().with_version(MqttVersion::V311) };
        assert_eq!(session_topics(&v311, None, &[]).filters, ["usp/agent/proto::room101/#"], "3.1.1 always");
    }

    #[test]
    fn the_connack_response_information_wins_for_mqtt5_only() {
        let s = session_topics(&cfg(), Some("site/a/room101"), &[]);
        assert_eq!(
            (s.reply_topic.as_str(), s.filters.as_slice()),
            ("site/a/room101", &["site/a/room101/#".to_owned()][..])
        );
        let v311 = cfg().with_version(MqttVersion::V311);
        assert_eq!(
            session_topics(&v311, Some("site/a/room101"), &[]).reply_topic,
            "usp/agent/proto::room101"
        );
        assert_eq!(session_topics(&cfg(), Some("bad/#"), &[]).reply_topic, "usp/agent/proto::room101");
    }

    #[test]
    fn subscribe_topic_properties_are_added_and_can_cover_the_reply_topic() {
        let others = vec![("other".to_owned(), "x/y".to_owned())];
        let s = session_topics(&cfg(), Some("r/t"), &[props(&["r/t/#", "extra/+"]), others].concat());
        assert_eq!(
            s.filters,
            ["r/t/#", "extra/+"],
            "r/t/# covers the reply topic; 'other' is not a subscribe-topic"
        );
        let exact_only = session_topics(&cfg(), Some("r/t"), &props(&["r/t"]));
        assert_eq!(exact_only.filters, ["r/t", "r/t/#"], "an exact filter does not cover 3.1.1 senders");
        let no_wild = MqttConfig { reply_topic_wildcard: false, ..cfg() };
        assert_eq!(session_topics(&no_wild, Some("r/t"), &props(&["r/t"])).filters, ["r/t"]);
    }

    #[test]
    fn configured_filters_come_first_and_are_deduplicated() {
        let c = MqttConfig { subscriptions: vec!["a/#".into(), "a/#".into(), "bad/#/x".into()], ..cfg() };
        let s = session_topics(&c, None, &props(&["a/#"]));
        assert_eq!(s.filters, ["a/#", "usp/agent/proto::room101/#"]);
    }
}
