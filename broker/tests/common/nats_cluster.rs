//! Real `nats-server` processes (Debian's 2.9) for the NATS tests: one
//! server, or a cluster with routes, JetStream on, each with its store in a
//! temporary directory, on ports picked free at start. Killed when dropped.
#![allow(dead_code, unreachable_pub)]
#![allow(clippy::unwrap_used)]

use std::{net::TcpListener, path::Path, process::Child, time::Duration};

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One running `nats-server`.
pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
}

impl NatsServer {
    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the process (SIGKILL: no goodbye to the cluster).
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            // Reaping a killed process does not block for long.
            child.wait().unwrap();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One cluster at a time per test binary: JetStream leader elections on a
/// loaded 2-core machine slow down sharply with several clusters at once,
/// and the fail-over test times its recovery.
static ONE_AT_A_TIME: std::sync::LazyLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
    std::sync::LazyLock::new(Default::default);

/// A cluster of `nats-server`s.
pub struct NatsCluster {
    pub servers: Vec<NatsServer>,
    _dir: tempfile::TempDir,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl NatsCluster {
    /// Starts `n` servers (`n == 1`: no cluster block) and waits until each
    /// accepts connections. JetStream may still be electing its leaders:
    /// `NatsNode::start` waits for that.
    pub async fn start(n: usize) -> NatsCluster {
        Self::start_with(n, "").await
    }

    /// [`NatsCluster::start`] with `extra` appended to every server's
    /// configuration (e.g. an `authorization` block).
    pub async fn start_with(n: usize, extra: &str) -> NatsCluster {
        let turn = ONE_AT_A_TIME.clone().lock_owned().await;
        let dir = tempfile::tempdir().unwrap();
        let client_ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let route_ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let mut servers = Vec::new();
        for i in 0..n {
            let store = dir.path().join(format!("n{i}"));
            let mut conf = format!(
                "server_name: n{i}\nlisten: 127.0.0.1:{}\njetstream {{ store_dir: {:?} }}\n",
                client_ports[i],
                store.display().to_string()
            );
            if n > 1 {
                let routes: Vec<String> = route_ports
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, p)| format!("nats-route://127.0.0.1:{p}"))
                    .collect();
                conf.push_str(&format!(
                    "cluster {{ name: uspmesh-test, listen: 127.0.0.1:{}, routes: [{}] }}\n",
                    route_ports[i],
                    routes.join(", ")
                ));
            }
            conf.push_str(extra);
            let path = dir.path().join(format!("n{i}.conf"));
            std::fs::write(&path, conf).unwrap();
            servers.push(spawn(&path, client_ports[i]));
        }
        NatsCluster { servers, _dir: dir, _turn: turn }
    }

    /// Every server's URL.
    pub fn urls(&self) -> Vec<String> {
        self.servers.iter().map(NatsServer::url).collect()
    }
}

/// Starts one server and returns once it says it is ready for clients
/// (its own log line, no polling). JetStream may still be electing.
fn spawn(conf: &Path, port: u16) -> NatsServer {
    let program = usp_testkit::installed("nats-server", "nats-server");
    let child = usp_testkit::start_until_ready(
        &format!("nats-server on port {port}"),
        &program,
        conf,
        "Server is ready",
        Duration::from_secs(15),
    );
    NatsServer { child: Some(child), port }
}
