//! Running an [`Agent`] with tokio over any [`Link`] (in-process, MQTT,
//! WebSocket).
//!
//! [`spawn`] moves the Agent into one task that owns it and waits on four
//! things at once:
//!
//! * a Record from the link → [`Agent::handle`];
//! * the [`ReportQueue`](crate::datamodel::ReportQueue)'s waker (a provider
//!   pushed a reading, a command finished) → [`Agent::poll`];
//! * [`Agent::next_deadline`] (a retry, an expiry) → [`Agent::poll`];
//! * a closure sent with [`AgentHandle::call`] → run on the Agent, then
//!   [`Agent::poll`] so what it changed is notified.
//!
//! Each call's Records are then handed to the link in order. No lock is
//! shared with anyone (the Agent is the task's alone) and nothing is held
//! across an `.await` but the Agent itself. The clock is read here, not in
//! the Agent: the system time in UTC.
//!
//! The task ends when the link's receiving side closes or on
//! [`AgentHandle::shutdown`], and gives the Agent back (to export its
//! persistent state). Connect and Disconnect Records are the MTP client's
//! business (`mtp::Role::Agent`), not the runtime's.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{Agent, Output, clock};
use crate::datamodel::DateTime;
use crate::mtp::{Link, RecordSender};

/// Why the runtime could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// The Agent's task has ended (the link closed, or it was shut down).
    #[error("the agent task has stopped")]
    Stopped,
    /// The Agent's task panicked.
    #[error("the agent task panicked")]
    Panicked,
}

type Job = Box<dyn FnOnce(&mut Agent) + Send>;

/// A handle on a running Agent. Dropping it stops the task (use
/// [`AgentHandle::join`] to let it run until its link closes).
#[derive(Debug)]
pub struct AgentHandle {
    jobs: mpsc::Sender<Job>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Agent>,
}

/// The current time, as the Agent takes it.
pub fn system_now() -> DateTime {
    DateTime::from_system_time(SystemTime::now()).unwrap_or(DateTime::UNKNOWN)
}

/// Starts the task driving `agent` over `link` (needs a tokio runtime).
pub fn spawn<S: RecordSender>(agent: Agent, link: Link<S>) -> AgentHandle {
    let (jobs, jobs_rx) = mpsc::channel(16);
    let (stop, stop_rx) = oneshot::channel();
    let task = tokio::spawn(run(agent, link, jobs_rx, stop_rx));
    AgentHandle { jobs, stop: Some(stop), task }
}

impl AgentHandle {
    /// Runs `f` on the Agent inside its task and returns its result; what
    /// `f` changed in the data model is notified right after.
    pub async fn call<R, F>(&self, f: F) -> Result<R, RuntimeError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Agent) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |agent| {
            let _ = tx.send(f(agent));
        });
        self.jobs.send(job).await.map_err(|_| RuntimeError::Stopped)?;
        rx.await.map_err(|_| RuntimeError::Stopped)
    }

    /// Stops the task (after the call in progress) and returns the Agent.
    pub async fn shutdown(mut self) -> Result<Agent, RuntimeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.map_err(|_| RuntimeError::Panicked)
    }

    /// Waits for the task to end by itself (its link closed). Dropping
    /// the handle instead stops the task.
    pub async fn join(self) -> Result<Agent, RuntimeError> {
        // Keep `stop` alive so the task is not told to stop.
        let AgentHandle { task, stop: _stop, .. } = self;
        task.await.map_err(|_| RuntimeError::Panicked)
    }
}

async fn send_all<S: RecordSender>(sender: &S, agent_id: &str, out: Output) {
    for t in out {
        if let Err(error) = sender.send(&t.to, t.record).await {
            tracing::debug!(agent = %agent_id, to = %t.to, %error, "record not sent");
        }
    }
}

async fn run<S: RecordSender>(
    mut agent: Agent,
    link: Link<S>,
    mut jobs: mpsc::Receiver<Job>,
    mut stop: oneshot::Receiver<()>,
) -> Agent {
    let Link { sender, mut incoming } = link;
    let wake = Arc::new(Notify::new());
    let waker = wake.clone();
    agent.report_queue().set_waker(move || waker.notify_one());
    let id = agent.endpoint_id().to_owned();
    let out = agent.poll(system_now());
    send_all(&sender, &id, out).await;
    let mut jobs_open = true;
    loop {
        let deadline = agent.next_deadline().map(|d| clock::duration_until(system_now(), d));
        // A disabled branch when nothing is scheduled (tokio clamps
        // `Duration::MAX` to its far future).
        let sleep = tokio::time::sleep(deadline.unwrap_or(Duration::MAX));
        tokio::pin!(sleep);
        let out = tokio::select! {
            biased;
            _ = &mut stop => break,
            record = incoming.recv() => match record {
                Some(bytes) => agent.handle(bytes, system_now()),
                None => break,
            },
            job = jobs.recv(), if jobs_open => match job {
                Some(job) => {
                    job(&mut agent);
                    agent.poll(system_now())
                }
                None => {
                    jobs_open = false;
                    Output::new()
                }
            },
            () = wake.notified() => agent.poll(system_now()),
            () = &mut sleep, if deadline.is_some() => agent.poll(system_now()),
        };
        send_all(&sender, &id, out).await;
    }
    agent
}
