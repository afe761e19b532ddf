//! The kernel's own 4-level page tables, replacing the trampoline's.
//!
//! Physical memory stays identity-mapped (so frames and DMA buffers need no translation),
//! but with protection: page 0 and the boot stack's guard page are unmapped, kernel code is
//! read-only and executable, everything else is not executable, and addresses below 4 GiB
//! that are not RAM (the MMIO hole) are mapped uncached.

use super::frames::{FRAME_SIZE, Frame, FrameAllocator};
use super::layout;
use keel_abi::boot::{MemoryKind, MemoryRegion};
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::mapper::MapToError;
use x86_64::structures::paging::{
    FrameAllocator as PtFrameAllocator, Mapper, OffsetPageTable, Page, PageSize, PageTable,
    PageTableFlags as Flags, PhysFrame, Size2MiB, Size4KiB, Translate,
};
use x86_64::{PhysAddr, VirtAddr};

const HUGE: u64 = Size2MiB::SIZE;
const FOUR_GIB: u64 = 4 << 30;

/// Lends the frame allocator to the `x86_64` mapper for page-table frames.
struct TableFrames<'a>(&'a mut FrameAllocator);

// SAFETY: frames come from the bitmap allocator, are unused and 4 KiB-aligned.
unsafe impl PtFrameAllocator<Size4KiB> for TableFrames<'_> {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        let frame = self.0.allocate()?;
        PhysFrame::from_start_address(PhysAddr::new(frame.addr())).ok()
    }
}

pub struct KernelPageTable {
    mapper: OffsetPageTable<'static>,
    root: Frame,
}

#[derive(Debug)]
pub enum PagingError {
    OutOfFrames,
    /// The page is already mapped, to the frame at this address.
    AlreadyMapped(u64),
    /// A 2 MiB mapping already covers the page.
    InsideHugePage,
}

impl<S: PageSize> From<MapToError<S>> for PagingError {
    fn from(e: MapToError<S>) -> Self {
        match e {
            MapToError::FrameAllocationFailed => Self::OutOfFrames,
            MapToError::ParentEntryHugePage => Self::InsideHugePage,
            MapToError::PageAlreadyMapped(frame) => Self::AlreadyMapped(frame.start_address().as_u64()),
        }
    }
}

impl core::fmt::Display for PagingError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OutOfFrames => write!(f, "out of physical frames for page tables"),
            Self::AlreadyMapped(frame) => write!(f, "page already mapped to frame {frame:#x}"),
            Self::InsideHugePage => write!(f, "page lies inside a 2 MiB mapping"),
        }
    }
}

impl KernelPageTable {
    /// Builds the kernel's page tables for `map`. They are not active until [`Self::activate`].
    pub fn build(map: &[MemoryRegion], frames: &mut FrameAllocator) -> Result<Self, PagingError> {
        let root = frames.allocate().ok_or(PagingError::OutOfFrames)?;
        // SAFETY: `root` is a fresh frame, identity-mapped by the boot tables; zeroing it
        // makes an empty PML4 that only this table refers to.
        let pml4 = unsafe {
            let table = &mut *(root.addr() as *mut PageTable);
            table.zero();
            table
        };
        // SAFETY: all physical memory the tables touch is identity-mapped (offset 0).
        let mapper = unsafe { OffsetPageTable::new(pml4, VirtAddr::new(0)) };
        let mut table = Self { mapper, root };
        let end = map
            .iter()
            .filter(|r| r.kind() == MemoryKind::Usable)
            .map(MemoryRegion::end)
            .fold(FOUR_GIB, u64::max)
            .next_multiple_of(HUGE);
        // 4 KiB pages where protections differ within 2 MiB: the first 2 MiB (page 0 stays
        // unmapped) and the kernel image (W^X, the stack guard page); 2 MiB pages elsewhere.
        let kernel = layout::kernel();
        let small = [0..HUGE, kernel.start & !(HUGE - 1)..kernel.end.next_multiple_of(HUGE)];
        for range in &small {
            table.map_small_pages(range.clone(), frames)?;
        }
        for chunk in (0..end).step_by(HUGE as usize).filter(|c| !small.iter().any(|r| r.contains(c))) {
            let flags = if chunk < FOUR_GIB && !overlaps_ram(map, chunk, HUGE) {
                Flags::PRESENT | Flags::WRITABLE | Flags::NO_EXECUTE | Flags::NO_CACHE | Flags::WRITE_THROUGH
            } else {
                Flags::PRESENT | Flags::WRITABLE | Flags::NO_EXECUTE
            };
            table.map_huge(chunk, flags, frames)?;
        }
        Ok(table)
    }

    /// Maps `range` with 4 KiB pages, applying the kernel image's protections; page 0 and the
    /// stack guard stay unmapped.
    fn map_small_pages(&mut self, range: core::ops::Range<u64>, frames: &mut FrameAllocator) -> Result<(), PagingError> {
        let guard = layout::boot_stack_guard();
        let (text, rodata) = (layout::text(), layout::rodata());
        for addr in range.step_by(FRAME_SIZE as usize) {
            if addr == 0 || guard.contains(&addr) {
                continue;
            }
            let flags = if text.contains(&addr) {
                Flags::PRESENT
            } else if rodata.contains(&addr) {
                Flags::PRESENT | Flags::NO_EXECUTE
            } else {
                Flags::PRESENT | Flags::WRITABLE | Flags::NO_EXECUTE
            };
            let page = Page::<Size4KiB>::containing_address(VirtAddr::new(addr));
            let frame = PhysFrame::containing_address(PhysAddr::new(addr));
            // SAFETY: identity mapping of physical memory; the protections only narrow what
            // the boot tables allowed.
            unsafe { self.mapper.map_to(page, frame, flags, &mut TableFrames(frames))?.ignore() };
        }
        Ok(())
    }

    fn map_huge(&mut self, addr: u64, flags: Flags, frames: &mut FrameAllocator) -> Result<(), PagingError> {
        let page = Page::<Size2MiB>::containing_address(VirtAddr::new(addr));
        let frame = PhysFrame::<Size2MiB>::containing_address(PhysAddr::new(addr));
        // SAFETY: identity mapping of a 2 MiB-aligned physical range.
        unsafe { self.mapper.map_to(page, frame, flags | Flags::HUGE_PAGE, &mut TableFrames(frames))?.ignore() };
        Ok(())
    }

    /// Switches the CPU to these tables.
    ///
    /// # Safety
    /// Everything the kernel uses (image, stacks, heap, boot data) must be mapped.
    pub unsafe fn activate(&self) {
        let frame = PhysFrame::containing_address(PhysAddr::new(self.root.addr()));
        // SAFETY: forwarded to the caller.
        unsafe { Cr3::write(frame, Cr3Flags::empty()) };
    }

    /// Makes the device registers at `phys..phys+len` reachable at the same address,
    /// uncached. Ranges already mapped (everything below 4 GiB and all RAM) are left alone.
    pub fn map_mmio(&mut self, phys: u64, len: u64, frames: &mut FrameAllocator) -> Result<(), PagingError> {
        let start = phys & !(FRAME_SIZE - 1);
        let end = phys.saturating_add(len).next_multiple_of(FRAME_SIZE);
        for addr in (start..end).step_by(FRAME_SIZE as usize) {
            if self.mapper.translate_addr(VirtAddr::new(addr)).is_some() {
                continue;
            }
            let page = Page::<Size4KiB>::containing_address(VirtAddr::new(addr));
            let frame = PhysFrame::containing_address(PhysAddr::new(addr));
            let flags = Flags::PRESENT | Flags::WRITABLE | Flags::NO_EXECUTE | Flags::NO_CACHE | Flags::WRITE_THROUGH;
            // SAFETY: identity mapping of device memory that was not mapped before.
            unsafe { self.mapper.map_to(page, frame, flags, &mut TableFrames(frames))?.flush() };
        }
        Ok(())
    }

    /// Whether `addr` is mapped.
    #[cfg(feature = "ktest")]
    pub fn is_mapped(&self, addr: u64) -> bool {
        self.mapper.translate_addr(VirtAddr::new(addr)).is_some()
    }
}

fn overlaps_ram(map: &[MemoryRegion], start: u64, len: u64) -> bool {
    map.iter()
        .filter(|r| r.kind() == MemoryKind::Usable)
        .any(|r| r.start < start + len && start < r.end())
}
