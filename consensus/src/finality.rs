//! Finality: the finalized chain since the last catch-up package, committing a finalized
//! block together with its not-yet-finalized ancestors, and finalized segments that bring a
//! lagging peer forward.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::beacon::Beacon;
use crate::block::Block;
use crate::crypto::Crypto;
use crate::cup::CatchUpPackage;
use crate::message::FinalizedSegment;
use crate::node::{ConsensusNode, FinalizedBlock, Misbehavior, Output, PersistRecord};
use crate::types::{BlockHash, Height, NodeIndex};
use crate::vote::{VoteKind, VoteSet};

/// A finalized block with its hash and beacon.
#[derive(Clone, Debug)]
pub(crate) struct ChainEntry {
    pub block: Block,
    pub hash: BlockHash,
    pub beacon: Beacon,
}

impl ChainEntry {
    pub fn new(block: Block, beacon: Beacon) -> Self {
        ChainEntry {
            hash: block.hash(),
            block,
            beacon,
        }
    }

    pub fn from_cup(cup: &CatchUpPackage) -> Self {
        Self::new(cup.content.block.clone(), cup.content.beacon)
    }
}

/// The finalized chain from the catch-up package (the base) to the tip, and the
/// finalizations that prove it (only for explicitly finalized heights; the rest follow by
/// the hash chain).
pub(crate) struct FinalizedChain {
    base: ChainEntry,
    above: BTreeMap<Height, ChainEntry>,
    proofs: BTreeMap<Height, VoteSet>,
}

impl FinalizedChain {
    pub fn new(base: ChainEntry) -> Self {
        FinalizedChain {
            base,
            above: BTreeMap::new(),
            proofs: BTreeMap::new(),
        }
    }

    pub fn tip(&self) -> &ChainEntry {
        self.above.values().next_back().unwrap_or(&self.base)
    }

    pub fn entry(&self, h: Height) -> Option<&ChainEntry> {
        if h == self.base.block.height {
            Some(&self.base)
        } else {
            self.above.get(&h)
        }
    }

    /// Whether `b` is the next block on the tip.
    pub fn extends(&self, b: &Block) -> bool {
        let tip = self.tip();
        b.height == tip.block.height.next() && b.parent == tip.hash
    }

    pub fn push(&mut self, e: ChainEntry) {
        self.above.insert(e.block.height, e);
    }

    /// Moves the base up to `h` (a new catch-up package on our own chain).
    pub fn rebase(&mut self, h: Height) {
        if let Some(e) = self.above.remove(&h) {
            self.base = e;
            self.above = self.above.split_off(&h.next());
            self.proofs = self.proofs.split_off(&h.next());
        }
    }

    /// Replaces everything by a catch-up package we jumped to.
    pub fn reset(&mut self, base: ChainEntry) {
        *self = FinalizedChain::new(base);
    }

    /// Finalized blocks `(from, ...]` up to an explicitly finalized height: the top is the
    /// highest proven height within `batch` blocks, else the lowest proven one above.
    pub fn segment_after(&self, from: Height, batch: usize) -> Option<FinalizedSegment> {
        let limit = from.plus(batch as u64);
        let top = self
            .proofs
            .range(from.next()..=limit)
            .next_back()
            .or_else(|| self.proofs.range(from.next()..).next())
            .map(|(h, _)| *h)?;
        let proof = self.proofs.get(&top)?.clone();
        let entries: Vec<(Block, Beacon)> = self
            .above
            .range(from.next()..=top)
            .map(|(_, e)| (e.block.clone(), e.beacon))
            .collect();
        let expected = top.get().checked_sub(from.get())?;
        // A peer could not decode a longer one; it will get a catch-up package instead.
        if expected > crate::message::WIRE_MAX_SEGMENT as u64 {
            return None;
        }
        (entries.len() as u64 == expected).then_some(FinalizedSegment {
            entries,
            finalization: proof,
        })
    }
}

impl<C: Crypto> ConsensusNode<C> {
    /// Appends one block to the finalized chain and hands it to the driver.
    pub(crate) fn append_finalized(&mut self, e: ChainEntry) {
        self.ingress
            .on_finalized(&e.block.payload.ingress, e.block.time);
        self.out.push(Output::Persist(PersistRecord::Finalized {
            block: e.block.clone(),
            beacon: e.beacon,
        }));
        self.out.push(Output::Finalized(FinalizedBlock {
            height: e.block.height,
            hash: e.hash,
            block: e.block.clone(),
        }));
        self.chain.push(e);
    }

    /// Commits blocks above the tip, the last of which `proof` finalizes.
    fn commit(&mut self, entries: Vec<ChainEntry>, proof: VoteSet) {
        let top = proof.height;
        for e in entries {
            self.append_finalized(e);
        }
        self.chain.proofs.insert(top, proof);
        self.pool.purge_through(top);
        self.beacon_shares.purge_through(top);
        self.advance_round_past(top);
    }

    /// The blocks from the tip up to `hash` at `h`, if we hold all of them and their beacons.
    fn path_to(&self, h: Height, hash: BlockHash) -> Option<Vec<ChainEntry>> {
        let tip = self.chain.tip();
        let mut path = Vec::new();
        let (mut height, mut cur) = (h, hash);
        while height > tip.block.height {
            let p = self.pool.at(height)?;
            let block = p.blocks.get(&cur)?.signed.block.clone();
            let beacon = p.beacon?;
            let this = cur;
            cur = block.parent;
            path.push(ChainEntry {
                block,
                hash: this,
                beacon,
            });
            height = height.prev()?;
        }
        // A different block at the tip would mean two finalized chains: never commit that.
        if cur != tip.hash {
            return None;
        }
        path.reverse();
        Some(path)
    }

    /// Finalizes the highest height whose finalization and chain we hold.
    pub(crate) fn step_finality(&mut self) -> bool {
        let tip = self.finalized_height();
        for h in self.pool.heights_desc() {
            if h <= tip {
                break;
            }
            let Some(proof) = self.pool.at(h).and_then(|p| p.finalized.clone()) else {
                continue;
            };
            if let Some(path) = self.path_to(h, proof.block) {
                self.commit(path, proof);
                return true;
            }
        }
        false
    }

    /// Finalized blocks sent by a peer because we lagged.
    pub(crate) fn on_segment(&mut self, from: NodeIndex, seg: FinalizedSegment) {
        let tip = self.chain.tip().clone();
        let Some((last, _)) = seg.entries.last() else {
            return;
        };
        let Some((first, _)) = seg.entries.first() else {
            return;
        };
        if last.height <= tip.block.height || first.height != tip.block.height.next() {
            return;
        }
        let f = &seg.finalization;
        if f.kind != VoteKind::Finalization
            || f.height != last.height
            || f.block != last.hash()
            || !f.verify(self.cfg.size, &self.crypto)
        {
            return self.misbehaved(from, Misbehavior::BadSignature);
        }
        let (mut prev_hash, mut prev_beacon) = (tip.hash, tip.beacon);
        let mut entries = Vec::with_capacity(seg.entries.len());
        for (block, beacon) in seg.entries {
            let msg = Beacon::signing_bytes(block.height, &prev_beacon.digest());
            if block.height != prev_beacon.height.next()
                || block.parent != prev_hash
                || beacon.height != block.height
                || !self.crypto.threshold_verify(&msg, &beacon.signature)
            {
                return self.misbehaved(from, Misbehavior::BadSignature);
            }
            let e = ChainEntry::new(block, beacon);
            prev_hash = e.hash;
            prev_beacon = beacon;
            entries.push(e);
        }
        self.commit(entries, seg.finalization);
    }
}
