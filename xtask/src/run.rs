//! `cargo xtask run`: boot one node under QEMU with its console on this terminal.

use crate::setup;
use keel_qemu::build::{self, Flavor};
use keel_qemu::{Echo, Machine, Next, Qemu};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// Guest memory in MiB.
    #[arg(long, default_value_t = 1024)]
    memory: u32,
    /// Extra kernel command line (e.g. `log=debug`).
    #[arg(long, default_value = "")]
    cmdline: String,
}

pub fn run(args: Args) -> Result<(), String> {
    setup::machine()?;
    setup::step("building the release kernel");
    let kernel = build::kernel(Flavor::Node, false)?;
    setup::step(&format!("booting {} under QEMU (TCG)", kernel.display()));
    let mut machine = Machine::pvh(kernel, args.cmdline);
    machine.memory_mib = args.memory;
    let mut qemu = Qemu::start(&machine, Echo::Stdout(String::new()), true).map_err(|e| e.to_string())?;

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).map_err(|e| e.to_string())?;

    let ready = qemu.wait_ready(Duration::from_secs(120)).map_err(|e| e.to_string())?;
    eprintln!(
        "\nKeel is up: ready {:.1} ms after QEMU started ({:.1} ms of kernel time). Ctrl-C stops it.",
        ready.host.as_secs_f64() * 1e3,
        ready.kernel_micros as f64 / 1e3
    );
    loop {
        if stop.load(Ordering::SeqCst) {
            qemu.kill();
            eprintln!("\nstopped QEMU");
            return Ok(());
        }
        if let Next::Ended = qemu.poll_line(Duration::from_millis(100)) {
            let outcome = qemu.outcome().map(|o| o.to_string()).unwrap_or_default();
            eprintln!("\nQEMU ended: {outcome}");
            return Ok(());
        }
    }
}
