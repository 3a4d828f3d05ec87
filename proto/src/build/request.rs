//! Request constructors.

use super::{map, strings};
use crate::usp::{
    Add, Delete, Deregister, Get, GetInstances, GetSupportedDm, GetSupportedProtocol, Operate, Register, Set,
    add, register, set,
};

impl Get {
    /// A Get of `paths` with no depth limit.
    pub fn new<S: Into<String>>(paths: impl IntoIterator<Item = S>) -> Get {
        Get { param_paths: strings(paths), max_depth: 0 }
    }

    /// Limits the depth of the returned subtrees (0 = unlimited).
    pub fn with_max_depth(mut self, max_depth: u32) -> Get {
        self.max_depth = max_depth;
        self
    }
}

impl GetInstances {
    /// A GetInstances of `paths`.
    pub fn new<S: Into<String>>(paths: impl IntoIterator<Item = S>, first_level_only: bool) -> GetInstances {
        GetInstances { obj_paths: strings(paths), first_level_only }
    }
}

impl GetSupportedDm {
    /// A GetSupportedDM of `paths`, asking for everything (commands, events,
    /// parameters, unique key sets) of the whole subtree.
    pub fn new<S: Into<String>>(paths: impl IntoIterator<Item = S>) -> GetSupportedDm {
        GetSupportedDm {
            obj_paths: strings(paths),
            first_level_only: false,
            return_commands: true,
            return_events: true,
            return_params: true,
            return_unique_key_sets: true,
        }
    }

    /// Only the addressed objects and their direct children.
    pub fn with_first_level_only(mut self, first_level_only: bool) -> GetSupportedDm {
        self.first_level_only = first_level_only;
        self
    }
}

impl GetSupportedProtocol {
    /// A GetSupportedProtocol announcing the versions the Controller speaks
    /// (comma-separated, e.g. `"1.3,1.4"`).
    pub fn new(controller_versions: impl Into<String>) -> GetSupportedProtocol {
        GetSupportedProtocol { controller_supported_protocol_versions: controller_versions.into() }
    }
}

impl Set {
    /// An empty Set; add objects with [`Set::object`].
    pub fn new(allow_partial: bool) -> Set {
        Set { allow_partial, update_objs: Vec::new() }
    }

    /// Adds an object to update.
    pub fn object(mut self, object: set::UpdateObject) -> Set {
        self.update_objs.push(object);
        self
    }
}

impl set::UpdateObject {
    /// An object (or search path) to update, with no parameters yet.
    pub fn new(obj_path: impl Into<String>) -> set::UpdateObject {
        set::UpdateObject { obj_path: obj_path.into(), param_settings: Vec::new() }
    }

    /// Sets a parameter; its failure does not fail the object.
    pub fn param(self, param: impl Into<String>, value: impl Into<String>) -> set::UpdateObject {
        self.setting(param, value, false)
    }

    /// Sets a parameter whose failure fails the object.
    pub fn required(self, param: impl Into<String>, value: impl Into<String>) -> set::UpdateObject {
        self.setting(param, value, true)
    }

    fn setting(mut self, param: impl Into<String>, value: impl Into<String>, required: bool) -> Self {
        self.param_settings.push(set::UpdateParamSetting {
            param: param.into(),
            value: value.into(),
            required,
        });
        self
    }
}

impl Add {
    /// An empty Add; add objects with [`Add::object`].
    pub fn new(allow_partial: bool) -> Add {
        Add { allow_partial, create_objs: Vec::new() }
    }

    /// Adds an object to create.
    pub fn object(mut self, object: add::CreateObject) -> Add {
        self.create_objs.push(object);
        self
    }
}

impl add::CreateObject {
    /// An instance to create in the table `obj_path`, with no parameters yet.
    pub fn new(obj_path: impl Into<String>) -> add::CreateObject {
        add::CreateObject { obj_path: obj_path.into(), param_settings: Vec::new() }
    }

    /// Sets a parameter of the new instance; its failure does not fail the creation.
    pub fn param(self, param: impl Into<String>, value: impl Into<String>) -> add::CreateObject {
        self.setting(param, value, false)
    }

    /// Sets a parameter whose failure fails the creation.
    pub fn required(self, param: impl Into<String>, value: impl Into<String>) -> add::CreateObject {
        self.setting(param, value, true)
    }

    fn setting(mut self, param: impl Into<String>, value: impl Into<String>, required: bool) -> Self {
        self.param_settings.push(add::CreateParamSetting {
            param: param.into(),
            value: value.into(),
            required,
        });
        self
    }
}

impl Delete {
    /// A Delete of instance (or search) paths.
    pub fn new<S: Into<String>>(allow_partial: bool, paths: impl IntoIterator<Item = S>) -> Delete {
        Delete { allow_partial, obj_paths: strings(paths) }
    }
}

impl Operate {
    /// An Operate of `command` (a path ending in `Name()`) that asks for a
    /// response; add arguments with [`Operate::arg`].
    pub fn new(command: impl Into<String>, command_key: impl Into<String>) -> Operate {
        Operate {
            command: command.into(),
            command_key: command_key.into(),
            send_resp: true,
            ..Default::default()
        }
    }

    /// Whether an OperateResp is wanted.
    pub fn with_send_resp(mut self, send_resp: bool) -> Operate {
        self.send_resp = send_resp;
        self
    }

    /// Adds an input argument.
    pub fn arg(mut self, name: impl Into<String>, value: impl Into<String>) -> Operate {
        self.input_args.insert(name.into(), value.into());
        self
    }

    /// Adds input arguments.
    pub fn args<K: Into<String>, V: Into<String>>(
        mut self,
        args: impl IntoIterator<Item = (K, V)>,
    ) -> Operate {
        self.input_args.extend(map(args));
        self
    }
}

impl Register {
    /// A Register of supported-data-model paths (no instance numbers, no `{i}`).
    pub fn new<S: Into<String>>(allow_partial: bool, paths: impl IntoIterator<Item = S>) -> Register {
        Register {
            allow_partial,
            reg_paths: paths.into_iter().map(|p| register::RegistrationPath { path: p.into() }).collect(),
        }
    }
}

impl Deregister {
    /// A Deregister of paths; a single `""` withdraws everything (R-DEREG.2).
    pub fn new<S: Into<String>>(paths: impl IntoIterator<Item = S>) -> Deregister {
        Deregister { paths: strings(paths) }
    }
}
