//! Loading the kernel's segments at the physical addresses it is linked for.
//!
//! The kernel is linked at 32 MiB and runs identity-mapped, so its pages must be exactly
//! there: `AllocatePages(AllocateAddress)` claims them from the firmware. OVMF, like most
//! firmware, allocates top-down, so the loader's own buffers land high. Its memory map below
//! 32 MiB (QEMU 7.2, q35, 512 MiB) is: 1 MiB..0x806000 conventional; 0x806000..0x808000 and
//! 0x810000..0x900000 ACPI NVS (S3 data the OS must preserve: no loader trick such as copying
//! the kernel down after `ExitBootServices` may overwrite it); 0x900000..0x1500000 boot-services
//! data; conventional above. So the kernel is linked at 32 MiB, above those regions, where its
//! size is not squeezed: `keel_image::disk` refuses an image whose kernel overlaps them, and
//! if a firmware occupies the range anyway, the loader stops and lists what is in the way.
//! Both boot paths load the kernel wherever its program headers say.

use crate::LoaderError;
use keel_image::elf::Elf;
use uefi::boot::{self, AllocateType, MemoryType};
use uefi::mem::memory_map::MemoryMap;
use uefi::println;

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
    let base = boot::allocate_pages(AllocateType::Address(start), KEEL_MEMORY, pages).map_err(|e| {
        report_occupants(start, start + pages as u64 * PAGE);
        LoaderError::KernelMemory { addr: start, pages, status: e.status() }
    })?;
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

/// Prints the firmware's memory-map entries that are not free in `start..end`, so a kernel
/// that outgrew the firmware's free low window says what is in its way.
fn report_occupants(start: u64, end: u64) {
    let Ok(map) = boot::memory_map(MemoryType::LOADER_DATA) else { return };
    for d in map.entries() {
        let (d_start, d_end) = (d.phys_start, d.phys_start + d.page_count * PAGE);
        if d_start < end && start < d_end && d.ty != MemoryType::CONVENTIONAL {
            println!("keel loader: {d_start:#x}..{d_end:#x} is {:?}", d.ty);
        }
    }
}
