//! `uspmesh supported-dm`: the supported data model (USP GetSupportedDM).

use clap::Args;
use serde_json::{Value, json};
use usp_proto::usp::{
    GetSupportedDm, GetSupportedDmResp,
    get_supported_dm_resp::{
        CmdType, ObjAccessType, ParamAccessType, ParamValueType, SupportedObjectResult, ValueChangeType,
    },
};

use super::{CliError, UspFailure, args::TargetArgs, render, session::Session};

/// Arguments of `uspmesh supported-dm`.
#[derive(Debug, Args)]
pub(crate) struct SupportedDmArgs {
    /// Object paths (supported or instance paths), e.g. `Device.` or
    /// `Device.Node.{i}.`.
    #[arg(value_name = "PATH", default_value = "Device.")]
    paths: Vec<String>,
    /// Only the named objects and their direct children.
    #[arg(long)]
    first_level_only: bool,
    /// Leave out parameters.
    #[arg(long)]
    no_params: bool,
    /// Leave out commands.
    #[arg(long)]
    no_commands: bool,
    /// Leave out events.
    #[arg(long)]
    no_events: bool,
    #[command(flatten)]
    target: TargetArgs,
}

/// Runs `uspmesh supported-dm`.
pub(crate) async fn run(args: SupportedDmArgs) -> Result<(), CliError> {
    let request = GetSupportedDm {
        return_params: !args.no_params,
        return_commands: !args.no_commands,
        return_events: !args.no_events,
        ..GetSupportedDm::new(args.paths.iter().cloned()).with_first_level_only(args.first_level_only)
    };
    let session = Session::open(&args.target).await?;
    let answer = session.client.get_supported_dm(&args.target.to, request).await;
    session.close().await;
    let resp = args.target.answer(answer)?;
    let failures: Vec<UspFailure> = resp
        .req_obj_results
        .iter()
        .filter(|r| r.err_code != 0)
        .map(|r| render::failure(r.err_code, &r.req_obj_path, &r.err_msg))
        .collect();
    render::conclude(args.target.json, || to_json(&resp), || to_text(&resp), failures)
}

fn obj_access(v: i32) -> &'static str {
    match ObjAccessType::try_from(v) {
        Ok(ObjAccessType::ObjReadOnly) => "read-only",
        Ok(ObjAccessType::ObjAddDelete) => "add-delete",
        Ok(ObjAccessType::ObjAddOnly) => "add-only",
        Ok(ObjAccessType::ObjDeleteOnly) => "delete-only",
        Err(_) => "unknown",
    }
}

fn param_access(v: i32) -> &'static str {
    match ParamAccessType::try_from(v) {
        Ok(ParamAccessType::ParamReadOnly) => "read-only",
        Ok(ParamAccessType::ParamReadWrite) => "read-write",
        Ok(ParamAccessType::ParamWriteOnly) => "write-only",
        Err(_) => "unknown",
    }
}

fn value_type(v: i32) -> &'static str {
    match ParamValueType::try_from(v) {
        Ok(ParamValueType::ParamBase64) => "base64",
        Ok(ParamValueType::ParamBoolean) => "boolean",
        Ok(ParamValueType::ParamDateTime) => "dateTime",
        Ok(ParamValueType::ParamDecimal) => "decimal",
        Ok(ParamValueType::ParamHexBinary) => "hexBinary",
        Ok(ParamValueType::ParamInt) => "int",
        Ok(ParamValueType::ParamLong) => "long",
        Ok(ParamValueType::ParamString) => "string",
        Ok(ParamValueType::ParamUnsignedInt) => "unsignedInt",
        Ok(ParamValueType::ParamUnsignedLong) => "unsignedLong",
        Ok(ParamValueType::ParamUnknown) | Err(_) => "unknown",
    }
}

fn value_change(v: i32) -> &'static str {
    match ValueChangeType::try_from(v) {
        Ok(ValueChangeType::ValueChangeAllowed) => "allowed",
        Ok(ValueChangeType::ValueChangeWillIgnore) => "will-ignore",
        Ok(ValueChangeType::ValueChangeUnknown) | Err(_) => "unknown",
    }
}

fn command_type(v: i32) -> &'static str {
    match CmdType::try_from(v) {
        Ok(CmdType::CmdSync) => "sync",
        Ok(CmdType::CmdAsync) => "async",
        Ok(CmdType::CmdUnknown) | Err(_) => "unknown",
    }
}

/// One object per block: its path and properties, then its parameters,
/// commands and events indented below it.
fn object_text(out: &mut String, o: &SupportedObjectResult) {
    let mut props = vec![obj_access(o.access).to_owned()];
    if o.is_multi_instance {
        props.insert(0, "multi-instance".into());
    }
    for set in &o.unique_key_sets {
        props.push(format!("key: {}", set.key_names.join("+")));
    }
    if !o.divergent_paths.is_empty() {
        props.push(format!("divergent: {}", o.divergent_paths.join(", ")));
    }
    out.push_str(&format!("{}  ({})\n", o.supported_obj_path, props.join(", ")));
    for p in &o.supported_params {
        let ignored = if value_change(p.value_change) == "will-ignore" { "  no ValueChange" } else { "" };
        out.push_str(&format!(
            "  {}  {}  {}{ignored}\n",
            p.param_name,
            value_type(p.value_type),
            param_access(p.access)
        ));
    }
    for c in &o.supported_commands {
        let mut line = format!("  {}  {}", c.command_name, command_type(c.command_type));
        if !c.input_arg_names.is_empty() {
            line.push_str(&format!("  in: {}", c.input_arg_names.join(", ")));
        }
        if !c.output_arg_names.is_empty() {
            line.push_str(&format!("  out: {}", c.output_arg_names.join(", ")));
        }
        out.push_str(&line);
        out.push('\n');
    }
    for e in &o.supported_events {
        let args = if e.arg_names.is_empty() {
            String::new()
        } else {
            format!("  args: {}", e.arg_names.join(", "))
        };
        out.push_str(&format!("  {}{args}\n", e.event_name));
    }
}

fn to_text(resp: &GetSupportedDmResp) -> String {
    let mut out = String::new();
    for r in resp.req_obj_results.iter().filter(|r| r.err_code == 0) {
        for o in &r.supported_objs {
            object_text(&mut out, o);
        }
    }
    out
}

/// `{"results": [{"requested_path", "data_model_inst_uri", "objects": [...]} | {"requested_path", "error"}]}`.
fn to_json(resp: &GetSupportedDmResp) -> Value {
    let results: Vec<Value> = resp
        .req_obj_results
        .iter()
        .map(|r| {
            if r.err_code != 0 {
                return json!({
                    "requested_path": r.req_obj_path,
                    "error": render::failure(r.err_code, "", &r.err_msg).to_json(),
                });
            }
            let objects: Vec<Value> = r
                .supported_objs
                .iter()
                .map(|o| {
                    json!({
                        "path": o.supported_obj_path,
                        "access": obj_access(o.access),
                        "multi_instance": o.is_multi_instance,
                        "unique_keys": o.unique_key_sets.iter().map(|s| s.key_names.clone()).collect::<Vec<_>>(),
                        "divergent_paths": o.divergent_paths,
                        "params": o.supported_params.iter().map(|p| json!({
                            "name": p.param_name,
                            "type": value_type(p.value_type),
                            "access": param_access(p.access),
                            "value_change": value_change(p.value_change),
                        })).collect::<Vec<_>>(),
                        "commands": o.supported_commands.iter().map(|c| json!({
                            "name": c.command_name,
                            "type": command_type(c.command_type),
                            "input_args": c.input_arg_names,
                            "output_args": c.output_arg_names,
                        })).collect::<Vec<_>>(),
                        "events": o.supported_events.iter().map(|e| json!({
                            "name": e.event_name,
                            "args": e.arg_names,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({"requested_path": r.req_obj_path, "data_model_inst_uri": r.data_model_inst_uri, "objects": objects})
        })
        .collect();
    json!({ "results": results })
}

#[cfg(test)]
mod tests {
    use super::*;
    use usp_proto::usp::get_supported_dm_resp::{
        RequestedObjectResult, SupportedCommandResult, SupportedParamResult, SupportedUniqueKeySet,
    };

    #[test]
    fn an_object_reads_well() {
        let resp = GetSupportedDmResp {
            req_obj_results: vec![RequestedObjectResult {
                req_obj_path: "Device.Node.".into(),
                data_model_inst_uri: "urn:x".into(),
                supported_objs: vec![SupportedObjectResult {
                    supported_obj_path: "Device.Node.{i}.IoTCapability.{i}.BinaryControl.".into(),
                    access: ObjAccessType::ObjReadOnly as i32,
                    is_multi_instance: false,
                    supported_params: vec![SupportedParamResult {
                        param_name: "Value".into(),
                        access: ParamAccessType::ParamReadWrite as i32,
                        value_type: ParamValueType::ParamBoolean as i32,
                        value_change: ValueChangeType::ValueChangeAllowed as i32,
                    }],
                    supported_commands: vec![SupportedCommandResult {
                        command_name: "Toggle()".into(),
                        command_type: CmdType::CmdAsync as i32,
                        ..Default::default()
                    }],
                    unique_key_sets: vec![SupportedUniqueKeySet { key_names: vec!["Alias".into()] }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        assert_eq!(
            to_text(&resp),
            "Device.Node.{i}.IoTCapability.{i}.BinaryControl.  (read-only, key: Alias)\n  Value  boolean  read-write\n  Toggle()  async\n"
        );
        let v = to_json(&resp);
        assert_eq!(v["results"][0]["objects"][0]["commands"][0]["type"], "async");
        assert_eq!(v["results"][0]["objects"][0]["params"][0]["type"], "boolean");
    }
}
