//! State sync between subnet members: a member that fell behind its peers' catch-up package
//! fetches the checkpoint at the package's height chunk by chunk, checks it against the
//! package's certified root, installs it and goes on from there.
//!
//! * **Serving.** When a member executes a height at which a catch-up package will be made
//!   (a multiple of the protocol's interval), it exports that state as a self-contained
//!   checkpoint (the hypervisor's own format on an in-memory device) and keeps the newest
//!   one to serve. The chunks are that device's written blocks, `(index, block)` records.
//! * **Fetching.** Chunks are requested one at a time from one peer, moving to the next peer
//!   when a request goes unanswered. Only the whole checkpoint can be checked (its state tree
//!   root must equal the package's), so a peer that serves garbage costs one retry round.
//!   Finalized blocks above the package that arrive meanwhile are kept and executed after.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use keel_consensus::message::{Chunk, ChunkRequest, MAX_CHUNK_BYTES};
use keel_consensus::{FinalizedBlock, Height, NodeIndex, StateHash};
use keel_hypervisor::block_device::Block;
use keel_hypervisor::{BLOCK_SIZE, BlockDevice, DeviceError, MemBlockDevice};

/// How long a chunk request may go unanswered before the next peer is asked.
pub const RETRY_NANOS: u64 = 2_000_000_000;
/// One `(index, block)` record of a chunk.
const RECORD: usize = 8 + BLOCK_SIZE;
const RECORDS_PER_CHUNK: usize = MAX_CHUNK_BYTES / RECORD;
/// Most chunks a checkpoint may have (64 GiB of blocks): bounds what a peer can announce.
const MAX_CHUNKS: u32 = 1 << 16;

/// A checkpoint this member serves.
#[derive(Debug)]
struct Snapshot {
    height: Height,
    root: StateHash,
    chunks: Vec<Vec<u8>>,
}

/// A fetch in progress.
#[derive(Debug)]
pub struct Fetch {
    pub height: Height,
    pub root: StateHash,
    chunks: BTreeMap<u32, Vec<u8>>,
    total: Option<u32>,
    /// The peer asked last, and when.
    pub peer: NodeIndex,
    pub asked_at: u64,
    /// Finalized blocks above the checkpoint, executed once it is installed.
    pub buffered: Vec<FinalizedBlock>,
}

/// Both sides of state sync.
#[derive(Debug, Default)]
pub struct StateSync {
    snapshot: Option<Snapshot>,
    pub fetch: Option<Fetch>,
    /// States installed so far.
    pub installed: u64,
}

impl StateSync {
    /// Keeps `device` (a fresh store the state at `height` was exported to) for serving.
    pub fn offer(&mut self, height: Height, root: StateHash, device: &MemBlockDevice) {
        let records: Vec<(u64, &Block)> = device.written().collect();
        let chunks = records
            .chunks(RECORDS_PER_CHUNK)
            .map(|group| {
                let mut data = Vec::with_capacity(group.len() * RECORD);
                for (index, block) in group {
                    data.extend_from_slice(&index.to_be_bytes());
                    data.extend_from_slice(&block[..]);
                }
                data
            })
            .collect();
        self.snapshot = Some(Snapshot { height, root, chunks });
    }

    /// The chunk `request` asks for, if this member serves that checkpoint.
    pub fn serve(&self, request: &ChunkRequest) -> Option<Chunk> {
        let s = self.snapshot.as_ref().filter(|s| s.height == request.height && s.root == request.state_hash)?;
        let data = s.chunks.get(request.index as usize)?.clone();
        Some(Chunk { height: s.height, state_hash: s.root, index: request.index, total: s.chunks.len() as u32, data })
    }

    /// Starts fetching the checkpoint at `height` with `root` from `peer`; returns the first
    /// request. A newer target replaces an older fetch.
    pub fn start(&mut self, height: Height, root: StateHash, peer: NodeIndex, now: u64) -> ChunkRequest {
        let buffered = match self.fetch.take() {
            Some(f) if f.height < height => f.buffered.into_iter().filter(|b| b.height > height).collect(),
            _ => Vec::new(),
        };
        let fetch = Fetch { height, root, chunks: BTreeMap::new(), total: None, peer, asked_at: now, buffered };
        let request = fetch.next_request();
        self.fetch = Some(fetch);
        request
    }

    /// Whether a fetch is running (finalized blocks must wait for it).
    pub fn is_fetching(&self) -> bool {
        self.fetch.is_some()
    }

    /// Takes a chunk of the running fetch.
    pub fn on_chunk(&mut self, chunk: Chunk, now: u64) {
        let Some(f) = self.fetch.as_mut() else { return };
        let fits = chunk.height == f.height
            && chunk.state_hash == f.root
            && chunk.total > 0
            && chunk.total <= MAX_CHUNKS
            && chunk.index < chunk.total
            && f.total.is_none_or(|t| t == chunk.total);
        if fits {
            f.total = Some(chunk.total);
            f.chunks.insert(chunk.index, chunk.data);
            f.asked_at = now;
        }
    }

    /// All chunks of the running fetch as a device, once they are all there. Malformed
    /// chunks make the fetch start over.
    pub fn assembled(&mut self, block_count: u64) -> Option<Result<MemBlockDevice, DeviceError>> {
        let f = self.fetch.as_mut()?;
        if f.total != Some(f.chunks.len() as u32) {
            return None;
        }
        let device = assemble(f.chunks.values(), block_count);
        if device.is_err() {
            f.chunks.clear();
            f.total = None;
        }
        Some(device)
    }
}

impl Fetch {
    /// The request for the lowest missing chunk.
    pub fn next_request(&self) -> ChunkRequest {
        let total = self.total.unwrap_or(1);
        let index = (0..total).find(|i| !self.chunks.contains_key(i)).unwrap_or(0);
        ChunkRequest { height: self.height, state_hash: self.root, index }
    }

    /// Forgets what was fetched (the assembled state did not match the root).
    pub fn restart(&mut self) {
        self.chunks.clear();
        self.total = None;
    }
}

/// Writes the `(index, block)` records of `chunks` to a fresh device.
fn assemble<'a>(chunks: impl Iterator<Item = &'a Vec<u8>>, block_count: u64) -> Result<MemBlockDevice, DeviceError> {
    let mut device = MemBlockDevice::new(block_count);
    for chunk in chunks {
        if chunk.len() % RECORD != 0 {
            return Err(DeviceError::Io);
        }
        for record in chunk.chunks(RECORD) {
            let (index, block) = record.split_at(8);
            let index = u64::from_be_bytes(index.try_into().map_err(|_| DeviceError::Io)?);
            let block: &Block = block.try_into().map_err(|_| DeviceError::Io)?;
            device.write_block(index, block)?;
        }
    }
    Ok(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> MemBlockDevice {
        let mut d = MemBlockDevice::new(1000);
        for i in [0u64, 1, 7, 300, 999] {
            d.write_block(i, &[i as u8 + 1; BLOCK_SIZE]).unwrap();
        }
        d
    }

    #[test]
    fn a_served_checkpoint_reassembles_block_for_block() {
        let (h, root) = (Height::new(100), StateHash([4; 32]));
        let mut server = StateSync::default();
        server.offer(h, root, &device());
        let mut client = StateSync::default();
        let mut request = client.start(h, root, NodeIndex::new(1), 0);
        assert!(client.assembled(1000).is_none());
        while let Some(chunk) = server.serve(&request) {
            client.on_chunk(chunk, 1);
            if let Some(done) = client.assembled(1000) {
                let mut got = done.unwrap();
                let mut b = [0u8; BLOCK_SIZE];
                for i in [0u64, 1, 7, 300, 999] {
                    got.read_block(i, &mut b).unwrap();
                    assert_eq!(b[0], i as u8 + 1);
                }
                got.read_block(2, &mut b).unwrap();
                assert_eq!(b, [0; BLOCK_SIZE]);
                return;
            }
            request = client.fetch.as_ref().unwrap().next_request();
        }
        panic!("the checkpoint never completed");
    }

    #[test]
    fn other_checkpoints_and_bad_chunks_are_refused() {
        let (h, root) = (Height::new(100), StateHash([4; 32]));
        let mut server = StateSync::default();
        server.offer(h, root, &device());
        assert!(server.serve(&ChunkRequest { height: h, state_hash: StateHash([5; 32]), index: 0 }).is_none());
        assert!(server.serve(&ChunkRequest { height: Height::new(200), state_hash: root, index: 0 }).is_none());
        assert!(server.serve(&ChunkRequest { height: h, state_hash: root, index: 9 }).is_none());
        let mut client = StateSync::default();
        client.start(h, root, NodeIndex::new(1), 0);
        client.on_chunk(Chunk { height: h, state_hash: root, index: 0, total: 1, data: alloc::vec![1, 2, 3] }, 1);
        assert!(matches!(client.assembled(1000), Some(Err(_))), "a torn record");
        assert!(client.assembled(1000).is_none(), "fetched again from scratch");
        client.on_chunk(Chunk { height: h, state_hash: root, index: 5, total: 2, data: Vec::new() }, 1);
        assert_eq!(client.fetch.as_ref().unwrap().next_request().index, 0);
    }
}
