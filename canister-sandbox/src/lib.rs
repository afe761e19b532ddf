//! Canister sandbox: validates Internet Computer Wasm modules the way the IC does and runs
//! one canister message at a time under the `ic0` System API, with instruction metering,
//! memory and stack limits, and complete rollback when a message traps.
//!
//! The hypervisor drives it through [`Sandbox`]:
//! 1. [`Sandbox::compile`] validates a module (raw or gzip) into a shareable [`CompiledModule`];
//! 2. [`Sandbox::install`] gives a [`CanisterState`] the module's fresh heap (data segments,
//!    `(start)`), keeping stable memory ([`Sandbox::install_keeping_heap`] for upgrades with
//!    `wasm_memory_persistence = keep`); [`ModuleCache`] shares compiled modules by hash;
//! 3. [`Sandbox::execute`] runs one [`EntryPoint`] and returns an [`ExecutionOutcome`] with the
//!    message's effects (reply, calls, cycles, certified data, timer). The state is changed only
//!    when the execution succeeded and was not a query.
//!
//! Canister memory is a [`PageMap`]: 4 KiB pages shared copy-on-write between clones, with
//! dirty-page tracking, so snapshots and forks are cheap and checkpoints write only what changed.
#![forbid(unsafe_code)]
#![cfg_attr(target_os = "none", no_std)]

extern crate alloc;

pub mod api;
pub mod error;
pub mod execution;
pub mod ids;
pub mod limits;
pub mod memory;
pub mod module;

pub use error::{ErrorCode, ExecutionError, RejectCode, ValidationError};
pub use execution::{
    CallbackKind, CanisterState, EntryPoint, ExecutionEnvironment, ExecutionOutcome, GlobalValue, MessageInput,
    OutgoingCall, Response, Sandbox, WasmClosure,
};
pub use ids::{CanisterId, Cycles, NumInstructions, Principal};
pub use limits::Limits;
pub use memory::{PageIndex, PageMap, PAGE_SIZE, WASM_PAGE_SIZE};
pub use module::{CompiledModule, ModuleCache, ModuleInfo};
