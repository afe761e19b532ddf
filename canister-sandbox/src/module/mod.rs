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

pub(crate) use instrument::{export_name_of_global, MEMORY_EXPORT, START_EXPORT, TABLE_EXPORT};
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
    let globals: Vec<(alloc::string::String, GlobalKind)> = validated
        .mutable_globals
        .iter()
        .map(|(index, kind)| (export_name_of_global(*index), *kind))
        .collect();
    Ok(CompiledModule(Arc::new(compiled::Inner {
        module,
        active_data: validated.data.into_iter().filter(|d| d.offset.is_some()).collect(),
        globals,
        info: validated.info,
        original_size: bytes.len(),
    })))
}
