//! A validated, rewritten and compiled module, shared by every execution that runs it.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::info::{GlobalKind, ModuleInfo};

/// A data segment: `offset` is `Some` for an active segment (applied once, at install).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DataSegment {
    pub offset: Option<u64>,
    pub bytes: Vec<u8>,
}

pub(crate) struct Inner {
    pub module: wasmi::Module,
    /// The module's `ic0` imports, ready to instantiate (store independent).
    pub linker: wasmi::Linker<crate::api::Host>,
    /// The declared type of memory 0, imported as `keel.memory` by the rewritten module.
    pub memory_type: Option<wasmi::MemoryType>,
    pub info: ModuleInfo,
    pub active_data: Vec<DataSegment>,
    /// (export name, type) of every persisted mutable global, in index order.
    pub globals: Vec<(String, GlobalKind)>,
    /// Bytes of the module as given (possibly gzip), for metrics.
    pub original_size: usize,
}

/// A compiled module. Cloning is cheap (shared); it may be reused for any number of
/// messages and canisters of the [`Sandbox`](crate::Sandbox) that compiled it.
#[derive(Clone)]
pub struct CompiledModule(pub(crate) Arc<Inner>);

impl CompiledModule {
    pub fn info(&self) -> &ModuleInfo {
        &self.0.info
    }

    pub fn memory64(&self) -> bool {
        self.0.info.memory64
    }

    /// Size of the module as it was installed (before decompression).
    pub fn original_size(&self) -> usize {
        self.0.original_size
    }
}

impl core::fmt::Debug for CompiledModule {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CompiledModule").field("info", &self.0.info).finish_non_exhaustive()
    }
}
