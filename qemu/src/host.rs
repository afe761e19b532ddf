//! Host tools the harness needs, and how to get them: installed with `apt-get` when we run
//! as root (CI, fresh containers), otherwise an error naming the exact command.

use crate::process::QemuError;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Qemu,
    Ovmf,
    Swtpm,
    Vde,
}

impl Tool {
    /// The Debian package that provides the tool.
    pub fn package(self) -> &'static str {
        match self {
            Self::Qemu => "qemu-system-x86",
            Self::Ovmf => "ovmf",
            Self::Swtpm => "swtpm swtpm-tools",
            Self::Vde => "vde2",
        }
    }

    pub fn present(self) -> bool {
        match self {
            Self::Qemu => find_in_path("qemu-system-x86_64").is_some(),
            Self::Ovmf => ovmf().is_some(),
            Self::Swtpm => find_in_path("swtpm").is_some(),
            Self::Vde => find_in_path("vde_switch").is_some(),
        }
    }
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// OVMF firmware: (code, variable-store template).
pub fn ovmf() -> Option<(PathBuf, PathBuf)> {
    [("OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd"), ("OVMF_CODE.fd", "OVMF_VARS.fd")]
        .iter()
        .map(|(c, v)| (Path::new("/usr/share/OVMF").join(c), Path::new("/usr/share/OVMF").join(v)))
        .find(|(c, v)| c.is_file() && v.is_file())
}

pub fn qemu_binary() -> Result<PathBuf, QemuError> {
    find_in_path("qemu-system-x86_64").ok_or_else(|| QemuError::Missing(install_hint(&[Tool::Qemu])))
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

fn install_hint(tools: &[Tool]) -> String {
    let packages: Vec<&str> = tools.iter().map(|t| t.package()).collect();
    format!(
        "missing host tools; install them with:\n    sudo apt-get update && sudo apt-get install -y {}",
        packages.join(" ")
    )
}

/// Makes sure `tools` are installed: installs the missing ones as root, else explains how.
pub fn ensure(tools: &[Tool]) -> Result<(), String> {
    let missing: Vec<Tool> = tools.iter().copied().filter(|t| !t.present()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        return Err(install_hint(&missing));
    }
    let packages: Vec<&str> = missing.iter().flat_map(|t| t.package().split(' ')).collect();
    eprintln!("installing {} with apt-get", packages.join(" "));
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("cannot run apt-get: {e}"))
            .and_then(|s| if s.success() { Ok(()) } else { Err(format!("apt-get {} failed", args[0])) })
    };
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(&packages);
    apt(&install)?;
    match missing.iter().find(|t| !t.present()) {
        Some(t) => Err(format!("{t:?} still missing after installing {}", t.package())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hint_names_the_exact_packages() {
        let hint = install_hint(&[Tool::Qemu, Tool::Swtpm]);
        assert!(hint.contains("sudo apt-get install -y qemu-system-x86 swtpm swtpm-tools"), "{hint}");
        let hint = install_hint(&[Tool::Vde]);
        assert!(hint.ends_with("sudo apt-get install -y vde2"), "the testnet's switch: {hint}");
    }
}
