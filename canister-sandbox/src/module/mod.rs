//! Wasm modules: IC validation, the rewrite that lets the sandbox persist state between
//! messages, and the compiled, shareable result.

mod cache;
mod compiled;
mod gzip;
mod info;
mod instrument;
mod validate;

pub use cache::ModuleCache;
pub use compiled::CompiledModule;
pub use info::{GlobalKind, Metadata, ModuleInfo};

pub(crate) use instrument::{export_name_of_global, MEMORY_EXPORT, MEMORY_IMPORT, START_EXPORT, TABLE_EXPORT};
pub(crate) use validate::validate;

use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::error::ValidationError;
use crate::execution::Sandbox;

/// Validation, rewrite, compilation.
pub(crate) fn compile(sandbox: &Sandbox, bytes: &[u8]) -> Result<CompiledModule, ValidationError> {
    let validated = validate(bytes, sandbox.limits())?;
    let rewritten = instrument::instrument(&validated)?;
    let module = wasmi::Module::new(sandbox.engine(), &rewritten).map_err(|e| ValidationError::Engine(e.to_string()))?;
    let memory64 = validated.info.memory64;
    let mut imports = Vec::with_capacity(validated.function_imports.len());
    for (_, name, _) in &validated.function_imports {
        // Validation accepted only System API names.
        let function = crate::api::lookup(name).ok_or_else(|| ValidationError::Engine(alloc::format!("unknown import {name}")))?;
        imports.push(function);
    }
    let linker = crate::execution::module_linker(sandbox.engine(), &imports, memory64);
    let memory_type = validated
        .memory_type
        .map(|m| memory_type(m.memory64, m.initial, m.maximum))
        .transpose()
        .map_err(|e| ValidationError::Engine(e.to_string()))?;
    let globals: Vec<(alloc::string::String, GlobalKind)> = validated
        .mutable_globals
        .iter()
        .map(|(index, kind)| (export_name_of_global(*index), *kind))
        .collect();
    Ok(CompiledModule(Arc::new(compiled::Inner {
        module,
        active_data: validated.data.into_iter().filter(|d| d.offset.is_some()).collect(),
        globals,
        linker,
        memory_type,
        info: validated.info,
        original_size: bytes.len(),
    })))
}

/// A `wasmi` memory type from its parts.
pub(crate) fn memory_type(memory64: bool, minimum: u64, maximum: Option<u64>) -> Result<wasmi::MemoryType, wasmi::errors::MemoryError> {
    let mut builder = wasmi::MemoryType::builder();
    builder.memory64(memory64).min(minimum).max(maximum);
    builder.build()
}
