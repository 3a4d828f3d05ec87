//! ControllerTrust on every message and on notifications: the worked
//! example of agent-datamodel.md §7.3, the deny-exception pattern, a
//! hidden parameter, instance-level rights, the UntrustedRole, secured
//! values, and notifications withheld without `n`.

use usp_endpoint::agent::permissions::{
    Grant, Rights,
    setup::{self, PermissionSpec},
};
use usp_endpoint::datamodel::Store;
use usp_proto::{
    ErrCode,
    usp::{
        Add, Delete, Get, GetInstances, GetSupportedDm, Operate, Set, add::CreateObject,
        operate_resp::operation_result::OperationResp, set::UpdateObject,
    },
};

use super::fixture::*;

const GUEST: &str = "proto::guest";

fn rights(s: &str) -> Rights {
    Rights::parse(s).unwrap()
}

fn grant(param: &str, obj: &str, inst: &str, cmd: &str) -> Grant {
    Grant {
        param: rights(param),
        obj: rights(obj),
        instantiated_obj: rights(inst),
        command_event: rights(cmd),
    }
}

/// The room with CTRL trusted and GUEST holding `roles` built by `roles_fn`.
fn with_guest(roles_fn: impl FnOnce(&mut Store) -> Vec<usp_endpoint::datamodel::ObjRef>) -> Fx {
    Fx::with(
        |store| {
            let roles = roles_fn(store);
            setup::add_controller(store, GUEST, &roles).unwrap();
        },
        |b| b.full_access(CTRL),
    )
}

fn get_codes(fx: &mut Fx, from: &str, paths: &[&str]) -> Vec<(u32, usize)> {
    let (answer, _) = fx.call_as(from, Get::new(paths.iter().copied()));
    get_resp(&answer).req_path_results.iter().map(|r| (r.err_code, r.resolved_path_results.len())).collect()
}

#[test]
fn worked_example_of_section_7_3() {
    // Role A: Device.LocalAgent Order 3 Param r---; Device.LocalAgent.Controller
    // Order 55 Param r-xn. Role B: Device.LocalAgent Order 20 r---;
    // Device.LocalAgent.Controller Order 78 ----. Union on the Controller
    // table: r-xn (readable, not writable, notifications).
    let mut fx = with_guest(|store| {
        let p = |s: &str| Grant { param: rights(s), ..Grant::default() };
        let a = setup::add_role(
            store,
            "A",
            &[
                PermissionSpec::new(3, ["Device.LocalAgent"], p("r---")),
                PermissionSpec::new(55, ["Device.LocalAgent.Controller"], p("r-xn")),
            ],
        )
        .unwrap();
        let b = setup::add_role(
            store,
            "B",
            &[
                PermissionSpec::new(20, ["Device.LocalAgent"], p("r---")),
                PermissionSpec::new(78, ["Device.LocalAgent.Controller"], p("----")),
            ],
        )
        .unwrap();
        vec![a, b]
    });
    assert_eq!(
        get_codes(
            &mut fx,
            GUEST,
            &[
                "Device.LocalAgent.Controller.1.EndpointID",
                "Device.LocalAgent.EndpointID",
                "Device.DeviceInfo.SerialNumber"
            ]
        ),
        [(0, 1), (0, 1), (ErrCode::INVALID_PATH.0, 0)],
        "no covering row: no right, the parameter is absent"
    );
    let (answer, _) = fx.call_as(
        GUEST,
        Set::new(true)
            .object(UpdateObject::new("Device.LocalAgent.Controller.1.").required("ControllerCode", "x")),
    );
    let r = set_resp(&answer);
    let failed = format!("{r:?}");
    assert!(failed.contains(&format!("err_code: {}", ErrCode::PERMISSION_DENIED.0)), "{failed}");
}

#[test]
fn deny_exception_pattern_and_a_hidden_parameter() {
    // Full access except ControllerTrust; then a search target hiding
    // Permission Order.
    let mut fx = with_guest(|store| {
        let role = setup::add_role(
            store,
            "AllButTrust",
            &[
                PermissionSpec::new(1, ["Device"], Grant::ALL),
                PermissionSpec::new(2, ["Device.LocalAgent.ControllerTrust"], Grant::default()),
            ],
        )
        .unwrap();
        vec![role]
    });
    assert_eq!(
        get_codes(
            &mut fx,
            GUEST,
            &[
                "Device.LocalAgent.ControllerTrust.Role.1.Name",
                "Device.LocalAgent.ControllerTrust.",
                "Device.DeviceInfo.SerialNumber"
            ]
        ),
        [(ErrCode::INVALID_PATH.0, 0), (0, 0), (0, 1)]
    );
    let (answer, _) = fx.call_as(
        GUEST,
        Add::new(false)
            .object(CreateObject::new("Device.LocalAgent.ControllerTrust.Role.").param("Name", "mine")),
    );
    assert_eq!(error(&answer).err_code, ErrCode::PERMISSION_DENIED.0);

    // Now the §7.3 example of a search target: Order hidden.
    let mut fx = with_guest(|store| {
        let role = setup::add_role(
            store,
            "NoOrder",
            &[
                PermissionSpec::new(1, ["Device"], Grant::ALL),
                PermissionSpec::new(
                    2,
                    ["Device.LocalAgent.ControllerTrust.Role.*.Permission.*.Order"],
                    Grant::default(),
                ),
            ],
        )
        .unwrap();
        vec![role]
    });
    let table = "Device.LocalAgent.ControllerTrust.Role.1.Permission.";
    let (answer, _) =
        fx.call_as(GUEST, Add::new(false).object(CreateObject::new(table).required("Order", "5")));
    let e = error(&answer);
    assert_eq!(
        e.param_errs[0].err_code,
        ErrCode::PERMISSION_DENIED.0,
        "a required hidden parameter fails the Add"
    );
    let (answer, _) = fx.call_as(
        GUEST,
        Add::new(false).object(CreateObject::new(table).param("Order", "5").param("Enable", "true")),
    );
    let r = add_resp(&answer);
    let text = format!("{r:?}");
    assert!(
        text.contains("Device.LocalAgent.ControllerTrust.Role.1.Permission.3.")
            && text.contains("7006")
            && !text.contains("\"Order\": "),
        "{text}"
    );
    assert_eq!(fx.value("Device.LocalAgent.ControllerTrust.Role.1.Permission.3.Order"), "0", "not applied");
    assert_eq!(
        get_codes(&mut fx, GUEST, &["Device.LocalAgent.ControllerTrust.Role.1.Permission.1.Order"]),
        [(ErrCode::INVALID_PATH.0, 0)]
    );
}

#[test]
fn instance_rights_filter_rows_and_guard_deletes() {
    let mut fx = with_guest(|store| {
        let role = setup::add_role(
            store,
            "OneRow",
            &[
                PermissionSpec::new(1, ["Device.X_Test."], grant("rw--", "r---", "----", "----")),
                PermissionSpec::new(2, ["Device.X_Test.Item.1."], grant("rw--", "r---", "rw--", "----")),
            ],
        )
        .unwrap();
        vec![role]
    });
    let (answer, _) = fx.call_as(
        GUEST,
        Get::new(["Device.X_Test.Item.*.Name", "Device.X_Test.Item.", "Device.X_Test.Item.2.Name"]),
    );
    let r = get_resp(&answer);
    assert_eq!(
        resolved(&r, 0),
        [("Device.X_Test.Item.1.".into(), map(&[("Name", "one")]))],
        "rows without InstantiatedObj r are skipped"
    );
    assert_eq!(resolved(&r, 1).len(), 1);
    assert_eq!(resolved(&r, 2).len(), 1, "an instance number addresses without InstantiatedObj r");
    let (answer, _) = fx.call_as(GUEST, GetInstances::new(["Device.X_Test.Item."], true));
    assert_eq!(instances_resp(&answer).req_path_results[0].curr_insts.len(), 1, "R-GIN.0");
    let (answer, _) = fx.call_as(GUEST, Delete::new(false, ["Device.X_Test.Item.2."]));
    assert_eq!(error(&answer).err_code, ErrCode::PERMISSION_DENIED.0);
    assert!(fx.exists("Device.X_Test.Item.2."));
    let (answer, _) = fx.call_as(GUEST, Delete::new(false, ["Device.X_Test.Item.1."]));
    delete_resp(&answer);
    // No Obj w: no Add; no CommandEvent x: cmd_failure 7006.
    let (answer, _) = fx.call_as(GUEST, Add::new(false).object(CreateObject::new("Device.X_Test.Item.")));
    assert_eq!(error(&answer).err_code, ErrCode::PERMISSION_DENIED.0);
    let (answer, _) = fx.call_as(GUEST, Operate::new("Device.X_Test.Echo()", "k").arg("Text", "x"));
    let r = operate_resp(&answer);
    let Some(OperationResp::CmdFailure(f)) = &r.operation_results[0].operation_resp else { panic!("{r:?}") };
    assert_eq!(f.err_code, ErrCode::PERMISSION_DENIED.0);
    assert!(fx.log.lock().unwrap().iter().all(|l| !l.starts_with("operate")), "nothing ran");
}

#[test]
fn get_supported_dm_shows_only_readable_elements() {
    let mut fx = with_guest(|store| {
        let role = setup::add_role(
            store,
            "SeeX",
            &[PermissionSpec::new(1, ["Device.X_Test."], grant("r---", "r---", "----", "----"))],
        )
        .unwrap();
        vec![role]
    });
    let (answer, _) =
        fx.call_as(GUEST, GetSupportedDm::new(["Device.", "Device.X_Test.", "Device.X_Test.Echo()"]));
    let r = gsdm_resp(&answer);
    let codes: Vec<u32> = r.req_obj_results.iter().map(|x| x.err_code).collect();
    assert_eq!(codes, [ErrCode::INVALID_PATH.0, 0, ErrCode::INVALID_PATH.0], "R-GSP.0: unreadable = absent");
    let x = &r.req_obj_results[1].supported_objs;
    assert_eq!(x.len(), 2);
    assert!(x[0].supported_commands.is_empty() && x[0].supported_events.is_empty(), "no CommandEvent r");
    assert!(!x[0].supported_params.is_empty());
}

#[test]
fn the_untrusted_role_serves_unknown_controllers() {
    // No UntrustedRole: a stranger sees nothing and is not recorded.
    let mut fx = Fx::new();
    assert_eq!(
        get_codes(&mut fx, "proto::stranger", &["Device.DeviceInfo.SerialNumber"]),
        [(ErrCode::INVALID_PATH.0, 0)]
    );
    assert!(!fx.exists("Device.LocalAgent.Controller.2."));
    // A read-only UntrustedRole: the stranger reads, cannot write, and is
    // recorded as a Controller holding that Role, so it may subscribe.
    let mut fx = Fx::with(
        |store| {
            let viewer = setup::add_role(
                store,
                "Viewer",
                &[
                    PermissionSpec::new(1, ["Device."], grant("r--n", "r---", "r---", "r--n")),
                    PermissionSpec::new(
                        2,
                        ["Device.LocalAgent.Subscription."],
                        grant("rw-n", "rw--", "rw--", "----"),
                    ),
                ],
            )
            .unwrap();
            setup::set_untrusted_roles(store, &[viewer]).unwrap();
        },
        |b| b.full_access(CTRL),
    );
    assert_eq!(get_codes(&mut fx, "proto::stranger", &["Device.DeviceInfo.SerialNumber"]), [(0, 1)]);
    assert_eq!(fx.value("Device.LocalAgent.Controller.2.EndpointID"), "proto::stranger");
    assert_eq!(
        fx.value("Device.LocalAgent.Controller.2.AssignedRole"),
        "Device.LocalAgent.ControllerTrust.Role.1"
    );
    let (answer, _) = fx.call_as(
        "proto::stranger",
        Set::new(false).object(UpdateObject::new("Device.X_Test.").required("Mode", "m")),
    );
    assert_eq!(error(&answer).param_errs[0].err_code, ErrCode::PERMISSION_DENIED.0);
    let (answer, _) = fx.call_as(
        "proto::stranger",
        Add::new(false).object(
            CreateObject::new("Device.LocalAgent.Subscription.")
                .required("Enable", "true")
                .required("NotifType", "ValueChange")
                .required("ReferenceList", "Device.X_Test.Mode"),
        ),
    );
    add_resp(&answer);
    let (_, after) =
        fx.call_as(CTRL, Set::new(false).object(UpdateObject::new("Device.X_Test.").required("Mode", "m")));
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].to, "proto::stranger");
}

#[test]
fn notifications_need_the_n_right() {
    let mut fx = with_guest(|store| {
        let role = setup::add_role(
            store,
            "ReadOnly",
            &[
                PermissionSpec::new(1, ["Device."], grant("r---", "r---", "r---", "r---")),
                PermissionSpec::new(
                    2,
                    ["Device.LocalAgent.Subscription."],
                    grant("rw--", "rw--", "rw--", "----"),
                ),
                PermissionSpec::new(3, ["Device.X_Test.Item.1."], grant("r--n", "r---", "r---", "----")),
            ],
        )
        .unwrap();
        vec![role]
    });
    let (answer, _) = fx.call_as(
        GUEST,
        Add::new(false).object(
            CreateObject::new("Device.LocalAgent.Subscription.")
                .required("Enable", "true")
                .required("NotifType", "ValueChange")
                .required("ReferenceList", "Device.X_Test.Mode,Device.X_Test.Item.*.Level"),
        ),
    );
    add_resp(&answer);
    let (_, after) =
        fx.call_as(CTRL, Set::new(false).object(UpdateObject::new("Device.X_Test.").required("Mode", "m")));
    assert!(after.is_empty(), "no Param n on Mode: withheld");
    let (_, after) = fx.call_as(
        CTRL,
        Set::new(false).object(UpdateObject::new("Device.X_Test.Item.2.").required("Level", "5")),
    );
    assert!(after.is_empty(), "no n on row 2");
    let (_, after) = fx.call_as(
        CTRL,
        Set::new(false).object(UpdateObject::new("Device.X_Test.Item.1.").required("Level", "5")),
    );
    assert_eq!(after.len(), 1, "n on row 1");
    assert_eq!(after[0].to, GUEST);
}

#[test]
fn secured_values_need_a_secured_role() {
    let mut fx = Fx::with(
        |store| {
            let admin = setup::full_access_role(store).unwrap();
            setup::add_controller(store, GUEST, &[admin]).unwrap();
            let keeper = setup::add_role(store, "Keeper", &[]).unwrap();
            setup::add_controller(store, CTRL, &[admin, keeper]).unwrap();
            setup::set_secured_roles(store, &[keeper]).unwrap();
        },
        |b| b,
    );
    set_resp(&fx.call(Set::new(false).object(UpdateObject::new("Device.X_Test.").required("Secret", "s3"))));
    let (answer, _) = fx.call_as(CTRL, Get::new(["Device.X_Test.Secret"]));
    assert_eq!(resolved(&get_resp(&answer), 0)[0].1["Secret"], "s3");
    let (answer, _) = fx.call_as(GUEST, Get::new(["Device.X_Test.Secret"]));
    assert_eq!(resolved(&get_resp(&answer), 0)[0].1["Secret"], "");
}

#[test]
fn a_permission_change_applies_from_the_next_message() {
    let mut fx = with_guest(|store| {
        let role =
            setup::add_role(store, "Nothing", &[PermissionSpec::new(1, ["Device."], Grant::default())])
                .unwrap();
        vec![role]
    });
    assert_eq!(get_codes(&mut fx, GUEST, &["Device.X_Test.Mode"]), [(ErrCode::INVALID_PATH.0, 0)]);
    let set = Set::new(false).object(
        UpdateObject::new("Device.LocalAgent.ControllerTrust.Role.1.Permission.1.").required("Param", "r---"),
    );
    set_resp(&fx.call(set));
    assert_eq!(get_codes(&mut fx, GUEST, &["Device.X_Test.Mode"]), [(0, 1)]);
}
