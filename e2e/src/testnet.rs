//! A subnet of several Keel nodes under QEMU on one host, without root: one genesis dealing,
//! one state disk per member with its key record, one `vde_switch` as the subnet network
//! (every member's second NIC) and each member's HTTP port forwarded to its own loopback
//! port (its first NIC, QEMU's user network). The end-to-end test, the testnet bench and
//! `cargo xtask testnet` all boot it through [`Testnet::start_with`].

use crate::boot::{self, NodeBoot};
use crate::genesis::{self, Genesis};
use keel_qemu::build::{self, Flavor};
use keel_qemu::{Echo, Next, Qemu, Ready, VdeSwitch};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How to boot a testnet.
#[derive(Clone, Debug)]
pub struct Options {
    pub nodes: u32,
    /// Node `i`'s HTTP interface on `127.0.0.1:(base_port + i)`; free ports when `None`.
    pub base_port: Option<u16>,
    /// Print every node's console, each line prefixed with `node<i>| `.
    pub echo: bool,
    pub memory_mib: u32,
    /// How long a member may take to serve certified state. Under TCG on two shared
    /// cores four members boot slowly, and none is ready before a quorum of peers is up.
    pub ready_timeout: Duration,
    /// The genesis dealing's seed; a fresh random one when `None`.
    pub seed: Option<[u8; 32]>,
}

impl Options {
    pub fn new(nodes: u32) -> Self {
        Self { nodes, base_port: None, echo: false, memory_mib: 512, ready_timeout: Duration::from_secs(180), seed: None }
    }
}

/// One member: its disk and port outlive its QEMU runs.
struct Member {
    disk: PathBuf,
    port: u16,
    qemu: Option<Qemu>,
    ready: Option<Ready>,
    /// Console lines of earlier runs of this member.
    earlier: Vec<String>,
}

impl Member {
    /// Stops QEMU (if it runs) and keeps its log; `why` marks the end of that run.
    fn retire(&mut self, why: &str) {
        if let Some(mut qemu) = self.qemu.take() {
            qemu.kill();
            self.earlier.extend(qemu.log().lines());
            self.earlier.push(format!("--- {why} ---"));
        }
        self.ready = None;
    }
}

/// A running testnet. Dropping it stops every node and the switch and deletes the disks.
pub struct Testnet {
    dir: PathBuf,
    kernel: PathBuf,
    options: Options,
    switch: Option<VdeSwitch>,
    members: Vec<Member>,
    seed: [u8; 32],
    root_key_der: Vec<u8>,
}

impl Testnet {
    /// Boots an `n`-node testnet with fresh keys on free ports and waits until every node
    /// is ready.
    pub fn start(n: u32) -> Result<Self, String> {
        Self::start_with(Options::new(n))
    }

    /// Deals the keys, writes the disks, starts the switch and every node, then waits for
    /// each node's ready line (members need a quorum of peers, so all boot first).
    pub fn start_with(options: Options) -> Result<Self, String> {
        let kernel = build::kernel(Flavor::Node, true)?;
        let seed = match options.seed {
            Some(seed) => seed,
            None => genesis::random_seed()?,
        };
        let Genesis { key_records, root_key_der } = genesis::deal(seed, options.nodes)?;
        let ports = boot::pick_ports(key_records.len(), options.base_port)?;
        let dir = scratch_dir()?;
        // From here on, an early return drops `net`, which cleans up whatever started.
        let mut net = Self { dir, kernel, options, switch: None, members: Vec::new(), seed, root_key_der };
        for (i, (record, port)) in key_records.iter().zip(ports).enumerate() {
            let disk = net.dir.join(format!("node{i}.img"));
            genesis::write_disk(&disk, record)?;
            net.members.push(Member { disk, port, qemu: None, ready: None, earlier: Vec::new() });
        }
        net.switch = Some(VdeSwitch::start(&net.dir.join("subnet")).map_err(|e| e.to_string())?);
        for i in 0..net.members.len() {
            net.spawn(i)?;
        }
        let deadline = Instant::now() + net.options.ready_timeout;
        for i in 0..net.members.len() {
            net.wait_ready(i, deadline)?;
        }
        Ok(net)
    }

    fn spawn(&mut self, i: usize) -> Result<(), String> {
        let number = u8::try_from(i + 1).map_err(|_| format!("node {i}: at most 253 members"))?;
        let switch = self.switch.as_ref().map(|s| s.socket().to_owned()).ok_or("the switch is not running")?;
        let member = &self.members[i];
        let echo = if self.options.echo { Echo::Stdout(format!("node{i}| ")) } else { Echo::Silent };
        let qemu = NodeBoot {
            kernel: &self.kernel,
            port: member.port,
            disk: Some(&member.disk),
            subnet: Some((&switch, number)),
            memory_mib: self.options.memory_mib,
            cmdline: "",
            echo,
        }
        .spawn()
        .map_err(|e| format!("node {i}: {e}"))?;
        self.members[i].qemu = Some(qemu);
        Ok(())
    }

    fn wait_ready(&mut self, i: usize, deadline: Instant) -> Result<(), String> {
        let left = deadline.saturating_duration_since(Instant::now());
        let result = match self.members[i].qemu.as_mut() {
            Some(qemu) => qemu.wait_ready(left).map_err(|e| e.to_string()),
            None => Err("not running".to_owned()),
        };
        match result {
            Ok(ready) => {
                self.members[i].ready = Some(ready);
                Ok(())
            }
            Err(e) => Err(format!("node {i} did not become ready: {e}\n\nall nodes:\n{}", self.tails(15))),
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Node `i`'s HTTP interface (0-based `i`, the member with subnet address 10.10.0.(i+1)).
    ///
    /// # Panics
    /// If `i` is not a member, like slice indexing.
    pub fn url(&self, i: usize) -> String {
        boot::url(self.members[i].port)
    }

    /// The loopback port of node `i`'s HTTP interface.
    pub fn port(&self, i: usize) -> u16 {
        self.members[i].port
    }

    /// DER of the subnet's root key, as dealt: every member must hand out these bytes.
    pub fn root_key_der(&self) -> &[u8] {
        &self.root_key_der
    }

    /// The genesis dealing's seed (booting with it again deals the same subnet).
    pub fn seed(&self) -> [u8; 32] {
        self.seed
    }

    /// Node `i`'s state disk.
    pub fn disk(&self, i: usize) -> &Path {
        &self.members[i].disk
    }

    /// The switch's socket directory (`-object filter-dump` and the like attach there).
    pub fn switch_socket(&self) -> Option<&Path> {
        self.switch.as_ref().map(VdeSwitch::socket)
    }

    /// When node `i` last became ready, if it runs.
    pub fn ready(&self, i: usize) -> Option<&Ready> {
        self.members[i].ready.as_ref()
    }

    /// Whether node `i`'s QEMU runs.
    pub fn is_running(&self, i: usize) -> bool {
        self.members[i].qemu.is_some()
    }

    /// Kills node `i`'s QEMU at once, like a power cut; its disk stays for [`Self::restart`].
    pub fn kill(&mut self, i: usize) {
        self.members[i].retire("killed");
    }

    /// Boots node `i` again on its own disk (killing it first if it runs) and waits for
    /// its ready line. It keeps its port unless that was taken meanwhile and the ports are
    /// not fixed, in which case it gets a new one: read [`Self::url`] afterwards.
    pub fn restart(&mut self, i: usize) -> Result<&Ready, String> {
        self.members[i].retire("restarted");
        if boot::pick_ports(1, Some(self.members[i].port)).is_err() && self.options.base_port.is_none() {
            self.members[i].port = boot::pick_ports(1, None)?.first().copied().ok_or("no free port")?;
        }
        self.spawn(i)?;
        self.wait_ready(i, Instant::now() + self.options.ready_timeout)?;
        self.members[i].ready.as_ref().ok_or_else(|| format!("node {i} has no ready line"))
    }

    /// Node `i`'s whole console: earlier runs, then the current one.
    pub fn log(&self, i: usize) -> String {
        let member = &self.members[i];
        let current = member.qemu.as_ref().map(|q| q.log().lines()).unwrap_or_default();
        member.earlier.iter().chain(&current).map(|l| format!("{l}\n")).collect()
    }

    /// The last `n` lines of every node's console, labelled: for failure messages.
    pub fn tails(&self, n: usize) -> String {
        (0..self.len())
            .map(|i| {
                let log = self.log(i);
                let lines: Vec<&str> = log.lines().collect();
                let state = if self.is_running(i) { "running" } else { "down" };
                format!("--- node {i} ({state}, {}) ---\n{}\n", self.url(i), lines[lines.len().saturating_sub(n)..].join("\n"))
            })
            .collect()
    }

    /// Nodes whose QEMU ended by itself since the last call, with how it ended; reading
    /// the consoles on the way. Such a node counts as down until [`Self::restart`].
    pub fn ended(&mut self) -> Vec<(usize, String)> {
        let mut ended = Vec::new();
        for (i, member) in self.members.iter_mut().enumerate() {
            let Some(qemu) = member.qemu.as_mut() else { continue };
            loop {
                match qemu.poll_line(Duration::ZERO) {
                    Next::Line(_) => {}
                    Next::Quiet => break,
                    Next::Ended => {
                        let outcome = qemu.outcome().map(|o| o.to_string()).unwrap_or_default();
                        member.retire(&format!("ended: {outcome}"));
                        ended.push((i, outcome));
                        break;
                    }
                }
            }
        }
        ended
    }
}

impl Drop for Testnet {
    fn drop(&mut self) {
        for member in &mut self.members {
            member.retire("stopped");
        }
        drop(self.switch.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh directory for one testnet's disks and switch, under the system's temp dir
/// (short: the switch's socket path must fit a Unix socket address).
fn scratch_dir() -> Result<PathBuf, String> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!("keel-testnet-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let dir = std::env::temp_dir().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    Ok(dir)
}
