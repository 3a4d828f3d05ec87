//! TLS for the MQTT and WebSocket client MTPs, against real TLS peers:
//! mosquitto with a TLS listener configured by each test, and a USP
//! WebSocket server written here on tokio-rustls + tokio-tungstenite. The
//! certificates (a CA, a server certificate for `localhost` /
//! 127.0.0.1, client certificates carrying `urn:bbf:usp:id:` SANs, and a
//! second, untrusted CA) are generated per test with rcgen.
//!
//! Also here: TCP_NODELAY on the clients' sockets, plain and TLS, read
//! back from the sockets themselves.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers, not input paths

use std::{net::SocketAddr, sync::Arc, time::Duration};
use usp_testkit::{
    ExtendedKeyUsagePurpose, Mosquitto, SanType, TempDir,
    pki::{Ca, Issued},
    temp_dir,
};

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::{net::TcpListener, sync::oneshot};
use tokio_tungstenite::tungstenite::{
    Message,
    handshake::server::{ErrorResponse, Request, Response},
    http::HeaderValue,
};
use usp_endpoint::{
    controller::{ClientConfig, ConnectedMtp, Controller, ControllerClient, Incoming},
    mtp::{
        Link, RecordSender, Role,
        mqtt::{ConfigError, MqttClient, MqttConfig, MqttError},
        retry::RetryPolicy,
        tls::{
            ClientAuth, Identity, TlsConfig, TlsError, TlsFailure, TlsFailureKind, TrustRoots, server_config,
        },
        websocket::{WsClient, WsConfig, WsConfigError, WsError},
    },
};
use usp_proto::{
    Msg, Record,
    usp::{GetResp, Notify, NotifyResp, get_resp, request::ReqType},
    usp_record::mqtt_connect_record::MqttVersion,
};

const CTRL: &str = "self::rules";
const AGENT: &str = "proto::room101";
const URN: &str = "urn:bbf:usp:id:";

/// Every test ends within this, pass or fail.
async fn bounded<F: std::future::Future>(test: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), test).await.expect("test did not finish in time")
}

// ---------------------------------------------------------------------------
// Certificates

/// `issued` as the client or server identity rustls takes.
fn identity(issued: &Issued) -> Identity {
    Identity::new(vec![der(issued)], PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.key_der.clone())))
        .unwrap()
}

fn der(issued: &Issued) -> CertificateDer<'static> {
    CertificateDer::from(issued.cert_der.clone())
}

/// Everything a test needs, written to its directory.
struct Pki {
    dir: TempDir,
    /// The CA everyone trusts.
    ca: Issued,
    /// A CA nobody was told to trust.
    other_ca: Issued,
    /// The server: DNS `localhost`, IP 127.0.0.1.
    server: Issued,
    /// A server certificate for another name only.
    wrong_name_server: Issued,
    /// The Agent's client certificate (`urn:bbf:usp:id:proto::room101`).
    agent: Issued,
    /// The Controller's client certificate (`urn:bbf:usp:id:self::rules`).
    controller: Issued,
}

impl Pki {
    fn new() -> Pki {
        let dir = temp_dir("pki");
        let ca_issuer = Ca::new(dir.path(), "ca");
        let other_ca = Ca::new(dir.path(), "other-ca").cert;
        let server = ca_issuer.server("server");
        let wrong_name_server = ca_issuer.leaf(
            "wrong-name-server",
            vec![SanType::DnsName("broker.example".try_into().unwrap())],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let agent = ca_issuer.client("agent", Some(AGENT));
        let controller = ca_issuer.client("controller", Some(CTRL));
        Pki { dir, ca: ca_issuer.cert.clone(), other_ca, server, wrong_name_server, agent, controller }
    }

    /// Trust our CA (PEM file) and present `who`'s certificate (PEM files).
    fn client_tls(&self, who: &Issued) -> TlsConfig {
        TlsConfig::with_ca_file(&self.ca.cert_file).with_identity_files(&who.cert_file, &who.key_file)
    }
}

/// The Endpoint ID of a certificate's `urn:bbf:usp:id:` URI SAN.
fn endpoint_id_of(der: &[u8]) -> Option<String> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    san.value.general_names.iter().find_map(|name| match name {
        GeneralName::URI(u) => u.strip_prefix(URN).map(str::to_owned),
        _ => None,
    })
}

// ---------------------------------------------------------------------------
// mosquitto

/// How mosquitto's listener is secured.
#[derive(Clone, Copy)]
enum Listener<'a> {
    Plain,
    /// TLS with our server certificate; `require_certificate` for mTLS.
    Tls {
        pki: &'a Pki,
        require_certificate: bool,
    },
}

/// A mosquitto whose listener is secured as `listener` says.
fn mosquitto(listener: Listener<'_>) -> Mosquitto {
    match listener {
        Listener::Plain => Mosquitto::start(),
        Listener::Tls { pki, require_certificate } => Mosquitto::start_with(&format!(
            "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate {require_certificate}\n",
            pki.ca.cert_file.display(),
            pki.server.cert_file.display(),
            pki.server.key_file.display(),
        )),
    }
}

fn mqtt_config(eid: &str, role: Role, version: MqttVersion, host: &str, port: u16) -> MqttConfig {
    MqttConfig {
        retry: RetryPolicy { min_wait: Duration::from_millis(50), multiplier: 1000, max_wait: None },
        ..MqttConfig::new(eid, role, host, port).with_version(version)
    }
}

/// Runs a scripted Agent on `link`: answers every Get with a GetResp echoing
/// its first path.
fn scripted_agent<S: RecordSender>(link: Link<S>) {
    let Link { sender, mut incoming } = link;
    tokio::spawn(async move {
        while let Some(bytes) = incoming.recv().await {
            let record = usp_proto::decode::Limits::default().decode_record(bytes).unwrap();
            let Ok(msg) = record.msg() else { continue };
            if let Some(ReqType::Get(get)) = msg.as_request() {
                let resp =
                    GetResp::new(vec![get_resp::RequestedPathResult::ok(get.param_paths[0].clone(), vec![])]);
                let reply = Record::no_session_context_msg(
                    &record.from_id,
                    AGENT,
                    &Msg::response(msg.msg_id(), resp),
                );
                sender.send(&record.from_id, reply.encode_to_bytes()).await.unwrap();
            }
        }
    });
}

fn tls_failure_of_mqtt(result: Result<(MqttClient, Link<impl RecordSender>), MqttError>) -> TlsFailure {
    match result {
        Err(MqttError::Tls(failure)) => failure,
        Err(other) => panic!("expected a TLS failure, got {other:?}"),
        Ok(_) => panic!("expected a TLS failure, the client connected"),
    }
}

#[tokio::test]
async fn mqtts_request_response_with_mutual_tls_in_both_mqtt_versions() {
    bounded(async {
        let pki = Pki::new();
        let broker = mosquitto(Listener::Tls { pki: &pki, require_certificate: true });

        // The Controller: MQTT 5, CA and identity from PEM files, connecting
        // to "localhost" (checked against the certificate's DNS SAN).
        let ctrl_cfg = mqtt_config(CTRL, Role::Controller, MqttVersion::V5, "localhost", broker.port())
            .with_tls(pki.client_tls(&pki.controller));
        let (_ctrl_mqtt, link) = MqttClient::connect(ctrl_cfg).await.unwrap();
        let (client, mut notifications) =
            ControllerClient::spawn(Controller::new(CTRL).unwrap(), link, ClientConfig::default());

        // The Agent: MQTT 3.1.1, CA and identity in memory, connecting to
        // 127.0.0.1 (checked against the IP SAN).
        let agent_tls = TlsConfig::with_ca_der(vec![der(&pki.ca)]).with_identity(identity(&pki.agent));
        let agent_cfg = mqtt_config(AGENT, Role::Agent, MqttVersion::V311, "127.0.0.1", broker.port())
            .with_peer(CTRL, "usp/controller/self::rules")
            .with_tls(agent_tls);
        let (_agent_mqtt, agent_link) = MqttClient::connect(agent_cfg).await.unwrap();
        let agent_sender = agent_link.sender.clone();
        scripted_agent(agent_link);

        let Some(Incoming::Connected(connected)) = notifications.recv().await else { panic!() };
        assert_eq!(
            (connected.from.as_str(), connected.mtp),
            (
                AGENT,
                ConnectedMtp::Mqtt {
                    version: MqttVersion::V311,
                    subscribed_topic: "usp/agent/proto::room101".into()
                }
            )
        );
        let resp = client.get(AGENT, ["Device.DeviceInfo."]).await.unwrap();
        assert_eq!(resp.req_path_results[0].requested_path, "Device.DeviceInfo.");

        let notify = Notify::value_change("sub-1", true, "Device.X", "1");
        let record = Record::no_session_context_msg(CTRL, AGENT, &Msg::request("n-1", notify));
        agent_sender.send(CTRL, record.encode_to_bytes()).await.unwrap();
        assert_eq!(notifications.next_notification().await.unwrap().msg_id, "n-1");
    })
    .await;
}

#[tokio::test]
async fn mqtts_refuses_a_server_whose_ca_is_not_trusted() {
    bounded(async {
        let pki = Pki::new();
        let broker = mosquitto(Listener::Tls { pki: &pki, require_certificate: false });
        let cfg = |tls| {
            mqtt_config(CTRL, Role::Controller, MqttVersion::V5, "127.0.0.1", broker.port()).with_tls(tls)
        };

        let failure = tls_failure_of_mqtt(
            MqttClient::connect(cfg(TlsConfig::with_ca_file(&pki.other_ca.cert_file))).await,
        );
        assert_eq!(failure.kind, TlsFailureKind::UntrustedServer, "{failure}");
        assert_eq!(failure.peer, format!("127.0.0.1:{}", broker.port()));
        let text = MqttError::Tls(failure).to_string();
        assert!(text.contains("not signed by a trusted CA"), "a clear message: {text}");

        // The platform store does not hold our test CA either.
        let platform = TlsConfig { trust: TrustRoots::Platform, identity: None };
        let failure = tls_failure_of_mqtt(MqttClient::connect(cfg(platform)).await);
        assert_eq!(failure.kind, TlsFailureKind::UntrustedServer, "{failure}");

        // The same client with the right CA connects: the failures above
        // were about trust, not about the listener.
        let (ok, _link) = MqttClient::connect(cfg(TlsConfig::with_ca_file(&pki.ca.cert_file))).await.unwrap();
        assert_eq!(ok.sessions(), 1);
    })
    .await;
}

#[tokio::test]
async fn mqtts_with_a_required_client_certificate_refuses_a_client_without_one() {
    bounded(async {
        let pki = Pki::new();
        let broker = mosquitto(Listener::Tls { pki: &pki, require_certificate: true });
        for version in [MqttVersion::V5, MqttVersion::V311] {
            let cfg = mqtt_config(AGENT, Role::Agent, version, "127.0.0.1", broker.port())
                .with_tls(TlsConfig::with_ca_file(&pki.ca.cert_file));
            let failure = tls_failure_of_mqtt(MqttClient::connect(cfg).await);
            assert_eq!(failure.kind, TlsFailureKind::ClientCertificateRefused, "{version:?}: {failure}");
        }
        // A certificate from an untrusted CA is refused the same way.
        let foreign = Identity::new(
            vec![der(&pki.other_ca)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.other_ca.key_der.clone())),
        )
        .unwrap();
        let cfg = mqtt_config(AGENT, Role::Agent, MqttVersion::V5, "127.0.0.1", broker.port())
            .with_tls(TlsConfig::with_ca_file(&pki.ca.cert_file).with_identity(foreign));
        let failure = tls_failure_of_mqtt(MqttClient::connect(cfg).await);
        assert_eq!(failure.kind, TlsFailureKind::ClientCertificateRefused, "{failure}");
    })
    .await;
}

#[tokio::test]
async fn misconfigured_tls_is_a_config_time_error_naming_the_file() {
    let pki = Pki::new();
    let dir = pki.dir.path();
    let mqtt = |tls: TlsConfig| {
        MqttClient::start(MqttConfig::new(AGENT, Role::Agent, "127.0.0.1", 1).with_tls(tls)).map(drop)
    };

    let missing = dir.join("missing-ca.pem");
    let err = mqtt(TlsConfig::with_ca_file(&missing)).unwrap_err();
    assert!(matches!(&err, ConfigError::Tls(TlsError::Read { path, .. }) if *path == missing), "{err:?}");
    assert!(err.to_string().contains("missing-ca.pem"), "{err}");

    let garbled = dir.join("garbled.pem");
    std::fs::write(&garbled, "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n")
        .unwrap();
    let err = mqtt(TlsConfig::with_ca_file(&garbled)).unwrap_err();
    assert!(matches!(&err, ConfigError::Tls(TlsError::Pem { path, .. }) if *path == garbled), "{err:?}");

    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "no PEM here\n").unwrap();
    let err = mqtt(TlsConfig::with_ca_file(&empty)).unwrap_err();
    assert_eq!(err, ConfigError::Tls(TlsError::NoCertificate { path: empty.clone() }));

    let not_a_cert = dir.join("not-a-cert.pem");
    std::fs::write(&not_a_cert, "-----BEGIN CERTIFICATE-----\nAAECAwQ=\n-----END CERTIFICATE-----\n")
        .unwrap();
    let err = mqtt(TlsConfig::with_ca_file(&not_a_cert)).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Tls(TlsError::BadCertificate { origin, index: 0, .. }) if origin.ends_with("not-a-cert.pem")),
        "{err:?}"
    );

    // The Agent's certificate with the Controller's key.
    let ca = TlsConfig::with_ca_file(&pki.ca.cert_file);
    let err =
        mqtt(ca.clone().with_identity_files(&pki.agent.cert_file, &pki.controller.key_file)).unwrap_err();
    assert_eq!(
        err,
        ConfigError::Tls(TlsError::KeyMismatch {
            certificate: pki.agent.cert_file.display().to_string(),
            key: pki.controller.key_file.display().to_string(),
        })
    );
    assert!(err.to_string().contains("controller.key") && err.to_string().contains("agent.pem"), "{err}");

    // A certificate file given as the key.
    let err = mqtt(ca.clone().with_identity_files(&pki.agent.cert_file, &pki.agent.cert_file)).unwrap_err();
    assert_eq!(err, ConfigError::Tls(TlsError::NoPrivateKey { path: pki.agent.cert_file.clone() }));

    // The same checks guard the WebSocket client, and the in-memory form.
    let ws = |url: &str, tls: TlsConfig| {
        WsClient::start(WsConfig::new(AGENT, Role::Agent, url).with_tls(tls)).map(drop)
    };
    let err = ws("wss://127.0.0.1:1/usp", TlsConfig::with_ca_file(&missing)).unwrap_err();
    assert!(matches!(&err, WsConfigError::Tls(TlsError::Read { path, .. }) if *path == missing), "{err:?}");
    let err = ws("ws://127.0.0.1:1/usp", ca.clone()).unwrap_err();
    assert!(matches!(err, WsConfigError::TlsWithoutWss(_)), "{err:?}");
    let mismatch = Identity::new(
        vec![der(&pki.agent)],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.controller.key_der.clone())),
    );
    assert_eq!(
        mismatch.unwrap_err(),
        TlsError::KeyMismatch {
            certificate: "in-memory certificate chain".into(),
            key: "in-memory private key".into()
        }
    );
    // And a good configuration passes.
    assert_eq!(mqtt(pki.client_tls(&pki.agent)), Ok(()));
}

// ---------------------------------------------------------------------------
// WebSocket

/// What the test server learned from one session.
#[derive(Debug)]
struct SeenByServer {
    /// The Endpoint ID in the client certificate's SAN, if one was shown.
    cert_endpoint_id: Option<String>,
    /// The subprotocol the client asked for.
    protocol: Option<String>,
}

type TlsWs = tokio_tungstenite::WebSocketStream<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>;

/// A TLS listener with `identity` and the client-auth policy.
async fn wss_listener(
    identity: &Identity,
    auth: ClientAuth,
) -> (TcpListener, tokio_rustls::TlsAcceptor, u16) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config(identity, auth).unwrap());
    (l, acceptor, port)
}

/// Accepts one TLS + USP WebSocket session (answering `v1.usp`).
async fn wss_accept(
    l: &TcpListener,
    acceptor: &tokio_rustls::TlsAcceptor,
) -> Result<(TlsWs, SeenByServer), String> {
    let (tcp, _) = l.accept().await.unwrap();
    let tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
    let cert_endpoint_id =
        tls.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(|leaf| endpoint_id_of(leaf));
    let (tx, rx) = oneshot::channel();
    #[allow(clippy::result_large_err)] // tungstenite's callback type
    let callback = move |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        let protocol = req.headers().get("Sec-WebSocket-Protocol").map(|v| v.to_str().unwrap().to_owned());
        resp.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("v1.usp"));
        tx.send(protocol).unwrap();
        Ok(resp)
    };
    let ws = tokio_tungstenite::accept_hdr_async(tls, callback).await.map_err(|e| e.to_string())?;
    Ok((ws, SeenByServer { cert_endpoint_id, protocol: rx.await.unwrap() }))
}

fn ws_config(eid: &str, role: Role, port: u16, tls: TlsConfig) -> WsConfig {
    WsConfig {
        retry: RetryPolicy { min_wait: Duration::from_millis(20), multiplier: 1000, max_wait: None },
        ..WsConfig::new(eid, role, format!("wss://127.0.0.1:{port}/usp/agent")).with_tls(tls)
    }
}

fn tls_failure_of_ws(result: Result<(WsClient, Link<impl RecordSender>), WsError>) -> TlsFailure {
    match result {
        Err(WsError::Tls(failure)) => failure,
        Err(other) => panic!("expected a TLS failure, got {other:?}"),
        Ok(_) => panic!("expected a TLS failure, the client connected"),
    }
}

#[tokio::test]
async fn wss_request_response_and_the_server_sees_the_client_endpoint_id() {
    bounded(async {
        let pki = Pki::new();
        let roots = Arc::new(TrustRoots::Der(vec![der(&pki.ca)]).load().unwrap());
        let (l, acceptor, port) = wss_listener(&identity(&pki.server), ClientAuth::Required(roots)).await;
        let server = tokio::spawn(async move {
            let (mut ws, seen) = wss_accept(&l, &acceptor).await.unwrap();
            // A scripted Agent behind the server: answer a Get, then notify.
            let req = loop {
                if let Message::Binary(b) = ws.next().await.unwrap().unwrap() {
                    break usp_proto::decode::Limits::default().decode_record(b).unwrap();
                }
            };
            // R-SEC.0a: what the certificate says is who the records are from.
            assert_eq!(Some(req.from_id.as_str()), seen.cert_endpoint_id.as_deref());
            let msg = req.msg().unwrap();
            let resp = GetResp::new(vec![get_resp::RequestedPathResult::ok("Device.A.", vec![])]);
            let answer =
                Record::no_session_context_msg(&req.from_id, AGENT, &Msg::response(msg.msg_id(), resp));
            ws.send(Message::Binary(answer.encode_to_bytes())).await.unwrap();
            let notify = Notify::value_change("s-1", true, "Device.A.V", "2");
            let n = Record::no_session_context_msg(&req.from_id, AGENT, &Msg::request("n-1", notify));
            ws.send(Message::Binary(n.encode_to_bytes())).await.unwrap();
            let ack = loop {
                if let Message::Binary(b) = ws.next().await.unwrap().unwrap() {
                    break usp_proto::decode::Limits::default().decode_record(b).unwrap();
                }
            };
            assert_eq!(ack.msg().unwrap(), Msg::response("n-1", NotifyResp::new("s-1")));
            seen
        });
        let (_ws_client, link) =
            WsClient::connect(ws_config(CTRL, Role::Controller, port, pki.client_tls(&pki.controller)))
                .await
                .unwrap();
        let (client, mut notifications) =
            ControllerClient::spawn(Controller::new(CTRL).unwrap(), link, ClientConfig::default());
        let resp = client.get(AGENT, ["Device.A."]).await.unwrap();
        assert_eq!(resp.req_path_results[0].requested_path, "Device.A.");
        assert_eq!(notifications.next_notification().await.unwrap().msg_id, "n-1");
        let seen = server.await.unwrap();
        assert_eq!(seen.cert_endpoint_id.as_deref(), Some(CTRL), "the server saw our endpoint-id SAN");
        assert_eq!(seen.protocol.as_deref(), Some("v1.usp"));
    })
    .await;
}

#[tokio::test]
async fn wss_checks_the_server_name_and_ca() {
    bounded(async {
        let pki = Pki::new();
        // A certificate from our CA, but for "broker.example", not 127.0.0.1.
        let (l, acceptor, port) = wss_listener(&identity(&pki.wrong_name_server), ClientAuth::None).await;
        let server = tokio::spawn(async move {
            // The client aborts the handshake: the server sees a failure.
            let first = wss_accept(&l, &acceptor).await.map(drop);
            let second = wss_accept(&l, &acceptor).await.map(drop);
            (first, second)
        });
        let trusting = TlsConfig::with_ca_file(&pki.ca.cert_file);
        let failure =
            tls_failure_of_ws(WsClient::connect(ws_config(AGENT, Role::Agent, port, trusting)).await);
        assert_eq!(failure.kind, TlsFailureKind::NameMismatch, "{failure}");
        assert!(WsError::Tls(failure).to_string().contains("not valid for the name"));

        let untrusting = TlsConfig::with_ca_file(&pki.other_ca.cert_file);
        let failure =
            tls_failure_of_ws(WsClient::connect(ws_config(AGENT, Role::Agent, port, untrusting)).await);
        assert_eq!(failure.kind, TlsFailureKind::UntrustedServer, "{failure}");
        let (first, second) = server.await.unwrap();
        assert!(first.is_err() && second.is_err(), "no session was opened");
    })
    .await;
}

#[tokio::test]
async fn wss_with_a_required_client_certificate_refuses_a_client_without_one() {
    bounded(async {
        let pki = Pki::new();
        let roots = Arc::new(TrustRoots::Der(vec![der(&pki.ca)]).load().unwrap());
        let (l, acceptor, port) = wss_listener(&identity(&pki.server), ClientAuth::Required(roots)).await;
        let server = tokio::spawn(async move { wss_accept(&l, &acceptor).await.map(drop) });
        let no_identity = TlsConfig::with_ca_file(&pki.ca.cert_file);
        let failure =
            tls_failure_of_ws(WsClient::connect(ws_config(AGENT, Role::Agent, port, no_identity)).await);
        assert_eq!(failure.kind, TlsFailureKind::ClientCertificateRefused, "{failure}");
        let refused = server.await.unwrap().unwrap_err();
        assert!(refused.contains("certificate"), "{refused}");
    })
    .await;
}

// ---------------------------------------------------------------------------
// TCP_NODELAY

/// TCP_NODELAY of every socket of this process connected to `peer`, read
/// from the sockets themselves: each descriptor is duplicated through
/// `pidfd_getfd` on our own process (no `unsafe`), then asked with
/// `getsockopt`. A socket's Nagle setting is only visible at its own end,
/// so this is the only place the client's choice can be seen.
fn nodelay_of_sockets_connected_to(peer: SocketAddr) -> Vec<bool> {
    use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};
    let me = pidfd_open(getpid(), PidfdFlags::empty()).expect("pidfd_open");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let is_socket =
            std::fs::read_link(entry.path()).is_ok_and(|t| t.to_string_lossy().starts_with("socket:"));
        if !is_socket {
            continue;
        }
        // The descriptor may be gone by now (another test's socket closed).
        let Ok(dup) = pidfd_getfd(&me, fd, PidfdGetfdFlags::empty()) else { continue };
        let connected_to =
            rustix::net::getpeername(&dup).ok().flatten().and_then(|a| SocketAddr::try_from(a).ok());
        if connected_to == Some(peer) {
            found.push(rustix::net::sockopt::tcp_nodelay(&dup).unwrap());
        }
    }
    found
}

#[tokio::test]
async fn client_sockets_have_tcp_nodelay_plain_and_tls() {
    bounded(async {
        let pki = Pki::new();
        for listener in [Listener::Plain, Listener::Tls { pki: &pki, require_certificate: false }] {
            let broker = mosquitto(listener);
            let tls = matches!(listener, Listener::Tls { .. });
            for version in [MqttVersion::V5, MqttVersion::V311] {
                let mut cfg = mqtt_config(AGENT, Role::Agent, version, "127.0.0.1", broker.port());
                if tls {
                    cfg = cfg.with_tls(TlsConfig::with_ca_file(&pki.ca.cert_file));
                }
                let (client, _link) = MqttClient::connect(cfg).await.unwrap();
                let peer: SocketAddr = ([127, 0, 0, 1], broker.port()).into();
                assert_eq!(nodelay_of_sockets_connected_to(peer), [true], "MQTT {version:?}, TLS {tls}");
                client.shutdown(Duration::from_secs(5)).await;
            }
        }

        // The WebSocket client, over TLS; and the probe itself tells the
        // two settings apart: the server's accepted socket keeps Nagle on.
        let (l, acceptor, port) = wss_listener(&identity(&pki.server), ClientAuth::None).await;
        let server = tokio::spawn(async move { wss_accept(&l, &acceptor).await.unwrap() });
        let tls = TlsConfig::with_ca_file(&pki.ca.cert_file);
        let (_client, _link) =
            WsClient::connect(ws_config(AGENT, Role::Controller, port, tls)).await.unwrap();
        let (ws, _) = server.await.unwrap();
        let server_side = ws.get_ref().get_ref().0.local_addr().unwrap();
        let client_side = ws.get_ref().get_ref().0.peer_addr().unwrap();
        assert_eq!(nodelay_of_sockets_connected_to(server_side), [true], "the WebSocket client's socket");
        assert_eq!(nodelay_of_sockets_connected_to(client_side), [false], "the test server's socket");
    })
    .await;
}
