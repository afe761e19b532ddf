//! End-to-end test support: boots the real node kernel under QEMU with its HTTP port
//! forwarded to a free loopback port, so tests can point unmodified IC clients at it —
//! one node ([`TestNode`], an optional state disk) or a subnet of several ([`Testnet`],
//! which `cargo xtask testnet` runs too). [`agent`] holds the client-side steps tests and
//! benches share. Everything goes through `keel-qemu`.
#![forbid(unsafe_code)]
#![cfg_attr(target_os = "none", no_std)]

pub mod agent;
mod boot;
pub mod genesis;
mod testnet;

pub use boot::{pick_ports, url};
pub use testnet::{Options, Testnet};

use boot::NodeBoot;
use keel_qemu::build::{self, Flavor};
use keel_qemu::{Echo, Qemu, Ready};
use std::path::Path;
use std::time::Duration;

/// A booted node.
pub struct TestNode {
    pub qemu: Qemu,
    pub url: String,
    pub ready: Ready,
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Creates a sparse state disk of `mib` MiB if `path` does not exist yet.
pub fn ensure_disk(path: &Path, mib: u64) -> std::io::Result<()> {
    if !path.exists() {
        std::fs::File::create(path)?.set_len(mib << 20)?;
    }
    Ok(())
}

impl TestNode {
    /// Builds (if needed) and boots the release node kernel, waiting for its ready line.
    pub fn start(disk: Option<&Path>) -> Result<Self, String> {
        Self::start_with(disk, "")
    }

    /// As [`Self::start`], with extra kernel command-line options.
    pub fn start_with(disk: Option<&Path>, cmdline: &str) -> Result<Self, String> {
        let kernel = build::kernel(Flavor::Node, true)?;
        let port = free_port().map_err(|e| e.to_string())?;
        let boot = NodeBoot { kernel: &kernel, port, disk, subnet: None, memory_mib: 512, cmdline, echo: Echo::Silent };
        let mut qemu = boot.spawn()?;
        let ready = qemu.wait_ready(Duration::from_secs(120)).map_err(|e| e.to_string())?;
        Ok(Self { qemu, url: url(port), ready })
    }

    /// `host:port` of the node's HTTP interface, for raw TCP clients.
    pub fn address(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// The serial log so far, for failure messages.
    pub fn log(&self) -> String {
        self.qemu.log().to_string()
    }
}
