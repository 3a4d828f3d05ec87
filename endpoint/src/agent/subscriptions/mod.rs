//! Subscriptions: the `Device.LocalAgent.Subscription.{i}` rows as the
//! Agent acts on them (agent-datamodel.md §4).
//!
//! The rows live in the store like any other; Controllers create them with
//! Add (the Agent fills `Recipient`, `CreationDate` and, when omitted,
//! `ID` — see `add.rs`), change them with Set and remove them with Delete.
//! This module keeps a parsed copy of each row ([`Sub`]) and the
//! [`Index`](index::Index) the notification path asks, both kept in step
//! with the store through the change log: a created row is loaded, a
//! changed row reloaded at the end of the round, a deleted one dropped.
//!
//! Only an active row is indexed: `Enable=true`, a `Recipient`, a known
//! `NotifType`. `TimeToLive` > 0 gives the row an expiry
//! (`CreationDate` + TimeToLive) at which the Agent deletes it.
//!
//! ObjectDeletion needs one more thing: a row selected by a search
//! expression (`Device.Node.[Type=="Light"].`) no longer matches once it
//! is gone, so each ObjectDeletion subscription with such a reference
//! keeps the set of rows it currently matches, refreshed after every round
//! that created rows or changed values.

pub(crate) mod index;
pub(crate) mod reference;

use std::collections::{BTreeSet, HashMap};

use index::{Index, IndexKey};
use reference::Reference;

use super::clock;
use super::ids::Ids;
use crate::controller::NotifType;
use crate::datamodel::{DataModel, DateTime, Matches, ObjRef, Target, Value};

/// A Subscription row, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Sub {
    /// The row's instance number.
    pub(crate) number: u32,
    /// `ID` (copied into `Notify.subscription_id`).
    pub(crate) id: String,
    /// The `Controller.{i}` row number of `Recipient`.
    pub(crate) recipient: Option<u32>,
    /// `NotifType`.
    pub(crate) kind: Option<NotifType>,
    /// The valid `ReferenceList` entries.
    pub(crate) refs: Vec<Reference>,
    /// `Enable`.
    pub(crate) enabled: bool,
    /// `Persistent`.
    pub(crate) persistent: bool,
    /// `NotifRetry`.
    pub(crate) retry: bool,
    /// `NotifExpiration` (seconds; 0 = until delivered).
    pub(crate) expiration: u32,
    /// When `TimeToLive` ends it.
    pub(crate) expires_at: Option<DateTime>,
    /// ObjectDeletion with search references: the rows matched now.
    pub(crate) matched: Vec<ObjRef>,
}

impl Sub {
    /// Acts on changes: enabled, addressed, of a known type.
    pub(crate) fn active(&self) -> bool {
        self.enabled && self.recipient.is_some() && self.kind.is_some()
    }

    fn keys(&self) -> impl Iterator<Item = (NotifType, Option<IndexKey>)> + '_ {
        self.kind.into_iter().flat_map(move |k| self.refs.iter().map(move |r| (k, r.key)))
    }

    fn watches_deletions_by_search(&self) -> bool {
        self.kind == Some(NotifType::ObjectDeletion) && self.refs.iter().any(|r| r.search)
    }
}

/// The parsed rows and their index.
#[derive(Debug, Default)]
pub(crate) struct Subscriptions {
    subs: HashMap<u32, Sub>,
    index: Index,
    expiries: BTreeSet<(DateTime, u32)>,
    dirty: Vec<u32>,
    /// Active ObjectDeletion subscriptions with search references.
    deletion_searches: Vec<u32>,
    stale_matches: bool,
}

/// The `Controller.{i}` row number a `Recipient` value names.
pub(crate) fn recipient_row(dm: &DataModel, ids: &Ids, value: &str) -> Option<u32> {
    match dm.lookup(value) {
        Ok(Target::Object(o)) if o.obj == ids.controller.table => o.inst.last(),
        _ => None,
    }
}

fn read_row(dm: &DataModel, ids: &Ids, number: u32) -> Option<Sub> {
    let s = &ids.subscription;
    let row = Ids::row(s.table, number)?;
    let store = dm.store();
    if !store.has_object(&row) {
        return None;
    }
    let get = |p| store.get(&row.param(p));
    let text = |p| get(p).and_then(Value::as_str).unwrap_or_default();
    let kind = reference::notif_type(text(s.notif_type));
    let refs = match (kind, get(s.reference_list)) {
        (Some(kind), Some(Value::List(items))) => items
            .iter()
            .filter_map(|i| reference::parse(dm.schema(), kind, i.as_str().unwrap_or_default()).ok())
            .collect(),
        _ => Vec::new(),
    };
    let number_of = |p| match get(p) {
        Some(Value::UnsignedInt(n)) => *n,
        _ => 0,
    };
    let ttl = number_of(s.time_to_live);
    let creation = get(s.creation_date).and_then(Value::as_datetime).unwrap_or(DateTime::UNKNOWN);
    Some(Sub {
        number,
        id: text(s.id).to_owned(),
        recipient: recipient_row(dm, ids, text(s.recipient)),
        kind,
        refs,
        enabled: get(s.enable).and_then(Value::as_bool).unwrap_or(false),
        persistent: get(s.persistent).and_then(Value::as_bool).unwrap_or(false),
        retry: get(s.notif_retry).and_then(Value::as_bool).unwrap_or(false),
        expiration: number_of(s.notif_expiration),
        expires_at: (ttl > 0).then(|| clock::after_secs(creation, ttl)),
        matched: Vec::new(),
    })
}

/// The rows the search references of an ObjectDeletion subscription match.
fn matched_rows(dm: &DataModel, refs: &[Reference]) -> Vec<ObjRef> {
    let mut rows = Vec::new();
    for r in refs.iter().filter(|r| r.search) {
        if let Ok(res) = dm.resolve(&r.path) {
            if let Matches::Objects(objs) = res.matches {
                rows.extend(objs.into_iter().filter(|o| dm.schema().object(o.obj).is_table()));
            }
        }
    }
    rows.sort_unstable_by(cmp_rows);
    rows.dedup();
    rows
}

/// An order on rows, for the sorted matched sets.
pub(crate) fn cmp_rows(a: &ObjRef, b: &ObjRef) -> std::cmp::Ordering {
    (a.obj, a.inst.as_slice()).cmp(&(b.obj, b.inst.as_slice()))
}

impl Subscriptions {
    /// Loads every row of the table.
    pub(crate) fn load_all(dm: &DataModel, ids: &Ids) -> Subscriptions {
        let mut subs = Subscriptions::default();
        let numbers: Vec<u32> =
            dm.store().rows(&ids.subscription_table()).filter_map(|r| r.inst.last()).collect();
        for n in numbers {
            subs.reload(dm, ids, n);
        }
        subs
    }

    /// The parsed row `number`.
    pub(crate) fn get(&self, number: u32) -> Option<&Sub> {
        self.subs.get(&number)
    }

    /// Every parsed row.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Sub> {
        self.subs.values()
    }

    /// Re-reads row `number` from the store (dropping it if gone).
    pub(crate) fn reload(&mut self, dm: &DataModel, ids: &Ids, number: u32) {
        self.unload(number);
        let Some(mut sub) = read_row(dm, ids, number) else { return };
        if let Some(at) = sub.expires_at {
            self.expiries.insert((at, number));
        }
        if sub.active() {
            for (kind, key) in sub.keys() {
                self.index.insert(kind, key, number);
            }
            if sub.watches_deletions_by_search() {
                sub.matched = matched_rows(dm, &sub.refs);
                self.deletion_searches.push(number);
            }
        }
        self.subs.insert(number, sub);
    }

    /// Drops row `number`; returns what it was.
    pub(crate) fn unload(&mut self, number: u32) -> Option<Sub> {
        let sub = self.subs.remove(&number)?;
        for (kind, key) in sub.keys() {
            self.index.remove(kind, key, number);
        }
        if let Some(at) = sub.expires_at {
            self.expiries.remove(&(at, number));
        }
        self.deletion_searches.retain(|n| *n != number);
        Some(sub)
    }

    /// Row `number` changed: reload it at the end of the round.
    pub(crate) fn mark_dirty(&mut self, number: u32) {
        if !self.dirty.contains(&number) {
            self.dirty.push(number);
        }
    }

    /// Values changed or rows appeared: the matched sets of ObjectDeletion
    /// subscriptions may be out of date.
    pub(crate) fn data_changed(&mut self) {
        if !self.deletion_searches.is_empty() {
            self.stale_matches = true;
        }
    }

    /// End of a round: reload changed rows, refresh matched sets. Returns
    /// the reloaded rows that no longer act on changes (disabled, without
    /// a Recipient): their pending retries are to be dropped.
    pub(crate) fn catch_up(&mut self, dm: &DataModel, ids: &Ids) -> Vec<u32> {
        let mut stopped = Vec::new();
        for n in std::mem::take(&mut self.dirty) {
            self.reload(dm, ids, n);
            if !self.subs.get(&n).is_some_and(Sub::active) {
                stopped.push(n);
            }
        }
        if std::mem::take(&mut self.stale_matches) {
            for n in &self.deletion_searches {
                if let Some(sub) = self.subs.get_mut(n) {
                    sub.matched = matched_rows(dm, &sub.refs);
                }
            }
        }
        stopped
    }

    /// The active subscriptions of type `kind` filed under any of `keys`.
    pub(crate) fn candidates(
        &self,
        kind: NotifType,
        keys: impl Iterator<Item = IndexKey>,
        out: &mut Vec<u32>,
    ) {
        self.index.candidates(kind, keys, out);
    }

    /// True when no subscription is active.
    pub(crate) fn none_active(&self) -> bool {
        self.index.is_empty()
    }

    /// The earliest TimeToLive expiry.
    pub(crate) fn next_expiry(&self) -> Option<DateTime> {
        self.expiries.first().map(|(t, _)| *t)
    }

    /// The rows whose TimeToLive has ended at `now`.
    pub(crate) fn expired(&self, now: DateTime) -> Vec<u32> {
        self.expiries.iter().take_while(|(t, _)| *t <= now).map(|(_, n)| *n).collect()
    }

    /// The rows whose Recipient is Controller row `controller`.
    pub(crate) fn of_recipient(&self, controller: u32) -> Vec<u32> {
        self.subs.values().filter(|s| s.recipient == Some(controller)).map(|s| s.number).collect()
    }
}
