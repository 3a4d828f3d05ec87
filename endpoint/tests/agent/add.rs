//! Add: created keys (Agent-assigned ones included), the allow_partial ×
//! required matrix, R-ADD.1/2a rollback, and the error codes.

use usp_proto::{
    ErrCode, Msg,
    usp::{
        Add, AddResp, Get,
        add::CreateObject,
        add_resp::created_object_result::{OperationStatus, operation_status::OperStatus},
    },
};

use super::fixture::*;

const ITEMS: &str = "Device.X_Test.Item.";
const SUBS: &str = "Device.LocalAgent.Subscription.";

/// (instantiated path, unique keys, param errors) of a success.
fn created(
    resp: &AddResp,
    i: usize,
) -> (String, std::collections::BTreeMap<String, String>, Vec<(String, u32)>) {
    match &resp.created_obj_results[i].oper_status {
        Some(OperationStatus { oper_status: Some(OperStatus::OperSuccess(s)) }) => (
            s.instantiated_path.clone(),
            s.unique_keys.clone(),
            s.param_errs.iter().map(|e| (e.param.clone(), e.err_code)).collect(),
        ),
        other => panic!("expected success: {other:?}"),
    }
}

fn refused(resp: &AddResp, i: usize) -> u32 {
    match &resp.created_obj_results[i].oper_status {
        Some(OperationStatus { oper_status: Some(OperStatus::OperFailure(f)) }) => f.err_code,
        other => panic!("expected failure: {other:?}"),
    }
}

fn add(fx: &mut Fx, allow_partial: bool, objs: Vec<CreateObject>) -> Msg {
    let mut a = Add::new(allow_partial);
    for o in objs {
        a = a.object(o);
    }
    fx.call(a)
}

#[test]
fn a_row_with_its_keys_assigned_and_given() {
    let mut fx = Fx::new();
    let r = add_resp(&add(
        &mut fx,
        false,
        vec![CreateObject::new(ITEMS).required("Name", "three").param("Level", "3")],
    ));
    assert_eq!(r.created_obj_results[0].requested_path, ITEMS);
    let (path, keys, errs) = created(&r, 0);
    assert_eq!(path, "Device.X_Test.Item.3.");
    assert_eq!(keys, map(&[("Alias", "cpe-3"), ("Name", "three")]), "R-ADD.5: Alias assigned");
    assert!(errs.is_empty());
    assert_eq!(fx.value("Device.X_Test.Item.3.Level"), "3");
    assert_eq!(fx.value("Device.X_Test.ItemNumberOfEntries"), "3");
}

#[test]
fn a_subscription_gets_recipient_creation_date_and_id() {
    let mut fx = Fx::new();
    let r = add_resp(&add(
        &mut fx,
        false,
        vec![
            CreateObject::new(SUBS)
                .required("NotifType", "ValueChange")
                .required("ReferenceList", "Device.X_Test.Mode"),
        ],
    ));
    let (path, keys, _) = created(&r, 0);
    assert_eq!(path, "Device.LocalAgent.Subscription.1.");
    assert_eq!(
        keys,
        map(&[("Alias", "cpe-1"), ("ID", "cpe-1"), ("Recipient", "Device.LocalAgent.Controller.1")]),
        "ID assigned when omitted (R-ADD.5)"
    );
    assert_eq!(fx.value("Device.LocalAgent.Subscription.1.CreationDate"), "2023-11-14T22:13:20Z");
    // A Controller-chosen ID; the same again collides on (Recipient, ID).
    let obj = || CreateObject::new(SUBS).required("ID", "mine").required("NotifType", "Event");
    let r = add_resp(&add(&mut fx, false, vec![obj()]));
    assert_eq!(created(&r, 0).1["ID"], "mine");
    let e = error(&add(&mut fx, false, vec![obj()]));
    assert_eq!(e.err_code, ErrCode::OBJECT_EXISTS_WITH_DUPLICATE_KEY.0);
    // Recipient and CreationDate are not the Controller's to write; a
    // refused Recipient (a unique-key parameter) refuses the row.
    let r = add_resp(&add(
        &mut fx,
        true,
        vec![CreateObject::new(SUBS).param("CreationDate", "2020-01-01T00:00:00Z")],
    ));
    assert_eq!(created(&r, 0).2, [("CreationDate".to_owned(), 7013)]);
    let r = add_resp(&add(
        &mut fx,
        true,
        vec![CreateObject::new(SUBS).param("Recipient", "Device.LocalAgent.Controller.1")],
    ));
    assert_eq!(refused(&r, 0), ErrCode::REQUIRED_PARAM_FAILED.0);
}

#[test]
fn a_reference_list_must_suit_the_notif_type() {
    let mut fx = Fx::new();
    let e = error(&add(
        &mut fx,
        false,
        vec![
            CreateObject::new(SUBS)
                .required("NotifType", "ObjectCreation")
                .required("ReferenceList", "Device.X_Test.Mode"),
        ],
    ));
    assert_eq!(e.err_code, ErrCode::REQUIRED_PARAM_FAILED.0);
    assert_eq!(e.param_errs[0].param_path, "Device.LocalAgent.Subscription.ReferenceList");
    assert_eq!(e.param_errs[0].err_code, ErrCode::INVALID_VALUE.0);
    // Not required: the row is made without it.
    let r = add_resp(&add(
        &mut fx,
        false,
        vec![
            CreateObject::new(SUBS)
                .param("NotifType", "ObjectCreation")
                .param("ReferenceList", "Device.Nope."),
        ],
    ));
    assert_eq!(created(&r, 0).2, [("ReferenceList".to_owned(), 7012)]);
}

#[test]
fn matrix_of_required_and_allow_partial() {
    let mut fx = Fx::new();
    // A non-required failure: created with defaults, error reported.
    let r = add_resp(&add(
        &mut fx,
        false,
        vec![CreateObject::new(ITEMS).param("Name", "n1").param("Level", "x")],
    ));
    assert_eq!(created(&r, 0).2, [("Level".to_owned(), 7011)]);
    assert_eq!(fx.value("Device.X_Test.Item.3.Level"), "0");
    // A required failure with allow_partial=true: oper_failure, the other
    // object is created.
    let r = add_resp(&add(
        &mut fx,
        true,
        vec![CreateObject::new(ITEMS).required("Level", "42"), CreateObject::new(ITEMS).param("Name", "n2")],
    ));
    assert_eq!(refused(&r, 0), ErrCode::REQUIRED_PARAM_FAILED.0);
    assert_eq!(created(&r, 1).0, "Device.X_Test.Item.4.", "a refused row takes no number");
    // allow_partial=false: an Error, and the first object is undone.
    let e = error(&add(
        &mut fx,
        false,
        vec![CreateObject::new(ITEMS).param("Name", "n3"), CreateObject::new(ITEMS).required("Nope", "1")],
    ));
    assert_eq!(e.param_errs[0].param_path, "Device.X_Test.Item.Nope");
    assert_eq!(e.param_errs[0].err_code, ErrCode::UNSUPPORTED_PARAMETER.0);
    let names = get_resp(&fx.call(Get::new(["Device.X_Test.Item.*.Name"])));
    assert!(!resolved(&names, 0).iter().any(|(_, p)| p["Name"] == "n3"), "R-ADD.1: nothing created");
    // Unique keys count as required: a duplicate Name refuses the row.
    let r = add_resp(&add(&mut fx, true, vec![CreateObject::new(ITEMS).param("Name", "one")]));
    assert_eq!(refused(&r, 0), ErrCode::OBJECT_EXISTS_WITH_DUPLICATE_KEY.0);
}

#[test]
fn path_and_table_errors() {
    let mut fx = Fx::new();
    for (path, want) in [
        ("Device.IoTCapability.", ErrCode::OBJECT_NOT_CREATABLE),
        ("Device.X_Test.", ErrCode::NOT_A_TABLE),
        ("Device.X_Test.Item.1.", ErrCode::NOT_A_TABLE),
        ("Device.Node.9.IoTCapability.", ErrCode::OBJECT_DOES_NOT_EXIST),
        ("Device.Nope.", ErrCode::INVALID_PATH),
        ("Device.X_Test.Item", ErrCode::INVALID_PATH),
        ("Device..", ErrCode::INVALID_PATH_SYNTAX),
    ] {
        let r = add_resp(&add(&mut fx, true, vec![CreateObject::new(path)]));
        assert_eq!(refused(&r, 0), want.0, "{path}");
        assert_eq!(error(&add(&mut fx, false, vec![CreateObject::new(path)])).err_code, want.0, "{path}");
    }
}

#[test]
fn a_search_in_the_parent_creates_under_each_match() {
    let mut fx = Fx::new();
    // Node rows are read-only for Controllers, so use a search that
    // matches nothing, and one with R-ADD.2a semantics on Controller.MTP.
    let r = add_resp(&add(
        &mut fx,
        false,
        vec![CreateObject::new(r#"Device.Node.[Type=="Oven"].IoTCapability."#)],
    ));
    assert!(r.created_obj_results.is_empty(), "nothing matched, nothing created");
    add_resp(&add(
        &mut fx,
        false,
        vec![CreateObject::new("Device.LocalAgent.Controller.").required("EndpointID", "proto::two")],
    ));
    let r = add_resp(&add(
        &mut fx,
        false,
        vec![CreateObject::new("Device.LocalAgent.Controller.*.MTP.").param("Protocol", "MQTT")],
    ));
    let paths: Vec<String> = (0..2).map(|i| created(&r, i).0).collect();
    assert_eq!(paths, ["Device.LocalAgent.Controller.1.MTP.1.", "Device.LocalAgent.Controller.2.MTP.1."]);
    assert!(r.created_obj_results.iter().all(|c| c.requested_path == "Device.LocalAgent.Controller.*.MTP."));
    // R-ADD.2a: one of the two fails (duplicate Protocol key) → nothing.
    add_resp(&add(
        &mut fx,
        false,
        vec![CreateObject::new("Device.LocalAgent.Controller.2.MTP.").param("Protocol", "UDS")],
    ));
    let e = error(&add(
        &mut fx,
        false,
        vec![CreateObject::new("Device.LocalAgent.Controller.*.MTP.").param("Protocol", "UDS")],
    ));
    assert_eq!(e.err_code, ErrCode::OBJECT_EXISTS_WITH_DUPLICATE_KEY.0);
    assert!(!fx.exists("Device.LocalAgent.Controller.1.MTP.2."), "the row under Controller.1 was undone");
}
