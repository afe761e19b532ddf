//! Resource limits of one execution (ic-reference §9), configurable per sandbox.

use crate::ids::NumInstructions;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// Limits applied by the sandbox. [`Limits::default`] is the IC's application-subnet table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Update calls, heartbeat, global timer, reply/reject callbacks and cleanup.
    pub update_instructions: NumInstructions,
    /// Queries and composite queries (and their callbacks).
    pub query_instructions: NumInstructions,
    /// Install, reinstall, upgrade (start, init, pre/post upgrade).
    pub install_instructions: NumInstructions,
    pub inspect_message_instructions: NumInstructions,
    /// Heap of a wasm32 module: the architecture's 4 GiB.
    pub wasm32_heap_bytes: u64,
    /// Heap of a wasm64 module: the IC's 6 GiB.
    pub wasm64_heap_bytes: u64,
    /// Per-canister cap on heap bytes below the architectural limit (`wasm_memory_limit`);
    /// `None` means only the architectural limit applies.
    pub heap_cap_bytes: Option<u64>,
    pub stable_bytes: u64,
    /// Wasm call depth (frames) before a stack-overflow trap.
    pub max_call_depth: usize,
    /// Value-stack bytes of the interpreter before a stack-overflow trap.
    pub max_value_stack_bytes: usize,
    /// Reply of a replicated execution; queries get [`Limits::query_reply_bytes`].
    pub reply_bytes: u64,
    pub query_reply_bytes: u64,
    /// Argument of one outgoing call.
    pub call_payload_bytes: u64,
    /// Module size after decompression.
    pub module_bytes: u64,
    /// Cost of one System API call on top of the bytes it copies.
    pub system_api_call_instructions: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            update_instructions: NumInstructions::new(40_000_000_000),
            query_instructions: NumInstructions::new(5_000_000_000),
            install_instructions: NumInstructions::new(300_000_000_000),
            inspect_message_instructions: NumInstructions::new(200_000_000),
            wasm32_heap_bytes: 4 * GIB,
            wasm64_heap_bytes: 6 * GIB,
            heap_cap_bytes: None,
            stable_bytes: 500 * GIB,
            max_call_depth: 10_000,
            max_value_stack_bytes: 16 * MIB as usize,
            reply_bytes: 2 * MIB,
            query_reply_bytes: 3 * MIB,
            call_payload_bytes: 10 * MIB,
            module_bytes: 100 * MIB,
            system_api_call_instructions: 50,
        }
    }
}

impl Limits {
    /// The heap limit for a module of the given memory type, including the per-canister cap.
    pub fn heap_bytes(&self, memory64: bool) -> u64 {
        let architectural = if memory64 { self.wasm64_heap_bytes } else { self.wasm32_heap_bytes };
        self.heap_cap_bytes.map_or(architectural, |cap| cap.min(architectural))
    }
}
