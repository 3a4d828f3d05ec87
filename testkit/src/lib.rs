//! Test fixtures shared by uspmesh's crates (a dev-dependency only).
//!
//! The tests run real servers, not mocks: [`Mosquitto`] starts Debian's
//! `mosquitto` on a free loopback port and stops it on drop; [`NatsServer`]
//! does the same for `nats-server` (JetStream on); [`pki`] makes the
//! certificates TLS tests need. Everything
//! here panics with a message that says what to install or what went
//! wrong: a fixture that cannot start is a failed test, never a skipped one.
//!
//! The fixtures are synchronous (`std::process`), so both plain `#[test]`s
//! and `#[tokio::test]`s can use them; starting blocks for the few
//! milliseconds a server needs before it accepts connections.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test fixtures: a panic is a failed test

mod mosquitto;
mod nats_server;
pub mod pki;
mod process;

pub use mosquitto::Mosquitto;
pub use nats_server::NatsServer;
pub use process::start_until_ready;
/// rcgen's certificate types, for [`pki::Ca::leaf`]'s arguments.
pub use rcgen::{ExtendedKeyUsagePurpose, SanType};

use std::path::PathBuf;

/// Where an installed program lives: `PATH` first, then the sbin folders
/// Debian uses for daemons (`mosquitto`, `nats-server` are often not on a
/// user's `PATH`).
///
/// # Panics
/// When it is not installed, naming the Debian package to install.
pub fn installed(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into(), "/usr/bin".into()])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` not found: these tests need it; install it with `apt-get install -y {package}`")
        })
}

/// A free loopback TCP port (free when asked; bind it soon).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A fresh, empty directory under the system's temporary folder, named for
/// `purpose` and unique in this machine; removed by [`TempDir`]'s drop.
pub fn temp_dir(purpose: &str) -> TempDir {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("uspmesh-{purpose}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).unwrap();
    TempDir(path)
}

/// A directory removed with everything in it on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// The directory's path.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
