//! The random beacon: at each height the subnet's threshold signature on the previous beacon.
//! It is unpredictable until `n − f` nodes share it and then unique, so it fairly ranks the
//! round's block makers and seeds the execution randomness.

use alloc::vec::Vec;

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::crypto::ThresholdSignature;
use crate::hash::hash;
use crate::types::{Digest, Height, NodeIndex, Rank, SubnetSize};

/// The beacon of one height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Beacon {
    /// Its height.
    pub height: Height,
    /// Threshold signature over [`Beacon::signing_bytes`] of the previous beacon.
    pub signature: ThresholdSignature,
}

impl Beacon {
    /// Digest that the next height's beacon signs.
    pub fn digest(&self) -> Digest {
        Digest(hash(
            "keel-beacon-digest",
            &[&self.height.get().to_be_bytes(), &self.signature.0],
        ))
    }

    /// What the beacon at `height` signs: the height and the previous beacon's digest.
    pub fn signing_bytes(height: Height, prev: &Digest) -> Vec<u8> {
        let mut v = Vec::from(&b"keel-random-beacon"[..]);
        v.extend_from_slice(&height.get().to_be_bytes());
        v.extend_from_slice(&prev.0);
        v
    }

    /// Randomness handed to execution for the block at this height.
    pub fn randomness(&self) -> Digest {
        Digest(hash("keel-execution-randomness", &[&self.signature.0]))
    }

    /// The genesis beacon: fixed by the subnet's creation, not signed.
    pub fn genesis(subnet_public_key: &[u8]) -> Self {
        let d = hash("keel-genesis-beacon", &[subnet_public_key]);
        let mut sig = [0u8; 48];
        sig[..32].copy_from_slice(&d);
        Beacon {
            height: Height::ZERO,
            signature: ThresholdSignature(sig),
        }
    }
}

/// The block makers of a round in rank order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ranking(Vec<NodeIndex>);

impl Ranking {
    /// The permutation of members drawn from the beacon (Fisher–Yates with hash-derived
    /// draws; the modulo bias over 64-bit draws is negligible for subnet sizes).
    pub fn from_beacon(beacon: &Beacon, size: SubnetSize) -> Self {
        let mut order: Vec<NodeIndex> = size.nodes().collect();
        let seed = hash("keel-ranking", &[&beacon.signature.0]);
        for i in (1..order.len()).rev() {
            let draw = hash("keel-ranking-draw", &[&seed, &(i as u64).to_be_bytes()]);
            let mut b = [0u8; 8];
            b.copy_from_slice(&draw[..8]);
            let j = (u64::from_be_bytes(b) % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        Ranking(order)
    }

    /// The rank of `node`, if a member.
    pub fn rank_of(&self, node: NodeIndex) -> Option<Rank> {
        self.0
            .iter()
            .position(|n| *n == node)
            .map(|p| Rank::new(p as u32))
    }
}

impl Encode for Beacon {
    fn encode_to(&self, w: &mut Writer) {
        self.height.encode_to(w);
        self.signature.encode_to(w);
    }
}
impl Decode for Beacon {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Beacon {
            height: Height::decode_from(r)?,
            signature: ThresholdSignature::decode_from(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranking_is_a_permutation_that_depends_on_the_beacon() {
        let size = SubnetSize::new(7).unwrap();
        let mut seen = alloc::collections::BTreeSet::new();
        for i in 0..20u8 {
            let b = Beacon {
                height: Height::new(1),
                signature: ThresholdSignature([i; 48]),
            };
            let r = Ranking::from_beacon(&b, size);
            let mut sorted = r.0.clone();
            sorted.sort();
            assert_eq!(sorted, size.nodes().collect::<Vec<_>>());
            assert_eq!(r.rank_of(r.0[3]), Some(Rank::new(3)));
            seen.insert(r.0[0]);
        }
        assert!(seen.len() > 3, "leaders vary with the beacon");
        let b = Beacon::genesis(b"k");
        assert_eq!(
            Ranking::from_beacon(&b, size).rank_of(NodeIndex::new(7)),
            None
        );
    }
}
