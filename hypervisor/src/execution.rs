//! The boundary between the hypervisor and the engine that runs canister code.
//!
//! The hypervisor decides *what* runs (entry point, message, environment) and applies the
//! *effects*; the engine runs it against a canister's [`CanisterMemory`]. The vocabulary
//! of that exchange is `keel-sandbox`'s (entry points, message input, environment, outcome),
//! so the production engine — [`keel_sandbox::Sandbox`], implemented below — needs no
//! translation. Memory stays behind a trait: that is what lets a partition's backing move
//! from sandbox page maps to hardware address spaces without touching scheduling or message
//! logic (and lets tests drive the hypervisor with a scripted engine).

use alloc::string::ToString;
use alloc::vec::Vec;

pub use keel_sandbox::{
    CallbackKind, CanisterState, EntryPoint, ExecutionEnvironment, ExecutionError, ExecutionOutcome, GlobalValue,
    MessageInput, ModuleInfo, OutgoingCall, Response, Sandbox, WasmClosure,
};
pub use keel_sandbox::execution::CanisterStatus;

use crate::codec::{DecodeError, Reader, Writer};
use crate::error::{ErrorCode, UserError};
use crate::ids::{CanisterId, PAGE_SIZE, PageIndex};

/// May this entry point send calls (ic-reference §7 contexts)?
pub fn may_call(entry: &EntryPoint) -> bool {
    matches!(
        entry,
        EntryPoint::Update(_)
            | EntryPoint::CompositeQuery(_)
            | EntryPoint::Heartbeat
            | EntryPoint::GlobalTimer
            | EntryPoint::Callback { kind: CallbackKind::Reply | CallbackKind::Reject, .. }
    )
}

/// The error a failed execution reports to the caller.
pub fn execution_error(e: &ExecutionError, canister: CanisterId) -> UserError {
    // By variant, not by the sandbox's number: the IC numbers out-of-memory IC0507.
    #[allow(unreachable_patterns)]
    let code = match e {
        ExecutionError::CalledTrap(_) => ErrorCode::CanisterCalledTrap,
        ExecutionError::Trapped(_) => ErrorCode::CanisterTrapped,
        ExecutionError::ContractViolation(_) => ErrorCode::CanisterContractViolation,
        ExecutionError::InstructionLimitExceeded(_) => ErrorCode::CanisterInstructionLimitExceeded,
        ExecutionError::OutOfMemory(_) => ErrorCode::CanisterOutOfMemory,
        ExecutionError::OutOfCycles(_) => ErrorCode::CanisterOutOfCycles,
        ExecutionError::MethodNotFound(_) => ErrorCode::CanisterMethodNotFound,
        ExecutionError::InvalidModule(_) => ErrorCode::CanisterInvalidWasm,
        _ => crate::message::error_code(u32::from(e.error_code().number())).unwrap_or(ErrorCode::CanisterTrapped),
    };
    UserError::new(code, alloc::format!("Error from Canister {}: {}", canister.get(), e))
}

/// The sandbox's principal type for a principal (both hold at most 29 bytes).
pub fn sandbox_principal(p: &crate::ids::Principal) -> keel_sandbox::Principal {
    keel_sandbox::Principal::from_slice(p.as_slice()).unwrap_or_default()
}

/// The hypervisor's principal type for a principal the sandbox reports.
pub fn crypto_principal(p: &keel_sandbox::Principal) -> crate::ids::Principal {
    crate::ids::Principal::from_slice(p.as_slice()).unwrap_or(crate::ids::Principal::MANAGEMENT_CANISTER)
}

pub(crate) fn encode_closure(c: &WasmClosure, w: &mut Writer) {
    w.u64(c.fun).u64(c.env);
}

pub(crate) fn decode_closure(r: &mut Reader) -> Result<WasmClosure, DecodeError> {
    Ok(WasmClosure { fun: r.u64()?, env: r.u64()? })
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
    /// Bytes of heap alone (what `wasm_memory_limit` bounds).
    fn heap_bytes(&self) -> u64;
    /// Pages written since the last [`CanisterMemory::mark_clean`] (checkpoint).
    fn dirty_pages(&self) -> Vec<(MemorySpace, PageIndex)>;
    /// Every page that is stored (may be all-zero).
    fn nonzero_pages(&self) -> Vec<(MemorySpace, PageIndex)>;
    /// The bytes of one page (zeros where nothing is stored).
    fn page(&self, space: MemorySpace, index: PageIndex) -> [u8; PAGE_SIZE];
    fn mark_clean(&mut self);
    /// Everything that is not page contents (sizes, globals), canonically encoded.
    fn encode_meta(&self, w: &mut Writer);
    /// Rebuilds a memory from its metadata and pages (checkpoint recovery); the result
    /// is clean (nothing dirty).
    fn restore(meta: &mut Reader, pages: &mut dyn Iterator<Item = (MemorySpace, PageIndex, [u8; PAGE_SIZE])>) -> Result<Self, DecodeError>;
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
    /// of `memory` but keeping its stable memory; `memory` is unchanged on failure.
    fn instantiate(&self, module: &Self::Module, memory: &mut Self::Memory, env: &ExecutionEnvironment) -> ExecutionOutcome;

    /// Runs `entry`; `memory` changes only if it succeeds in a state-keeping context.
    fn execute(
        &self,
        module: &Self::Module,
        memory: &mut Self::Memory,
        entry: &EntryPoint,
        input: &MessageInput,
        env: &ExecutionEnvironment,
    ) -> ExecutionOutcome;
}

impl Executor for Sandbox {
    type Module = keel_sandbox::CompiledModule;
    type Memory = CanisterState;

    fn compile(&self, wasm: &[u8]) -> Result<(Self::Module, ModuleInfo), UserError> {
        let m = Sandbox::compile(self, wasm).map_err(|e| UserError::new(ErrorCode::CanisterInvalidWasm, e.to_string()))?;
        let info = m.info().clone();
        Ok((m, info))
    }

    fn empty_memory(&self) -> CanisterState {
        CanisterState::new()
    }

    fn instantiate(&self, module: &Self::Module, memory: &mut CanisterState, env: &ExecutionEnvironment) -> ExecutionOutcome {
        self.install(module, memory, env)
    }

    fn execute(
        &self,
        module: &Self::Module,
        memory: &mut CanisterState,
        entry: &EntryPoint,
        input: &MessageInput,
        env: &ExecutionEnvironment,
    ) -> ExecutionOutcome {
        Sandbox::execute(self, module, memory, entry, input, env)
    }
}

fn encode_global(g: &GlobalValue, w: &mut Writer) {
    match *g {
        GlobalValue::I32(v) => w.u8(0).u32(v as u32),
        GlobalValue::I64(v) => w.u8(1).u64(v as u64),
        GlobalValue::F32(v) => w.u8(2).u32(v),
        GlobalValue::F64(v) => w.u8(3).u64(v),
        GlobalValue::V128(v) => w.u8(4).u128(v),
    };
}

fn decode_global(r: &mut Reader) -> Result<GlobalValue, DecodeError> {
    Ok(match r.u8()? {
        0 => GlobalValue::I32(r.u32()? as i32),
        1 => GlobalValue::I64(r.u64()? as i64),
        2 => GlobalValue::F32(r.u32()?),
        3 => GlobalValue::F64(r.u64()?),
        4 => GlobalValue::V128(r.u128()?),
        _ => return Err(DecodeError),
    })
}

impl CanisterMemory for CanisterState {
    fn size_bytes(&self) -> u64 {
        self.memory_bytes()
    }

    fn heap_bytes(&self) -> u64 {
        self.heap.len_bytes()
    }

    fn dirty_pages(&self) -> Vec<(MemorySpace, PageIndex)> {
        let heap = self.heap.dirty_pages().map(|i| (MemorySpace::Heap, i));
        heap.chain(self.stable.dirty_pages().map(|i| (MemorySpace::Stable, i))).collect()
    }

    fn nonzero_pages(&self) -> Vec<(MemorySpace, PageIndex)> {
        let heap = self.heap.stored_pages().map(|(i, _)| (MemorySpace::Heap, i));
        heap.chain(self.stable.stored_pages().map(|(i, _)| (MemorySpace::Stable, i))).collect()
    }

    fn page(&self, space: MemorySpace, index: PageIndex) -> [u8; PAGE_SIZE] {
        match space {
            MemorySpace::Heap => *self.heap.get_page(index),
            MemorySpace::Stable => *self.stable.get_page(index),
        }
    }

    fn mark_clean(&mut self) {
        self.clear_dirty();
    }

    fn encode_meta(&self, w: &mut Writer) {
        w.u64(self.heap.len_pages()).u64(self.stable.len_pages()).u32(self.globals.len() as u32);
        for g in &self.globals {
            encode_global(g, w);
        }
    }

    fn restore(meta: &mut Reader, pages: &mut dyn Iterator<Item = (MemorySpace, PageIndex, [u8; PAGE_SIZE])>) -> Result<Self, DecodeError> {
        let mut s = CanisterState::new();
        s.heap.resize(meta.u64()?);
        s.stable.resize(meta.u64()?);
        for _ in 0..meta.count()? {
            s.globals.push(decode_global(meta)?);
        }
        for (space, index, bytes) in pages {
            let map = match space {
                MemorySpace::Heap => &mut s.heap,
                MemorySpace::Stable => &mut s.stable,
            };
            map.set_page(index, &bytes).map_err(|_| DecodeError)?;
        }
        s.clear_dirty();
        Ok(s)
    }

    fn clear_heap(&mut self) {
        CanisterState::clear_heap(self);
    }
}
