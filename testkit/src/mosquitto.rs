//! Debian's mosquitto as a fixture.

use std::{process::Child, time::Duration};

use crate::{TempDir, free_port, installed, process::start_until_ready, temp_dir};

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
        self.child = Some(start_until_ready(
            &format!("mosquitto on port {}", self.port),
            &installed("mosquitto", "mosquitto"),
            &conf,
            " running",
            START_TIMEOUT,
        ));
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}
