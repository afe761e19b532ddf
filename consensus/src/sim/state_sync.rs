//! The simulator's driver side of state sync: after a node jumps to a catch-up package it
//! fetches the checkpoint chunk by chunk from random peers with the consensus
//! `ChunkRequest`/`Chunk` messages (retrying on its timer, since messages get lost), checks the
//! result against the package's root, installs it, then executes the finalized blocks that
//! arrived meanwhile.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::message::{Chunk, ChunkRequest};
use crate::node::FinalizedBlock;
use crate::types::{Height, StateHash};

/// The toy checkpoint is the 32-byte state hash, served in this many chunks.
const CHUNKS: u32 = 4;
const CHUNK_LEN: usize = 32 / CHUNKS as usize;

/// A node's state sync in progress.
pub(crate) struct StateSync {
    pub height: Height,
    pub root: StateHash,
    chunks: BTreeMap<u32, Vec<u8>>,
    /// Finalized blocks above the checkpoint, executed once it is installed.
    pub buffered: Vec<FinalizedBlock>,
}

impl StateSync {
    pub fn new(height: Height, root: StateHash) -> Self {
        StateSync {
            height,
            root,
            chunks: BTreeMap::new(),
            buffered: Vec::new(),
        }
    }

    /// The request for the lowest missing chunk.
    pub fn next_request(&self) -> ChunkRequest {
        let index = (0..CHUNKS)
            .find(|i| !self.chunks.contains_key(i))
            .unwrap_or(0);
        ChunkRequest {
            height: self.height,
            state_hash: self.root,
            index,
        }
    }

    /// Takes a chunk of this checkpoint.
    pub fn on_chunk(&mut self, c: Chunk) {
        if c.height == self.height
            && c.state_hash == self.root
            && c.total == CHUNKS
            && c.index < CHUNKS
        {
            self.chunks.insert(c.index, c.data);
        }
    }

    /// The installed state once all chunks are there and add up to the root. A bad chunk
    /// (wrong length or content) is dropped so it is fetched again.
    pub fn complete(&mut self) -> Option<StateHash> {
        if self.chunks.len() < CHUNKS as usize {
            return None;
        }
        let bytes: Vec<u8> = self.chunks.values().flatten().copied().collect();
        match <[u8; 32]>::try_from(bytes.as_slice()) {
            Ok(b) if StateHash(b) == self.root => Some(self.root),
            _ => {
                self.chunks.clear();
                None
            }
        }
    }
}

/// What a node serves for `req` if it holds the checkpoint.
pub(crate) fn serve(history: &BTreeMap<Height, StateHash>, req: &ChunkRequest) -> Option<Chunk> {
    let root = history.get(&req.height).filter(|r| **r == req.state_hash)?;
    let start = (req.index as usize).checked_mul(CHUNK_LEN)?;
    let data = root.0.get(start..start + CHUNK_LEN)?.to_vec();
    Some(Chunk {
        height: req.height,
        state_hash: req.state_hash,
        index: req.index,
        total: CHUNKS,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_reassemble_to_the_root_only() {
        let root = StateHash([7; 32]);
        let h = Height::new(8);
        let history = BTreeMap::from([(h, root)]);
        let mut s = StateSync::new(h, root);
        for _ in 0..CHUNKS {
            let req = s.next_request();
            s.on_chunk(serve(&history, &req).unwrap());
        }
        assert_eq!(s.complete(), Some(root));
        assert!(
            serve(
                &history,
                &ChunkRequest {
                    height: h,
                    state_hash: StateHash([1; 32]),
                    index: 0
                }
            )
            .is_none()
        );
        assert!(
            serve(
                &history,
                &ChunkRequest {
                    height: h,
                    state_hash: root,
                    index: CHUNKS
                }
            )
            .is_none()
        );
        let mut bad = StateSync::new(h, root);
        for i in 0..CHUNKS {
            bad.on_chunk(Chunk {
                height: h,
                state_hash: root,
                index: i,
                total: CHUNKS,
                data: alloc::vec![0; CHUNK_LEN],
            });
        }
        assert_eq!(bad.complete(), None);
        assert_eq!(bad.next_request().index, 0);
    }
}
