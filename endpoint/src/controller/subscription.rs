//! Building, finding and removing `Device.LocalAgent.Subscription.{i}.` rows.
//!
//! A Controller subscribes by adding a row to the Agent's Subscription
//! table (agent-datamodel.md §4). [`SubscriptionSpec`] holds what the row
//! should say and builds the messages; it takes no decision that needs I/O.
//! The flow the async client follows is:
//!
//! 1. [`SubscriptionSpec::lookup`]: a Get of
//!    `Device.LocalAgent.Subscription.[ID=="<id>"].`;
//! 2. [`SubscriptionSpec::decide`] on its GetResp: reuse an identical row,
//!    re-enable a disabled one, replace a single differing one
//!    (`ReferenceList` is immutable once set, so a change needs Delete +
//!    Add), or create one;
//! 3. [`SubscriptionSpec::add`] / [`enable`] / [`delete`] as decided, and
//!    [`instance_from_add`] to read the new row's path.
//!
//! Choices:
//! * The row is found by `ID` alone. `ID` is unique per Recipient, not per
//!   Agent, so a Controller allowed to read other Controllers' rows may see
//!   several; the spec gives a Controller no simple way to name its own
//!   `Controller.{i}` row in a search. Rows are therefore only *replaced*
//!   when exactly one row has the ID; with several, an identical one is
//!   reused and otherwise a new row is added (which fails with 7025 if our
//!   own differing row is among them — an error the caller sees). Use IDs
//!   that are unique per Agent (e.g. prefixed with the Controller's name).
//! * `Enable`, `ID`, `NotifType` and `ReferenceList` are `required` in the
//!   Add (a row missing any of them is useless); `NotifRetry`,
//!   `NotifExpiration`, `Persistent` and `TimeToLive` are not, as in the
//!   reference notes' example, so an Agent lacking one still creates the
//!   row and reports the parameter in `param_errs`. `NotifExpiration` and
//!   `TimeToLive` are only sent when non-zero (0 is their default).
//! * A lookup that fails (e.g. an Agent without search support answering
//!   7008) is treated as "no row": the Add then reports the truth.
//! * `TimeToLive` is compared like the other parameters; a reused row keeps
//!   its original `CreationDate`, so its remaining lifetime may be shorter.
//!
//! [`enable`]: SubscriptionSpec::enable
//! [`delete`]: SubscriptionSpec::delete

use usp_proto::{
    ErrCode,
    usp::{
        Add, AddResp, Delete, Get, GetResp, Set, add::CreateObject,
        add_resp::created_object_result::operation_status::OperStatus, get_resp::ResolvedPathResult,
        set::UpdateObject,
    },
};

use super::UspError;

/// The Subscription table.
pub const SUBSCRIPTION_TABLE: &str = "Device.LocalAgent.Subscription.";

/// Longest `ID` the data model allows (`string(64)`).
pub const MAX_ID_LEN: usize = 64;

/// Longest `ReferenceList` item the data model allows (`string(256)`).
pub const MAX_REFERENCE_LEN: usize = 256;

/// `Subscription.{i}.NotifType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NotifType {
    /// Parameter value changes.
    ValueChange,
    /// New table rows.
    ObjectCreation,
    /// Removed table rows.
    ObjectDeletion,
    /// Asynchronous commands finishing.
    OperationComplete,
    /// Data-model events (`Name!`).
    Event,
}

impl NotifType {
    /// The enumeration value as the data model writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifType::ValueChange => "ValueChange",
            NotifType::ObjectCreation => "ObjectCreation",
            NotifType::ObjectDeletion => "ObjectDeletion",
            NotifType::OperationComplete => "OperationComplete",
            NotifType::Event => "Event",
        }
    }
}

/// Why a [`SubscriptionSpec`] cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionError {
    /// The ID is empty or longer than 64 characters.
    #[error("subscription ID must have 1 to {MAX_ID_LEN} characters, not {0}")]
    IdLength(usize),
    /// The reference list is empty.
    #[error("subscription reference list is empty")]
    NoReferences,
    /// A reference is empty, too long, or holds a `,` (the list separator).
    #[error("subscription reference {0:?} is empty, longer than {MAX_REFERENCE_LEN} or contains ','")]
    BadReference(String),
}

/// What a Subscription row should say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSpec {
    id: String,
    notif_type: NotifType,
    reference_list: Vec<String>,
    notif_retry: bool,
    notif_expiration: u32,
    persistent: bool,
    time_to_live: u32,
}

/// What to do about the rows a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    /// No usable row: add one.
    Absent,
    /// An identical, enabled row: use it as it is.
    Same(String),
    /// An identical row that is disabled: set `Enable=true`.
    Disabled(String),
    /// The only row with this ID differs: delete it, then add.
    Different(String),
}

impl SubscriptionSpec {
    /// A subscription with ID `id` of kind `notif_type` on `references`,
    /// without retry, not persistent, with no time to live.
    pub fn new<S: Into<String>>(
        id: impl Into<String>,
        notif_type: NotifType,
        references: impl IntoIterator<Item = S>,
    ) -> Result<SubscriptionSpec, SubscriptionError> {
        let id = id.into();
        let len = id.chars().count();
        if !(1..=MAX_ID_LEN).contains(&len) {
            return Err(SubscriptionError::IdLength(len));
        }
        let reference_list: Vec<String> = references.into_iter().map(Into::into).collect();
        if reference_list.is_empty() {
            return Err(SubscriptionError::NoReferences);
        }
        if let Some(bad) = reference_list
            .iter()
            .find(|r| r.is_empty() || r.contains(',') || r.chars().count() > MAX_REFERENCE_LEN)
        {
            return Err(SubscriptionError::BadReference(bad.clone()));
        }
        Ok(SubscriptionSpec {
            id,
            notif_type,
            reference_list,
            notif_retry: false,
            notif_expiration: 0,
            persistent: false,
            time_to_live: 0,
        })
    }

    /// `NotifRetry`: the Agent asks for a NotifyResp and retries until it
    /// gets one.
    pub fn with_notif_retry(mut self, retry: bool) -> Self {
        self.notif_retry = retry;
        self
    }

    /// `NotifExpiration` in seconds (0 = retry until delivered).
    pub fn with_notif_expiration(mut self, seconds: u32) -> Self {
        self.notif_expiration = seconds;
        self
    }

    /// `Persistent`: the row survives an Agent restart.
    pub fn with_persistent(mut self, persistent: bool) -> Self {
        self.persistent = persistent;
        self
    }

    /// `TimeToLive` in seconds (0 = forever).
    pub fn with_time_to_live(mut self, seconds: u32) -> Self {
        self.time_to_live = seconds;
        self
    }

    /// The ID (copied into every Notify's `subscription_id`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The kind of notification.
    pub fn notif_type(&self) -> NotifType {
        self.notif_type
    }

    /// What is watched.
    pub fn reference_list(&self) -> &[String] {
        &self.reference_list
    }

    /// `Device.LocalAgent.Subscription.[ID=="<id>"].`, with `%` and `"` in
    /// the ID written `%25` and `%22` as string constants require.
    pub fn search_path(&self) -> String {
        let mut path = String::with_capacity(SUBSCRIPTION_TABLE.len() + self.id.len() + 10);
        path.push_str(SUBSCRIPTION_TABLE);
        path.push_str("[ID==\"");
        for c in self.id.chars() {
            match c {
                '%' => path.push_str("%25"),
                '"' => path.push_str("%22"),
                c => path.push(c),
            }
        }
        path.push_str("\"].");
        path
    }

    /// The Get that finds rows with this ID.
    pub fn lookup(&self) -> Get {
        Get::new([self.search_path()])
    }

    /// The Add that creates the row (`allow_partial = false`).
    pub fn add(&self) -> Add {
        let mut obj = CreateObject::new(SUBSCRIPTION_TABLE)
            .required("Enable", "true")
            .required("ID", self.id.as_str())
            .required("NotifType", self.notif_type.as_str())
            .required("ReferenceList", self.reference_list.join(","))
            .param("NotifRetry", bool_str(self.notif_retry))
            .param("Persistent", bool_str(self.persistent));
        if self.notif_expiration != 0 {
            obj = obj.param("NotifExpiration", self.notif_expiration.to_string());
        }
        if self.time_to_live != 0 {
            obj = obj.param("TimeToLive", self.time_to_live.to_string());
        }
        Add::new(false).object(obj)
    }

    /// The Set that re-enables a row.
    pub fn enable(instance_path: &str) -> Set {
        Set::new(false).object(UpdateObject::new(instance_path).required("Enable", "true"))
    }

    /// The Delete that removes a row (`allow_partial = false`).
    pub fn delete(instance_path: &str) -> Delete {
        Delete::new(false, [instance_path])
    }

    /// Decides from the answer to [`SubscriptionSpec::lookup`].
    pub fn decide(&self, resp: &GetResp) -> Existing {
        let Some(result) = resp.req_path_results.first() else { return Existing::Absent };
        if result.err_code != 0 {
            return Existing::Absent;
        }
        let rows = &result.resolved_path_results;
        let mut disabled = None;
        for row in rows {
            match self.compare(row) {
                Comparison::Same => return Existing::Same(row.resolved_path.clone()),
                Comparison::Disabled => disabled = disabled.or(Some(row.resolved_path.clone())),
                Comparison::Different => {}
            }
        }
        match (disabled, rows.as_slice()) {
            (Some(path), _) => Existing::Disabled(path),
            (None, [only]) => Existing::Different(only.resolved_path.clone()),
            (None, _) => Existing::Absent,
        }
    }

    fn compare(&self, row: &ResolvedPathResult) -> Comparison {
        let p = &row.result_params;
        let text = |name: &str| p.get(name).map(String::as_str).unwrap_or("");
        let flag = |name: &str| p.get(name).is_some_and(|v| v == "true" || v == "1");
        let number = |name: &str| p.get(name).map_or(Some(0), |v| v.trim().parse::<u32>().ok());
        let refs: Vec<&str> = text("ReferenceList").split(',').map(str::trim).collect();
        let same = text("ID") == self.id
            && text("NotifType") == self.notif_type.as_str()
            && refs == self.reference_list.iter().map(|r| r.trim()).collect::<Vec<_>>()
            && flag("NotifRetry") == self.notif_retry
            && flag("Persistent") == self.persistent
            && number("NotifExpiration") == Some(self.notif_expiration)
            && number("TimeToLive") == Some(self.time_to_live);
        match (same, flag("Enable")) {
            (true, true) => Comparison::Same,
            (true, false) => Comparison::Disabled,
            (false, _) => Comparison::Different,
        }
    }
}

enum Comparison {
    Same,
    Disabled,
    Different,
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// The path of the row an AddResp for [`SubscriptionSpec::add`] created.
pub fn instance_from_add(resp: &AddResp) -> Result<String, UspError> {
    let first = resp
        .created_obj_results
        .first()
        .ok_or(UspError::MalformedResponse("AddResp has no created_obj_results"))?;
    match first.oper_status.as_ref().and_then(|s| s.oper_status.as_ref()) {
        Some(OperStatus::OperSuccess(s)) if !s.instantiated_path.is_empty() => {
            Ok(s.instantiated_path.clone())
        }
        Some(OperStatus::OperSuccess(_)) => {
            Err(UspError::MalformedResponse("AddResp has no instantiated_path"))
        }
        Some(OperStatus::OperFailure(f)) => Err(UspError::agent(f.err_code, f.err_msg.clone())),
        None => Err(UspError::agent(ErrCode::MESSAGE_FAILED, "agent sent a result without oper_status")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use usp_proto::usp::{
        add_resp::CreatedObjectResult,
        get_resp::{RequestedPathResult, ResolvedPathResult},
    };

    fn spec() -> SubscriptionSpec {
        SubscriptionSpec::new("r101-occupancy", NotifType::ValueChange, ["Device.A.Value", "Device.B.Value"])
            .unwrap()
            .with_notif_retry(true)
            .with_notif_expiration(600)
            .with_persistent(true)
    }

    fn row(path: &str, overrides: &[(&str, &str)]) -> ResolvedPathResult {
        let mut params: BTreeMap<String, String> = [
            ("Enable", "true"),
            ("ID", "r101-occupancy"),
            ("NotifType", "ValueChange"),
            ("ReferenceList", "Device.A.Value,Device.B.Value"),
            ("NotifRetry", "1"),
            ("NotifExpiration", "600"),
            ("Persistent", "true"),
            ("TimeToLive", "0"),
            ("Recipient", "Device.LocalAgent.Controller.1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in overrides {
            params.insert((*k).to_owned(), (*v).to_owned());
        }
        ResolvedPathResult { resolved_path: path.into(), result_params: params }
    }

    fn found(rows: Vec<ResolvedPathResult>) -> GetResp {
        GetResp::new(vec![RequestedPathResult::ok(spec().search_path(), rows)])
    }

    #[test]
    fn the_add_carries_every_parameter_with_the_required_flags() {
        let add = spec().add();
        assert!(!add.allow_partial);
        let obj = &add.create_objs[0];
        assert_eq!(obj.obj_path, SUBSCRIPTION_TABLE);
        let settings: Vec<(&str, &str, bool)> =
            obj.param_settings.iter().map(|s| (s.param.as_str(), s.value.as_str(), s.required)).collect();
        assert_eq!(
            settings,
            [
                ("Enable", "true", true),
                ("ID", "r101-occupancy", true),
                ("NotifType", "ValueChange", true),
                ("ReferenceList", "Device.A.Value,Device.B.Value", true),
                ("NotifRetry", "true", false),
                ("Persistent", "true", false),
                ("NotifExpiration", "600", false),
            ]
        );
        let ttl = spec().with_time_to_live(30).add();
        assert!(ttl.create_objs[0].param_settings.iter().any(|s| s.param == "TimeToLive" && s.value == "30"));
    }

    #[test]
    fn search_path_escapes_the_id() {
        assert_eq!(spec().search_path(), "Device.LocalAgent.Subscription.[ID==\"r101-occupancy\"].");
        let odd = SubscriptionSpec::new("a\"b%c", NotifType::Event, ["Device.Boot!"]).unwrap();
        assert_eq!(odd.search_path(), "Device.LocalAgent.Subscription.[ID==\"a%22b%25c\"].");
        assert_eq!(odd.lookup().param_paths, [odd.search_path()]);
    }

    #[test]
    fn invalid_specs_are_refused() {
        let t = NotifType::Event;
        assert_eq!(SubscriptionSpec::new("", t, ["Device.Boot!"]), Err(SubscriptionError::IdLength(0)));
        assert_eq!(
            SubscriptionSpec::new("x".repeat(65), t, ["Device.Boot!"]),
            Err(SubscriptionError::IdLength(65))
        );
        assert_eq!(SubscriptionSpec::new("x", t, Vec::<String>::new()), Err(SubscriptionError::NoReferences));
        assert!(matches!(SubscriptionSpec::new("x", t, ["a,b"]), Err(SubscriptionError::BadReference(_))));
        assert!(matches!(SubscriptionSpec::new("x", t, [""]), Err(SubscriptionError::BadReference(_))));
    }

    #[test]
    fn decisions() {
        let s = spec();
        assert_eq!(s.decide(&found(vec![])), Existing::Absent);
        assert_eq!(s.decide(&GetResp::default()), Existing::Absent);
        let path = "Device.LocalAgent.Subscription.4.";
        assert_eq!(s.decide(&found(vec![row(path, &[])])), Existing::Same(path.into()));
        assert_eq!(
            s.decide(&found(vec![row(path, &[("ReferenceList", " Device.A.Value , Device.B.Value")])])),
            Existing::Same(path.into()),
            "list items are compared trimmed"
        );
        assert_eq!(
            s.decide(&found(vec![row(path, &[("Enable", "false")])])),
            Existing::Disabled(path.into())
        );
        assert_eq!(
            s.decide(&found(vec![row(path, &[("ReferenceList", "Device.A.Value")])])),
            Existing::Different(path.into())
        );
        assert_eq!(
            s.decide(&found(vec![row(path, &[("NotifRetry", "false")])])),
            Existing::Different(path.into())
        );
        let other = "Device.LocalAgent.Subscription.9.";
        let two_different =
            found(vec![row(path, &[("NotifType", "Event")]), row(other, &[("Persistent", "0")])]);
        assert_eq!(s.decide(&two_different), Existing::Absent, "never delete a row that may not be ours");
        let one_same = found(vec![row(path, &[("NotifType", "Event")]), row(other, &[])]);
        assert_eq!(s.decide(&one_same), Existing::Same(other.into()));
        let failed =
            GetResp::new(vec![RequestedPathResult::failure("x", ErrCode::INVALID_PATH_SYNTAX, "no search")]);
        assert_eq!(s.decide(&failed), Existing::Absent);
    }

    #[test]
    fn enable_delete_and_add_result() {
        let set = SubscriptionSpec::enable("Device.LocalAgent.Subscription.4.");
        assert_eq!(set.update_objs[0].param_settings[0].param, "Enable");
        assert!(set.update_objs[0].param_settings[0].required);
        let del = SubscriptionSpec::delete("Device.LocalAgent.Subscription.4.");
        assert_eq!(
            (del.allow_partial, del.obj_paths.as_slice()),
            (false, &["Device.LocalAgent.Subscription.4.".to_owned()][..])
        );

        let ok = AddResp::new(vec![CreatedObjectResult::success(
            SUBSCRIPTION_TABLE,
            "Device.LocalAgent.Subscription.5.",
            BTreeMap::new(),
            vec![],
        )]);
        assert_eq!(instance_from_add(&ok).unwrap(), "Device.LocalAgent.Subscription.5.");
        let bad = AddResp::new(vec![CreatedObjectResult::failure(
            SUBSCRIPTION_TABLE,
            ErrCode::PERMISSION_DENIED,
            "no",
        )]);
        assert_eq!(instance_from_add(&bad).unwrap_err().code(), Some(ErrCode::PERMISSION_DENIED));
        assert!(matches!(instance_from_add(&AddResp::default()), Err(UspError::MalformedResponse(_))));
    }
}
