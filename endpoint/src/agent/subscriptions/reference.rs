//! ReferenceList entries: parsed once, checked against the notification
//! type, keyed for the index (agent-datamodel.md §4.1).

use super::index::IndexKey;
use crate::controller::NotifType;
use crate::datamodel::{Schema, SchemaNode, Value};
use crate::path::{Path, Segment, Selector};

/// One parsed ReferenceList entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reference {
    /// The path as written.
    pub(crate) path: Path,
    /// The schema element it names; `None` when it follows a reference
    /// (known only once resolved).
    pub(crate) key: Option<IndexKey>,
    /// It selects rows with a search expression: an ObjectDeletion
    /// subscription must remember which rows it matched, since a row that
    /// is gone matches no expression.
    pub(crate) search: bool,
}

/// The notification type named by a `NotifType` value.
pub(crate) fn notif_type(s: &str) -> Option<NotifType> {
    [
        NotifType::ValueChange,
        NotifType::ObjectCreation,
        NotifType::ObjectDeletion,
        NotifType::OperationComplete,
        NotifType::Event,
    ]
    .into_iter()
    .find(|t| t.as_str() == s)
}

/// Parses and checks one entry for `kind`:
///
/// * ValueChange: a parameter path, or an object path (every parameter
///   below it);
/// * ObjectCreation, ObjectDeletion: the path of a table (`Table.`), or of
///   its instances (`Table.*.`, `Table.[Key=="k"].`);
/// * OperationComplete: a command path, or an object path (every command
///   below it);
/// * Event: an event path, or an object path (every event below it).
///
/// Wildcards, search expressions and reference hops are allowed anywhere.
pub(crate) fn parse(schema: &Schema, kind: NotifType, text: &str) -> Result<Reference, String> {
    let path = Path::parse(text).map_err(|e| format!("{text}: {e}"))?;
    let search = path.segments.iter().any(|s| matches!(s, Segment::Instance(Selector::Search(_))));
    let Some(form) = path.supported_form() else {
        return Ok(Reference { path, key: None, search });
    };
    let node = schema.lookup(&form).ok_or_else(|| format!("{text}: not in the supported data model"))?;
    let fits = match (kind, node) {
        (NotifType::ValueChange, SchemaNode::Object(_) | SchemaNode::Param(_)) => true,
        (NotifType::ObjectCreation | NotifType::ObjectDeletion, SchemaNode::Object(o)) => {
            schema.object(o).is_table()
        }
        (NotifType::OperationComplete, SchemaNode::Object(_) | SchemaNode::Command(_)) => true,
        (NotifType::Event, SchemaNode::Object(_) | SchemaNode::Event(_)) => true,
        _ => false,
    };
    if !fits {
        return Err(format!("{text}: not a valid reference for {} subscriptions", kind.as_str()));
    }
    Ok(Reference { path, key: Some(node.into()), search })
}

/// Parses every item of a ReferenceList value.
pub(crate) fn parse_list(schema: &Schema, kind: NotifType, list: &Value) -> Result<Vec<Reference>, String> {
    match list {
        Value::List(items) => {
            items.iter().map(|item| parse(schema, kind, item.as_str().unwrap_or_default())).collect()
        }
        _ => Err("ReferenceList is not a list".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datamodel::models;

    #[test]
    fn entries_by_type() {
        let s = models::agent_schema().unwrap();
        let ok = |kind, text: &str| parse(&s, kind, text).unwrap_or_else(|e| panic!("{e}"));
        let vc = ok(NotifType::ValueChange, r#"Device.IoTCapability.[Name=="x"].LevelSensor.Value"#);
        assert!(vc.search && matches!(vc.key, Some(IndexKey::Param(_))));
        assert!(matches!(ok(NotifType::ValueChange, "Device.").key, Some(IndexKey::Obj(_))));
        assert!(ok(NotifType::ObjectCreation, "Device.IoTCapability.").key.is_some());
        assert!(!ok(NotifType::ObjectDeletion, "Device.IoTCapability.*.").search);
        ok(NotifType::OperationComplete, "Device.IoTCapability.*.BinaryControl.Toggle()");
        ok(NotifType::Event, "Device.Boot!");
        assert_eq!(
            ok(NotifType::ValueChange, "Device.LocalAgent.Subscription.1.Recipient+.Enable").key,
            None
        );
        for (kind, bad) in [
            (NotifType::ObjectCreation, "Device.DeviceInfo."),
            (NotifType::ValueChange, "Device.Reboot()"),
            (NotifType::Event, "Device.Reboot()"),
            (NotifType::OperationComplete, "Device.Boot!"),
            (NotifType::ValueChange, "Device.Nope"),
            (NotifType::ValueChange, "Device..X"),
        ] {
            assert!(parse(&s, kind, bad).is_err(), "{bad}");
        }
        assert_eq!(notif_type("Event"), Some(NotifType::Event));
        assert_eq!(notif_type("OnBoardRequest"), None);
    }
}
