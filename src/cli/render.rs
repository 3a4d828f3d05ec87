//! Output shared by the Controller commands: writing to standard output,
//! `path = value` lines, timestamps, and notifications (printed by
//! `watch`, and by `operate --wait` for a completion).
//!
//! Readable text is one fact per line, full paths first, so that `grep`
//! and `cut` work on it; values are shown as they are unless empty or
//! padded, which are JSON-quoted (`""`, `" x"`). JSON is for scripts: the
//! field names are the specification's (`requested_path`, `unique_keys`,
//! …) in `snake_case`, errors are `{"code", "name", "message"}`.

use std::{
    collections::BTreeMap,
    io::Write,
    time::{SystemTime, UNIX_EPOCH},
};

use serde_json::{Value, json};
use usp_endpoint::{controller::Notification, datamodel::DateTime};
use usp_proto::{
    ErrCode,
    usp::notify::{self, operation_complete::OperationResp},
};

use super::{CliError, UspFailure, text::shown};

/// Writes `text` to standard output.
pub(crate) fn print(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| CliError::Io { context: "cannot write to standard output".into(), source })
}

/// Writes one JSON document, indented, to standard output.
pub(crate) fn print_json(value: &Value) -> Result<(), CliError> {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    text.push('\n');
    print(&text)
}

/// Ends a Controller command: prints its answer (JSON for scripts, text
/// otherwise), then maps the USP failures it held to exit status 1 (their
/// codes are printed by [`CliError::Usp`]); none is success.
pub(crate) fn conclude(
    json: bool,
    as_json: impl FnOnce() -> Value,
    as_text: impl FnOnce() -> String,
    failures: Vec<UspFailure>,
) -> Result<(), CliError> {
    if json {
        print_json(&as_json())?;
    } else {
        print(&as_text())?;
    }
    if failures.is_empty() { Ok(()) } else { Err(CliError::Usp(failures)) }
}

/// Writes one JSON document on one line (a stream of them is JSON Lines).
pub(crate) fn print_json_line(value: &Value) -> Result<(), CliError> {
    print(&format!("{value}\n"))
}

/// `path = value`.
pub(crate) fn assignment(path: &str, value: &str) -> String {
    format!("{path} = {}", shown(value))
}

/// `{"k": "v", …}` of a string map.
pub(crate) fn string_map(map: &BTreeMap<String, String>) -> Value {
    Value::Object(map.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}

/// `K=v, K2=v2` of a string map (for unique keys and arguments).
pub(crate) fn inline_map(map: &BTreeMap<String, String>) -> String {
    map.iter().map(|(k, v)| format!("{k}={}", shown(v))).collect::<Vec<_>>().join(", ")
}

/// A USP failure from a result's code, path and message.
pub(crate) fn failure(code: u32, path: &str, message: &str) -> UspFailure {
    UspFailure {
        code: ErrCode(code),
        path: (!path.is_empty()).then(|| path.to_owned()),
        message: message.to_owned(),
    }
}

/// UTC with milliseconds, fixed width: `2024-05-01T12:00:00.123Z`.
pub(crate) fn timestamp(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(since.as_secs()).unwrap_or(0);
    let whole = DateTime::from_unix(secs, 0).unwrap_or(DateTime::UNKNOWN).to_string();
    format!("{}.{:03}Z", whole.trim_end_matches('Z'), since.subsec_millis())
}

/// The notification type's name, as in `Subscription.{i}.NotifType`.
pub(crate) fn notif_type(n: &notify::Notification) -> &'static str {
    match n {
        notify::Notification::Event(_) => "Event",
        notify::Notification::ValueChange(_) => "ValueChange",
        notify::Notification::ObjCreation(_) => "ObjectCreation",
        notify::Notification::ObjDeletion(_) => "ObjectDeletion",
        notify::Notification::OperComplete(_) => "OperationComplete",
        notify::Notification::OnBoardReq(_) => "OnBoardRequest",
    }
}

/// The readable body of a notification (without time and sender):
/// `ValueChange Device.….Value = 21.5`.
pub(crate) fn notification_text(n: &notify::Notification) -> String {
    let kind = notif_type(n);
    match n {
        notify::Notification::ValueChange(v) => {
            format!("{kind} {}", assignment(&v.param_path, &v.param_value))
        }
        notify::Notification::Event(e) => {
            let args = inline_map(&e.params);
            let sep = if args.is_empty() { "" } else { " " };
            format!("{kind} {}{}{sep}{args}", e.obj_path, e.event_name)
        }
        notify::Notification::ObjCreation(c) => {
            let keys = inline_map(&c.unique_keys);
            let sep = if keys.is_empty() { "" } else { " " };
            format!("{kind} {}{sep}{keys}", c.obj_path)
        }
        notify::Notification::ObjDeletion(d) => format!("{kind} {}", d.obj_path),
        notify::Notification::OperComplete(c) => {
            let outcome = match &c.operation_resp {
                Some(OperationResp::CmdFailure(f)) => {
                    format!("failed: {}", failure(f.err_code, "", &f.err_msg))
                }
                Some(OperationResp::ReqOutputArgs(o)) if !o.output_args.is_empty() => {
                    format!("done: {}", inline_map(&o.output_args))
                }
                Some(OperationResp::ReqOutputArgs(_)) | None => "done".to_owned(),
            };
            format!("{kind} {}{} key={} {outcome}", c.obj_path, c.command_name, shown(&c.command_key))
        }
        notify::Notification::OnBoardReq(o) => format!(
            "{kind} oui={} product_class={} serial_number={} versions={}",
            shown(&o.oui),
            shown(&o.product_class),
            shown(&o.serial_number),
            shown(&o.agent_supported_protocol_versions)
        ),
    }
}

/// One readable line: `TIME FROM BODY`.
pub(crate) fn notification_line(at: SystemTime, n: &Notification) -> Option<String> {
    Some(format!("{} {} {}\n", timestamp(at), n.from, notification_text(n.kind()?)))
}

/// The JSON form of a notification's body: `type` and its fields.
pub(crate) fn notification_body_json(n: &notify::Notification) -> Value {
    let kind = notif_type(n);
    match n {
        notify::Notification::ValueChange(v) => {
            json!({"type": kind, "path": v.param_path, "value": v.param_value})
        }
        notify::Notification::Event(e) => json!({
            "type": kind,
            "path": format!("{}{}", e.obj_path, e.event_name),
            "obj_path": e.obj_path,
            "event_name": e.event_name,
            "args": string_map(&e.params),
        }),
        notify::Notification::ObjCreation(c) => {
            json!({"type": kind, "path": c.obj_path, "unique_keys": string_map(&c.unique_keys)})
        }
        notify::Notification::ObjDeletion(d) => json!({"type": kind, "path": d.obj_path}),
        notify::Notification::OperComplete(c) => {
            let mut v = json!({
                "type": kind,
                "path": format!("{}{}", c.obj_path, c.command_name),
                "obj_path": c.obj_path,
                "command_name": c.command_name,
                "command_key": c.command_key,
            });
            if let Some(map) = v.as_object_mut() {
                match &c.operation_resp {
                    Some(OperationResp::CmdFailure(f)) => {
                        map.insert("error".into(), failure(f.err_code, "", &f.err_msg).to_json());
                    }
                    Some(OperationResp::ReqOutputArgs(o)) => {
                        map.insert("output_args".into(), string_map(&o.output_args));
                    }
                    None => {
                        map.insert("output_args".into(), json!({}));
                    }
                }
            }
            v
        }
        notify::Notification::OnBoardReq(o) => json!({
            "type": kind,
            "oui": o.oui,
            "product_class": o.product_class,
            "serial_number": o.serial_number,
            "agent_supported_protocol_versions": o.agent_supported_protocol_versions,
        }),
    }
}

/// The JSON line of a notification: `time`, `from`, `subscription_id`,
/// `msg_id`, then its body's fields.
pub(crate) fn notification_json(at: SystemTime, n: &Notification) -> Option<Value> {
    let mut v = json!({
        "time": timestamp(at),
        "from": n.from,
        "subscription_id": n.subscription_id(),
        "msg_id": n.msg_id,
    });
    if let (Some(map), Value::Object(body)) = (v.as_object_mut(), notification_body_json(n.kind()?)) {
        map.extend(body);
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use usp_proto::usp::Notify;

    fn note(notify: Notify) -> Notification {
        Notification { from: "proto::room-101".into(), msg_id: "m1".into(), notify }
    }

    #[test]
    fn timestamps_have_fixed_width() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_007);
        assert_eq!(timestamp(t), "2023-11-14T22:13:20.007Z");
        assert_eq!(timestamp(UNIX_EPOCH + Duration::from_secs(1_700_000_000)), "2023-11-14T22:13:20.000Z");
    }

    #[test]
    fn value_change_line_and_json() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let n =
            note(Notify::value_change("s1", true, "Device.Node.1.IoTCapability.1.LevelSensor.Value", "21.5"));
        assert_eq!(
            notification_line(t, &n).unwrap(),
            "2023-11-14T22:13:20.000Z proto::room-101 ValueChange Device.Node.1.IoTCapability.1.LevelSensor.Value = 21.5\n"
        );
        assert_eq!(
            notification_json(t, &n).unwrap(),
            json!({"time": "2023-11-14T22:13:20.000Z", "from": "proto::room-101", "subscription_id": "s1",
                   "msg_id": "m1", "type": "ValueChange",
                   "path": "Device.Node.1.IoTCapability.1.LevelSensor.Value", "value": "21.5"})
        );
        let empty = note(Notify::value_change("s1", false, "Device.X.Name", ""));
        assert!(notification_line(t, &empty).unwrap().ends_with("Device.X.Name = \"\"\n"));
    }

    #[test]
    fn other_kinds() {
        let event = notify::Notification::Event(notify::Event {
            obj_path: "Device.".into(),
            event_name: "Boot!".into(),
            params: BTreeMap::from([("Cause".into(), "RemoteReboot".into())]),
        });
        assert_eq!(notification_text(&event), "Event Device.Boot! Cause=RemoteReboot");
        let done = notify::Notification::OperComplete(notify::OperationComplete {
            obj_path: "Device.Node.2.IoTCapability.1.BinaryControl.".into(),
            command_name: "Toggle()".into(),
            command_key: "k1".into(),
            operation_resp: Some(OperationResp::ReqOutputArgs(notify::operation_complete::OutputArgs {
                output_args: BTreeMap::new(),
            })),
        });
        assert_eq!(
            notification_text(&done),
            "OperationComplete Device.Node.2.IoTCapability.1.BinaryControl.Toggle() key=k1 done"
        );
        let failed = notify::Notification::OperComplete(notify::OperationComplete {
            obj_path: "Device.X.".into(),
            command_name: "Go()".into(),
            command_key: String::new(),
            operation_resp: Some(OperationResp::CmdFailure(notify::operation_complete::CommandFailure {
                err_code: 7022,
                err_msg: "boom".into(),
            })),
        });
        assert_eq!(
            notification_text(&failed),
            "OperationComplete Device.X.Go() key=\"\" failed: 7022 Command failure: boom"
        );
        assert_eq!(
            notification_body_json(&failed)["error"],
            json!({"code": 7022, "name": "Command failure", "message": "boom"})
        );
        let created = notify::Notification::ObjCreation(notify::ObjectCreation {
            obj_path: "Device.LocalAgent.Subscription.4.".into(),
            unique_keys: BTreeMap::from([("Alias".into(), "cpe-4".into()), ("ID".into(), "x".into())]),
        });
        assert_eq!(
            notification_text(&created),
            "ObjectCreation Device.LocalAgent.Subscription.4. Alias=cpe-4, ID=x"
        );
    }
}
