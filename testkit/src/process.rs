//! Starting a server process and awaiting the log line that says it is
//! ready.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

/// Runs `program -c <conf>` and returns once a line of its standard error
/// contains `ready`. Its log is drained on a thread from then on, so it
/// never blocks on a full pipe.
///
/// # Panics
/// When the process exits first (its log so far is shown) or says nothing
/// of the kind within `timeout`.
pub fn start_until_ready(
    name: &str,
    program: &Path,
    conf: &Path,
    ready: &'static str,
    timeout: Duration,
) -> Child {
    let mut child = Command::new(program)
        .arg("-c")
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let stderr = child.stderr.take().unwrap();
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut log = Vec::new();
        let mut waiting = Some(ready_tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(tx) = waiting.take_if(|_| line.contains(ready)) {
                let _ = tx.send(Ok(()));
            } else if waiting.is_some() {
                log.push(line);
            }
        }
        if let Some(tx) = waiting {
            let _ = tx.send(Err(log.join("\n")));
        }
    });
    match ready_rx.recv_timeout(timeout) {
        Ok(Ok(())) => child,
        Ok(Err(log)) => panic!("{name} did not start ({}):\n{log}", conf.display()),
        Err(_) => {
            let _ = child.kill();
            panic!("{name} did not start within {timeout:?} ({})", conf.display())
        }
    }
}
