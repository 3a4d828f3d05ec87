//! Subscribing, and the guard that unsubscribes.

use usp_proto::usp::response::RespType;

use super::ControllerClient;
use crate::{
    controller::{
        UspError,
        result::SetFailure,
        subscription::{Existing, SubscriptionSpec, instance_from_add},
    },
    mtp::RecordSender,
};

/// A Subscription row on an Agent, removed when this guard is dropped.
///
/// Dropping spawns the Delete on the current tokio runtime (it cannot be
/// awaited in `Drop`); call [`Subscription::unsubscribe`] to await it and
/// see its result, or [`Subscription::keep`] to leave the row in place.
#[derive(Debug)]
pub struct Subscription<S: RecordSender> {
    client: ControllerClient<S>,
    agent: String,
    id: String,
    path: String,
    reused: bool,
    armed: bool,
}

impl<S: RecordSender> Subscription<S> {
    /// The Agent holding the row.
    pub fn agent(&self) -> &str {
        &self.agent
    }

    /// The subscription's ID (the `subscription_id` of its notifications).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The row, e.g. `Device.LocalAgent.Subscription.4.`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// True if an existing row was reused rather than added.
    pub fn reused(&self) -> bool {
        self.reused
    }

    /// Deletes the row and waits for the answer.
    pub async fn unsubscribe(mut self) -> Result<(), UspError> {
        self.armed = false;
        delete_row(&self.client, &self.agent, &self.path).await
    }

    /// Leaves the row on the Agent and returns its path.
    pub fn keep(mut self) -> String {
        self.armed = false;
        std::mem::take(&mut self.path)
    }
}

impl<S: RecordSender> Drop for Subscription<S> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(path = %self.path, "subscription dropped outside a tokio runtime; row left on the agent");
            return;
        };
        let (client, agent, path) =
            (self.client.clone(), std::mem::take(&mut self.agent), std::mem::take(&mut self.path));
        runtime.spawn(async move {
            if let Err(error) = delete_row(&client, &agent, &path).await {
                tracing::warn!(%error, %agent, %path, "could not remove subscription");
            }
        });
    }
}

async fn delete_row<S: RecordSender>(
    client: &ControllerClient<S>,
    agent: &str,
    path: &str,
) -> Result<(), UspError> {
    let outcomes = client.delete(agent, SubscriptionSpec::delete(path)).await?;
    match outcomes.into_iter().next().map(|o| o.result) {
        Some(Ok(_)) => Ok(()),
        Some(Err(f)) => Err(UspError::agent(f.code, f.message)),
        None => Err(UspError::MalformedResponse("DeleteResp has no deleted_obj_results")),
    }
}

impl<S: RecordSender> ControllerClient<S> {
    /// Makes sure the Agent `to` has the subscription `spec` and returns its
    /// guard: finds a row with the same ID, reuses it if identical (enabling
    /// it if needed), replaces it if it differs, or adds one (see
    /// [`crate::controller::subscription`] for the rules).
    pub async fn subscribe(&self, to: &str, spec: &SubscriptionSpec) -> Result<Subscription<S>, UspError> {
        let existing = match self.get_with(to, spec.lookup()).await {
            Ok(resp) => spec.decide(&resp),
            // The Agent refused the lookup itself: let the Add tell.
            Err(UspError::Agent { .. }) => Existing::Absent,
            Err(e) => return Err(e),
        };
        let (path, reused) = match existing {
            Existing::Same(path) => (path, true),
            Existing::Disabled(path) => {
                let outcomes = self.set(to, SubscriptionSpec::enable(&path)).await?;
                if let Some(Err(f)) = outcomes.into_iter().next().map(|o| o.result) {
                    let SetFailure { code, message, .. } = f;
                    return Err(UspError::agent(code, message));
                }
                (path, true)
            }
            Existing::Different(path) => {
                delete_row(self, to, &path).await?;
                (self.add_row(to, spec).await?, false)
            }
            Existing::Absent => (self.add_row(to, spec).await?, false),
        };
        Ok(Subscription {
            client: self.clone(),
            agent: to.to_owned(),
            id: spec.id().to_owned(),
            path,
            reused,
            armed: true,
        })
    }

    async fn add_row(&self, to: &str, spec: &SubscriptionSpec) -> Result<String, UspError> {
        match self.request(to, spec.add()).await? {
            RespType::AddResp(resp) => instance_from_add(&resp),
            other => Err(super::unexpected(usp_proto::MsgKind::AddResp, &other)),
        }
    }
}
