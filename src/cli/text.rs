//! The readable text form of a Record, for `uspmesh decode`.
//!
//! A one-line summary of the Record, one of the Msg, then the message body
//! as an indented tree with the proto field names of the specification
//! (`subscription_id`, `param_path`, ...). Fields at their default value are
//! left out, as on the wire.

use std::fmt::Write;

use serde_json::Value;
use usp_proto::{Record, json, usp_record::record::RecordType};

/// JSON names of the map fields: their keys are data (parameter names),
/// not field names, and are shown unchanged.
const MAP_FIELDS: &[&str] =
    &["resultParams", "uniqueKeys", "inputArgs", "outputArgs", "params", "updatedParams"];

/// Renders a decoded Record that was `size` bytes on the wire.
pub(crate) fn render_record(record: &Record, size: usize) -> Result<String, json::JsonError> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "USP {} {} record, {} → {} ({size} bytes)",
        shown(&record.version),
        record.type_name(),
        shown(&record.from_id),
        shown(&record.to_id),
    );
    let mut value = json::record_to_json(record)?;
    let Value::Object(fields) = &mut value else { return Ok(out) };
    // The summary line already showed these.
    for key in ["version", "fromId", "toId"] {
        fields.remove(key);
    }
    match &record.record_type {
        Some(RecordType::NoSessionContext(nsc)) => {
            let payload =
                fields.remove("noSessionContext").and_then(|mut v| v.get_mut("payload").map(Value::take));
            render_fields(&mut out, &Value::Object(fields.clone()), 1);
            match (record.msg(), payload) {
                (Ok(msg), Some(msg_json)) => {
                    let kind = msg.header_kind().map_or("(unknown msg_type)", |k| k.as_str_name());
                    let _ =
                        writeln!(out, "{kind} msg_id={} ({} bytes)", shown(msg.msg_id()), nsc.payload.len());
                    if let Some(body) = msg_json.get("body") {
                        render_fields(&mut out, body, 1);
                    }
                }
                (Err(e), _) => {
                    let _ = writeln!(out, "payload: {} bytes, not a usp.Msg: {e}", nsc.payload.len());
                }
                (Ok(_), None) => {}
            }
        }
        _ => render_fields(&mut out, &value, 1),
    }
    Ok(out)
}

fn render_fields(out: &mut String, value: &Value, depth: usize) {
    if let Value::Object(map) = value {
        render_object(out, map, depth, false);
    }
}

fn render_object(out: &mut String, map: &serde_json::Map<String, Value>, depth: usize, keys_are_data: bool) {
    for (key, v) in map {
        let name = if keys_are_data { key.clone() } else { snake_case(key) };
        let child_is_map = !keys_are_data && MAP_FIELDS.contains(&key.as_str());
        render_entry(out, &name, v, depth, child_is_map);
    }
}

fn render_entry(out: &mut String, name: &str, v: &Value, depth: usize, is_map: bool) {
    let pad = "  ".repeat(depth);
    match v {
        Value::Object(m) if m.is_empty() => {
            let _ = writeln!(out, "{pad}{name}: {{}}");
        }
        Value::Object(m) => {
            let _ = writeln!(out, "{pad}{name}:");
            render_object(out, m, depth + 1, is_map);
        }
        Value::Array(items) if items.is_empty() => {
            let _ = writeln!(out, "{pad}{name}: []");
        }
        Value::Array(items) => {
            let _ = writeln!(out, "{pad}{name}:");
            for item in items {
                match item {
                    Value::Object(m) => {
                        // First field on the dash line, the rest aligned under it.
                        let mut first = String::new();
                        render_object(&mut first, m, depth + 2, false);
                        let body = first.trim_start_matches(' ');
                        let _ = write!(out, "{pad}  - {body}");
                    }
                    other => {
                        let _ = writeln!(out, "{pad}  - {}", scalar(other));
                    }
                }
            }
        }
        other => {
            let _ = writeln!(out, "{pad}{name}: {}", scalar(other));
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => shown(s),
        other => other.to_string(),
    }
}

/// A string as is, or JSON-quoted when it would otherwise be ambiguous
/// (empty, surrounding spaces, control characters).
pub(crate) fn shown(s: &str) -> String {
    let plain = !s.is_empty() && s.trim() == s && !s.chars().any(char::is_control) && !s.starts_with('"');
    if plain { s.to_owned() } else { Value::String(s.to_owned()).to_string() }
}

/// `lowerCamelCase` JSON name → the proto `snake_case` field name.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use usp_proto::{Msg, usp::Notify};

    #[test]
    fn names_and_strings() {
        assert_eq!(snake_case("getSupportedDmResp"), "get_supported_dm_resp");
        assert_eq!(snake_case("payloadrecSarState"), "payloadrec_sar_state");
        assert_eq!(shown(""), "\"\"");
        assert_eq!(shown(" x"), "\" x\"");
        assert_eq!(shown("Fenêtre"), "Fenêtre");
    }

    #[test]
    fn a_notify_reads_well() {
        let msg = Msg::request("n-7", Notify::value_change("s1", false, "Device.X.Value", "22.5"));
        let record = Record::no_session_context_msg("self::rules", "proto::room-101", &msg);
        let text = render_record(&record, 99).unwrap();
        assert_eq!(
            text,
            "USP 1.4 no_session_context record, proto::room-101 → self::rules (99 bytes)\n\
             NOTIFY msg_id=n-7 (43 bytes)\n\
             \x20 request:\n\
             \x20   notify:\n\
             \x20     subscription_id: s1\n\
             \x20     value_change:\n\
             \x20       param_path: Device.X.Value\n\
             \x20       param_value: 22.5\n"
        );
    }
}
