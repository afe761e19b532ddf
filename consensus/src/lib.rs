//! Keel consensus: a sans-IO implementation of Internet Computer Consensus (ICC; Camenisch et
//! al., PODC 2022) and of the P2P artifact protocol, plus a deterministic multi-node simulator.
//!
//! A subnet of `n ≥ 3f + 1` nodes agrees on a chain of blocks. Each height's random beacon (a
//! threshold BLS signature) ranks the block makers; notaries share the lowest-ranked valid
//! block after rank-dependent delays; `n − f` shares notarize a block; a node that
//! notarization-shared no other block at that height sends a finalization share, and `n − f`
//! of those finalize it. Finalized blocks go to the driver in order; it executes them and
//! reports state roots, which the subnet certifies by threshold signature. Catch-up packages
//! let lagging or restarted nodes jump forward and state-sync.
//!
//! The crate does no I/O and reads no clock: [`node::ConsensusNode`] takes time and messages
//! as inputs and returns [`node::Output`]s. Cryptography is behind [`crypto::Crypto`].
#![forbid(unsafe_code)]
#![cfg_attr(target_os = "none", no_std)]

extern crate alloc;

pub mod announce;
pub mod beacon;
pub mod block;
pub mod certification;
pub mod codec;
pub mod config;
pub mod crypto;
pub mod cup;
mod finality;
mod gossip;
pub mod hash;
pub mod hashsig;
pub mod ic_crypto;
pub mod ingress;
pub mod message;
pub mod node;
mod pool;
pub mod round;
pub mod share;
pub mod types;
pub mod vote;

#[cfg(any(test, feature = "sim"))]
pub mod sim;

pub use config::Config;
pub use crypto::{Crypto, GenesisDealing, NodeSigner, Scheme, ThresholdScheme};
pub use node::{ConsensusNode, FinalizedBlock, Output, PersistRecord, Persisted};
pub use types::{BlockHash, Height, MessageId, NodeIndex, Rank, StateHash, SubnetSize, Time};
