//! The boundary between the hypervisor and the engine that runs canister code.
//!
//! The hypervisor decides *what* runs (which entry point, with which System API inputs,
//! under which instruction limit) and applies the *effects* (reply, calls, cycles,
//! certified data, timer); the engine — `keel-sandbox` in production — runs Wasm against
//! a canister's [`CanisterMemory`] and reports those effects. A trapped execution leaves
//! memory as it was before (the engine rolls back), and the hypervisor drops its effects.
//! Keeping memory behind a trait is what lets a partition's backing move from sandbox page
//! maps to hardware address spaces without touching scheduling or message logic.

use alloc::string::String;
use alloc::vec::Vec;

use crate::codec::{DecodeError, Reader, Writer};
use crate::cycles::{Cycles, CyclesConfig};
use crate::error::{ErrorCode, RejectCode, UserError};
use crate::ids::{CanisterId, PageIndex, Principal, Time};

/// A Wasm callback: a function-table index and its environment word (`call_new`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct WasmClosure {
    pub fun: u32,
    pub env: u64,
}

impl WasmClosure {
    pub fn encode(&self, w: &mut Writer) {
        w.u32(self.fun).u64(self.env);
    }
    pub fn decode(r: &mut Reader) -> Result<WasmClosure, DecodeError> {
        Ok(WasmClosure { fun: r.u32()?, env: r.u64()? })
    }
}

/// What to run.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum EntryPoint {
    Init,
    PreUpgrade,
    PostUpgrade,
    Update(String),
    /// A query, replicated (called as an update) or not.
    Query(String),
    CompositeQuery(String),
    InspectMessage(String),
    Heartbeat,
    GlobalTimer,
    ReplyCallback(WasmClosure),
    RejectCallback(WasmClosure),
    /// Runs when a reply/reject callback trapped (`call_on_cleanup`).
    Cleanup(WasmClosure),
}

impl EntryPoint {
    /// May this entry point send calls (ic-reference §7 contexts)?
    pub fn may_call(&self) -> bool {
        matches!(
            self,
            EntryPoint::Update(_)
                | EntryPoint::CompositeQuery(_)
                | EntryPoint::Heartbeat
                | EntryPoint::GlobalTimer
                | EntryPoint::ReplyCallback(_)
                | EntryPoint::RejectCallback(_)
        )
    }
}

/// Which methods a module exports, as the hypervisor needs to route messages.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ModuleInfo {
    pub updates: Vec<String>,
    pub queries: Vec<String>,
    pub composite_queries: Vec<String>,
    pub has_init: bool,
    pub has_heartbeat: bool,
    pub has_global_timer: bool,
    pub has_inspect_message: bool,
}

/// The System API inputs of one execution.
#[derive(Clone, Debug)]
pub struct ExecContext {
    pub canister: CanisterId,
    pub caller: Principal,
    pub arg: Vec<u8>,
    pub cycles_available: Cycles,
    pub cycles_refunded: Cycles,
    /// Reject callbacks: the code and message.
    pub reject: Option<(RejectCode, String)>,
    pub balance: Cycles,
    pub time: Time,
    /// 1 running, 2 stopping, 3 stopped (`ic0.canister_status`).
    pub status: u32,
    pub version: u64,
    pub controllers: Vec<Principal>,
    pub subnet: Principal,
    pub replicated: bool,
    pub certificate: Option<Vec<u8>>,
    pub instruction_limit: u64,
    pub fees: CyclesConfig,
    pub may_call: bool,
}

/// A call the canister made (`call_new` … `call_perform`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OutgoingCall {
    pub callee: Principal,
    pub method: String,
    pub arg: Vec<u8>,
    pub cycles: Cycles,
    pub on_reply: WasmClosure,
    pub on_reject: WasmClosure,
    pub on_cleanup: Option<WasmClosure>,
}

/// The canister's answer to the message it ran.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Response {
    Reply(Vec<u8>),
    /// `msg_reject`: always reject code 4 (CANISTER_REJECT).
    Reject(String),
}

/// Why an execution failed; its effects are void and its memory changes rolled back.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Trap {
    /// `ic0.trap` with the canister's message.
    Explicit(String),
    /// Wasm trap (unreachable, out-of-bounds, ...) or an illegal System API use.
    Wasm(String),
    InstructionLimit,
    OutOfMemory,
    MethodNotFound,
}

impl Trap {
    pub fn to_user_error(&self, canister: CanisterId) -> UserError {
        let id = canister.get();
        match self {
            Trap::Explicit(m) => UserError::new(ErrorCode::CanisterCalledTrap, alloc::format!("Canister {id} trapped explicitly: {m}")),
            Trap::Wasm(m) => UserError::new(ErrorCode::CanisterTrapped, alloc::format!("Canister {id} trapped: {m}")),
            Trap::InstructionLimit => UserError::new(
                ErrorCode::CanisterInstructionLimitExceeded,
                alloc::format!("Canister {id} exceeded the instruction limit for single message execution."),
            ),
            Trap::OutOfMemory => UserError::new(ErrorCode::CanisterOutOfMemory, alloc::format!("Canister {id} ran out of memory")),
            Trap::MethodNotFound => UserError::new(ErrorCode::CanisterMethodNotFound, alloc::format!("Canister {id} has no such method")),
        }
    }
}

/// The effects of one execution.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ExecOutcome {
    pub instructions: u64,
    /// `Err` voids everything below.
    pub result: Result<(), Trap>,
    pub response: Option<Response>,
    pub calls: Vec<OutgoingCall>,
    pub cycles_accepted: Cycles,
    pub cycles_burned: Cycles,
    pub certified_data: Option<Vec<u8>>,
    /// `ic0.global_timer_set`: the new deadline (0 = off).
    pub global_timer: Option<u64>,
    /// `ic0.accept_message` in inspect_message.
    pub message_accepted: bool,
}

impl ExecOutcome {
    /// A successful execution with no effects yet.
    pub fn ok(instructions: u64) -> ExecOutcome {
        ExecOutcome {
            instructions,
            result: Ok(()),
            response: None,
            calls: Vec::new(),
            cycles_accepted: Cycles::ZERO,
            cycles_burned: Cycles::ZERO,
            certified_data: None,
            global_timer: None,
            message_accepted: false,
        }
    }

    pub fn trapped(trap: Trap, instructions: u64) -> ExecOutcome {
        ExecOutcome { result: Err(trap), ..ExecOutcome::ok(instructions) }
    }
}

/// Which of a canister's memories a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum MemorySpace {
    Heap = 0,
    Stable = 1,
}

/// A canister's memory: heap, stable memory and globals. `Clone` must be copy-on-write
/// (pages shared until written): snapshots, forks and query states are clones.
pub trait CanisterMemory: Clone + core::fmt::Debug {
    /// Bytes of heap + stable memory (what storage fees and quotas count).
    fn size_bytes(&self) -> u64;
    /// Pages written since the last [`CanisterMemory::mark_clean`] (checkpoint).
    fn dirty_pages(&self) -> Vec<(MemorySpace, PageIndex)>;
    /// Every page that is not all-zero.
    fn nonzero_pages(&self) -> Vec<(MemorySpace, PageIndex)>;
    /// The bytes of one page (zeros beyond the memory's size).
    fn page(&self, space: MemorySpace, index: PageIndex) -> [u8; crate::ids::PAGE_SIZE];
    fn mark_clean(&mut self);
    /// Everything that is not page contents (sizes, globals), canonically encoded.
    fn encode_meta(&self, w: &mut Writer);
    /// Rebuilds a memory from its metadata and pages (checkpoint recovery).
    fn restore(
        meta: &mut Reader,
        pages: &mut dyn Iterator<Item = (MemorySpace, PageIndex, [u8; crate::ids::PAGE_SIZE])>,
    ) -> Result<Self, DecodeError>;
    /// Drops the heap and globals but keeps stable memory (upgrade without `keep`).
    fn clear_heap(&mut self);
}

/// The engine that validates modules and runs canister code.
pub trait Executor {
    /// A validated, ready-to-run module; cheap to clone (shared).
    type Module: Clone + core::fmt::Debug;
    type Memory: CanisterMemory;

    /// Validates and compiles a module (raw or gzip Wasm).
    fn compile(&self, wasm: &[u8]) -> Result<(Self::Module, ModuleInfo), UserError>;

    /// An empty memory (a canister with no code).
    fn empty_memory(&self) -> Self::Memory;

    /// Fresh instance state for `module` (data segments, `(start)`), replacing the heap
    /// of `memory` but keeping its stable memory.
    fn instantiate(&self, module: &Self::Module, memory: &mut Self::Memory, ctx: &ExecContext) -> ExecOutcome;

    /// Runs `entry` of `module` on `memory`.
    fn execute(&self, module: &Self::Module, memory: &mut Self::Memory, entry: &EntryPoint, ctx: &ExecContext) -> ExecOutcome;
}
