//! A round of Internet Computer Consensus at one height: wait for the random beacon, which
//! ranks the block makers; the rank-r maker proposes after `r` maker delays unless a
//! lower-ranked block is already there; notaries share the lowest-ranked valid block once its
//! rank's notary delay has passed; the round ends with the first notarized block, and a node
//! sends a finalization share for it only if it notarization-shared no other block.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use core::time::Duration;

use crate::beacon::{Beacon, Ranking};
use crate::block::{Block, Payload, PayloadError, SignedBlock, validate_payload};
use crate::config::{BrokenRuleRef, Config};
use crate::crypto::Crypto;
use crate::message::Message;
use crate::node::{ConsensusNode, Misbehavior, Output, PersistRecord};
use crate::pool::{Insert, MAX_BLOCKS_PER_MAKER, MAX_VOTES_PER_SIGNER, PooledBlock};
use crate::share::{ShareKind, ThresholdShare};
use crate::types::{BlockHash, Height, MessageId, NodeIndex, Rank, Time};
use crate::vote::{Vote, VoteKind, VoteSet};

/// Why a block is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockError {
    /// The maker's rank in the beacon's ranking is not the claimed one.
    WrongRank,
    /// The randomness is not the one derived from the beacon.
    BadRandomness,
    /// The time is not after the parent's.
    TimeNotAfterParent,
    /// The payload breaks a rule.
    Payload(PayloadError),
}

/// Outcome of checking a block.
enum Check {
    /// Cannot decide yet (parent not notarized here, or time ahead of our clock).
    NotYet,
    /// Invalid for good.
    Invalid(BlockError),
}

/// The round in progress.
pub(crate) enum Round {
    /// The previous height is notarized; waiting for this height's beacon.
    AwaitingBeacon { height: Height, share_sent: bool },
    /// Making and notarizing blocks.
    Running(Running),
}

/// State of a running round.
pub(crate) struct Running {
    height: Height,
    started: Time,
    ranking: Ranking,
    my_rank: Option<Rank>,
    proposed: bool,
    /// Blocks this node notarization-shared at this height.
    shared: BTreeSet<BlockHash>,
    /// The rank of those blocks: never share a higher rank after a lower one.
    lowest_shared: Option<Rank>,
}

fn delay(per_rank: Duration, r: Rank) -> Duration {
    per_rank.saturating_mul(r.get())
}

/// How long after the round start notaries wait before sharing a block of rank `r`.
fn notary_wait(cfg: &Config, r: Rank) -> Duration {
    cfg.initial_notary_delay
        .saturating_add(delay(cfg.notary_delay, r))
}

impl Round {
    pub fn awaiting(height: Height) -> Self {
        Round::AwaitingBeacon {
            height,
            share_sent: false,
        }
    }

    pub fn height(&self) -> Height {
        match self {
            Round::AwaitingBeacon { height, .. } => *height,
            Round::Running(r) => r.height,
        }
    }

    /// Short description for debugging.
    pub fn describe(&self) -> alloc::string::String {
        match self {
            Round::AwaitingBeacon { height, share_sent } => {
                alloc::format!("awaiting beacon h{height} share_sent {share_sent}")
            }
            Round::Running(r) => alloc::format!(
                "running h{} started {:?} my_rank {:?} proposed {} shared {:?} lowest {:?}",
                r.height,
                r.started,
                r.my_rank,
                r.proposed,
                r.shared,
                r.lowest_shared
            ),
        }
    }

    /// The next time a delay of this round expires.
    pub fn next_deadline(&self, now: Time, cfg: &Config) -> Option<Time> {
        let Round::Running(r) = self else { return None };
        (0..cfg.size.n())
            .flat_map(|k| {
                let k = Rank::new(k);
                [
                    r.started.plus(delay(cfg.block_maker_delay, k)),
                    r.started.plus(notary_wait(cfg, k)),
                ]
            })
            .filter(|t| *t > now)
            .min()
    }
}

impl<C: Crypto> ConsensusNode<C> {
    /// The beacon at `h`, from the finalized chain or the pool.
    pub(crate) fn beacon_at(&self, h: Height) -> Option<Beacon> {
        match self.chain.entry(h) {
            Some(e) => Some(e.beacon),
            None => self.pool.at(h).and_then(|p| p.beacon),
        }
    }

    /// The notarized block `hash` at `h` (a finalized block counts as notarized).
    fn notarized_block(&self, h: Height, hash: &BlockHash) -> Option<&Block> {
        if let Some(e) = self.chain.entry(h) {
            return (e.hash == *hash).then_some(&e.block);
        }
        let p = self.pool.at(h)?;
        p.is_notarized(hash)
            .then(|| p.blocks.get(hash).map(|b| &b.signed.block))
            .flatten()
    }

    /// A notarized block at `h` that we hold, lowest rank first.
    fn notarized_at(&self, h: Height) -> Option<BlockHash> {
        let p = self.pool.at(h)?;
        p.blocks
            .iter()
            .filter(|(hash, _)| p.is_notarized(hash))
            .min_by_key(|(hash, b)| (b.signed.block.rank, **hash))
            .map(|(hash, _)| *hash)
    }

    /// Ingress ids in the unfinalized ancestors from `parent` down to the finalized tip;
    /// `None` if we miss one of those blocks, since then duplicates cannot be ruled out.
    fn unfinalized_ingress(
        &self,
        height: Height,
        parent: BlockHash,
    ) -> Option<BTreeSet<MessageId>> {
        self.ancestry(height, parent).ok()
    }

    /// Walks from block `hash` at `height` down to the finalized tip collecting ingress ids;
    /// on a gap, returns the missing block (`None` if the walk ends on another chain).
    pub(crate) fn ancestry(
        &self,
        mut height: Height,
        mut hash: BlockHash,
    ) -> Result<BTreeSet<MessageId>, Option<(Height, BlockHash)>> {
        let tip = self.chain.tip();
        let mut ids = BTreeSet::new();
        while height > tip.block.height {
            let b = self
                .pool
                .at(height)
                .and_then(|p| p.blocks.get(&hash))
                .ok_or(Some((height, hash)))?;
            ids.extend(b.signed.block.payload.ingress.iter().map(|m| m.id));
            hash = b.signed.block.parent;
            height = height.prev().ok_or(None)?;
        }
        if hash == tip.hash { Ok(ids) } else { Err(None) }
    }

    /// One pass of the round rules; true if anything changed.
    pub(crate) fn step_round(&mut self, now: Time) -> bool {
        let mut progressed = false;
        while let Some(hash) = self.notarized_at(self.round.height()) {
            self.end_round(hash);
            progressed = true;
        }
        let h = self.round.height();
        match self.round {
            Round::AwaitingBeacon { .. } => {
                if let Some(beacon) = self.beacon_at(h) {
                    let ranking = Ranking::from_beacon(&beacon, self.cfg.size);
                    self.round = Round::Running(Running {
                        height: h,
                        started: now,
                        my_rank: ranking.rank_of(self.me),
                        ranking,
                        proposed: false,
                        shared: BTreeSet::new(),
                        lowest_shared: None,
                    });
                    return true;
                }
                progressed |= self.share_beacon(h);
                progressed |= self.combine_beacon(h);
            }
            Round::Running(_) => {
                progressed |= self.validate_blocks(h, now);
                progressed |= self.maybe_propose(h, now);
                progressed |= self.maybe_notarize(h, now);
            }
        }
        progressed
    }

    fn share_beacon(&mut self, h: Height) -> bool {
        let Round::AwaitingBeacon {
            share_sent: false, ..
        } = self.round
        else {
            return false;
        };
        let Some(prev) = h.prev().and_then(|p| self.beacon_at(p)) else {
            return false;
        };
        let subject = prev.digest();
        let share = self
            .crypto
            .share_sign(&ShareKind::Beacon.signing_bytes(h, &subject));
        self.beacon_shares.insert(h, subject, self.me, share);
        let s = ThresholdShare {
            kind: ShareKind::Beacon,
            height: h,
            subject,
            signer: self.me,
            share,
        };
        self.out.push(Output::Broadcast(Message::Share(s)));
        self.round = Round::AwaitingBeacon {
            height: h,
            share_sent: true,
        };
        true
    }

    fn combine_beacon(&mut self, h: Height) -> bool {
        let Some(prev) = h.prev().and_then(|p| self.beacon_at(p)) else {
            return false;
        };
        let subject = prev.digest();
        if self.beacon_shares.count(h, &subject) < self.cfg.size.quorum() {
            return false;
        }
        let msg = ShareKind::Beacon.signing_bytes(h, &subject);
        let Ok(signature) = self
            .crypto
            .combine(&msg, &self.beacon_shares.shares(h, &subject))
        else {
            return false;
        };
        match self.pool.at_mut(h) {
            Some(p) => {
                p.beacon = Some(Beacon {
                    height: h,
                    signature,
                });
                true
            }
            None => false,
        }
    }

    /// A beacon from a peer; verifiable once we hold the previous one.
    pub(crate) fn on_beacon(&mut self, from: NodeIndex, b: Beacon) {
        if !self.pool.accepts(b.height) || self.beacon_at(b.height).is_some() {
            return;
        }
        let Some(prev) = b.height.prev().and_then(|p| self.beacon_at(p)) else {
            return;
        };
        if !self.crypto.threshold_verify(
            &Beacon::signing_bytes(b.height, &prev.digest()),
            &b.signature,
        ) {
            return self.misbehaved(from, Misbehavior::BadSignature);
        }
        if let Some(p) = self.pool.at_mut(b.height) {
            p.beacon = Some(b);
        }
    }

    /// A block proposal from a peer: checked for its maker's signature now, for validity once
    /// its beacon and parent are known.
    pub(crate) fn on_block(&mut self, from: NodeIndex, sb: SignedBlock) {
        let hash = sb.block.hash();
        if self.admits_block(from, &sb.block, &hash) {
            self.take_block(from, sb, hash);
        }
    }

    /// Whether a block `from` sent, whose hash is `hash`, is new here and may enter the pool
    /// (its maker a member, its height within the pool's window).
    pub(crate) fn admits_block(&mut self, from: NodeIndex, block: &Block, hash: &BlockHash) -> bool {
        if !self.cfg.size.contains(block.maker) {
            self.misbehaved(from, Misbehavior::NotAMember);
            return false;
        }
        if !self.pool.accepts(block.height) {
            self.stats.over_limit += 1;
            return false;
        }
        !self
            .pool
            .at(block.height)
            .is_some_and(|p| p.blocks.contains_key(hash))
    }

    /// Pools an admitted block whose hash is `hash` once its maker's signature verifies.
    pub(crate) fn take_block(&mut self, from: NodeIndex, sb: SignedBlock, hash: BlockHash) {
        let maker = sb.block.maker;
        if !self
            .crypto
            .node_verify(maker, &Block::signing_bytes(&hash), &sb.signature)
        {
            return self.misbehaved(from, Misbehavior::BadSignature);
        }
        if let Some(p) = self.pool.at_mut(sb.block.height) {
            // The cap keeps an equivocating maker from filling the pool, but a notarized
            // block is always taken: others build on it, so dropping it would stall us.
            if p.blocks_by(maker) >= MAX_BLOCKS_PER_MAKER && !p.is_notarized(&hash) {
                self.stats.over_limit += 1;
                return;
            }
            p.blocks.insert(
                hash,
                PooledBlock {
                    signed: sb,
                    valid: false,
                },
            );
        }
    }

    fn check_block(&self, b: &Block, now: Time) -> Result<(), Check> {
        let Round::Running(r) = &self.round else {
            return Err(Check::NotYet);
        };
        if r.ranking.rank_of(b.maker) != Some(b.rank) {
            return Err(Check::Invalid(BlockError::WrongRank));
        }
        let beacon = self.beacon_at(b.height).ok_or(Check::NotYet)?;
        if b.randomness != beacon.randomness() {
            return Err(Check::Invalid(BlockError::BadRandomness));
        }
        let ph = b
            .height
            .prev()
            .ok_or(Check::Invalid(BlockError::TimeNotAfterParent))?;
        let parent = self.notarized_block(ph, &b.parent).ok_or(Check::NotYet)?;
        if b.time <= parent.time {
            return Err(Check::Invalid(BlockError::TimeNotAfterParent));
        }
        if b.time > now.plus(self.cfg.max_clock_skew) {
            return Err(Check::NotYet);
        }
        let in_chain = self
            .unfinalized_ingress(ph, b.parent)
            .ok_or(Check::NotYet)?;
        validate_payload(&b.payload, b.time, &self.cfg.limits, |id| {
            in_chain.contains(id) || self.ingress.is_finalized(id)
        })
        .map_err(|e| Check::Invalid(BlockError::Payload(e)))
    }

    fn validate_blocks(&mut self, h: Height, now: Time) -> bool {
        let pending: Vec<(BlockHash, Block)> = match self.pool.at(h) {
            Some(p) => p
                .blocks
                .iter()
                .filter(|(_, b)| !b.valid)
                .map(|(k, b)| (*k, b.signed.block.clone()))
                .collect(),
            None => return false,
        };
        let mut progressed = false;
        for (hash, block) in pending {
            let verdict = self.check_block(&block, now);
            let Some(p) = self.pool.at_mut(h) else { break };
            match verdict {
                Ok(()) => {
                    if let Some(b) = p.blocks.get_mut(&hash) {
                        b.valid = true;
                        progressed = true;
                    }
                }
                Err(Check::NotYet) => {}
                Err(Check::Invalid(e)) => {
                    p.blocks.remove(&hash);
                    self.misbehaved(block.maker, Misbehavior::InvalidBlock(e));
                }
            }
        }
        progressed
    }

    fn choose_parent(&self, h: Height) -> Option<Block> {
        let ph = h.prev()?;
        if let Some(e) = self.chain.entry(ph) {
            return Some(e.block.clone());
        }
        let p = self.pool.at(ph)?;
        p.blocks
            .iter()
            .filter(|(hash, _)| {
                p.is_notarized(hash) && self.unfinalized_ingress(ph, **hash).is_some()
            })
            .min_by_key(|(hash, b)| (b.signed.block.rank, **hash))
            .map(|(_, b)| b.signed.block.clone())
    }

    fn maybe_propose(&mut self, h: Height, now: Time) -> bool {
        let Round::Running(r) = &self.round else {
            return false;
        };
        let Some(rank) = r.my_rank else { return false };
        if r.proposed || now < r.started.plus(delay(self.cfg.block_maker_delay, rank)) {
            return false;
        }
        // After a restart our persisted proposal is back in the pool: never make a second,
        // different block at this height (that would be equivocation).
        let already_made = self.pool.at(h).is_some_and(|p| p.blocks_by(self.me) > 0);
        let lower_exists = already_made
            || self.pool.at(h).is_some_and(|p| {
                p.blocks
                    .values()
                    .any(|b| b.valid && b.signed.block.rank < rank)
            });
        let made = if lower_exists {
            None
        } else {
            self.make_block(h, rank, now)
        };
        if !lower_exists && made.is_none() {
            // No notarized parent with known ancestry yet; retry when blocks arrive.
            return false;
        }
        if let Round::Running(r) = &mut self.round {
            r.proposed = true;
        }
        if let Some(sb) = made {
            self.out
                .push(Output::Persist(PersistRecord::Proposal(sb.clone())));
            if let Some(p) = self.pool.at_mut(h) {
                p.blocks.insert(
                    sb.block.hash(),
                    PooledBlock {
                        signed: sb.clone(),
                        valid: true,
                    },
                );
            }
            self.out.push(Output::Broadcast(Message::Block(sb)));
        }
        true
    }

    fn make_block(&mut self, h: Height, rank: Rank, now: Time) -> Option<SignedBlock> {
        let parent = self.choose_parent(h)?;
        let beacon = self.beacon_at(h)?;
        let time = if now > parent.time {
            now
        } else {
            Time::from_nanos(parent.time.as_nanos().saturating_add(1))
        };
        let parent_hash = parent.hash();
        let excluded = self.unfinalized_ingress(parent.height, parent_hash)?;
        let ingress = self
            .ingress
            .select(time, &self.cfg.limits, |id| excluded.contains(id));
        let xnet = core::mem::take(&mut self.xnet_next);
        let block = Block {
            height: h,
            parent: parent_hash,
            rank,
            maker: self.me,
            time,
            randomness: beacon.randomness(),
            payload: Payload { ingress, xnet },
        };
        let signature = self.crypto.node_sign(&Block::signing_bytes(&block.hash()));
        Some(SignedBlock { block, signature })
    }

    fn maybe_notarize(&mut self, h: Height, now: Time) -> bool {
        let Round::Running(r) = &self.round else {
            return false;
        };
        let Some(p) = self.pool.at(h) else {
            return false;
        };
        let eligible: Vec<(Rank, BlockHash)> = p
            .blocks
            .iter()
            .filter(|(_, b)| {
                b.valid && now >= r.started.plus(notary_wait(&self.cfg, b.signed.block.rank))
            })
            .map(|(hash, b)| (b.signed.block.rank, *hash))
            .collect();
        let Some(min_rank) = eligible.iter().map(|(rank, _)| *rank).min() else {
            return false;
        };
        if r.lowest_shared.is_some_and(|l| min_rank > l) {
            return false;
        }
        let to_share: Vec<BlockHash> = eligible
            .iter()
            .filter(|(rank, hash)| *rank == min_rank && !r.shared.contains(hash))
            .map(|(_, h)| *h)
            .collect();
        if to_share.is_empty() {
            return false;
        }
        if h > self.shared_up_to {
            // Persisted before the share leaves: a restart must know it may have shared here.
            self.shared_up_to = h;
            self.out.push(Output::Persist(PersistRecord::ShareFence(h)));
        }
        for hash in to_share {
            // Relay the block with the vote: peers that did not get it from an equivocating
            // or partially connected maker can then notarize it too.
            if let Some(b) = self.pool.at(h).and_then(|p| p.blocks.get(&hash)) {
                self.out
                    .push(Output::Broadcast(Message::Block(b.signed.clone())));
            }
            self.cast_vote(VoteKind::Notarization, h, hash);
            if self.cfg.broken(BrokenRuleRef::FinalizeWithoutNotarization) {
                self.cast_vote(VoteKind::Finalization, h, hash);
            }
            if let Round::Running(r) = &mut self.round {
                r.shared.insert(hash);
            }
        }
        if let Round::Running(r) = &mut self.round {
            r.lowest_shared = Some(min_rank);
        }
        true
    }

    /// Ends the round at the current height with the notarized block `hash`.
    fn end_round(&mut self, hash: BlockHash) {
        let h = self.round.height();
        let only_this = match &self.round {
            Round::Running(r) => r.shared.iter().all(|s| *s == hash),
            Round::AwaitingBeacon { .. } => true,
        };
        // The finalization rule: a node that notarization-shared only this block (or none)
        // vouches that no other block at this height can be notarized with its help.
        if only_this && h > self.fence {
            self.cast_vote(VoteKind::Finalization, h, hash);
        }
        self.advance_round_past(h);
    }

    /// Moves the round on to `h + 1` unless it already runs above `h`. Rounds never go back:
    /// a round remembers which blocks this node notarization-shared at its height, and a
    /// round restarted at such a height would forget them and could finalization-share a
    /// block whose equivocating twin it had also shared (a safety violation).
    pub(crate) fn advance_round_past(&mut self, h: Height) {
        if self.round.height() <= h {
            self.round = Round::awaiting(h.next());
        }
    }

    fn cast_vote(&mut self, kind: VoteKind, h: Height, hash: BlockHash) {
        let v = Vote::sign(kind, h, hash, self.me, &self.crypto);
        self.add_vote(v);
        self.out.push(Output::Broadcast(Message::Vote(v)));
    }

    /// Adds a verified vote; a quorum becomes a notarization or finalization.
    fn add_vote(&mut self, v: Vote) {
        let quorum = self.cfg.size.quorum();
        let Some(p) = self.pool.at_mut(v.height) else {
            return;
        };
        let bucket = p.votes_mut(v.kind);
        match bucket.insert(v.block, v.signer, v.signature, MAX_VOTES_PER_SIGNER) {
            Insert::New => {
                if bucket.count(&v.block) >= quorum && !p.has_set(v.kind, &v.block) {
                    let signatures = p.votes(v.kind).signed(&v.block);
                    p.insert_set(VoteSet {
                        kind: v.kind,
                        height: v.height,
                        block: v.block,
                        signatures,
                    });
                }
            }
            Insert::Duplicate => {}
            Insert::OverLimit => self.stats.over_limit += 1,
        }
    }

    /// A vote from a peer.
    pub(crate) fn on_vote(&mut self, from: NodeIndex, v: Vote) {
        if !self.cfg.size.contains(v.signer) {
            return self.misbehaved(from, Misbehavior::NotAMember);
        }
        if !self.pool.accepts(v.height) {
            self.stats.over_limit += 1;
            return;
        }
        if self.pool.at(v.height).is_some_and(|p| {
            p.votes(v.kind).contains(&v.block, v.signer) || p.has_set(v.kind, &v.block)
        }) {
            return;
        }
        if !v.verify(&self.crypto) {
            return self.misbehaved(from, Misbehavior::BadSignature);
        }
        self.add_vote(v);
    }

    /// A notarization or finalization from a peer; asks for the block if we lack it.
    pub(crate) fn on_vote_set(&mut self, from: NodeIndex, s: VoteSet) {
        if !self.pool.accepts(s.height) {
            return;
        }
        if self
            .pool
            .at(s.height)
            .is_some_and(|p| p.has_set(s.kind, &s.block))
        {
            return;
        }
        if !s.verify(self.cfg.size, &self.crypto) {
            return self.misbehaved(from, Misbehavior::BadSignature);
        }
        let (height, hash) = (s.height, s.block);
        let Some(p) = self.pool.at_mut(height) else {
            return;
        };
        p.insert_set(s);
        if !p.blocks.contains_key(&hash) {
            let m = self.sign_control(crate::message::Control::BlockRequest { height, hash });
            self.out.push(Output::Send {
                to: from,
                message: m,
            });
        }
    }
}
