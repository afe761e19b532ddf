//! Block making: the full ICC protocol (`keel-consensus`) run by this node, one member of a
//! subnet of n ≥ 1 nodes. With n = 1 the node is the only block maker, notary and certifier
//! and nothing is ever sent; with n > 1 the protocol's messages go to an outbox the kernel's
//! P2P layer drains, and peers' messages come in through [`BlockMaker::on_message`].
//!
//! * **Pacing.** The protocol makes a block whenever the previous one finalizes. While no
//!   ingress waits, this wrapper defers the protocol's timer to `idle_block_interval` after
//!   the last finalized block (firing a timer late is always allowed), so an idle subnet
//!   signs a few blocks per second instead of hundreds. Ingress is gossiped, so every
//!   member sees it pending and runs at full speed while there is work.
//! * **Restart of a one-node subnet.** The hypervisor's checkpoint plus block log is the
//!   node's durable history (written before any reply is released). The protocol starts
//!   from a catch-up package at the recovered height, with the recovered ingress history.
//!   Nobody else holds a chain it must stay consistent with, so the share fence and the
//!   protocol's own persist records have nothing to protect and are not stored.
//! * **Restart of a member.** Its peers hold the chain too: the protocol's persist records
//!   (catch-up package, finalized blocks, share fence, own proposals) are journaled
//!   ([`crate::journal`]) before anything that follows them is sent, and the protocol is
//!   restored from them.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::time::Duration;
use keel_consensus::block::{Block, IngressMessage, Payload};
use keel_consensus::certification::Certification;
use keel_consensus::cup::CatchUpPackage;
use keel_consensus::ingress::IngressError;
use keel_consensus::node::SetupError;
use keel_consensus::types::{BlockHash, Digest, Rank, SubnetSize};
use keel_consensus::message::{Chunk, ChunkRequest};
use keel_consensus::node::Misbehavior;
use keel_consensus::{
    Config, ConsensusNode, FinalizedBlock, Height, MessageId, NodeIndex, Output, PersistRecord, Persisted, StateHash, Time,
};

use crate::config::NodeConfig;
use crate::crypto::SubnetCrypto;
use crate::keys::ME;

/// The state the chain starts from: genesis, or the recovered checkpoint + log.
#[derive(Debug, Clone, Copy)]
pub struct Base {
    /// Height of the state.
    pub height: u64,
    /// Its block time.
    pub time: u64,
    /// Its certified root hash.
    pub root: [u8; 32],
}

/// Who runs the protocol, and how.
#[derive(Debug)]
pub struct Setup {
    /// The subnet's protocol parameters.
    pub cfg: Config,
    /// This node's index.
    pub me: NodeIndex,
    /// Its keys.
    pub crypto: SubnetCrypto,
    /// Block interval while idle.
    pub idle: Duration,
}

/// Where the protocol starts.
#[derive(Debug)]
pub enum Start {
    /// A one-node subnet at this (genesis or recovered) state.
    Base(Base),
    /// A member, from its journal.
    Journal(Box<Persisted>),
}

/// State sync work the protocol asked for.
#[derive(Debug)]
pub enum SyncEvent {
    /// Fetch the checkpoint at `height` whose certified root is `root`.
    Required { height: Height, root: StateHash },
    /// A peer asks for a chunk of a checkpoint.
    Serve { peer: NodeIndex, request: ChunkRequest },
    /// A chunk arrived.
    Received { peer: NodeIndex, chunk: Chunk },
}

/// What the protocol produced for the node to act on.
#[derive(Debug, Default)]
pub struct Progress {
    /// Records to journal before anything that follows is sent (members only).
    pub persist: Vec<PersistRecord>,
    /// Blocks to execute, in height order.
    pub finalized: Vec<FinalizedBlock>,
    /// Certified state roots.
    pub certified: Vec<Certification>,
    /// State sync.
    pub sync: Vec<SyncEvent>,
}

impl Progress {
    /// Appends what `other` asks for after what this asks for.
    pub fn extend(&mut self, other: Progress) {
        self.persist.extend(other.persist);
        self.finalized.extend(other.finalized);
        self.certified.extend(other.certified);
        self.sync.extend(other.sync);
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.persist.is_empty() && self.finalized.is_empty() && self.certified.is_empty() && self.sync.is_empty()
    }
}

/// A message for peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// One peer, or every peer.
    pub to: Option<NodeIndex>,
    /// The encoded consensus message.
    pub bytes: Vec<u8>,
}

/// This node's ICC instance.
pub struct BlockMaker {
    node: ConsensusNode<SubnetCrypto>,
    timer: Option<Time>,
    /// Local time the last block finalized at (the idle cadence counts from it).
    last_finalized_at: Time,
    idle: Duration,
    outbox: Vec<Outgoing>,
    /// Messages peers sent that broke the protocol (monitoring).
    misbehaved: u64,
    last_misbehavior: Option<(NodeIndex, Misbehavior)>,
}

impl core::fmt::Debug for BlockMaker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BlockMaker").field("finalized", &self.node.finalized_height()).field("timer", &self.timer).finish()
    }
}

/// The protocol parameters of a subnet of `size`.
pub fn protocol_config(config: &NodeConfig, size: SubnetSize) -> Config {
    let mut cfg = Config::new(size);
    // A catch-up package at every checkpoint: state sync serves the checkpoint a package
    // names, and a restart replays at most one interval of blocks.
    cfg.cup_interval = config.checkpoint_interval.max(1);
    cfg.initial_notary_delay = config.block_interval;
    // The IC's ingress size limit (2 MiB app subnet) and room for a full message per block:
    // installing a canister sends the whole module as one message.
    cfg.limits.max_ingress_bytes = 2 << 20;
    cfg.limits.max_block_bytes = 4 << 20;
    cfg
}

/// The catch-up package a one-node subnet starts from: its (genesis or recovered) state;
/// for members, the genesis package every member derives identically.
pub fn base_cup(base: Base, subnet_public_key: &[u8]) -> CatchUpPackage {
    let block = Block {
        height: Height::new(base.height),
        parent: BlockHash::default(),
        rank: Rank::new(0),
        maker: ME,
        time: Time::from_nanos(base.time),
        randomness: Digest::default(),
        payload: Payload::default(),
    };
    CatchUpPackage::genesis(block, StateHash(base.root), subnet_public_key)
}

impl BlockMaker {
    /// Starts the protocol; `history` is the executed ingress (id, expiry) still inside
    /// its expiry window.
    pub fn start(
        setup: Setup,
        subnet_public_key: &[u8],
        start: Start,
        history: impl IntoIterator<Item = ([u8; 32], u64)>,
        now: u64,
    ) -> Result<(BlockMaker, Progress), SetupError> {
        let Setup { cfg, me, crypto, idle } = setup;
        let persisted = match start {
            Start::Base(base) => Persisted::genesis(base_cup(base, subnet_public_key)),
            Start::Journal(persisted) => *persisted,
        };
        let (node, out) = ConsensusNode::restore(cfg, me, crypto, persisted, Time::from_nanos(now))?;
        // Nothing was finalized recently at start: make the first block as soon as the protocol
        // allows, so the certified `/time` is fresh right after boot (clients refuse
        // certificates older than a few minutes, and the recovered or genesis state is older).
        let mut maker = BlockMaker {
            node,
            timer: None,
            last_finalized_at: Time::from_nanos(0),
            idle,
            outbox: Vec::new(),
            misbehaved: 0,
            last_misbehavior: None,
        };
        maker.node.restore_ingress_history(history.into_iter().map(|(id, exp)| (MessageId(id), Time::from_nanos(exp))));
        let progress = maker.absorb(now, out);
        Ok((maker, progress))
    }

    /// Bytes from peer `from` over its authenticated connection.
    pub fn on_message(&mut self, now: u64, from: NodeIndex, bytes: &[u8]) -> Progress {
        let out = self.node.on_message(Time::from_nanos(now), from, bytes);
        self.absorb(now, out)
    }

    /// A connection to `peer` was (re)established.
    pub fn on_peer_connected(&mut self, now: u64, peer: NodeIndex) -> Progress {
        let out = self.node.on_peer_connected(Time::from_nanos(now), peer);
        self.absorb(now, out)
    }

    /// Asks `peer` for a checkpoint chunk.
    pub fn request_chunk(&mut self, now: u64, peer: NodeIndex, request: ChunkRequest) -> Progress {
        let out = self.node.request_chunk(peer, request);
        self.absorb(now, out)
    }

    /// Answers a peer's chunk request.
    pub fn send_chunk(&mut self, now: u64, peer: NodeIndex, chunk: Chunk) -> Progress {
        let out = self.node.send_chunk(peer, chunk);
        self.absorb(now, out)
    }

    /// Height and certified root of the catch-up package the chain starts from.
    pub fn cup_state(&self) -> (Height, StateHash) {
        let cup = self.node.cup();
        (cup.height(), cup.content.state_hash)
    }

    /// Messages for peers, in the order the protocol produced them.
    pub fn take_outbox(&mut self) -> Vec<Outgoing> {
        core::mem::take(&mut self.outbox)
    }

    /// The protocol's view of the chain (monitoring).
    pub fn heights(&self) -> (Height, Height, Height) {
        (self.node.finalized_height(), self.node.certified_height(), self.node.cup_height())
    }

    /// The protocol's pool and round, readable (a stalled node's operator wants this).
    pub fn dump(&self) -> alloc::string::String {
        self.node.debug_dump()
    }

    /// The protocol's counters (monitoring).
    pub fn stats(&self) -> keel_consensus::node::Stats {
        self.node.stats()
    }

    /// How many messages peers sent that broke the protocol, and the latest of them.
    pub fn misbehaved(&self) -> (u64, Option<(NodeIndex, Misbehavior)>) {
        (self.misbehaved, self.last_misbehavior)
    }

    /// Offers an authenticated update call for the next block.
    pub fn submit(&mut self, now: u64, msg: IngressMessage) -> Result<Progress, IngressError> {
        let out = self.node.submit_ingress(Time::from_nanos(now), msg)?;
        Ok(self.absorb(now, out))
    }

    /// Fires the protocol's timer if it is due.
    pub fn on_time(&mut self, now: u64) -> Progress {
        match self.wake_at() {
            Some(t) if t.as_nanos() <= now => {
                let out = self.node.on_timer(Time::from_nanos(now));
                self.absorb(now, out)
            }
            _ => Progress::default(),
        }
    }

    /// Reports the root of the executed `height`; the certification follows.
    pub fn executed(&mut self, now: u64, height: u64, root: [u8; 32]) -> Progress {
        let out = self.node.on_state_executed(Time::from_nanos(now), Height::new(height), StateHash(root));
        self.absorb(now, out)
    }

    /// When the node must next be woken (unix nanoseconds).
    pub fn wake_at(&self) -> Option<Time> {
        let timer = self.timer?;
        if self.node.ingress_pending() > 0 {
            return Some(timer);
        }
        Some(timer.max(self.last_finalized_at.plus(self.idle)))
    }

    /// Ingress messages waiting for a block.
    pub fn pending(&self) -> usize {
        self.node.ingress_pending()
    }

    fn absorb(&mut self, now: u64, out: Vec<Output>) -> Progress {
        let mut progress = Progress::default();
        for o in out {
            match o {
                Output::SetTimer(t) => self.timer = Some(t),
                Output::Finalized(fb) => {
                    self.last_finalized_at = Time::from_nanos(now);
                    progress.finalized.push(fb);
                }
                Output::Certified(c) => progress.certified.push(c),
                Output::Broadcast(m) => self.outbox.push(Outgoing { to: None, bytes: m.encode_broadcast() }),
                Output::Send { to, message } => self.outbox.push(Outgoing { to: Some(to), bytes: message.encode() }),
                Output::Persist(record) => progress.persist.push(record),
                Output::StateSyncRequired { height, state_hash } => {
                    progress.sync.push(SyncEvent::Required { height, root: state_hash })
                }
                Output::ServeChunk { peer, request } => progress.sync.push(SyncEvent::Serve { peer, request }),
                Output::ChunkReceived { peer, chunk } => progress.sync.push(SyncEvent::Received { peer, chunk }),
                Output::PeerMisbehaved { peer, reason } => self.note_misbehavior(peer, reason),
            }
        }
        progress
    }

    fn note_misbehavior(&mut self, peer: NodeIndex, reason: Misbehavior) {
        self.misbehaved += 1;
        self.last_misbehavior = Some((peer, reason));
    }
}
