//! GetSupportedDM answers derived from the schema.
//!
//! The GSDM handler resolves the requested path to a [`SchemaNode`] (see
//! `resolve::supported`) and then asks for one of:
//!
//! * [`Schema::gsdm_objects`] — an object path: the object and, unless
//!   `first_level_only`, its whole subtree (with `first_level_only`, the
//!   object plus its direct children listed bare);
//! * [`Schema::gsdm_element`] — a parameter, command or event path: only
//!   that element, inside its object's result, flags ignored (USP 1.4).

use usp_proto::usp::get_supported_dm_resp::{
    CmdType, ObjAccessType, ParamAccessType, ParamValueType, SupportedCommandResult, SupportedEventResult,
    SupportedObjectResult, SupportedParamResult, SupportedUniqueKeySet, ValueChangeType,
};

use super::{
    CommandId, CommandKind, EventId, ObjAccess, ObjId, ParamAccess, ParamId, Schema, SchemaNode,
    ValueChangePolicy,
};
use crate::datamodel::value::ValueType;

/// The flags of a GetSupportedDM request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GsdmOptions {
    /// Only the object and its direct children (the children bare).
    pub first_level_only: bool,
    /// Include `supported_commands`.
    pub commands: bool,
    /// Include `supported_events`.
    pub events: bool,
    /// Include `supported_params`.
    pub params: bool,
    /// Include `unique_key_sets`.
    pub unique_key_sets: bool,
}

impl GsdmOptions {
    /// Everything: commands, events, params and unique keys, whole subtree.
    pub fn all() -> GsdmOptions {
        GsdmOptions {
            first_level_only: false,
            commands: true,
            events: true,
            params: true,
            unique_key_sets: true,
        }
    }
}

/// GSDM's `ParamValueType` of a primitive type.
pub fn value_type(ty: ValueType) -> ParamValueType {
    match ty {
        ValueType::String => ParamValueType::ParamString,
        ValueType::Boolean => ParamValueType::ParamBoolean,
        ValueType::Int => ParamValueType::ParamInt,
        ValueType::UnsignedInt => ParamValueType::ParamUnsignedInt,
        ValueType::Long => ParamValueType::ParamLong,
        ValueType::UnsignedLong => ParamValueType::ParamUnsignedLong,
        ValueType::Decimal => ParamValueType::ParamDecimal,
        ValueType::DateTime => ParamValueType::ParamDateTime,
        ValueType::Base64 => ParamValueType::ParamBase64,
        ValueType::HexBinary => ParamValueType::ParamHexBinary,
    }
}

impl Schema {
    /// The `SupportedObjectResult`s for an object path: `obj` (with the
    /// members the options ask for) and its descendants (all of them, or
    /// with `first_level_only` the direct children without members).
    /// Nodes for which `visible` is false are left out with their subtree
    /// (R-GSP.0); members likewise.
    pub fn gsdm_objects(
        &self,
        obj: ObjId,
        opts: &GsdmOptions,
        visible: &dyn Fn(SchemaNode) -> bool,
    ) -> Vec<SupportedObjectResult> {
        let mut out = Vec::new();
        if !visible(SchemaNode::Object(obj)) {
            return out;
        }
        out.push(self.gsdm_object(obj, opts, visible));
        if opts.first_level_only {
            let bare = GsdmOptions { unique_key_sets: false, ..GsdmOptions::default() };
            for &c in self.object(obj).children() {
                if visible(SchemaNode::Object(c)) {
                    out.push(self.gsdm_object(c, &bare, visible));
                }
            }
        } else {
            self.gsdm_descendants(obj, opts, visible, &mut out);
        }
        out
    }

    fn gsdm_descendants(
        &self,
        obj: ObjId,
        opts: &GsdmOptions,
        visible: &dyn Fn(SchemaNode) -> bool,
        out: &mut Vec<SupportedObjectResult>,
    ) {
        for &c in self.object(obj).children() {
            if visible(SchemaNode::Object(c)) {
                out.push(self.gsdm_object(c, opts, visible));
                self.gsdm_descendants(c, opts, visible, out);
            }
        }
    }

    /// One object's `SupportedObjectResult`, with the members `opts` asks
    /// for.
    pub fn gsdm_object(
        &self,
        obj: ObjId,
        opts: &GsdmOptions,
        visible: &dyn Fn(SchemaNode) -> bool,
    ) -> SupportedObjectResult {
        let def = self.object(obj);
        let access = match def.table().map(|t| t.access) {
            None | Some(ObjAccess::ReadOnly) => ObjAccessType::ObjReadOnly,
            Some(ObjAccess::AddDelete) => ObjAccessType::ObjAddDelete,
            Some(ObjAccess::AddOnly) => ObjAccessType::ObjAddOnly,
            Some(ObjAccess::DeleteOnly) => ObjAccessType::ObjDeleteOnly,
        };
        let mut r = SupportedObjectResult {
            supported_obj_path: def.supported_path().to_owned(),
            access: access as i32,
            is_multi_instance: def.is_table(),
            ..Default::default()
        };
        if opts.params {
            r.supported_params = def
                .params()
                .iter()
                .filter(|p| visible(SchemaNode::Param(**p)))
                .map(|p| self.gsdm_param(*p))
                .collect();
        }
        if opts.commands {
            r.supported_commands = def
                .commands()
                .iter()
                .filter(|c| visible(SchemaNode::Command(**c)))
                .map(|c| self.gsdm_command(*c))
                .collect();
        }
        if opts.events {
            r.supported_events = def
                .events()
                .iter()
                .filter(|e| visible(SchemaNode::Event(**e)))
                .map(|e| self.gsdm_event(*e))
                .collect();
        }
        if opts.unique_key_sets {
            if let Some(t) = def.table() {
                r.unique_key_sets = t
                    .unique_keys
                    .iter()
                    .map(|k| SupportedUniqueKeySet {
                        key_names: k.params.iter().map(|p| self.param(*p).name.to_string()).collect(),
                    })
                    .collect();
            }
        }
        r
    }

    /// The result for a parameter, command or event path: the owning
    /// object's entry holding only that element. `None` for an object node.
    pub fn gsdm_element(&self, node: SchemaNode) -> Option<SupportedObjectResult> {
        let none = |_: SchemaNode| true;
        let owner = match node {
            SchemaNode::Object(_) => return None,
            SchemaNode::Param(p) => self.param(p).owner,
            SchemaNode::Command(c) => self.command(c).owner,
            SchemaNode::Event(e) => self.event(e).owner,
        };
        let mut r = self.gsdm_object(owner, &GsdmOptions::default(), &none);
        match node {
            SchemaNode::Param(p) => r.supported_params.push(self.gsdm_param(p)),
            SchemaNode::Command(c) => r.supported_commands.push(self.gsdm_command(c)),
            SchemaNode::Event(e) => r.supported_events.push(self.gsdm_event(e)),
            SchemaNode::Object(_) => {}
        }
        Some(r)
    }

    /// A parameter's `SupportedParamResult`. `writeOnceReadOnly` is
    /// reported as read-write (TR-369 GSDM rules).
    pub fn gsdm_param(&self, id: ParamId) -> SupportedParamResult {
        let p = self.param(id);
        let access = match p.access {
            ParamAccess::ReadOnly => ParamAccessType::ParamReadOnly,
            ParamAccess::ReadWrite | ParamAccess::WriteOnceReadOnly => ParamAccessType::ParamReadWrite,
            ParamAccess::WriteOnly => ParamAccessType::ParamWriteOnly,
        };
        let value_change = match p.value_change {
            ValueChangePolicy::Allowed => ValueChangeType::ValueChangeAllowed,
            ValueChangePolicy::WillIgnore => ValueChangeType::ValueChangeWillIgnore,
        };
        SupportedParamResult {
            param_name: p.name.to_string(),
            access: access as i32,
            value_type: value_type(p.ty.base()) as i32,
            value_change: value_change as i32,
        }
    }

    /// A command's `SupportedCommandResult` (name with `()`).
    pub fn gsdm_command(&self, id: CommandId) -> SupportedCommandResult {
        let c = self.command(id);
        SupportedCommandResult {
            command_name: format!("{}()", c.name),
            input_arg_names: c.input.iter().map(|a| a.name.to_string()).collect(),
            output_arg_names: c.output.iter().map(|a| a.name.to_string()).collect(),
            command_type: match c.kind {
                CommandKind::Sync => CmdType::CmdSync,
                CommandKind::Async => CmdType::CmdAsync,
            } as i32,
        }
    }

    /// An event's `SupportedEventResult` (name with `!`).
    pub fn gsdm_event(&self, id: EventId) -> SupportedEventResult {
        let e = self.event(id);
        SupportedEventResult {
            event_name: format!("{}!", e.name),
            arg_names: e.args.iter().map(|a| a.name.to_string()).collect(),
        }
    }
}
