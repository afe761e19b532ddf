//! One execution: instantiate, restore state, run the entry point, collect the outcome.
//!
//! Isolation and rollback come from working on copies: the module is instantiated in a fresh
//! `wasmi` store, the heap and globals are copied in from the canister's [`CanisterState`],
//! stable memory is a copy-on-write clone. Only a successful, state-keeping execution turns
//! those copies into the canister's new state; a trap simply drops them.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use wasmi::{Instance, Store, TrapCode, Val};

use super::entry::EntryPoint;
use super::environment::{ExecutionEnvironment, MessageInput};
use super::outcome::ExecutionOutcome;
use super::sandbox::Sandbox;
use super::state::{CanisterState, GlobalValue};
use crate::api::{Host, MessageEffects};
use crate::error::{ExecutionError, ValidationError};
use crate::ids::NumInstructions;
use crate::memory::{PageMap, PAGE_SIZE, WASM_PAGE_SIZE};
use crate::module::{CompiledModule, GlobalKind, MEMORY_EXPORT, MEMORY_IMPORT, TABLE_EXPORT};

/// Where the instance's heap and globals come from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeapSource {
    /// Install: the module's data segments and initial globals.
    Fresh,
    /// Upgrade with `wasm_memory_persistence = opt keep`: the state's heap, the new module's
    /// initial globals, no data segments.
    KeepHeap,
    /// Every other message: heap and globals from the state.
    State,
}

impl HeapSource {
    /// Install-time sources keep the new heap even when `(start)` does not exist.
    fn installs(self) -> bool {
        matches!(self, HeapSource::Fresh | HeapSource::KeepHeap)
    }
}

/// Runs `entry` and, when it succeeds in a state-keeping context, updates `state`.
pub(crate) fn run(
    sandbox: &Sandbox,
    module: &CompiledModule,
    state: &mut CanisterState,
    entry: &EntryPoint,
    input: &MessageInput,
    env: &ExecutionEnvironment,
    heap_source: HeapSource,
) -> ExecutionOutcome {
    let limits = sandbox.limits();
    let context = entry.context(env.replicated);
    let limit = entry.instruction_limit(limits);
    let memory64 = module.memory64();
    let host = Host {
        context,
        env: env.clone(),
        input: input.clone(),
        memory64,
        memory: None,
        stable: state.stable.clone(),
        effects: MessageEffects::default(),
        reply_buf: Vec::new(),
        pending_call: None,
        pending_best_effort: false,
        balance: env.balance,
        instruction_limit: limit.get(),
        fuel_at_call: limit.get(),
        pending_cost: 0,
        system_api_call_cost: limits.system_api_call_instructions,
        reply_limit: if context.is_query() { limits.query_reply_bytes } else { limits.reply_bytes },
        call_payload_limit: limits.call_payload_bytes,
        stable_limit: limits.stable_bytes,
        heap_limit: limits.heap_bytes(memory64),
        memory_limit_hit: false,
        trap: None,
    };
    let mut store = Store::new(sandbox.engine(), host);
    store.limiter(|host| host as &mut dyn wasmi::ResourceLimiter);
    // Fuel metering is always enabled by `engine::engine`.
    let _ = store.set_fuel(limit.get());

    let result = prepare_and_call(module, state, entry, &mut store, heap_source);
    let instructions_used = NumInstructions::new(limit.get().saturating_sub(store.get_fuel().unwrap_or(0)));
    let (instance, keep) = match result {
        Ok(done) => done,
        Err(error) => {
            // The engine stops when the next step would not fit: the message used it all.
            let used = match error {
                ExecutionError::InstructionLimitExceeded(_) => limit,
                _ => instructions_used,
            };
            let host = store.into_data();
            return ExecutionOutcome::failed(error, used, host.effects.logs);
        }
    };
    let mut dirty_pages = 0;
    if keep && !context.discards_state() {
        match collect_state(module, state, instance, &store) {
            Ok((heap, globals)) => {
                let host = store.into_data();
                let before = state.dirty_page_count();
                state.heap = heap;
                state.globals = globals;
                state.stable = host.stable;
                dirty_pages = state.dirty_page_count().saturating_sub(before);
                return outcome(host.effects, instructions_used, dirty_pages);
            }
            Err(error) => return ExecutionOutcome::failed(error, instructions_used, store.into_data().effects.logs),
        }
    }
    outcome(store.into_data().effects, instructions_used, dirty_pages)
}

fn outcome(effects: MessageEffects, instructions_used: NumInstructions, dirty_pages: u64) -> ExecutionOutcome {
    ExecutionOutcome {
        result: Ok(()),
        instructions_used,
        response: effects.response,
        calls: effects.calls,
        cycles_accepted: effects.cycles_accepted,
        cycles_burned: effects.cycles_burned,
        cycles_sent: effects.cycles_sent,
        certified_data: effects.certified_data,
        global_timer: effects.global_timer,
        message_accepted: effects.message_accepted,
        logs: effects.logs,
        dirty_pages,
    }
}

/// Instantiates, restores the heap and globals, and calls the entry point. Returns the
/// instance and whether anything ran that may have changed state.
fn prepare_and_call(
    module: &CompiledModule,
    state: &CanisterState,
    entry: &EntryPoint,
    store: &mut Store<Host>,
    heap_source: HeapSource,
) -> Result<(Instance, bool), ExecutionError> {
    let inner = &module.0;
    let mut linker = inner.linker.clone();
    let memory = match inner.memory_type {
        Some(declared) => Some(heap_memory(store, declared, state, heap_source)?),
        None => None,
    };
    if let Some(memory) = memory {
        linker
            .define(MEMORY_IMPORT.0, MEMORY_IMPORT.1, memory)
            .map_err(|e| ExecutionError::Trapped(format!("{e}")))?;
    }
    let instance = linker.instantiate_and_start(&mut *store, &inner.module).map_err(|e| classify(store, e))?;
    store.data_mut().memory = memory;
    match heap_source {
        HeapSource::Fresh => apply_data_segments(module, store, memory)?,
        HeapSource::KeepHeap => restore_heap(state, store, memory, true)?,
        HeapSource::State => {
            restore_heap(state, store, memory, false)?;
            restore_globals(module, state, store, &instance)?;
        }
    }
    let (func, params) = match entry {
        EntryPoint::Callback { closure, .. } => {
            let table = instance
                .get_table(&*store, TABLE_EXPORT)
                .ok_or_else(|| ExecutionError::Trapped("callback into a module without a table".into()))?;
            let func = table
                .get(&*store, closure.fun)
                .and_then(|r| r.as_func().and_then(|f| f.val().copied().copied()))
                .ok_or_else(|| ExecutionError::Trapped(format!("callback table entry {} is not a function", closure.fun)))?;
            let env = if inner.info.memory64 { Val::I64(closure.env as i64) } else { Val::I32(closure.env as i32) };
            (func, Some(env))
        }
        _ => {
            let name = entry.export_name().unwrap_or_default();
            match instance.get_func(&*store, &name) {
                Some(func) => (func, None),
                // A missing optional hook does nothing, but install still keeps the fresh heap.
                None if entry.is_optional() => return Ok((instance, heap_source.installs())),
                None => return Err(ExecutionError::MethodNotFound(method_description(entry))),
            }
        }
    };
    let params: &[Val] = match &params {
        Some(env) => core::slice::from_ref(env),
        None => &[],
    };
    func.call(&mut *store, params, &mut []).map_err(|e| classify(store, e))?;
    Ok((instance, true))
}

fn method_description(entry: &EntryPoint) -> String {
    match entry {
        EntryPoint::Update(m) => format!("update method '{m}'"),
        EntryPoint::Query(m) | EntryPoint::Transform(m) => format!("query method '{m}'"),
        EntryPoint::CompositeQuery(m) => format!("composite query method '{m}'"),
        other => format!("entry point {other:?}"),
    }
}

/// Turns an engine error into the IC's kind of failure.
fn classify(store: &mut Store<Host>, error: wasmi::Error) -> ExecutionError {
    let host = store.data_mut();
    if let Some(trap) = host.trap.take() {
        return match trap {
            // Allocators answer a refused growth by trapping: report the cause.
            ExecutionError::CalledTrap(m) | ExecutionError::Trapped(m) if host.memory_limit_hit => {
                ExecutionError::OutOfMemory(format!("memory growth was refused, then the canister trapped: {m}"))
            }
            other => other,
        };
    }
    let message = match error.as_trap_code() {
        Some(TrapCode::OutOfFuel) => {
            return ExecutionError::InstructionLimitExceeded(NumInstructions::new(host.instruction_limit));
        }
        Some(TrapCode::StackOverflow) => String::from("stack overflow"),
        Some(TrapCode::MemoryOutOfBounds) => String::from("heap out of bounds"),
        Some(TrapCode::UnreachableCodeReached) => String::from("unreachable"),
        Some(code) => format!("{code}"),
        None => format!("{error}"),
    };
    if host.memory_limit_hit {
        ExecutionError::OutOfMemory(format!("memory growth was refused, then the canister trapped: {message}"))
    } else {
        ExecutionError::Trapped(message)
    }
}

/// A memory of the declared type, already as large as the heap it will hold (so restoring
/// never grows, and so never copies, the memory).
fn heap_memory(
    store: &mut Store<Host>,
    declared: wasmi::MemoryType,
    state: &CanisterState,
    heap_source: HeapSource,
) -> Result<wasmi::Memory, ExecutionError> {
    let heap_pages = match heap_source {
        HeapSource::Fresh => 0,
        HeapSource::KeepHeap | HeapSource::State => state.heap.len_bytes() / WASM_PAGE_SIZE,
    };
    let minimum = declared.minimum().max(heap_pages);
    if declared.maximum().is_some_and(|max| minimum > max) {
        return Err(state_mismatch("heap is larger than the module's maximum memory"));
    }
    let ty = crate::module::memory_type(declared.is_64(), minimum, declared.maximum())
        .map_err(|e| state_mismatch(&format!("memory type: {e}")))?;
    wasmi::Memory::new(&mut *store, ty).map_err(|e| {
        if store.data().memory_limit_hit {
            ExecutionError::OutOfMemory(format!("cannot allocate a heap of {minimum} Wasm pages"))
        } else {
            state_mismatch(&format!("memory: {e}"))
        }
    })
}

fn apply_data_segments(module: &CompiledModule, store: &mut Store<Host>, memory: Option<wasmi::Memory>) -> Result<(), ExecutionError> {
    for segment in &module.0.active_data {
        let offset = segment.offset.unwrap_or(0);
        let fits = memory.is_some_and(|m| {
            let data = m.data_mut(&mut *store);
            let end = usize::try_from(offset).ok().and_then(|o| o.checked_add(segment.bytes.len()));
            match end {
                Some(end) if end <= data.len() => {
                    data[end - segment.bytes.len()..end].copy_from_slice(&segment.bytes);
                    true
                }
                _ => false,
            }
        });
        if !fits {
            return Err(ExecutionError::InvalidModule(ValidationError::Instantiation(format!(
                "data segment of {} bytes at offset {offset} does not fit in memory",
                segment.bytes.len()
            ))));
        }
    }
    Ok(())
}

fn state_mismatch(what: &str) -> ExecutionError {
    ExecutionError::InvalidModule(ValidationError::Instantiation(format!("canister state does not match the module: {what}")))
}

/// Copies the canister's heap pages into the new instance. `may_be_smaller`: a kept heap
/// may be smaller than the new module's minimum memory, which then stays at that minimum.
fn restore_heap(
    state: &CanisterState,
    store: &mut Store<Host>,
    memory: Option<wasmi::Memory>,
    may_be_smaller: bool,
) -> Result<(), ExecutionError> {
    if let Some(memory) = memory {
        if !state.heap.len_bytes().is_multiple_of(WASM_PAGE_SIZE) {
            return Err(state_mismatch("heap length is not a whole number of Wasm pages"));
        }
        let wanted = state.heap.len_bytes() / WASM_PAGE_SIZE;
        let current = memory.size(&*store);
        if wanted < current && !may_be_smaller {
            return Err(state_mismatch("heap is smaller than the module's minimum memory"));
        }
        if wanted > current {
            memory
                .grow(&mut *store, wanted - current)
                .map_err(|_| ExecutionError::OutOfMemory(format!("cannot restore a heap of {wanted} Wasm pages")))?;
        }
        let data = memory.data_mut(&mut *store);
        for (index, page) in state.heap.stored_pages() {
            // The memory now has exactly the heap's length, and stored pages lie below it.
            let start = usize::try_from(index.offset()).map_err(|_| state_mismatch("page beyond the address space"))?;
            let target = data.get_mut(start..start + PAGE_SIZE).ok_or_else(|| state_mismatch("page beyond the heap"))?;
            target.copy_from_slice(page);
        }
    } else if state.heap.len_pages() != 0 {
        return Err(state_mismatch("heap without a memory"));
    }
    Ok(())
}

/// Sets the instance's mutable globals to the canister's.
fn restore_globals(module: &CompiledModule, state: &CanisterState, store: &mut Store<Host>, instance: &Instance) -> Result<(), ExecutionError> {
    if state.globals.len() != module.0.globals.len() {
        return Err(state_mismatch("number of mutable globals"));
    }
    for ((name, _), value) in module.0.globals.iter().zip(&state.globals) {
        let global = instance.get_global(&*store, name).ok_or_else(|| state_mismatch("missing global"))?;
        global.set(&mut *store, to_val(*value)).map_err(|_| state_mismatch("global type"))?;
    }
    Ok(())
}

/// The instance's heap (as an update of the previous heap) and globals.
fn collect_state(
    module: &CompiledModule,
    state: &CanisterState,
    instance: Instance,
    store: &Store<Host>,
) -> Result<(PageMap, Vec<GlobalValue>), ExecutionError> {
    // Diffing against the old heap (also after a fresh install) keeps the dirty set exact.
    let mut heap = state.heap.clone();
    match instance.get_memory(store, MEMORY_EXPORT) {
        Some(memory) => heap.update_from(memory.data(store)),
        None => heap.resize(0),
    }
    let mut globals = Vec::with_capacity(module.0.globals.len());
    for (index, (name, kind)) in module.0.globals.iter().enumerate() {
        let value = instance
            .get_global(store, name)
            .map(|g| g.get(store))
            .ok_or_else(|| state_mismatch("missing global"))?;
        globals.push(from_val(*kind, &value).ok_or_else(|| state_mismatch(&format!("global {index} type")))?);
    }
    Ok((heap, globals))
}

fn to_val(value: GlobalValue) -> Val {
    match value {
        GlobalValue::I32(v) => Val::I32(v),
        GlobalValue::I64(v) => Val::I64(v),
        GlobalValue::F32(bits) => Val::F32(wasmi::F32::from_bits(bits)),
        GlobalValue::F64(bits) => Val::F64(wasmi::F64::from_bits(bits)),
        GlobalValue::V128(bits) => Val::V128(wasmi::V128::from(bits)),
    }
}

fn from_val(kind: GlobalKind, value: &Val) -> Option<GlobalValue> {
    Some(match (kind, value) {
        (GlobalKind::I32, Val::I32(v)) => GlobalValue::I32(*v),
        (GlobalKind::I64, Val::I64(v)) => GlobalValue::I64(*v),
        (GlobalKind::F32, Val::F32(v)) => GlobalValue::F32(v.to_bits()),
        (GlobalKind::F64, Val::F64(v)) => GlobalValue::F64(v.to_bits()),
        (GlobalKind::V128, Val::V128(v)) => GlobalValue::V128(v.as_u128()),
        _ => return None,
    })
}
