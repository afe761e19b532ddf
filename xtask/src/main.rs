//! `cargo xtask`: the only commands a person needs to build, boot, test and measure Keel.
//!
//! * `cargo xtask run`   — builds the release kernel and boots a one-node Keel under QEMU.
//! * `cargo xtask test`  — host tests of every crate, in-kernel tests under QEMU, end-to-end.
//! * `cargo xtask testnet` — a subnet of several nodes under QEMU until Ctrl-C.
//! * `cargo xtask sim`   — a large sweep of the consensus simulator.
//! * `cargo xtask bench` — benchmarks, printed as a table and written as JSON to target/bench.
//! * `cargo xtask image` — the flashable GPT disk image and its measurement manifest.
//! * `cargo xtask attest verify` — checks a node's attestation report against a manifest.
//!
//! Each command first makes sure the machine has what it needs (rustup targets, QEMU).
#![forbid(unsafe_code)]

mod attest;
mod bench;
mod example;
mod image;
mod run;
mod setup;
mod sim;
mod stats;
mod test;
mod testnet;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, boot, test and benchmark Keel")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the release kernel and boot a one-node Keel under QEMU (Ctrl-C stops it).
    Run(run::Args),
    /// Run all tests: host tests, in-kernel tests under QEMU, end-to-end tests.
    Test(test::Args),
    /// Boot a subnet of several nodes under QEMU (Ctrl-C stops it).
    Testnet(testnet::Args),
    /// Run benchmarks; prints a table and writes JSON under target/bench/.
    Bench(bench::Args),
    /// Build the flashable GPT disk image and its measurement manifest.
    Image(image::Args),
    /// Attestation: verify a node's report against a blessed image's manifest.
    Attest(attest::Args),
    /// Run a large sweep of the consensus simulator (failing seeds replay exactly).
    Sim(sim::Args),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Run(args) => run::run(args),
        Command::Test(args) => test::run(args),
        Command::Testnet(args) => testnet::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Image(args) => image::run(args),
        Command::Attest(args) => attest::run(args),
        Command::Sim(args) => sim::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
