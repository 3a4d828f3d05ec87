//! The compiled index: which triggers a notification from one Agent can
//! match, found by walking its path, not by trying every rule.
//!
//! Per Agent, an [`AgentView`] holds only the triggers whose Agent selector
//! chooses that Agent (with the captures the selector bound), arranged in
//! tries keyed by path segment (ValueChange, ObjectCreation,
//! ObjectDeletion) and a map keyed by event name. A notification costs one
//! hash lookup for its Agent, one walk of its path's segments, and then work
//! for the triggers found only. Views are built on first use and dropped on
//! reload.
//!
//! A notification on one of the engine's own subscriptions does not even
//! walk a trie: each trigger on the Agent is bound to the subscription made
//! for its reference ([`Binding`]), and the subscription ID finds the
//! triggers bound to it ([`AgentView::route`]). That is also what makes a
//! change count once per rule: the engine's subscriptions on an Agent may
//! select the same parameter (two rules on one path share a subscription,
//! but `….[Name=="r101-presence"].Value` and `….2.Value`, a wildcard and an
//! instance, or a condition's read and a trigger do not), the Agent sends a
//! Notify on each, and only the copy on a trigger's own subscription reaches
//! it. The others update the cache and nothing else. Sharing one
//! subscription per (type, reference) keeps the Agent's table small;
//! routing by subscription removes the copies that sharing cannot (a rule's
//! subscriptions cannot be merged into one covering reference without
//! making the Agent report more than the rules need).

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;

use crate::{
    engine::io::NotifType,
    model::{RuleId, RuleSet, TriggerId, TriggerKind},
    pattern::{
        Captures,
        path::{Leaf, PathPattern, Seg},
    },
};

/// Triggers found for a path (indexes into [`AgentView::entries`]).
pub(crate) type Hits = SmallVec<[u32; 8]>;

/// A trie of path patterns.
#[derive(Debug, Default)]
pub(crate) struct PathTrie {
    root: Node,
}

#[derive(Debug, Default)]
struct Node {
    /// Children by literal segment (names and instance numbers).
    lit: FxHashMap<Box<str>, Node>,
    /// The child for any instance (`*`, `{capture}`, `[search]`).
    inst: Option<Box<Node>>,
    /// Patterns ending exactly here.
    here: SmallVec<[u32; 2]>,
    /// Object-path filters: patterns matching anything strictly below.
    below: SmallVec<[u32; 1]>,
    /// Table patterns: matching one more instance-number segment.
    rows: SmallVec<[u32; 1]>,
}

fn is_instance(piece: &str) -> bool {
    !piece.is_empty() && piece.bytes().all(|c| c.is_ascii_digit())
}

impl PathTrie {
    fn walk_to(&mut self, segs: &[Seg]) -> &mut Node {
        let mut node = &mut self.root;
        for s in segs {
            node = match s {
                Seg::Name(n) => node.lit.entry(n.clone()).or_default(),
                Seg::Number(n) => node.lit.entry(n.to_string().into_boxed_str()).or_default(),
                Seg::Wildcard | Seg::Capture(_) | Seg::Search(_) => {
                    node.inst.get_or_insert_with(Box::default)
                }
            };
        }
        node
    }

    /// Adds a ValueChange pattern: a parameter, or an object filter.
    pub(crate) fn insert_param(&mut self, p: &PathPattern, entry: u32) {
        let node = self.walk_to(&p.segs);
        match &p.leaf {
            Leaf::Param(name) => node.lit.entry(name.as_str().into()).or_default().here.push(entry),
            _ => node.below.push(entry),
        }
    }

    /// Adds an ObjectCreation/ObjectDeletion pattern: a table (any new
    /// row) or instances.
    pub(crate) fn insert_instance(&mut self, p: &PathPattern, entry: u32) {
        let table = p.is_table();
        let node = self.walk_to(&p.segs);
        if table {
            node.rows.push(entry);
        } else {
            node.here.push(entry);
        }
    }

    /// Collects the patterns `path` may match. Candidates still need the
    /// full match (captures, search expressions).
    pub(crate) fn lookup(&self, path: &str, out: &mut Hits) {
        let trimmed = path.strip_suffix('.').unwrap_or(path);
        let pieces: SmallVec<[&str; 16]> = trimmed.split('.').collect();
        let mut stack: SmallVec<[(&Node, usize); 16]> = SmallVec::new();
        stack.push((&self.root, 0));
        while let Some((node, depth)) = stack.pop() {
            let rest = pieces.len() - depth;
            if rest == 0 {
                out.extend_from_slice(&node.here);
                continue;
            }
            out.extend_from_slice(&node.below);
            if rest == 1 && is_instance(pieces[depth]) {
                out.extend_from_slice(&node.rows);
            }
            let piece = pieces[depth];
            if let Some(child) = node.lit.get(piece) {
                stack.push((child, depth + 1));
            }
            if let Some(child) = &node.inst {
                if is_instance(piece) {
                    stack.push((child, depth + 1));
                }
            }
        }
    }
}

/// A trigger as seen from one Agent.
#[derive(Debug)]
pub(crate) struct ViewEntry {
    pub(crate) trigger: TriggerId,
    /// What the Agent selector captured from this Agent's id.
    pub(crate) caps: Captures,
    /// The subscription made for the trigger on this Agent (triggers on a
    /// notification only).
    pub(crate) binding: Option<Binding>,
}

/// The subscription a trigger is bound to on one Agent.
#[derive(Debug)]
pub(crate) struct Binding {
    /// The notification type.
    pub(crate) kind: NotifType,
    /// The ReferenceList entry, with the Agent's captures filled in (the
    /// subscription's ID derives from the two: [`subscription_id`]).
    pub(crate) reference: String,
    /// Whether the Agent evaluates all of the trigger's search expressions
    /// for this subscription, so a notification on it needs no check of
    /// them from the cache.
    pub(crate) agent_checks_searches: bool,
}

/// Where a notification's subscription ID leads, on one Agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route<'v> {
    /// One of the engine's subscriptions that triggers are bound to: these
    /// entries, and no other.
    Bound(&'v [u32]),
    /// One of the engine's subscriptions that no trigger is bound to: one
    /// for a condition's reads, or one a reload left behind that the sync
    /// has not removed yet. Its values feed the cache; nothing fires.
    Unbound,
    /// A subscription the engine did not make (its ID lacks the engine's
    /// prefix): an operator's, or a tool's. The engine cannot know what it
    /// was made for, so its notifications are matched by path against
    /// every trigger, searches checked from the cache.
    Foreign,
}

/// The triggers that concern one Agent, indexed.
#[derive(Debug, Default)]
pub(crate) struct AgentView {
    pub(crate) entries: Vec<ViewEntry>,
    /// What depends only on which triggers apply, shared by every Agent
    /// they apply to in the same order.
    pub(crate) shape: Arc<ViewShape>,
    /// Subscription ID → the entries bound to it.
    bound: FxHashMap<Arc<str>, SmallVec<[u32; 2]>>,
}

/// The part of an [`AgentView`] that depends only on the list of triggers
/// that apply to the Agent: the indexes by path and event name. A building
/// has thousands of Agents and a few distinct lists (every room matches the
/// same rules), so the indexes are built once per list and shared — built
/// per Agent they were about 12 KiB each.
#[derive(Debug, Default)]
pub(crate) struct ViewShape {
    pub(crate) vc: PathTrie,
    pub(crate) created: PathTrie,
    pub(crate) deleted: PathTrie,
    /// Event name (without `!`) → entries.
    pub(crate) events: FxHashMap<Box<str>, SmallVec<[u32; 2]>>,
    pub(crate) online: Vec<u32>,
    pub(crate) offline: Vec<u32>,
    /// Rules with a trigger on this Agent.
    pub(crate) rules: FxHashSet<RuleId>,
}

/// The shapes built so far for one rule set, by trigger list (cleared with
/// the rule set).
pub(crate) type Shapes = FxHashMap<Box<[TriggerId]>, Arc<ViewShape>>;

/// Most distinct shapes kept; beyond it the cache starts over (views keep
/// the shapes they hold).
const MAX_SHAPES: usize = 4096;

impl ViewShape {
    fn build(set: &RuleSet, triggers: &[TriggerId]) -> ViewShape {
        let mut shape = ViewShape::default();
        for (idx, &tid) in triggers.iter().enumerate() {
            let Some(trig) = set.triggers.get(tid) else { continue };
            let idx = u32::try_from(idx).unwrap_or(u32::MAX);
            match &trig.kind {
                TriggerKind::ValueChange(p) => shape.vc.insert_param(p, idx),
                TriggerKind::Event { path, .. } => {
                    if let Some(name) = path.leaf_name() {
                        shape.events.entry(name.into()).or_default().push(idx);
                    }
                }
                TriggerKind::Created(p) => shape.created.insert_instance(p, idx),
                TriggerKind::Deleted(p) => shape.deleted.insert_instance(p, idx),
                TriggerKind::Online => shape.online.push(idx),
                TriggerKind::Offline => shape.offline.push(idx),
                TriggerKind::Schedule(_) | TriggerKind::Signal { .. } => {}
            }
            shape.rules.insert(trig.rule);
        }
        shape
    }
}

/// A subscription ID derived from its reference: stable across restarts
/// and versions (FNV-1a, not the standard library's randomised hash).
/// The short form of a kind in subscription IDs.
fn abbrev(kind: NotifType) -> &'static str {
    match kind {
        NotifType::ValueChange => "vc",
        NotifType::ObjectCreation => "oc",
        NotifType::ObjectDeletion => "od",
        NotifType::OperationComplete => "op",
        NotifType::Event => "ev",
    }
}

pub(crate) fn subscription_id(prefix: &str, kind: NotifType, reference: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in kind.as_str().bytes().chain([0]).chain(reference.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{prefix}-{}-{h:016x}", abbrev(kind))
}

impl AgentView {
    /// Builds the view of `agent`: a pass over every trigger of the set.
    pub(crate) fn build(set: &RuleSet, agent: &str, sub_prefix: &str, shapes: &mut Shapes) -> AgentView {
        let mut triggers = Vec::new();
        let mut entries = Vec::new();
        let mut bound: FxHashMap<Arc<str>, SmallVec<[u32; 2]>> = FxHashMap::default();
        for (tid, trig) in set.triggers.iter().enumerate() {
            if !trig.kind.is_agent_scoped() {
                continue;
            }
            let Some(rule) = set.rules.get(trig.rule) else { continue };
            if !rule.enabled {
                continue;
            }
            let mut caps = Captures::new();
            if !trig.agents.matches(set, agent, &mut caps) {
                continue;
            }
            let idx = u32::try_from(entries.len()).unwrap_or(u32::MAX);
            let known =
                |n: &str| caps.iter().find(|(k, _)| **k == *n).map(|(_, v)| std::borrow::Cow::Borrowed(&**v));
            // (type, reference, the pattern and how many of its segments the
            // reference keeps)
            let sub = match &trig.kind {
                TriggerKind::ValueChange(p) => {
                    Some((NotifType::ValueChange, p.reference(&known), p, p.segs.len()))
                }
                TriggerKind::Event { path, .. } => {
                    Some((NotifType::Event, path.reference(&known), path, path.segs.len()))
                }
                TriggerKind::Created(p) => {
                    // Always the table: the last segment is not in it.
                    let kept = if p.is_table() { p.segs.len() } else { p.segs.len().saturating_sub(1) };
                    Some((NotifType::ObjectCreation, creation_reference(p, &known), p, kept))
                }
                TriggerKind::Deleted(p) => {
                    Some((NotifType::ObjectDeletion, deletion_reference(p, &known), p, p.segs.len()))
                }
                TriggerKind::Online
                | TriggerKind::Offline
                | TriggerKind::Schedule(_)
                | TriggerKind::Signal { .. } => None,
            };
            let binding = sub.map(|(kind, reference, p, kept)| {
                let id: Arc<str> = Arc::from(subscription_id(sub_prefix, kind, &reference));
                bound.entry(id).or_default().push(idx);
                Binding { kind, agent_checks_searches: p.agent_checks_searches(kept, &known), reference }
            });
            triggers.push(tid);
            entries.push(ViewEntry { trigger: tid, caps, binding });
        }
        if shapes.len() >= MAX_SHAPES && !shapes.contains_key(triggers.as_slice()) {
            shapes.clear();
        }
        let shape = shapes
            .entry(triggers.into_boxed_slice())
            .or_insert_with_key(|triggers| Arc::new(ViewShape::build(set, triggers)))
            .clone();
        AgentView { entries, shape, bound }
    }

    /// Where a notification on subscription `sub_id` leads (`prefix`: the
    /// engine's subscription prefix).
    pub(crate) fn route(&self, sub_id: &str, prefix: &str) -> Route<'_> {
        if let Some(list) = self.bound.get(sub_id) {
            return Route::Bound(list);
        }
        let ours = sub_id.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('-'));
        if ours { Route::Unbound } else { Route::Foreign }
    }
}

/// The ReferenceList entry for an ObjectCreation trigger: always the table
/// (`Device.Node.*.` → `Device.Node.`).
pub(crate) fn creation_reference<'v>(
    p: &PathPattern,
    known: &dyn Fn(&str) -> Option<std::borrow::Cow<'v, str>>,
) -> String {
    if p.is_table() { p.reference(known) } else { p.reference_prefix(p.segs.len().saturating_sub(1), known) }
}

/// The ReferenceList entry for an ObjectDeletion trigger: instances.
pub(crate) fn deletion_reference<'v>(
    p: &PathPattern,
    known: &dyn Fn(&str) -> Option<std::borrow::Cow<'v, str>>,
) -> String {
    let r = p.reference(known);
    if p.is_table() { format!("{r}*.") } else { r }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(t: &PathTrie, path: &str) -> Vec<u32> {
        let mut out = Hits::new();
        t.lookup(path, &mut out);
        let mut v = out.to_vec();
        v.sort_unstable();
        v
    }

    #[test]
    fn trie_finds_only_candidates() {
        let mut t = PathTrie::default();
        let p = |s: &str| PathPattern::parse(s).unwrap();
        t.insert_param(&p("Device.Node.1.IoTCapability.2.BinarySensor.Value"), 0);
        t.insert_param(&p("Device.Node.*.IoTCapability.*.BinarySensor.Value"), 1);
        t.insert_param(&p("Device.Node.{n}.IoTCapability.[Name==\"x\"].LevelSensor.Value"), 2);
        t.insert_param(&p("Device.Node.1."), 3);
        t.insert_param(&p("Device.Node.2.IoTCapability.2.BinarySensor.Value"), 4);
        assert_eq!(hits(&t, "Device.Node.1.IoTCapability.2.BinarySensor.Value"), vec![0, 1, 3]);
        assert_eq!(hits(&t, "Device.Node.7.IoTCapability.9.LevelSensor.Value"), vec![2]);
        assert_eq!(hits(&t, "Device.Node.x.IoTCapability.9.LevelSensor.Value"), Vec::<u32>::new());
        assert_eq!(hits(&t, "Device.Node.1."), Vec::<u32>::new(), "a filter matches below, not at");
        let mut o = PathTrie::default();
        o.insert_instance(&p("Device.ProxiedDevice."), 0);
        o.insert_instance(&p("Device.ProxiedDevice.*."), 1);
        o.insert_instance(&p("Device.ProxiedDevice.2."), 2);
        assert_eq!(hits(&o, "Device.ProxiedDevice.3."), vec![0, 1]);
        assert_eq!(hits(&o, "Device.ProxiedDevice.2."), vec![0, 1, 2]);
        assert_eq!(hits(&o, "Device.ProxiedDevice.2.Node.1."), Vec::<u32>::new());
    }

    #[test]
    fn references_for_object_subscriptions() {
        let none = |_: &str| -> Option<std::borrow::Cow<'static, str>> { None };
        let p = |s: &str| PathPattern::parse(s).unwrap();
        assert_eq!(creation_reference(&p("Device.Node.*."), &none), "Device.Node.");
        assert_eq!(creation_reference(&p("Device.Node.[Alias==\"a.b\"]."), &none), "Device.Node.");
        assert_eq!(creation_reference(&p("Device.Node."), &none), "Device.Node.");
        assert_eq!(deletion_reference(&p("Device.Node."), &none), "Device.Node.*.");
        assert_eq!(deletion_reference(&p("Device.Node.3."), &none), "Device.Node.3.");
        let a = subscription_id("rules", NotifType::ValueChange, "Device.X");
        assert_eq!(a, subscription_id("rules", NotifType::ValueChange, "Device.X"));
        assert_ne!(a, subscription_id("rules", NotifType::Event, "Device.X"));
        assert!(a.starts_with("rules-vc-") && a.len() == "rules-vc-".len() + 16);
    }

    #[test]
    fn agents_matching_the_same_triggers_share_one_shape_and_keep_their_own_references() {
        let text = r#"
            [rule.per-room]
            when = { value_change = 'Device.Node.1.IoTCapability.[Name=="r{room}-x"].BinarySensor.Value', agents = "proto::room-{room}" }
            [[rule.per-room.then]]
            set = 'Device.Node.2.IoTCapability.1.BinaryControl.Value'
            value = true

            [rule.second-floor]
            when = { event = "Device.Boot!", agents = "proto::room-2*" }
            [[rule.second-floor.then]]
            set = 'Device.Node.2.IoTCapability.1.BinaryControl.Value'
            value = false
        "#;
        let set = crate::load(&[crate::Source::new("shapes.toml", text)]).unwrap();
        let mut shapes = Shapes::default();
        let view = |agent: &str, shapes: &mut Shapes| AgentView::build(&set, agent, "rules", shapes);
        let (a, b, c) = (
            view("proto::room-101", &mut shapes),
            view("proto::room-102", &mut shapes),
            view("proto::room-201", &mut shapes),
        );
        assert!(Arc::ptr_eq(&a.shape, &b.shape), "the same triggers: one shape");
        assert!(!Arc::ptr_eq(&a.shape, &c.shape), "another trigger list: another shape");
        assert_eq!(shapes.len(), 2);

        // Each keeps its own captures, and so its own subscription.
        let reference = |v: &AgentView| v.entries[0].binding.as_ref().map(|b| b.reference.clone());
        assert_eq!(
            reference(&a).as_deref(),
            Some(r#"Device.Node.1.IoTCapability.[Name=="r101-x"].BinarySensor.Value"#)
        );
        assert_eq!(
            reference(&b).as_deref(),
            Some(r#"Device.Node.1.IoTCapability.[Name=="r102-x"].BinarySensor.Value"#)
        );
        let sub_a = subscription_id("rules", NotifType::ValueChange, &reference(&a).unwrap());
        assert_eq!(a.route(&sub_a, "rules"), Route::Bound(&[0]));
        assert_eq!(b.route(&sub_a, "rules"), Route::Unbound, "room 102 has no subscription of room 101");

        // The shared index answers for both, and the second list has the event.
        assert_eq!(hits(&a.shape.vc, "Device.Node.1.IoTCapability.3.BinarySensor.Value"), vec![0]);
        assert!(a.shape.events.is_empty());
        assert_eq!(c.shape.events.get("Boot").map(|l| l.to_vec()), Some(vec![1]));
    }
}
