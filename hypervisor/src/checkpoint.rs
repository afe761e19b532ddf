//! Orthogonal persistence: incremental, checksummed, crash-atomic checkpoints plus a
//! log of finalized blocks since the newest checkpoint.
//!
//! # On-disk format (version [`FORMAT_VERSION`])
//! * Blocks 0 and 1 are two superblock slots. Checkpoint generation `g` is committed by
//!   writing its superblock into slot `g % 2`, so the previous generation's superblock is
//!   never overwritten by the commit of the next one. Each superblock is checksummed; a
//!   torn superblock write reads as invalid and the other slot wins.
//! * Every other block is allocated copy-on-write: a checkpoint only ever writes blocks
//!   that the committed checkpoint does not reference, so a crash at any write leaves the
//!   committed checkpoint and its log intact. Blocks become reusable only once a newer
//!   superblock is durable.
//! * A page is one raw block; its SHA-256 (over memory key, page index and data) lives in
//!   the manifest, so a torn or misdirected page write is detected on recovery.
//! * A manifest is a checksummed blob (a chain of blocks) holding the state metadata, the
//!   list of live memories, the page entries written by this checkpoint and the reserved
//!   block where the block log of this generation starts. A *delta* manifest points to its
//!   predecessor; a *full* one lists every page. Checkpoint cost is linear in the dirty
//!   pages: a full manifest is written only when the deltas of the chain together have as
//!   many entries as the page table (amortised linear) or the chain reaches
//!   [`MAX_CHAIN`] (bounds recovery reads).
//! * The block log is a chain of checksummed records, each naming its height and the hash
//!   of the previous record, and the block reserved for the next record. Recovery reads
//!   records until the first invalid one: a torn append is simply not part of the log.
//!
//! Write ordering: pages and manifest, flush, superblock, flush. Log appends flush before
//! returning, so the caller may release replies for the logged block afterwards.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use crate::block_device::{BLOCK_SIZE, Block, BlockDevice, DeviceError};
use crate::codec::{DecodeError, Reader, Writer, sha256};
use crate::ids::{Height, MemoryKey, PageIndex};

/// Version of the on-disk format written by this code; recovery refuses other versions
/// rather than misreading them.
pub const FORMAT_VERSION: u32 = 1;
/// Longest delta-manifest chain before a full manifest is forced.
pub const MAX_CHAIN: u32 = 64;

const SUPERBLOCK_MAGIC: [u8; 8] = *b"KEELSUPR";
const BLOB_MAGIC: u32 = 0x4b45_424c;
const BLOB_HEADER: usize = 80;
const BLOB_PAYLOAD: usize = BLOCK_SIZE - BLOB_HEADER;
/// Sentinel for "no next block".
const NONE: u64 = u64::MAX;
/// Blocks 0 and 1 hold the superblock slots.
const FIRST_DATA_BLOCK: u64 = 2;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CheckpointError {
    Device(DeviceError),
    /// No free block is left on the device.
    DeviceFull,
    /// Neither superblock slot leads to a valid checkpoint.
    NoValidCheckpoint,
    /// The device holds a format this code does not read.
    UnsupportedVersion(u32),
    /// A structure failed its checksum or did not decode.
    Corrupt,
    /// The log only accepts the next height, and a checkpoint must cover the whole log.
    HeightOutOfOrder { expected: Height, got: Height },
    /// The log needs a checkpoint to replay from.
    NotFormatted,
    /// A page passed to a checkpoint is not exactly one block long.
    BadPageSize,
}

impl From<DeviceError> for CheckpointError {
    fn from(e: DeviceError) -> Self {
        CheckpointError::Device(e)
    }
}

impl From<DecodeError> for CheckpointError {
    fn from(_: DecodeError) -> Self {
        CheckpointError::Corrupt
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum BlobKind {
    Manifest = 1,
    Log = 2,
}

#[derive(Clone, Copy, Debug)]
struct PageLoc {
    block: u64,
    checksum: [u8; 32],
}

/// Everything recovery hands back: the checkpointed state and the blocks to replay.
#[derive(Debug)]
pub struct Recovered {
    /// Height of the checkpointed state.
    pub height: Height,
    /// The state metadata blob given to [`Store::checkpoint`].
    pub meta: Vec<u8>,
    /// The pages of every live memory (pages never written are absent = zero).
    pub memories: BTreeMap<MemoryKey, BTreeMap<PageIndex, Box<Block>>>,
    /// Logged blocks after the checkpoint, in height order, to replay.
    pub log: Vec<(Height, Vec<u8>)>,
}

/// A persistent store on a block device: the committed checkpoint plus its block log.
#[derive(Debug)]
pub struct Store<D> {
    dev: D,
    generation: u64,
    height: Height,
    manifest_head: u64,
    chain_blocks: Vec<u64>,
    chain_len: u32,
    chain_entries: u64,
    /// Where each page of each memory lives, as of the committed checkpoint.
    pages: BTreeMap<MemoryKey, BTreeMap<PageIndex, PageLoc>>,
    page_count: u64,
    log_blocks: Vec<u64>,
    log_next: u64,
    log_height: Height,
    log_prev: [u8; 32],
    /// Blocks the committed checkpoint and its log reference: never overwritten.
    live: BTreeSet<u64>,
    cursor: u64,
}

fn superblock_encode(generation: u64, height: Height, manifest_head: u64) -> Block {
    let mut b = [0u8; BLOCK_SIZE];
    let mut w = Writer::new();
    w.raw(&SUPERBLOCK_MAGIC).u32(FORMAT_VERSION).u64(generation).u64(height.0).u64(manifest_head);
    let body = w.finish();
    let sum = sha256(&[&body]);
    b[..body.len()].copy_from_slice(&body);
    b[body.len()..body.len() + 32].copy_from_slice(&sum);
    b
}

/// `(generation, height, manifest_head)` of a valid superblock.
fn superblock_decode(b: &Block) -> Result<(u64, Height, u64), CheckpointError> {
    let mut r = Reader::new(b);
    let magic = r.array::<8>()?;
    if magic != SUPERBLOCK_MAGIC {
        return Err(CheckpointError::Corrupt);
    }
    let version = r.u32()?;
    let generation = r.u64()?;
    let height = Height(r.u64()?);
    let head = r.u64()?;
    let sum = r.array::<32>()?;
    if sum != sha256(&[&b[..36]]) {
        return Err(CheckpointError::Corrupt);
    }
    if version != FORMAT_VERSION {
        return Err(CheckpointError::UnsupportedVersion(version));
    }
    Ok((generation, height, head))
}

fn page_checksum(key: MemoryKey, index: PageIndex, data: &[u8]) -> [u8; 32] {
    sha256(&[&key.0.to_le_bytes(), &index.get().to_le_bytes(), data])
}

/// One decoded manifest.
struct Manifest {
    height: Height,
    full: bool,
    prev: Option<(u64, u64)>,
    meta: Vec<u8>,
    live_keys: BTreeSet<MemoryKey>,
    entries: Vec<(MemoryKey, PageIndex, PageLoc)>,
    log_head: u64,
    chain_len: u32,
    chain_entries: u64,
}

impl Manifest {
    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(FORMAT_VERSION).u64(self.height.0).bool(self.full);
        match self.prev {
            Some((head, generation)) => w.u8(1).u64(head).u64(generation),
            None => w.u8(0),
        };
        w.bytes(&self.meta).u32(self.live_keys.len() as u32);
        for k in &self.live_keys {
            w.u64(k.0);
        }
        w.u32(self.entries.len() as u32);
        for (k, i, loc) in &self.entries {
            w.u64(k.0).u64(i.get()).u64(loc.block).raw(&loc.checksum);
        }
        w.u64(self.log_head).u32(self.chain_len).u64(self.chain_entries);
        w.finish()
    }

    fn decode(bytes: &[u8]) -> Result<Manifest, CheckpointError> {
        let mut r = Reader::new(bytes);
        let version = r.u32()?;
        if version != FORMAT_VERSION {
            return Err(CheckpointError::UnsupportedVersion(version));
        }
        let height = Height(r.u64()?);
        let full = r.bool()?;
        let prev = match r.u8()? {
            0 => None,
            1 => Some((r.u64()?, r.u64()?)),
            _ => return Err(CheckpointError::Corrupt),
        };
        let meta = r.bytes()?.to_vec();
        let mut live_keys = BTreeSet::new();
        for _ in 0..r.count()? {
            live_keys.insert(MemoryKey(r.u64()?));
        }
        let n = r.count()?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let k = MemoryKey(r.u64()?);
            let i = PageIndex::new(r.u64()?);
            let block = r.u64()?;
            let checksum = r.array()?;
            entries.push((k, i, PageLoc { block, checksum }));
        }
        let log_head = r.u64()?;
        let chain_len = r.u32()?;
        let chain_entries = r.u64()?;
        r.end()?;
        Ok(Manifest { height, full, prev, meta, live_keys, entries, log_head, chain_len, chain_entries })
    }
}

impl<D: BlockDevice> Store<D> {
    /// Prepares a fresh device: invalidates both superblock slots. The store has no
    /// checkpoint until the first [`Store::checkpoint`] (the genesis state).
    pub fn format(mut dev: D) -> Result<Store<D>, CheckpointError> {
        let zero = [0u8; BLOCK_SIZE];
        dev.write_block(0, &zero)?;
        dev.write_block(1, &zero)?;
        dev.flush()?;
        Ok(Store {
            dev,
            generation: 0,
            height: Height(0),
            manifest_head: NONE,
            chain_blocks: Vec::new(),
            chain_len: 0,
            chain_entries: 0,
            pages: BTreeMap::new(),
            page_count: 0,
            log_blocks: Vec::new(),
            log_next: NONE,
            log_height: Height(0),
            log_prev: [0; 32],
            live: BTreeSet::new(),
            cursor: FIRST_DATA_BLOCK,
        })
    }

    /// Generation of the committed checkpoint (0 = none yet).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Height of the committed checkpoint.
    pub fn checkpoint_height(&self) -> Height {
        self.height
    }

    /// Height of the newest logged block (the checkpoint height if none).
    pub fn log_height(&self) -> Height {
        self.log_height
    }

    /// Number of pages the committed checkpoint holds.
    pub fn page_count(&self) -> u64 {
        self.page_count
    }

    pub fn device(&self) -> &D {
        &self.dev
    }

    /// The device, for blocks its owner keeps outside the store (e.g. a region's reserved
    /// blocks in front of it). Writing the store's own blocks through it breaks recovery.
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.dev
    }

    pub fn into_device(self) -> D {
        self.dev
    }

    fn alloc(&mut self, pending: &mut BTreeSet<u64>) -> Result<u64, CheckpointError> {
        let count = self.dev.block_count();
        let span = count.saturating_sub(FIRST_DATA_BLOCK);
        for _ in 0..span {
            if self.cursor >= count || self.cursor < FIRST_DATA_BLOCK {
                self.cursor = FIRST_DATA_BLOCK;
            }
            let b = self.cursor;
            self.cursor += 1;
            if !self.live.contains(&b) && !pending.contains(&b) {
                pending.insert(b);
                return Ok(b);
            }
        }
        Err(CheckpointError::DeviceFull)
    }

    /// Writes `payload` as a blob whose first block is `head`; returns the blocks used.
    /// The last block's `next` field carries `tail_next` (the log's reserved next record).
    fn write_blob(
        &mut self,
        kind: BlobKind,
        generation: u64,
        head: u64,
        payload: &[u8],
        tail_next: u64,
        pending: &mut BTreeSet<u64>,
    ) -> Result<Vec<u64>, CheckpointError> {
        let n = payload.len().div_ceil(BLOB_PAYLOAD).max(1);
        let mut blocks = Vec::with_capacity(n);
        blocks.push(head);
        for _ in 1..n {
            blocks.push(self.alloc(pending)?);
        }
        for (seq, &at) in blocks.iter().enumerate() {
            let chunk = payload.chunks(BLOB_PAYLOAD).nth(seq).unwrap_or(&[]);
            let next = blocks.get(seq + 1).copied().unwrap_or(tail_next);
            let mut b = [0u8; BLOCK_SIZE];
            let mut w = Writer::new();
            w.u32(BLOB_MAGIC).u8(kind as u8).raw(&[0; 3]).u64(generation).u64(head);
            w.u32(seq as u32).u32(chunk.len() as u32).u64(payload.len() as u64).u64(next);
            let header = w.finish();
            b[..48].copy_from_slice(&header);
            b[BLOB_HEADER..BLOB_HEADER + chunk.len()].copy_from_slice(chunk);
            let sum = sha256(&[&b[..48], chunk]);
            b[48..80].copy_from_slice(&sum);
            self.dev.write_block(at, &b)?;
        }
        Ok(blocks)
    }

    /// Reads a blob starting at `head`; returns its bytes, its blocks and the last
    /// block's `next` field.
    fn read_blob(
        dev: &mut D,
        kind: BlobKind,
        generation: u64,
        head: u64,
    ) -> Result<(Vec<u8>, Vec<u64>, u64), CheckpointError> {
        let mut out = Vec::new();
        let mut blocks = Vec::new();
        let mut at = head;
        let mut b = [0u8; BLOCK_SIZE];
        loop {
            if at == NONE || at < FIRST_DATA_BLOCK || at >= dev.block_count() {
                return Err(CheckpointError::Corrupt);
            }
            dev.read_block(at, &mut b)?;
            let mut r = Reader::new(&b[..48]);
            let ok = r.u32()? == BLOB_MAGIC
                && r.u8()? == kind as u8
                && r.raw(3)? == [0, 0, 0]
                && r.u64()? == generation
                && r.u64()? == head
                && r.u32()? as usize == blocks.len();
            let len = r.u32()? as usize;
            let total = r.u64()?;
            let next = r.u64()?;
            if !ok || len > BLOB_PAYLOAD || b[48..80] != sha256(&[&b[..48], &b[BLOB_HEADER..BLOB_HEADER + len]]) {
                return Err(CheckpointError::Corrupt);
            }
            out.extend_from_slice(&b[BLOB_HEADER..BLOB_HEADER + len]);
            blocks.push(at);
            if out.len() as u64 >= total {
                if out.len() as u64 != total {
                    return Err(CheckpointError::Corrupt);
                }
                return Ok((out, blocks, next));
            }
            at = next;
        }
    }

    /// Writes a checkpoint of the state at `height`: `meta` is the state's metadata,
    /// `live_keys` every memory that exists, and `dirty` the pages written since the last
    /// checkpoint (pages of a memory not yet on disk must all be included). Atomic: on
    /// any error the previous checkpoint and its log remain the recoverable state.
    pub fn checkpoint<'a>(
        &mut self,
        height: Height,
        meta: &[u8],
        live_keys: &BTreeSet<MemoryKey>,
        dirty: impl IntoIterator<Item = (MemoryKey, PageIndex, &'a [u8])>,
    ) -> Result<(), CheckpointError> {
        if self.generation > 0 && height < self.log_height {
            return Err(CheckpointError::HeightOutOfOrder { expected: self.log_height, got: height });
        }
        let generation = self.generation + 1;
        let mut pending = BTreeSet::new();
        let mut entries = Vec::new();
        for (key, index, data) in dirty {
            let page: &Block = data.try_into().map_err(|_| CheckpointError::BadPageSize)?;
            let block = self.alloc(&mut pending)?;
            self.dev.write_block(block, page)?;
            entries.push((key, index, PageLoc { block, checksum: page_checksum(key, index, page) }));
        }
        // Everything below is proportional to the dirty pages and the number of memories,
        // except a full manifest (amortised, see the module docs).
        let dropped: Vec<MemoryKey> = self.pages.keys().filter(|k| !live_keys.contains(k)).copied().collect();
        let dropped_pages: u64 = dropped.iter().map(|k| self.pages.get(k).map_or(0, |m| m.len() as u64)).sum();
        let added = entries.iter().filter(|(k, i, _)| !self.pages.get(k).is_some_and(|m| m.contains_key(i))).count() as u64;
        let page_count = self.page_count - dropped_pages + added;
        let chain_entries = self.chain_entries + entries.len() as u64;
        let full = self.generation == 0 || self.chain_len + 1 >= MAX_CHAIN || chain_entries >= page_count;
        let log_head = self.alloc(&mut pending)?;
        let manifest_entries = if full {
            let fresh: BTreeMap<(MemoryKey, PageIndex), PageLoc> = entries.iter().map(|(k, i, l)| ((*k, *i), *l)).collect();
            let mut all = Vec::with_capacity(page_count as usize);
            for (k, m) in self.pages.iter().filter(|(k, _)| live_keys.contains(k)) {
                for (i, l) in m {
                    all.push((*k, *i, fresh.get(&(*k, *i)).copied().unwrap_or(*l)));
                }
            }
            all.extend(entries.iter().filter(|(k, i, _)| !self.pages.get(k).is_some_and(|m| m.contains_key(i))).copied());
            all
        } else {
            entries.clone()
        };
        let manifest = Manifest {
            height,
            full,
            prev: if full { None } else { Some((self.manifest_head, self.generation)) },
            meta: meta.to_vec(),
            live_keys: live_keys.clone(),
            entries: manifest_entries,
            log_head,
            chain_len: if full { 1 } else { self.chain_len + 1 },
            chain_entries: if full { 0 } else { chain_entries },
        };
        let head = self.alloc(&mut pending)?;
        let blocks = self.write_blob(BlobKind::Manifest, generation, head, &manifest.encode(), NONE, &mut pending)?;
        self.dev.flush()?;
        self.dev.write_block(generation % 2, &superblock_encode(generation, height, head))?;
        self.dev.flush()?;

        // Committed: the previous generation's blocks that this one no longer references
        // (superseded pages, dropped memories, an old manifest chain, the old log) become
        // free; the bookkeeping is updated incrementally, not rebuilt.
        for k in dropped {
            if let Some(m) = self.pages.remove(&k) {
                for l in m.values() {
                    self.live.remove(&l.block);
                }
            }
        }
        for (k, i, loc) in entries {
            if let Some(old) = self.pages.entry(k).or_default().insert(i, loc) {
                self.live.remove(&old.block);
            }
            self.live.insert(loc.block);
        }
        if full {
            for b in core::mem::take(&mut self.chain_blocks) {
                self.live.remove(&b);
            }
        }
        self.live.extend(blocks.iter().copied());
        self.chain_blocks.extend(blocks);
        for b in core::mem::take(&mut self.log_blocks) {
            self.live.remove(&b);
        }
        self.live.remove(&self.log_next);
        self.live.insert(log_head);
        self.generation = generation;
        self.height = height;
        self.manifest_head = head;
        self.chain_len = manifest.chain_len;
        self.chain_entries = manifest.chain_entries;
        self.page_count = page_count;
        self.log_next = log_head;
        self.log_height = height;
        self.log_prev = [0; 32];
        Ok(())
    }

    fn rebuild_live(&mut self) {
        let mut live: BTreeSet<u64> = self.pages.values().flat_map(|m| m.values().map(|l| l.block)).collect();
        live.extend(self.chain_blocks.iter().copied());
        live.extend(self.log_blocks.iter().copied());
        live.insert(self.log_next);
        self.live = live;
    }

    /// Appends the finalized block of `height` (which must be the next height) to the log
    /// and flushes: once this returns, recovery replays it.
    pub fn append_log(&mut self, height: Height, block: &[u8]) -> Result<(), CheckpointError> {
        if self.generation == 0 {
            return Err(CheckpointError::NotFormatted);
        }
        let expected = self.log_height.next();
        if height != expected {
            return Err(CheckpointError::HeightOutOfOrder { expected, got: height });
        }
        let mut w = Writer::new();
        w.u64(height.0).raw(&self.log_prev).bytes(block);
        let record = w.finish();
        let mut pending = BTreeSet::new();
        let next = self.alloc(&mut pending)?;
        let head = self.log_next;
        let blocks = self.write_blob(BlobKind::Log, self.generation, head, &record, next, &mut pending)?;
        self.dev.flush()?;
        self.log_prev = sha256(&[&record]);
        self.log_height = height;
        self.log_blocks.extend(blocks);
        self.log_next = next;
        self.live.extend(pending);
        Ok(())
    }

    /// Opens a device written by this module: picks the newest superblock whose
    /// checkpoint reads back intact, loads its pages (verifying every checksum) and the
    /// valid prefix of its block log.
    pub fn open(mut dev: D) -> Result<(Store<D>, Recovered), CheckpointError> {
        let mut candidates = Vec::new();
        let mut unsupported = None;
        for slot in 0..2 {
            let mut b = [0u8; BLOCK_SIZE];
            dev.read_block(slot, &mut b)?;
            match superblock_decode(&b) {
                Ok(sb) => candidates.push(sb),
                Err(CheckpointError::UnsupportedVersion(v)) => unsupported = Some(v),
                Err(_) => {}
            }
        }
        candidates.sort_by_key(|c| core::cmp::Reverse(c.0));
        for (generation, height, head) in candidates {
            if let Ok(r) = Self::load(&mut dev, generation, height, head) {
                return Ok(r.finish(dev));
            }
        }
        match unsupported {
            Some(v) => Err(CheckpointError::UnsupportedVersion(v)),
            None => Err(CheckpointError::NoValidCheckpoint),
        }
    }

    fn load(dev: &mut D, generation: u64, height: Height, head: u64) -> Result<Loaded, CheckpointError> {
        // Read the manifest chain newest-first, then apply it oldest-first.
        let mut chain = Vec::new();
        let mut chain_blocks = Vec::new();
        let (mut at, mut g) = (head, generation);
        loop {
            let (bytes, blocks, _) = Self::read_blob(dev, BlobKind::Manifest, g, at)?;
            let m = Manifest::decode(&bytes)?;
            chain_blocks.extend(blocks);
            let prev = m.prev;
            chain.push(m);
            match prev {
                Some((h, pg)) if chain.len() < MAX_CHAIN as usize + 1 => (at, g) = (h, pg),
                Some(_) => return Err(CheckpointError::Corrupt),
                None => break,
            }
        }
        let newest = chain.remove(0);
        if newest.height != height {
            return Err(CheckpointError::Corrupt);
        }
        let mut table = BTreeMap::new();
        for m in chain.iter().rev().chain(core::iter::once(&newest)) {
            for (k, i, loc) in &m.entries {
                table.insert((*k, *i), *loc);
            }
        }
        table.retain(|(k, _), _| newest.live_keys.contains(k));
        let mut memories: BTreeMap<MemoryKey, BTreeMap<PageIndex, Box<Block>>> = BTreeMap::new();
        for key in &newest.live_keys {
            memories.insert(*key, BTreeMap::new());
        }
        for ((k, i), loc) in &table {
            let mut b = Box::new([0u8; BLOCK_SIZE]);
            dev.read_block(loc.block, &mut b)?;
            if page_checksum(*k, *i, &b[..]) != loc.checksum {
                return Err(CheckpointError::Corrupt);
            }
            memories.entry(*k).or_default().insert(*i, b);
        }
        // The log: valid records in order; the first invalid one ends it.
        let mut log = Vec::new();
        let mut log_blocks = Vec::new();
        let mut next = newest.log_head;
        let mut prev = [0u8; 32];
        let mut expected = height.next();
        while let Ok((record, blocks, after)) = Self::read_blob(dev, BlobKind::Log, generation, next) {
            let mut r = Reader::new(&record);
            let parsed = (|| -> Result<(u64, [u8; 32], Vec<u8>), DecodeError> {
                let h = r.u64()?;
                let p = r.array::<32>()?;
                let data = r.bytes()?.to_vec();
                r.end()?;
                Ok((h, p, data))
            })();
            match parsed {
                Ok((h, p, data)) if h == expected.0 && p == prev => {
                    log.push((Height(h), data));
                    log_blocks.extend(blocks);
                    prev = sha256(&[&record]);
                    expected = expected.next();
                    next = after;
                }
                _ => break,
            }
        }
        Ok(Loaded {
            generation,
            head,
            manifest: newest,
            chain_blocks,
            table,
            memories,
            log,
            log_blocks,
            log_next: next,
            log_prev: prev,
        })
    }
}

/// A successfully read checkpoint, before it becomes a [`Store`].
struct Loaded {
    generation: u64,
    head: u64,
    manifest: Manifest,
    chain_blocks: Vec<u64>,
    table: BTreeMap<(MemoryKey, PageIndex), PageLoc>,
    memories: BTreeMap<MemoryKey, BTreeMap<PageIndex, Box<Block>>>,
    log: Vec<(Height, Vec<u8>)>,
    log_blocks: Vec<u64>,
    log_next: u64,
    log_prev: [u8; 32],
}

impl Loaded {
    fn finish<D: BlockDevice>(self, dev: D) -> (Store<D>, Recovered) {
        let m = self.manifest;
        let log_height = self.log.last().map(|(h, _)| *h).unwrap_or(m.height);
        let mut store = Store {
            dev,
            generation: self.generation,
            height: m.height,
            manifest_head: self.head,
            chain_blocks: self.chain_blocks,
            chain_len: m.chain_len,
            chain_entries: m.chain_entries,
            page_count: self.table.len() as u64,
            pages: {
                let mut nested: BTreeMap<MemoryKey, BTreeMap<PageIndex, PageLoc>> = BTreeMap::new();
                for ((k, i), l) in self.table {
                    nested.entry(k).or_default().insert(i, l);
                }
                nested
            },
            log_blocks: self.log_blocks,
            log_next: self.log_next,
            log_height,
            log_prev: self.log_prev,
            live: BTreeSet::new(),
            cursor: FIRST_DATA_BLOCK,
        };
        store.rebuild_live();
        (store, Recovered { height: m.height, meta: m.meta, memories: self.memories, log: self.log })
    }
}
