//! The node: the replica logic that ties the IC interface, consensus, the hypervisor and
//! persistence together, sans-IO. The kernel owns sockets, timers, devices and entropy and
//! drives a node through the [`Service`] boundary; everything behind it is host-tested.
//!
//! An update call flows: [`service`] (interface pipeline) → [`ingress_pool`] (origin,
//! parked v3/v4 request) → [`consensus`] (ICC with n = 1 over [`crypto`] makes and finalizes the block) →
//! [`execution`] (block logged durably, then executed by the hypervisor) →
//! [`certification`] (the subnet's signature on the state root) → parked request answered
//! with a certificate cut from the certified tree ([`state_reader`], [`queries`] serve
//! reads from the same state). [`keys`] and [`persistence`] make a restarted node the same
//! node: same keys, same root key, same canisters.
//!
//! # What the kernel does
//! * Boot: `NodeKeys::generate(seed)` with 32 bytes of entropy, then
//!   [`Node::new`]`(NodeConfig::dev(version), keys, Some(state_device), now)`. A device that
//!   already holds keys and state wins over the offered keys (a restart is the same node).
//! * Per request: [`Service::handle`]; a [`Reply::Later`] ticket is polled with
//!   [`Service::poll`] until it yields (at the latest `call_timeout` later, as 202); when
//!   its connection closes first, [`Service::cancel`] frees it.
//! * Always: call [`Service::tick`] again after the duration it returns (sooner is fine,
//!   e.g. after each `handle`). An idle node asks to be woken about once per
//!   `idle_block_interval`.
#![forbid(unsafe_code)]
#![cfg_attr(target_os = "none", no_std)]

extern crate alloc;

pub mod certification;
pub mod config;
pub mod consensus;
pub mod crypto;
pub mod error;
pub mod execution;
pub mod ingress_pool;
pub mod journal;
pub mod keys;
mod member;
pub mod membership;
pub mod node;
pub mod persistence;
pub mod queries;
pub mod service;
pub mod state_reader;
pub mod sync;
pub mod transport;

pub use config::NodeConfig;
pub use error::NodeError;
pub use keys::NodeKeys;
pub use node::Node;
pub use service::{Reply, Service};
