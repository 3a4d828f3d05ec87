//! NotifyResp (records-and-messages.md §13): a Controller acknowledging a
//! Notify sent with `send_resp=true`. It is matched to the pending
//! notification by msg_id alone — R-NOT.9 tells the Agent to ignore its
//! `subscription_id` — which ends that notification's retries. A NotifyResp
//! matching nothing (a late duplicate, or for a Notify sent without
//! `send_resp`) is ignored (R-MSG.9).

use usp_proto::usp::NotifyResp;

use super::delivery::Delivery;

/// Handles a NotifyResp answering `msg_id`; true if it ended a pending
/// notification.
pub(crate) fn handle(delivery: &mut Delivery, msg_id: &str, resp: &NotifyResp) -> bool {
    let _ = &resp.subscription_id;
    delivery.acknowledge(msg_id)
}
