//! The state one execution's System API calls read and change.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use wasmi::errors::{MemoryError, TableError};
use wasmi_core::LimiterError;

use super::context::Context;
use crate::error::ExecutionError;
use crate::execution::{ExecutionEnvironment, MessageInput, OutgoingCall, Response};
use crate::ids::Cycles;
use crate::memory::PageMap;

/// Effects of a message, kept only when the execution succeeds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageEffects {
    pub response: Option<Response>,
    pub calls: Vec<OutgoingCall>,
    pub cycles_accepted: Cycles,
    pub cycles_burned: Cycles,
    /// Cycles moved out of the balance into outgoing calls.
    pub cycles_sent: Cycles,
    pub certified_data: Option<Vec<u8>>,
    /// `global_timer_set`: the new deadline (0 = off).
    pub global_timer: Option<u64>,
    /// `accept_message` in inspect_message.
    pub message_accepted: bool,
    /// `debug_print` output (kept even when the message traps).
    pub logs: Vec<Vec<u8>>,
}

/// Per-execution data of the System API (the `wasmi` store data).
pub struct Host {
    pub(crate) context: Context,
    pub(crate) env: ExecutionEnvironment,
    pub(crate) input: MessageInput,
    pub(crate) memory64: bool,
    pub(crate) memory: Option<wasmi::Memory>,
    /// Working copy of stable memory; becomes the canister's only on success.
    pub(crate) stable: PageMap,
    pub(crate) effects: MessageEffects,
    pub(crate) reply_buf: Vec<u8>,
    pub(crate) pending_call: Option<OutgoingCall>,
    pub(crate) pending_best_effort: bool,
    pub(crate) balance: Cycles,
    pub(crate) instruction_limit: u64,
    /// Fuel left when the current System API call started (for `performance_counter`).
    pub(crate) fuel_at_call: u64,
    /// Instructions the current System API call costs beyond its base cost.
    pub(crate) pending_cost: u64,
    /// Base instructions charged for every System API call.
    pub(crate) system_api_call_cost: u64,
    pub(crate) reply_limit: u64,
    pub(crate) call_payload_limit: u64,
    pub(crate) stable_limit: u64,
    pub(crate) heap_limit: u64,
    /// A growth was refused: a later trap is reported as out-of-memory.
    pub(crate) memory_limit_hit: bool,
    /// Why the execution must stop (set by a System API function before it returns an error).
    pub(crate) trap: Option<ExecutionError>,
}

impl Host {
    /// Stops the execution with `error`; the engine unwinds with an opaque error and the
    /// sandbox reports this one.
    pub(crate) fn fail(&mut self, error: ExecutionError) -> ExecutionError {
        self.trap = Some(error.clone());
        error
    }

    pub(crate) fn charge_bytes(&mut self, bytes: u64) {
        self.pending_cost = self.pending_cost.saturating_add(bytes);
    }

    pub(crate) fn instructions_used(&self) -> u64 {
        self.instruction_limit.saturating_sub(self.fuel_at_call)
    }

    /// The `src`..`src+size` bytes of the heap, or a trap naming the function.
    pub(crate) fn heap_slice<'m>(function: &str, heap: &'m [u8], src: u64, size: u64) -> Result<&'m [u8], ExecutionError> {
        let range = checked_range(src, size, heap.len())
            .ok_or_else(|| ExecutionError::Trapped(format!("ic0.{function}: heap out of bounds (offset {src}, size {size})")))?;
        Ok(&heap[range])
    }

    pub(crate) fn heap_write(function: &str, heap: &mut [u8], dst: u64, bytes: &[u8]) -> Result<(), ExecutionError> {
        let range = checked_range(dst, bytes.len() as u64, heap.len()).ok_or_else(|| {
            ExecutionError::Trapped(format!("ic0.{function}: heap out of bounds (offset {dst}, size {})", bytes.len()))
        })?;
        heap[range].copy_from_slice(bytes);
        Ok(())
    }

    /// The `X_copy(dst, offset, size)` pattern: copies `source[offset..offset+size]` to `dst`.
    pub(crate) fn copy_out(
        &mut self,
        function: &str,
        heap: &mut [u8],
        args: &[u64],
        source: &[u8],
    ) -> Result<u64, ExecutionError> {
        let (dst, offset, size) = (args[0], args[1], args[2]);
        let range = checked_range(offset, size, source.len()).ok_or_else(|| {
            ExecutionError::Trapped(format!(
                "ic0.{function}: src data out of bounds (offset {offset}, size {size}, length {})",
                source.len()
            ))
        })?;
        self.charge_bytes(size);
        Host::heap_write(function, heap, dst, &source[range])?;
        Ok(0)
    }

    /// Reads a principal argument (at most 29 bytes) from the heap.
    pub(crate) fn principal_arg(function: &str, heap: &[u8], src: u64, size: u64) -> Result<crate::ids::Principal, ExecutionError> {
        let bytes = Host::heap_slice(function, heap, src, size)?;
        crate::ids::Principal::from_slice(bytes)
            .map_err(|e| ExecutionError::ContractViolation(format!("ic0.{function}: principal of {} bytes is too long", e.0)))
    }

    pub(crate) fn text_arg(function: &str, heap: &[u8], src: u64, size: u64) -> Result<String, ExecutionError> {
        let bytes = Host::heap_slice(function, heap, src, size)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| ExecutionError::ContractViolation(format!("ic0.{function}: argument is not valid UTF-8")))
    }
}

fn checked_range(start: u64, size: u64, len: usize) -> Option<core::ops::Range<usize>> {
    let end = start.checked_add(size)?;
    if end > len as u64 {
        return None;
    }
    // Both bounds are at most `len`, so they fit in usize.
    Some(start as usize..end as usize)
}

impl wasmi::ResourceLimiter for Host {
    fn memory_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> Result<bool, LimiterError> {
        let allowed = desired as u64 <= self.heap_limit && maximum.is_none_or(|max| desired <= max);
        if !allowed {
            self.memory_limit_hit = true;
        }
        Ok(allowed)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> Result<bool, LimiterError> {
        // Tables are rebuilt per execution; bound them like the IC's engine does.
        const MAX_TABLE_ELEMENTS: usize = 1 << 20;
        Ok(desired <= MAX_TABLE_ELEMENTS && maximum.is_none_or(|max| desired <= max))
    }

    fn memory_grow_failed(&mut self, _error: &MemoryError) -> Result<(), LimiterError> {
        self.memory_limit_hit = true;
        Ok(())
    }

    fn table_grow_failed(&mut self, _error: &TableError) -> Result<(), LimiterError> {
        Ok(())
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        // reference-types allows several tables; a module needs few.
        100
    }

    fn memories(&self) -> usize {
        // The sandbox creates memory 0 and the engine counts it again when the instance
        // imports it; modules cannot define a second one (multi-memory is off).
        2
    }
}
