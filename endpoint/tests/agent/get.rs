//! Get: the worked examples of paths.md §7, max_depth, partial paths,
//! several paths, and every per-path error code.

use usp_proto::{
    ErrCode,
    usp::{Get, GetResp},
};

use super::fixture::*;

fn get(fx: &mut Fx, paths: &[&str]) -> GetResp {
    get_resp(&fx.call(Get::new(paths.iter().copied())))
}

fn get_depth(fx: &mut Fx, path: &str, depth: u32) -> GetResp {
    get_resp(&fx.call(Get::new([path]).with_max_depth(depth)))
}

fn code(resp: &GetResp, i: usize) -> u32 {
    resp.req_path_results[i].err_code
}

#[test]
fn a_parameter_is_reported_under_its_object() {
    // §7 #1.
    let mut fx = Fx::new();
    let r = get(&mut fx, &["Device.IoTCapability.1.LevelSensor.Value"]);
    assert_eq!(r.req_path_results[0].requested_path, "Device.IoTCapability.1.LevelSensor.Value");
    assert_eq!(code(&r, 0), 0);
    assert_eq!(resolved(&r, 0), [("Device.IoTCapability.1.LevelSensor.".into(), map(&[("Value", "21.5")]))]);
}

#[test]
fn a_unique_key_address_gives_the_whole_object() {
    // §7 #2.
    let mut fx = Fx::new();
    let r = get(&mut fx, &[r#"Device.IoTCapability.[Name=="r101-temp"].LevelSensor."#]);
    let res = resolved(&r, 0);
    assert_eq!(res.len(), 1);
    assert_eq!(res[0].0, "Device.IoTCapability.1.LevelSensor.");
    for p in ["Type", "Description", "Value", "Unit", "LastChange", "LowLevel", "HighLevelThreshold"] {
        assert!(res[0].1.contains_key(p), "{p}");
    }
    assert_eq!(res[0].1["Unit"], "degC");
}

#[test]
fn max_depth_counts_levels_and_table_rows_are_level_one() {
    // §7 #3: depth 1 = the row's own parameters; 2 adds its LevelSensor.
    let mut fx = Fx::new();
    let r = get_depth(&mut fx, r#"Device.IoTCapability.[Name=="r101-temp"]."#, 1);
    let res = resolved(&r, 0);
    assert_eq!(res.len(), 1);
    assert_eq!(res[0].0, "Device.IoTCapability.1.");
    assert_eq!(res[0].1, map(&[("Alias", "cpe-1"), ("Class", "LevelSensor"), ("Name", "r101-temp")]));
    let r = get_depth(&mut fx, r#"Device.IoTCapability.[Name=="r101-temp"]."#, 2);
    let paths: Vec<String> = resolved(&r, 0).into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, ["Device.IoTCapability.1.", "Device.IoTCapability.1.LevelSensor."]);
    let r = get_depth(&mut fx, r#"Device.IoTCapability.[Name=="r101-temp"]."#, 0);
    assert_eq!(resolved(&r, 0).len(), 2, "0 = unlimited");

    // A table path: the rows are level 1, their class objects level 2.
    let r = get_depth(&mut fx, "Device.IoTCapability.", 1);
    let paths: Vec<String> = resolved(&r, 0).into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, (1..=5).map(|i| format!("Device.IoTCapability.{i}.")).collect::<Vec<_>>());
    let r = get_depth(&mut fx, "Device.IoTCapability.", 2);
    assert_eq!(resolved(&r, 0).len(), 10);

    // Nested tables: Device.Node. with depth 2 = rows and their direct
    // children (the rows of Node.{i}.IoTCapability), not the class objects.
    let r = get_depth(&mut fx, "Device.Node.", 2);
    let paths: Vec<String> = resolved(&r, 0).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        [
            "Device.Node.1.",
            "Device.Node.1.IoTCapability.1.",
            "Device.Node.1.IoTCapability.2.",
            "Device.Node.2.",
            "Device.Node.2.IoTCapability.1.",
        ]
    );
}

#[test]
fn a_partial_path_reports_each_object_on_its_own() {
    let mut fx = Fx::new();
    let r = get(&mut fx, &["Device.Node.1."]);
    let res = resolved(&r, 0);
    let paths: Vec<&str> = res.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "Device.Node.1.",
            "Device.Node.1.IoTCapability.1.",
            "Device.Node.1.IoTCapability.1.BinaryControl.",
            "Device.Node.1.IoTCapability.2.",
            "Device.Node.1.IoTCapability.2.LevelControl.",
        ]
    );
    // Names relative to each object, not flattened into the parent.
    assert_eq!(res[0].1["IoTCapabilityNumberOfEntries"], "2");
    assert_eq!(res[2].1["Value"], "false");
    assert!(!res[0].1.keys().any(|k| k.contains('.')));
}

#[test]
fn searches_wildcards_and_keys() {
    let mut fx = Fx::new();
    let r = get(
        &mut fx,
        &[
            r#"Device.IoTCapability.[Class=="LevelControl"].LevelControl.Value"#,
            r#"Device.IoTCapability.[Class=="LevelControl"&&LevelControl.Unit=="degC"].LevelControl.Value"#,
            "Device.IoTCapability.*.BinarySensor.Value",
            r#"Device.IoTCapability.[Name=="r999"].Name"#,
            "Device.IoTCapability.[LevelControl.Value>=21.5].Name",
        ],
    );
    // §7 #4, #5, #6, #7, #11.
    assert_eq!(
        resolved(&r, 0),
        [
            ("Device.IoTCapability.4.LevelControl.".into(), map(&[("Value", "40")])),
            ("Device.IoTCapability.5.LevelControl.".into(), map(&[("Value", "21")])),
        ]
    );
    assert_eq!(resolved(&r, 1), [("Device.IoTCapability.5.LevelControl.".into(), map(&[("Value", "21")]))]);
    assert_eq!(resolved(&r, 2), [("Device.IoTCapability.2.BinarySensor.".into(), map(&[("Value", "true")]))]);
    assert_eq!((code(&r, 3), resolved(&r, 3).len()), (0, 0), "a key matching nothing is no error");
    assert_eq!(resolved(&r, 4), [("Device.IoTCapability.4.".into(), map(&[("Name", "r101-dimmer")]))]);
}

#[test]
fn reference_following() {
    // §7 #13 and #14.
    let mut fx = Fx::with(|_| {}, |b| b.full_access(CTRL));
    let r = get(
        &mut fx,
        &[
            "Device.LocalAgent.Controller.1.AssignedRole+.Name",
            "Device.LocalAgent.Controller.1.AssignedRole#*+.Name",
        ],
    );
    assert_eq!(
        resolved(&r, 0),
        [("Device.LocalAgent.ControllerTrust.Role.1.".into(), map(&[("Name", "FullAccess")]))]
    );
    assert_eq!(resolved(&r, 1).len(), 1);
}

#[test]
fn per_path_errors_leave_the_other_paths_answered() {
    let mut fx = Fx::new();
    let r = get(
        &mut fx,
        &[
            "Device.IoTCapability.9.Name",                     // §7 #8: absent instance
            "Device.IoTCapability.1.Foo",                      // §7 #9: not supported
            r#"Device.IoTCapability.[Name="r101-temp"].Name"#, // §7 #10: syntax
            r#"Device.IoTCapability.[Name==r101-temp].Name"#,  // unquoted string constant
            r#"Device.IoTCapability.[Class<"Level"].Name"#,    // < on a string
            "Device.Reboot()",                                 // a command
            "Device.DeviceInfo.SerialNumber",                  // fine
            "Device..",
        ],
    );
    assert_eq!(r.req_path_results.len(), 8, "one result per requested path");
    let codes: Vec<u32> = (0..8).map(|i| code(&r, i)).collect();
    assert_eq!(codes, [7026, 7026, 7008, 7008, 7008, 7026, 0, 7008]);
    assert!(r.req_path_results.iter().filter(|p| p.err_code != 0).all(|p| !p.err_msg.is_empty()));
    assert_eq!(resolved(&r, 6), [("Device.DeviceInfo.".into(), map(&[("SerialNumber", "SN101")]))]);
}

#[test]
fn write_only_and_secured_values_read_empty() {
    let mut fx = Fx::new();
    let answer = fx.call(
        usp_proto::usp::Set::new(false).object(
            usp_proto::usp::set::UpdateObject::new("Device.X_Test.")
                .required("Password", "p")
                .required("Secret", "s"),
        ),
    );
    let updated = &set_resp(&answer).updated_obj_results[0];
    let _ = updated;
    let r = get(&mut fx, &["Device.X_Test.Password", "Device.X_Test.Secret"]);
    assert_eq!(resolved(&r, 0)[0].1["Password"], "", "write-only");
    assert_eq!(resolved(&r, 1)[0].1["Secret"], "", "secured, and no SecuredRole");
    assert_eq!(fx.value("Device.X_Test.Secret"), "s");
}

#[test]
fn an_object_without_parameters_is_an_empty_result() {
    let mut fx = Fx::new();
    // The Request table has no rows: its path resolves, nothing to report.
    let r = get(&mut fx, &["Device.LocalAgent.Request."]);
    assert_eq!((code(&r, 0), resolved(&r, 0).len()), (0, 0));
    let _ = ErrCode::INVALID_PATH;
}
