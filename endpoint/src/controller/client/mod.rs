//! [`ControllerClient`]: the Controller core driven by tokio over a link.
//!
//! One background task (the driver, `driver.rs`) owns the link's receiving
//! half: it feeds every Record to the core, completes the waiting requests,
//! forwards notifications to [`Notifications`] and sends the replies
//! (NotifyResp, Error). It also sleeps until the core's next deadline to
//! time requests out. Callers share the core through a mutex that is never
//! held across an `.await`: a request locks it to build its Record and
//! register its waiter, unlocks, then sends.
//!
//! The driver stops when the link's receiver ends or when the last client
//! handle (including [`Subscription`] guards) is dropped; outstanding
//! requests then fail with [`UspError::Closed`].

mod driver;
mod notifications;
mod subscription;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use tokio::sync::{Notify, oneshot};
use usp_proto::usp::{
    Add, Delete, Get, GetInstances, GetInstancesResp, GetResp, GetSupportedDm, GetSupportedDmResp,
    GetSupportedProtocol, GetSupportedProtocolResp, Operate, Set, request::ReqType, response::RespType,
};

pub use notifications::Notifications;
pub use subscription::Subscription;

use super::{
    Controller, RequestId, UspError,
    result::{self, AddOutcome, CommandOutcome, DeleteOutcome, SetOutcome},
};
use crate::mtp::{Link, RecordSender};

/// Tunables of a [`ControllerClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// How many received notifications (and connect events) may wait for
    /// the application. Default 1024.
    ///
    /// When the queue is full, a notification is dropped *without* its
    /// NotifyResp, so an Agent retrying it (NotifRetry) delivers it again
    /// later; the driver never waits on the application, which would stall
    /// the responses the application may itself be waiting for.
    pub notification_capacity: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig { notification_capacity: 1024 }
    }
}

type Waiter = oneshot::Sender<Result<RespType, UspError>>;

/// State shared by the client handles and the driver.
struct Shared<S> {
    state: Mutex<State>,
    sender: S,
    /// Wakes the driver when a request's deadline is earlier than the one
    /// it sleeps until.
    wake: Notify,
    own_id: String,
}

struct State {
    core: Controller,
    waiters: HashMap<RequestId, Waiter>,
    /// The deadline the driver is sleeping until.
    timer: Option<Instant>,
    /// Set when the driver stopped: requests fail at once.
    closed: bool,
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the core consistent enough
        // (every method completes its bookkeeping before returning).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The handles' shared part; when the last one goes, the driver stops.
struct Handle<S> {
    shared: Arc<Shared<S>>,
    _alive: oneshot::Sender<()>,
}

/// An async USP Controller over a link.
///
/// Cheap to clone; all clones share one core and one driver.
pub struct ControllerClient<S> {
    handle: Arc<Handle<S>>,
}

impl<S> Clone for ControllerClient<S> {
    fn clone(&self) -> Self {
        ControllerClient { handle: self.handle.clone() }
    }
}

impl<S> std::fmt::Debug for ControllerClient<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerClient").field("endpoint_id", &self.handle.shared.own_id).finish()
    }
}

/// Ends a request's bookkeeping if its caller stops waiting.
struct CancelOnDrop<'a, S> {
    shared: &'a Shared<S>,
    id: RequestId,
    armed: bool,
}

impl<S> Drop for CancelOnDrop<'_, S> {
    fn drop(&mut self) {
        if self.armed {
            let mut st = self.shared.lock();
            st.core.cancel(self.id);
            st.waiters.remove(&self.id);
        }
    }
}

impl<S: RecordSender> ControllerClient<S> {
    /// Starts the driver task for `controller` on `link` (needs a tokio
    /// runtime) and returns the client and the stream of notifications.
    pub fn spawn(controller: Controller, link: Link<S>, config: ClientConfig) -> (Self, Notifications) {
        let (alive_tx, alive_rx) = oneshot::channel();
        let (events_tx, events_rx) = tokio::sync::mpsc::channel(config.notification_capacity.max(1));
        let shared = Arc::new(Shared {
            own_id: controller.endpoint_id().to_owned(),
            state: Mutex::new(State {
                core: controller,
                waiters: HashMap::new(),
                timer: None,
                closed: false,
            }),
            sender: link.sender,
            wake: Notify::new(),
        });
        tokio::spawn(driver::run(shared.clone(), link.incoming, events_tx, alive_rx));
        let client = ControllerClient { handle: Arc::new(Handle { shared, _alive: alive_tx }) };
        (client, Notifications::new(events_rx))
    }

    /// Our Endpoint ID.
    pub fn endpoint_id(&self) -> &str {
        &self.handle.shared.own_id
    }

    /// Number of requests waiting for an answer.
    pub fn outstanding(&self) -> usize {
        self.handle.shared.lock().core.outstanding()
    }

    /// Sends any request to `to` and waits for its response (default
    /// timeout).
    pub async fn request(&self, to: &str, body: impl Into<ReqType>) -> Result<RespType, UspError> {
        self.request_inner(to, body.into(), None).await
    }

    /// Sends any request to `to` and waits at most `timeout` for its
    /// response.
    pub async fn request_with_timeout(
        &self,
        to: &str,
        body: impl Into<ReqType>,
        timeout: Duration,
    ) -> Result<RespType, UspError> {
        self.request_inner(to, body.into(), Some(timeout)).await
    }

    async fn request_inner(
        &self,
        to: &str,
        body: ReqType,
        timeout: Option<Duration>,
    ) -> Result<RespType, UspError> {
        let shared = &*self.handle.shared;
        let (tx, rx) = oneshot::channel();
        let (id, transmit, wake) = {
            let mut st = shared.lock();
            if st.closed {
                return Err(UspError::Closed);
            }
            let timeout = timeout.unwrap_or_else(|| st.core.request_timeout());
            let (id, transmit) = st.core.request_with_timeout(to, body, Instant::now(), timeout);
            st.waiters.insert(id, tx);
            let wake = st.core.next_deadline() != st.timer;
            (id, transmit, wake)
        };
        if wake {
            shared.wake.notify_one();
        }
        let mut guard = CancelOnDrop { shared, id, armed: true };
        shared.sender.send(&transmit.to, transmit.record).await?;
        let result = rx.await.unwrap_or(Err(UspError::Closed));
        guard.armed = false;
        result
    }

    /// Get: the GetResp, whose per-path results may carry their own error
    /// codes (a Get as a whole succeeds when each path is answered).
    pub async fn get<P: Into<String>>(
        &self,
        to: &str,
        paths: impl IntoIterator<Item = P>,
    ) -> Result<GetResp, UspError> {
        self.get_with(to, Get::new(paths)).await
    }

    /// Get with every option (`max_depth`).
    pub async fn get_with(&self, to: &str, get: Get) -> Result<GetResp, UspError> {
        match self.request(to, get).await? {
            RespType::GetResp(r) => Ok(r),
            other => Err(unexpected(usp_proto::MsgKind::GetResp, &other)),
        }
    }

    /// Set: one outcome per requested object; a message-level failure
    /// (`allow_partial = false`) is [`UspError::Agent`] with `param_errs`.
    pub async fn set(&self, to: &str, set: Set) -> Result<Vec<SetOutcome>, UspError> {
        match self.request(to, set).await? {
            RespType::SetResp(r) => Ok(result::set::outcomes(r)),
            other => Err(unexpected(usp_proto::MsgKind::SetResp, &other)),
        }
    }

    /// Add: one outcome per created (or refused) object.
    pub async fn add(&self, to: &str, add: Add) -> Result<Vec<AddOutcome>, UspError> {
        match self.request(to, add).await? {
            RespType::AddResp(r) => Ok(result::add::outcomes(r)),
            other => Err(unexpected(usp_proto::MsgKind::AddResp, &other)),
        }
    }

    /// Delete: one outcome per requested path.
    pub async fn delete(&self, to: &str, delete: Delete) -> Result<Vec<DeleteOutcome>, UspError> {
        match self.request(to, delete).await? {
            RespType::DeleteResp(r) => Ok(result::delete::outcomes(r)),
            other => Err(unexpected(usp_proto::MsgKind::DeleteResp, &other)),
        }
    }

    /// Operate, waiting for the OperateResp (`send_resp` is forced to
    /// true): per command, its output, the Request row of an asynchronous
    /// command, or its failure.
    pub async fn operate(&self, to: &str, operate: Operate) -> Result<Vec<CommandOutcome>, UspError> {
        match self.request(to, operate.with_send_resp(true)).await? {
            RespType::OperateResp(r) => Ok(result::operate::outcomes(r)),
            other => Err(unexpected(usp_proto::MsgKind::OperateResp, &other)),
        }
    }

    /// Operate without asking for a response (`send_resp = false`); returns
    /// once the Record is handed to the link. An OperateResp the Agent may
    /// still send (R-OPR.4) is ignored as an unknown msg_id.
    pub async fn operate_detached(&self, to: &str, operate: Operate) -> Result<(), UspError> {
        let shared = &*self.handle.shared;
        let (_, transmit) = shared.lock().core.send_untracked(to, operate.with_send_resp(false));
        shared.sender.send(&transmit.to, transmit.record).await?;
        Ok(())
    }

    /// GetInstances.
    pub async fn get_instances(&self, to: &str, req: GetInstances) -> Result<GetInstancesResp, UspError> {
        match self.request(to, req).await? {
            RespType::GetInstancesResp(r) => Ok(r),
            other => Err(unexpected(usp_proto::MsgKind::GetInstancesResp, &other)),
        }
    }

    /// GetSupportedDM.
    pub async fn get_supported_dm(
        &self,
        to: &str,
        req: GetSupportedDm,
    ) -> Result<GetSupportedDmResp, UspError> {
        match self.request(to, req).await? {
            RespType::GetSupportedDmResp(r) => Ok(r),
            other => Err(unexpected(usp_proto::MsgKind::GetSupportedDmResp, &other)),
        }
    }

    /// GetSupportedProtocol, announcing `versions` (e.g. `"1.3,1.4"`).
    pub async fn get_supported_protocol(
        &self,
        to: &str,
        versions: &str,
    ) -> Result<GetSupportedProtocolResp, UspError> {
        match self.request(to, GetSupportedProtocol::new(versions)).await? {
            RespType::GetSupportedProtocolResp(r) => Ok(r),
            other => Err(unexpected(usp_proto::MsgKind::GetSupportedProtoResp, &other)),
        }
    }
}

/// The core checks response kinds, so this only fires if it and the
/// typed method disagree; it is still an answer, not a panic.
fn unexpected(expected: usp_proto::MsgKind, got: &RespType) -> UspError {
    UspError::UnexpectedResponse { expected, got: usp_proto::msg::resp_kind(got) }
}
