//! Building outgoing calls: they are recorded in the outcome, not executed.

use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;

use super::cycles::liquid;
use super::host::Host;
use crate::error::ExecutionError;
use crate::execution::{OutgoingCall, WasmClosure};
use crate::ids::Cycles;

type R = Result<u64, ExecutionError>;

fn pending<'h>(h: &'h mut Host, function: &str) -> Result<&'h mut OutgoingCall, ExecutionError> {
    h.pending_call
        .as_mut()
        .ok_or_else(|| ExecutionError::ContractViolation(format!("ic0.{function}: no call is under construction")))
}

pub(super) fn call_new(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let callee = Host::principal_arg("call_new", heap, a[0], a[1])?;
    let method = Host::text_arg("call_new", heap, a[2], a[3])?;
    h.charge_bytes(a[1] + a[3]);
    // A call left unfinished by an earlier call_new is discarded, returning its cycles.
    if let Some(abandoned) = h.pending_call.take() {
        h.balance = h.balance.saturating_add(abandoned.cycles);
    }
    h.pending_best_effort = false;
    h.pending_call = Some(OutgoingCall {
        callee,
        method,
        arg: Vec::new(),
        cycles: Cycles::ZERO,
        on_reply: WasmClosure { fun: a[4], env: a[5] },
        on_reject: WasmClosure { fun: a[6], env: a[7] },
        on_cleanup: None,
        timeout_seconds: None,
    });
    Ok(0)
}

pub(super) fn on_cleanup(h: &mut Host, _: &mut [u8], a: &[u64]) -> R {
    let call = pending(h, "call_on_cleanup")?;
    if call.on_cleanup.is_some() {
        return Err(ExecutionError::ContractViolation("ic0.call_on_cleanup: the cleanup callback is already set".into()));
    }
    call.on_cleanup = Some(WasmClosure { fun: a[0], env: a[1] });
    Ok(0)
}

pub(super) fn data_append(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let limit = h.call_payload_limit;
    let data = Host::heap_slice("call_data_append", heap, a[0], a[1])?;
    let call = pending(h, "call_data_append")?;
    let total = call.arg.len() as u64 + a[1];
    if total > limit {
        return Err(ExecutionError::ContractViolation(format!(
            "ic0.call_data_append: call payload size ({total}) cannot be larger than {limit}"
        )));
    }
    call.arg.extend_from_slice(data);
    h.charge_bytes(a[1]);
    Ok(0)
}

pub(super) fn best_effort_response(h: &mut Host, _: &mut [u8], a: &[u64]) -> R {
    if h.pending_best_effort {
        return Err(ExecutionError::ContractViolation(
            "ic0.call_with_best_effort_response: the timeout is already set".into(),
        ));
    }
    h.pending_best_effort = true;
    // The IC bounds the timeout to 1..=300 seconds (an i32 argument read as unsigned).
    let seconds = (a[0] as u32).clamp(1, 300);
    pending(h, "call_with_best_effort_response")?.timeout_seconds = Some(seconds);
    Ok(0)
}

fn add_cycles(h: &mut Host, function: &str, amount: Cycles) -> R {
    pending(h, function)?;
    if amount > liquid(h) {
        return Err(ExecutionError::OutOfCycles(format!(
            "ic0.{function}: cannot add {} cycles, only {} are available above the freezing threshold",
            amount.get(),
            liquid(h).get()
        )));
    }
    h.balance = h.balance.saturating_sub(amount);
    let call = pending(h, function)?;
    call.cycles = call.cycles.saturating_add(amount);
    Ok(0)
}

pub(super) fn cycles_add128(h: &mut Host, _: &mut [u8], a: &[u64]) -> R {
    add_cycles(h, "call_cycles_add128", Cycles::from_parts(a[0], a[1]))
}

pub(super) fn cycles_add64(h: &mut Host, _: &mut [u8], a: &[u64]) -> R {
    add_cycles(h, "call_cycles_add", Cycles::new(u128::from(a[0])))
}

/// Always succeeds (0): the hypervisor decides delivery, this execution only records.
pub(super) fn perform(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    let call = h
        .pending_call
        .take()
        .ok_or_else(|| ExecutionError::ContractViolation("ic0.call_perform: no call is under construction".to_string()))?;
    h.pending_best_effort = false;
    h.effects.cycles_sent = h.effects.cycles_sent.saturating_add(call.cycles);
    h.effects.calls.push(call);
    Ok(0)
}
