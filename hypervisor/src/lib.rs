//! Keel hypervisor: the replicated state machine of a subnet. It owns one partition per
//! canister and turns (state, finalized block) into the next state deterministically;
//! it runs the management canister `aaaaa-aa`, charges cycles, builds the certified state
//! tree, and persists state as incremental crash-atomic checkpoints on a [`BlockDevice`].
//!
//! What the node calls, all on [`Hypervisor`]:
//! * [`Hypervisor::execute_round`]`(&Block) -> state hash` for each finalized block, in
//!   height order (log the block with [`Store::append_log`] first);
//! * [`Hypervisor::state_tree`] / [`Hypervisor::certified_root_hash`] for certification;
//! * [`Hypervisor::query`] and [`Hypervisor::inspect_ingress`] on the certified snapshot;
//! * [`Hypervisor::checkpoint`] every N rounds and [`Hypervisor::recover`] at boot, over
//!   any [`BlockDevice`] (virtio-blk in the kernel, [`MemBlockDevice`] or a file on the host).
#![forbid(unsafe_code)]
#![cfg_attr(target_os = "none", no_std)]

extern crate alloc;

pub mod block;
pub mod block_device;
pub mod candid;
pub mod checkpoint;
pub mod codec;
pub mod cycles;
pub mod error;
pub mod execution;
pub mod hypervisor;
pub mod ids;
pub mod management;
pub mod management_types;
pub mod message;
pub mod partition;
pub mod persistence;
pub mod query;
pub mod round;
pub mod routing;
pub mod scheduler;
pub mod state;
pub mod state_tree;

pub use block_device::{BLOCK_SIZE, BlockDevice, DeviceError, MemBlockDevice};
#[cfg(not(target_os = "none"))]
pub use block_device::FileBlockDevice;
pub use checkpoint::{CheckpointError, Recovered, Store};
pub use ids::{CanisterId, Height, MemoryKey, MessageId, PAGE_SIZE, PageIndex, Principal, Time};
pub use block::Block;
pub use cycles::{Cycles, CyclesConfig, SubnetType};
pub use error::{ErrorCode, RejectCode, UserError};
pub use execution::{CanisterMemory, Executor};
pub use hypervisor::{Hypervisor, RoundError};
pub use state::{ReplicatedState, SubnetConfig};
pub use state_tree::LabeledTree;
