//! One execution round: induct the block's ingress, run heartbeats and due timers, then
//! execute queued messages canister by canister under the round's instruction budget,
//! handling management calls between passes, and finally settle stopping canisters and
//! storage fees. Actor semantics live here: a canister runs one message at a time, each
//! execution is atomic, and a call context stays open across awaits until answered.

use alloc::vec::Vec;

use crate::block::Block;
use crate::cycles::Cycles;
use crate::error::{ErrorCode, UserError};
use crate::execution::{
    CallbackKind, CanisterMemory, CanisterStatus, EntryPoint, ExecutionEnvironment, ExecutionError, ExecutionOutcome, Executor,
    MessageInput,
    Response as CanisterResponse, crypto_principal, execution_error, sandbox_principal,
};
use crate::ids::{CanisterId, CanisterIdExt, Principal};
use crate::message::{
    CallContext, CallContextId, Callback, CallbackId, IngressStatus, Input, Origin, Payload, Request, Response,
};
use crate::partition::{Partition, Status};
use crate::scheduler::{Budget, pass_order, rotate};
use crate::state::ReplicatedState;

/// Mutable context of one round.
pub(crate) struct Round<'a, E: Executor> {
    pub exec: &'a E,
    pub state: &'a mut ReplicatedState<E>,
    pub budget: Budget,
}

/// The Candid encoding of `()`, the reply of management methods without a result.
pub(crate) const EMPTY_REPLY: &[u8] = b"DIDL\x00\x00";

/// Executes `block` on `state`.
pub fn execute_round<E: Executor>(exec: &E, state: &mut ReplicatedState<E>, block: &Block) {
    state.height = block.height;
    // Block times are monotone by consensus; never let a faulty one move time back.
    state.time = state.time.max(block.time);
    state.randomness = block.randomness;
    state.rand_counter = 0;
    let now = state.time;
    state.prune_ingress(now);
    state.induct_ingress(block);
    let budget = Budget::new(state.config.round_instructions);
    let mut round = Round { exec, state, budget };
    round.run_system_tasks();
    loop {
        let mut progress = round.drain_management();
        for cid in pass_order(&round.state.canisters, block.height) {
            if round.budget.exhausted() {
                break;
            }
            let input = round.state.canister_mut(cid).and_then(|p| p.input.pop_front());
            if let Some(input) = input {
                round.execute_input(cid, input);
                progress = true;
            }
        }
        if !progress || round.budget.exhausted() {
            break;
        }
    }
    round.drain_management();
    round.settle_stopping();
    round.state.collect_modules();
}

impl<E: Executor> ReplicatedState<E> {
    /// Drops modules no canister or snapshot runs any more.
    pub(crate) fn collect_modules(&mut self) {
        let mut used = alloc::collections::BTreeSet::new();
        for p in self.canisters.values() {
            used.extend(p.code.iter().map(|c| c.hash));
            used.extend(p.snapshots.values().filter_map(|s| s.code.as_ref().map(|c| c.hash)));
        }
        self.modules.retain(|h, _| used.contains(h));
    }
}

impl<E: Executor> Round<'_, E> {
    /// The environment canister `p` executes in.
    pub(crate) fn environment(&self, p: &Partition<E>, replicated: bool) -> ExecutionEnvironment {
        environment(self.state, p, replicated)
    }

    /// Runs `entry` on canister `cid`: prepays the maximum execution fee, executes, and
    /// refunds what was not used. Fails with `CanisterOutOfCycles` if the canister
    /// cannot pay without dropping below its freezing threshold (it is frozen).
    pub(crate) fn run(&mut self, cid: CanisterId, entry: &EntryPoint, input: &MessageInput) -> Result<ExecutionOutcome, UserError> {
        let fees = self.state.fees();
        // The budget is checked before a message starts, never mid-message: the last
        // message of a round may overrun it (as on the IC), so results do not depend on
        // where a round boundary falls.
        let limit = self.state.config.message_instructions;
        let prepay = fees.update_message_base().saturating_add(fees.instructions(limit));
        let exec = self.exec;
        self.state.charge_storage(cid);
        let module = {
            let p = self.state.canister(cid).ok_or_else(|| not_found(cid))?;
            let code = p.code.as_ref().ok_or_else(|| no_module(cid))?;
            self.state.modules.get(&code.hash).map(|m| m.module.clone()).ok_or_else(|| no_module(cid))?
        };
        let p = self.state.canister_mut(cid).ok_or_else(|| not_found(cid))?;
        p.withdraw(prepay, &fees)?;
        let p = self.state.canister(cid).ok_or_else(|| not_found(cid))?;
        let env = self.environment(p, true);
        let p = self.state.canister_mut(cid).ok_or_else(|| not_found(cid))?;
        // `wasm_memory_limit` is a per-canister quota the engine does not know: keep a
        // copy-on-write backup (page-table sized, not memory sized) and undo an execution
        // that grew memory past it, as the IC does.
        let limit_bytes = p.settings.wasm_memory_limit;
        let backup = (limit_bytes > 0).then(|| p.memory.pages.clone());
        let mut outcome = exec.execute(&module, &mut p.memory.pages, entry, input, &env);
        let grew_past_limit = |b: &E::Memory, now: &E::Memory| now.heap_bytes() > limit_bytes && now.heap_bytes() > b.heap_bytes();
        if let Some(backup) = backup.filter(|b| outcome.result.is_ok() && grew_past_limit(b, &p.memory.pages)) {
            p.memory.pages = backup;
            let error = ExecutionError::OutOfMemory(alloc::format!(
                "memory grew past the canister's wasm_memory_limit of {limit_bytes} bytes"
            ));
            outcome = ExecutionOutcome::failed(error, outcome.instructions_used, outcome.logs);
        }
        let used = outcome.instructions_used.get().min(limit);
        let charge = fees.update_message_base().saturating_add(fees.instructions(used));
        p.balance = p.balance.saturating_add(prepay.saturating_sub(charge));
        self.state.burned = self.state.burned.saturating_add(charge);
        self.budget.charge(used.max(1));
        Ok(outcome)
    }

    /// Executes one input of canister `cid`.
    fn execute_input(&mut self, cid: CanisterId, input: Input) {
        match input {
            Input::Request(r) => self.execute_request(cid, r),
            Input::Response(r) => self.execute_response(cid, r),
        }
    }

    fn execute_request(&mut self, cid: CanisterId, req: Request) {
        let checked = (|| {
            let p = self.state.canister(cid).ok_or_else(|| UserError::new(ErrorCode::CanisterNotFound, "canister not found"))?;
            crate::routing::check_accepts_requests(cid, &p.status)?;
            let code = p.code.as_ref().ok_or_else(|| {
                UserError::new(ErrorCode::CanisterWasmModuleNotFound, alloc::format!("Canister {} has no Wasm module", cid.get()))
            })?;
            let info = &self.state.modules.get(&code.hash).ok_or_else(|| UserError::new(ErrorCode::CanisterWasmModuleNotFound, "module missing"))?.info;
            if info.updates.contains(&req.method) {
                Ok(EntryPoint::Update(req.method.clone()))
            } else if info.queries.contains(&req.method) {
                Ok(EntryPoint::Query(req.method.clone()))
            } else {
                Err(UserError::new(
                    ErrorCode::CanisterMethodNotFound,
                    alloc::format!("Canister {} has no update method '{}'", cid.get(), req.method),
                ))
            }
        })();
        let entry = match checked {
            Ok(e) => e,
            Err(e) => return self.state.reject(&req.origin, &e, req.cycles),
        };
        if let Origin::Ingress(id) = &req.origin {
            self.state.set_ingress_status(id, IngressStatus::Processing);
        }
        self.start_context(cid, entry, req.sender, req.arg, req.cycles, req.origin);
    }

    /// Opens a call context for a request (or a system task) and runs its first
    /// execution.
    pub(crate) fn start_context(&mut self, cid: CanisterId, entry: EntryPoint, caller: Principal, arg: Vec<u8>, cycles: Cycles, origin: Origin) {
        let Some(p) = self.state.canister_mut(cid) else {
            return self.state.reject(&origin, &not_found(cid), cycles);
        };
        let ctx_id = CallContextId(p.fresh_id());
        p.contexts.insert(ctx_id, CallContext { origin: origin.clone(), caller, available: cycles, responded: false, outstanding: 0 });
        let input = MessageInput {
            caller: sandbox_principal(&caller),
            arg,
            method_name: method_name(&entry),
            cycles_available: cycles,
            ..MessageInput::default()
        };
        match self.run(cid, &entry, &input) {
            Ok(outcome) => self.apply(cid, ctx_id, outcome),
            Err(e) => self.finish_context(cid, ctx_id, Some(e)),
        }
    }

    fn execute_response(&mut self, cid: CanisterId, resp: Response) {
        let Some(p) = self.state.canister_mut(cid) else {
            self.state.burned = self.state.burned.saturating_add(resp.refund);
            return;
        };
        p.balance = p.balance.saturating_add(resp.refund);
        let Some(cb) = p.callbacks.remove(&resp.callback) else { return };
        let ctx_id = cb.context;
        let Some(context) = p.contexts.get_mut(&ctx_id) else { return };
        context.outstanding = context.outstanding.saturating_sub(1);
        let (caller, available, responded) = (context.caller, context.available, context.responded);
        if p.code.is_none() {
            // Uninstalled while the call was out: the callback no longer exists.
            return self.finish_context(cid, ctx_id, None);
        }
        let callback = |kind, closure| EntryPoint::Callback { kind, closure, composite: false };
        let (entry, arg, reject) = match resp.payload {
            Payload::Reply(b) => (callback(CallbackKind::Reply, cb.on_reply), b, None),
            Payload::Reject { code, message, .. } => (callback(CallbackKind::Reject, cb.on_reject), Vec::new(), Some((code, message))),
        };
        let input = MessageInput {
            caller: sandbox_principal(&caller),
            arg,
            cycles_available: available,
            cycles_refunded: resp.refund,
            reject,
            already_responded: responded,
            ..MessageInput::default()
        };
        match self.run(cid, &entry, &input) {
            Ok(outcome) if outcome.result.is_err() => {
                let err = outcome.result.as_ref().err().map(|t| execution_error(t, cid));
                if let Some(cleanup) = cb.on_cleanup {
                    // Cleanup may only fix up memory: its other effects are dropped.
                    let _ = self.run(cid, &callback(CallbackKind::Cleanup, cleanup), &input);
                }
                self.finish_context(cid, ctx_id, err);
            }
            Ok(outcome) => self.apply(cid, ctx_id, outcome),
            Err(e) => self.finish_context(cid, ctx_id, Some(e)),
        }
    }

    /// Applies a successful execution's effects within call context `ctx_id`; a trap
    /// only closes the context (the engine already rolled memory back).
    pub(crate) fn apply(&mut self, cid: CanisterId, ctx_id: CallContextId, outcome: ExecutionOutcome) {
        if let Err(trap) = &outcome.result {
            let err = execution_error(trap, cid);
            return self.finish_context(cid, ctx_id, Some(err));
        }
        let fees = self.state.fees();
        let allows_calls = self.state.config.subnet_type.allows_outgoing_calls();
        let mut routed = Vec::new();
        let mut responses = Vec::new();
        let mut burned = Cycles::ZERO;
        {
            let Some(p) = self.state.canister_mut(cid) else { return };
            let Some(context) = p.contexts.get_mut(&ctx_id) else { return };
            let accepted = outcome.cycles_accepted.min(context.available);
            context.available = context.available.saturating_sub(accepted);
            // A second reply cannot happen (the engine traps on it); ignore it regardless.
            if let Some(r) = outcome.response.filter(|_| !context.responded) {
                context.responded = true;
                let payload = match r {
                    CanisterResponse::Reply(b) => Payload::Reply(b),
                    CanisterResponse::Reject(m) => Payload::Reject {
                        code: crate::error::RejectCode::CanisterReject,
                        message: m,
                        error: Some(ErrorCode::CanisterRejectedMessage),
                    },
                };
                responses.push((context.origin.clone(), payload, context.available));
                context.available = Cycles::ZERO;
            }
            p.balance = p.balance.saturating_add(accepted);
            let burn = outcome.cycles_burned.min(p.balance);
            p.balance = p.balance.saturating_sub(burn);
            burned = burned.saturating_add(burn);
            if let Some(d) = outcome.certified_data {
                p.certified_data = d;
            }
            if let Some(t) = outcome.global_timer {
                p.global_timer = t;
            }
            for call in outcome.calls {
                let cb_id = CallbackId(p.fresh_id());
                p.callbacks.insert(
                    cb_id,
                    Callback {
                        context: ctx_id,
                        callee: crypto_principal(&call.callee),
                        on_reply: call.on_reply,
                        on_reject: call.on_reject,
                        on_cleanup: call.on_cleanup,
                        cycles_sent: call.cycles,
                    },
                );
                if let Some(c) = p.contexts.get_mut(&ctx_id) {
                    c.outstanding += 1;
                }
                let origin = Origin::Canister { caller: cid, callback: cb_id };
                let fee = fees.xnet_call(call.method.len() + call.arg.len());
                let callee = crypto_principal(&call.callee);
                let sent = if !allows_calls {
                    Err(UserError::new(ErrorCode::CanisterCallsForbidden, "Canisters on a data-only subnet cannot make calls"))
                } else {
                    p.withdraw(fee.saturating_add(call.cycles), &fees)
                };
                match sent {
                    Ok(()) => {
                        burned = burned.saturating_add(fee);
                        routed.push(Request {
                            sender: cid.to_principal(),
                            receiver: callee,
                            method: call.method,
                            arg: call.arg,
                            cycles: call.cycles,
                            origin,
                        });
                    }
                    // The call never left: its callback gets a reject, nothing to refund.
                    Err(e) => responses.push((origin, Payload::from_error(&e), Cycles::ZERO)),
                }
            }
        }
        self.state.burned = self.state.burned.saturating_add(burned);
        for (origin, payload, refund) in responses {
            self.state.respond(&origin, payload, refund);
        }
        for r in routed {
            self.state.route(r);
        }
        self.finish_context(cid, ctx_id, None);
    }

    /// Closes call context `ctx_id` once no call made in it is outstanding; answers its
    /// origin if nobody did (with `err`, or "did not reply").
    pub(crate) fn finish_context(&mut self, cid: CanisterId, ctx_id: CallContextId, err: Option<UserError>) {
        let Some(p) = self.state.canister_mut(cid) else { return };
        let Some(c) = p.contexts.get(&ctx_id) else { return };
        if c.outstanding > 0 {
            return;
        }
        let Some(c) = p.contexts.remove(&ctx_id) else { return };
        if !c.responded {
            let e = err.unwrap_or_else(|| {
                UserError::new(ErrorCode::CanisterDidNotReply, alloc::format!("Canister {} did not produce a response", cid.get()))
            });
            self.state.reject(&c.origin, &e, c.available);
        } else {
            self.state.burned = self.state.burned.saturating_add(c.available);
        }
    }

    /// Heartbeats and due global timers of running canisters, in rotated order.
    fn run_system_tasks(&mut self) {
        let now = self.state.time.0;
        let mut tasks = Vec::new();
        for (id, p) in &self.state.canisters {
            let (Status::Running, Some(code)) = (&p.status, &p.code) else { continue };
            let Some(m) = self.state.modules.get(&code.hash) else { continue };
            if m.info.has_heartbeat {
                tasks.push((*id, EntryPoint::Heartbeat));
            }
            if m.info.has_global_timer && p.global_timer != 0 && p.global_timer <= now {
                tasks.push((*id, EntryPoint::GlobalTimer));
            }
        }
        let ids: Vec<CanisterId> = tasks.iter().map(|(id, _)| *id).collect();
        let mut order = rotate(ids, self.state.height);
        order.dedup();
        for id in order {
            for (_, entry) in tasks.iter().filter(|(t, _)| *t == id) {
                if self.budget.exhausted() {
                    return;
                }
                if *entry == EntryPoint::GlobalTimer {
                    // The timer fires once: it is cleared before running.
                    if let Some(p) = self.state.canister_mut(id) {
                        p.global_timer = 0;
                    }
                }
                self.start_context(id, entry.clone(), Principal::MANAGEMENT_CANISTER, Vec::new(), Cycles::ZERO, Origin::System);
            }
        }
    }

    /// Stopping canisters without open call contexts become stopped; their
    /// `stop_canister` callers are answered.
    fn settle_stopping(&mut self) {
        let ready: Vec<CanisterId> = self
            .state
            .canisters
            .iter()
            .filter(|(_, p)| matches!(p.status, Status::Stopping(_)) && !p.has_open_contexts())
            .map(|(id, _)| *id)
            .collect();
        for id in ready {
            let Some(p) = self.state.canister_mut(id) else { continue };
            let Status::Stopping(waiters) = core::mem::replace(&mut p.status, Status::Stopped) else { continue };
            for w in waiters {
                self.state.respond(&w.origin, Payload::Reply(EMPTY_REPLY.to_vec()), w.cycles);
            }
        }
    }

}

impl<E: Executor> ReplicatedState<E> {
    /// Charges canister `id` the storage and compute-allocation fees for the time since
    /// it was last charged. Charging is lazy — whenever the canister's balance is about to
    /// matter — so idle canisters cost nothing per round; a canister that cannot pay
    /// loses its balance (and so freezes) instead of going negative.
    pub(crate) fn charge_storage(&mut self, id: CanisterId) {
        let fees = self.fees();
        let now = self.time;
        let Some(p) = self.canister(id) else { return };
        let seconds = now.seconds_since(p.charged_until);
        if seconds == 0 {
            return;
        }
        let fee = fees.storage(p.memory_bytes(), seconds).saturating_add(fees.compute_allocation(p.settings.compute_allocation, seconds));
        let Some(p) = self.canister_mut(id) else { return };
        p.charged_until = crate::ids::Time(p.charged_until.0.saturating_add(seconds.saturating_mul(1_000_000_000)));
        let paid = fee.min(p.balance);
        p.balance = p.balance.saturating_sub(paid);
        self.burned = self.burned.saturating_add(paid);
    }
}

fn not_found(cid: CanisterId) -> UserError {
    UserError::new(ErrorCode::CanisterNotFound, alloc::format!("Canister {} not found", cid.get()))
}

fn no_module(cid: CanisterId) -> UserError {
    UserError::new(
        ErrorCode::CanisterWasmModuleNotFound,
        alloc::format!("Attempted to execute a message, but the canister {} contains no Wasm module.", cid.get()),
    )
}

/// `msg_method_name` (meaningful for inspect_message; harmless elsewhere).
fn method_name(entry: &EntryPoint) -> alloc::string::String {
    match entry {
        EntryPoint::Update(m) | EntryPoint::Query(m) | EntryPoint::CompositeQuery(m) => m.clone(),
        _ => alloc::string::String::new(),
    }
}

/// The execution environment of canister `p` in `state`.
pub(crate) fn environment<E: Executor>(state: &ReplicatedState<E>, p: &Partition<E>, replicated: bool) -> ExecutionEnvironment {
    let fees = state.fees();
    ExecutionEnvironment {
        canister_id: p.id,
        subnet_id: sandbox_principal(&state.config.id),
        subnet_size: state.config.size,
        time_nanos: state.time.0,
        balance: p.balance,
        freezing_reserve: p.freezing_threshold(&fees),
        status: match p.status {
            Status::Running => CanisterStatus::Running,
            Status::Stopping(_) => CanisterStatus::Stopping,
            Status::Stopped => CanisterStatus::Stopped,
        },
        canister_version: p.version,
        controllers: p.controllers.iter().map(sandbox_principal).collect(),
        global_timer: p.global_timer,
        replicated,
        data_certificate: None,
        root_key: Vec::new(),
        env_vars: alloc::collections::BTreeMap::new(),
    }
}
