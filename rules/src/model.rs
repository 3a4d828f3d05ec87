//! Rules as the engine runs them: the checked, compiled form of rule files.
//!
//! A [`RuleSet`] is immutable once built ([`crate::load()`]); the engine swaps
//! one for another on reload, so a bad file never leaves half its rules
//! loaded.

use std::{collections::HashMap, fmt, sync::Arc};

use crate::{
    expr::compile::{CExpr, COperand},
    pattern::{agent::AgentPattern, path::PathPattern, template::Template},
    schedule::Schedule,
    time::Ms,
};

/// Index of a rule in its [`RuleSet`].
pub(crate) type RuleId = usize;
/// Index of a trigger in its [`RuleSet`].
pub(crate) type TriggerId = usize;

/// A loaded, checked set of rules.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    pub(crate) by_name: HashMap<Arc<str>, RuleId>,
    pub(crate) triggers: Vec<Trigger>,
    /// Tag name → endpoint-id patterns.
    pub(crate) tags: Vec<(Arc<str>, Vec<AgentPattern>)>,
    /// For each rule, the signal triggers listening to it.
    pub(crate) listeners: Vec<Vec<TriggerId>>,
}

impl RuleSet {
    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule names, in load order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| &*r.name)
    }

    /// A rule's id by name.
    pub(crate) fn id(&self, name: &str) -> Option<RuleId> {
        self.by_name.get(name).copied()
    }

    /// Whether an Agent belongs to a tag.
    pub(crate) fn in_tag(&self, tag: usize, agent: &str) -> bool {
        self.tags.get(tag).is_some_and(|(_, pats)| {
            pats.iter().any(|p| p.matches(agent, &mut crate::pattern::Captures::new()))
        })
    }
}

/// Where something was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file, as given to the loader.
    pub file: Arc<str>,
    /// 1-based line.
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) name: Arc<str>,
    pub(crate) description: Option<String>,
    pub(crate) origin: Origin,
    pub(crate) enabled: bool,
    pub(crate) triggers: Vec<TriggerId>,
    pub(crate) condition: Option<Condition>,
    pub(crate) aliases: Vec<Alias>,
    pub(crate) hysteresis: Option<Hysteresis>,
    pub(crate) hold: Option<Ms>,
    pub(crate) debounce: Option<Ms>,
    pub(crate) cooldown: Option<Ms>,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) key: Option<Template>,
    pub(crate) then: Arc<[Action]>,
    pub(crate) otherwise: Arc<[Action]>,
    /// Captures every trigger binds (usable in templates and conditions).
    pub(crate) captures: Vec<Arc<str>>,
    /// Whether every trigger comes with an Agent.
    pub(crate) agent_context: bool,
}

impl Rule {
    /// Rules whose outcome depends on earlier evaluations keep per-instance
    /// state: the latch of a hysteresis, the timer of a for-duration or a
    /// debounce, the end of a cooldown. Others are evaluated statelessly
    /// (the fast path).
    pub(crate) fn is_stateful(&self) -> bool {
        self.hysteresis.is_some() || self.hold.is_some() || self.debounce.is_some() || self.cooldown.is_some()
    }

    /// Whether the rule fires on entering a state (for-duration or
    /// hysteresis), rather than on every trigger where its condition holds.
    pub(crate) fn is_level(&self) -> bool {
        self.hysteresis.is_some() || self.hold.is_some()
    }
}

/// A compiled `if`.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    pub(crate) expr: CExpr,
    pub(crate) text: String,
    /// The text of each comparison, by id (for traces).
    pub(crate) checks: Vec<Arc<str>>,
}

/// A named value a condition reads: `[rule.X.values] window = …`.
#[derive(Debug, Clone)]
pub(crate) struct Alias {
    pub(crate) name: String,
    /// The Agent to read from; `None` = the trigger's Agent.
    pub(crate) agent: Option<Template>,
    pub(crate) path: Arc<PathPattern>,
}

/// A hysteresis band on a numeric value.
#[derive(Debug, Clone)]
pub(crate) struct Hysteresis {
    /// The value watched.
    pub(crate) of: COperand,
    /// How `of` was written.
    pub(crate) of_text: String,
    /// The level that switches the rule on.
    pub(crate) on: f64,
    /// The level that switches it off again.
    pub(crate) off: f64,
    /// true: on above `on`, off below `off` (on > off); false: on below
    /// `on`, off above `off` (on < off).
    pub(crate) rising: bool,
}

/// At most `count` firings per `per` milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateLimit {
    pub(crate) count: u32,
    pub(crate) per: Ms,
}

/// One trigger of a rule.
#[derive(Debug, Clone)]
pub(crate) struct Trigger {
    pub(crate) rule: RuleId,
    /// Position among the rule's triggers.
    pub(crate) index: usize,
    pub(crate) kind: TriggerKind,
    /// Which Agents the trigger watches (agent-scoped kinds only).
    pub(crate) agents: AgentSel,
    /// Whether the subscription asks for NotifRetry.
    pub(crate) notif_retry: bool,
    /// The trigger described, for traces.
    pub(crate) desc: Arc<str>,
}

/// What fires a trigger.
#[derive(Debug, Clone)]
pub(crate) enum TriggerKind {
    ValueChange(Arc<PathPattern>),
    Event { path: Arc<PathPattern>, args: Vec<(String, String)> },
    Created(Arc<PathPattern>),
    Deleted(Arc<PathPattern>),
    Online,
    Offline,
    Schedule(Schedule),
    Signal { from: RuleId, edge: Edge },
}

impl TriggerKind {
    /// Whether the trigger is about Agents (and so has an Agent selector).
    pub(crate) fn is_agent_scoped(&self) -> bool {
        !matches!(self, TriggerKind::Schedule(_) | TriggerKind::Signal { .. })
    }

    /// How the trigger reads in a trace.
    pub(crate) fn describe(&self, set: &RuleSet) -> String {
        match self {
            TriggerKind::ValueChange(p) => format!("value change of {p}"),
            TriggerKind::Event { path, args } => {
                let mut s = format!("event {path}");
                for (k, v) in args {
                    s.push_str(&format!(" {k}={v:?}"));
                }
                s
            }
            TriggerKind::Created(p) => format!("object created in {p}"),
            TriggerKind::Deleted(p) => format!("object deleted in {p}"),
            TriggerKind::Online => "agent online".into(),
            TriggerKind::Offline => "agent offline".into(),
            TriggerKind::Schedule(s) => format!("schedule {s}"),
            TriggerKind::Signal { from, edge } => {
                let name = set.rules.get(*from).map_or("?", |r| &*r.name);
                format!("signal from rule {name} ({})", edge.as_str())
            }
        }
    }
}

/// Which signal of a rule a signal trigger listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Edge {
    /// The rule fired (ran its `then` actions).
    Fired,
    /// The rule cleared (ran its `else` actions).
    Cleared,
}

impl Edge {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Edge::Fired => "fired",
            Edge::Cleared => "cleared",
        }
    }
}

/// A choice of Agents.
#[derive(Debug, Clone)]
pub(crate) enum AgentSel {
    /// Every Agent.
    Any,
    /// Agents matching one of the patterns (captures come from the first match).
    Patterns(Vec<AgentPattern>),
    /// Agents of a tag (index into [`RuleSet::tags`]).
    Tag(usize),
}

impl AgentSel {
    /// Whether `agent` is chosen; captures of the matching pattern are
    /// appended to `caps`.
    pub(crate) fn matches(&self, set: &RuleSet, agent: &str, caps: &mut crate::pattern::Captures) -> bool {
        match self {
            AgentSel::Any => true,
            AgentSel::Patterns(ps) => ps.iter().any(|p| {
                let before = caps.len();
                let ok = p.matches(agent, caps);
                if !ok {
                    caps.truncate(before);
                }
                ok
            }),
            AgentSel::Tag(t) => set.in_tag(*t, agent),
        }
    }

    /// How the choice reads.
    pub(crate) fn describe(&self, set: &RuleSet) -> String {
        match self {
            AgentSel::Any => "any agent".into(),
            AgentSel::Patterns(ps) => ps.iter().map(ToString::to_string).collect::<Vec<_>>().join(" or "),
            AgentSel::Tag(t) => format!("tag {}", set.tags.get(*t).map_or("?", |(n, _)| &**n)),
        }
    }
}

/// One step of a rule's `then` or `else` sequence.
#[derive(Debug, Clone)]
pub(crate) struct Action {
    pub(crate) kind: ActionKind,
    pub(crate) target: Target,
    /// Whether the sequence waits for this step to finish.
    pub(crate) wait: bool,
    /// How long a waited or followed step may take.
    pub(crate) timeout: Ms,
    pub(crate) line: usize,
}

/// What a step does.
#[derive(Debug, Clone)]
pub(crate) enum ActionKind {
    /// Set parameters of one object (or of every object a search path selects).
    Set { object: Arc<PathPattern>, params: Vec<(String, Template)> },
    /// Create an instance in a table.
    Add { table: Arc<PathPattern>, params: Vec<(String, Template)> },
    /// Delete instances.
    Delete { path: Arc<PathPattern> },
    /// Run a command.
    Operate { command: Arc<PathPattern>, args: Vec<(String, Template)> },
    /// Publish an event upstream.
    Publish { name: Template, fields: Vec<(String, Template)> },
    /// Pause the sequence.
    Delay(Ms),
}

impl ActionKind {
    /// A short name for traces.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            ActionKind::Set { .. } => "set",
            ActionKind::Add { .. } => "add",
            ActionKind::Delete { .. } => "delete",
            ActionKind::Operate { .. } => "operate",
            ActionKind::Publish { .. } => "publish",
            ActionKind::Delay(_) => "delay",
        }
    }
}

/// Which Agents a step addresses.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// One Agent, named by a template (default `{agent}`, the trigger's).
    One(Template),
    /// Every known, reachable Agent of a choice.
    Each(AgentSel),
    /// Not addressed to an Agent (publish, delay).
    None,
}
