//! The page map itself.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::sync::Arc;
use core::fmt;

/// Bytes per page: the unit of dirty tracking and copy-on-write sharing.
pub const PAGE_SIZE: usize = 4096;
/// Bytes per Wasm page (the unit of `memory.grow` and `stable_grow`).
pub const WASM_PAGE_SIZE: u64 = 65536;
/// Pages per shared chunk: big enough that a clone of a large memory copies few pointers,
/// small enough that the first write after a clone copies little.
const CHUNK_PAGES: u64 = 64;

pub type PageBytes = [u8; PAGE_SIZE];

static ZERO_PAGE: PageBytes = [0; PAGE_SIZE];

/// The number of a 4 KiB page within one memory.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct PageIndex(u64);

impl PageIndex {
    pub const fn new(n: u64) -> PageIndex {
        PageIndex(n)
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    /// Byte offset of the page's first byte.
    pub const fn offset(self) -> u64 {
        self.0 * PAGE_SIZE as u64
    }

    fn chunk(self) -> u64 {
        self.0 / CHUNK_PAGES
    }

    fn slot(self) -> usize {
        // Less than CHUNK_PAGES, so the cast is lossless.
        (self.0 % CHUNK_PAGES) as usize
    }
}

/// An access beyond the end of the memory.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OutOfBounds {
    pub offset: u64,
    pub len: u64,
    pub memory_bytes: u64,
}

#[derive(Clone)]
struct Chunk {
    pages: [Option<Arc<PageBytes>>; CHUNK_PAGES as usize],
}

impl Chunk {
    fn empty() -> Chunk {
        Chunk { pages: core::array::from_fn(|_| None) }
    }

    fn is_empty(&self) -> bool {
        self.pages.iter().all(Option::is_none)
    }
}

/// A sparse, copy-on-write memory of 4 KiB pages with dirty tracking.
#[derive(Clone, Default)]
pub struct PageMap {
    chunks: BTreeMap<u64, Arc<Chunk>>,
    len_pages: u64,
    dirty: BTreeSet<PageIndex>,
}

impl PageMap {
    pub fn new() -> PageMap {
        PageMap::default()
    }

    /// Size in pages; pages at or beyond it read as zero and cannot be written.
    pub fn len_pages(&self) -> u64 {
        self.len_pages
    }

    pub fn len_bytes(&self) -> u64 {
        self.len_pages * PAGE_SIZE as u64
    }

    /// Changes the size. Shrinking drops the pages beyond the new end (marking the non-zero
    /// ones dirty, since their contents changed to "absent").
    pub fn resize(&mut self, len_pages: u64) {
        if len_pages < self.len_pages {
            let dropped: alloc::vec::Vec<PageIndex> =
                self.stored_pages().map(|(index, _)| index).filter(|index| index.get() >= len_pages).collect();
            for index in dropped {
                self.remove(index);
            }
        }
        self.len_pages = len_pages;
    }

    /// The page's bytes (all zero when it was never written or lies beyond the end).
    pub fn get_page(&self, index: PageIndex) -> &PageBytes {
        self.chunks
            .get(&index.chunk())
            .and_then(|chunk| chunk.pages[index.slot()].as_deref())
            .unwrap_or(&ZERO_PAGE)
    }

    /// Replaces a page; a no-op (not dirty) when the contents are unchanged.
    pub fn set_page(&mut self, index: PageIndex, bytes: &PageBytes) -> Result<(), OutOfBounds> {
        self.check(index.offset(), PAGE_SIZE as u64)?;
        if self.get_page(index)[..] == bytes[..] {
            return Ok(());
        }
        if bytes[..] == ZERO_PAGE[..] {
            self.remove(index);
        } else {
            let chunk = Arc::make_mut(self.chunks.entry(index.chunk()).or_insert_with(|| Arc::new(Chunk::empty())));
            chunk.pages[index.slot()] = Some(Arc::new(*bytes));
            self.dirty.insert(index);
        }
        Ok(())
    }

    /// Copies `buf.len()` bytes starting at `offset` out of the memory.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), OutOfBounds> {
        self.check(offset, buf.len() as u64)?;
        let mut done = 0usize;
        while done < buf.len() {
            let at = offset + done as u64;
            let (index, within) = split(at);
            let n = (PAGE_SIZE - within).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&self.get_page(index)[within..within + n]);
            done += n;
        }
        Ok(())
    }

    /// Copies `data` into the memory at `offset`, copying shared pages first.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), OutOfBounds> {
        self.check(offset, data.len() as u64)?;
        let mut done = 0usize;
        while done < data.len() {
            let at = offset + done as u64;
            let (index, within) = split(at);
            let n = (PAGE_SIZE - within).min(data.len() - done);
            let src = &data[done..done + n];
            if self.get_page(index)[within..within + n] != *src {
                let page = self.page_mut(index);
                page[within..within + n].copy_from_slice(src);
            }
            done += n;
        }
        Ok(())
    }

    /// Makes the map equal to `memory` (a whole linear memory, a multiple of [`PAGE_SIZE`]
    /// long), marking exactly the pages that differ as dirty.
    pub fn update_from(&mut self, memory: &[u8]) {
        let len_pages = (memory.len() / PAGE_SIZE) as u64;
        self.resize(len_pages);
        for (n, bytes) in memory.chunks_exact(PAGE_SIZE).enumerate() {
            let index = PageIndex(n as u64);
            if self.get_page(index)[..] != *bytes {
                // Length checked by `chunks_exact`; resize made the page in bounds.
                let mut page = [0u8; PAGE_SIZE];
                page.copy_from_slice(bytes);
                let _in_bounds = self.set_page(index, &page);
            }
        }
    }

    /// Pages changed since the last [`PageMap::clear_dirty`], in ascending order.
    pub fn dirty_pages(&self) -> impl Iterator<Item = PageIndex> + '_ {
        self.dirty.iter().copied()
    }

    pub fn is_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Forgets the dirty set (after a checkpoint wrote those pages).
    pub fn clear_dirty(&mut self) {
        self.dirty.clear();
    }

    /// The stored (non-zero) pages in ascending order.
    pub fn stored_pages(&self) -> impl Iterator<Item = (PageIndex, &PageBytes)> + '_ {
        self.chunks.iter().flat_map(|(chunk_no, chunk)| {
            chunk.pages.iter().enumerate().filter_map(move |(slot, page)| {
                page.as_deref().map(|bytes| (PageIndex(chunk_no * CHUNK_PAGES + slot as u64), bytes))
            })
        })
    }

    /// Same size and same bytes (dirty sets are not compared).
    pub fn content_eq(&self, other: &PageMap) -> bool {
        self.len_pages == other.len_pages
            && self.stored_pages().count() == other.stored_pages().count()
            && self.stored_pages().all(|(index, bytes)| other.get_page(index)[..] == bytes[..])
    }

    fn page_mut(&mut self, index: PageIndex) -> &mut PageBytes {
        self.dirty.insert(index);
        let chunk = Arc::make_mut(self.chunks.entry(index.chunk()).or_insert_with(|| Arc::new(Chunk::empty())));
        Arc::make_mut(chunk.pages[index.slot()].get_or_insert_with(|| Arc::new(ZERO_PAGE)))
    }

    fn remove(&mut self, index: PageIndex) {
        let Some(chunk) = self.chunks.get_mut(&index.chunk()) else { return };
        if chunk.pages[index.slot()].is_none() {
            return;
        }
        let chunk = Arc::make_mut(chunk);
        chunk.pages[index.slot()] = None;
        if chunk.is_empty() {
            self.chunks.remove(&index.chunk());
        }
        self.dirty.insert(index);
    }

    fn check(&self, offset: u64, len: u64) -> Result<(), OutOfBounds> {
        let memory_bytes = self.len_bytes();
        match offset.checked_add(len) {
            Some(end) if end <= memory_bytes => Ok(()),
            _ => Err(OutOfBounds { offset, len, memory_bytes }),
        }
    }
}

fn split(offset: u64) -> (PageIndex, usize) {
    (PageIndex(offset / PAGE_SIZE as u64), (offset % PAGE_SIZE as u64) as usize)
}

impl fmt::Debug for PageMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageMap")
            .field("len_pages", &self.len_pages)
            .field("stored_pages", &self.stored_pages().count())
            .field("dirty_pages", &self.dirty.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(len: u64) -> PageMap {
        let mut m = PageMap::new();
        m.resize(len);
        m
    }

    #[test]
    fn write_read_across_pages_and_dirty_tracking() {
        let mut m = map(4);
        let data: alloc::vec::Vec<u8> = (0..6000u32).map(|i| (i % 251) as u8 + 1).collect();
        m.write(4000, &data).unwrap();
        let mut back = alloc::vec![0u8; 6000];
        m.read(4000, &mut back).unwrap();
        assert_eq!(back, data);
        let dirty: alloc::vec::Vec<u64> = m.dirty_pages().map(PageIndex::get).collect();
        assert_eq!(dirty, [0, 1, 2]);
        m.clear_dirty();
        m.write(4000, &data[..10]).unwrap();
        assert!(!m.is_dirty(), "rewriting equal bytes must not dirty a page");
    }

    #[test]
    fn clone_is_copy_on_write() {
        let mut a = map(128);
        a.write(0, &[7; 10]).unwrap();
        a.clear_dirty();
        let mut b = a.clone();
        b.write(5, &[9]).unwrap();
        assert_eq!(a.get_page(PageIndex(0))[5], 7);
        assert_eq!(b.get_page(PageIndex(0))[5], 9);
        assert!(!a.is_dirty());
        assert_eq!(b.dirty_pages().collect::<alloc::vec::Vec<_>>(), [PageIndex(0)]);
    }

    #[test]
    fn out_of_bounds_is_an_error() {
        let mut m = map(1);
        assert!(m.write(4095, &[1, 2]).is_err());
        assert!(m.read(u64::MAX, &mut [0]).is_err());
        assert!(m.set_page(PageIndex(1), &[1; PAGE_SIZE]).is_err());
    }

    #[test]
    fn update_from_marks_only_changed_pages_and_stays_sparse() {
        let mut m = map(0);
        let mut mem = alloc::vec![0u8; PAGE_SIZE * 8];
        mem[PAGE_SIZE * 3 + 1] = 1;
        m.update_from(&mem);
        assert_eq!(m.len_pages(), 8);
        assert_eq!(m.stored_pages().count(), 1);
        m.clear_dirty();
        mem[PAGE_SIZE * 3 + 1] = 0;
        mem[10] = 5;
        m.update_from(&mem);
        assert_eq!(m.dirty_pages().map(PageIndex::get).collect::<alloc::vec::Vec<_>>(), [0, 3]);
        assert_eq!(m.stored_pages().count(), 1);
    }

    #[test]
    fn shrink_drops_pages() {
        let mut m = map(100);
        m.write(99 * PAGE_SIZE as u64, &[1]).unwrap();
        m.clear_dirty();
        m.resize(10);
        assert_eq!(m.stored_pages().count(), 0);
        assert!(m.is_dirty());
        m.resize(100);
        assert_eq!(m.get_page(PageIndex(99))[0], 0);
    }
}
