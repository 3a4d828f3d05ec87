//! What the end-to-end tests of the binary share: a real MQTT broker on a
//! free port, a running `uspmesh sim`, and the `uspmesh` command set up to
//! reach them.

#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)] // test helpers; not every test file uses each

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command as Process, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use assert_cmd::Command;

/// The tests' MQTT server: Debian's mosquitto on a free port.
pub(crate) use usp_testkit::{Mosquitto as Broker, free_port};

/// The `uspmesh` binary.
pub(crate) fn uspmesh() -> Command {
    let mut cmd = Command::cargo_bin("uspmesh").expect("binary built");
    for var in ["USPMESH_BROKER", "USPMESH_FROM", "USPMESH_USERNAME", "USPMESH_PASSWORD"] {
        cmd.env_remove(var);
    }
    cmd.timeout(Duration::from_secs(60));
    cmd
}

/// `uspmesh <command> --broker <broker> --to <agent>` with the rest of
/// the arguments to add.
pub(crate) fn ask(broker: &str, command: &str, agent: &str) -> Command {
    let mut cmd = uspmesh();
    cmd.args([command, "--broker", broker, "--to", agent]);
    cmd
}

/// A running `uspmesh sim`, stopped with SIGTERM on drop.
pub(crate) struct Sim {
    child: Child,
    /// Lines of standard output read so far.
    pub(crate) stdout: mpsc::Receiver<String>,
    /// The "… rooms connected …" line.
    pub(crate) ready: String,
}

/// A process of ours running the `uspmesh` binary, for what assert_cmd
/// cannot do (signals, reading while it runs).
pub(crate) fn spawn(args: &[&str]) -> (Child, mpsc::Receiver<String>, mpsc::Receiver<String>) {
    let mut child = Process::new(assert_cmd::cargo::cargo_bin("uspmesh"))
        .args(args)
        .env_remove("USPMESH_BROKER")
        .env_remove("USPMESH_FROM")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());
    (child, out, err)
}

/// The lines of a stream, read by a thread, as they come.
pub(crate) fn lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits up to `within` for a line containing `needle`.
pub(crate) fn wait_for_line(
    lines: &mpsc::Receiver<String>,
    needle: &str,
    within: Duration,
) -> Option<String> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return Some(line),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

/// Waits until a line containing each of `needles` has come, in any order,
/// at most `within`; `Err` names those that did not.
pub(crate) fn wait_for_lines<'n>(
    lines: &mpsc::Receiver<String>,
    needles: &[&'n str],
    within: Duration,
) -> Result<(), Vec<&'n str>> {
    let deadline = Instant::now() + within;
    let mut missing = needles.to_vec();
    while !missing.is_empty() {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else { return Err(missing) };
        match lines.recv_timeout(left) {
            Ok(line) => missing.retain(|needle| !line.contains(needle)),
            Err(_) => return Err(missing),
        }
    }
    Ok(())
}

/// Sends SIGTERM.
pub(crate) fn terminate(child: &Child) {
    let pid = rustix::process::Pid::from_child(child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
}

/// Waits for a child to exit, at most `within`: `None` when it had not by
/// then (it is killed, so the test does not leave it behind).
pub(crate) fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let pid = rustix::process::Pid::from_child(child);
    let (exited, exited_rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let late = exited_rx.recv_timeout(within).is_err();
        if late {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        late
    });
    let status = child.wait().unwrap();
    let _ = exited.send(());
    let late = watchdog.join().unwrap();
    (!late).then_some(status)
}

impl Sim {
    /// Starts `uspmesh sim --broker <broker> <args>` and waits until every
    /// room is connected.
    pub(crate) fn start(broker: &str, args: &[&str]) -> Sim {
        let mut all = vec!["sim", "--broker", broker, "--status-every", "1h"];
        all.extend_from_slice(args);
        let (mut child, stdout, stderr) = spawn(&all);
        match wait_for_line(&stdout, "rooms connected", Duration::from_secs(60)) {
            Some(ready) => Sim { child, stdout, ready },
            None => {
                let _ = child.kill();
                let errors: Vec<String> = stderr.try_iter().collect();
                panic!("the sim did not start: {}", errors.join("\n"));
            }
        }
    }

    /// Stops it with SIGTERM; returns its exit status and the rest of its
    /// standard output.
    pub(crate) fn stop(mut self) -> (std::process::ExitStatus, Vec<String>) {
        terminate(&self.child);
        let status = wait_exit(&mut self.child, Duration::from_secs(30)).expect("the sim stops on SIGTERM");
        // The reader thread forwards what is left until end of file.
        let mut rest = Vec::new();
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_secs(5)) {
            rest.push(line);
        }
        (status, rest)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
