//! Delete: R-DEL.1 precedence with allow_partial=false, R-DEL.2a,
//! unaffected paths with allow_partial=true, affected paths.

use usp_proto::{
    ErrCode, Msg,
    usp::{
        Delete, DeleteResp,
        delete_resp::deleted_object_result::{OperationStatus, operation_status::OperStatus},
    },
};

use super::fixture::*;

fn delete(fx: &mut Fx, allow_partial: bool, paths: &[&str]) -> Msg {
    fx.call(Delete::new(allow_partial, paths.iter().copied()))
}

/// (affected, [(unaffected, code)]) of a success.
fn done(resp: &DeleteResp, i: usize) -> (Vec<String>, Vec<(String, u32)>) {
    match &resp.deleted_obj_results[i].oper_status {
        Some(OperationStatus { oper_status: Some(OperStatus::OperSuccess(s)) }) => (
            s.affected_paths.clone(),
            s.unaffected_path_errs.iter().map(|u| (u.unaffected_path.clone(), u.err_code)).collect(),
        ),
        other => panic!("expected success: {other:?}"),
    }
}

fn failed(resp: &DeleteResp, i: usize) -> u32 {
    match &resp.deleted_obj_results[i].oper_status {
        Some(OperationStatus { oper_status: Some(OperStatus::OperFailure(f)) }) => f.err_code,
        other => panic!("expected failure: {other:?}"),
    }
}

#[test]
fn rows_go_and_are_listed() {
    let mut fx = Fx::new();
    let r = delete_resp(&delete(
        &mut fx,
        false,
        &["Device.X_Test.Item.1.", r#"Device.X_Test.Item.[Name=="two"]."#],
    ));
    assert_eq!(done(&r, 0), (vec!["Device.X_Test.Item.1.".to_owned()], vec![]));
    assert_eq!(done(&r, 1).0, ["Device.X_Test.Item.2."]);
    assert!(!fx.exists("Device.X_Test.Item.1."));
    assert_eq!(fx.value("Device.X_Test.ItemNumberOfEntries"), "0");
    // A valid path resolving to nothing (R-DEL.2a).
    let r = delete_resp(&delete(&mut fx, false, &["Device.X_Test.Item.*."]));
    assert_eq!(done(&r, 0), (vec![], vec![]));
}

#[test]
fn allow_partial_false_fails_whole_and_deletes_nothing() {
    // R-DEL.1: a missing addressed instance, a non-deletable table, a
    // non-instance path — each makes the Delete an Error, with nothing
    // deleted even where another path was fine.
    for (bad, want) in [
        ("Device.X_Test.Item.9.", ErrCode::OBJECT_DOES_NOT_EXIST),
        ("Device.IoTCapability.1.", ErrCode::DELETE_FAILURE),
        ("Device.IoTCapability.*.", ErrCode::DELETE_FAILURE),
        ("Device.X_Test.Item.", ErrCode::NOT_A_TABLE),
        ("Device.X_Test.", ErrCode::NOT_A_TABLE),
        ("Device.Nope.1.", ErrCode::INVALID_PATH),
        ("Device.X_Test.Item.[Name<\"a\"].", ErrCode::INVALID_PATH_SYNTAX),
    ] {
        let mut fx = Fx::new();
        let e = error(&delete(&mut fx, false, &["Device.X_Test.Item.1.", bad]));
        assert_eq!(e.err_code, want.0, "{bad}");
        assert!(e.param_errs.iter().any(|p| p.err_code == want.0), "{bad}: {e:?}");
        assert!(fx.exists("Device.X_Test.Item.1."), "{bad}: nothing deleted");
    }
    // A search on a non-deletable table is refused even when it matches
    // no row: deletability is judged by the Supported DM.
    let mut fx = Fx::new();
    let e = error(&delete(&mut fx, false, &[r#"Device.IoTCapability.[Name=="none"]."#]));
    assert_eq!(e.err_code, ErrCode::DELETE_FAILURE.0);
}

#[test]
fn allow_partial_true_reports_per_path_and_per_row() {
    let mut fx = Fx::new();
    let r = delete_resp(&delete(
        &mut fx,
        true,
        &["Device.X_Test.Item.9.", "Device.IoTCapability.1.", "Device.X_Test.Item.1.", "Device.Nope.1."],
    ));
    assert_eq!(done(&r, 0), (vec![], vec![]), "R-DEL.2a: a missing instance is an empty success");
    assert_eq!(
        done(&r, 1),
        (vec![], vec![("Device.IoTCapability.1.".to_owned(), ErrCode::DELETE_FAILURE.0)])
    );
    assert_eq!(done(&r, 2).0, ["Device.X_Test.Item.1."]);
    assert_eq!(failed(&r, 3), ErrCode::INVALID_PATH.0);
    assert!(!fx.exists("Device.X_Test.Item.1."));
}

#[test]
fn nested_rows_go_with_their_parent_and_overlaps_are_fine() {
    let mut fx = Fx::new();
    // Add a Controller with an MTP row, then delete both the MTP row and
    // the Controller in one message.
    let add = usp_proto::usp::Add::new(false).object(
        usp_proto::usp::add::CreateObject::new("Device.LocalAgent.Controller.")
            .required("EndpointID", "proto::x"),
    );
    add_resp(&fx.call(add));
    let add = usp_proto::usp::Add::new(false)
        .object(usp_proto::usp::add::CreateObject::new("Device.LocalAgent.Controller.2.MTP."));
    add_resp(&fx.call(add));
    let r = delete_resp(&delete(
        &mut fx,
        false,
        &["Device.LocalAgent.Controller.2.", "Device.LocalAgent.Controller.2.MTP.1."],
    ));
    assert_eq!(done(&r, 0).0, ["Device.LocalAgent.Controller.2."], "only the matched row is listed");
    assert_eq!(done(&r, 1).0, ["Device.LocalAgent.Controller.2.MTP.1."]);
    assert!(!fx.exists("Device.LocalAgent.Controller.2."));
}
