//! Starting the node kernel under QEMU: the one function behind [`crate::TestNode`] and
//! [`crate::Testnet`], so a lone node and a testnet member boot the same way and differ
//! only in what this description says.

use keel_qemu::{Boot, Echo, Machine, Qemu};
use std::net::TcpListener;
use std::path::Path;

/// One node kernel to boot.
pub(crate) struct NodeBoot<'a> {
    pub kernel: &'a Path,
    /// The loopback port forwarded to the guest's HTTP port.
    pub port: u16,
    /// The state disk; a testnet member's holds its keys, so it must have one.
    pub disk: Option<&'a Path>,
    /// For a testnet member: the switch's socket and the member's number (1-based).
    pub subnet: Option<(&'a Path, u8)>,
    pub memory_mib: u32,
    /// Extra kernel command line.
    pub cmdline: &'a str,
    pub echo: Echo,
}

impl NodeBoot<'_> {
    /// Spawns QEMU; the caller waits for the ready line (a testnet boots every member first).
    pub(crate) fn spawn(&self) -> Result<Qemu, String> {
        let mut machine = match (self.subnet, self.disk) {
            (Some((switch, number)), Some(disk)) => Machine::member(self.kernel, self.port, disk, switch, number),
            (Some(_), None) => return Err("a testnet member needs its state disk: it holds its keys".into()),
            (None, disk) => Machine::node(self.kernel, self.port, disk),
        };
        machine.memory_mib = self.memory_mib;
        if let Boot::Pvh { cmdline, .. } = &mut machine.boot {
            *cmdline = self.cmdline.to_owned();
        }
        Qemu::start(&machine, self.echo.clone(), false).map_err(|e| e.to_string())
    }
}

/// The URL clients use for a node whose HTTP port is forwarded to `port`.
pub fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// `n` distinct loopback ports nobody listens on right now: `base, base + 1, …` when a
/// base is given (an error names a taken one), else any free ones. Every port is held
/// until all are chosen, so the system cannot hand out one twice.
pub fn pick_ports(n: usize, base: Option<u16>) -> Result<Vec<u16>, String> {
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        let port = match base {
            Some(base) => u16::try_from(i)
                .ok()
                .and_then(|i| base.checked_add(i))
                .ok_or_else(|| format!("{n} ports from {base} run past 65535"))?,
            None => 0,
        };
        let listener = TcpListener::bind(("127.0.0.1", port))
            .map_err(|e| format!("cannot use port 127.0.0.1:{port}: {e} (is another node or dfx running?)"))?;
        held.push(listener);
    }
    held.iter().map(|l| l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct() {
        let ports = pick_ports(8, None).unwrap_or_else(|e| panic!("{e}"));
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 8, "{ports:?}");
    }

    #[test]
    fn a_taken_base_port_is_named() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = taken.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("{e}"));
        let err = pick_ports(2, Some(port)).err().unwrap_or_default();
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        assert!(pick_ports(2, Some(65535)).is_err(), "no port after 65535");
    }
}
