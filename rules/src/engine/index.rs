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
            Leaf::Param(name) => node.lit.entry(name.clone()).or_default().here.push(entry),
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
    /// For a trigger with a search expression: the ID of the subscription
    /// made for exactly its reference on this Agent.
    pub(crate) sub_id: Option<Arc<str>>,
}

/// The triggers that concern one Agent, indexed.
#[derive(Debug, Default)]
pub(crate) struct AgentView {
    pub(crate) entries: Vec<ViewEntry>,
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

/// A subscription ID derived from its reference: stable across restarts
/// and versions (FNV-1a, not the standard library's randomised hash).
pub(crate) fn subscription_id(prefix: &str, kind: NotifType, reference: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in kind.as_str().bytes().chain([0]).chain(reference.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{prefix}-{}-{h:016x}", kind.abbrev())
}

impl AgentView {
    /// Builds the view of `agent`: a pass over every trigger of the set.
    pub(crate) fn build(set: &RuleSet, agent: &str, sub_prefix: &str) -> AgentView {
        let mut view = AgentView::default();
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
            let idx = u32::try_from(view.entries.len()).unwrap_or(u32::MAX);
            let mut sub_id = None;
            let known =
                |n: &str| caps.iter().find(|(k, _)| **k == *n).map(|(_, v)| std::borrow::Cow::Borrowed(&**v));
            match &trig.kind {
                TriggerKind::ValueChange(p) => {
                    view.vc.insert_param(p, idx);
                    if p.has_search() {
                        sub_id = Some(Arc::from(subscription_id(
                            sub_prefix,
                            NotifType::ValueChange,
                            &p.reference(&known),
                        )));
                    }
                }
                TriggerKind::Event { path, .. } => {
                    if let Some(name) = path.leaf_name() {
                        view.events.entry(name.into()).or_default().push(idx);
                    }
                    if path.has_search() {
                        sub_id = Some(Arc::from(subscription_id(
                            sub_prefix,
                            NotifType::Event,
                            &path.reference(&known),
                        )));
                    }
                }
                TriggerKind::Created(p) => {
                    view.created.insert_instance(p, idx);
                    if p.has_search() {
                        let r = creation_reference(p, &known);
                        sub_id = Some(Arc::from(subscription_id(sub_prefix, NotifType::ObjectCreation, &r)));
                    }
                }
                TriggerKind::Deleted(p) => {
                    view.deleted.insert_instance(p, idx);
                    if p.has_search() {
                        let r = deletion_reference(p, &known);
                        sub_id = Some(Arc::from(subscription_id(sub_prefix, NotifType::ObjectDeletion, &r)));
                    }
                }
                TriggerKind::Online => view.online.push(idx),
                TriggerKind::Offline => view.offline.push(idx),
                TriggerKind::Schedule(_) | TriggerKind::Signal { .. } => {}
            }
            view.rules.insert(trig.rule);
            view.entries.push(ViewEntry { trigger: tid, caps, sub_id });
        }
        view
    }
}

/// The ReferenceList entry for an ObjectCreation trigger: always the table.
pub(crate) fn creation_reference<'v>(
    p: &PathPattern,
    known: &dyn Fn(&str) -> Option<std::borrow::Cow<'v, str>>,
) -> String {
    let r = p.reference(known);
    if p.is_table() {
        return r;
    }
    // `Device.Node.*.` → `Device.Node.`: drop the last instance selector.
    let without_dot = r.strip_suffix('.').unwrap_or(&r);
    match last_segment_start(without_dot) {
        Some(i) => without_dot[..i].to_owned(),
        None => r,
    }
}

/// The ReferenceList entry for an ObjectDeletion trigger: instances.
pub(crate) fn deletion_reference<'v>(
    p: &PathPattern,
    known: &dyn Fn(&str) -> Option<std::borrow::Cow<'v, str>>,
) -> String {
    let r = p.reference(known);
    if p.is_table() { format!("{r}*.") } else { r }
}

/// Byte offset where the last `.`-separated segment starts, skipping dots
/// inside `[…]` and quotes.
fn last_segment_start(path: &str) -> Option<usize> {
    let (mut depth, mut quoted, mut last) = (0i32, false, None);
    for (i, c) in path.char_indices() {
        match c {
            '"' if depth > 0 => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth -= 1,
            '.' if depth == 0 && !quoted => last = Some(i + 1),
            _ => {}
        }
    }
    last
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
}
