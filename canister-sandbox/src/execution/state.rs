//! The persistent state of a canister that executions read and (on success) replace.

use alloc::vec::Vec;

use crate::memory::PageMap;

/// The value of a persisted mutable global (floats as raw bits: exact and deterministic).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum GlobalValue {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
}

/// Heap, stable memory and globals of one canister. `Clone` is copy-on-write: use it for
/// snapshots, forks and the state a query runs on.
#[derive(Clone, Debug, Default)]
pub struct CanisterState {
    /// The Wasm linear memory (its length is a multiple of the 64 KiB Wasm page).
    pub heap: PageMap,
    /// Stable memory (its length is a multiple of the 64 KiB Wasm page).
    pub stable: PageMap,
    /// Mutable globals of the module, in index order.
    pub globals: Vec<GlobalValue>,
}

impl CanisterState {
    /// An empty canister: no heap, no stable memory.
    pub fn new() -> CanisterState {
        CanisterState::default()
    }

    /// Drops heap and globals but keeps stable memory (upgrade and reinstall keep only stable).
    pub fn clear_heap(&mut self) {
        self.heap.resize(0);
        self.globals.clear();
    }

    /// Heap plus stable memory in bytes (what storage is charged for).
    pub fn memory_bytes(&self) -> u64 {
        self.heap.len_bytes() + self.stable.len_bytes()
    }

    /// Pages changed since the last `clear_dirty` in heap and stable memory.
    pub fn dirty_page_count(&self) -> u64 {
        (self.heap.dirty_pages().count() + self.stable.dirty_pages().count()) as u64
    }

    pub fn clear_dirty(&mut self) {
        self.heap.clear_dirty();
        self.stable.clear_dirty();
    }
}
