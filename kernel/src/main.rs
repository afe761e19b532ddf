//! The Keel kernel: the bootable binary of a node.
//!
//! It owns the platform: boot entry ([`boot`]), memory ([`mm`]), interrupts ([`irq`]), time
//! ([`time`]) and the event loop ([`executor`]). Everything a node *does* (consensus,
//! execution, the IC interface) lives in host-tested, `unsafe`-free crates that the node
//! main loop drives. All `unsafe` of the platform is here, each block with its `SAFETY`.
#![no_std]
#![no_main]
#![deny(clippy::undocumented_unsafe_blocks)]

extern crate alloc;

mod arch;
mod attest;
mod boot;
mod console;
mod executor;
mod irq;
mod devices;
mod ktest;
mod mm;
mod net;
mod node;
mod panic;
mod time;
mod storage;

use boot::BootData;
use keel_abi::boot::BootInfo;

/// Boot phases, as TSC readings, for the banner and `xtask bench boot`.
struct Phases {
    entry: u64,
    console: u64,
    memory: u64,
    interrupts: u64,
    clock: u64,
}

/// The one entry both boot paths reach, on the boot stack with interrupts off.
pub fn kernel_main(info: &BootInfo) -> ! {
    let entry = boot::pvh::boot_tsc();
    console::init();
    // SAFETY: both loaders hand over a block whose slices point at identity-mapped memory.
    let boot = match unsafe { BootData::capture(info) } {
        Ok(boot) => boot,
        Err(e) => panic!("unusable boot information: {e}"),
    };
    let cmdline = boot.cmdline();
    console::init_log(cmdline.get("log"));
    let console_ready = time::tsc::read();

    arch::gdt::init();
    irq::init();
    if let Err(e) = mm::init(boot.memory_map()) {
        panic!("memory set-up failed: {e}");
    }
    let memory_ready = time::tsc::read();

    irq::apic::init();
    let interrupts_ready = time::tsc::read();
    let calibration = time::init();
    irq::enable();
    let clock_ready = time::tsc::read();

    let phases = Phases {
        entry,
        console: console_ready,
        memory: memory_ready,
        interrupts: interrupts_ready,
        clock: clock_ready,
    };
    node::banner(&boot, &calibration, &phases);
    attest::at_boot(&boot);

    // `cfg!` rather than `#[cfg]`: both paths are type-checked in every build.
    if cfg!(feature = "ktest") {
        ktest::run_all(cmdline.get("ktest"))
    } else {
        node::run(&boot)
    }
}
