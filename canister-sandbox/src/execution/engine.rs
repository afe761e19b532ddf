//! `wasmi` configuration and the `ic0` import linkers.

use alloc::format;

use wasmi::{Caller, CompilationMode, Config, Engine, FuncType, Linker, Val};

use crate::api::{ApiFunction, Host};
use crate::error::ExecutionError;
use crate::ids::NumInstructions;
use crate::limits::Limits;

/// The engine with exactly the IC's Wasm features, fuel metering and stack limits.
pub(crate) fn engine(limits: &Limits) -> Engine {
    let mut config = Config::default();
    config
        .consume_fuel(true)
        // Eager: lazy compilation would charge fuel for compiling on first call, so the
        // instruction count of a message would depend on what ran before it.
        .compilation_mode(CompilationMode::Eager)
        .wasm_mutable_global(true)
        .wasm_sign_extension(true)
        .wasm_saturating_float_to_int(true)
        .wasm_multi_value(true)
        .wasm_bulk_memory(true)
        .wasm_reference_types(true)
        .wasm_simd(true)
        .wasm_memory64(true)
        .wasm_multi_memory(false)
        .wasm_tail_call(false)
        .wasm_extended_const(false)
        .wasm_relaxed_simd(false)
        .wasm_custom_page_sizes(false)
        .wasm_wide_arithmetic(false)
        .floats(true)
        .set_max_recursion_depth(limits.max_call_depth)
        .set_max_stack_height(limits.max_value_stack_bytes.max(1_000));
    Engine::new(&config)
}

/// A linker providing the given System API functions with `I` resolved for wasm32 or wasm64
/// (one per module: only what it imports, so per-execution clones stay small).
pub(crate) fn module_linker(engine: &Engine, functions: &[&'static ApiFunction], memory64: bool) -> Linker<Host> {
    let mut linker = Linker::new(engine);
    for &function in functions {
        let params = function.params.iter().map(|k| k.resolve(memory64));
        let results = function.results.iter().map(|k| k.resolve(memory64));
        let ty = FuncType::new(params, results);
        let defined = linker.func_new("ic0", function.name, ty, move |caller, params, results| {
            dispatch(function, caller, params, results)
        });
        // A module imports each name once (the validator refuses duplicate import names
        // only implicitly, so a repeated import simply keeps its first definition).
        let _ = defined;
    }
    linker
}

/// Runs one System API call: context check, implementation, fuel charge.
fn dispatch(function: &'static ApiFunction, mut caller: Caller<'_, Host>, params: &[Val], results: &mut [Val]) -> Result<(), wasmi::Error> {
    // Fuel metering is always on in this engine.
    let fuel = caller.get_fuel().unwrap_or(0);
    let mut args = [0u64; 8];
    for (slot, value) in args.iter_mut().zip(params) {
        *slot = match value {
            Val::I32(v) => u64::from(*v as u32),
            Val::I64(v) => *v as u64,
            _ => 0,
        };
    }
    let memory = caller.data().memory;
    let (heap, host): (&mut [u8], &mut Host) = match memory {
        Some(memory) => memory.data_and_store_mut(&mut caller),
        None => (&mut [], caller.data_mut()),
    };
    host.fuel_at_call = fuel;
    host.pending_cost = 0;
    if !function.contexts.contains(host.context) {
        let error = ExecutionError::ContractViolation(format!(
            "\"ic0.{}\" cannot be executed in {} mode",
            function.name,
            host.context.mode_name()
        ));
        return Err(stop(host, error));
    }
    let value = match (function.implementation)(host, heap, &args[..params.len()]) {
        Ok(value) => value,
        Err(error) => return Err(stop(host, error)),
    };
    if let (Some(kind), Some(slot)) = (function.results.first(), results.first_mut()) {
        *slot = match kind.resolve(host.memory64) {
            wasmi::ValType::I64 => Val::I64(value as i64),
            _ => Val::I32(value as i32),
        };
    }
    let cost = host.pending_cost.saturating_add(host.system_api_call_cost);
    if cost > fuel {
        let error = ExecutionError::InstructionLimitExceeded(NumInstructions::new(host.instruction_limit));
        let error = stop(host, error);
        // Out of fuel either way; the trap above is what the sandbox reports.
        let _ = caller.set_fuel(0);
        return Err(error);
    }
    caller.set_fuel(fuel - cost).map_err(|e| wasmi::Error::new(format!("{e}")))
}

fn stop(host: &mut Host, error: ExecutionError) -> wasmi::Error {
    let message = format!("{error}");
    host.fail(error);
    wasmi::Error::new(message)
}
