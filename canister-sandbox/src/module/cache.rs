//! A bounded cache of compiled modules keyed by module hash, so canisters installed with the
//! same Wasm (and repeated installs) compile once.

use alloc::collections::BTreeMap;

use super::compiled::CompiledModule;
use crate::error::ValidationError;
use crate::execution::Sandbox;

/// Compiled modules by the caller's hash of the module bytes (the hypervisor already
/// computes SHA-256 module hashes). Evicts the least recently used entry when full.
#[derive(Debug)]
pub struct ModuleCache {
    capacity: usize,
    clock: u64,
    entries: BTreeMap<[u8; 32], (u64, CompiledModule)>,
}

impl ModuleCache {
    pub fn new(capacity: usize) -> ModuleCache {
        ModuleCache { capacity: capacity.max(1), clock: 0, entries: BTreeMap::new() }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The cached module for `hash`, compiling `wasm` on a miss.
    pub fn get_or_compile(&mut self, sandbox: &Sandbox, hash: [u8; 32], wasm: &[u8]) -> Result<CompiledModule, ValidationError> {
        self.clock += 1;
        if let Some((used, module)) = self.entries.get_mut(&hash) {
            *used = self.clock;
            return Ok(module.clone());
        }
        let module = sandbox.compile(wasm)?;
        if self.entries.len() >= self.capacity {
            let oldest = self.entries.iter().min_by_key(|(_, (used, _))| *used).map(|(key, _)| *key);
            if let Some(key) = oldest {
                self.entries.remove(&key);
            }
        }
        self.entries.insert(hash, (self.clock, module.clone()));
        Ok(module)
    }
}
