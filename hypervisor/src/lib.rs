//! Keel hypervisor: the replicated state machine of a subnet. It owns one partition per
//! canister and turns (state, finalized block) into the next state deterministically;
//! it runs the management canister `aaaaa-aa`, charges cycles, builds the certified state
//! tree, and persists state as incremental crash-atomic checkpoints on a [`BlockDevice`].
#![forbid(unsafe_code)]
#![cfg_attr(target_os = "none", no_std)]

extern crate alloc;

pub mod block_device;
pub mod checkpoint;
pub mod candid;
pub mod codec;
pub mod cycles;
pub mod ids;

pub use block_device::{BLOCK_SIZE, BlockDevice, DeviceError, MemBlockDevice};
#[cfg(not(target_os = "none"))]
pub use block_device::FileBlockDevice;
pub use checkpoint::{CheckpointError, Recovered, Store};
pub use ids::{CanisterId, Height, MemoryKey, MessageId, PAGE_SIZE, PageIndex, Principal, Time};
