//! Notification constructors.

use super::map;
use crate::{
    ErrCode,
    usp::{Notify, NotifyResp, notify},
};

impl Notify {
    fn with(subscription_id: impl Into<String>, send_resp: bool, n: notify::Notification) -> Notify {
        Notify { subscription_id: subscription_id.into(), send_resp, notification: Some(n) }
    }

    /// A ValueChange notification.
    pub fn value_change(
        subscription_id: impl Into<String>,
        send_resp: bool,
        param_path: impl Into<String>,
        param_value: impl Into<String>,
    ) -> Notify {
        Notify::with(
            subscription_id,
            send_resp,
            notify::Notification::ValueChange(notify::ValueChange {
                param_path: param_path.into(),
                param_value: param_value.into(),
            }),
        )
    }

    /// An Event notification: `obj_path` emitted `event_name` (with its `!`).
    pub fn event<K: Into<String>, V: Into<String>>(
        subscription_id: impl Into<String>,
        send_resp: bool,
        obj_path: impl Into<String>,
        event_name: impl Into<String>,
        params: impl IntoIterator<Item = (K, V)>,
    ) -> Notify {
        Notify::with(
            subscription_id,
            send_resp,
            notify::Notification::Event(notify::Event {
                obj_path: obj_path.into(),
                event_name: event_name.into(),
                params: map(params),
            }),
        )
    }

    /// An ObjectCreation notification with the new instance's unique keys.
    pub fn object_creation<K: Into<String>, V: Into<String>>(
        subscription_id: impl Into<String>,
        send_resp: bool,
        obj_path: impl Into<String>,
        unique_keys: impl IntoIterator<Item = (K, V)>,
    ) -> Notify {
        Notify::with(
            subscription_id,
            send_resp,
            notify::Notification::ObjCreation(notify::ObjectCreation {
                obj_path: obj_path.into(),
                unique_keys: map(unique_keys),
            }),
        )
    }

    /// An ObjectDeletion notification.
    pub fn object_deletion(
        subscription_id: impl Into<String>,
        send_resp: bool,
        obj_path: impl Into<String>,
    ) -> Notify {
        Notify::with(
            subscription_id,
            send_resp,
            notify::Notification::ObjDeletion(notify::ObjectDeletion { obj_path: obj_path.into() }),
        )
    }

    /// An OperationComplete notification for an asynchronous command that
    /// succeeded with `output_args`.
    pub fn operation_complete<K: Into<String>, V: Into<String>>(
        subscription_id: impl Into<String>,
        send_resp: bool,
        obj_path: impl Into<String>,
        command_name: impl Into<String>,
        command_key: impl Into<String>,
        output_args: impl IntoIterator<Item = (K, V)>,
    ) -> Notify {
        Notify::with(
            subscription_id,
            send_resp,
            notify::Notification::OperComplete(notify::OperationComplete {
                obj_path: obj_path.into(),
                command_name: command_name.into(),
                command_key: command_key.into(),
                operation_resp: Some(notify::operation_complete::OperationResp::ReqOutputArgs(
                    notify::operation_complete::OutputArgs { output_args: map(output_args) },
                )),
            }),
        )
    }

    /// An OperationComplete notification for an asynchronous command that failed.
    pub fn operation_failed(
        subscription_id: impl Into<String>,
        send_resp: bool,
        obj_path: impl Into<String>,
        command_name: impl Into<String>,
        command_key: impl Into<String>,
        code: ErrCode,
        err_msg: impl Into<String>,
    ) -> Notify {
        Notify::with(
            subscription_id,
            send_resp,
            notify::Notification::OperComplete(notify::OperationComplete {
                obj_path: obj_path.into(),
                command_name: command_name.into(),
                command_key: command_key.into(),
                operation_resp: Some(notify::operation_complete::OperationResp::CmdFailure(
                    notify::operation_complete::CommandFailure { err_code: code.0, err_msg: err_msg.into() },
                )),
            }),
        )
    }

    /// An OnBoardRequest: no subscription, and always `send_resp = true` (R-NOT.6).
    pub fn on_board_request(
        oui: impl Into<String>,
        product_class: impl Into<String>,
        serial_number: impl Into<String>,
        agent_versions: impl Into<String>,
    ) -> Notify {
        Notify::with(
            "",
            true,
            notify::Notification::OnBoardReq(notify::OnBoardRequest {
                oui: oui.into(),
                product_class: product_class.into(),
                serial_number: serial_number.into(),
                agent_supported_protocol_versions: agent_versions.into(),
            }),
        )
    }

    /// The proto name of the notification kind (`value_change`, `event`, ...).
    pub fn kind_name(&self) -> &'static str {
        use notify::Notification as N;
        match &self.notification {
            None => "none",
            Some(N::Event(_)) => "event",
            Some(N::ValueChange(_)) => "value_change",
            Some(N::ObjCreation(_)) => "obj_creation",
            Some(N::ObjDeletion(_)) => "obj_deletion",
            Some(N::OperComplete(_)) => "oper_complete",
            Some(N::OnBoardReq(_)) => "on_board_req",
        }
    }
}

impl NotifyResp {
    /// The NotifyResp echoing a Notify's `subscription_id` (R-NOT.10).
    pub fn new(subscription_id: impl Into<String>) -> NotifyResp {
        NotifyResp { subscription_id: subscription_id.into() }
    }
}
