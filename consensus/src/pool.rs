//! Artifact pools: what a node has received and validated, per height, with bounds that a
//! hostile peer cannot grow — a window of heights above the finalized height, a cap on
//! blocks per maker and on distinct subjects per signer — and purging below finality.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::beacon::Beacon;
use crate::block::SignedBlock;
use crate::crypto::{NodeSignature, SigShare};
use crate::types::{BlockHash, Digest, Height, NodeIndex};
use crate::vote::{VoteKind, VoteSet};

/// An honest maker makes one block per height; a second one is kept so equivocation is seen
/// and relayed, more are dropped.
pub(crate) const MAX_BLOCKS_PER_MAKER: usize = 2;
/// Distinct blocks one signer may vote for at one height (honest notaries may share a few
/// blocks of equal rank).
pub(crate) const MAX_VOTES_PER_SIGNER: usize = 4;
/// Distinct subjects one signer may share at one height and kind (honest: exactly one).
pub(crate) const MAX_SHARES_PER_SIGNER: usize = 2;

/// Result of adding an artifact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Insert {
    /// Added.
    New,
    /// Already present.
    Duplicate,
    /// Dropped by a bound.
    OverLimit,
}

/// Signed items per subject and signer, with a cap on subjects per signer.
pub(crate) struct Bucket<K: Ord + Copy, S: Copy> {
    entries: BTreeMap<K, BTreeMap<NodeIndex, S>>,
    per_signer: BTreeMap<NodeIndex, usize>,
}

impl<K: Ord + Copy, S: Copy> Default for Bucket<K, S> {
    fn default() -> Self {
        Bucket {
            entries: BTreeMap::new(),
            per_signer: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Copy, S: Copy> Bucket<K, S> {
    pub fn contains(&self, k: &K, signer: NodeIndex) -> bool {
        self.entries.get(k).is_some_and(|m| m.contains_key(&signer))
    }

    pub fn insert(&mut self, k: K, signer: NodeIndex, s: S, max_per_signer: usize) -> Insert {
        if self.contains(&k, signer) {
            return Insert::Duplicate;
        }
        let c = self.per_signer.entry(signer).or_insert(0);
        if *c >= max_per_signer {
            return Insert::OverLimit;
        }
        *c += 1;
        self.entries.entry(k).or_default().insert(signer, s);
        Insert::New
    }

    pub fn count(&self, k: &K) -> usize {
        self.entries.get(k).map_or(0, BTreeMap::len)
    }

    /// Entries for `k` in signer order.
    pub fn signed(&self, k: &K) -> Vec<(NodeIndex, S)> {
        self.entries
            .get(k)
            .map_or_else(Vec::new, |m| m.iter().map(|(i, s)| (*i, *s)).collect())
    }

    /// What `signer` signed, by subject.
    pub fn by_signer(&self, signer: NodeIndex) -> Vec<(K, S)> {
        self.entries
            .iter()
            .filter_map(|(k, m)| m.get(&signer).map(|s| (*k, *s)))
            .collect()
    }
}

/// Threshold shares of one kind, per height and subject.
#[derive(Default)]
pub(crate) struct ShareCollector {
    heights: BTreeMap<Height, Bucket<Digest, SigShare>>,
}

impl ShareCollector {
    pub fn contains(&self, h: Height, subject: &Digest, signer: NodeIndex) -> bool {
        self.heights
            .get(&h)
            .is_some_and(|b| b.contains(subject, signer))
    }

    pub fn insert(
        &mut self,
        h: Height,
        subject: Digest,
        signer: NodeIndex,
        share: SigShare,
    ) -> Insert {
        self.heights
            .entry(h)
            .or_default()
            .insert(subject, signer, share, MAX_SHARES_PER_SIGNER)
    }

    pub fn count(&self, h: Height, subject: &Digest) -> usize {
        self.heights.get(&h).map_or(0, |b| b.count(subject))
    }

    pub fn shares(&self, h: Height, subject: &Digest) -> Vec<(NodeIndex, SigShare)> {
        self.heights
            .get(&h)
            .map_or_else(Vec::new, |b| b.signed(subject))
    }

    /// This signer's shares at `h`.
    pub fn own(&self, h: Height, signer: NodeIndex) -> Vec<(Digest, SigShare)> {
        self.heights
            .get(&h)
            .map_or_else(Vec::new, |b| b.by_signer(signer))
    }

    /// Forgets heights at or below `h`.
    pub fn purge_through(&mut self, h: Height) {
        self.heights = self.heights.split_off(&h.next());
    }
}

/// A block in the pool: `valid` once this node checked it against its beacon, parent and
/// payload rules (blocks are kept unchecked until those are known).
pub(crate) struct PooledBlock {
    pub signed: SignedBlock,
    pub valid: bool,
}

/// Everything at one height above finality.
#[derive(Default)]
pub(crate) struct HeightPool {
    pub blocks: BTreeMap<BlockHash, PooledBlock>,
    pub notarization_votes: Bucket<BlockHash, NodeSignature>,
    pub finalization_votes: Bucket<BlockHash, NodeSignature>,
    pub notarized: BTreeMap<BlockHash, VoteSet>,
    pub finalized: Option<VoteSet>,
    pub beacon: Option<Beacon>,
}

impl HeightPool {
    pub fn votes(&self, kind: VoteKind) -> &Bucket<BlockHash, NodeSignature> {
        match kind {
            VoteKind::Notarization => &self.notarization_votes,
            VoteKind::Finalization => &self.finalization_votes,
        }
    }

    pub fn votes_mut(&mut self, kind: VoteKind) -> &mut Bucket<BlockHash, NodeSignature> {
        match kind {
            VoteKind::Notarization => &mut self.notarization_votes,
            VoteKind::Finalization => &mut self.finalization_votes,
        }
    }

    pub fn has_set(&self, kind: VoteKind, block: &BlockHash) -> bool {
        match kind {
            VoteKind::Notarization => self.notarized.contains_key(block),
            VoteKind::Finalization => self.finalized.as_ref().is_some_and(|f| f.block == *block),
        }
    }

    pub fn insert_set(&mut self, set: VoteSet) {
        match set.kind {
            VoteKind::Notarization => {
                self.notarized.insert(set.block, set);
            }
            VoteKind::Finalization => self.finalized = Some(set),
        }
    }

    /// Whether `block` is notarized (a finalization implies its notarization).
    pub fn is_notarized(&self, block: &BlockHash) -> bool {
        self.notarized.contains_key(block) || self.has_set(VoteKind::Finalization, block)
    }

    /// Blocks by `maker`.
    pub fn blocks_by(&self, maker: NodeIndex) -> usize {
        self.blocks
            .values()
            .filter(|b| b.signed.block.maker == maker)
            .count()
    }
}

/// The unfinalized heights a node tracks: `(floor, floor + window]`, floor being the
/// finalized height.
pub(crate) struct ArtifactPool {
    heights: BTreeMap<Height, HeightPool>,
    floor: Height,
    window: u64,
}

impl ArtifactPool {
    pub fn new(floor: Height, window: u64) -> Self {
        ArtifactPool {
            heights: BTreeMap::new(),
            floor,
            window,
        }
    }

    /// Whether artifacts at `h` are accepted (back-pressure: the rest are dropped).
    pub fn accepts(&self, h: Height) -> bool {
        h > self.floor && h <= self.floor.plus(self.window)
    }

    pub fn at(&self, h: Height) -> Option<&HeightPool> {
        self.heights.get(&h)
    }

    /// The pool at `h`, created if `h` is inside the window.
    pub fn at_mut(&mut self, h: Height) -> Option<&mut HeightPool> {
        if !self.accepts(h) {
            return None;
        }
        Some(self.heights.entry(h).or_default())
    }

    /// Drops everything at or below the new finalized height.
    pub fn purge_through(&mut self, floor: Height) {
        if floor > self.floor {
            self.floor = floor;
            self.heights = self.heights.split_off(&floor.next());
        }
    }

    /// Heights held, descending.
    pub fn heights_desc(&self) -> Vec<Height> {
        self.heights.keys().rev().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bounds_subjects_per_signer() {
        let mut b: Bucket<u8, u8> = Bucket::default();
        let s = NodeIndex::new(1);
        assert_eq!(b.insert(1, s, 0, 2), Insert::New);
        assert_eq!(b.insert(1, s, 0, 2), Insert::Duplicate);
        assert_eq!(b.insert(2, s, 0, 2), Insert::New);
        assert_eq!(b.insert(3, s, 0, 2), Insert::OverLimit);
        assert_eq!(b.insert(3, NodeIndex::new(2), 0, 2), Insert::New);
        assert_eq!(b.count(&1), 1);
        assert_eq!(b.by_signer(s).len(), 2);
    }

    #[test]
    fn pool_window_and_purge() {
        let mut p = ArtifactPool::new(Height::new(5), 3);
        assert!(p.at_mut(Height::new(5)).is_none());
        assert!(p.at_mut(Height::new(9)).is_none());
        assert!(p.at_mut(Height::new(6)).is_some());
        assert!(p.at_mut(Height::new(8)).is_some());
        p.purge_through(Height::new(6));
        assert!(p.at(Height::new(6)).is_none());
        assert!(p.at(Height::new(8)).is_some());
        assert!(p.accepts(Height::new(9)));
        let mut c = ShareCollector::default();
        c.insert(
            Height::new(1),
            Digest([1; 32]),
            NodeIndex::new(0),
            SigShare([0; 48]),
        );
        c.insert(
            Height::new(2),
            Digest([1; 32]),
            NodeIndex::new(0),
            SigShare([0; 48]),
        );
        c.purge_through(Height::new(1));
        assert_eq!(c.count(Height::new(1), &Digest([1; 32])), 0);
        assert_eq!(c.count(Height::new(2), &Digest([1; 32])), 1);
    }
}
