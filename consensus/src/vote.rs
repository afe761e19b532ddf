//! Notarization and finalization votes: node-signed statements about one block at one
//! height, and the quorum sets (`n − f` distinct signers) that make a block notarized or
//! finalized. A quorum set is a multi-signature kept as its signer list.

use alloc::vec::Vec;

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::crypto::{NodeSignature, NodeSigner, decode_sig_list, encode_sig_list};
use crate::types::{BlockHash, Height, NodeIndex, SubnetSize};

/// Most signatures a quorum set may carry on the wire (more than any subnet has members).
const WIRE_MAX_SIGNERS: usize = 1024;

/// Which vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum VoteKind {
    /// "This block is a valid block of the lowest rank I saw in time."
    Notarization,
    /// "This is the only block I notarization-shared at this height."
    Finalization,
}

impl VoteKind {
    /// The bytes a voter signs.
    pub fn signing_bytes(self, height: Height, block: &BlockHash) -> Vec<u8> {
        let mut v = Vec::from(match self {
            VoteKind::Notarization => &b"keel-notarization"[..],
            VoteKind::Finalization => &b"keel-finalization"[..],
        });
        v.extend_from_slice(&height.get().to_be_bytes());
        v.extend_from_slice(&block.0);
        v
    }

    fn tag(self) -> u8 {
        match self {
            VoteKind::Notarization => 0,
            VoteKind::Finalization => 1,
        }
    }

    fn from_tag(t: u8) -> Result<Self, DecodeError> {
        match t {
            0 => Ok(VoteKind::Notarization),
            1 => Ok(VoteKind::Finalization),
            t => Err(DecodeError::UnknownTag(t)),
        }
    }
}

/// One node's vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vote {
    /// Notarization or finalization.
    pub kind: VoteKind,
    /// Height of the block.
    pub height: Height,
    /// The block.
    pub block: BlockHash,
    /// The voter.
    pub signer: NodeIndex,
    /// The voter's signature over [`VoteKind::signing_bytes`].
    pub signature: NodeSignature,
}

impl Vote {
    /// Signs a vote as this node.
    pub fn sign(
        kind: VoteKind,
        height: Height,
        block: BlockHash,
        me: NodeIndex,
        s: &impl NodeSigner,
    ) -> Self {
        Vote {
            kind,
            height,
            block,
            signer: me,
            signature: s.node_sign(&kind.signing_bytes(height, &block)),
        }
    }

    /// Whether the signature is the signer's.
    pub fn verify(&self, s: &impl NodeSigner) -> bool {
        s.node_verify(
            self.signer,
            &self.kind.signing_bytes(self.height, &self.block),
            &self.signature,
        )
    }
}

/// A quorum of votes on one block: a notarization or a finalization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoteSet {
    /// Notarization or finalization.
    pub kind: VoteKind,
    /// Height of the block.
    pub height: Height,
    /// The block.
    pub block: BlockHash,
    /// Signatures, sorted by signer, signers distinct.
    pub signatures: Vec<(NodeIndex, NodeSignature)>,
}

impl VoteSet {
    /// Whether it holds a quorum of distinct members' valid signatures.
    pub fn verify(&self, size: SubnetSize, s: &impl NodeSigner) -> bool {
        if self.signatures.len() < size.quorum() {
            return false;
        }
        // Strictly increasing signers: distinct, and the encoding is canonical.
        if self.signatures.windows(2).any(|w| w[0].0 >= w[1].0) {
            return false;
        }
        let msg = self.kind.signing_bytes(self.height, &self.block);
        self.signatures
            .iter()
            .all(|(i, sig)| size.contains(*i) && s.node_verify(*i, &msg, sig))
    }
}

impl Encode for Vote {
    fn encode_to(&self, w: &mut Writer) {
        w.u8(self.kind.tag());
        self.height.encode_to(w);
        self.block.encode_to(w);
        self.signer.encode_to(w);
        self.signature.encode_to(w);
    }
}
impl Decode for Vote {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Vote {
            kind: VoteKind::from_tag(r.u8()?)?,
            height: Height::decode_from(r)?,
            block: BlockHash::decode_from(r)?,
            signer: NodeIndex::decode_from(r)?,
            signature: NodeSignature::decode_from(r)?,
        })
    }
}
impl Encode for VoteSet {
    fn encode_to(&self, w: &mut Writer) {
        w.u8(self.kind.tag());
        self.height.encode_to(w);
        self.block.encode_to(w);
        encode_sig_list(w, &self.signatures);
    }
}
impl Decode for VoteSet {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(VoteSet {
            kind: VoteKind::from_tag(r.u8()?)?,
            height: Height::decode_from(r)?,
            block: BlockHash::decode_from(r)?,
            signatures: decode_sig_list(r, WIRE_MAX_SIGNERS)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::GenesisDealing;
    use crate::hashsig::HashSig;

    #[test]
    fn quorum_sets_need_distinct_valid_members() {
        let size = SubnetSize::new(4).unwrap();
        let d = GenesisDealing::deal::<HashSig>([1; 32], 4, 3).unwrap();
        let keys: Vec<HashSig> = size.nodes().map(|i| d.node(i).unwrap()).collect();
        let h = Height::new(2);
        let b = BlockHash([5; 32]);
        let votes: Vec<Vote> = size
            .nodes()
            .map(|i| Vote::sign(VoteKind::Notarization, h, b, i, &keys[i.as_usize()]))
            .collect();
        assert!(votes.iter().all(|v| v.verify(&keys[0])));
        let mut set = VoteSet {
            kind: VoteKind::Notarization,
            height: h,
            block: b,
            signatures: votes[..3].iter().map(|v| (v.signer, v.signature)).collect(),
        };
        assert!(set.verify(size, &keys[0]));
        assert_eq!(VoteSet::from_bytes(&set.to_bytes()), Ok(set.clone()));
        let mut fin = set.clone();
        fin.kind = VoteKind::Finalization;
        assert!(
            !fin.verify(size, &keys[0]),
            "a notarization is not a finalization"
        );
        set.signatures[2] = set.signatures[1];
        assert!(!set.verify(size, &keys[0]), "duplicate signer");
        set.signatures.truncate(2);
        assert!(!set.verify(size, &keys[0]), "under quorum");
    }
}
