//! Loading rule files: TOML text in, a checked [`RuleSet`] or exact errors out.
//!
//! Every error names the file, line and column and says what is wrong and
//! what would be right (`rules/hvac.toml:12:9: unknown key "fro" in rule
//! "setback"; did you mean "for"?`). Loading is all or nothing: the engine
//! only ever sees a complete [`RuleSet`], so a bad file on reload leaves the
//! running rules untouched.
//!
//! The format is described in `deploy/rules/README.md`, with worked examples
//! beside it. In short:
//!
//! ```toml
//! [tags]
//! rooms = ["proto::room-*"]
//!
//! [rule.light-follows-presence]
//! description = "Light on while someone is in the room"
//! when = { value_change = "Device.Node.1.IoTCapability.2.BinarySensor.Value", tag = "rooms" }
//! if = "value == true"
//!
//! [[rule.light-follows-presence.then]]
//! set = "Device.Node.2.IoTCapability.1.BinaryControl.Value"
//! value = true
//! ```

mod compile;
mod reader;

use std::{fmt, path::Path, sync::Arc};

use crate::{
    expr::ExprError, model::RuleSet, pattern::PatternError, schedule::ScheduleError, time::DurationError,
};

/// One rule file: a name for messages (usually its path) and its text.
#[derive(Debug, Clone)]
pub struct Source {
    /// How errors name the file.
    pub name: String,
    /// The TOML text.
    pub text: String,
}

impl Source {
    /// A source from a name and a text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Source {
        Source { name: name.into(), text: text.into() }
    }
}

/// A problem in a rule file, with its position.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}:{column}: {kind}")]
pub struct LoadError {
    /// The file, as named by its [`Source`].
    pub file: Arc<str>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub kind: LoadErrorKind,
}

/// What can be wrong in a rule file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadErrorKind {
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Io(String),
    /// The text is not valid TOML.
    #[error("TOML syntax: {0}")]
    Syntax(String),
    /// A key the format does not know.
    #[error("unknown key {key:?} in {context}{}; expected one of: {}", suggestion.map(|s| format!("; did you mean {s:?}?")).unwrap_or_default(), expected.join(", "))]
    UnknownKey {
        /// The key as written.
        key: String,
        /// Where it appeared (`rule "x"`, `trigger`, `action`).
        context: String,
        /// The keys allowed there.
        expected: Vec<&'static str>,
        /// The closest allowed key, if one is close.
        suggestion: Option<&'static str>,
    },
    /// A value of the wrong TOML type.
    #[error("{key:?} must be {expected}, found {found}")]
    WrongType {
        /// The key.
        key: String,
        /// What is accepted.
        expected: &'static str,
        /// What was found.
        found: &'static str,
    },
    /// A required key is absent.
    #[error("{context} needs {what}")]
    Missing {
        /// Where.
        context: String,
        /// What is missing.
        what: String,
    },
    /// Keys that cannot be used together, or a value out of its range.
    #[error("{0}")]
    Invalid(String),
    /// A malformed duration.
    #[error("bad duration: {0}")]
    Duration(DurationError),
    /// A malformed schedule.
    #[error("bad schedule: {0}")]
    Schedule(ScheduleError),
    /// A malformed USP path.
    #[error("bad path: {0}")]
    Path(PatternError),
    /// A malformed endpoint-id pattern.
    #[error("bad endpoint id pattern: {0}")]
    Agent(PatternError),
    /// A malformed template, or a placeholder the rule does not provide.
    #[error("bad template: {0}")]
    Template(PatternError),
    /// A malformed or ill-named condition.
    #[error("bad condition: {0}")]
    Expression(ExprError),
    /// A signal names a rule that does not exist.
    #[error("unknown rule {0:?}")]
    UnknownRule(String),
    /// A tag is used but not defined.
    #[error("unknown tag {0:?}")]
    UnknownTag(String),
    /// Two rules (or tags) with one name.
    #[error("{what} {name:?} is already defined at {first}")]
    Duplicate {
        /// `rule` or `tag`.
        what: &'static str,
        /// The name.
        name: String,
        /// `file:line` of the first definition.
        first: String,
    },
    /// Rules that signal each other in a circle.
    #[error("signal cycle: {}", .0.join(" → "))]
    SignalCycle(Vec<String>),
}

/// All problems found in a set of rule files (at least one), in file and
/// line order.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct LoadErrors(pub Vec<LoadError>);

impl LoadErrors {
    /// The first problem.
    pub fn first(&self) -> Option<&LoadError> {
        self.0.first()
    }
}

/// Tags given outside rule files (from the appliance configuration): name →
/// endpoint-id patterns.
pub type ConfigTags = [(String, Vec<String>)];

/// Loads and checks rule files.
pub fn load(sources: &[Source]) -> Result<RuleSet, LoadErrors> {
    load_with_tags(sources, &[])
}

/// Loads and checks rule files, with extra tags from the configuration.
pub fn load_with_tags(sources: &[Source], tags: &ConfigTags) -> Result<RuleSet, LoadErrors> {
    compile::compile(sources, tags)
}

/// Reads every `*.toml` file of a directory (sorted by name) and loads them.
pub fn load_dir(dir: &Path, tags: &ConfigTags) -> Result<RuleSet, LoadErrors> {
    let io_err = |name: String, e: std::io::Error| LoadError {
        file: Arc::from(name),
        line: 1,
        column: 1,
        kind: LoadErrorKind::Io(e.to_string()),
    };
    let entries =
        std::fs::read_dir(dir).map_err(|e| LoadErrors(vec![io_err(dir.display().to_string(), e)]))?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| LoadErrors(vec![io_err(dir.display().to_string(), e)]))?;
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "toml") {
            paths.push(path);
        }
    }
    paths.sort();
    let mut sources = Vec::new();
    for path in paths {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| LoadErrors(vec![io_err(name.clone(), e)]))?;
        sources.push(Source { name, text });
    }
    load_with_tags(&sources, tags)
}

/// Line and column of a byte offset.
pub(crate) struct Lines<'s> {
    text: &'s str,
    starts: Vec<usize>,
}

impl<'s> Lines<'s> {
    pub(crate) fn new(text: &'s str) -> Lines<'s> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { text, starts }
    }

    /// 1-based line and character column of `offset`.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|s| *s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count()) + 1;
        (line, column)
    }
}

impl fmt::Debug for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lines({})", self.starts.len())
    }
}

#[cfg(test)]
mod tests;
