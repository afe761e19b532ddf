//! Loading the kernel's segments at the physical addresses it is linked for.
//!
//! The kernel is linked at 1 MiB and runs identity-mapped, so its pages must be exactly
//! there: `AllocatePages(AllocateAddress)` claims them from the firmware. This is done before
//! the loader allocates anything else, and OVMF (like most firmware) allocates top-down and
//! keeps 1 MiB..8 MiB free for the OS loader, so the range is free in practice. If the
//! firmware does occupy it, the loader stops with an error naming the range rather than
//! overwriting firmware memory.

use crate::LoaderError;
use keel_image::elf::Elf;
use uefi::boot::{self, AllocateType, MemoryType};

pub const PAGE: u64 = 4096;

/// The memory type of everything the kernel keeps after boot (its image, the boot-info
/// block, the configuration): an OS-vendor type, so the memory-map conversion can tell it
/// apart from loader scratch memory and mark it reserved.
pub const KEEL_MEMORY: MemoryType = MemoryType(0x8000_4b45);

/// Claims the kernel's whole physical span, zeroes it (so `.bss` and the gaps between
/// segments start at zero) and copies every `PT_LOAD` segment to its physical address.
pub fn segments(elf: &Elf<'_>) -> Result<(), LoaderError> {
    let (low, high) = elf.phys_span();
    let start = low & !(PAGE - 1);
    let pages = ((high.next_multiple_of(PAGE) - start) / PAGE) as usize;
    let base = boot::allocate_pages(AllocateType::Address(start), KEEL_MEMORY, pages)
        .map_err(|e| LoaderError::KernelMemory { addr: start, pages, status: e.status() })?;
    // SAFETY: the firmware just gave us `pages` pages at `base` = `start` (identity-mapped
    // during boot services); nothing else refers to them.
    let memory = unsafe { core::slice::from_raw_parts_mut(base.as_ptr(), pages * PAGE as usize) };
    memory.fill(0);
    for segment in elf.segments() {
        let offset = (segment.phys_addr - start) as usize;
        let data = elf.data(&segment);
        memory[offset..offset + data.len()].copy_from_slice(data);
    }
    Ok(())
}
