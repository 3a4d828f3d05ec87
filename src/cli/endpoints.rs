//! `uspmesh endpoints`: who the running appliance has connected, from its
//! registry (through the admin API).
//!
//! Readable form: one line per connection —
//! `ENDPOINT  MTP  SINCE  RECORDS IN/OUT  BYTES IN/OUT  PEER`, then a
//! count, then a warning for each endpoint that is connected but not
//! reachable (it has not subscribed to its reply topic, so nothing can be
//! sent to it: the usual mistake of a new Agent); `--json` prints the
//! API's answer as it is.

use clap::Args;
use hyper::Method;
use serde_json::Value;

use super::{
    CliError,
    admin_client::{self, AdminArgs},
    render,
};

/// Arguments of `uspmesh endpoints`.
#[derive(Debug, Args)]
pub(crate) struct EndpointsArgs {
    #[command(flatten)]
    admin: AdminArgs,
}

/// Runs `uspmesh endpoints`.
pub(crate) async fn run(args: EndpointsArgs) -> Result<(), CliError> {
    let answer = admin_client::call(&args.admin, Method::GET, "/v1/endpoints").await?;
    if answer.status != 200 {
        return Err(CliError::Protocol(answer.error_text()));
    }
    if args.admin.json {
        return render::print_json(&answer.body);
    }
    let list = answer.body.get("endpoints").and_then(Value::as_array).cloned().unwrap_or_default();
    render::print(&table(&list))
}

/// The readable table.
fn table(list: &[Value]) -> String {
    let rows: Vec<[String; 6]> = list
        .iter()
        .map(|e| {
            let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("-").to_owned();
            let n = |k: &str| e.get(k).and_then(Value::as_u64).unwrap_or(0);
            let mtp = match (s("mtp").as_str(), e.get("tls").and_then(Value::as_bool) == Some(true)) {
                ("mqtt5", tls) => if tls { "mqtts 5" } else { "mqtt 5" }.to_owned(),
                ("mqtt311", tls) => if tls { "mqtts 3.1.1" } else { "mqtt 3.1.1" }.to_owned(),
                ("web_socket", tls) => if tls { "wss" } else { "ws" }.to_owned(),
                ("in_process", _) => "in-process".to_owned(),
                (other, _) => other.to_owned(),
            };
            let age = e.get("connected_for_s").and_then(Value::as_f64).unwrap_or(0.0);
            [
                s("endpoint_id"),
                mtp,
                format!("{} ({} ago)", s("connected_since"), age_text(age)),
                format!("{}/{}", n("records_in"), n("records_out")),
                format!("{}/{}", n("bytes_in"), n("bytes_out")),
                s("peer"),
            ]
        })
        .collect();
    let header = ["ENDPOINT", "MTP", "SINCE", "RECORDS IN/OUT", "BYTES IN/OUT", "PEER"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&format!("{} connected\n", rows.len()));
    for e in list.iter().filter(|e| e.get("reachable").and_then(Value::as_bool) == Some(false)) {
        let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("-");
        out.push_str(&format!(
            "warning: {} is not reachable: it has not subscribed to its reply topic {}, so Records for it \
             are not delivered (have the Agent subscribe to it)\n",
            s("endpoint_id"),
            s("reply_topic"),
        ));
    }
    out
}

/// `42s`, `3m05s`, `2h10m`, `3d04h`.
fn age_text(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(age_text(42.9), "42s");
        assert_eq!(age_text(185.0), "3m05s");
        assert_eq!(age_text(7800.0), "2h10m");
        assert_eq!(age_text(273_600.0), "3d04h");
    }

    #[test]
    fn a_table() {
        let list = vec![
            serde_json::json!({
                "endpoint_id": "proto::room-101", "mtp": "mqtt5", "tls": false,
                "connected_since": "2026-11-25T21:00:00.000Z", "connected_for_s": 65.0,
                "records_in": 3, "records_out": 4, "bytes_in": 300, "bytes_out": 400, "peer": "127.0.0.1:5000",
                "reachable": true, "reply_topic": "usp/agent/proto::room-101"
            }),
            serde_json::json!({
                "endpoint_id": "proto::new", "mtp": "mqtt311", "tls": true,
                "connected_since": "2026-11-25T21:01:00.000Z", "connected_for_s": 5.0,
                "records_in": 1, "records_out": 0, "bytes_in": 90, "bytes_out": 0, "peer": "127.0.0.1:5001",
                "reachable": false, "reply_topic": "usp/agent/proto::new"
            }),
        ];
        let text = table(&list);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("ENDPOINT         MTP          SINCE"), "{text}");
        assert!(
            lines[1].starts_with("proto::room-101  mqtt 5       2026-11-25T21:00:00.000Z (1m05s ago)  3/4"),
            "{text}"
        );
        assert!(lines[1].ends_with("127.0.0.1:5000"), "{text}");
        assert!(lines[2].starts_with("proto::new       mqtts 3.1.1  "), "{text}");
        assert_eq!(lines[3], "2 connected");
        assert_eq!(
            lines[4],
            "warning: proto::new is not reachable: it has not subscribed to its reply topic \
             usp/agent/proto::new, so Records for it are not delivered (have the Agent subscribe to it)"
        );
        assert_eq!(lines.len(), 5, "no warning for a reachable endpoint: {text}");
    }
}
