//! GetSupportedDM answers derived from the schema.

use usp_endpoint::datamodel::{GsdmOptions, SchemaNode};
use usp_proto::usp::get_supported_dm_resp::{
    CmdType, ObjAccessType, ParamAccessType, ParamValueType, SupportedObjectResult, ValueChangeType,
};

use super::room::schema;

fn obj(path: &str) -> usp_endpoint::datamodel::ObjId {
    let Some(SchemaNode::Object(o)) = schema().lookup(path) else { panic!("{path}") };
    o
}

fn find<'a>(results: &'a [SupportedObjectResult], path: &str) -> &'a SupportedObjectResult {
    results.iter().find(|r| r.supported_obj_path == path).unwrap_or_else(|| panic!("{path}"))
}

#[test]
fn subtree_with_everything() {
    let s = schema();
    let all = |_: SchemaNode| true;
    let results = s.gsdm_objects(obj("Device.IoTCapability."), &GsdmOptions::all(), &all);
    let paths: Vec<&str> = results.iter().map(|r| r.supported_obj_path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "Device.IoTCapability.{i}.",
            "Device.IoTCapability.{i}.BinaryControl.",
            "Device.IoTCapability.{i}.LevelControl.",
            "Device.IoTCapability.{i}.EnumControl.",
            "Device.IoTCapability.{i}.BinarySensor.",
            "Device.IoTCapability.{i}.LevelSensor.",
            "Device.IoTCapability.{i}.MultiLevelSensor.",
            "Device.IoTCapability.{i}.EnumSensor.",
        ]
    );
    let table = &results[0];
    assert!(table.is_multi_instance);
    assert_eq!(table.access, ObjAccessType::ObjReadOnly as i32);
    let keys: Vec<Vec<String>> = table.unique_key_sets.iter().map(|k| k.key_names.clone()).collect();
    assert_eq!(keys, [vec!["Alias".to_owned()], vec!["Name".to_owned()]]);
    let alias = table.supported_params.iter().find(|p| p.param_name == "Alias").unwrap();
    assert_eq!(
        alias.access,
        ParamAccessType::ParamReadWrite as i32,
        "writeOnceReadOnly is reported read-write"
    );
    let class = table.supported_params.iter().find(|p| p.param_name == "Class").unwrap();
    assert_eq!(class.access, ParamAccessType::ParamReadOnly as i32);
    assert_eq!(class.value_type, ParamValueType::ParamString as i32);
    assert_eq!(class.value_change, ValueChangeType::ValueChangeAllowed as i32);
    let lc = find(&results, "Device.IoTCapability.{i}.LevelControl.");
    assert!(!lc.is_multi_instance && lc.unique_key_sets.is_empty());
    let value = lc.supported_params.iter().find(|p| p.param_name == "Value").unwrap();
    assert_eq!(value.value_type, ParamValueType::ParamDecimal as i32);
    let names: Vec<&str> = lc.supported_commands.iter().map(|c| c.command_name.as_str()).collect();
    assert_eq!(names, ["StepUp()", "StepDown()"]);
    assert!(lc.supported_commands.iter().all(|c| c.command_type == CmdType::CmdAsync as i32));
}

#[test]
fn first_level_only_flags_and_visibility() {
    let s = schema();
    let all = |_: SchemaNode| true;
    let opts = GsdmOptions { first_level_only: true, params: true, ..GsdmOptions::default() };
    let results = s.gsdm_objects(obj("Device.LocalAgent."), &opts, &all);
    let la = &results[0];
    assert_eq!(la.supported_obj_path, "Device.LocalAgent.");
    assert!(la.supported_commands.is_empty() && la.supported_events.is_empty(), "flags off");
    let uptime = la.supported_params.iter().find(|p| p.param_name == "UpTime").unwrap();
    assert_eq!(uptime.value_change, ValueChangeType::ValueChangeWillIgnore as i32);
    assert_eq!(uptime.value_type, ParamValueType::ParamUnsignedInt as i32);
    // Children listed bare, grandchildren not at all.
    let sub = find(&results, "Device.LocalAgent.Subscription.{i}.");
    assert!(sub.supported_params.is_empty());
    assert_eq!(sub.access, ObjAccessType::ObjAddDelete as i32);
    assert!(results.iter().all(|r| r.supported_obj_path != "Device.LocalAgent.Controller.{i}.MTP.{i}."));
    // Hidden nodes and members are left out.
    let trust = obj("Device.LocalAgent.ControllerTrust.");
    let uptime_id = s.lookup("Device.LocalAgent.UpTime").unwrap();
    let hide = move |n: SchemaNode| n != SchemaNode::Object(trust) && n != uptime_id;
    let results = s.gsdm_objects(obj("Device.LocalAgent."), &GsdmOptions::all(), &hide);
    assert!(results.iter().all(|r| !r.supported_obj_path.contains("ControllerTrust")));
    assert!(results[0].supported_params.iter().all(|p| p.param_name != "UpTime"));
    assert!(s.gsdm_objects(trust, &GsdmOptions::all(), &hide).is_empty());
    // Events with arguments, sync commands with inputs.
    let root = s.gsdm_objects(s.root(), &GsdmOptions { first_level_only: true, ..GsdmOptions::all() }, &all);
    let boot = root[0].supported_events.iter().find(|e| e.event_name == "Boot!").unwrap();
    assert_eq!(boot.arg_names, ["CommandKey", "Cause", "Reason", "FirmwareUpdated", "ParameterMap"]);
    let reboot = root[0].supported_commands.iter().find(|c| c.command_name == "Reboot()").unwrap();
    assert_eq!(reboot.command_type, CmdType::CmdSync as i32);
    let la = s.gsdm_objects(obj("Device.LocalAgent."), &GsdmOptions::all(), &all);
    let add = la[0].supported_commands.iter().find(|c| c.command_name == "AddCertificate()").unwrap();
    assert_eq!(add.input_arg_names, ["Alias", "Certificate"]);
    let get_fp = find(&la, "Device.LocalAgent.Certificate.{i}.")
        .supported_commands
        .iter()
        .find(|c| c.command_name == "GetFingerprint()")
        .unwrap();
    assert_eq!(get_fp.output_arg_names, ["Fingerprint"]);
}

#[test]
fn element_answers() {
    let s = schema();
    let param = s.lookup("Device.LocalAgent.Subscription.{i}.NotifType").unwrap();
    let r = s.gsdm_element(param).unwrap();
    assert_eq!(r.supported_obj_path, "Device.LocalAgent.Subscription.{i}.");
    assert_eq!(r.supported_params.len(), 1);
    assert_eq!(r.supported_params[0].param_name, "NotifType");
    assert!(r.supported_commands.is_empty());
    let ev = s.lookup("Device.Boot!").unwrap();
    assert_eq!(s.gsdm_element(ev).unwrap().supported_events[0].event_name, "Boot!");
    assert!(s.gsdm_element(SchemaNode::Object(s.root())).is_none());
}
