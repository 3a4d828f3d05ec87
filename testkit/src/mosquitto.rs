//! Debian's mosquitto as a fixture.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use crate::{TempDir, free_port, installed, temp_dir};

/// How long mosquitto may take to say it is running.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A mosquitto on `127.0.0.1:port`, killed on drop.
///
/// Ready when [`start`](Self::start) returns: mosquitto's own "running" log
/// line is awaited, no polling. Its log is drained on a thread so it never
/// blocks on a full pipe.
#[derive(Debug)]
pub struct Mosquitto {
    port: u16,
    extra: String,
    dir: TempDir,
    child: Option<Child>,
}

impl Mosquitto {
    /// An anonymous, plain-TCP mosquitto on a free port.
    pub fn start() -> Mosquitto {
        Mosquitto::start_with("")
    }

    /// A mosquitto whose listener has these extra settings (lines of
    /// `mosquitto.conf` that follow the `listener` line: `cafile`,
    /// `require_certificate`, ...).
    pub fn start_with(listener_settings: &str) -> Mosquitto {
        let mut m = Mosquitto {
            port: free_port(),
            extra: listener_settings.to_owned(),
            dir: temp_dir("mosquitto"),
            child: None,
        };
        m.run();
        m
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Kills it (an outage); [`resume`](Self::resume) starts it again on the
    /// same port.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again, same port and settings, after [`stop`](Self::stop).
    pub fn resume(&mut self) {
        self.stop();
        self.run();
    }

    fn run(&mut self) {
        let conf = self.dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {} 127.0.0.1\nallow_anonymous true\nlog_dest stderr\n{}\n",
                self.port, self.extra
            ),
        )
        .unwrap();
        let mut child = Command::new(installed("mosquitto", "mosquitto"))
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut log = Vec::new();
            let mut ready = Some(ready_tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(tx) = ready.take_if(|_| line.contains(" running")) {
                    let _ = tx.send(Ok(()));
                } else if ready.is_some() {
                    log.push(line);
                }
            }
            if let Some(tx) = ready {
                let _ = tx.send(Err(log.join("\n")));
            }
        });
        match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(())) => self.child = Some(child),
            Ok(Err(log)) => panic!("mosquitto did not start on port {}:\n{log}", self.port),
            Err(_) => {
                let _ = child.kill();
                panic!("mosquitto did not start on port {} within {START_TIMEOUT:?}", self.port)
            }
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}
