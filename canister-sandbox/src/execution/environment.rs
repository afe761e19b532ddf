//! The inputs of one execution: the canister's environment and the message.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error::RejectCode;
use crate::ids::{CanisterId, Cycles, Principal};

/// `ic0.canister_status` values.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CanisterStatus {
    Running = 1,
    Stopping = 2,
    Stopped = 3,
}

/// Facts about the canister and the subnet at the time of execution.
#[derive(Clone, Debug)]
pub struct ExecutionEnvironment {
    pub canister_id: CanisterId,
    pub subnet_id: Principal,
    /// Nodes in the subnet (the `cost_*` functions scale fees by `n / 13`).
    pub subnet_size: u32,
    /// Block time in nanoseconds since 1970: the only clock a canister sees.
    pub time_nanos: u64,
    pub balance: Cycles,
    /// Cycles the canister must keep (freezing threshold); the rest is liquid.
    pub freezing_reserve: Cycles,
    pub status: CanisterStatus,
    pub canister_version: u64,
    pub controllers: Vec<Principal>,
    /// The current global timer deadline (0 = none).
    pub global_timer: u64,
    /// Whether the execution is replicated (decides replicated vs non-replicated queries).
    pub replicated: bool,
    /// The certificate of the canister's certified data (non-replicated queries only).
    pub data_certificate: Option<Vec<u8>>,
    /// DER-encoded root public key.
    pub root_key: Vec<u8>,
    /// Canister environment variables, sorted by name.
    pub env_vars: BTreeMap<String, String>,
}

/// The message being executed.
#[derive(Clone, Debug, Default)]
pub struct MessageInput {
    pub caller: Principal,
    pub arg: Vec<u8>,
    /// Method name (what `msg_method_name_*` returns in inspect_message).
    pub method_name: String,
    pub cycles_available: Cycles,
    pub cycles_refunded: Cycles,
    /// Reject callbacks: the code and message of the reject.
    pub reject: Option<(RejectCode, String)>,
    /// Best-effort calls: the deadline in ns (0 for guaranteed-response calls and ingress).
    pub deadline: u64,
    /// The call context was already answered by an earlier execution.
    pub already_responded: bool,
    /// Instructions of earlier executions of the same call context (`performance_counter(1)`).
    pub call_context_instructions: u64,
    pub caller_info_data: Vec<u8>,
    pub caller_info_signer: Vec<u8>,
}
