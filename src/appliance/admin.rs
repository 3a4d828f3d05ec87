//! The appliance's HTTP endpoints: Prometheus metrics, and the admin API
//! that `uspmesh endpoints` and `uspmesh rules …` call.
//!
//! Why HTTP/JSON on loopback: the CLI, `curl` and monitoring all speak it,
//! it sits beside `/metrics` on the same server code, and it needs no USP
//! data model of its own. The admin API has no authentication: it listens
//! on loopback by default (`[admin] bind`), where only local users reach
//! it; `/metrics` only reads and may be exposed separately
//! (`[metrics] bind`).
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /metrics` | Prometheus text (broker `usp_broker_*`, rules `uspmesh_rule*`) |
//! | `GET /v1/endpoints` | `{"endpoints": [{endpoint_id, mtp, tls, peer, client_id, connected_since, connected_for_s, records_in, bytes_in, records_out, bytes_out, admin, reply_topic}]}` |
//! | `GET /v1/rules/status` | `{"endpoint_id", "dir", "rules": [{name, stopped}], "engine": {…}, "counters": {…}, "requests_in_flight", "agents_syncing", "next_deadline"}` |
//! | `GET /v1/rules/{name}/explain` | `{"rule", "text"}`; 404 `{"error"}` for an unknown rule |
//! | `GET /v1/bridge` | `{"connected", "queued", "queued_bytes", "delivered", "dropped_oldest", "dropped_newest", "dropped_other", "received", "refused", "sessions", "recovered", "damaged_segments"}`; 404 when no `[bridge]` is configured |
//! | `GET /v1/nats` | `{"node", "stream", "stats": {forwarded, forward_dropped, received, …}}`; 404 when no `[nats]` is configured |
//! | `POST /v1/rules/reload` | `{"rules": n}`; 422 `{"errors": ["file:line:column: reason", …]}` (the running rules stay); 409 `{"error"}` when no rules directory is configured |
//!
//! Errors are `{"error": "…"}` with a 4xx/5xx status; 404 on the
//! `/v1/rules` paths also when the rules engine is not enabled.

use std::{path::PathBuf, sync::Arc, time::SystemTime};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use usp_broker::{BrokerHandle, EndpointInfo, bridge::BridgeHandle, nats::NatsNode};
use usp_rules::runtime::{RulesHandle, RuntimeStatus};

use super::reload::{ReloadError, reload};

/// What the handlers read.
#[derive(Debug, Clone)]
pub(crate) struct AdminState {
    pub(crate) broker: Arc<BrokerHandle>,
    pub(crate) rules: Option<RulesApi>,
    pub(crate) prometheus: Option<PrometheusHandle>,
    pub(crate) bridge: Option<Arc<BridgeHandle>>,
    pub(crate) nats: Option<Arc<NatsNode>>,
}

/// The rules engine, as the admin API sees it.
#[derive(Debug, Clone)]
pub(crate) struct RulesApi {
    pub(crate) api: RulesHandle,
    pub(crate) endpoint_id: String,
    pub(crate) dir: Option<PathBuf>,
    pub(crate) tags: Vec<(String, Vec<String>)>,
}

/// `GET /metrics`.
pub(crate) fn metrics_router(state: AdminState) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(state)
}

/// The `/v1/…` admin API.
pub(crate) fn admin_router(state: AdminState) -> Router {
    Router::new()
        .route("/v1/endpoints", get(endpoints))
        .route("/v1/rules/status", get(rules_status))
        .route("/v1/rules/{name}/explain", get(rules_explain))
        .route("/v1/rules/reload", post(rules_reload))
        .route("/v1/bridge", get(bridge_status))
        .route("/v1/nats", get(nats_status))
        .with_state(state)
}

/// Serves `router` on `listener` until `stop`; requests under way then
/// finish.
pub(crate) async fn serve(listener: TcpListener, router: Router, stop: CancellationToken) {
    let addr = listener.local_addr().ok();
    if let Err(error) = axum::serve(listener, router).with_graceful_shutdown(stop.cancelled_owned()).await {
        tracing::error!(?addr, %error, "HTTP endpoint failed");
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn metrics(State(state): State<AdminState>) -> Response {
    match &state.prometheus {
        Some(handle) => {
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render())
                .into_response()
        }
        None => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "another metrics recorder was installed in this process; metrics are not exported here",
        ),
    }
}

async fn endpoints(State(state): State<AdminState>) -> Response {
    let now = SystemTime::now();
    let mut list = state.broker.registry().snapshot();
    list.sort_by(|a, b| a.endpoint_id.cmp(&b.endpoint_id).then(a.connection.cmp(&b.connection)));
    let endpoints: Vec<Value> = list.iter().map(|e| endpoint_json(e, now)).collect();
    Json(json!({ "endpoints": endpoints })).into_response()
}

/// One registry entry in the API's form (times as RFC 3339 UTC).
fn endpoint_json(e: &EndpointInfo, now: SystemTime) -> Value {
    json!({
        "endpoint_id": e.endpoint_id,
        "mtp": e.mtp,
        "tls": e.tls,
        "peer": e.peer.map(|p| p.to_string()),
        "client_id": e.client_id,
        "connected_since": rfc3339(e.connected_since),
        "connected_for_s": now.duration_since(e.connected_since).map_or(0.0, |d| d.as_secs_f64()),
        "records_in": e.records_in,
        "bytes_in": e.bytes_in,
        "records_out": e.records_out,
        "bytes_out": e.bytes_out,
        "admin": e.admin,
        "reply_topic": e.reply_topic,
        "reachable": e.reachable,
    })
}

/// `2026-11-25T21:34:54.123Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t).map_or_else(|_| "?".to_owned(), |ts| format!("{ts:.3}"))
}

async fn bridge_status(State(state): State<AdminState>) -> Response {
    let Some(bridge) = state.bridge.as_ref() else {
        return error(StatusCode::NOT_FOUND, "no cloud bridge is configured ([bridge])");
    };
    let s = bridge.status();
    Json(json!({
        "connected": s.connected,
        "queued": s.queued,
        "queued_bytes": s.queued_bytes,
        "delivered": s.delivered,
        "dropped_oldest": s.dropped_oldest,
        "dropped_newest": s.dropped_newest,
        "dropped_other": s.dropped_other,
        "received": s.received,
        "refused": s.refused,
        "sessions": s.sessions,
        "recovered": s.recovered,
        "damaged_segments": s.damaged_segments,
    }))
    .into_response()
}

async fn nats_status(State(state): State<AdminState>) -> Response {
    let Some(nats) = state.nats.as_ref() else {
        return error(StatusCode::NOT_FOUND, "no NATS cluster is configured ([nats])");
    };
    Json(json!({ "node": nats.node(), "stream": nats.stream_name(), "stats": nats.stats() })).into_response()
}

fn not_enabled() -> Response {
    error(StatusCode::NOT_FOUND, "the rules engine is not enabled ([rules] enabled = false)")
}

fn stopped() -> Response {
    error(StatusCode::SERVICE_UNAVAILABLE, "the rules engine has stopped")
}

async fn rules_status(State(state): State<AdminState>) -> Response {
    let Some(rules) = state.rules.as_ref() else { return not_enabled() };
    match rules.api.status().await {
        Ok(status) => Json(status_json(rules, &status)).into_response(),
        Err(_) => stopped(),
    }
}

fn status_json(rules: &RulesApi, s: &RuntimeStatus) -> Value {
    let c = &s.counters;
    json!({
        "endpoint_id": rules.endpoint_id,
        "dir": rules.dir.as_ref().map(|d| d.display().to_string()),
        "rules": s.rules.iter().map(|r| json!({"name": &*r.name, "stopped": r.stopped})).collect::<Vec<_>>(),
        "engine": {
            "notifications": s.engine.notifications,
            "candidates": s.engine.candidates,
            "evaluations": s.engine.evaluations,
            "fired": s.engine.fired,
            "requests": s.engine.requests,
        },
        "counters": {
            "notifications": c.notifications,
            "requests": c.requests,
            "request_errors": c.request_errors,
            "request_timeouts": c.request_timeouts,
            "request_link_failures": c.request_link_failures,
            "syncs": c.syncs,
            "sync_failures": c.sync_failures,
            "upstream_sent": c.upstream_sent,
            "upstream_dropped": c.upstream_dropped,
            "persist_writes": c.persist_writes,
            "persist_failures": c.persist_failures,
        },
        "requests_in_flight": s.requests_in_flight,
        "agents_syncing": s.agents_syncing,
        "next_deadline": s.next_deadline.map(rfc3339),
    })
}

async fn rules_explain(State(state): State<AdminState>, Path(name): Path<String>) -> Response {
    let Some(rules) = state.rules.as_ref() else { return not_enabled() };
    match rules.api.explain_text(&name).await {
        Ok(Some(text)) => Json(json!({ "rule": name, "text": text })).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no rule named {name:?}")),
        Err(_) => stopped(),
    }
}

async fn rules_reload(State(state): State<AdminState>) -> Response {
    let Some(rules) = state.rules.as_ref() else { return not_enabled() };
    match reload(&rules.api, rules.dir.as_ref(), &rules.tags).await {
        Ok(n) => Json(json!({ "rules": n })).into_response(),
        Err(ReloadError::Refused(errors)) => {
            let list: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
            (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({ "errors": list }))).into_response()
        }
        Err(e @ ReloadError::NoDirectory) => error(StatusCode::CONFLICT, e.to_string()),
        Err(ReloadError::NotEnabled) => not_enabled(),
        Err(ReloadError::Stopped) => stopped(),
    }
}
