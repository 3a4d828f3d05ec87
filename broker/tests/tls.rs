//! TLS on the MQTT and WebSocket listeners with certificates made in the
//! test (rcgen): a client certificate with a `urn:bbf:usp:id:` SAN is the
//! connection's credential and identity; certificates are required or
//! optional per listener; untrusted ones are refused; mosquitto's clients
//! work over it too.

// An integration test crate: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use common::*;
use futures_util::{SinkExt, StreamExt};
use rumqttc::v5::mqttbytes::QoS as Q5;
use tokio_rustls::rustls::{
    self, ClientConfig, RootCertStore,
    pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName},
};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
use usp_broker::{
    DropReason, Mtp,
    config::{TlsConfig, UserConfig},
    identity::IdentitySource,
};
use usp_testkit::{TempDir, pki::Ca, temp_dir};

/// A test CA, a server certificate for 127.0.0.1, and client certificates.
struct Pki {
    _dir: TempDir,
    ca: Ca,
}

/// A client certificate and its key.
struct ClientCert {
    der: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    cert_path: PathBuf,
    key_path: PathBuf,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let dir = temp_dir(name);
        let ca = Ca::new(dir.path(), "ca");
        Pki { _dir: dir, ca }
    }

    fn ca_path(&self) -> PathBuf {
        self.ca.cert.cert_file.clone()
    }

    /// Listener settings: a server certificate for localhost / 127.0.0.1.
    fn listener(&self, verify_clients: bool, require: bool) -> TlsConfig {
        let server = self.ca.server("server");
        TlsConfig {
            certificate_chain: server.cert_file,
            private_key: server.key_file,
            client_ca: verify_clients.then(|| self.ca_path()),
            require_client_certificate: require,
        }
    }

    /// A client certificate, with an Endpoint ID SAN when `eid` is given.
    fn client(&self, eid: Option<&str>) -> ClientCert {
        let issued = self.ca.client(eid.unwrap_or("anonymous"), eid);
        ClientCert {
            der: CertificateDer::from(issued.cert_der),
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.key_der)),
            cert_path: issued.cert_file,
            key_path: issued.key_file,
        }
    }

    /// A rustls client trusting this CA, presenting `cert` if given.
    fn client_config(&self, cert: Option<&ClientCert>) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from(self.ca.cert.cert_der.clone())).unwrap();
        let builder = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        Arc::new(match cert {
            Some(c) => builder.with_client_auth_cert(vec![c.der.clone()], c.key.clone_key()).unwrap(),
            None => builder.with_no_client_auth(),
        })
    }
}

fn v5_options(addr: SocketAddr, client_id: &str, tls: Arc<ClientConfig>) -> rumqttc::v5::MqttOptions {
    let mut options = rumqttc::v5::MqttOptions::new(client_id, "127.0.0.1", addr.port());
    options.set_transport(rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(tls)));
    options.set_request_response_info(Some(1));
    options
}

#[tokio::test]
async fn mqtt_tls_client_certificate_is_credential_and_identity() {
    let pki = Pki::new("main");
    let broker = broker(|c| {
        c.mqtt[0].tls = Some(pki.listener(true, false));
        c.auth.users = vec![UserConfig { username: "site".into(), password: "pw".into() }];
    })
    .await;
    let addr = broker.mqtt_addrs()[0];

    // The certificate's Endpoint ID wins over the claimed one, and needs no password.
    let cert = pki.client(Some("proto::cert-a"));
    let mut options = v5_options(addr, "some-client", pki.client_config(Some(&cert)));
    options.set_user_properties(vec![("usp-endpoint-id".into(), "proto::claimed".into())]);
    let mut a = Mqtt5::start(options).await.unwrap();
    assert_eq!(a.response_information().as_deref(), Some("usp/agent/proto::cert-a"));
    let info = broker.registry().find("proto::cert-a").pop().unwrap();
    assert_eq!((info.identity_source, info.tls, info.mtp), (IdentitySource::Certificate, true, Mtp::Mqtt5));
    assert!(broker.registry().find("proto::claimed").is_empty());

    a.subscribe("usp/agent/proto::cert-a", Q5::AtLeastOnce).await;
    a.publish(
        "usp/agent/proto::cert-a",
        Q5::AtLeastOnce,
        get_request("proto::claimed", "proto::cert-a", "x"),
        None,
    )
    .await;
    a.publish(
        "usp/agent/proto::cert-a",
        Q5::AtLeastOnce,
        get_request("proto::cert-a", "proto::cert-a", "self"),
        None,
    )
    .await;
    assert_eq!(msg_id(&a.next_publish().await.payload), "self");
    assert_eq!(broker.stats().dropped(DropReason::SpoofedFromId), 1);

    // No certificate: the password is the credential.
    let no_cert = || v5_options(addr, "proto::pw-b", pki.client_config(None));
    let refused = Mqtt5::start(no_cert()).await.err().unwrap();
    assert!(refused.contains("BadUserNamePassword"), "{refused}");
    let mut with_password = no_cert();
    with_password.set_credentials("site", "pw");
    let b = Mqtt5::start(with_password).await.unwrap();
    assert_eq!(b.response_information().as_deref(), Some("usp/agent/proto::pw-b"));
    broker.shutdown().await;
}

#[tokio::test]
async fn required_and_untrusted_certificates() {
    let pki = Pki::new("main");
    let rogue = Pki::new("rogue");
    let broker = broker(|c| c.mqtt[0].tls = Some(pki.listener(true, true))).await;
    let addr = broker.mqtt_addrs()[0];

    assert!(
        Mqtt5::start(v5_options(addr, "proto::none", pki.client_config(None))).await.is_err(),
        "certificate required"
    );
    // Signed by another CA (the client trusts the broker's CA, the broker not the client's).
    let untrusted = rogue.client(Some("proto::rogue"));
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(pki.ca.cert.cert_der.clone())).unwrap();
    let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![untrusted.der.clone()], untrusted.key.clone_key())
        .unwrap();
    assert!(Mqtt5::start(v5_options(addr, "proto::rogue", Arc::new(config))).await.is_err(), "untrusted CA");
    // Plain TCP to a TLS listener.
    let mut plain = raw::send(addr, &raw::connect_frame("proto::plain", 60, None, None)).await;
    raw::read_to_close(&mut plain).await;

    // A certificate without an Endpoint ID SAN: identity from the ClientId.
    let anonymous = pki.client(None);
    let c = Mqtt5::start(v5_options(addr, "proto::by-client-id", pki.client_config(Some(&anonymous))))
        .await
        .unwrap();
    assert_eq!(c.response_information().as_deref(), Some("usp/agent/proto::by-client-id"));
    assert_eq!(broker.registry().len(), 1);
    assert_eq!(broker.stats().connections_refused, 3, "no certificate, untrusted CA, plain TCP");
    broker.shutdown().await;
}

/// `wss://` with a client certificate: no `eid` query needed; talks to an
/// MQTT Controller on the plain listener.
#[tokio::test]
async fn websocket_over_tls_with_certificate_identity() {
    let pki = Pki::new("main");
    let broker = broker(|c| {
        c.websocket[0].tls = Some(pki.listener(true, true));
        c.access.controllers = vec!["proto::ctl".into()];
    })
    .await;
    let mut ctl = Mqtt5::connect(broker.mqtt_addrs()[0], "proto::ctl").await;
    ctl.subscribe("usp/controller/proto::ctl", Q5::AtLeastOnce).await;

    let cert = pki.client(Some("proto::wss-agent"));
    let connector = tokio_rustls::TlsConnector::from(pki.client_config(Some(&cert)));
    let tcp = tokio::net::TcpStream::connect(broker.websocket_addrs()[0]).await.unwrap();
    let tls = connector
        .connect(ServerName::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]).into()), tcp)
        .await
        .unwrap();
    let mut request =
        format!("wss://127.0.0.1:{}/usp", broker.websocket_addrs()[0].port()).into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "v1.usp".parse().unwrap());
    let (mut ws, _) = within("wss handshake", tokio_tungstenite::client_async(request, tls)).await.unwrap();
    let info = broker.registry().find("proto::wss-agent").pop().unwrap();
    assert_eq!(
        (info.mtp, info.tls, info.identity_source),
        (Mtp::WebSocket, true, IdentitySource::Certificate)
    );

    ws.send(Message::Binary(get_request("proto::wss-agent", "proto::ctl", "wss"))).await.unwrap();
    let got = ctl.next_publish().await;
    assert_eq!(msg_id(&got.payload), "wss");
    assert_eq!(got.properties.unwrap().response_topic.as_deref(), Some("usp/agent/proto::wss-agent"));
    ctl.publish(
        "usp/agent/proto::wss-agent",
        Q5::AtLeastOnce,
        get_response("proto::ctl", "proto::wss-agent", "wss"),
        None,
    )
    .await;
    let back = within("a Record over wss", async {
        loop {
            if let Message::Binary(b) = ws.next().await.unwrap().unwrap() {
                return b;
            }
        }
    })
    .await;
    assert_eq!(msg_id(&back), "wss");
    broker.shutdown().await;
}

/// Debian's mosquitto_sub as a TLS client with a certificate identity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_over_tls() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let pki = Pki::new("main");
    let broker = broker(|c| c.mqtt[0].tls = Some(pki.listener(true, true))).await;
    let addr = broker.mqtt_addrs()[0];
    let cert = pki.client(Some("proto::ms-tls"));
    let mut child = tokio::process::Command::new("stdbuf")
        .args([
            "-oL",
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            &addr.port().to_string(),
            "-V",
            "5",
            "-d",
            "-C",
            "1",
        ])
        .args(["-i", "ms-tls", "-t", "usp/agent/proto::ms-tls", "-q", "1", "-F", "%t|%x"])
        .arg("--cafile")
        .arg(pki.ca_path())
        .arg("--cert")
        .arg(&cert.cert_path)
        .arg("--key")
        .arg(&cert.key_path)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("mosquitto_sub is installed");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    within("mosquitto_sub's SUBACK over TLS", async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("received SUBACK") {
                return;
            }
        }
        panic!("mosquitto_sub ended before subscribing");
    })
    .await;
    assert_eq!(broker.registry().find("proto::ms-tls")[0].identity_source, IdentitySource::Certificate);

    let sender = pki.client(Some("proto::sender"));
    let s = Mqtt5::start(v5_options(addr, "", pki.client_config(Some(&sender)))).await.unwrap();
    let record = get_request("proto::sender", "proto::ms-tls", "tls");
    s.publish("usp/agent/proto::ms-tls", Q5::AtLeastOnce, record.clone(), None).await;
    let line = within("the Record at mosquitto_sub", async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("usp/agent/proto::ms-tls|") {
                return line;
            }
        }
        panic!("no message");
    })
    .await;
    let hex: String = record.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(line, format!("usp/agent/proto::ms-tls|{hex}"));
    let _ = within("mosquitto_sub to exit", child.wait()).await;
    broker.shutdown().await;
}
