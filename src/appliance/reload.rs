//! Reloading the rules from the configured directory — what `uspmesh rules
//! reload` (admin API) and SIGHUP (`systemctl reload`) both do.
//!
//! All or nothing: if any file does not load, nothing changes and the
//! running rules keep running; otherwise the new set replaces the old one,
//! and rules that stay keep their state and timers.

use std::path::PathBuf;

use usp_rules::{LoadErrors, runtime::RulesHandle};

use super::serve::Appliance;

/// Why a reload did not happen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReloadError {
    /// `[rules] enabled = false`.
    #[error("the rules engine is not enabled ([rules] enabled = false)")]
    NotEnabled,
    /// The rules did not come from a directory.
    #[error("no rules directory is configured ([rules] dir): nothing to reload from")]
    NoDirectory,
    /// A file does not load (each problem as `file:line:column: reason`);
    /// the running rules stay.
    #[error("reload refused, the running rules stay:\n{0}")]
    Refused(LoadErrors),
    /// The rules engine has stopped.
    #[error("the rules engine has stopped")]
    Stopped,
}

/// Reloads `dir` into the engine behind `api`; the number of rules now
/// running.
pub(crate) async fn reload(
    api: &RulesHandle,
    dir: Option<&PathBuf>,
    tags: &[(String, Vec<String>)],
) -> Result<usize, ReloadError> {
    let dir = dir.ok_or(ReloadError::NoDirectory)?;
    match api.reload_dir(dir.clone(), tags.to_vec()).await {
        Ok(Ok(n)) => {
            tracing::info!(dir = %dir.display(), rules = n, "rules reloaded");
            Ok(n)
        }
        Ok(Err(errors)) => {
            tracing::warn!(dir = %dir.display(), %errors, "rules reload refused; the running rules stay");
            Err(ReloadError::Refused(errors))
        }
        Err(_) => Err(ReloadError::Stopped),
    }
}

impl Appliance {
    /// Reloads the rules from the configured directory (see the module
    /// doc).
    pub async fn reload_rules(&self) -> Result<usize, ReloadError> {
        let rules = self.rules.as_ref().ok_or(ReloadError::NotEnabled)?;
        reload(&rules.api, rules.dir.as_ref(), &rules.tags).await
    }
}
