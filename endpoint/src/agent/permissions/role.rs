//! A Role compiled from its Permission rows.

use super::{Category, Grant, Rights};
use crate::agent::ids::Ids;
use crate::datamodel::{
    CommandId, DataModel, EventId, Everything, ObjId, ObjRef, ParamId, Schema, SchemaNode, TableRef, Target,
    Value,
};
use crate::path::{Leaf, Path, Segment, Selector};

/// What part of the Supported DM a target names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// An object and everything below it.
    Subtree(ObjId),
    /// One parameter.
    Param(ParamId),
    /// One command.
    Command(CommandId),
    /// One event.
    Event(EventId),
    /// Unknown until resolved (the target follows a reference): decided
    /// per element by `DataModel::covers`.
    Anywhere,
}

impl Scope {
    fn covers(&self, schema: &Schema, node: SchemaNode) -> bool {
        match (self, node) {
            (Scope::Anywhere, _) => true,
            (Scope::Subtree(o), SchemaNode::Object(x)) => schema.object(x).ancestry().contains(o),
            (Scope::Subtree(o), SchemaNode::Param(p)) => {
                schema.object(schema.param(p).owner).ancestry().contains(o)
            }
            (Scope::Subtree(o), SchemaNode::Command(c)) => {
                schema.object(schema.command(c).owner).ancestry().contains(o)
            }
            (Scope::Subtree(o), SchemaNode::Event(e)) => {
                schema.object(schema.event(e).owner).ancestry().contains(o)
            }
            (Scope::Param(a), SchemaNode::Param(b)) => *a == b,
            (Scope::Command(a), SchemaNode::Command(b)) => *a == b,
            (Scope::Event(a), SchemaNode::Event(b)) => *a == b,
            _ => false,
        }
    }
}

/// One entry of a Permission row's `Targets`.
#[derive(Debug, Clone)]
struct RuleTarget {
    scope: Scope,
    /// The path, when it names particular instances (numbers, search
    /// expressions, reference hops): it then covers an element only if
    /// `DataModel::covers` says so. `None` for instance-independent
    /// targets (names and `*` only).
    concrete: Option<Path>,
}

impl RuleTarget {
    fn covers(&self, dm: &DataModel, node: SchemaNode, target: &Target) -> bool {
        self.scope.covers(dm.schema(), node)
            && self.concrete.as_ref().is_none_or(|p| dm.covers(p, target, &Everything).unwrap_or(false))
    }
}

/// A Permission row.
#[derive(Debug, Clone)]
struct Rule {
    order: u32,
    targets: Vec<RuleTarget>,
    grant: Grant,
}

/// A Role's enabled Permission rows, highest `Order` first.
#[derive(Debug, Clone, Default)]
pub(crate) struct CompiledRole {
    rules: Vec<Rule>,
    /// The schema's root, for the "covers everything" test.
    root: Option<ObjId>,
}

/// Parses one `Targets` item into a scope (see the module docs for the
/// accepted forms). `None` for text that names nothing in the schema: such
/// an item grants nothing.
fn compile_target(schema: &Schema, text: &str) -> Option<RuleTarget> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let text = text.replace("{i}", "*");
    let mut path = Path::parse(&text).or_else(|_| Path::parse(&format!("{text}."))).ok()?;
    let mut segments = path.segments.iter();
    match segments.next() {
        Some(Segment::Name(n)) if n == schema.object(schema.root()).name() => {}
        _ => return None,
    }
    let mut at = schema.root();
    let (mut concrete, mut anywhere) = (false, false);
    for seg in segments {
        match seg {
            Segment::Name(n) if !anywhere => at = schema.child(at, n)?,
            Segment::Name(_) => {}
            Segment::Instance(Selector::Wildcard | Selector::AnyInstance) => {}
            Segment::Instance(Selector::Number(_) | Selector::Search(_)) => concrete = true,
            Segment::Reference { .. } => {
                anywhere = true;
                concrete = true;
            }
        }
    }
    let scope = match (&path.leaf, anywhere) {
        (_, true) => Scope::Anywhere,
        (Leaf::Object, false) => Scope::Subtree(at),
        (Leaf::Param(n), false) => match (schema.param_named(at, n), schema.child(at, n)) {
            (Some(p), _) => Scope::Param(p),
            // `Device.LocalAgent` written without its dot.
            (None, Some(child)) => {
                let name = n.clone();
                path.segments.push(Segment::Name(name));
                path.leaf = Leaf::Object;
                Scope::Subtree(child)
            }
            (None, None) => return None,
        },
        (Leaf::Command(n), false) => Scope::Command(schema.command_named(at, n)?),
        (Leaf::Event(n), false) => Scope::Event(schema.event_named(at, n)?),
    };
    Some(RuleTarget { scope, concrete: concrete.then_some(path) })
}

fn rights_of(dm: &DataModel, row: &ObjRef, param: ParamId) -> Rights {
    dm.store().get(&row.param(param)).and_then(Value::as_str).and_then(Rights::parse).unwrap_or(Rights::NONE)
}

impl CompiledRole {
    /// Reads Role row `role` and its Permission rows. A disabled Role, or
    /// a disabled row, grants nothing; an invalid permission string counts
    /// as `----`.
    pub(crate) fn compile(dm: &DataModel, ids: &Ids, role: &ObjRef) -> CompiledRole {
        let store = dm.store();
        let t = &ids.trust;
        let schema = dm.schema();
        let mut compiled = CompiledRole { rules: Vec::new(), root: Some(schema.root()) };
        if store.get(&role.param(t.role_enable)).and_then(Value::as_bool) != Some(true) {
            return compiled;
        }
        let table = TableRef { table: t.permission_table, parent: role.inst };
        for row in store.rows(&table) {
            if store.get(&row.param(t.perm_enable)).and_then(Value::as_bool) != Some(true) {
                continue;
            }
            let order = match store.get(&row.param(t.perm_order)) {
                Some(Value::UnsignedInt(n)) => *n,
                _ => 0,
            };
            let targets = match store.get(&row.param(t.perm_targets)) {
                Some(Value::List(items)) => {
                    items.iter().filter_map(Value::as_str).filter_map(|s| compile_target(schema, s)).collect()
                }
                _ => Vec::new(),
            };
            let grant = Grant {
                param: rights_of(dm, &row, t.perm_param),
                obj: rights_of(dm, &row, t.perm_obj),
                instantiated_obj: rights_of(dm, &row, t.perm_instantiated_obj),
                command_event: rights_of(dm, &row, t.perm_command_event),
            };
            compiled.rules.push(Rule { order, targets, grant });
        }
        compiled.rules.sort_by_key(|r| std::cmp::Reverse(r.order));
        compiled
    }

    /// A Role from `(order, targets, grant)` triples (tests, and Roles
    /// made in code).
    #[cfg(test)]
    pub(crate) fn from_rules(schema: &Schema, rules: &[(u32, &[&str], Grant)]) -> CompiledRole {
        let mut rules: Vec<Rule> = rules
            .iter()
            .map(|(order, targets, grant)| Rule {
                order: *order,
                targets: targets.iter().filter_map(|t| compile_target(schema, t)).collect(),
                grant: *grant,
            })
            .collect();
        rules.sort_by_key(|r| std::cmp::Reverse(r.order));
        CompiledRole { rules, root: Some(schema.root()) }
    }

    /// The grant of the winning row for a concrete place: the
    /// highest-ordered row with a target covering it.
    pub(crate) fn winner(&self, dm: &DataModel, node: SchemaNode, target: &Target) -> Option<Grant> {
        self.rules.iter().find(|r| r.targets.iter().any(|t| t.covers(dm, node, target))).map(|r| r.grant)
    }

    /// The rights in `category` this Role may give on some instance of
    /// `node`: the first instance-independent winner's, plus those of every
    /// higher-ordered instance-specific row covering `node`.
    pub(crate) fn possible(&self, schema: &Schema, node: SchemaNode, category: Category) -> Rights {
        let mut acc = Rights::NONE;
        for rule in &self.rules {
            let mut specific = false;
            for t in rule.targets.iter().filter(|t| t.scope.covers(schema, node)) {
                if t.concrete.is_none() {
                    return acc.union(rule.grant.get(category));
                }
                specific = true;
            }
            if specific {
                acc = acc.union(rule.grant.get(category));
            }
        }
        acc
    }

    /// The grant every element gets, when the highest-ordered row covers
    /// all of `Device.` without instance conditions (or there is no row).
    pub(crate) fn uniform(&self) -> Option<Grant> {
        let Some(first) = self.rules.first() else { return Some(Grant::default()) };
        let root = self.root?;
        first
            .targets
            .iter()
            .any(|t| t.concrete.is_none() && t.scope == Scope::Subtree(root))
            .then_some(first.grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datamodel::models;

    fn schema() -> Schema {
        models::agent_schema().unwrap()
    }

    fn node(s: &Schema, path: &str) -> SchemaNode {
        s.lookup(path).unwrap()
    }

    #[test]
    fn targets_with_and_without_dots_and_instances() {
        let s = schema();
        let t = compile_target(&s, "Device.LocalAgent").unwrap();
        assert_eq!(t.scope, Scope::Subtree(s.child(s.root(), "LocalAgent").unwrap()));
        assert!(t.concrete.is_none());
        assert_eq!(compile_target(&s, "Device.LocalAgent.").unwrap().scope, t.scope);
        assert_eq!(compile_target(&s, "Device").unwrap().scope, Scope::Subtree(s.root()));
        let p = compile_target(&s, "Device.LocalAgent.ControllerTrust.Role.*.Permission.*.Order").unwrap();
        assert!(matches!(p.scope, Scope::Param(_)) && p.concrete.is_none());
        let i = compile_target(&s, "Device.IoTCapability.3.").unwrap();
        assert_eq!(i.concrete.as_ref().map(ToString::to_string).as_deref(), Some("Device.IoTCapability.3."));
        let braces = compile_target(&s, "Device.IoTCapability.{i}.Name").unwrap();
        assert!(braces.concrete.is_none());
        let nodot = compile_target(&s, "Device.IoTCapability.3.LevelSensor").unwrap();
        assert_eq!(nodot.concrete.unwrap().to_string(), "Device.IoTCapability.3.LevelSensor.");
        assert!(matches!(compile_target(&s, "Device.Reboot()").unwrap().scope, Scope::Command(_)));
        assert!(matches!(compile_target(&s, "Device.Boot!").unwrap().scope, Scope::Event(_)));
        for bad in ["", "Nope.", "Device.Nope", "Device.IoTCapability.[Name==].", "Device.Reboot!"] {
            assert!(compile_target(&s, bad).is_none(), "{bad}");
        }
    }

    /// The worked example of agent-datamodel.md §7.3: Role A has
    /// `Device.LocalAgent` Order 3 `Param=r---` and
    /// `Device.LocalAgent.Controller` Order 55 `Param=r-xn`; Role B has
    /// `Device.LocalAgent` Order 20 `r---` and `Device.LocalAgent.Controller`
    /// Order 78 `----`. For the Controller table the winners are A:55 and
    /// B:78, union `r-xn`; elsewhere in LocalAgent `r---`.
    #[test]
    fn worked_example_of_section_7_3() {
        let s = schema();
        let param = |r: &str| Grant { param: Rights::parse(r).unwrap(), ..Grant::default() };
        let a = CompiledRole::from_rules(
            &s,
            &[
                (3, &["Device.LocalAgent"], param("r---")),
                (55, &["Device.LocalAgent.Controller"], param("r-xn")),
            ],
        );
        let b = CompiledRole::from_rules(
            &s,
            &[
                (20, &["Device.LocalAgent"], param("r---")),
                (78, &["Device.LocalAgent.Controller"], param("----")),
            ],
        );
        let access = super::super::Access::new(vec![a.into(), b.into()], false);
        let endpoint = node(&s, "Device.LocalAgent.Controller.{i}.EndpointID");
        assert_eq!(access.possible(Category::Param, endpoint, &s).to_string(), "r-xn");
        let uptime = node(&s, "Device.LocalAgent.UpTime");
        assert_eq!(access.possible(Category::Param, uptime, &s).to_string(), "r---");
        let info = node(&s, "Device.DeviceInfo.SerialNumber");
        assert_eq!(access.possible(Category::Param, info, &s), Rights::NONE, "no covering row, no right");
        assert_eq!(access.uniform(), None);
    }

    #[test]
    fn deny_exception_and_uniform_roles() {
        let s = schema();
        let full = CompiledRole::from_rules(&s, &[(1, &["Device"], Grant::ALL)]);
        assert_eq!(full.uniform(), Some(Grant::ALL));
        let except = CompiledRole::from_rules(
            &s,
            &[(1, &["Device"], Grant::ALL), (2, &["Device.LocalAgent.ControllerTrust"], Grant::default())],
        );
        assert_eq!(except.uniform(), None);
        let trust = node(&s, "Device.LocalAgent.ControllerTrust.Role.{i}.Name");
        assert_eq!(except.possible(&s, trust, Category::Param), Rights::NONE);
        let other = node(&s, "Device.LocalAgent.EndpointID");
        assert_eq!(except.possible(&s, other, Category::Param), Rights::ALL);
        assert_eq!(CompiledRole::default().uniform(), Some(Grant::default()), "no rows: nothing, uniformly");
    }
}
