//! The physical frame allocator: one bit per 4 KiB frame, set when the frame is in use.
//!
//! A bitmap is small (32 KiB per GiB of RAM), needs no heap, and finds contiguous runs for
//! DMA buffers and heap growth. Frames below 1 MiB, the kernel image and the bitmap itself
//! are never handed out.

use super::layout;
use keel_abi::boot::{MemoryKind, MemoryRegion};

pub const FRAME_SIZE: u64 = 4096;
const LOW_MEMORY_END: u64 = 0x10_0000;

/// The physical address of a 4 KiB-aligned frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Frame(u64);

impl Frame {
    /// The frame starting at `addr` (rounded down to a frame boundary).
    pub const fn at(addr: u64) -> Self {
        Self(addr & !(FRAME_SIZE - 1))
    }

    pub const fn addr(self) -> u64 {
        self.0
    }

    const fn index(self) -> usize {
        (self.0 / FRAME_SIZE) as usize
    }

    const fn from_index(index: usize) -> Self {
        Self(index as u64 * FRAME_SIZE)
    }
}

pub struct FrameAllocator {
    bitmap: &'static mut [u64],
    frames: usize,
    free: usize,
    /// Where the next single-frame search starts: allocation is mostly sequential.
    hint: usize,
}

impl FrameAllocator {
    /// Builds the allocator over `map`, placing its bitmap in the first usable range above
    /// the kernel that can hold it.
    ///
    /// # Safety
    /// `map` must describe this machine's memory, usable regions must be unused by anything
    /// but the kernel image, and physical memory must be identity-mapped.
    pub unsafe fn new(map: &[MemoryRegion]) -> Option<Self> {
        let end = map
            .iter()
            .filter(|r| r.kind() == MemoryKind::Usable)
            .map(MemoryRegion::end)
            .max()?;
        let frames = end.div_ceil(FRAME_SIZE) as usize;
        let words = frames.div_ceil(64);
        let bytes = (words * 8) as u64;
        let kernel_end = layout::kernel().end;
        let home = map.iter().filter(|r| r.kind() == MemoryKind::Usable).find_map(|r| {
            let start = align_up(r.start.max(kernel_end).max(LOW_MEMORY_END), FRAME_SIZE);
            (start.checked_add(bytes)? <= r.end()).then_some(start)
        })?;
        // SAFETY: `home..home+bytes` is usable RAM outside the kernel image (found above),
        // identity-mapped per the caller's contract, and nothing else refers to it.
        let bitmap = unsafe { core::slice::from_raw_parts_mut(home as *mut u64, words) };
        bitmap.fill(u64::MAX);
        let mut allocator = Self { bitmap, frames, free: 0, hint: 0 };
        for region in map.iter().filter(|r| r.kind() == MemoryKind::Usable) {
            let start = align_up(region.start, FRAME_SIZE);
            let end = region.end() & !(FRAME_SIZE - 1);
            allocator.set_range(start, end, false);
        }
        allocator.set_range(0, LOW_MEMORY_END, true);
        allocator.set_range(layout::kernel().start, align_up(kernel_end, FRAME_SIZE), true);
        allocator.set_range(home, align_up(home + bytes, FRAME_SIZE), true);
        Some(allocator)
    }

    fn set_range(&mut self, start: u64, end: u64, used: bool) {
        let first = (start / FRAME_SIZE) as usize;
        let last = ((end / FRAME_SIZE) as usize).min(self.frames);
        for index in first..last {
            self.set(index, used);
        }
    }

    fn is_used(&self, index: usize) -> bool {
        self.bitmap[index / 64] & (1 << (index % 64)) != 0
    }

    fn set(&mut self, index: usize, used: bool) {
        let was = self.is_used(index);
        if used {
            self.bitmap[index / 64] |= 1 << (index % 64);
        } else {
            self.bitmap[index / 64] &= !(1 << (index % 64));
        }
        match (was, used) {
            (true, false) => self.free += 1,
            (false, true) => self.free -= 1,
            _ => {}
        }
    }

    /// One frame, or `None` when memory is exhausted.
    pub fn allocate(&mut self) -> Option<Frame> {
        self.allocate_contiguous(1, 1)
    }

    /// `count` physically contiguous frames whose first frame index is a multiple of
    /// `align` frames.
    pub fn allocate_contiguous(&mut self, count: usize, align: usize) -> Option<Frame> {
        let align = align.max(1);
        let start = self.search(self.hint, count, align).or_else(|| self.search(0, count, align))?;
        for index in start..start + count {
            self.set(index, true);
        }
        if count == 1 {
            self.hint = start + 1;
        }
        Some(Frame::from_index(start))
    }

    fn search(&self, from: usize, count: usize, align: usize) -> Option<usize> {
        let mut start = from.next_multiple_of(align);
        while start + count <= self.frames {
            // Skip whole used words quickly: most of a busy bitmap is full.
            if start.is_multiple_of(64) && self.bitmap[start / 64] == u64::MAX {
                start = (start + 64).next_multiple_of(align);
                continue;
            }
            match (start..start + count).find(|&i| self.is_used(i)) {
                None => return Some(start),
                Some(used) => start = (used + 1).next_multiple_of(align),
            }
        }
        None
    }

    /// Returns `count` frames starting at `frame`.
    pub fn free(&mut self, frame: Frame, count: usize) {
        let start = frame.index();
        for index in start..(start + count).min(self.frames) {
            self.set(index, false);
        }
        self.hint = self.hint.min(start);
    }

    pub fn free_frames(&self) -> usize {
        self.free
    }
}

pub const fn align_up(value: u64, align: u64) -> u64 {
    value.next_multiple_of(align)
}

#[cfg(feature = "ktest")]
mod ktests {
    use super::*;
    use crate::ktest;
    use crate::mm;

    ktest! {
        fn frames_are_aligned_distinct_and_reusable() {
            let before = mm::free_frames();
            let a = mm::allocate_frames(1, 1).expect("a frame");
            let b = mm::allocate_frames(1, 1).expect("another frame");
            assert_ne!(a, b);
            assert_eq!(a.addr() % FRAME_SIZE, 0);
            assert_eq!(mm::free_frames(), before - 2);
            mm::free_frames_at(a, 1);
            mm::free_frames_at(b, 1);
            assert_eq!(mm::free_frames(), before);
        }
    }

    ktest! {
        fn contiguous_runs_respect_alignment() {
            let run = mm::allocate_frames(512, 512).expect("a 2 MiB-aligned run");
            assert_eq!(run.addr() % (2 << 20), 0);
            mm::free_frames_at(run, 512);
        }
    }

    ktest! {
        fn never_hands_out_low_memory_or_the_kernel() {
            let frames: [Frame; 64] = core::array::from_fn(|_| mm::allocate_frames(1, 1).expect("frame"));
            for f in frames {
                assert!(f.addr() >= LOW_MEMORY_END);
                assert!(!layout::kernel().contains(&f.addr()));
            }
            for f in frames {
                mm::free_frames_at(f, 1);
            }
        }
    }
}
