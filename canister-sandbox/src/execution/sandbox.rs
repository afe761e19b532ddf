//! The sandbox: one `wasmi` engine, the System API linkers, and the limits.

use super::engine;
use super::entry::EntryPoint;
use super::environment::{ExecutionEnvironment, MessageInput};
use super::outcome::ExecutionOutcome;
use super::run::{run, HeapSource};
use super::state::CanisterState;
use crate::error::ValidationError;
use crate::limits::Limits;
use crate::module::CompiledModule;

/// Validates, compiles and runs canister code. One per node (or per thread); modules it
/// compiles run only in it.
pub struct Sandbox {
    engine: wasmi::Engine,
    limits: Limits,
}

impl core::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sandbox").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl Default for Sandbox {
    fn default() -> Sandbox {
        Sandbox::new(Limits::default())
    }
}

impl Sandbox {
    pub fn new(limits: Limits) -> Sandbox {
        Sandbox { engine: engine::engine(&limits), limits }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub(crate) fn engine(&self) -> &wasmi::Engine {
        &self.engine
    }

    /// Validates a raw or gzip-compressed module as the IC does and compiles it.
    pub fn compile(&self, wasm: &[u8]) -> Result<CompiledModule, ValidationError> {
        crate::module::compile(self, wasm)
    }

    /// Gives `state` the module's fresh heap and globals (data segments, then `(start)`),
    /// keeping its stable memory. On failure `state` is unchanged. Install, reinstall and
    /// upgrade all call this before `canister_init` / `canister_post_upgrade`; run both on a
    /// clone of the old state and keep it only if both succeed.
    pub fn install(&self, module: &CompiledModule, state: &mut CanisterState, env: &ExecutionEnvironment) -> ExecutionOutcome {
        let mut fresh = CanisterState { stable: state.stable.clone(), ..CanisterState::new() };
        // The fresh heap is diffed against the old one so the dirty set stays exact.
        fresh.heap = state.heap.clone();
        fresh.heap.resize(0);
        let outcome = run(self, module, &mut fresh, &EntryPoint::Start, &MessageInput::default(), env, HeapSource::Fresh);
        if outcome.is_ok() {
            *state = fresh;
        }
        outcome
    }

    /// Upgrade with `wasm_memory_persistence = opt keep` (Motoko enhanced orthogonal
    /// persistence): the new module keeps the canister's heap and stable memory; its globals
    /// start from the module's initial values, its data segments are not applied (the heap
    /// already holds the program's data) and `(start)` runs. On failure `state` is unchanged.
    pub fn install_keeping_heap(&self, module: &CompiledModule, state: &mut CanisterState, env: &ExecutionEnvironment) -> ExecutionOutcome {
        let mut next = state.clone();
        next.globals.clear();
        let outcome = run(self, module, &mut next, &EntryPoint::Start, &MessageInput::default(), env, HeapSource::KeepHeap);
        if outcome.is_ok() {
            *state = next;
        }
        outcome
    }

    /// Runs one entry point on `state`. The state changes only when the execution succeeds
    /// in a context that keeps state (not queries, composite queries or inspect_message).
    pub fn execute(
        &self,
        module: &CompiledModule,
        state: &mut CanisterState,
        entry: &EntryPoint,
        input: &MessageInput,
        env: &ExecutionEnvironment,
    ) -> ExecutionOutcome {
        run(self, module, state, entry, input, env, HeapSource::State)
    }
}
