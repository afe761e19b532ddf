//! Message data, caller, reply/reject, method name, inspect_message acceptance.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::host::Host;
use crate::error::ExecutionError;
use crate::execution::Response;

type R = Result<u64, ExecutionError>;

pub(super) fn arg_data_size(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    Ok(h.input.arg.len() as u64)
}

pub(super) fn arg_data_copy(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let arg = core::mem::take(&mut h.input.arg);
    let result = h.copy_out("msg_arg_data_copy", heap, a, &arg);
    h.input.arg = arg;
    result
}

pub(super) fn caller_size(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    Ok(h.input.caller.as_slice().len() as u64)
}

pub(super) fn caller_copy(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let caller = h.input.caller.clone();
    h.copy_out("msg_caller_copy", heap, a, caller.as_slice())
}

pub(super) fn caller_info_data_size(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    Ok(h.input.caller_info_data.len() as u64)
}

pub(super) fn caller_info_data_copy(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let data = core::mem::take(&mut h.input.caller_info_data);
    let result = h.copy_out("msg_caller_info_data_copy", heap, a, &data);
    h.input.caller_info_data = data;
    result
}

pub(super) fn caller_info_signer_size(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    Ok(h.input.caller_info_signer.len() as u64)
}

pub(super) fn caller_info_signer_copy(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let signer = core::mem::take(&mut h.input.caller_info_signer);
    let result = h.copy_out("msg_caller_info_signer_copy", heap, a, &signer);
    h.input.caller_info_signer = signer;
    result
}

/// 0 in a reply callback (and anywhere no reject happened).
pub(super) fn reject_code(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    Ok(h.input.reject.as_ref().map_or(0, |(code, _)| *code as u64))
}

pub(super) fn reject_msg_size(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    Ok(h.input.reject.as_ref().map_or(0, |(_, m)| m.len() as u64))
}

pub(super) fn reject_msg_copy(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let message = h.input.reject.as_ref().map(|(_, m)| m.clone()).unwrap_or_default();
    h.copy_out("msg_reject_msg_copy", heap, a, message.as_bytes())
}

pub(super) fn deadline(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    Ok(h.input.deadline)
}

fn ensure_not_responded(h: &Host, function: &str) -> Result<(), ExecutionError> {
    if h.effects.response.is_some() || h.input.already_responded {
        return Err(ExecutionError::ContractViolation(format!(
            "ic0.{function}: the message was already replied to or rejected"
        )));
    }
    Ok(())
}

pub(super) fn reply_data_append(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    ensure_not_responded(h, "msg_reply_data_append")?;
    let data = Host::heap_slice("msg_reply_data_append", heap, a[0], a[1])?;
    let total = h.reply_buf.len() as u64 + a[1];
    if total > h.reply_limit {
        return Err(ExecutionError::ContractViolation(format!(
            "ic0.msg_reply_data_append: application payload size ({total}) cannot be larger than {}",
            h.reply_limit
        )));
    }
    h.reply_buf.extend_from_slice(data);
    h.charge_bytes(a[1]);
    Ok(0)
}

pub(super) fn reply(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    ensure_not_responded(h, "msg_reply")?;
    h.effects.response = Some(Response::Reply(core::mem::take(&mut h.reply_buf)));
    Ok(0)
}

pub(super) fn reject(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    ensure_not_responded(h, "msg_reject")?;
    if a[1] > h.reply_limit {
        return Err(ExecutionError::ContractViolation(format!(
            "ic0.msg_reject: reject message size ({}) cannot be larger than {}",
            a[1], h.reply_limit
        )));
    }
    let bytes = Host::heap_slice("msg_reject", heap, a[0], a[1])?;
    // The IC replaces invalid UTF-8 rather than trapping.
    let message = String::from_utf8_lossy(bytes).into_owned();
    h.charge_bytes(a[1]);
    h.effects.response = Some(Response::Reject(message));
    Ok(0)
}

pub(super) fn method_name_size(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    Ok(h.input.method_name.len() as u64)
}

pub(super) fn method_name_copy(h: &mut Host, heap: &mut [u8], a: &[u64]) -> R {
    let name: Vec<u8> = h.input.method_name.as_bytes().to_vec();
    h.copy_out("msg_method_name_copy", heap, a, &name)
}

pub(super) fn accept_message(h: &mut Host, _: &mut [u8], _: &[u64]) -> R {
    if h.effects.message_accepted {
        return Err(ExecutionError::ContractViolation("ic0.accept_message: the message was already accepted".into()));
    }
    h.effects.message_accepted = true;
    Ok(0)
}
