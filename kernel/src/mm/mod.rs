//! Memory management: the physical frame allocator, the kernel's page tables and the heap.

pub mod frames;
mod heap;
pub mod layout;
pub mod paging;

use frames::{Frame, FrameAllocator};
use keel_abi::boot::MemoryRegion;
use paging::KernelPageTable;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

static FRAMES: Mutex<Option<FrameAllocator>> = Mutex::new(None);
static PAGE_TABLE: Mutex<Option<KernelPageTable>> = Mutex::new(None);

#[derive(Debug)]
pub enum MmError {
    NoUsableMemory,
    Paging(paging::PagingError),
}

impl core::fmt::Display for MmError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoUsableMemory => write!(f, "the memory map has no usable RAM for the frame bitmap"),
            Self::Paging(e) => write!(f, "building the kernel page tables: {e}"),
        }
    }
}

/// Sets up frames and page tables from the boot memory map and switches to the new tables.
/// The heap becomes usable afterwards (it grows from the frame allocator on first use).
pub fn init(map: &[MemoryRegion]) -> Result<(), MmError> {
    without_interrupts(|| {
        // SAFETY: the map comes from the boot loader and physical memory is identity-mapped
        // by the boot page tables.
        let mut frames = unsafe { FrameAllocator::new(map) }.ok_or(MmError::NoUsableMemory)?;
        let table = KernelPageTable::build(map, &mut frames).map_err(MmError::Paging)?;
        // SAFETY: the new tables map the kernel image, its stacks and all RAM identically.
        unsafe { table.activate() };
        *FRAMES.lock() = Some(frames);
        *PAGE_TABLE.lock() = Some(table);
        Ok(())
    })
}

/// `count` contiguous frames aligned to `align` frames.
pub fn allocate_frames(count: usize, align: usize) -> Option<Frame> {
    without_interrupts(|| FRAMES.lock().as_mut()?.allocate_contiguous(count, align))
}

/// Returns frames obtained from [`allocate_frames`].
pub fn free_frames_at(frame: Frame, count: usize) {
    without_interrupts(|| {
        if let Some(frames) = FRAMES.lock().as_mut() {
            frames.free(frame, count);
        }
    });
}

/// Frames not in use.
pub fn free_frames() -> usize {
    without_interrupts(|| FRAMES.lock().as_ref().map_or(0, FrameAllocator::free_frames))
}

/// Identity-maps device registers (uncached) for a driver.
pub fn map_mmio(phys: u64, len: u64) -> Result<(), paging::PagingError> {
    without_interrupts(|| {
        let mut frames = FRAMES.lock();
        let mut table = PAGE_TABLE.lock();
        match (frames.as_mut(), table.as_mut()) {
            (Some(f), Some(t)) => t.map_mmio(phys, len, f),
            _ => Err(paging::PagingError::OutOfFrames),
        }
    })
}

/// Whether the kernel's page tables map `addr` (for tests of the mappings).
#[cfg(feature = "ktest")]
pub fn is_mapped(addr: u64) -> bool {
    without_interrupts(|| PAGE_TABLE.lock().as_ref().is_some_and(|t| t.is_mapped(addr)))
}

#[cfg(feature = "ktest")]
mod ktests {
    use super::*;
    use crate::ktest;

    ktest! {
        fn null_page_and_stack_guard_are_unmapped() {
            assert!(!is_mapped(0));
            assert!(!is_mapped(layout::boot_stack_guard().start));
            assert!(is_mapped(layout::boot_stack().start));
            assert!(is_mapped(layout::text().start));
        }
    }

    ktest! {
        fn mmio_above_ram_can_be_mapped() {
            let addr = 0x80_0000_0000; // 512 GiB: no RAM here in any test machine
            assert!(!is_mapped(addr));
            map_mmio(addr, 8192).expect("map");
            assert!(is_mapped(addr) && is_mapped(addr + 4096));
        }
    }
}
