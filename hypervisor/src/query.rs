//! Queries: run against an immutable state snapshot (the latest certified state), on a
//! copy-on-write clone of the canister's memory that is dropped afterwards, so queries
//! never block or affect execution and any number can run concurrently. Composite
//! queries call other canisters' queries on the same snapshot, depth-first.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::candid;
use crate::error::{ErrorCode, UserError};
use crate::execution::{
    CallbackKind, EntryPoint, Executor, MessageInput, OutgoingCall, Response, crypto_principal, execution_error, sandbox_principal,
};
use crate::ids::{CanisterIdExt, Principal, PrincipalExt};
use crate::partition::Status;
use crate::state::ReplicatedState;

/// Deepest chain of composite-query calls.
pub const MAX_COMPOSITE_DEPTH: usize = 8;

/// Runs query `method` of `receiver` as `sender` on `state`; returns the reply bytes.
/// `certificate` is the certificate of `state` (what `ic0.data_certificate_copy` hands
/// to the top-level query), if the subnet has certified it.
pub fn query<E: Executor>(
    exec: &E,
    state: &ReplicatedState<E>,
    certificate: Option<&[u8]>,
    sender: Principal,
    receiver: Principal,
    method: &str,
    arg: Vec<u8>,
) -> Result<Vec<u8>, UserError> {
    if receiver.is_management() {
        return management_query(state, sender, method, &arg);
    }
    let q = Query { exec, state, certificate };
    q.call(sender, receiver, method, arg, 0)
}

/// `canister_inspect_message` for an ingress update (ic-reference §7): runs on the
/// certified state before the message is accepted into a block. Management-canister
/// calls skip it; a canister without the export accepts; one with it must call
/// `accept_message`. Non-replicated: nothing it does persists.
pub fn inspect_message<E: Executor>(
    exec: &E,
    state: &ReplicatedState<E>,
    sender: Principal,
    receiver: Principal,
    method: &str,
    arg: Vec<u8>,
) -> Result<(), UserError> {
    if receiver.is_management() {
        return Ok(());
    }
    let cid = state.existing(&receiver)?;
    let p = state.canister(cid).ok_or_else(|| UserError::new(ErrorCode::CanisterNotFound, "canister not found"))?;
    let code = p.code.as_ref().ok_or_else(|| {
        UserError::new(ErrorCode::CanisterWasmModuleNotFound, alloc::format!("Canister {} has no Wasm module", cid.get()))
    })?;
    let entry = state.modules.get(&code.hash).ok_or_else(|| UserError::new(ErrorCode::CanisterWasmModuleNotFound, "module missing"))?;
    if !entry.info.has_inspect_message {
        return Ok(());
    }
    let env = crate::round::environment(state, p, false);
    let input = MessageInput { caller: sandbox_principal(&sender), arg, method_name: method.into(), ..MessageInput::default() };
    let mut memory = p.memory.pages.clone();
    let out = exec.execute(&entry.module, &mut memory, &EntryPoint::InspectMessage, &input, &env);
    out.result.as_ref().map_err(|t| execution_error(t, cid))?;
    if out.message_accepted {
        Ok(())
    } else {
        Err(UserError::new(
            ErrorCode::CanisterRejectedMessage,
            alloc::format!("Canister {} rejected the message in inspect_message", cid.get()),
        ))
    }
}

fn management_query<E: Executor>(state: &ReplicatedState<E>, sender: Principal, method: &str, arg: &[u8]) -> Result<Vec<u8>, UserError> {
    if method != "canister_status" {
        return Err(UserError::new(ErrorCode::CanisterMethodNotFound, alloc::format!("ic00 method {method} is not a query")));
    }
    let bad = |e: candid::CandidError| UserError::new(ErrorCode::InvalidManagementPayload, alloc::format!("Error decoding candid: {}", e.0));
    let v = candid::decode_record(arg).map_err(bad)?;
    let target = v.req("canister_id").and_then(|t| t.as_principal()).map_err(bad)?;
    let cid = state.existing(&target)?;
    state.canister(cid).ok_or_else(|| UserError::new(ErrorCode::CanisterNotFound, "canister not found"))?.check_controller(&sender)?;
    let t = crate::management::status_of(state, cid)?;
    candid::encode(&[t]).map_err(|e| UserError::new(ErrorCode::CanisterContractViolation, e.0))
}

struct Query<'a, E: Executor> {
    exec: &'a E,
    state: &'a ReplicatedState<E>,
    certificate: Option<&'a [u8]>,
}

impl<E: Executor> Query<'_, E> {
    fn call(&self, sender: Principal, receiver: Principal, method: &str, arg: Vec<u8>, depth: usize) -> Result<Vec<u8>, UserError> {
        let cid = self.state.existing(&receiver)?;
        let p = self.state.canister(cid).ok_or_else(|| UserError::new(ErrorCode::CanisterNotFound, "canister not found"))?;
        crate::routing::check_accepts_requests(cid, &p.status).or_else(|e| match p.status {
            // Stopping canisters still answer queries; only stopped ones refuse.
            Status::Stopping(_) => Ok(()),
            _ => Err(e),
        })?;
        let code = p.code.as_ref().ok_or_else(|| {
            UserError::new(ErrorCode::CanisterWasmModuleNotFound, alloc::format!("Canister {} has no Wasm module", cid.get()))
        })?;
        let entry = self.state.modules.get(&code.hash).ok_or_else(|| UserError::new(ErrorCode::CanisterWasmModuleNotFound, "module missing"))?;
        let composite = entry.info.composite_queries.iter().any(|m| m == method);
        let ep = if entry.info.queries.iter().any(|m| m == method) {
            EntryPoint::Query(method.into())
        } else if composite && depth < MAX_COMPOSITE_DEPTH {
            EntryPoint::CompositeQuery(method.into())
        } else {
            return Err(UserError::new(
                ErrorCode::CanisterMethodNotFound,
                alloc::format!("Canister {} has no query method '{}'", cid.get(), method),
            ));
        };
        let module = entry.module.clone();
        let mut memory = p.memory.pages.clone();
        let mut env = crate::round::environment(self.state, p, false);
        // Only the query a user called sees the certificate (not composite callees).
        env.data_certificate = self.certificate.filter(|_| depth == 0).map(<[u8]>::to_vec);
        let input = MessageInput { caller: sandbox_principal(&sender), arg, method_name: method.into(), ..MessageInput::default() };
        let out = self.exec.execute(&module, &mut memory, &ep, &input, &env);
        out.result.as_ref().map_err(|t| execution_error(t, cid))?;
        let mut response = out.response;
        let mut pending: VecDeque<OutgoingCall> = out.calls.into();
        let mut last_error = None;
        let callback = |kind, closure| EntryPoint::Callback { kind, closure, composite: true };
        while let Some(call) = pending.pop_front() {
            let callee = crypto_principal(&call.callee);
            let result = self.call(cid.to_principal(), callee, &call.method, call.arg.clone(), depth + 1);
            let mut cinput = MessageInput { caller: input.caller.clone(), already_responded: response.is_some(), ..MessageInput::default() };
            let entry = match result {
                Ok(bytes) => {
                    cinput.arg = bytes;
                    callback(CallbackKind::Reply, call.on_reply)
                }
                Err(e) => {
                    cinput.reject = Some((e.reject_code(), e.message));
                    callback(CallbackKind::Reject, call.on_reject)
                }
            };
            let out = self.exec.execute(&module, &mut memory, &entry, &cinput, &env);
            match out.result {
                Err(t) => {
                    if let Some(c) = call.on_cleanup {
                        let _ = self.exec.execute(&module, &mut memory, &callback(CallbackKind::Cleanup, c), &cinput, &env);
                    }
                    last_error = Some(execution_error(&t, cid));
                }
                Ok(()) => {
                    if response.is_none() {
                        response = out.response;
                    }
                    pending.extend(out.calls);
                }
            }
        }
        match response {
            Some(Response::Reply(b)) => Ok(b),
            Some(Response::Reject(m)) => Err(UserError::new(ErrorCode::CanisterRejectedMessage, m)),
            None => Err(last_error.unwrap_or_else(|| {
                UserError::new(ErrorCode::CanisterDidNotReply, alloc::format!("Canister {} did not produce a response", cid.get()))
            })),
        }
    }
}
