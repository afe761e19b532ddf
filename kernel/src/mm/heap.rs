//! The kernel heap: `talc`, growing on demand with contiguous runs from the frame allocator.
//!
//! Canister memory lives on this heap, so it must be able to use most of RAM without a size
//! fixed at boot.

use super::frames::FRAME_SIZE;
use core::alloc::Layout;
use talc::base::Talc;
use talc::base::binning::Binning;
use talc::source::Source;

/// Heap growth is at least this much, so small allocations do not fragment RAM into slivers.
const MIN_GROWTH: usize = 4 << 20;

/// Claims fresh frames whenever talc runs out.
#[derive(Debug)]
pub struct FrameSource;

// SAFETY: `acquire` only talks to the frame allocator (its own lock, never the heap) and
// hands talc memory that nothing else uses.
unsafe impl Source for FrameSource {
    fn acquire<B: Binning>(talc: &mut Talc<Self, B>, layout: Layout) -> Result<(), ()> {
        let bytes = (layout.size() + layout.align() + talc::min_first_heap_size::<B>())
            .max(MIN_GROWTH)
            .next_multiple_of(FRAME_SIZE as usize);
        let frames = bytes / FRAME_SIZE as usize;
        let frame = super::allocate_frames(frames, 1).ok_or(())?;
        // SAFETY: the run is fresh, identity-mapped RAM owned by the heap from now on.
        unsafe { talc.claim(frame.addr() as *mut u8, bytes) }.map(|_| ()).ok_or(())
    }
}

#[global_allocator]
static HEAP: talc::TalcLock<spin::Mutex<()>, FrameSource> = talc::TalcLock::new(FrameSource);

#[cfg(feature = "ktest")]
mod ktests {
    use crate::ktest;
    use alloc::{boxed::Box, vec::Vec};

    ktest! {
        fn heap_grows_beyond_its_first_claim() {
            let before = crate::mm::free_frames();
            let big: Vec<u8> = alloc::vec![7; 24 << 20];
            assert!(big.iter().all(|&b| b == 7));
            assert!(crate::mm::free_frames() < before);
        }
    }

    ktest! {
        fn boxes_and_vectors_round_trip() {
            let b = Box::new([1u64; 512]);
            let v: Vec<u32> = (0..10_000).collect();
            assert_eq!(b.iter().sum::<u64>(), 512);
            assert_eq!(v[9_999], 9_999);
        }
    }
}
