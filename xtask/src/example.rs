//! Running a crate's example binary in release mode: benchmarks and the consensus simulator
//! live next to the code they exercise.

use crate::setup;
use keel_qemu::build;

/// `cargo run --release --package <package> --example <name> [features] -- <args>`.
pub fn run(package: &str, name: &str, features: &[&str], args: &[String]) -> Result<(), String> {
    setup::step(&format!("{package}: cargo run --release --example {name} {}", args.join(" ")));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .current_dir(build::workspace_root())
        .args(["run", "--quiet", "--release", "--package", package, "--example", name])
        .args(features)
        .arg("--")
        .args(args)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{package} example {name} failed")) }
}
