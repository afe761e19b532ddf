//! The node: what the kernel runs once the platform is up. For now it is the boot banner and
//! an operator console on the serial line; later issues add the network, the IC interface,
//! consensus and execution as tasks of the same event loop.

use crate::boot::BootData;
use crate::executor::{self, Executor};
use crate::time::{self, Calibration, Duration};
use alloc::string::String;
use keel_abi::boot::summarize;
use keel_abi::console::Event;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const GIT_REV: &str = env!("KEEL_GIT_REV");

const MIB: u64 = 1 << 20;
/// Console input beyond this is dropped: a command line is short.
const MAX_COMMAND: usize = 128;

/// Prints who we are, what we booted on, and how long each boot phase took.
pub fn banner(boot: &BootData, calibration: &Calibration, phases: &super::Phases) {
    let memory = summarize(boot.memory_map());
    let kernel = crate::mm::layout::kernel();
    crate::println!("Keel {VERSION} (rev {GIT_REV}), booted via {:?}", boot.source);
    crate::println!("  command line: \"{}\"", boot.cmdline().0);
    crate::println!(
        "  memory: {} regions, {} MiB usable up to {:#x}, {} KiB reserved; kernel {} KiB at {:#x}; {} MiB free",
        memory.regions,
        memory.usable_bytes / MIB,
        memory.usable_end,
        memory.reserved_bytes / 1024,
        (kernel.end - kernel.start) / 1024,
        kernel.start,
        crate::mm::free_frames() as u64 * 4096 / MIB,
    );
    crate::println!(
        "  clock: TSC {} MHz, LAPIC timer {} kHz, APIC id {}, unix time {} s",
        calibration.tsc_hz / 1_000_000,
        calibration.lapic_hz / 1000,
        crate::irq::apic::id(),
        time::unix_time_nanos() / 1_000_000_000,
    );
    crate::println!("  ACPI RSDP at {:#x}", boot.rsdp);
    for (name, tsc) in [
        ("console", phases.console),
        ("memory", phases.memory),
        ("interrupts", phases.interrupts),
        ("clock", phases.clock),
    ] {
        let micros = time::ticks_to_duration(tsc.saturating_sub(phases.entry)).as_micros() as u64;
        crate::println!("{}", Event::Phase { name, micros });
    }
}

/// Runs the node's event loop forever.
pub fn run(_boot: &BootData) -> ! {
    let mut executor = Executor::new();
    executor::spawn("console", console());
    crate::println!("{}", Event::Ready { micros: time::since_boot().as_micros() as u64 });
    crate::println!("  type `help` on this console for commands; Ctrl-C in `cargo xtask run` stops QEMU");
    executor.run_until(core::future::pending::<()>());
    unreachable!("the node's main future never completes")
}

/// The operator console: line commands on the serial port.
async fn console() {
    let mut line = String::new();
    loop {
        while let Some(byte) = crate::console::try_read_byte() {
            match byte {
                b'\r' | b'\n' => {
                    crate::println!();
                    command(line.trim());
                    line.clear();
                }
                0x08 | 0x7f if line.pop().is_some() => crate::print!("\x08 \x08"),
                b if (b.is_ascii_graphic() || b == b' ') && line.len() < MAX_COMMAND => {
                    line.push(b as char);
                    crate::print!("{}", b as char);
                }
                _ => {}
            }
        }
        time::timer::sleep(Duration::from_millis(20)).await;
    }
}

fn command(cmd: &str) {
    match cmd {
        "" => {}
        "help" => crate::println!("commands: uptime, mem, stats, shutdown"),
        "uptime" => crate::println!("up {:.3} s", time::since_boot().as_secs_f64()),
        "mem" => crate::println!("{} MiB of frames free", crate::mm::free_frames() as u64 * 4096 / MIB),
        "stats" => {
            let s = executor::stats();
            crate::println!("tasks {}, polls {}, halts {}", s.tasks, s.polls, s.halts);
        }
        "shutdown" => {
            crate::println!("shutting down");
            crate::arch::qemu::exit(keel_abi::exit::ExitCode::Success)
        }
        other => crate::println!("unknown command `{other}`; try `help`"),
    }
}
