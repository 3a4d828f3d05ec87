//! `uspmesh rules explain NAME | status | reload`: ask the running
//! appliance's rules engine (through the admin API).
//!
//! `reload` re-reads the configured rules directory; files that do not
//! load are printed one problem a line (`file:line:column: reason`), the
//! status is 1, and the rules that ran keep running.

use clap::{Args, Subcommand};
use hyper::Method;
use serde_json::Value;

use super::{
    CliError,
    admin_client::{self, AdminArgs, Answer},
    render,
};

/// Arguments of `uspmesh rules`.
#[derive(Debug, Args)]
pub(crate) struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Why a rule did or did not fire: its triggers, conditions, state and
    /// recent evaluations.
    Explain {
        /// The rule's name.
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// The rules running, whether each is stopped, and the engine's
    /// counters.
    Status {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Re-read the rules directory; if every file loads, run the new rules
    /// (rules that stay keep their state and timers).
    Reload {
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// Runs `uspmesh rules …`.
pub(crate) async fn run(args: RulesArgs) -> Result<(), CliError> {
    match args.command {
        RulesCommand::Explain { name, admin } => {
            let admin = &admin;
            let path = format!("/v1/rules/{}/explain", percent_encode(&name));
            let answer = admin_client::call(admin, Method::GET, &path).await?;
            match answer.status {
                200 if admin.json => render::print_json(&answer.body),
                200 => render::print(&with_newline(
                    answer.body.get("text").and_then(Value::as_str).unwrap_or(""),
                )),
                404 => Err(CliError::BadInput(answer.error_text())),
                _ => Err(CliError::Protocol(answer.error_text())),
            }
        }
        RulesCommand::Status { admin } => {
            let admin = &admin;
            let answer = ok(admin_client::call(admin, Method::GET, "/v1/rules/status").await?)?;
            if admin.json {
                return render::print_json(&answer.body);
            }
            render::print(&status_text(&answer.body))
        }
        RulesCommand::Reload { admin } => {
            let admin = &admin;
            let answer = admin_client::call(admin, Method::POST, "/v1/rules/reload").await?;
            match answer.status {
                200 if admin.json => render::print_json(&answer.body),
                200 => render::print(&format!(
                    "reloaded: {} rules running\n",
                    answer.body.get("rules").and_then(Value::as_u64).unwrap_or(0)
                )),
                422 => {
                    if admin.json {
                        render::print_json(&answer.body)?;
                    }
                    let errors: Vec<&str> = answer
                        .body
                        .get("errors")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    Err(CliError::BadInput(format!(
                        "reload refused, the running rules stay:\n{}",
                        errors.join("\n")
                    )))
                }
                _ => Err(CliError::BadInput(answer.error_text())),
            }
        }
    }
}

fn ok(answer: Answer) -> Result<Answer, CliError> {
    match answer.status {
        200 => Ok(answer),
        _ => Err(CliError::BadInput(answer.error_text())),
    }
}

fn with_newline(text: &str) -> String {
    if text.ends_with('\n') { text.to_owned() } else { format!("{text}\n") }
}

/// Path-segment encoding of a rule name (letters, digits, `-`, `_`, `.`
/// pass; anything else is %-encoded so that no name escapes its segment).
fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The readable status.
fn status_text(body: &Value) -> String {
    let n = |section: &str, key: &str| {
        body.get(section).and_then(|s| s.get(key)).and_then(Value::as_u64).unwrap_or(0)
    };
    let rules = body.get("rules").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut out = format!(
        "rules engine {} · {} rules{}\n",
        body.get("endpoint_id").and_then(Value::as_str).unwrap_or("?"),
        rules.len(),
        body.get("dir").and_then(Value::as_str).map(|d| format!(" from {d}")).unwrap_or_default()
    );
    for r in &rules {
        let name = r.get("name").and_then(Value::as_str).unwrap_or("?");
        let state =
            if r.get("stopped").and_then(Value::as_bool) == Some(true) { "STOPPED" } else { "running" };
        out.push_str(&format!("  {name:<40} {state}\n"));
    }
    out.push_str(&format!(
        "notifications {} · evaluations {} · fired {} · requests {} ({} errors, {} timeouts) · in flight {}\n",
        n("counters", "notifications"),
        n("engine", "evaluations"),
        n("engine", "fired"),
        n("counters", "requests"),
        n("counters", "request_errors"),
        n("counters", "request_timeouts"),
        body.get("requests_in_flight").and_then(Value::as_u64).unwrap_or(0),
    ));
    out.push_str(&format!(
        "subscription syncs {} ({} failed, {} under way) · upstream events {} sent, {} dropped · state writes {} ({} failed)\n",
        n("counters", "syncs"),
        n("counters", "sync_failures"),
        body.get("agents_syncing").and_then(Value::as_u64).unwrap_or(0),
        n("counters", "upstream_sent"),
        n("counters", "upstream_dropped"),
        n("counters", "persist_writes"),
        n("counters", "persist_failures"),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_in_their_segment() {
        assert_eq!(percent_encode("light-follows_presence.1"), "light-follows_presence.1");
        assert_eq!(percent_encode("a/../b c"), "a%2F..%2Fb%20c");
    }

    #[test]
    fn a_status() {
        let body = serde_json::json!({
            "endpoint_id": "self::site1-rules", "dir": "/etc/r",
            "rules": [{"name": "a", "stopped": false}, {"name": "b", "stopped": true}],
            "engine": {"evaluations": 5, "fired": 2}, "counters": {"notifications": 7, "requests": 3},
            "requests_in_flight": 1, "agents_syncing": 0
        });
        let text = status_text(&body);
        assert!(text.starts_with("rules engine self::site1-rules · 2 rules from /etc/r\n"), "{text}");
        assert!(text.contains("  b                                        STOPPED\n"), "{text}");
        assert!(
            text.contains(
                "notifications 7 · evaluations 5 · fired 2 · requests 3 (0 errors, 0 timeouts) · in flight 1"
            ),
            "{text}"
        );
    }
}
