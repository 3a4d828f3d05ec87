//! `uspmesh::appliance` in process, for what the configuration switches:
//! the rules engine off, `/metrics` and the admin API on one address,
//! the HTTP endpoints off — each checked over real sockets.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

use std::{net::SocketAddr, time::Duration};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uspmesh::appliance::{Appliance, ApplianceConfig, StartOptions};

/// Every listener on loopback, on ports the system picks.
fn ephemeral() -> ApplianceConfig {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut config =
        ApplianceConfig { broker: usp_broker::BrokerConfig::loopback_ephemeral(), ..Default::default() };
    config.metrics.bind = any;
    config.admin.bind = any;
    config
}

/// `method path` over HTTP/1.0; the status code and the body.
async fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(format!("{method} {path} HTTP/1.0\r\nHost: t\r\nContent-Length: 0\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_string(&mut text)).await.unwrap().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_rules_engine_the_rules_api_says_so() {
    let mut config = ephemeral();
    config.rules.enabled = false;
    let appliance = Appliance::start(config, StartOptions::default()).await.unwrap();
    assert!(appliance.rules().is_none());
    let admin = appliance.admin_addr().unwrap();
    let (code, body) = http(admin, "GET", "/v1/rules/status").await;
    assert_eq!(code, 404);
    assert!(body.contains("the rules engine is not enabled"), "{body}");
    let (code, _) = http(admin, "POST", "/v1/rules/reload").await;
    assert_eq!(code, 404);
    // No in-process endpoint either.
    let (code, body) = http(admin, "GET", "/v1/endpoints").await;
    assert_eq!((code, body.as_str()), (200, r#"{"endpoints":[]}"#));
    let report = appliance.shutdown().await;
    assert!(report.rules_persisted && report.drained);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_without_a_directory_is_refused_and_explain_knows_the_rules() {
    let appliance = Appliance::start(
        ephemeral(),
        StartOptions {
            rules: Some(vec![usp_rules::Source::new(
                "one.toml",
                "[rule.one]\ndescription = \"the only rule\"\nwhen = { agent_status = \"online\" }\n\
                 [[rule.one.then]]\npublish = \"x\"\n",
            )]),
            trace_events: false,
        },
    )
    .await
    .unwrap();
    let admin = appliance.admin_addr().unwrap();
    let (code, body) = http(admin, "POST", "/v1/rules/reload").await;
    assert_eq!(code, 409);
    assert!(body.contains("no rules directory is configured"), "{body}");
    let (code, body) = http(admin, "GET", "/v1/rules/one/explain").await;
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["rule"], "one");
    assert!(v["text"].as_str().unwrap().contains("the only rule"), "{v}");
    let (code, _) = http(admin, "GET", "/v1/rules/two/explain").await;
    assert_eq!(code, 404);
    appliance.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_admin_share_one_address_when_told_to() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = ephemeral();
    let both: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    config.metrics.bind = both;
    config.admin.bind = both;
    let appliance = Appliance::start(config, StartOptions::default()).await.unwrap();
    assert_eq!(appliance.metrics_addr(), Some(both));
    assert_eq!(appliance.admin_addr(), Some(both));
    let (code, body) = http(both, "GET", "/metrics").await;
    assert_eq!(code, 200);
    assert!(body.contains("usp_broker_connections"), "{body}");
    let (code, body) = http(both, "GET", "/v1/endpoints").await;
    assert_eq!(code, 200);
    assert!(body.contains("self::site1-rules"), "{body}");
    appliance.shutdown().await;
    // Stopped: nothing listens there any more.
    assert!(tokio::net::TcpStream::connect(both).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_endpoints_can_be_switched_off() {
    let mut config = ephemeral();
    config.metrics.enabled = false;
    config.admin.enabled = false;
    let appliance = Appliance::start(config, StartOptions::default()).await.unwrap();
    assert_eq!((appliance.metrics_addr(), appliance.admin_addr()), (None, None));
    assert!(appliance.rules().is_some());
    appliance.shutdown().await;
}
