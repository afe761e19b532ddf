//! Stable memory (64-bit API and the deprecated 32-bit one) over the working [`PageMap`].
//!
//! [`PageMap`]: crate::memory::PageMap

use alloc::format;

use super::host::Host;
use crate::error::ExecutionError;
use crate::memory::{PAGE_SIZE, WASM_PAGE_SIZE};

type R = Result<u64, ExecutionError>;

const PAGES_PER_WASM_PAGE: u64 = WASM_PAGE_SIZE / PAGE_SIZE as u64;
/// The 32-bit API addresses at most 4 GiB (65536 Wasm pages).
const MAX_STABLE32_WASM_PAGES: u64 = 1 << 16;
/// Returned by `stable_grow`/`stable64_grow` on failure.
const GROW_FAILED: u64 = u64::MAX;

fn size_wasm_pages(h: &Host) -> u64 {
    h.stable.len_pages() / PAGES_PER_WASM_PAGE
}

fn grow(h: &mut Host, additional: u64, max_wasm_pages: u64) -> u64 {
    let old = size_wasm_pages(h);
    let limit = max_wasm_pages.min(h.stable_limit / WASM_PAGE_SIZE);
    match old.checked_add(additional) {
        Some(new) if new <= limit => {
            h.stable.resize(new * PAGES_PER_WASM_PAGE);
            old
        }
        _ => {
            h.memory_limit_hit = true;
            GROW_FAILED
        }
    }
}

fn write(h: &mut Host, function: &str, heap: &mut [u8], offset: u64, src: u64, size: u64) -> R {
    let data = Host::heap_slice(function, heap, src, size)?;
    h.stable
        .write(offset, data)
        .map_err(|e| ExecutionError::Trapped(format!("ic0.{function}: stable memory out of bounds (offset {}, size {}, stable size {})", e.offset, e.len, e.memory_bytes)))?;
    h.charge_bytes(size);
    Ok(0)
}

fn read(h: &mut Host, function: &str, heap: &mut [u8], dst: u64, offset: u64, size: u64) -> R {
    let target = usize::try_from(dst)
        .ok()
        .zip(usize::try_from(size).ok())
        .and_then(|(start, len)| start.checked_add(len).filter(|end| *end <= heap.len()).map(|end| start..end))
        .ok_or_else(|| ExecutionError::Trapped(format!("ic0.{function}: heap out of bounds (offset {dst}, size {size})")))?;
    h.stable
        .read(offset, &mut heap[target])
        .map_err(|e| ExecutionError::Trapped(format!("ic0.{function}: stable memory out of bounds (offset {}, size {}, stable size {})", e.offset, e.len, e.memory_bytes)))?;
    h.charge_bytes(size);
    Ok(0)
}

pub(super) fn size64(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    Ok(size_wasm_pages(h))
}

pub(super) fn grow64(h: &mut Host, _: &mut [u8], a: &[u64]) -> R {
    Ok(grow(h, a[0], u64::MAX))
}

pub(super) fn write64(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    write(h, "stable64_write", heap, a[0], a[1], a[2])
}

pub(super) fn read64(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    read(h, "stable64_read", heap, a[0], a[1], a[2])
}

pub(super) fn size32(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    let pages = size_wasm_pages(h);
    if pages > MAX_STABLE32_WASM_PAGES {
        return Err(ExecutionError::ContractViolation(
            "ic0.stable_size: stable memory is larger than 4 GiB; use ic0.stable64_size".into(),
        ));
    }
    Ok(pages)
}

pub(super) fn grow32(h: &mut Host, _: &mut [u8], a: &[u64]) -> R {
    if size_wasm_pages(h) > MAX_STABLE32_WASM_PAGES {
        return Err(ExecutionError::ContractViolation(
            "ic0.stable_grow: stable memory is larger than 4 GiB; use ic0.stable64_grow".into(),
        ));
    }
    Ok(grow(h, a[0], MAX_STABLE32_WASM_PAGES))
}

pub(super) fn write32(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    write(h, "stable_write", heap, a[0], a[1], a[2])
}

pub(super) fn read32(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    read(h, "stable_read", heap, a[0], a[1], a[2])
}
