//! The result of one execution.

use alloc::string::String;
use alloc::vec::Vec;

use super::entry::WasmClosure;
use crate::error::ExecutionError;
use crate::ids::{Cycles, NumInstructions, Principal};

/// The canister's answer to the message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Response {
    Reply(Vec<u8>),
    /// `msg_reject`: reject code 4 (CANISTER_REJECT), error code IC0406.
    Reject(String),
}

/// A call made with `call_new` … `call_perform`: recorded, not executed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OutgoingCall {
    pub callee: Principal,
    pub method: String,
    pub arg: Vec<u8>,
    /// Already taken from the canister's balance.
    pub cycles: Cycles,
    pub on_reply: WasmClosure,
    pub on_reject: WasmClosure,
    pub on_cleanup: Option<WasmClosure>,
    /// `call_with_best_effort_response`: seconds until the system may time out the call.
    pub timeout_seconds: Option<u32>,
}

/// Effects of one execution. When `result` is an error, every effect below is empty
/// (except `logs`) and the canister state was left unchanged.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ExecutionOutcome {
    pub result: Result<(), ExecutionError>,
    pub instructions_used: NumInstructions,
    pub response: Option<Response>,
    pub calls: Vec<OutgoingCall>,
    /// Added to the balance (`msg_cycles_accept128`).
    pub cycles_accepted: Cycles,
    /// Removed from the balance (`cycles_burn128`).
    pub cycles_burned: Cycles,
    /// Removed from the balance and attached to `calls`.
    pub cycles_sent: Cycles,
    /// `certified_data_set`: the new certified data.
    pub certified_data: Option<Vec<u8>>,
    /// `global_timer_set`: the new deadline (0 = off).
    pub global_timer: Option<u64>,
    /// inspect_message called `accept_message`.
    pub message_accepted: bool,
    /// `debug_print` output, in order.
    pub logs: Vec<Vec<u8>>,
    /// Heap and stable pages this execution changed (0 for queries and failures).
    pub dirty_pages: u64,
}

impl ExecutionOutcome {
    /// The outcome of a message that failed: no effects, only its cost and logs.
    pub fn failed(error: ExecutionError, instructions_used: NumInstructions, logs: Vec<Vec<u8>>) -> ExecutionOutcome {
        ExecutionOutcome {
            result: Err(error),
            instructions_used,
            response: None,
            calls: Vec::new(),
            cycles_accepted: Cycles::ZERO,
            cycles_burned: Cycles::ZERO,
            cycles_sent: Cycles::ZERO,
            certified_data: None,
            global_timer: None,
            message_accepted: false,
            logs,
            dirty_pages: 0,
        }
    }

    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    /// The reply bytes, if the canister replied.
    pub fn reply(&self) -> Option<&[u8]> {
        match &self.response {
            Some(Response::Reply(bytes)) => Some(bytes),
            _ => None,
        }
    }
}
