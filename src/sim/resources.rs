//! The process's resources: resident memory, and the open-files limit a
//! building of many Agents (one socket each) needs.

/// Resident set size of this process, in bytes (`VmRSS` of
/// `/proc/self/status`); `None` where that file does not exist.
pub(crate) fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Makes room for `needed` open files: raises the soft limit up to the
/// hard one if it is lower. Returns the limit now in force (`None` if it
/// cannot be read).
pub(crate) fn ensure_open_files(needed: u64) -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current?;
    if current >= needed {
        return Some(current);
    }
    let target = limit.maximum.map_or(needed, |max| max.min(needed.max(current)));
    let raised = Rlimit { current: Some(target), maximum: limit.maximum };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => Some(target),
        Err(_) => Some(current),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_and_limits() {
        let rss = rss_bytes().expect("Linux has /proc/self/status");
        assert!(rss > 1024 * 1024, "{rss}");
        let now = ensure_open_files(16).expect("readable");
        assert!(now >= 16);
    }
}
