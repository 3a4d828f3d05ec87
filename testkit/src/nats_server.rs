//! Debian's nats-server as a fixture.

use std::{process::Child, time::Duration};

use crate::{TempDir, free_port, installed, process::start_until_ready, temp_dir};

/// How long nats-server may take to say it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// One `nats-server` on `127.0.0.1:port`, JetStream on (its store in a
/// temporary directory), killed on drop.
///
/// Ready when [`start`](Self::start) returns: the server's own "Server is
/// ready" log line is awaited, no polling. Its log is drained on a thread
/// so it never blocks on a full pipe. (The broker's tests have their own
/// multi-server cluster harness; this is the single server the appliance's
/// tests share.)
#[derive(Debug)]
pub struct NatsServer {
    port: u16,
    dir: TempDir,
    /// Configuration added to the server's file (e.g. a `tls { }` block).
    extra: String,
    child: Option<Child>,
}

impl NatsServer {
    /// A JetStream-enabled, anonymous nats-server on a free port.
    pub fn start() -> NatsServer {
        NatsServer::start_with("")
    }

    /// [`NatsServer::start`] with `extra` added to the server's
    /// configuration file (nats-server syntax, e.g. a `tls { ... }` block).
    pub fn start_with(extra: &str) -> NatsServer {
        let mut s =
            NatsServer { port: free_port(), dir: temp_dir("nats"), extra: extra.to_owned(), child: None };
        s.run();
        s
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn run(&mut self) {
        let conf = self.dir.path().join("nats.conf");
        std::fs::write(
            &conf,
            format!(
                "listen: 127.0.0.1:{}\njetstream {{ store_dir: {:?} }}\n{}\n",
                self.port,
                self.dir.path().join("js").display().to_string(),
                self.extra
            ),
        )
        .unwrap();
        self.child = Some(start_until_ready(
            &format!("nats-server on port {}", self.port),
            &installed("nats-server", "nats-server"),
            &conf,
            "Server is ready",
            START_TIMEOUT,
        ));
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
