//! The state cache: the last known value of every parameter the engine has
//! seen, per Agent.
//!
//! Fed by ValueChange and ObjectCreation notifications (unique keys), cleared
//! by ObjectDeletion, primed by Get responses. Conditions read it, and so do
//! trigger paths with search expressions (`[Name=="r101-presence"]` is true
//! of instance 2 when the cache holds `….2.Name = "r101-presence"`).
//!
//! Each Agent's share is bounded (a peer must not make the engine allocate
//! without limit): past the limit, new parameters are not cached (values of
//! known ones still update) and a notice is given once.
//!
//! With each value the cache keeps the one it replaced, so that `previous`
//! is the value before the change even when the change is reported more
//! than once: the engine's subscriptions on an Agent may overlap (a
//! condition reading a parameter a trigger also watches), the Agent sends a
//! Notify on each, and the copy that reaches a rule's trigger need not be
//! the first. A report of the value already cached therefore answers with
//! the value before it, not with itself. (A ValueChange repeating the
//! cached value is a copy or follows a change that was lost; either way the
//! value before the last change seen is the best answer.)

use std::{collections::HashMap, sync::Arc};

/// One Agent's cached parameters.
#[derive(Debug, Default)]
pub(crate) struct AgentCache {
    values: HashMap<Arc<str>, Cached>,
    full_noticed: bool,
}

/// A cached parameter: its value and the value it replaced.
#[derive(Debug)]
struct Cached {
    value: Arc<str>,
    before: Option<Arc<str>>,
}

/// The result of storing a value.
pub(crate) enum Stored {
    /// Stored: the key (shared), the new value, the value before it (when
    /// unchanged: the one it replaced last), and whether the value changed.
    Value { key: Arc<str>, value: Arc<str>, previous: Option<Arc<str>>, changed: bool },
    /// The cache is full and the key is new; `first` is true the first time.
    Full { first: bool },
}

impl AgentCache {
    pub(crate) fn get(&self, path: &str) -> Option<&Arc<str>> {
        self.values.get(path).map(|c| &c.value)
    }

    /// Stores `value` at `path`.
    pub(crate) fn set(&mut self, path: &str, value: &str, limit: usize) -> Stored {
        if let Some((key, cached)) = self.values.get_key_value(path) {
            if *cached.value == *value {
                return Stored::Value {
                    key: key.clone(),
                    value: cached.value.clone(),
                    previous: cached.before.clone(),
                    changed: false,
                };
            }
            let key = key.clone();
            let value: Arc<str> = Arc::from(value);
            if let Some(cached) = self.values.get_mut(path) {
                let before = std::mem::replace(&mut cached.value, value.clone());
                cached.before = Some(before.clone());
                return Stored::Value { key, value, previous: Some(before), changed: true };
            }
        }
        if self.values.len() >= limit {
            let first = !self.full_noticed;
            self.full_noticed = true;
            return Stored::Full { first };
        }
        let key: Arc<str> = Arc::from(path);
        let value: Arc<str> = Arc::from(value);
        self.values.insert(key.clone(), Cached { value: value.clone(), before: None });
        Stored::Value { key, value, previous: None, changed: true }
    }

    /// Restores a stored value (no limit check beyond the limit itself).
    pub(crate) fn restore(&mut self, path: &str, value: &str, limit: usize) {
        if self.values.len() < limit || self.values.contains_key(path) {
            self.values.insert(Arc::from(path), Cached { value: Arc::from(value), before: None });
        }
    }

    /// Removes every parameter at or below `prefix` (an instance path
    /// ending in `.`); returns the removed keys.
    pub(crate) fn remove_prefix(&mut self, prefix: &str) -> Vec<Arc<str>> {
        let removed: Vec<Arc<str>> = self.values.keys().filter(|k| k.starts_with(prefix)).cloned().collect();
        for k in &removed {
            self.values.remove(k);
        }
        if self.values.is_empty() {
            self.full_noticed = false;
        }
        removed
    }

    /// Every cached `(path, value)` whose path starts with `prefix`.
    ///
    /// Used only to resolve search expressions in condition reads: a scan
    /// of one Agent's (bounded) cache.
    pub(crate) fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Arc<str>)> + 'a {
        self.values.iter().filter(move |(k, _)| k.starts_with(prefix)).map(|(k, c)| (&**k, &c.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_reports_previous_and_bounds() {
        let mut c = AgentCache::default();
        let Stored::Value { previous, changed, .. } = c.set("Device.A", "1", 2) else { panic!() };
        assert!(previous.is_none() && changed);
        let Stored::Value { previous, changed, .. } = c.set("Device.A", "1", 2) else { panic!() };
        assert!(previous.is_none() && !changed, "a copy of the first report: nothing before it");
        let Stored::Value { previous, changed, .. } = c.set("Device.A", "2", 2) else { panic!() };
        assert_eq!((previous.as_deref(), changed), (Some("1"), true));
        let Stored::Value { previous, changed, .. } = c.set("Device.A", "2", 2) else { panic!() };
        assert_eq!(
            (previous.as_deref(), changed),
            (Some("1"), false),
            "a copy sees the value before the change"
        );
        c.set("Device.Node.1.X", "x", 2);
        assert!(matches!(c.set("Device.Node.2.X", "y", 2), Stored::Full { first: true }));
        assert!(matches!(c.set("Device.Node.3.X", "y", 2), Stored::Full { first: false }));
        assert!(
            matches!(c.set("Device.A", "3", 2), Stored::Value { changed: true, .. }),
            "known keys still update"
        );
        assert_eq!(c.remove_prefix("Device.Node.1.").len(), 1);
        assert_eq!(c.with_prefix("Device.").count(), 1);
    }
}
