//! `cargo xtask testnet`: a subnet of several nodes under QEMU until Ctrl-C.
//!
//! The testnet is `keel_e2e::Testnet`, the same one the end-to-end test boots, run by the
//! `keel-e2e` example `testnet` (like the benches): so xtask itself stays free of the IC
//! client and replica crates that `cargo xtask run` does not need.

use crate::setup;

#[derive(clap::Args)]
pub struct Args {
    /// Members of the subnet.
    #[arg(long, default_value_t = 4)]
    nodes: u32,
    /// Node i serves the IC HTTP interface on 127.0.0.1:(base-port + i).
    #[arg(long, default_value_t = 4943)]
    base_port: u16,
    /// Guest memory of each node in MiB.
    #[arg(long, default_value_t = 512)]
    memory: u32,
    /// Do not print the nodes' consoles.
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: Args) -> Result<(), String> {
    setup::machine_with_testnet()?;
    if args.nodes == 0 {
        return Err("a testnet needs at least one node".into());
    }
    // Ctrl-C reaches the whole foreground process group: the example stops the testnet
    // and cleans up by itself, and this process waits for it to finish doing so.
    ctrlc::set_handler(|| {}).map_err(|e| e.to_string())?;
    let mut example_args = vec![
        "--nodes".to_owned(),
        args.nodes.to_string(),
        "--base-port".to_owned(),
        args.base_port.to_string(),
        "--memory".to_owned(),
        args.memory.to_string(),
    ];
    if args.quiet {
        example_args.push("--quiet".to_owned());
    }
    crate::example::run("keel-e2e", "testnet", &[], &example_args)
}
