//! Building the kernel flavours the harness boots.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Which kernel to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// The node (release profile).
    Node,
    /// The in-kernel test runner (`ktest` profile and feature; its own output directory).
    Ktest,
}

impl Flavor {
    fn profile(self) -> &'static str {
        match self {
            Self::Node => "release",
            Self::Ktest => "ktest",
        }
    }
}

/// The workspace root (this crate lives in `<root>/qemu`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Cargo's target directory for this workspace.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"))
}

/// Builds the kernel and returns the path of its ELF. With `quiet`, cargo's progress is
/// shown only if the build fails.
pub fn kernel(flavor: Flavor, quiet: bool) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root())
        .args(["build", "--package", "keel-kernel", "--target", "x86_64-unknown-none"])
        .args(["--profile", flavor.profile()]);
    if flavor == Flavor::Ktest {
        cmd.args(["--features", "ktest"]);
    }
    if quiet {
        cmd.stderr(Stdio::piped()).stdout(Stdio::piped());
    }
    let output = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("kernel build failed:\n{}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(target_dir().join("x86_64-unknown-none").join(flavor.profile()).join("keel-kernel"))
}

/// Builds the UEFI loader (`BOOTX64.EFI`) and returns the path of the `.efi` file.
pub fn uefi_loader(quiet: bool) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root())
        .args(["build", "--package", "keel-uefi-loader", "--target", "x86_64-unknown-uefi", "--release"]);
    if quiet {
        cmd.stderr(Stdio::piped()).stdout(Stdio::piped());
    }
    let output = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("UEFI loader build failed:\n{}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(target_dir().join("x86_64-unknown-uefi").join("release").join("keel-uefi-loader.efi"))
}
