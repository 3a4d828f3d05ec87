//! After every handled Record and every poll: the change log, drained.
//!
//! Whatever changed the data model — a Controller's request, a provider's
//! report applied by `DataModel::poll`, the Agent's own bookkeeping — left
//! entries in the change log. [`Agent::settle`] drains it in rounds: each
//! entry is first turned into its notifications (so a Controller row being
//! deleted or disabled still gets the notification of that change), then
//! applied to the Agent's own state:
//!
//! * Subscription rows: loaded, reloaded at the end of the round, dropped;
//!   a row deleted or disabled loses its pending retries;
//! * Controller rows: the notification copy refreshed; a deleted
//!   Controller's subscriptions are deleted too (agent-datamodel.md §3);
//!   disabling one drops its pending retries;
//! * anything under `Controller.` or `ControllerTrust.`: the permission
//!   cache is dropped;
//! * a completed asynchronous command: its Request row gets its final
//!   Status and goes.
//!
//! Those last writes are changes too, handled in the next round. Rounds
//! are bounded; what is left (only a pathological provider could leave
//! anything) waits for the next call.

use super::Agent;
use super::ids::Ids;
use super::notify::Notifier;
use super::output::Output;
use super::requests::Status;
use crate::datamodel::{Change, DateTime, ObjId, OpId, Value};
use usp_proto::{ErrCode, usp::Notify};

use super::delivery::{Origin, RetryPolicy};

/// Most rounds per call.
const MAX_ROUNDS: usize = 16;

/// Writes to do once a round's entries are handled.
#[derive(Default)]
struct Later {
    completions: Vec<(OpId, Status)>,
    orphans: Vec<u32>,
}

impl Agent {
    /// Drains the change log into notifications and state (see the module
    /// docs).
    pub(crate) fn settle(&mut self, now: DateTime, out: &mut Output) {
        for _ in 0..MAX_ROUNDS {
            let mut changes = std::mem::take(&mut self.changes);
            self.dm.drain_changes(&mut changes);
            if changes.is_empty() && self.onboard.is_empty() {
                self.changes = changes;
                return;
            }
            let mut later = Later::default();
            for change in &changes {
                Notifier {
                    dm: &self.dm,
                    ids: &self.ids,
                    subs: &self.subs,
                    controllers: &self.controllers,
                    requests: &self.requests,
                    trust: &mut self.trust,
                    delivery: &mut self.delivery,
                    scratch: &mut self.scratch,
                }
                .change(change, now, out);
                self.apply(change, &mut later);
            }
            changes.clear();
            self.changes = changes;
            for n in self.subs.catch_up(&self.dm, &self.ids) {
                self.delivery.abort_subscription(n);
            }
            self.finish_round(later, now, out);
        }
    }

    fn under(&self, obj: ObjId, top: ObjId) -> bool {
        self.dm.schema().object(obj).ancestry().contains(&top)
    }

    fn trust_related(&self, obj: ObjId) -> bool {
        self.under(obj, self.ids.controller.table) || self.under(obj, self.ids.trust.object)
    }

    fn apply(&mut self, change: &Change, later: &mut Later) {
        match change {
            Change::Value { param, .. } => {
                let obj = param.obj.obj;
                let n = param.obj.inst.last();
                if let (true, Some(n)) = (obj == self.ids.subscription.table, n) {
                    self.subs.mark_dirty(n);
                }
                if let (true, Some(n)) = (obj == self.ids.controller.table, n) {
                    self.controllers.reload(&self.dm, &self.ids, n);
                    if !self.controllers.get(n).is_some_and(|c| c.enabled) {
                        self.delivery.abort_controller(n);
                    }
                }
                if self.trust_related(obj) {
                    self.trust.invalidate();
                }
                self.subs.data_changed();
            }
            Change::Created { row, .. } => {
                if let (true, Some(n)) = (row.obj == self.ids.subscription.table, row.inst.last()) {
                    self.subs.reload(&self.dm, &self.ids, n);
                }
                if let (true, Some(n)) = (row.obj == self.ids.controller.table, row.inst.last()) {
                    self.controllers.reload(&self.dm, &self.ids, n);
                }
                if self.trust_related(row.obj) {
                    self.trust.invalidate();
                }
                self.subs.data_changed();
            }
            Change::Deleted { row, .. } => {
                if let (true, Some(n)) = (row.obj == self.ids.subscription.table, row.inst.last()) {
                    self.subs.unload(n);
                    self.delivery.abort_subscription(n);
                }
                if let (true, Some(n)) = (row.obj == self.ids.controller.table, row.inst.last()) {
                    self.controllers.remove(n);
                    self.delivery.abort_controller(n);
                    later.orphans.extend(self.subs.of_recipient(n));
                }
                if self.trust_related(row.obj) {
                    self.trust.invalidate();
                }
            }
            Change::Completed { op, result, .. } => {
                let status = match result {
                    Ok(_) => Status::Success,
                    Err(e) if e.code == ErrCode::COMMAND_CANCELLED => Status::Canceled,
                    Err(_) => Status::Error,
                };
                later.completions.push((*op, status));
            }
            Change::Event { .. } => {}
        }
    }

    fn finish_round(&mut self, later: Later, now: DateTime, out: &mut Output) {
        for (op, status) in later.completions {
            self.requests.finish(&mut self.dm, &self.ids, op, status);
        }
        for n in later.orphans {
            if let Some(row) = Ids::row(self.ids.subscription.table, n) {
                if self.dm.store_mut().delete(&row).is_err() {
                    self.subs.unload(n);
                }
            }
        }
        for n in std::mem::take(&mut self.onboard) {
            self.send_on_board_request(n, now, out);
        }
    }

    /// Sends Controller row `n` an OnBoardRequest, retried until its
    /// NotifyResp (R-NOT.6/6a).
    fn send_on_board_request(&mut self, n: u32, now: DateTime, out: &mut Output) {
        let Some(info) = self.controllers.get(n) else { return };
        if !info.enabled {
            return;
        }
        let to = info.endpoint_id.clone();
        let text = |path: &str| match self.dm.schema().lookup(path) {
            Some(crate::datamodel::SchemaNode::Param(p)) => {
                let owner = self.dm.schema().param(p).owner;
                let obj = crate::datamodel::ObjRef::new(owner, crate::datamodel::Instances::EMPTY);
                self.dm.store().get(&obj.param(p)).map(Value::to_string).unwrap_or_default()
            }
            _ => String::new(),
        };
        let notify = Notify::on_board_request(
            text("Device.DeviceInfo.ManufacturerOUI"),
            text("Device.DeviceInfo.ProductClass"),
            text("Device.DeviceInfo.SerialNumber"),
            self.config.supported_versions.clone(),
        );
        self.delivery.send(
            out,
            &self.controllers,
            &to,
            n,
            Origin::OnBoard,
            notify,
            Some(RetryPolicy { expiration: 0 }),
            now,
        );
    }
}
