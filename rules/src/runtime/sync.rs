//! Making an Agent hold exactly the subscriptions the engine needs.
//!
//! For an [`Output::Subscribe`](crate::engine::Output::Subscribe) the
//! runtime does, in one task per Agent:
//!
//! 1. one Get of `Device.LocalAgent.Subscription.*.` and
//!    `Device.LocalAgent.Controller.*.EndpointID` — the rows there are and
//!    which Controller row is ours;
//! 2. [`plan`]: among *our* rows (ID starting with the engine's prefix,
//!    `Recipient` our Controller row), keep the identical ones, re-enable
//!    identical disabled ones, replace differing ones (`ReferenceList` is
//!    immutable once set) and remove the ones no rule needs any more; add
//!    what is missing. Rows are compared by the endpoint's
//!    [`SubscriptionSpec`] (`decide`), so the rules runtime and every other
//!    Controller of the project agree on what "the same row" means;
//! 3. at most one Delete, one Set and one Add (each `allow_partial`, so one
//!    bad row does not cost the others), in that order: a replaced row is
//!    gone before its successor, which has the same ID, is added.
//!
//! The plan is made from what the Agent holds, so syncing is idempotent: a
//! sync that was interrupted (a newer one replaced it, the Agent went away)
//! is completed by the next.
//!
//! Choices: a row whose `Recipient` names another Controller is never
//! touched, even with our prefix (another rules engine may share the
//! prefix). When our Controller row cannot be identified (the Agent hides
//! `Controller.{i}.EndpointID` from us), every row with our prefix is taken
//! as ours. Subscriptions are created `Persistent`, with `NotifRetry` as the
//! engine asks; a subscription the endpoint refuses to build (an ID or a
//! reference too long, a reference holding `,`) is reported, not sent.

use std::collections::HashMap;

use usp_endpoint::{
    controller::{ControllerClient, Existing, SubscriptionSpec, UspError, subscription::SUBSCRIPTION_TABLE},
    mtp::RecordSender,
};
use usp_proto::usp::{
    Add, Delete, Get, GetResp, Set,
    add_resp::created_object_result::operation_status::OperStatus as AddStatus,
    delete_resp::deleted_object_result::operation_status::OperStatus as DeleteStatus,
    get_resp::{RequestedPathResult, ResolvedPathResult},
    response::RespType,
    set_resp::updated_object_result::operation_status::OperStatus as SetStatus,
};

use crate::engine::SubscriptionSpec as RuleSpec;

/// Where the Controller rows are, and their `EndpointID`s.
const CONTROLLER_IDS: &str = "Device.LocalAgent.Controller.*.EndpointID";

/// What a sync did on one Agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Subscriptions the Agent already held as needed.
    pub kept: usize,
    /// Subscriptions added (including replacements).
    pub created: usize,
    /// Identical rows that were disabled and were enabled.
    pub enabled: usize,
    /// Rows removed: stale ones and replaced ones.
    pub removed: usize,
    /// Subscriptions that could not be put in place: ID and reason.
    pub failed: Vec<(String, String)>,
}

/// What to do on one Agent.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Plan {
    /// Row paths to delete (stale, or replaced).
    pub(crate) delete: Vec<String>,
    /// Row paths to enable.
    pub(crate) enable: Vec<String>,
    /// Subscriptions to add.
    pub(crate) add: Vec<SubscriptionSpec>,
    /// How many are in place already.
    pub(crate) kept: usize,
    /// Subscriptions that cannot be built: ID and reason.
    pub(crate) refused: Vec<(String, String)>,
}

/// The Get that reads the rows and our Controller row.
pub(crate) fn lookup() -> Get {
    Get::new([format!("{SUBSCRIPTION_TABLE}*."), CONTROLLER_IDS.to_owned()])
}

/// `Device.LocalAgent.Controller.3.` and `Device.LocalAgent.Controller.3`
/// name the same row.
fn row_name(path: &str) -> &str {
    path.strip_suffix('.').unwrap_or(path)
}

/// Decides what to do from the answer to [`lookup`].
pub(crate) fn plan(specs: &[RuleSpec], resp: &GetResp, own_id: &str, prefix: &str) -> Plan {
    let result = |i: usize| resp.req_path_results.get(i).filter(|r| r.err_code == 0);
    let own_row = result(1).and_then(|r| {
        r.resolved_path_results
            .iter()
            .find(|row| row.result_params.get("EndpointID").is_some_and(|id| id == own_id))
            .map(|row| row_name(&row.resolved_path).to_owned())
    });
    let prefix = format!("{prefix}-");
    // Our rows, by ID.
    let mut ours: HashMap<&str, Vec<&ResolvedPathResult>> = HashMap::new();
    for row in result(0).map(|r| r.resolved_path_results.as_slice()).unwrap_or_default() {
        let p = &row.result_params;
        let Some(id) = p.get("ID").filter(|id| id.starts_with(&prefix)) else { continue };
        let mine = match (&own_row, p.get("Recipient")) {
            (Some(own), Some(recipient)) => row_name(recipient) == own,
            _ => true,
        };
        if mine {
            ours.entry(id.as_str()).or_default().push(row);
        }
    }
    let mut plan = Plan::default();
    for s in specs {
        let spec = match s.to_endpoint().map_err(|e| e.to_string()) {
            Ok(spec) => spec,
            Err(reason) => {
                plan.refused.push((s.id.clone(), reason));
                continue;
            }
        };
        let rows = ours.remove(s.id.as_str()).unwrap_or_default();
        let found = GetResp::new(vec![RequestedPathResult::ok(
            spec.search_path(),
            rows.iter().map(|r| (*r).clone()).collect(),
        )]);
        match spec.decide(&found) {
            Existing::Same(path) => {
                plan.kept += 1;
                plan.delete.extend(rows.iter().map(|r| &r.resolved_path).filter(|p| **p != path).cloned());
            }
            Existing::Disabled(path) => {
                plan.delete.extend(rows.iter().map(|r| &r.resolved_path).filter(|p| **p != path).cloned());
                plan.enable.push(path);
            }
            Existing::Different(_) | Existing::Absent => {
                plan.delete.extend(rows.iter().map(|r| r.resolved_path.clone()));
                plan.add.push(spec);
            }
        }
    }
    // What no rule needs any more.
    let mut stale: Vec<String> = ours.into_values().flatten().map(|r| r.resolved_path.clone()).collect();
    stale.sort();
    plan.delete.extend(stale);
    plan
}

fn unexpected(got: &RespType) -> UspError {
    UspError::UnexpectedResponse {
        expected: usp_proto::MsgKind::GetResp,
        got: usp_proto::msg::resp_kind(got),
    }
}

/// Sends one step of a sync. An Error answering the whole message (every
/// object failed) is that step's failure, recorded in `report`; a request
/// that got no answer ends the sync.
async fn step<S: RecordSender>(
    client: &ControllerClient<S>,
    agent: &str,
    body: impl Into<usp_proto::usp::request::ReqType>,
    timeout: std::time::Duration,
    what: &str,
    report: &mut SyncReport,
) -> Result<Option<RespType>, UspError> {
    match client.request_with_timeout(agent, body, timeout).await {
        Ok(resp) => Ok(Some(resp)),
        Err(UspError::Agent { code, message, .. }) => {
            report.failed.push((what.to_owned(), format!("{code}: {message}")));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Puts `specs` in place on `agent` (see the module documentation).
pub(crate) async fn sync<S: RecordSender>(
    client: &ControllerClient<S>,
    agent: &str,
    specs: &[RuleSpec],
    prefix: &str,
    timeout: std::time::Duration,
) -> Result<SyncReport, UspError> {
    let resp = match client.request_with_timeout(agent, lookup(), timeout).await? {
        RespType::GetResp(r) => r,
        other => return Err(unexpected(&other)),
    };
    let plan = plan(specs, &resp, client.endpoint_id(), prefix);
    let mut report = SyncReport { kept: plan.kept, failed: plan.refused, ..SyncReport::default() };
    if !plan.delete.is_empty() {
        let delete = Delete::new(true, plan.delete.iter().map(String::as_str));
        if let Some(RespType::DeleteResp(r)) =
            step(client, agent, delete, timeout, "delete", &mut report).await?
        {
            for res in r.deleted_obj_results {
                match res.oper_status.and_then(|s| s.oper_status) {
                    Some(DeleteStatus::OperSuccess(_)) => report.removed += 1,
                    Some(DeleteStatus::OperFailure(f)) => report
                        .failed
                        .push((res.requested_path, format!("delete: {}: {}", f.err_code, f.err_msg))),
                    None => {}
                }
            }
        }
    }
    if !plan.enable.is_empty() {
        let mut set = Set::new(true);
        for path in &plan.enable {
            set.update_objs.extend(SubscriptionSpec::enable(path).update_objs);
        }
        if let Some(RespType::SetResp(r)) = step(client, agent, set, timeout, "enable", &mut report).await? {
            for res in r.updated_obj_results {
                match res.oper_status.and_then(|s| s.oper_status) {
                    Some(SetStatus::OperSuccess(_)) => report.enabled += 1,
                    Some(SetStatus::OperFailure(f)) => report
                        .failed
                        .push((res.requested_path, format!("enable: {}: {}", f.err_code, f.err_msg))),
                    None => {}
                }
            }
        }
    }
    if !plan.add.is_empty() {
        let mut add = Add::new(true);
        add.create_objs = plan.add.iter().flat_map(|s| s.add().create_objs).collect();
        if let Some(RespType::AddResp(r)) = step(client, agent, add, timeout, "add", &mut report).await? {
            // Results come in the order of the objects (R-ADD.6 answers each).
            for (res, spec) in r.created_obj_results.into_iter().zip(&plan.add) {
                match res.oper_status.and_then(|s| s.oper_status) {
                    Some(AddStatus::OperSuccess(_)) => report.created += 1,
                    Some(AddStatus::OperFailure(f)) => report
                        .failed
                        .push((spec.id().to_owned(), format!("add: {}: {}", f.err_code, f.err_msg))),
                    None => {}
                }
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::engine::NotifType;

    const ME: &str = "self::rules";

    fn spec(id: &str, reference: &str) -> RuleSpec {
        RuleSpec {
            id: id.into(),
            notif_type: NotifType::ValueChange,
            reference: reference.into(),
            notif_retry: true,
        }
    }

    fn row(n: u32, id: &str, reference: &str, recipient: u32, extra: &[(&str, &str)]) -> ResolvedPathResult {
        let mut p: HashMap<String, String> = [
            ("ID", id),
            ("Enable", "true"),
            ("NotifType", "ValueChange"),
            ("ReferenceList", reference),
            ("NotifRetry", "true"),
            ("Persistent", "true"),
            ("NotifExpiration", "0"),
            ("TimeToLive", "0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        p.insert("Recipient".into(), format!("Device.LocalAgent.Controller.{recipient}"));
        for (k, v) in extra {
            p.insert((*k).to_owned(), (*v).to_owned());
        }
        ResolvedPathResult {
            resolved_path: format!("Device.LocalAgent.Subscription.{n}."),
            result_params: p.into_iter().collect(),
        }
    }

    fn resp(rows: Vec<ResolvedPathResult>, controllers: &[(u32, &str)]) -> GetResp {
        let ctrl = controllers
            .iter()
            .map(|(n, eid)| ResolvedPathResult {
                resolved_path: format!("Device.LocalAgent.Controller.{n}."),
                result_params: [("EndpointID".to_owned(), (*eid).to_owned())].into_iter().collect(),
            })
            .collect();
        GetResp::new(vec![
            RequestedPathResult::ok("Device.LocalAgent.Subscription.*.", rows),
            RequestedPathResult::ok(CONTROLLER_IDS, ctrl),
        ])
    }

    #[test]
    fn rows_are_kept_enabled_replaced_removed_or_added() {
        let specs = [
            spec("uspmesh-rules-vc-1", "Device.A.Value"),
            spec("uspmesh-rules-vc-2", "Device.B.Value"),
            spec("uspmesh-rules-vc-3", "Device.C.Value"),
            spec("uspmesh-rules-vc-4", "Device.D.Value"),
        ];
        let rows = vec![
            row(1, "uspmesh-rules-vc-1", "Device.A.Value", 2, &[]),
            row(2, "uspmesh-rules-vc-2", "Device.B.Value", 2, &[("Enable", "false")]),
            row(3, "uspmesh-rules-vc-3", "Device.Old.Value", 2, &[]),
            row(4, "uspmesh-rules-vc-9", "Device.Gone.Value", 2, &[]),
            // Another Controller's rows: its own IDs, and even ours.
            row(5, "cli-watch", "Device.A.Value", 1, &[]),
            row(6, "uspmesh-rules-vc-9", "Device.Gone.Value", 1, &[]),
            // Ours but not with our prefix: not ours to manage.
            row(7, "manual", "Device.A.Value", 2, &[]),
        ];
        let plan = plan(&specs, &resp(rows, &[(1, "self::other"), (2, ME)]), ME, "uspmesh-rules");
        assert_eq!(plan.kept, 1);
        assert_eq!(plan.enable, vec!["Device.LocalAgent.Subscription.2.".to_string()]);
        assert_eq!(
            plan.delete,
            vec![
                "Device.LocalAgent.Subscription.3.".to_string(),
                "Device.LocalAgent.Subscription.4.".to_string()
            ]
        );
        let added: Vec<&str> = plan.add.iter().map(SubscriptionSpec::id).collect();
        assert_eq!(added, vec!["uspmesh-rules-vc-3", "uspmesh-rules-vc-4"]);
        assert!(plan.add.iter().all(|s| {
            s.add().create_objs[0].param_settings.iter().any(|p| p.param == "Persistent" && p.value == "true")
        }));
    }

    #[test]
    fn without_our_controller_row_every_prefixed_row_is_ours_and_bad_specs_are_refused() {
        let rows = vec![row(1, "uspmesh-rules-vc-9", "Device.Gone.Value", 1, &[])];
        let specs = [spec("uspmesh-rules-vc-1", "Device.X.[Name==\"a,b\"].Value")];
        let plan = plan(&specs, &resp(rows, &[]), ME, "uspmesh-rules");
        assert_eq!(plan.delete, vec!["Device.LocalAgent.Subscription.1.".to_string()]);
        assert!(plan.add.is_empty());
        assert_eq!(plan.refused.len(), 1, "a reference holding ',' cannot go in a ReferenceList");
        // An Agent that refused the whole lookup: nothing to keep, all to add.
        let plan = super::plan(
            &[spec("uspmesh-rules-vc-1", "Device.A.Value")],
            &GetResp::default(),
            ME,
            "uspmesh-rules",
        );
        assert_eq!((plan.add.len(), plan.delete.len()), (1, 0));
    }
}
