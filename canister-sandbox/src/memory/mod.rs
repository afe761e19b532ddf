//! Canister memory as pages.
//!
//! A [`PageMap`] is a sparse array of 4 KiB pages. Pages live in chunks of 64 behind `Arc`s,
//! so cloning a map (a snapshot, a fork, the working copy of an execution) copies only the
//! chunk pointers, and a write copies just the one chunk and page it touches. Pages that are
//! all zero are not stored. Every page whose contents changed since [`PageMap::clear_dirty`]
//! is listed by [`PageMap::dirty_pages`], which is what incremental checkpoints write.

mod page_map;

pub use page_map::{OutOfBounds, PageBytes, PageIndex, PageMap, PAGE_SIZE, WASM_PAGE_SIZE};
