//! GetSupportedDM (every flag, first_level_only, unique key sets, element
//! paths, errors) and GetSupportedProtocol.

use usp_proto::{
    ErrCode,
    usp::{
        GetSupportedDm, GetSupportedDmResp, GetSupportedProtocol,
        get_supported_dm_resp::{
            CmdType, ObjAccessType, ParamAccessType, ParamValueType, SupportedObjectResult, ValueChangeType,
        },
        response::RespType,
    },
};

use super::fixture::*;

fn gsdm(fx: &mut Fx, req: GetSupportedDm) -> GetSupportedDmResp {
    gsdm_resp(&fx.call(req))
}

fn objs(r: &GetSupportedDmResp, i: usize) -> &[SupportedObjectResult] {
    &r.req_obj_results[i].supported_objs
}

#[test]
fn a_table_with_everything() {
    let mut fx = Fx::new();
    let r = gsdm(&mut fx, GetSupportedDm::new(["Device.IoTCapability.{i}."]));
    let res = &r.req_obj_results[0];
    assert_eq!(
        (res.err_code, res.data_model_inst_uri.as_str()),
        (0, "urn:broadband-forum-org:tr-181-2-18-0")
    );
    let all = objs(&r, 0);
    assert_eq!(all[0].supported_obj_path, "Device.IoTCapability.{i}.");
    assert!(all[0].is_multi_instance);
    assert_eq!(all[0].access, ObjAccessType::ObjReadOnly as i32);
    let keys: Vec<Vec<String>> = all[0].unique_key_sets.iter().map(|k| k.key_names.clone()).collect();
    assert_eq!(keys, [vec!["Alias".to_owned()], vec!["Name".to_owned()]]);
    assert_eq!(all.len(), 8, "the row and its seven class objects");
    let bc = all.iter().find(|o| o.supported_obj_path == "Device.IoTCapability.{i}.BinaryControl.").unwrap();
    let toggle = &bc.supported_commands[0];
    assert_eq!((toggle.command_name.as_str(), toggle.command_type), ("Toggle()", CmdType::CmdAsync as i32));
    let value = bc.supported_params.iter().find(|p| p.param_name == "Value").unwrap();
    assert_eq!(value.access, ParamAccessType::ParamReadWrite as i32);
    assert_eq!(value.value_type, ParamValueType::ParamBoolean as i32);
    assert_eq!(value.value_change, ValueChangeType::ValueChangeAllowed as i32);
}

#[test]
fn flags_and_first_level_only() {
    let mut fx = Fx::new();
    let bare = GetSupportedDm {
        obj_paths: vec!["Device.X_Test.".into()],
        first_level_only: true,
        return_commands: false,
        return_events: true,
        return_params: false,
        return_unique_key_sets: false,
    };
    let r = gsdm(&mut fx, bare);
    let all = objs(&r, 0);
    let paths: Vec<&str> = all.iter().map(|o| o.supported_obj_path.as_str()).collect();
    assert_eq!(paths, ["Device.X_Test.", "Device.X_Test.Item.{i}."]);
    assert!(all[0].supported_params.is_empty() && all[0].supported_commands.is_empty());
    assert_eq!(all[0].supported_events[0].event_name, "Alarm!");
    assert_eq!(all[0].supported_events[0].arg_names, ["Level"]);
    assert!(all[1].supported_events.is_empty() && all[1].unique_key_sets.is_empty(), "children bare");
    let r = gsdm(&mut fx, GetSupportedDm::new(["Device.X_Test."]));
    let x = &objs(&r, 0)[0];
    let echo = x.supported_commands.iter().find(|c| c.command_name == "Echo()").unwrap();
    assert_eq!(
        (echo.input_arg_names.clone(), echo.output_arg_names.clone()),
        (vec!["Text".to_owned(), "Count".to_owned()], vec!["Text".to_owned()])
    );
    assert_eq!(echo.command_type, CmdType::CmdSync as i32);
    let ticks = x.supported_params.iter().find(|p| p.param_name == "Ticks").unwrap();
    assert_eq!(ticks.value_change, ValueChangeType::ValueChangeWillIgnore as i32);
    let password = x.supported_params.iter().find(|p| p.param_name == "Password").unwrap();
    assert_eq!(password.access, ParamAccessType::ParamWriteOnly as i32);
    let item = &objs(&r, 0)[1];
    assert_eq!(item.access, ObjAccessType::ObjAddDelete as i32);
    let alias = item.supported_params.iter().find(|p| p.param_name == "Alias").unwrap();
    assert_eq!(alias.access, ParamAccessType::ParamReadWrite as i32, "write-once reads as read-write");
}

#[test]
fn element_paths_instantiated_paths_and_errors() {
    let mut fx = Fx::new();
    let r = gsdm(
        &mut fx,
        GetSupportedDm::new([
            "Device.IoTCapability.{i}.LevelControl.StepUp()", // §7 #19
            "Device.IoTCapability.4.LevelControl.",           // §7 #18
            "Device.IoTCapability.LevelControl.",             // missing {i} mid-path
            "Device.Boot!",
            "Device.X_Test.Mode",
            "Device.IoTCapability.9.",
            "Device.IoTCapability.*.",
            "Device.IoTCapability.",
        ]),
    );
    let codes: Vec<u32> = r.req_obj_results.iter().map(|x| x.err_code).collect();
    assert_eq!(
        codes,
        [
            0,
            0,
            ErrCode::INVALID_PATH.0,
            0,
            0,
            ErrCode::OBJECT_DOES_NOT_EXIST.0,
            ErrCode::INVALID_PATH_SYNTAX.0,
            0
        ]
    );
    let step = objs(&r, 0);
    assert_eq!(step.len(), 1);
    assert_eq!(step[0].supported_obj_path, "Device.IoTCapability.{i}.LevelControl.");
    assert_eq!(step[0].supported_commands.len(), 1, "only the command, flags ignored");
    assert!(step[0].supported_params.is_empty());
    assert_eq!(objs(&r, 1)[0].supported_obj_path, "Device.IoTCapability.{i}.LevelControl.");
    assert_eq!(objs(&r, 3)[0].supported_events[0].event_name, "Boot!");
    assert_eq!(objs(&r, 4)[0].supported_params[0].param_name, "Mode");
    assert_eq!(objs(&r, 7)[0].supported_obj_path, "Device.IoTCapability.{i}.", "final {{i}}. may be omitted");
}

#[test]
fn supported_protocol_versions() {
    let mut fx = Fx::new();
    let answer = fx.call(GetSupportedProtocol::new("1.4"));
    let Some(RespType::GetSupportedProtocolResp(r)) = answer.as_response() else { panic!() };
    assert_eq!(r.agent_supported_protocol_versions, "1.3,1.4");
}
