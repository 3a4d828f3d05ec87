//! GetInstances: first_level_only, nested tables, unique keys, errors.

use usp_proto::{
    ErrCode,
    usp::{GetInstances, GetInstancesResp},
};

use super::fixture::*;

fn instances(fx: &mut Fx, paths: &[&str], first_level_only: bool) -> GetInstancesResp {
    instances_resp(&fx.call(GetInstances::new(paths.iter().copied(), first_level_only)))
}

fn listed(resp: &GetInstancesResp, i: usize) -> Vec<String> {
    resp.req_path_results[i].curr_insts.iter().map(|c| c.instantiated_obj_path.clone()).collect()
}

#[test]
fn first_level_only_and_nested() {
    let mut fx = Fx::new();
    // §7 #20.
    let r = instances(&mut fx, &["Device.IoTCapability."], true);
    assert_eq!(listed(&r, 0), (1..=5).map(|i| format!("Device.IoTCapability.{i}.")).collect::<Vec<_>>());
    assert_eq!(
        r.req_path_results[0].curr_insts[0].unique_keys,
        map(&[("Alias", "cpe-1"), ("Name", "r101-temp")])
    );
    let r = instances(&mut fx, &["Device.Node."], true);
    assert_eq!(listed(&r, 0), ["Device.Node.1.", "Device.Node.2."]);
    let r = instances(&mut fx, &["Device.Node."], false);
    assert_eq!(
        listed(&r, 0),
        [
            "Device.Node.1.",
            "Device.Node.1.IoTCapability.1.",
            "Device.Node.1.IoTCapability.2.",
            "Device.Node.2.",
            "Device.Node.2.IoTCapability.1.",
        ]
    );
    // Rows named directly, and tables reached through a search.
    let r = instances(
        &mut fx,
        &[r#"Device.Node.[Type=="Light"]."#, r#"Device.Node.[Type=="Light"].IoTCapability."#],
        true,
    );
    assert_eq!(listed(&r, 0), ["Device.Node.1."]);
    assert_eq!(listed(&r, 1), ["Device.Node.1.IoTCapability.1.", "Device.Node.1.IoTCapability.2."]);
    let r = instances(&mut fx, &["Device.Node.1."], false);
    assert_eq!(listed(&r, 0).len(), 3);
}

#[test]
fn errors_per_path() {
    let mut fx = Fx::new();
    let r = instances(
        &mut fx,
        &[
            "Device.DeviceInfo.",
            "Device.Node.9.IoTCapability.",
            "Device.Nope.",
            "Device.Node.[Type<\"x\"].",
            "Device.Node.1.Alias",
            "Device.Node.[Type==\"Oven\"].",
        ],
        true,
    );
    let codes: Vec<u32> = r.req_path_results.iter().map(|p| p.err_code).collect();
    assert_eq!(
        codes,
        [
            ErrCode::NOT_A_TABLE.0,
            ErrCode::OBJECT_DOES_NOT_EXIST.0,
            ErrCode::INVALID_PATH.0,
            ErrCode::INVALID_PATH_SYNTAX.0,
            ErrCode::NOT_A_TABLE.0,
            0
        ]
    );
    assert!(listed(&r, 5).is_empty());
}
