//! Block making: the full ICC protocol (`keel-consensus`) run with n = 1. The node is the
//! only block maker, notary and certifier, so nothing is ever sent; what remains of the
//! protocol's outputs are timers, finalized blocks and certifications.
//!
//! Two things are specific to one node:
//! * **Pacing.** The protocol makes a block whenever the previous one finalizes. While no
//!   ingress waits, this wrapper defers the protocol's timer to `idle_block_interval` after
//!   the last finalized block (firing a timer late is always allowed), so an idle node
//!   signs a few blocks per second instead of hundreds.
//! * **Restart.** The hypervisor's checkpoint plus block log is the node's durable history
//!   (it is written before any reply is released). On restart the protocol starts from a
//!   catch-up package at the recovered height, and gets the recovered ingress history so
//!   it proposes at once without re-proposing executed messages. Nobody else holds a
//!   chain a one-node subnet must stay consistent with, so the share fence and the
//!   protocol's own persist records have nothing to protect and are not stored.

use alloc::vec::Vec;
use core::time::Duration;
use keel_consensus::block::{Block, IngressMessage, Payload};
use keel_consensus::certification::Certification;
use keel_consensus::cup::CatchUpPackage;
use keel_consensus::ingress::IngressError;
use keel_consensus::node::SetupError;
use keel_consensus::types::{BlockHash, Digest, Rank, SubnetSize};
use keel_consensus::{Config, ConsensusNode, FinalizedBlock, Height, MessageId, Output, StateHash, Time};

use crate::config::NodeConfig;
use crate::crypto::OneNodeCrypto;
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

/// What the protocol produced for the node to act on, in order.
#[derive(Debug, Default)]
pub struct Progress {
    /// Blocks to execute, in height order.
    pub finalized: Vec<FinalizedBlock>,
    /// Certified state roots.
    pub certified: Vec<Certification>,
}

/// The one-node ICC instance.
pub struct BlockMaker {
    node: ConsensusNode<OneNodeCrypto>,
    timer: Option<Time>,
    /// Local time the last block finalized at (the idle cadence counts from it).
    last_finalized_at: Time,
    idle: Duration,
}

impl core::fmt::Debug for BlockMaker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BlockMaker").field("finalized", &self.node.finalized_height()).field("timer", &self.timer).finish()
    }
}

/// A subnet of one (checked at compile time).
const ONE_NODE: SubnetSize = match SubnetSize::new(1) {
    Ok(size) => size,
    Err(_) => panic!("a subnet of one node is not empty"),
};

/// The protocol parameters of a one-node subnet.
pub fn protocol_config(config: &NodeConfig) -> Config {
    let mut cfg = Config::new(ONE_NODE);
    cfg.initial_notary_delay = config.block_interval;
    // The IC's ingress size limit (2 MiB app subnet) and room for a full message per block:
    // installing a canister sends the whole module as one message.
    cfg.limits.max_ingress_bytes = 2 << 20;
    cfg.limits.max_block_bytes = 4 << 20;
    cfg
}

impl BlockMaker {
    /// Starts the protocol on `base`; `history` is the executed ingress (id, expiry) still
    /// inside its expiry window.
    pub fn start(
        config: &NodeConfig,
        crypto: OneNodeCrypto,
        subnet_public_key: &[u8],
        base: Base,
        history: impl IntoIterator<Item = ([u8; 32], u64)>,
        now: u64,
    ) -> Result<(BlockMaker, Progress), SetupError> {
        let block = Block {
            height: Height::new(base.height),
            parent: BlockHash::default(),
            rank: Rank::new(0),
            maker: ME,
            time: Time::from_nanos(base.time),
            randomness: Digest::default(),
            payload: Payload::default(),
        };
        let cup = CatchUpPackage::genesis(block, StateHash(base.root), subnet_public_key);
        let (node, out) = ConsensusNode::new(protocol_config(config), ME, crypto, cup, Time::from_nanos(now))?;
        // Nothing was finalized recently at start: make the first block as soon as the protocol
        // allows, so the certified `/time` is fresh right after boot (clients refuse
        // certificates older than a few minutes, and the recovered or genesis state is older).
        let mut maker =
            BlockMaker { node, timer: None, last_finalized_at: Time::from_nanos(0), idle: config.idle_block_interval };
        maker.node.restore_ingress_history(history.into_iter().map(|(id, exp)| (MessageId(id), Time::from_nanos(exp))));
        let progress = maker.absorb(now, out);
        Ok((maker, progress))
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
                // No peers: nothing to send, nothing received to answer or blame, and no
                // package from elsewhere to sync to (see the module comment on persistence).
                Output::Broadcast(_)
                | Output::Send { .. }
                | Output::Persist(_)
                | Output::StateSyncRequired { .. }
                | Output::ServeChunk { .. }
                | Output::ChunkReceived { .. }
                | Output::PeerMisbehaved { .. } => {}
            }
        }
        progress
    }
}
