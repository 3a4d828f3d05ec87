//! Set: the allow_partial × required matrix of records-and-messages.md §9,
//! R-SET.2a holistic rollback, values after the update, every error code.

use usp_proto::{
    ErrCode, Msg,
    usp::{
        Set, SetResp,
        set::UpdateObject,
        set_resp::{
            UpdatedInstanceResult,
            updated_object_result::{OperationStatus, operation_status::OperStatus},
        },
    },
};

use super::fixture::*;

const ITEM: &str = "Device.X_Test.Item.1.";

fn instances(resp: &SetResp, i: usize) -> Vec<UpdatedInstanceResult> {
    match &resp.updated_obj_results[i].oper_status {
        Some(OperationStatus { oper_status: Some(OperStatus::OperSuccess(s)) }) => {
            s.updated_inst_results.clone()
        }
        other => panic!("expected success: {other:?}"),
    }
}

/// `[(affected_path, [(param, code)])]`: the instances that failed.
type Failed = Vec<(String, Vec<(String, u32)>)>;

/// (object code, failed instances) of a failed object.
fn failure(resp: &SetResp, i: usize) -> (u32, Failed) {
    match &resp.updated_obj_results[i].oper_status {
        Some(OperationStatus { oper_status: Some(OperStatus::OperFailure(f)) }) => (
            f.err_code,
            f.updated_inst_failures
                .iter()
                .map(|x| {
                    (
                        x.affected_path.clone(),
                        x.param_errs.iter().map(|e| (e.param.clone(), e.err_code)).collect(),
                    )
                })
                .collect(),
        ),
        other => panic!("expected failure: {other:?}"),
    }
}

fn errs(r: &UpdatedInstanceResult) -> Vec<(String, u32)> {
    r.param_errs.iter().map(|e| (e.param.clone(), e.err_code)).collect()
}

fn set(fx: &mut Fx, allow_partial: bool, objs: Vec<UpdateObject>) -> Msg {
    let mut s = Set::new(allow_partial);
    for o in objs {
        s = s.object(o);
    }
    fx.call(s)
}

#[test]
fn matrix_without_required_parameters() {
    for allow_partial in [false, true] {
        let mut fx = Fx::new();
        // Row 1: nothing fails.
        let r = set_resp(&set(&mut fx, allow_partial, vec![UpdateObject::new(ITEM).param("Level", "+5")]));
        let i = instances(&r, 0);
        assert_eq!(i[0].affected_path, ITEM);
        assert!(i[0].param_errs.is_empty());
        assert_eq!(i[0].updated_params, map(&[("Level", "5")]), "the value after the update, canonical");
        // Row 2: a non-required one fails; the rest is written.
        let r = set_resp(&set(
            &mut fx,
            allow_partial,
            vec![UpdateObject::new(ITEM).param("Level", "6").param("Level2", "1").param("Note", "forbidden")],
        ));
        let i = instances(&r, 0);
        assert_eq!(errs(&i[0]), [("Level2".into(), 7010), ("Note".into(), 7014)]);
        assert_eq!(i[0].updated_params, map(&[("Level", "6")]));
        assert_eq!(fx.value("Device.X_Test.Item.1.Level"), "6");
        // Every parameter failing, none required: still a success.
        let r = set_resp(&set(&mut fx, allow_partial, vec![UpdateObject::new(ITEM).param("Level", "99")]));
        assert_eq!(errs(&instances(&r, 0)[0]), [("Level".into(), 7012)]);
        assert_eq!(fx.value("Device.X_Test.Item.1.Level"), "6");
    }
}

#[test]
fn matrix_with_required_parameters() {
    for allow_partial in [false, true] {
        let mut fx = Fx::new();
        // Row 3: required, nothing fails.
        let r = set_resp(&set(&mut fx, allow_partial, vec![UpdateObject::new(ITEM).required("Level", "3")]));
        assert!(instances(&r, 0)[0].param_errs.is_empty());
        // Row 4: required fine, a non-required fails.
        let r = set_resp(&set(
            &mut fx,
            allow_partial,
            vec![UpdateObject::new(ITEM).required("Level", "4").param("Name", "x").param("Alias", "a1")],
        ));
        assert_eq!(errs(&instances(&r, 0)[0]), [("Alias".into(), 7013)]);
        assert_eq!(fx.value("Device.X_Test.Item.1.Name"), "x");
    }
    // Row 5: allow_partial=true, a required one fails: oper_failure.
    let mut fx = Fx::new();
    let r = set_resp(&set(
        &mut fx,
        true,
        vec![UpdateObject::new(ITEM).required("Level", "abc").param("Name", "y")],
    ));
    let (code, failed) = failure(&r, 0);
    assert_eq!(code, ErrCode::REQUIRED_PARAM_FAILED.0);
    assert_eq!(failed, [(ITEM.to_owned(), vec![("Level".to_owned(), 7011)])]);
    assert_eq!(fx.value("Device.X_Test.Item.1.Name"), "one", "nothing written");
    // Row 6: allow_partial=false: an Error with the parameter errors.
    let e =
        error(&set(&mut fx, false, vec![UpdateObject::new(ITEM).required("Level", "11").param("Name", "y")]));
    assert_eq!(e.err_code, ErrCode::REQUIRED_PARAM_FAILED.0);
    let params: Vec<(String, u32)> =
        e.param_errs.iter().map(|p| (p.param_path.clone(), p.err_code)).collect();
    assert_eq!(params, [("Device.X_Test.Item.1.Level".to_owned(), 7012)]);
    assert_eq!(fx.value("Device.X_Test.Item.1.Name"), "one");
}

#[test]
fn allow_partial_false_undoes_earlier_objects_true_keeps_them() {
    let mut fx = Fx::new();
    let objs = || {
        vec![
            UpdateObject::new("Device.X_Test.Item.1.").required("Level", "7"),
            UpdateObject::new("Device.X_Test.Item.2.").required("Note", "forbidden"),
        ]
    };
    let e = error(&set(&mut fx, false, objs()));
    assert_eq!(e.param_errs[0].param_path, "Device.X_Test.Item.2.Note");
    assert_eq!(e.param_errs[0].err_code, ErrCode::VALUE_CONFLICT.0);
    assert_eq!(fx.value("Device.X_Test.Item.1.Level"), "1", "rolled back");
    let r = set_resp(&set(&mut fx, true, objs()));
    assert_eq!(instances(&r, 0)[0].updated_params, map(&[("Level", "7")]));
    assert_eq!(failure(&r, 1).1, [("Device.X_Test.Item.2.".to_owned(), vec![("Note".to_owned(), 7014)])]);
    assert_eq!(fx.value("Device.X_Test.Item.1.Level"), "7");
}

#[test]
fn a_search_matching_several_objects_stands_or_falls_together() {
    // R-SET.2a: 50 fits the dimmer (0–100) but not the setpoint (16–28).
    let path = r#"Device.IoTCapability.[Class=="LevelControl"].LevelControl."#;
    let mut fx = Fx::new();
    let r = set_resp(&set(&mut fx, true, vec![UpdateObject::new(path).required("Value", "50")]));
    let (_, failed) = failure(&r, 0);
    assert_eq!(
        failed,
        [("Device.IoTCapability.5.LevelControl.".to_owned(), vec![("Value".to_owned(), 7012)])]
    );
    assert_eq!(fx.value("Device.IoTCapability.4.LevelControl.Value"), "40", "undone although it succeeded");
    // Same regardless of allow_partial (here as an Error).
    let e = error(&set(&mut fx, false, vec![UpdateObject::new(path).required("Value", "50")]));
    assert_eq!(e.param_errs[0].param_path, "Device.IoTCapability.5.LevelControl.Value");
    assert_eq!(fx.value("Device.IoTCapability.4.LevelControl.Value"), "40");
    // 22 fits both: two instance results.
    let r = set_resp(&set(&mut fx, false, vec![UpdateObject::new(path).required("Value", "22")]));
    let i = instances(&r, 0);
    assert_eq!(
        i.iter().map(|x| x.affected_path.as_str()).collect::<Vec<_>>(),
        ["Device.IoTCapability.4.LevelControl.", "Device.IoTCapability.5.LevelControl."]
    );
    assert_eq!(fx.value("Device.IoTCapability.4.LevelControl.Value"), "22");
}

#[test]
fn path_errors() {
    let mut fx = Fx::new();
    let cases = [
        ("Device.X_Test.Item.9.", ErrCode::OBJECT_DOES_NOT_EXIST),
        ("Device.Nope.", ErrCode::INVALID_PATH),
        ("Device.X_Test.Item.[Name=].", ErrCode::INVALID_PATH_SYNTAX),
        ("Device.X_Test.Mode", ErrCode::INVALID_PATH),
    ];
    for (path, want) in cases {
        let r = set_resp(&set(&mut fx, true, vec![UpdateObject::new(path).param("Name", "x")]));
        assert_eq!(failure(&r, 0).0, want.0, "{path}");
        let e = error(&set(&mut fx, false, vec![UpdateObject::new(path).param("Name", "x")]));
        assert_eq!(e.err_code, want.0, "{path}");
        assert_eq!(e.param_errs[0].param_path, path);
    }
    // A search matching nothing: success, no instances (R-MSG.4a).
    let r = set_resp(&set(
        &mut fx,
        false,
        vec![UpdateObject::new(r#"Device.X_Test.Item.[Name=="none"]."#).param("Level", "1")],
    ));
    assert!(instances(&r, 0).is_empty());
}

#[test]
fn sub_object_parameters_and_unchanged_values_are_listed() {
    let mut fx = Fx::new();
    let r = set_resp(&set(
        &mut fx,
        false,
        vec![
            UpdateObject::new("Device.IoTCapability.4.")
                .param("LevelControl.Value", "40")
                .param("Name", "dim"),
        ],
    ));
    assert_eq!(instances(&r, 0)[0].updated_params, map(&[("LevelControl.Value", "40"), ("Name", "dim")]));
}
