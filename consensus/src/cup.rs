//! Catch-up packages: a finalized block, the certified state root after it and its random
//! beacon, signed by the subnet key. A node that lags or restarts adopts the newest package
//! it can verify, jumps to its height, and fetches that state by state sync.

use crate::beacon::Beacon;
use crate::block::Block;
use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::crypto::{ThresholdScheme, ThresholdSignature};
use crate::hash::hash;
use crate::share::ShareKind;
use crate::types::{Digest, Height, StateHash};

/// What a catch-up package vouches for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CupContent {
    /// The finalized block.
    pub block: Block,
    /// The certified state root after executing it.
    pub state_hash: StateHash,
    /// The random beacon at the block's height, from which the next beacons follow.
    pub beacon: Beacon,
}

impl CupContent {
    /// The digest the subnet signs.
    pub fn digest(&self) -> Digest {
        Digest(hash("keel-cup-content", &[&self.to_bytes()]))
    }

    /// The height.
    pub fn height(&self) -> Height {
        self.block.height
    }
}

/// A signed catch-up package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatchUpPackage {
    /// Content.
    pub content: CupContent,
    /// Threshold signature over [`ShareKind::CatchUp`] of the content digest.
    pub signature: ThresholdSignature,
}

impl CatchUpPackage {
    /// The height.
    pub fn height(&self) -> Height {
        self.content.height()
    }

    /// Whether the subnet key signed it. The genesis package is trusted by configuration
    /// instead and never verified.
    pub fn verify(&self, t: &impl ThresholdScheme) -> bool {
        let msg = ShareKind::CatchUp.signing_bytes(self.height(), &self.content.digest());
        t.threshold_verify(&msg, &self.signature)
    }

    /// The genesis package of a subnet: genesis block, initial state root, genesis beacon.
    pub fn genesis(block: Block, state_hash: StateHash, subnet_public_key: &[u8]) -> Self {
        CatchUpPackage {
            content: CupContent {
                block,
                state_hash,
                beacon: Beacon::genesis(subnet_public_key),
            },
            signature: ThresholdSignature([0; 48]),
        }
    }
}

impl Encode for CupContent {
    fn encode_to(&self, w: &mut Writer) {
        self.block.encode_to(w);
        self.state_hash.encode_to(w);
        self.beacon.encode_to(w);
    }
}
impl Decode for CupContent {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(CupContent {
            block: Block::decode_from(r)?,
            state_hash: StateHash::decode_from(r)?,
            beacon: Beacon::decode_from(r)?,
        })
    }
}
impl Encode for CatchUpPackage {
    fn encode_to(&self, w: &mut Writer) {
        self.content.encode_to(w);
        self.signature.encode_to(w);
    }
}
impl Decode for CatchUpPackage {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(CatchUpPackage {
            content: CupContent::decode_from(r)?,
            signature: ThresholdSignature::decode_from(r)?,
        })
    }
}

impl<C: crate::crypto::Crypto> crate::node::ConsensusNode<C> {
    /// The height of the next package this node can vouch for: the highest multiple of the
    /// interval above the current package that is finalized and certified here.
    pub(crate) fn pending_cup_height(&self) -> Option<Height> {
        let interval = self.cfg.cup_interval.max(1);
        let finalized = self.finalized_height();
        self.certifier
            .certified
            .keys()
            .rev()
            .find(|h| **h > self.cup.height() && **h <= finalized && h.get() % interval == 0)
            .copied()
    }

    /// Shares and combines the next catch-up package.
    pub(crate) fn step_cup(&mut self) -> bool {
        let Some(h) = self.pending_cup_height() else {
            return false;
        };
        let (Some(entry), Some(root)) = (self.chain.entry(h), self.certifier.certified.get(&h))
        else {
            return false;
        };
        let content = CupContent {
            block: entry.block.clone(),
            state_hash: *root,
            beacon: entry.beacon,
        };
        let subject = content.digest();
        let msg = ShareKind::CatchUp.signing_bytes(h, &subject);
        let mut progressed = false;
        if !self.cup_shares.contains(h, &subject, self.me) {
            let share = self.crypto.share_sign(&msg);
            self.cup_shares.insert(h, subject, self.me, share);
            let s = crate::share::ThresholdShare {
                kind: ShareKind::CatchUp,
                height: h,
                subject,
                signer: self.me,
                share,
            };
            self.out.push(crate::node::Output::Broadcast(
                crate::message::Message::Share(s),
            ));
            progressed = true;
        }
        if self.cup_shares.count(h, &subject) >= self.cfg.size.quorum()
            && let Ok(signature) = self
                .crypto
                .combine(&msg, &self.cup_shares.shares(h, &subject))
        {
            self.adopt_cup(CatchUpPackage { content, signature });
            progressed = true;
        }
        progressed
    }

    /// A catch-up package from a peer.
    pub(crate) fn on_cup(&mut self, from: crate::types::NodeIndex, cup: CatchUpPackage) {
        if cup.height() <= self.cup.height() || cup.height() > self.finalized_height().plus(1 << 40)
        {
            return;
        }
        if !cup.verify(&self.crypto) {
            return self.misbehaved(from, crate::node::Misbehavior::BadSignature);
        }
        self.adopt_cup(cup);
    }

    /// Makes `cup` the base: on our own chain it only prunes history; above our finalized
    /// height it is a jump that needs state sync.
    fn adopt_cup(&mut self, cup: CatchUpPackage) {
        let h = cup.height();
        match self.chain.entry(h) {
            Some(e) if e.hash == cup.content.block.hash() => self.chain.rebase(h),
            // A package for another block at a height we finalized cannot be valid while
            // fewer than a third of the nodes are faulty; keep our chain.
            Some(_) => return,
            None if h <= self.finalized_height() => return,
            None => {
                self.chain
                    .reset(crate::finality::ChainEntry::from_cup(&cup));
                self.pool.purge_through(h);
                self.beacon_shares.purge_through(h);
                self.advance_round_past(h);
                self.cup = cup.clone();
                self.forget_ingress_history();
                self.out.push(crate::node::Output::StateSyncRequired {
                    height: h,
                    state_hash: cup.content.state_hash,
                });
            }
        }
        self.certifier.prune(h);
        self.cert_shares.purge_through(h);
        self.cup_shares.purge_through(h);
        self.out.push(crate::node::Output::Persist(
            crate::node::PersistRecord::Cup(cup.clone()),
        ));
        self.cup = cup;
    }
}
