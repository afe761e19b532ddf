//! The canister's own facts and the environment: ids, status, time, timer, certification,
//! controllers, performance counter, root key, environment variables, printing and trapping.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::host::Host;
use crate::error::ExecutionError;

type R = Result<u64, ExecutionError>;

/// `certified_data_set` accepts at most this many bytes.
const MAX_CERTIFIED_DATA: u64 = 32;
/// `debug_print` keeps at most this many bytes per call (the IC truncates rather than traps).
const MAX_DEBUG_PRINT: u64 = 32 * 1024;
/// `trap` messages are truncated to this length.
const MAX_TRAP_MESSAGE: u64 = 16 * 1024;

pub(super) fn self_size(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    Ok(h.env.canister_id.principal().as_slice().len() as u64)
}

pub(super) fn self_copy(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let id = h.env.canister_id.principal();
    h.copy_out("canister_self_copy", heap, a, id.as_slice())
}

pub(super) fn subnet_self_size(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    Ok(h.env.subnet_id.as_slice().len() as u64)
}

pub(super) fn subnet_self_copy(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let id = h.env.subnet_id.clone();
    h.copy_out("subnet_self_copy", heap, a, id.as_slice())
}

pub(super) fn status(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    Ok(h.env.status as u64)
}

pub(super) fn version(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    Ok(h.env.canister_version)
}

pub(super) fn certified_data_set(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    if a[1] > MAX_CERTIFIED_DATA {
        return Err(ExecutionError::ContractViolation(format!(
            "ic0.certified_data_set: certified data of {} bytes exceeds the limit of {MAX_CERTIFIED_DATA}",
            a[1]
        )));
    }
    let data = Host::heap_slice("certified_data_set", heap, a[0], a[1])?;
    h.effects.certified_data = Some(data.to_vec());
    Ok(0)
}

pub(super) fn data_certificate_present(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    Ok(u64::from(h.env.data_certificate.is_some()))
}

pub(super) fn data_certificate_size(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    h.env
        .data_certificate
        .as_ref()
        .map(|c| c.len() as u64)
        .ok_or_else(|| ExecutionError::ContractViolation("ic0.data_certificate_size: no certificate is available".into()))
}

pub(super) fn data_certificate_copy(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let certificate = h
        .env
        .data_certificate
        .clone()
        .ok_or_else(|| ExecutionError::ContractViolation("ic0.data_certificate_copy: no certificate is available".into()))?;
    h.copy_out("data_certificate_copy", heap, a, &certificate)
}

pub(super) fn time(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    Ok(h.env.time_nanos)
}

/// Returns the previous deadline; the new one takes effect only if the message succeeds.
pub(super) fn global_timer_set(h: &mut Host, _: &mut [u8], a: &[u64]) -> R {
    let previous = h.effects.global_timer.unwrap_or(h.env.global_timer);
    h.effects.global_timer = Some(a[0]);
    Ok(previous)
}

/// Type 0: instructions of this execution; type 1: of the whole call context.
pub(super) fn performance_counter(h: &mut Host, _: &mut [u8], a: &[u64]) -> R {
    let used = h.instructions_used();
    match a[0] as u32 {
        0 => Ok(used),
        1 => Ok(h.input.call_context_instructions.saturating_add(used)),
        other => Err(ExecutionError::ContractViolation(format!(
            "ic0.performance_counter: unknown counter type {other}"
        ))),
    }
}

pub(super) fn is_controller(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let principal = Host::principal_arg("is_controller", heap, a[0], a[1])?;
    Ok(u64::from(h.env.controllers.contains(&principal)))
}

pub(super) fn in_replicated_execution(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    Ok(u64::from(h.context.is_replicated()))
}

pub(super) fn root_key_size(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    Ok(h.env.root_key.len() as u64)
}

pub(super) fn root_key_copy(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let key = h.env.root_key.clone();
    h.copy_out("root_key_copy", heap, a, &key)
}

fn env_var_at(h: &Host, function: &str, index: u64) -> Result<(String, String), ExecutionError> {
    usize::try_from(index)
        .ok()
        .and_then(|i| h.env.env_vars.iter().nth(i))
        .map(|(name, value)| (name.clone(), value.clone()))
        .ok_or_else(|| {
            ExecutionError::ContractViolation(format!(
                "ic0.{function}: index {index} is out of bounds ({} variables)",
                h.env.env_vars.len()
            ))
        })
}

fn env_var_value(h: &Host, function: &str, heap: &[u8], src: u64, size: u64) -> Result<String, ExecutionError> {
    let name = Host::text_arg(function, heap, src, size)?;
    h.env
        .env_vars
        .get(&name)
        .cloned()
        .ok_or_else(|| ExecutionError::ContractViolation(format!("ic0.{function}: no environment variable named \"{name}\"")))
}

pub(super) fn env_var_count(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    Ok(h.env.env_vars.len() as u64)
}

pub(super) fn env_var_name_size(h: &mut Host, _: &mut [u8], a: &[u64]) -> R {
    Ok(env_var_at(h, "env_var_name_size", a[0])?.0.len() as u64)
}

pub(super) fn env_var_name_copy(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let (name, _) = env_var_at(h, "env_var_name_copy", a[0])?;
    h.copy_out("env_var_name_copy", heap, &a[1..], name.as_bytes())
}

pub(super) fn env_var_name_exists(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let name = Host::text_arg("env_var_name_exists", heap, a[0], a[1])?;
    Ok(u64::from(h.env.env_vars.contains_key(&name)))
}

pub(super) fn env_var_value_size(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    Ok(env_var_value(h, "env_var_value_size", heap, a[0], a[1])?.len() as u64)
}

pub(super) fn env_var_value_copy(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let value = env_var_value(h, "env_var_value_copy", heap, a[0], a[1])?;
    h.copy_out("env_var_value_copy", heap, &a[2..], value.as_bytes())
}

pub(super) fn debug_print(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let size = a[1].min(MAX_DEBUG_PRINT);
    // A print from a bad pointer prints nothing rather than trapping (as on the IC).
    if let Ok(bytes) = Host::heap_slice("debug_print", heap, a[0], size) {
        h.effects.logs.push(bytes.to_vec());
        h.charge_bytes(size);
    }
    Ok(0)
}

pub(super) fn trap(_: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let size = a[1].min(MAX_TRAP_MESSAGE);
    let message: Vec<u8> = Host::heap_slice("trap", heap, a[0], size).map(<[u8]>::to_vec).unwrap_or_default();
    Err(ExecutionError::CalledTrap(String::from_utf8_lossy(&message).into_owned()))
}
