//! `cargo xtask run`: boot one node under QEMU with its console on this terminal.

use crate::setup;
use keel_qemu::build::{self, Flavor};
use keel_qemu::{Echo, Machine, Next, Qemu};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const STATE_DISK_BYTES: u64 = 4 << 30;

#[derive(clap::Args)]
pub struct Args {
    /// Host port of the IC HTTP interface (local IC networks use 4943).
    #[arg(long, default_value_t = 4943)]
    port: u16,
    /// State disk image (created, 4 GiB sparse, if missing).
    #[arg(long, default_value = "target/keel-state.img")]
    state: PathBuf,
    /// Start from an empty state disk (deletes the old one).
    #[arg(long)]
    fresh: bool,
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
    let state = build::workspace_root().join(&args.state);
    if args.fresh && state.exists() {
        std::fs::remove_file(&state).map_err(|e| format!("cannot remove {}: {e}", state.display()))?;
    }
    if !state.exists() {
        std::fs::File::create(&state)
            .and_then(|f| f.set_len(STATE_DISK_BYTES))
            .map_err(|e| format!("cannot create {}: {e}", state.display()))?;
    }
    let mut machine = Machine::node(kernel, args.port, Some(&state));
    machine.memory_mib = args.memory;
    if let keel_qemu::Boot::Pvh { cmdline, .. } = &mut machine.boot {
        *cmdline = args.cmdline;
    }
    let mut qemu = Qemu::start(&machine, Echo::Stdout(String::new()), true).map_err(|e| e.to_string())?;

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).map_err(|e| e.to_string())?;

    let ready = qemu.wait_ready(Duration::from_secs(120)).map_err(|e| e.to_string())?;
    eprintln!(
        "\nKeel is up at http://127.0.0.1:{} (ready {:.1} ms after QEMU started, {:.1} ms of kernel time); state in {}. Ctrl-C stops it.",
        args.port,
        ready.host.as_secs_f64() * 1e3,
        ready.kernel_micros as f64 / 1e3,
        state.display()
    );
    loop {
        if stop.load(Ordering::SeqCst) {
            qemu.kill();
            eprintln!("\nstopped QEMU");
            return Ok(());
        }
        if let Next::Ended = qemu.poll_line(Duration::from_millis(100)) {
            // Ctrl-C reaches QEMU too (same process group) and it exits 0 at once; our own
            // handler may run a moment later, so give it that moment before judging.
            std::thread::sleep(Duration::from_millis(200));
            if stop.load(Ordering::SeqCst) {
                eprintln!("\nstopped QEMU (Ctrl-C)");
            } else {
                let outcome = qemu.outcome().map(|o| o.to_string()).unwrap_or_default();
                eprintln!("\nQEMU ended: {outcome}");
            }
            return Ok(());
        }
    }
}
