//! Handing the machine to the kernel: the boot-info block, the memory map in the kernel's
//! E820 layout, `ExitBootServices`, and the jump to the kernel's UEFI entry.

use crate::LoaderError;
use crate::load::{KEEL_MEMORY, PAGE};
use crate::measure::Measured;
use core::convert::Infallible;
use core::mem::size_of;
use keel_abi::boot::{BootInfo, BootSource, MemoryKind, MemoryRegion, PhysSlice};
use uefi::boot::{self, AllocateType, MemoryType};
use uefi::mem::memory_map::MemoryMap;
use uefi::table::cfg::ConfigTableEntry;

/// Room for the converted map. OVMF hands out ~100 descriptors; merged by kind, far fewer.
const MAX_REGIONS: usize = 512;

/// Writes the boot-info block, exits boot services and jumps to `entry`. Never returns once
/// boot services are gone; errors before that are returned.
pub fn start(entry: u64, config: &[u8], measured: &Measured) -> Result<Infallible, LoaderError> {
    // Block, map and configuration in one allocation of the kernel-kept type, below 4 GiB
    // (the kernel's entry maps only the first 4 GiB until its own page tables are up).
    let regions_at = size_of::<BootInfo>().next_multiple_of(16);
    let config_at = regions_at + MAX_REGIONS * size_of::<MemoryRegion>();
    let pages = (config_at + config.len()).div_ceil(PAGE as usize);
    let base = boot::allocate_pages(AllocateType::MaxAddress(0xffff_ffff), KEEL_MEMORY, pages)
        .map_err(|e| LoaderError::Allocate(e.status()))?;
    let base_addr = base.as_ptr() as u64;
    // SAFETY: `pages` fresh pages at `base`, identity-mapped, owned by us alone.
    let block = unsafe { core::slice::from_raw_parts_mut(base.as_ptr(), pages * PAGE as usize) };
    block.fill(0);
    block[config_at..config_at + config.len()].copy_from_slice(config);

    let mut info = BootInfo::empty(BootSource::Uefi);
    info.node_config = PhysSlice { addr: base_addr + config_at as u64, len: config.len() as u64 };
    info.kernel_sha256 = measured.kernel_sha256;
    info.config_sha256 = measured.config_sha256;
    info.measured_pcrs = measured.pcrs;
    info.rsdp = uefi::system::with_config_table(|tables| {
        tables.iter().find(|t| t.guid == ConfigTableEntry::ACPI2_GUID).map_or(0, |t| t.address as u64)
    });

    // SAFETY: nothing of boot services is used after this point: no allocation, no
    // protocol, no console. The files' buffers are never freed (we never return).
    let map = unsafe { boot::exit_boot_services(Some(MemoryType::LOADER_DATA)) };
    // SAFETY: `regions_at` is inside the block, 16-byte aligned and `MAX_REGIONS` entries
    // long; MemoryRegion is plain data and all-zero is a valid value.
    let regions = unsafe {
        core::slice::from_raw_parts_mut(base.as_ptr().add(regions_at).cast::<MemoryRegion>(), MAX_REGIONS)
    };
    let count = convert(map.entries().map(|d| (d.phys_start, d.page_count * PAGE, d.ty)), regions);
    // The map's pool buffer belongs to a firmware that is gone: never free it.
    core::mem::forget(map);
    info.memory_map = PhysSlice { addr: base_addr + regions_at as u64, len: count as u64 };
    let info_ptr = base.as_ptr().cast::<BootInfo>();
    // SAFETY: the block starts with room for a BootInfo and the allocation is page-aligned.
    unsafe { info_ptr.write(info) };
    // SAFETY: `entry` is the kernel's 64-bit UEFI entry from its ELF note, loaded at its
    // physical address; it takes the boot-info pointer in rdi (SysV) and never returns. It
    // switches to its own stack and page tables before touching firmware memory.
    unsafe {
        core::arch::asm!("cli", "jmp {entry}", entry = in(reg) entry, in("rdi") info_ptr, options(noreturn))
    }
}

/// The E820 kind of a UEFI memory type. Loader and boot-services memory is free once the
/// firmware is gone; the kernel's own allocations ([`KEEL_MEMORY`]), runtime services, MMIO
/// and anything unknown stay reserved.
fn kind(ty: MemoryType) -> MemoryKind {
    match ty {
        MemoryType::CONVENTIONAL
        | MemoryType::BOOT_SERVICES_CODE
        | MemoryType::BOOT_SERVICES_DATA
        | MemoryType::LOADER_CODE
        | MemoryType::LOADER_DATA => MemoryKind::Usable,
        MemoryType::ACPI_RECLAIM => MemoryKind::AcpiReclaimable,
        MemoryType::ACPI_NON_VOLATILE => MemoryKind::AcpiNvs,
        MemoryType::UNUSABLE => MemoryKind::Unusable,
        _ => MemoryKind::Reserved,
    }
}

/// Converts descriptors to regions sorted by address, merging neighbours of the same kind.
/// Returns how many regions were written.
fn convert(descriptors: impl Iterator<Item = (u64, u64, MemoryType)>, out: &mut [MemoryRegion]) -> usize {
    let mut n = 0;
    for (start, len, ty) in descriptors {
        if n == out.len() {
            break;
        }
        out[n] = MemoryRegion::new(start, len, kind(ty));
        n += 1;
    }
    out[..n].sort_unstable_by_key(|r| r.start);
    let mut merged = 0;
    for i in 0..n {
        let r = out[i];
        if merged > 0 && out[merged - 1].kind == r.kind && out[merged - 1].end() == r.start {
            out[merged - 1].len += r.len;
        } else {
            out[merged] = r;
            merged += 1;
        }
    }
    merged
}
