//! `BOOTX64.EFI`, the Keel UEFI loader: the hardware boot path into the same `kernel_main` as
//! QEMU's PVH path.
//!
//! 1. read `\KEEL\KERNEL.ELF` and `\KEEL\NODE.CFG` from the ESP it was started from;
//! 2. measure both: SHA-256 always, and a TCG2 `HashLogExtendEvent` into PCR 9 when the
//!    firmware has a TPM ([`measure`]);
//! 3. load the kernel's segments at their physical addresses ([`load`]);
//! 4. write the boot-info block, exit boot services, convert the memory map and jump to the
//!    kernel's 64-bit UEFI entry ([`handoff`]).
//!
//! A missing configuration is not the loader's to judge: it hands over an empty one and the
//! kernel refuses to run the node with a clear message. A kernel that cannot be loaded stops
//! here, with the reason on the console.
#![no_std]
#![no_main]
#![deny(clippy::undocumented_unsafe_blocks)]

extern crate alloc;

mod files;
mod handoff;
mod load;
mod measure;

use core::fmt;
use uefi::prelude::*;
use uefi::println;

/// Why the loader could not start the kernel.
pub enum LoaderError {
    Read { path: &'static str, status: uefi::Status },
    Kernel(keel_image::elf::ElfError),
    /// The pages the kernel is linked at are taken by the firmware.
    KernelMemory { addr: u64, pages: usize, status: uefi::Status },
    Allocate(uefi::Status),
    Tpm(uefi::Status),
}

impl fmt::Display for LoaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, status } => write!(f, "cannot read {path} from the ESP: {status:?}"),
            Self::Kernel(e) => write!(f, "kernel: {e}"),
            Self::KernelMemory { addr, pages, status } => write!(
                f,
                "the kernel's memory {addr:#x}..{:#x} is not free ({status:?}); the firmware occupies it",
                addr + *pages as u64 * 4096
            ),
            Self::Allocate(status) => write!(f, "out of boot memory: {status:?}"),
            Self::Tpm(status) => write!(f, "TPM measurement failed: {status:?}"),
        }
    }
}

#[entry]
fn main() -> Status {
    match run() {
        Ok(never) => match never {},
        Err(e) => {
            println!("keel loader: {e}");
            // Leave the message readable before the firmware moves on to the next boot option.
            boot::stall(core::time::Duration::from_secs(5));
            Status::LOAD_ERROR
        }
    }
}

fn run() -> Result<core::convert::Infallible, LoaderError> {
    println!("keel loader: reading the kernel and node configuration");
    let kernel = files::read(keel_image::paths::KERNEL)?.ok_or(LoaderError::Read {
        path: keel_image::paths::KERNEL,
        status: Status::NOT_FOUND,
    })?;
    let config = files::read(keel_image::paths::CONFIG)?.unwrap_or_default();
    let elf = keel_image::elf::Elf::parse(&kernel).map_err(LoaderError::Kernel)?;
    let entry = elf.uefi_entry().map_err(LoaderError::Kernel)?;
    // The kernel's pages first, before our own allocations can land on them.
    load::segments(&elf)?;
    let measured = measure::kernel_and_config(&kernel, &config)?;
    println!(
        "keel loader: kernel {} bytes, config {} bytes, TPM {}",
        kernel.len(),
        config.len(),
        if measured.pcrs != 0 { "measured into PCR 9" } else { "absent" }
    );
    handoff::start(entry, &config, &measured)
}
