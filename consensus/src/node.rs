//! The consensus node: one sans-IO state machine per node. Inputs are calls with the current
//! time (`on_message`, `on_timer`, `submit_ingress`, `on_state_executed`, `on_peer_connected`);
//! each returns the [`Output`]s the driver must carry out in order — persist before send.

use alloc::vec::Vec;

use crate::beacon::Beacon;
use crate::block::{Block, IngressMessage, SignedBlock};
use crate::certification::{Certification, Certifier};
use crate::codec::DecodeError;
use crate::config::Config;
use crate::crypto::Crypto;
use crate::cup::CatchUpPackage;
use crate::finality::{ChainEntry, FinalizedChain};
use crate::gossip::Gossip;
use crate::ingress::{IngressError, IngressPool};
use crate::message::{Chunk, ChunkRequest, Control, Message, SignedControl, Status};
use crate::pool::{ArtifactPool, ShareCollector};
use crate::round::{BlockError, Round};
use crate::types::{BlockHash, Height, NodeIndex, StateHash, Time};

/// A block the driver must execute, delivered exactly once per height and in height order
/// (after a restart, the persisted blocks above the catch-up package are delivered again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalizedBlock {
    /// Its height.
    pub height: Height,
    /// Its hash.
    pub hash: BlockHash,
    /// The block: payload, time and execution randomness.
    pub block: Block,
}

/// What must survive a crash, written by the driver in output order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PersistRecord {
    /// The newest catch-up package; finalized blocks at or below it may be dropped.
    Cup(CatchUpPackage),
    /// A finalized block with its beacon, appended in height order.
    Finalized { block: Block, beacon: Beacon },
    /// The highest height at which this node notarization-shared. After a restart it issues
    /// no finalization share at or below it: it may have forgotten sharing another block.
    ShareFence(Height),
    /// The block this node just proposed. After a restart it re-proposes this block rather
    /// than making a different one at the same height.
    Proposal(SignedBlock),
}

/// What a node restarts from: its persisted records folded together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Persisted {
    /// The newest catch-up package (the genesis package on first boot).
    pub cup: CatchUpPackage,
    /// Finalized blocks above it, in height order.
    pub finalized: Vec<(Block, Beacon)>,
    /// The last [`PersistRecord::ShareFence`].
    pub share_fence: Height,
    /// [`PersistRecord::Proposal`]s above the finalized height.
    pub proposals: Vec<SignedBlock>,
}

impl Persisted {
    /// A first boot from the genesis package.
    pub fn genesis(cup: CatchUpPackage) -> Self {
        Persisted {
            cup,
            finalized: Vec::new(),
            share_fence: Height::ZERO,
            proposals: Vec::new(),
        }
    }

    /// Folds one record in (what a driver's store does).
    pub fn apply(&mut self, r: &PersistRecord) {
        match r {
            PersistRecord::Cup(c) => {
                let h = c.height();
                if h > self.cup.height() {
                    self.cup = c.clone();
                    self.finalized.retain(|(b, _)| b.height > h);
                    self.proposals.retain(|p| p.block.height > h);
                }
            }
            PersistRecord::Finalized { block, beacon } => {
                let next = self
                    .finalized
                    .last()
                    .map_or(self.cup.height(), |(b, _)| b.height)
                    .next();
                if block.height == next {
                    self.finalized.push((block.clone(), *beacon));
                    self.proposals.retain(|p| p.block.height > block.height);
                }
            }
            PersistRecord::ShareFence(h) => {
                if *h > self.share_fence {
                    self.share_fence = *h;
                }
            }
            PersistRecord::Proposal(b) => self.proposals.push(b.clone()),
        }
    }
}

/// Why a peer's message was rejected; reported so the driver can score or disconnect peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehavior {
    /// Bytes that do not decode.
    Undecodable(DecodeError),
    /// A node index outside the subnet.
    NotAMember,
    /// A control message signed by someone other than the connection's peer.
    SenderMismatch,
    /// A signature, share or proof that does not verify.
    BadSignature,
    /// A block that breaks a validity rule.
    InvalidBlock(BlockError),
}

/// An instruction to the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send to every other member.
    Broadcast(Message),
    /// Send to one member.
    Send { to: NodeIndex, message: Message },
    /// Call `on_timer` at (or after) this time; replaces earlier requests.
    SetTimer(Time),
    /// Execute this block next.
    Finalized(FinalizedBlock),
    /// This state root is certified by the subnet.
    Certified(Certification),
    /// Write this durably before sending anything that follows it.
    Persist(PersistRecord),
    /// The node jumped to a catch-up package: fetch the checkpoint with this root by state
    /// sync, then execute the finalized blocks that follow.
    StateSyncRequired {
        height: Height,
        state_hash: StateHash,
    },
    /// A peer asks for a checkpoint chunk; answer with [`ConsensusNode::send_chunk`].
    ServeChunk {
        peer: NodeIndex,
        request: ChunkRequest,
    },
    /// A checkpoint chunk arrived from a peer.
    ChunkReceived { peer: NodeIndex, chunk: Chunk },
    /// A peer sent something invalid.
    PeerMisbehaved {
        peer: NodeIndex,
        reason: Misbehavior,
    },
}

/// Why a node could not be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupError {
    /// The node index is not a member of the configured subnet.
    NotAMember,
}

/// Counters for monitoring and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages dropped by the per-peer quota.
    pub over_quota: u64,
    /// Messages rejected as invalid.
    pub rejected: u64,
    /// Artifacts dropped by a pool bound (window, per-signer caps).
    pub over_limit: u64,
}

/// The consensus state machine of one node.
pub struct ConsensusNode<C: Crypto> {
    pub(crate) cfg: Config,
    pub(crate) me: NodeIndex,
    pub(crate) crypto: C,
    pub(crate) cup: CatchUpPackage,
    pub(crate) chain: FinalizedChain,
    pub(crate) pool: ArtifactPool,
    pub(crate) beacon_shares: ShareCollector,
    pub(crate) cert_shares: ShareCollector,
    pub(crate) cup_shares: ShareCollector,
    pub(crate) round: Round,
    pub(crate) ingress: IngressPool,
    pub(crate) certifier: Certifier,
    pub(crate) gossip: Gossip,
    /// No finalization shares at or below this height (see [`PersistRecord::ShareFence`]).
    pub(crate) fence: Height,
    /// Highest height at which this node notarization-shared (persisted as the fence).
    pub(crate) shared_up_to: Height,
    pub(crate) stats: Stats,
    /// Cross-subnet bytes for the next block this node makes.
    pub(crate) xnet_next: Vec<u8>,
    armed: Option<Time>,
    pub(crate) out: Vec<Output>,
}

impl<C: Crypto> ConsensusNode<C> {
    /// A node booting from the subnet's genesis package.
    pub fn new(
        cfg: Config,
        me: NodeIndex,
        crypto: C,
        genesis: CatchUpPackage,
        now: Time,
    ) -> Result<(Self, Vec<Output>), SetupError> {
        Self::restore(cfg, me, crypto, Persisted::genesis(genesis), now)
    }

    /// A node restarting from what it persisted; the persisted finalized blocks are delivered
    /// again so the driver can replay them from its checkpoint at the package height.
    pub fn restore(
        cfg: Config,
        me: NodeIndex,
        crypto: C,
        persisted: Persisted,
        now: Time,
    ) -> Result<(Self, Vec<Output>), SetupError> {
        if !cfg.size.contains(me) {
            return Err(SetupError::NotAMember);
        }
        let cup = persisted.cup;
        let base = ChainEntry::from_cup(&cup);
        let h = cup.height();
        let mut node = ConsensusNode {
            pool: ArtifactPool::new(h, cfg.window),
            gossip: Gossip::new(now),
            cfg,
            me,
            crypto,
            chain: FinalizedChain::new(base),
            beacon_shares: ShareCollector::default(),
            cert_shares: ShareCollector::default(),
            cup_shares: ShareCollector::default(),
            round: Round::awaiting(h.next()),
            ingress: IngressPool::default(),
            certifier: Certifier::at(h),
            fence: persisted.share_fence,
            shared_up_to: persisted.share_fence,
            stats: Stats::default(),
            xnet_next: Vec::new(),
            armed: None,
            out: Vec::new(),
            cup,
        };
        if h > Height::ZERO {
            node.forget_ingress_history();
        }
        for (block, beacon) in persisted.finalized {
            if !node.chain.extends(&block) {
                break;
            }
            node.append_finalized(ChainEntry::new(block, beacon));
        }
        let tip = node.chain.tip().block.height;
        node.pool.purge_through(tip);
        for sb in persisted.proposals {
            let hash = sb.block.hash();
            if let Some(p) = node.pool.at_mut(sb.block.height) {
                p.blocks.insert(
                    hash,
                    crate::pool::PooledBlock {
                        signed: sb,
                        valid: false,
                    },
                );
            }
        }
        node.round = Round::awaiting(tip.next());
        node.broadcast_status();
        node.advance(now);
        let out = node_take(&mut node.out);
        Ok((node, out))
    }

    /// Handles bytes that arrived from peer `from` over its authenticated connection.
    pub fn on_message(&mut self, now: Time, from: NodeIndex, bytes: &[u8]) -> Vec<Output> {
        if from == self.me || !self.cfg.size.contains(from) {
            return Vec::new();
        }
        if !self.gossip.admit(from, now, &self.cfg.peer_quota) {
            self.stats.over_quota += 1;
            return Vec::new();
        }
        match Message::decode(bytes) {
            Ok(m) => self.handle(now, from, m),
            Err(e) => self.misbehaved(from, Misbehavior::Undecodable(e)),
        }
        self.advance(now);
        node_take(&mut self.out)
    }

    /// Handles a timer firing.
    pub fn on_timer(&mut self, now: Time) -> Vec<Output> {
        self.armed = None;
        if self.gossip.rebroadcast_due(now) {
            self.rebroadcast(now);
            self.gossip
                .schedule_rebroadcast(now, self.cfg.rebroadcast_interval);
        }
        self.advance(now);
        node_take(&mut self.out)
    }

    /// Offers a user's ingress message (already validated by the HTTP interface).
    pub fn submit_ingress(
        &mut self,
        now: Time,
        msg: IngressMessage,
    ) -> Result<Vec<Output>, IngressError> {
        self.ingress.insert(
            msg.clone(),
            None,
            now,
            &self.cfg.limits,
            self.cfg.ingress_capacity,
            self.cfg.ingress_capacity,
        )?;
        let m = self.sign_control(Control::Ingress(msg));
        self.out.push(Output::Broadcast(m));
        self.advance(now);
        Ok(node_take(&mut self.out))
    }

    /// The driver executed `height` (or installed it by state sync) and got `root`.
    pub fn on_state_executed(&mut self, now: Time, height: Height, root: StateHash) -> Vec<Output> {
        self.record_execution(height, root);
        self.advance(now);
        node_take(&mut self.out)
    }

    /// A peer (re)connected: tell it where we are so it can send what we miss, and send it
    /// our pending ingress.
    pub fn on_peer_connected(&mut self, now: Time, peer: NodeIndex) -> Vec<Output> {
        if peer != self.me && self.cfg.size.contains(peer) {
            self.reconnected(peer);
        }
        self.advance(now);
        node_take(&mut self.out)
    }

    /// Asks `peer` for a checkpoint chunk during state sync.
    pub fn request_chunk(&mut self, peer: NodeIndex, request: ChunkRequest) -> Vec<Output> {
        let message = self.sign_control(Control::ChunkRequest(request));
        alloc::vec![Output::Send { to: peer, message }]
    }

    /// Sends a checkpoint chunk to `peer` in answer to [`Output::ServeChunk`].
    pub fn send_chunk(&mut self, peer: NodeIndex, chunk: Chunk) -> Vec<Output> {
        let message = self.sign_control(Control::Chunk(chunk));
        alloc::vec![Output::Send { to: peer, message }]
    }

    /// Hands back the ingress history of the execution state at the catch-up package height
    /// (ids and expiries of executed messages), after a restart or a jump. Until then the
    /// node proposes no ingress, so it cannot re-propose a message finalized before the
    /// package; the execution layer's own history stays the final guard against replays.
    pub fn restore_ingress_history(
        &mut self,
        entries: impl IntoIterator<Item = (crate::types::MessageId, Time)>,
    ) {
        self.ingress.restore_history(entries);
    }

    pub(crate) fn forget_ingress_history(&mut self) {
        let t = self
            .cup
            .content
            .block
            .time
            .plus(self.cfg.limits.max_ingress_ttl);
        self.ingress.blind_until(t);
    }

    /// Hands the cross-subnet stream bytes for the next block this node proposes; rejected
    /// if over the payload limit.
    pub fn set_xnet_payload(&mut self, bytes: Vec<u8>) -> Result<(), crate::block::PayloadError> {
        if bytes.len() > self.cfg.limits.max_xnet_bytes {
            return Err(crate::block::PayloadError::XnetTooLarge);
        }
        self.xnet_next = bytes;
        Ok(())
    }

    /// This node's index.
    pub fn index(&self) -> NodeIndex {
        self.me
    }

    /// Highest finalized height.
    pub fn finalized_height(&self) -> Height {
        self.chain.tip().block.height
    }

    /// Height of the round in progress.
    pub fn round_height(&self) -> Height {
        self.round.height()
    }

    /// Height of the newest catch-up package.
    pub fn cup_height(&self) -> Height {
        self.cup.height()
    }

    /// The newest catch-up package.
    pub fn cup(&self) -> &CatchUpPackage {
        &self.cup
    }

    /// Highest certified height.
    pub fn certified_height(&self) -> Height {
        self.certifier.latest
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Pending ingress messages.
    pub fn ingress_pending(&self) -> usize {
        self.ingress.len()
    }

    /// Progress summary as sent to peers.
    pub fn status(&self) -> Status {
        Status {
            finalized: self.finalized_height(),
            cup: self.cup_height(),
            round: self.round_height(),
        }
    }

    pub(crate) fn sign_control(&self, body: Control) -> Message {
        Message::Control(SignedControl::sign(self.me, body, &self.crypto))
    }

    pub(crate) fn misbehaved(&mut self, peer: NodeIndex, reason: Misbehavior) {
        self.stats.rejected += 1;
        self.out.push(Output::PeerMisbehaved { peer, reason });
    }

    fn handle(&mut self, now: Time, from: NodeIndex, m: Message) {
        match m {
            Message::Block(b) => self.on_block(from, b),
            Message::Vote(v) => self.on_vote(from, v),
            Message::VoteSet(s) => self.on_vote_set(from, s),
            Message::Share(s) => self.on_share(from, s),
            Message::Beacon(b) => self.on_beacon(from, b),
            Message::Certification(c) => self.on_certification(from, c),
            Message::Cup(c) => self.on_cup(from, c),
            Message::Segment(s) => self.on_segment(from, s),
            Message::Control(c) => self.on_control(now, from, c),
            Message::Announce(a) => self.on_announcement(from, a),
        }
    }

    fn on_control(&mut self, now: Time, from: NodeIndex, c: SignedControl) {
        if c.sender != from {
            return self.misbehaved(from, Misbehavior::SenderMismatch);
        }
        if !c.verify(&self.crypto) {
            return self.misbehaved(from, Misbehavior::BadSignature);
        }
        match c.body {
            Control::Status(s) => self.on_status(now, from, s),
            Control::BlockRequest { height, hash } => self.on_block_request(from, height, hash),
            Control::Ingress(m) => {
                // Invalid or duplicate ingress from a peer is normal (races, clock skew): drop.
                let (cap, per_peer) = (self.cfg.ingress_capacity, self.cfg.ingress_per_peer);
                let _ = self
                    .ingress
                    .insert(m, Some(from), now, &self.cfg.limits, cap, per_peer);
            }
            Control::ChunkRequest(request) => self.out.push(Output::ServeChunk {
                peer: from,
                request,
            }),
            Control::Chunk(chunk) => self.out.push(Output::ChunkReceived { peer: from, chunk }),
        }
    }

    /// Runs every rule until nothing changes, then arms the timer.
    pub(crate) fn advance(&mut self, now: Time) {
        // Each step only moves state forward (heights, sets) and the state is bounded, so
        // this terminates; the cap is a guard against a bug turning into a hang.
        for _ in 0..10_000 {
            let mut progressed = self.step_finality();
            progressed |= self.step_round(now);
            progressed |= self.step_certification();
            progressed |= self.step_cup();
            if !progressed {
                break;
            }
        }
        let next = self.next_deadline(now);
        if self.armed != Some(next) {
            self.armed = Some(next);
            self.out.push(Output::SetTimer(next));
        }
    }

    fn next_deadline(&self, now: Time) -> Time {
        let gossip = self.gossip.next_rebroadcast();
        match self.round.next_deadline(now, &self.cfg) {
            Some(t) if t < gossip => t,
            _ => gossip,
        }
    }
}

/// Drains the output buffer.
fn node_take(out: &mut Vec<Output>) -> Vec<Output> {
    core::mem::take(out)
}

impl<C: Crypto> ConsensusNode<C> {
    /// A human-readable dump of the pool and round, for replaying a failing seed or for an
    /// operator looking at a stalled node.
    pub fn debug_dump(&self) -> alloc::string::String {
        use core::fmt::Write;
        let mut s = alloc::string::String::new();
        let tip = self.chain.tip();
        let _ = writeln!(
            s,
            "{}: tip {} {:?}, round {:?}, fence {}",
            self.me,
            tip.block.height,
            tip.hash,
            self.round.describe(),
            self.fence
        );
        for h in self.pool.heights_desc().into_iter().rev() {
            let Some(p) = self.pool.at(h) else { continue };
            let _ = writeln!(s, "  h{h}: beacon {}", p.beacon.is_some());
            for (hash, b) in &p.blocks {
                let _ = writeln!(
                    s,
                    "    block {hash:?} rank {} maker {} parent {:?} valid {} notarized {} nvotes {} fvotes {} anc {:?}",
                    b.signed.block.rank.get(),
                    b.signed.block.maker,
                    b.signed.block.parent,
                    b.valid,
                    p.is_notarized(hash),
                    p.notarization_votes.count(hash),
                    p.finalization_votes.count(hash),
                    self.ancestry(h, *hash).map(|_| ()),
                );
            }
            for hash in p.notarized.keys().filter(|k| !p.blocks.contains_key(k)) {
                let _ = writeln!(s, "    notarized but missing {hash:?}");
            }
        }
        s
    }
}

#[cfg(test)]
#[path = "node_tests.rs"]
mod tests;
