//! The uplink: one MQTT 5 client session at a time with the cloud server,
//! publishing the queue in order at QoS 1 and handing what the cloud
//! Controllers send to the local side.
//!
//! Every session starts from a fresh rumqttc event loop with Clean Start:
//! rumqttc's own replay of unacknowledged PUBLISHes is not used, because the
//! queue already is the record of what is unacknowledged — each session
//! publishes from the queue's head, so entries that were in flight when the
//! link broke go out again (QoS 1: at least once, in order). An entry
//! leaves the disk only when its PUBACK arrives, mapped back to it through
//! the packet identifier rumqttc reports in `Outgoing::Publish`.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::Duration,
};

use bytes::Bytes;
use rumqttc::v5::{
    AsyncClient, Event, MqttOptions,
    mqttbytes::{
        QoS,
        v5::{Packet, PubAckReason, Publish, PublishProperties, SubscribeReasonCode},
    },
};
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use usp_endpoint::mtp::retry::RetryPolicy;
use usp_proto::view::RecordView;

use super::{
    BridgeError,
    config::BridgeConfig,
    queue::format::{Entry, EntryKind},
    status::{Dropped, Status},
    store::Store,
};

/// MQTT 5 Content Type of USP Records (R-MQTT.27).
const USP_CONTENT_TYPE: &str = "usp.msg";

/// Where and how to reach the cloud server.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
}

impl Target {
    /// Parses `mqtt://host[:port]` or `mqtts://host[:port]` (IPv6 hosts in
    /// brackets) and loads the TLS material.
    pub(crate) fn new(config: &BridgeConfig) -> Result<Target, BridgeError> {
        let bad = |why: &'static str| BridgeError::Url { url: config.url.clone(), why };
        let (secure, rest) = if let Some(rest) = config.url.strip_prefix("mqtts://") {
            (true, rest)
        } else if let Some(rest) = config.url.strip_prefix("mqtt://") {
            (false, rest)
        } else {
            return Err(bad("scheme must be mqtt:// or mqtts://"));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or(bad("unclosed '['"))?;
            (host, after.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            }
        };
        if host.is_empty() || host.contains('/') {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| bad("bad port"))?,
            None if secure => 8883,
            None => 1883,
        };
        let tls = if secure {
            let t = &config.tls;
            let mut tls = match &t.ca {
                Some(ca) => usp_endpoint::mtp::tls::TlsConfig::with_ca_file(ca),
                None => usp_endpoint::mtp::tls::TlsConfig::default(),
            };
            match (&t.certificate, &t.private_key) {
                (Some(cert), Some(key)) => tls = tls.with_identity_files(cert, key),
                (None, None) => {}
                _ => return Err(BridgeError::Tls("certificate and private_key go together".into())),
            }
            Some(tls.client_config().map_err(|e| BridgeError::Tls(e.to_string()))?)
        } else {
            None
        };
        Ok(Target { host: host.to_owned(), port, tls })
    }
}

/// Everything the uplink task needs.
pub(crate) struct Uplink {
    pub(crate) config: Arc<BridgeConfig>,
    pub(crate) target: Target,
    pub(crate) store: Arc<Store>,
    pub(crate) status: Arc<Status>,
    /// Cloud Controller id → its local task's inbox.
    pub(crate) routes: HashMap<String, mpsc::Sender<Bytes>>,
    pub(crate) shutdown: CancellationToken,
}

/// How a session ended.
enum Ended {
    Shutdown,
    Failed { was_connected: bool, error: String },
}

impl Uplink {
    /// Runs sessions until shutdown, waiting the TR-181 back-off between
    /// failed attempts (the count restarts after a session that got its
    /// CONNACK).
    pub(crate) async fn run(self) {
        let retry = RetryPolicy {
            min_wait: Duration::from_millis(self.config.retry_min_ms.max(1)),
            multiplier: 2000,
            max_wait: Some(Duration::from_millis(self.config.retry_max_ms.max(self.config.retry_min_ms))),
        };
        let mut attempt = 0;
        loop {
            let ended = self.session().await;
            self.status.set_connected(false);
            match ended {
                Ended::Shutdown => return,
                Ended::Failed { was_connected, error } => {
                    attempt = if was_connected { 1 } else { attempt + 1 };
                    let wait = retry.random_delay(attempt);
                    tracing::warn!(server = %self.config.url, %error, retry_in_ms = wait.as_millis() as u64,
                        "bridge uplink down");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = self.shutdown.cancelled() => return,
                    }
                }
            }
        }
    }

    fn options(&self) -> MqttOptions {
        let c = &self.config;
        let mut options = MqttOptions::new(c.client_id.clone(), self.target.host.clone(), self.target.port);
        options.set_keep_alive(Duration::from_secs(u64::from(c.keep_alive_s.max(5))));
        options.set_clean_start(true);
        if let Some(user) = &c.username {
            options.set_credentials(user.clone(), c.password.clone().unwrap_or_default());
        }
        options.set_outgoing_inflight_upper_limit(c.max_inflight.max(1));
        // What the cloud may send us: one Record of the default maximum
        // size plus room for topic and properties.
        options.set_max_packet_size(Some((usp_proto::decode::DEFAULT_MAX_RECORD_SIZE + 64 * 1024) as u32));
        let mut net = rumqttc::NetworkOptions::new();
        net.set_tcp_nodelay(true);
        net.set_connection_timeout(10);
        options.set_network_options(net);
        if let Some(tls) = &self.target.tls {
            options.set_transport(rumqttc::Transport::Tls(rumqttc::TlsConfiguration::Rustls(tls.clone())));
        }
        options
    }

    async fn session(&self) -> Ended {
        let window = usize::from(self.config.max_inflight.max(1));
        let (client, eventloop) = AsyncClient::new(self.options(), window * 2 + 8);
        // rumqttc's `poll` must not be cancelled mid-way (a packet it was
        // about to write, a PUBACK say, would be lost), so it runs in a task
        // of its own and its events come through a channel, which can be
        // waited on in a `select!` safely.
        let (driver, mut events) = drive(eventloop);
        let _driver = AbortOnDrop(driver);
        let mut connected = false;
        // Sequence numbers handed to rumqttc, waiting for their packet id.
        let mut unassigned: VecDeque<u64> = VecDeque::with_capacity(window);
        let mut inflight: HashMap<u16, u64> = HashMap::with_capacity(window);
        let mut next_seq = 0;
        // The server's Maximum Packet Size (CONNACK): a larger entry could
        // never be sent, and would stop the queue at every reconnect.
        let mut server_max: Option<u32> = None;
        let failed = |connected: bool, error: String| Ended::Failed { was_connected: connected, error };
        loop {
            if connected {
                let (head, end) = self.store.range();
                next_seq = next_seq.max(head);
                while next_seq < end && unassigned.len() + inflight.len() < window {
                    if let Some(entry) = self.store.get(next_seq) {
                        if server_max.is_some_and(|max| packet_size(&entry) > max as usize) {
                            tracing::warn!(topic = %entry.topic, bytes = entry.payload.len(), max = server_max,
                                "bridge: entry larger than the cloud server accepts; dropped");
                            self.status.dropped(Dropped::Other, 1);
                            self.store.ack(next_seq);
                        } else {
                            if let Err(e) = publish(&client, entry) {
                                return failed(true, format!("publish: {e}"));
                            }
                            unassigned.push_back(next_seq);
                        }
                    }
                    next_seq += 1;
                }
            }
            let event = tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => {
                    disconnect(&client, &mut events).await;
                    return Ended::Shutdown;
                }
                event = events.recv() => match event {
                    Some(event) => event,
                    None => return failed(connected, "event loop ended".into()),
                },
                _ = self.store.data.notified(), if connected => continue,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    server_max = ack.properties.and_then(|p| p.max_packet_size);
                    let filter = format!("{}+", self.config.agent_topic_prefix);
                    if let Err(e) = client.try_subscribe(filter, QoS::AtLeastOnce) {
                        return failed(false, format!("subscribe: {e}"));
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    // Up in both directions from here on: the cloud can reach
                    // us, so the queue starts draining (an answer to what we
                    // send cannot miss our subscription).
                    if ack.return_codes.iter().any(|c| !matches!(c, SubscribeReasonCode::Success(_))) {
                        tracing::warn!(codes = ?ack.return_codes,
                            "bridge: the cloud server refused our subscription; cloud Controllers cannot reach local Agents");
                    }
                    if !connected {
                        connected = true;
                        next_seq = self.store.range().0;
                        self.status.set_connected(true);
                        tracing::info!(server = %self.config.url, "bridge uplink connected");
                    }
                }
                Ok(Event::Outgoing(rumqttc::Outgoing::Publish(pkid))) => {
                    if let Some(seq) = unassigned.pop_front() {
                        inflight.insert(pkid, seq);
                    }
                }
                Ok(Event::Incoming(Packet::PubAck(ack))) => {
                    let Some(seq) = inflight.remove(&ack.pkid) else { continue };
                    if matches!(ack.reason, PubAckReason::Success | PubAckReason::NoMatchingSubscribers) {
                        self.status.delivered();
                    } else {
                        // Sending it again would get the same answer.
                        tracing::warn!(reason = ?ack.reason, "bridge: the cloud server refused an entry; dropped");
                        self.status.dropped(Dropped::Other, 1);
                    }
                    self.store.ack(seq);
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => self.inbound(publish),
                Ok(_) => {}
                Err(e) => return failed(connected, e.to_string()),
            }
        }
    }

    /// A PUBLISH from the cloud: a Record from a cloud Controller for a
    /// local endpoint.
    fn inbound(&self, publish: Publish) {
        let record = publish.payload;
        let route = match RecordView::parse(&record) {
            Err(_) => None,
            Ok(view) if self.routes.contains_key(view.to_id) => None, // no loops through the cloud
            Ok(view) => self.routes.get(view.from_id),
        };
        let Some(route) = route else {
            tracing::debug!(topic = ?publish.topic, "bridge: refused a PUBLISH from the cloud (not a Record from a cloud Controller to a local endpoint)");
            self.status.refused();
            return;
        };
        if route.try_send(record).is_err() {
            tracing::warn!("bridge: local delivery backlog full; Record from the cloud dropped");
            self.status.refused();
        }
    }
}

/// An upper bound of the PUBLISH packet an entry becomes: payload, topic,
/// properties, and room for the fixed header, packet id and property
/// headers.
fn packet_size(entry: &Entry) -> usize {
    let strings = entry.topic.len()
        + entry.response_topic.as_ref().map_or(0, String::len)
        + entry.properties.iter().map(|(k, v)| k.len() + v.len() + 5).sum::<usize>();
    entry.payload.len() + strings + USP_CONTENT_TYPE.len() + 32
}

fn publish(client: &AsyncClient, entry: Entry) -> Result<(), Box<rumqttc::v5::ClientError>> {
    let properties = PublishProperties {
        response_topic: entry.response_topic,
        content_type: (entry.kind != EntryKind::RuleEvent).then(|| USP_CONTENT_TYPE.to_owned()),
        user_properties: entry.properties,
        ..PublishProperties::default()
    };
    client
        .try_publish_with_properties(entry.topic, QoS::AtLeastOnce, false, entry.payload, properties)
        .map_err(Box::new)
}

/// Polls the event loop until it fails or the session stops listening.
fn drive(
    mut eventloop: rumqttc::v5::EventLoop,
) -> (JoinHandle<()>, mpsc::Receiver<Result<Event, rumqttc::v5::ConnectionError>>) {
    let (tx, rx) = mpsc::channel(256);
    let task = tokio::spawn(async move {
        loop {
            let event = eventloop.poll().await;
            let failed = event.is_err();
            if tx.send(event).await.is_err() || failed {
                return;
            }
        }
    });
    (task, rx)
}

/// Ends the event-loop task with the session.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends DISCONNECT and lets the event loop write it (bounded wait).
async fn disconnect(
    client: &AsyncClient,
    events: &mut mpsc::Receiver<Result<Event, rumqttc::v5::ConnectionError>>,
) {
    if client.try_disconnect().is_err() {
        return;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            match events.recv().await {
                Some(Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
}
