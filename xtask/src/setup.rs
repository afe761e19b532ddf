//! Making a fresh machine ready: rustup targets from rust-toolchain.toml, host tools.

use keel_qemu::host::{self, Tool};
use std::process::Command;

/// The targets rust-toolchain.toml pins, read from the file so there is one list.
fn pinned_targets() -> Vec<String> {
    let path = keel_qemu::build::workspace_root().join("rust-toolchain.toml");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("targets"))
        .map(|rest| {
            rest.split('"').skip(1).step_by(2).map(str::to_owned).collect()
        })
        .unwrap_or_default()
}

/// Adds any pinned target rustup has not installed for the pinned toolchain.
pub fn toolchain() -> Result<(), String> {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    let Ok(installed) = installed else {
        return Ok(()); // no rustup: the toolchain is managed some other way
    };
    let installed = String::from_utf8_lossy(&installed.stdout).into_owned();
    let missing: Vec<String> =
        pinned_targets().into_iter().filter(|t| !installed.lines().any(|l| l.trim() == t)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    step(&format!("adding rustup targets {}", missing.join(" ")));
    let status = Command::new("rustup")
        .args(["target", "add"])
        .args(&missing)
        .status()
        .map_err(|e| format!("cannot run rustup: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("rustup target add {} failed", missing.join(" "))) }
}

/// Everything `run` needs on the host.
pub fn machine() -> Result<(), String> {
    toolchain()?;
    host::ensure(&[Tool::Qemu, Tool::Ovmf, Tool::Swtpm])
}

/// As [`machine`], plus `vde2`, whose switch is a testnet's subnet network: for `test`
/// (the end-to-end testnet test), `bench` and `testnet`.
pub fn machine_with_testnet() -> Result<(), String> {
    toolchain()?;
    host::ensure(&[Tool::Qemu, Tool::Ovmf, Tool::Swtpm, Tool::Vde])
}

/// Prints a progress heading.
pub fn step(what: &str) {
    eprintln!("\x1b[1m==> {what}\x1b[0m");
}
