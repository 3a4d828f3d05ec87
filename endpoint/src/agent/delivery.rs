//! Sending notifications and retrying them until a NotifyResp arrives.
//!
//! A notification of a subscription with `NotifRetry=true` (and every
//! OnBoardRequest) goes out with `send_resp=true` and stays pending: the
//! identical Record (same msg_id, so the Controller can tell a retry from a
//! new notification) is sent again on the R-NOT.1 schedule until a
//! NotifyResp — or an Error — with its msg_id arrives (R-NOT.9: matched by
//! msg_id alone), until `NotifExpiration` has passed since the first
//! attempt, until its subscription or Controller is deleted or disabled,
//! or until the Agent restarts. With `NotifRetry=false` the Notify carries
//! `send_resp=false` and is sent once.
//!
//! Choice: an Error answering a Notify also ends its retries — the
//! Controller received it, and sending the same message again would get
//! the same Error.
//!
//! msg_ids are `n-<boot>-<count>`: the boot part comes from the Agent's
//! random seed, so a restarted Agent does not repeat ids a Controller may
//! still remember as already delivered.

use bytes::Bytes;
use usp_proto::{Msg, encode, usp::Notify};

use super::controllers::Controllers;
use super::output::Output;
use super::rng::Rng;
use super::{clock, retry};
use crate::controller::Transmit;
use crate::datamodel::DateTime;

/// What triggered a pending notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Subscription row `n`.
    Subscription(u32),
    /// An OnBoardRequest (no subscription).
    OnBoard,
}

/// A notification waiting for its NotifyResp.
#[derive(Debug, Clone)]
struct Pending {
    msg_id: String,
    to: String,
    record: Bytes,
    origin: Origin,
    controller: u32,
    /// Retries sent so far.
    retries: u32,
    next: DateTime,
    expires: Option<DateTime>,
}

/// How a notification is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Seconds after the first attempt after which it is given up; 0 = never.
    pub(crate) expiration: u32,
}

/// The notifications in flight.
#[derive(Debug)]
pub(crate) struct Delivery {
    own_id: String,
    boot: u64,
    counter: u64,
    rng: Rng,
    pending: Vec<Pending>,
    max_pending: usize,
}

impl Delivery {
    pub(crate) fn new(own_id: &str, seed: u64, max_pending: usize) -> Delivery {
        let mut rng = Rng::new(seed);
        let boot = rng.next_u64() & 0xFFFF_FFFF_FFFF;
        Delivery { own_id: own_id.to_owned(), boot, counter: 0, rng, pending: Vec::new(), max_pending }
    }

    fn next_msg_id(&mut self) -> String {
        self.counter += 1;
        format!("n-{:012x}-{}", self.boot, self.counter)
    }

    fn schedule(&mut self, controllers: &Controllers, controller: u32, n: u32, now: DateTime) -> DateTime {
        let (m, k) =
            controllers.get(controller).map_or((5, 2000), |c| (c.retry_min_wait, c.retry_multiplier));
        clock::after(now, retry::wait(m, k, n, self.rng.unit()))
    }

    /// Sends `notify` to Controller row `controller` (Endpoint ID `to`);
    /// with a retry policy it stays pending until acknowledged. Returns the
    /// msg_id.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send(
        &mut self,
        out: &mut Output,
        controllers: &Controllers,
        to: &str,
        controller: u32,
        origin: Origin,
        notify: Notify,
        retry: Option<RetryPolicy>,
        now: DateTime,
    ) -> String {
        let msg_id = self.next_msg_id();
        let msg = Msg::request(msg_id.clone(), notify);
        let record = encode::msg_record(to, &self.own_id, &msg);
        out.push(Transmit { to: to.to_owned(), record: record.clone() });
        if let Some(policy) = retry {
            if self.pending.len() >= self.max_pending && !self.pending.is_empty() {
                // Bounded: the oldest notification is given up first.
                self.pending.remove(0);
            }
            let next = self.schedule(controllers, controller, 1, now);
            let expires = (policy.expiration > 0).then(|| clock::after_secs(now, policy.expiration));
            self.pending.push(Pending {
                msg_id: msg_id.clone(),
                to: to.to_owned(),
                record,
                origin,
                controller,
                retries: 0,
                next,
                expires,
            });
        }
        msg_id
    }

    /// A NotifyResp or Error answered `msg_id`: true if it was pending.
    pub(crate) fn acknowledge(&mut self, msg_id: &str) -> bool {
        let before = self.pending.len();
        self.pending.retain(|p| p.msg_id != msg_id);
        self.pending.len() != before
    }

    /// Sends the retries due at `now`; drops expired notifications and
    /// those whose Controller is gone or disabled.
    pub(crate) fn poll(&mut self, out: &mut Output, controllers: &Controllers, now: DateTime) {
        let mut i = 0;
        while i < self.pending.len() {
            let Some(p) = self.pending.get(i) else { break };
            let live = controllers.get(p.controller).is_some_and(|c| c.enabled);
            if !live || p.expires.is_some_and(|e| now >= e) {
                self.pending.remove(i);
                continue;
            }
            if p.next <= now {
                let (controller, n) = (p.controller, p.retries + 2);
                let next = self.schedule(controllers, controller, n, now);
                if let Some(p) = self.pending.get_mut(i) {
                    out.push(Transmit { to: p.to.clone(), record: p.record.clone() });
                    p.retries += 1;
                    p.next = next;
                }
            }
            i += 1;
        }
    }

    /// When the next retry is due.
    pub(crate) fn next_deadline(&self) -> Option<DateTime> {
        self.pending.iter().map(|p| p.next).min()
    }

    /// Gives up the notifications of subscription row `n`.
    pub(crate) fn abort_subscription(&mut self, n: u32) {
        self.pending.retain(|p| p.origin != Origin::Subscription(n));
    }

    /// Gives up the notifications to Controller row `n`.
    pub(crate) fn abort_controller(&mut self, n: u32) {
        self.pending.retain(|p| p.controller != n);
    }

    /// Notifications waiting for their NotifyResp.
    pub(crate) fn pending(&self) -> usize {
        self.pending.len()
    }
}
