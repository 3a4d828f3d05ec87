//! Every worked example of paths.md §7, against the room of `room.rs`.

use std::collections::BTreeMap;

use usp_endpoint::datamodel::{
    Change, Everything, GsdmOptions, Matches, PathKind, ResolveError, SchemaNode, Started, Target,
};
use usp_endpoint::path::Path;
use usp_proto::ErrCode;
use usp_proto::usp::get_supported_dm_resp::CmdType;

use super::room::{obj, p, param, paths, room, text};

#[test]
fn ex01_parameter_path() {
    let dm = room();
    let r = dm.resolve(&p("Device.IoTCapability.1.LevelSensor.Value")).unwrap();
    assert_eq!(r.kind, PathKind::Addressing);
    let Matches::Params(ps) = &r.matches else { panic!("{r:?}") };
    assert_eq!(ps.len(), 1);
    // resolved_path is the parameter's object; result_params is relative.
    assert_eq!(dm.schema().obj_path(&ps[0].obj), "Device.IoTCapability.1.LevelSensor.");
    assert_eq!(&*dm.schema().param(ps[0].param).name, "Value");
    assert_eq!(dm.read(&ps[0]).unwrap().to_string(), "21.5");
}

#[test]
fn ex02_unique_key_address_of_sub_object() {
    let dm = room();
    let r = dm.resolve(&p(r#"Device.IoTCapability.[Name=="r101-temp"].LevelSensor."#)).unwrap();
    assert_eq!(r.kind, PathKind::KeyAddressing);
    let Matches::Objects(os) = &r.matches else { panic!() };
    assert_eq!(os.len(), 1);
    assert_eq!(dm.schema().obj_path(&os[0]), "Device.IoTCapability.1.LevelSensor.");
    let names: Vec<String> =
        dm.read_object(&os[0]).unwrap().iter().map(|(p, _)| dm.schema().param(*p).name.to_string()).collect();
    for n in ["Type", "Description", "Value", "LastChange", "Unit"] {
        assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
    }
}

#[test]
fn ex03_max_depth_levels() {
    let dm = room();
    let r = dm.resolve(&p(r#"Device.IoTCapability.[Name=="r101-temp"]."#)).unwrap();
    let Matches::Objects(os) = r.matches else { panic!() };
    let walk = |depth| {
        let mut seen = Vec::new();
        dm.store().walk(&os[0], depth, &mut |o| seen.push(dm.schema().obj_path(o)));
        seen
    };
    assert_eq!(walk(1), ["Device.IoTCapability.1."]);
    assert_eq!(walk(2), ["Device.IoTCapability.1.", "Device.IoTCapability.1.LevelSensor."]);
    assert_eq!(walk(0), walk(2));
    let row_params: Vec<String> =
        dm.read_object(&os[0]).unwrap().iter().map(|(p, _)| dm.schema().param(*p).name.to_string()).collect();
    assert_eq!(row_params, ["Alias", "Name", "Class"]);
}

#[test]
fn ex04_search_on_class() {
    let dm = room();
    let r = dm.resolve(&p(r#"Device.IoTCapability.[Class=="LevelControl"].LevelControl.Value"#)).unwrap();
    assert_eq!(r.kind, PathKind::Search);
    let Matches::Params(ps) = r.matches else { panic!() };
    let got: Vec<(String, String)> =
        ps.iter().map(|p| (dm.schema().obj_path(&p.obj), dm.read(p).unwrap().to_string())).collect();
    assert_eq!(
        got,
        [
            ("Device.IoTCapability.4.LevelControl.".to_owned(), "40".to_owned()),
            ("Device.IoTCapability.5.LevelControl.".to_owned(), "21".to_owned())
        ]
    );
}

#[test]
fn ex05_two_terms_one_through_sub_object() {
    let dm = room();
    assert_eq!(
        paths(
            &dm,
            r#"Device.IoTCapability.[Class=="LevelControl"&&LevelControl.Unit=="degC"].LevelControl.Value"#
        ),
        ["Device.IoTCapability.5.LevelControl.Value"]
    );
}

#[test]
fn ex06_wildcard_skips_rows_without_the_sub_object() {
    let dm = room();
    let r = dm.resolve(&p("Device.IoTCapability.*.BinarySensor.Value")).unwrap();
    assert!(r.is_search());
    let Matches::Params(ps) = r.matches else { panic!() };
    assert_eq!(ps.len(), 1);
    assert_eq!(dm.schema().param_path(&ps[0]), "Device.IoTCapability.2.BinarySensor.Value");
    assert_eq!(dm.read(&ps[0]).unwrap().to_string(), "true");
}

#[test]
fn ex07_key_matching_nothing_is_not_an_error() {
    let dm = room();
    let r = dm.resolve(&p(r#"Device.IoTCapability.[Name=="r999"].Name"#)).unwrap();
    assert!(r.matches.is_empty());
    // Name is a unique key: an index lookup, reported as key addressing,
    // which a Get answers like a search (err_code 0).
    assert_eq!(r.kind, PathKind::KeyAddressing);
    assert!(!r.is_missing());
}

#[test]
fn ex08_absent_instance_number() {
    let dm = room();
    let r = dm.resolve(&p("Device.IoTCapability.9.Name")).unwrap();
    assert_eq!(r.kind, PathKind::Addressing);
    assert!(r.is_missing());
}

#[test]
fn ex09_not_in_supported_dm() {
    let dm = room();
    let e = dm.resolve(&p("Device.IoTCapability.1.Foo")).unwrap_err();
    assert!(matches!(e, ResolveError::NotSupported(_)), "{e}");
    assert_eq!(e.code(), ErrCode::INVALID_PATH);
    // The schema check does not depend on the data: row 9 is absent.
    assert_eq!(dm.resolve(&p("Device.IoTCapability.9.Foo")).unwrap_err().code(), ErrCode::INVALID_PATH);
    assert_eq!(dm.resolve(&p("Device.Nothing.")).unwrap_err().code(), ErrCode::INVALID_PATH);
}

#[test]
fn ex10_invalid_expressions_are_7008() {
    let dm = room();
    // Single `=`: the parser's error.
    let e = Path::parse(r#"Device.IoTCapability.[Name="r101-temp"].Name"#).unwrap_err();
    assert_eq!(e.code(), ErrCode::INVALID_PATH_SYNTAX);
    // Unquoted constant for a string parameter; `<` on a string.
    for bad in
        [r#"Device.IoTCapability.[Name==r101-temp].Name"#, r#"Device.IoTCapability.[Class<"Level"].Name"#]
    {
        let e = dm.resolve(&p(bad)).unwrap_err();
        assert!(matches!(e, ResolveError::Comparison(_)), "{bad}: {e}");
        assert_eq!(e.code(), ErrCode::INVALID_PATH_SYNTAX, "{bad}");
    }
}

#[test]
fn ex11_decimal_constant_skips_rows_without_the_parameter() {
    let dm = room();
    let r = dm.resolve(&p("Device.IoTCapability.[LevelControl.Value>=21.5].Name")).unwrap();
    let Matches::Params(ps) = r.matches else { panic!() };
    assert_eq!(ps.len(), 1);
    assert_eq!(dm.schema().obj_path(&ps[0].obj), "Device.IoTCapability.4.");
    assert_eq!(dm.read(&ps[0]).unwrap().to_string(), "r101-dimmer");
}

#[test]
fn ex12_two_parameter_unique_key() {
    let dm = room();
    let r = dm
        .resolve(&p(
            r#"Device.LocalAgent.Subscription.[ID=="occ-r101"&&Recipient=="Device.LocalAgent.Controller.1"].Enable"#,
        ))
        .unwrap();
    assert_eq!(r.kind, PathKind::KeyAddressing);
    let paths: Vec<String> = r.matches.into_targets().iter().map(|t| dm.schema().target_path(t)).collect();
    assert_eq!(paths, ["Device.LocalAgent.Subscription.7.Enable"]);
    // In the other order too; with one key parameter missing it is a search.
    let swapped = r#"Device.LocalAgent.Subscription.[Recipient=="Device.LocalAgent.Controller.1"&&ID=="occ-r101"].Enable"#;
    assert_eq!(dm.resolve(&p(swapped)).unwrap().kind, PathKind::KeyAddressing);
    let partial = dm.resolve(&p(r#"Device.LocalAgent.Subscription.[ID=="occ-r101"].Enable"#)).unwrap();
    assert_eq!(partial.kind, PathKind::Search);
    assert_eq!(partial.matches.len(), 1);
}

#[test]
fn ex13_reference_follow() {
    let dm = room();
    let r = dm.resolve(&p("Device.LocalAgent.Subscription.7.Recipient+.EndpointID")).unwrap();
    assert_eq!(r.kind, PathKind::Addressing);
    let Matches::Params(ps) = r.matches else { panic!() };
    assert_eq!(dm.schema().obj_path(&ps[0].obj), "Device.LocalAgent.Controller.1.");
    assert_eq!(dm.read(&ps[0]).unwrap().to_string(), "proto::rules-engine");
}

#[test]
fn ex14_list_reference_items() {
    let dm = room();
    let base = "Device.LocalAgent.Controller.1.AssignedRole";
    assert_eq!(paths(&dm, &format!("{base}#2+.Name")), ["Device.LocalAgent.ControllerTrust.Role.2.Name"]);
    assert_eq!(text(&dm, "Device.LocalAgent.ControllerTrust.Role.2.Name"), "Observer");
    let all = dm.resolve(&p(&format!("{base}#*+.Name"))).unwrap();
    assert_eq!(all.kind, PathKind::Search);
    assert_eq!(all.matches.len(), 2);
    assert_eq!(paths(&dm, &format!("{base}+.Name")), ["Device.LocalAgent.ControllerTrust.Role.1.Name"]);
    assert!(paths(&dm, &format!("{base}#3+.Name")).is_empty());
}

#[test]
fn ex15_set_through_search_path() {
    let mut dm = room();
    let r = dm.resolve(&p(r#"Device.IoTCapability.[Class=="BinaryControl"].BinaryControl."#)).unwrap();
    let Matches::Objects(os) = r.matches else { panic!() };
    assert_eq!(os.len(), 1);
    assert_eq!(dm.schema().obj_path(&os[0]), "Device.IoTCapability.3.BinaryControl.");
    let write = dm.prepare_set(&os[0], "Value", "true").unwrap();
    dm.set(&os[0], std::slice::from_ref(&write)).unwrap();
    assert_eq!(dm.read(&write.0).unwrap().to_string(), "true");
    let mut changes = Vec::new();
    dm.drain_changes(&mut changes);
    assert!(matches!(&changes[..], [Change::Value { param, .. }] if *param == write.0));
}

#[test]
fn ex16_async_operate_completes_later() {
    let mut dm = room();
    let r =
        dm.resolve(&p(r#"Device.IoTCapability.[Class=="BinaryControl"].BinaryControl.Toggle()"#)).unwrap();
    let Matches::Commands(cs) = r.matches else { panic!() };
    assert_eq!(cs.len(), 1);
    assert_eq!(dm.schema().command_path(&cs[0]), "Device.IoTCapability.3.BinaryControl.Toggle()");
    let Started::Running(op) = dm.operate(&cs[0], &BTreeMap::new()).unwrap() else { panic!("async") };
    let mut changes = Vec::new();
    dm.drain_changes(&mut changes);
    let light = param(&dm, "Device.IoTCapability.3.BinaryControl.Value");
    assert!(
        matches!(&changes[0], Change::Value { param, new, .. } if *param == light && new.to_string() == "true")
    );
    match &changes[1] {
        Change::Completed { op: done, command, result: Ok(out) } => {
            assert_eq!(*done, op);
            assert_eq!(dm.schema().obj_path(&command.obj), "Device.IoTCapability.3.BinaryControl.");
            assert_eq!(&*dm.schema().command(command.command).name, "Toggle");
            assert!(out.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn ex17_operate_search_matching_nothing() {
    let dm = room();
    let r = dm.resolve(&p(r#"Device.IoTCapability.[Class=="Nope"].BinaryControl.Toggle()"#)).unwrap();
    assert!(r.is_search());
    assert!(matches!(r.matches, Matches::Commands(ref v) if v.is_empty()));
}

#[test]
fn ex18_gsdm_paths() {
    let dm = room();
    let sup = |s: &str| dm.resolve_supported(&Path::parse_supported(s).unwrap(), &Everything);
    let lc = sup("Device.IoTCapability.{i}.LevelControl.").unwrap();
    assert_eq!(sup("Device.IoTCapability.4.LevelControl.").unwrap(), lc);
    let SchemaNode::Object(id) = lc else { panic!() };
    assert_eq!(dm.schema().object(id).supported_path(), "Device.IoTCapability.{i}.LevelControl.");
    assert_eq!(sup("Device.IoTCapability.LevelControl.").unwrap_err().code(), ErrCode::INVALID_PATH);
    // Omitted final {i}. is the table.
    assert_eq!(sup("Device.IoTCapability."), sup("Device.IoTCapability.{i}."));
    // Instantiated forms must exist: row 9 does not; row 1 has no LevelControl.
    assert_eq!(
        sup("Device.IoTCapability.9.LevelControl.").unwrap_err().code(),
        ErrCode::OBJECT_DOES_NOT_EXIST
    );
    assert_eq!(sup("Device.IoTCapability.1.LevelControl.").unwrap_err(), ResolveError::NotFound);
    let e = dm.resolve_supported(&Path::parse("Device.IoTCapability.*.").unwrap(), &Everything).unwrap_err();
    assert_eq!(e.code(), ErrCode::INVALID_PATH_SYNTAX);
}

#[test]
fn ex19_gsdm_command_path() {
    let dm = room();
    let node = dm
        .resolve_supported(
            &Path::parse_supported("Device.IoTCapability.{i}.LevelControl.StepUp()").unwrap(),
            &Everything,
        )
        .unwrap();
    let r = dm.schema().gsdm_element(node).unwrap();
    assert_eq!(r.supported_obj_path, "Device.IoTCapability.{i}.LevelControl.");
    assert!(r.supported_params.is_empty() && r.supported_events.is_empty());
    assert_eq!(r.supported_commands.len(), 1);
    assert_eq!(r.supported_commands[0].command_name, "StepUp()");
    assert_eq!(r.supported_commands[0].command_type, CmdType::CmdAsync as i32);
    let _ = GsdmOptions::all();
}

#[test]
fn ex20_get_instances_with_unique_keys() {
    let dm = room();
    let r = dm.resolve(&p("Device.IoTCapability.")).unwrap();
    let Matches::Tables(ts) = r.matches else { panic!() };
    let rows: Vec<_> = dm.store().rows(&ts[0]).collect();
    assert_eq!(rows.len(), 5);
    let s = dm.schema();
    let first: Vec<(String, String)> = dm
        .store()
        .unique_keys(&rows[0])
        .iter()
        .map(|(p, v)| (s.param(*p).name.to_string(), v.to_string()))
        .collect();
    assert_eq!(
        first,
        [("Alias".to_owned(), "cpe-1".to_owned()), ("Name".to_owned(), "r101-temp".to_owned())]
    );
    assert_eq!(s.obj_path(&rows[4]), "Device.IoTCapability.5.");
}

#[test]
fn ex21_subscription_reference_list_path() {
    let mut dm = room();
    let watched = p(r#"Device.IoTCapability.[Name=="r101-occ"].BinarySensor.Value"#);
    let occ = param(&dm, "Device.IoTCapability.2.BinarySensor.Value");
    let temp = param(&dm, "Device.IoTCapability.1.LevelSensor.Value");
    assert!(dm.covers(&watched, &Target::Param(occ), &Everything).unwrap());
    assert!(!dm.covers(&watched, &Target::Param(temp), &Everything).unwrap());
    // A sensor report changes it; the change names the concrete path.
    let row = obj(&dm, "Device.IoTCapability.2.");
    usp_endpoint::datamodel::models::iot::record_reading(
        dm.store_mut(),
        &row,
        "false",
        usp_endpoint::datamodel::DateTime::parse("2024-05-01T12:00:00Z").unwrap(),
    )
    .unwrap();
    let mut changes = Vec::new();
    dm.drain_changes(&mut changes);
    let Change::Value { param, new, .. } = &changes[0] else { panic!() };
    assert_eq!(dm.schema().param_path(param), "Device.IoTCapability.2.BinarySensor.Value");
    assert_eq!(new.to_string(), "false");
    assert!(dm.covers(&watched, &Target::Param(*param), &Everything).unwrap());
}
