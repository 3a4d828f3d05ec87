//! The schema ids of the `Device.LocalAgent.` items the Agent runs itself
//! (Controllers, Subscriptions, Requests, ControllerTrust), looked up once
//! when the Agent is built so that no handler looks a name up again.

use crate::datamodel::{CommandId, Instances, ObjId, ObjRef, ParamId, Schema, SchemaNode, TableRef};

use super::AgentError;

/// `Device.LocalAgent.Controller.{i}.`
#[derive(Debug, Clone)]
pub(crate) struct ControllerIds {
    pub(crate) table: ObjId,
    pub(crate) endpoint_id: ParamId,
    pub(crate) enable: ParamId,
    pub(crate) assigned_role: ParamId,
    pub(crate) inherited_role: ParamId,
    pub(crate) retry_min_wait: ParamId,
    pub(crate) retry_multiplier: ParamId,
    pub(crate) onboarding_complete: ParamId,
    pub(crate) send_onboard_request: CommandId,
    /// Index of the `EndpointID` unique key in the table's key list.
    pub(crate) endpoint_id_key: usize,
}

/// `Device.LocalAgent.Subscription.{i}.`
#[derive(Debug, Clone)]
pub(crate) struct SubscriptionIds {
    pub(crate) table: ObjId,
    pub(crate) enable: ParamId,
    pub(crate) recipient: ParamId,
    pub(crate) id: ParamId,
    pub(crate) creation_date: ParamId,
    pub(crate) notif_type: ParamId,
    pub(crate) reference_list: ParamId,
    pub(crate) persistent: ParamId,
    pub(crate) time_to_live: ParamId,
    pub(crate) notif_retry: ParamId,
    pub(crate) notif_expiration: ParamId,
    /// Index of the (`Recipient`, `ID`) unique key.
    pub(crate) recipient_id_key: usize,
}

/// `Device.LocalAgent.Request.{i}.`
#[derive(Debug, Clone)]
pub(crate) struct RequestIds {
    pub(crate) table: ObjId,
    pub(crate) originator: ParamId,
    pub(crate) command: ParamId,
    pub(crate) command_key: ParamId,
    pub(crate) status: ParamId,
    pub(crate) cancel: CommandId,
}

/// `Device.LocalAgent.ControllerTrust.` with its Role and Permission tables.
#[derive(Debug, Clone)]
pub(crate) struct TrustIds {
    pub(crate) object: ObjId,
    pub(crate) untrusted_role: ParamId,
    pub(crate) banned_role: ParamId,
    pub(crate) secured_roles: ParamId,
    pub(crate) role_table: ObjId,
    pub(crate) role_enable: ParamId,
    pub(crate) role_name: ParamId,
    pub(crate) permission_table: ObjId,
    pub(crate) perm_enable: ParamId,
    pub(crate) perm_order: ParamId,
    pub(crate) perm_targets: ParamId,
    pub(crate) perm_param: ParamId,
    pub(crate) perm_obj: ParamId,
    pub(crate) perm_instantiated_obj: ParamId,
    pub(crate) perm_command_event: ParamId,
}

/// Every id the Agent needs.
#[derive(Debug, Clone)]
pub(crate) struct Ids {
    pub(crate) local_agent: ObjId,
    pub(crate) endpoint_id: ParamId,
    pub(crate) controller: ControllerIds,
    pub(crate) subscription: SubscriptionIds,
    pub(crate) request: RequestIds,
    pub(crate) trust: TrustIds,
}

struct Finder<'a> {
    schema: &'a Schema,
}

impl Finder<'_> {
    fn object(&self, path: &str) -> Result<ObjId, AgentError> {
        match self.schema.lookup(path) {
            Some(SchemaNode::Object(id)) => Ok(id),
            _ => Err(AgentError::MissingModel(path.to_owned())),
        }
    }

    fn param(&self, obj: ObjId, name: &str) -> Result<ParamId, AgentError> {
        self.schema.param_named(obj, name).ok_or_else(|| {
            AgentError::MissingModel(format!("{}{name}", self.schema.object(obj).supported_path()))
        })
    }

    fn command(&self, obj: ObjId, name: &str) -> Result<CommandId, AgentError> {
        self.schema.command_named(obj, name).ok_or_else(|| {
            AgentError::MissingModel(format!("{}{name}()", self.schema.object(obj).supported_path()))
        })
    }

    /// The index of the unique key made of exactly `params`.
    fn key(&self, table: ObjId, params: &[ParamId]) -> Result<usize, AgentError> {
        self.schema
            .object(table)
            .table()
            .and_then(|t| t.unique_keys.iter().position(|k| k.params == params))
            .ok_or_else(|| {
                AgentError::MissingModel(format!(
                    "a unique key of {}",
                    self.schema.object(table).supported_path()
                ))
            })
    }
}

impl Ids {
    /// Looks everything up; fails if the schema lacks the LocalAgent model.
    pub(crate) fn new(schema: &Schema) -> Result<Ids, AgentError> {
        let f = Finder { schema };
        let local_agent = f.object("Device.LocalAgent.")?;

        let table = f.object("Device.LocalAgent.Controller.{i}.")?;
        let endpoint_id = f.param(table, "EndpointID")?;
        let controller = ControllerIds {
            table,
            endpoint_id,
            enable: f.param(table, "Enable")?,
            assigned_role: f.param(table, "AssignedRole")?,
            inherited_role: f.param(table, "InheritedRole")?,
            retry_min_wait: f.param(table, "USPNotifRetryMinimumWaitInterval")?,
            retry_multiplier: f.param(table, "USPNotifRetryIntervalMultiplier")?,
            onboarding_complete: f.param(table, "OnBoardingComplete")?,
            send_onboard_request: f.command(table, "SendOnBoardRequest")?,
            endpoint_id_key: f.key(table, &[endpoint_id])?,
        };

        let table = f.object("Device.LocalAgent.Subscription.{i}.")?;
        let (recipient, id) = (f.param(table, "Recipient")?, f.param(table, "ID")?);
        let subscription = SubscriptionIds {
            table,
            enable: f.param(table, "Enable")?,
            recipient,
            id,
            creation_date: f.param(table, "CreationDate")?,
            notif_type: f.param(table, "NotifType")?,
            reference_list: f.param(table, "ReferenceList")?,
            persistent: f.param(table, "Persistent")?,
            time_to_live: f.param(table, "TimeToLive")?,
            notif_retry: f.param(table, "NotifRetry")?,
            notif_expiration: f.param(table, "NotifExpiration")?,
            recipient_id_key: f.key(table, &[recipient, id])?,
        };

        let table = f.object("Device.LocalAgent.Request.{i}.")?;
        let request = RequestIds {
            table,
            originator: f.param(table, "Originator")?,
            command: f.param(table, "Command")?,
            command_key: f.param(table, "CommandKey")?,
            status: f.param(table, "Status")?,
            cancel: f.command(table, "Cancel")?,
        };

        let object = f.object("Device.LocalAgent.ControllerTrust.")?;
        let role_table = f.object("Device.LocalAgent.ControllerTrust.Role.{i}.")?;
        let permission_table = f.object("Device.LocalAgent.ControllerTrust.Role.{i}.Permission.{i}.")?;
        let trust = TrustIds {
            object,
            untrusted_role: f.param(object, "UntrustedRole")?,
            banned_role: f.param(object, "BannedRole")?,
            secured_roles: f.param(object, "SecuredRoles")?,
            role_table,
            role_enable: f.param(role_table, "Enable")?,
            role_name: f.param(role_table, "Name")?,
            permission_table,
            perm_enable: f.param(permission_table, "Enable")?,
            perm_order: f.param(permission_table, "Order")?,
            perm_targets: f.param(permission_table, "Targets")?,
            perm_param: f.param(permission_table, "Param")?,
            perm_obj: f.param(permission_table, "Obj")?,
            perm_instantiated_obj: f.param(permission_table, "InstantiatedObj")?,
            perm_command_event: f.param(permission_table, "CommandEvent")?,
        };

        Ok(Ids {
            local_agent,
            endpoint_id: f.param(local_agent, "EndpointID")?,
            controller,
            subscription,
            request,
            trust,
        })
    }

    /// `Device.LocalAgent.Controller.`
    pub(crate) fn controller_table(&self) -> TableRef {
        TableRef { table: self.controller.table, parent: Instances::EMPTY }
    }

    /// `Device.LocalAgent.Subscription.`
    pub(crate) fn subscription_table(&self) -> TableRef {
        TableRef { table: self.subscription.table, parent: Instances::EMPTY }
    }

    /// `Device.LocalAgent.Request.`
    pub(crate) fn request_table(&self) -> TableRef {
        TableRef { table: self.request.table, parent: Instances::EMPTY }
    }

    /// `Device.LocalAgent.ControllerTrust.Role.`
    pub(crate) fn role_table(&self) -> TableRef {
        TableRef { table: self.trust.role_table, parent: Instances::EMPTY }
    }

    /// `Device.LocalAgent.ControllerTrust.`
    pub(crate) fn trust_object(&self) -> ObjRef {
        ObjRef::new(self.trust.object, Instances::EMPTY)
    }

    /// Row `n` of a top-level table.
    pub(crate) fn row(table: ObjId, n: u32) -> Option<ObjRef> {
        TableRef { table, parent: Instances::EMPTY }.row(n)
    }
}
