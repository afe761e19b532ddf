//! The management canister `aaaaa-aa`: canister lifecycle, code installation, settings,
//! cycles, randomness and snapshots, with controllers enforced on every call that needs
//! them. Requests are handled between scheduler passes; `stop_canister` answers later,
//! once the canister has no open call contexts.
//!
//! # Keel extension: `keel_fork_canister`
//! `keel_fork_canister : (record { canister_id : principal; settings : opt canister_settings })
//!   -> (record { canister_id : principal })`
//!
//! Creates a new canister running the same module with a copy of `canister_id`'s heap,
//! stable memory and certified data. Pages are shared copy-on-write, so forking costs
//! time proportional to the page table, not to the memory. Callable by the canister
//! itself or one of its controllers, with a normal inter-canister call (so stock `ic-cdk`
//! canisters can use it); the cycles attached pay the creation fee and the rest becomes
//! the fork's balance, exactly as `create_canister`. Queues, call contexts, snapshots and
//! history are not copied; the fork's controllers default to the source's.

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::candid::{self, CandidError, Type, Value};
use crate::codec::sha256;
use crate::cycles::{Cycles, CyclesExt};
use crate::error::{ErrorCode, UserError};
use crate::execution::{
    CanisterMemory, EntryPoint, ExecutionEnvironment, ExecutionError, ExecutionOutcome, Executor, MessageInput, execution_error,
    sandbox_principal,
};
use crate::ids::{CanisterId, Principal, PrincipalExt};
use crate::management_types::{
    SettingsArg, StatusView, canister_id_record, canister_info_result, canister_status_result, decode_mode,
    parse_snapshot_id, snapshot_type, snapshot_value,
};
use crate::message::{Origin, Payload, Request};
use crate::partition::{
    ChangeDetails, Code, InstallMode, MAX_SNAPSHOTS, Memory, Partition, Snapshot, Status, StopWaiter, normalize_controllers,
};
use crate::round::{EMPTY_REPLY, Round};
use crate::state::{ModuleEntry, ReplicatedState};

/// Cycles a provisional creation grants when no amount is given (as the IC's dev
/// instances do).
pub const DEFAULT_PROVISIONAL_CYCLES: u128 = 100_000_000_000_000;

/// What handling a management request produced.
enum Outcome {
    /// Reply (or reject) now; `refund` of the attached cycles goes back.
    Done(Result<Vec<u8>, UserError>, Cycles),
    /// Answered later (stop_canister).
    Deferred,
}

fn bad_payload(e: CandidError) -> UserError {
    UserError::new(ErrorCode::InvalidManagementPayload, alloc::format!("Error decoding candid: {}", e.0))
}

fn reply(t: (Type, Value)) -> Result<Vec<u8>, UserError> {
    candid::encode(&[t]).map_err(|e| UserError::new(ErrorCode::CanisterContractViolation, alloc::format!("encoding reply: {}", e.0)))
}

fn unit() -> Result<Vec<u8>, UserError> {
    Ok(EMPTY_REPLY.to_vec())
}

impl<E: Executor> Round<'_, E> {
    /// Handles every queued management request.
    pub(crate) fn drain_management(&mut self) -> bool {
        let mut any = false;
        while let Some(req) = self.state.management_queue.pop_front() {
            any = true;
            if let Origin::Ingress(id) = &req.origin {
                self.state.set_ingress_status(id, crate::message::IngressStatus::Processing);
            }
            let origin = req.origin.clone();
            match self.handle(req) {
                Outcome::Done(Ok(bytes), refund) => self.state.respond(&origin, Payload::Reply(bytes), refund),
                Outcome::Done(Err(e), refund) => self.state.reject(&origin, &e, refund),
                Outcome::Deferred => {}
            }
        }
        any
    }

    fn handle(&mut self, req: Request) -> Outcome {
        let cycles = req.cycles;
        let arg = match candid::decode_record(&req.arg) {
            Ok(a) => a,
            Err(e) => return Outcome::Done(Err(bad_payload(e)), cycles),
        };
        let target = || -> Result<Principal, UserError> { arg.req("canister_id").and_then(|v| v.as_principal()).map_err(bad_payload) };
        let sender = req.sender;
        let done = |r: Result<Vec<u8>, UserError>| Outcome::Done(r, cycles);
        match req.method.as_str() {
            "provisional_create_canister_with_cycles" => done(self.provisional_create(sender, &arg)),
            "provisional_top_up_canister" => done(self.provisional_top_up(&arg)),
            "create_canister" => match self.create_from_cycles(sender, &arg, cycles) {
                Ok(r) => Outcome::Done(Ok(r), Cycles::ZERO),
                Err(e) => done(Err(e)),
            },
            "keel_fork_canister" => match target().and_then(|t| self.fork_from_call(sender, t, &arg, cycles)) {
                Ok(r) => Outcome::Done(Ok(r), Cycles::ZERO),
                Err(e) => done(Err(e)),
            },
            "deposit_cycles" => match target().and_then(|t| self.state.existing(&t)) {
                Ok(cid) => {
                    if let Some(p) = self.state.canister_mut(cid) {
                        p.balance = p.balance.saturating_add(cycles);
                    }
                    Outcome::Done(unit(), Cycles::ZERO)
                }
                Err(e) => done(Err(e)),
            },
            "raw_rand" => {
                self.state.rand_counter += 1;
                let r = sha256(&[b"keel-raw-rand", &self.state.randomness, &self.state.rand_counter.to_le_bytes()]);
                done(reply((Type::blob(), Value::Blob(r.to_vec()))))
            }
            "stop_canister" => match target().and_then(|t| self.controlled(sender, &t)) {
                Ok(cid) => self.stop(cid, req.origin, cycles),
                Err(e) => done(Err(e)),
            },
            "canister_info" => done(target().and_then(|t| self.info(&t, &arg))),
            method => {
                let r = target().and_then(|t| self.controlled(sender, &t)).and_then(|cid| self.controlled_method(method, sender, cid, &arg));
                done(r)
            }
        }
    }

    /// Methods that need the caller to control `cid`.
    fn controlled_method(&mut self, method: &str, sender: Principal, cid: CanisterId, arg: &Value) -> Result<Vec<u8>, UserError> {
        match method {
            "install_code" => self.install_code(sender, cid, arg),
            "uninstall_code" => {
                self.uninstall(sender, cid);
                unit()
            }
            "update_settings" => self.update_settings(sender, cid, arg),
            "canister_status" => reply(status_of(self.state, cid)?),
            "start_canister" => {
                self.start(cid);
                unit()
            }
            "delete_canister" => self.delete(cid),
            "take_canister_snapshot" => self.take_snapshot(cid, arg),
            "load_canister_snapshot" => self.load_snapshot(sender, cid, arg),
            "list_canister_snapshots" => {
                let p = self.state.canister(cid).ok_or_else(|| not_found(cid))?;
                let v = p.snapshots.iter().map(|(n, s)| snapshot_value(cid, *n, s.taken_at.0, s.memory.pages.size_bytes())).collect();
                reply((Type::vec(snapshot_type()), Value::Vec(v)))
            }
            "delete_canister_snapshot" => {
                let n = snapshot_arg(cid, arg)?;
                let p = self.state.canister_mut(cid).ok_or_else(|| not_found(cid))?;
                p.snapshots.remove(&n).ok_or_else(|| snapshot_not_found(cid))?;
                unit()
            }
            _ => Err(UserError::new(
                ErrorCode::UnknownManagementMessage,
                alloc::format!("Management canister has no method '{method}'"),
            )),
        }
    }

    /// The canister `p` names, if `sender` controls it.
    fn controlled(&self, sender: Principal, p: &Principal) -> Result<CanisterId, UserError> {
        let cid = self.state.existing(p)?;
        let part = self.state.canister(cid).ok_or_else(|| not_found(cid))?;
        part.check_controller(&sender)?;
        Ok(cid)
    }

    fn provisional_create(&mut self, sender: Principal, arg: &Value) -> Result<Vec<u8>, UserError> {
        if !self.state.config.provisional_api {
            return Err(UserError::new(ErrorCode::CanisterContractViolation, "provisional methods are disabled on this subnet"));
        }
        let amount = match arg.opt_field("amount") {
            Some(a) => a.as_nat().map_err(bad_payload)?,
            None => DEFAULT_PROVISIONAL_CYCLES,
        };
        let settings = SettingsArg::decode(arg.opt_field("settings")).map_err(bad_payload)?;
        let specified = match arg.opt_field("specified_id") {
            Some(p) => Some(self.state.existing_or_free(&p.as_principal().map_err(bad_payload)?)?),
            None => None,
        };
        let cid = self.create(sender, &settings, specified)?;
        self.state.minted = self.state.minted.saturating_add(Cycles::new(amount));
        if let Some(p) = self.state.canister_mut(cid) {
            p.balance = p.balance.saturating_add(Cycles::new(amount));
        }
        reply(canister_id_record(cid))
    }

    fn provisional_top_up(&mut self, arg: &Value) -> Result<Vec<u8>, UserError> {
        if !self.state.config.provisional_api {
            return Err(UserError::new(ErrorCode::CanisterContractViolation, "provisional methods are disabled on this subnet"));
        }
        let target = arg.req("canister_id").and_then(|v| v.as_principal()).map_err(bad_payload)?;
        let amount = Cycles::new(arg.req("amount").and_then(|v| v.as_nat()).map_err(bad_payload)?);
        let cid = self.state.existing(&target)?;
        self.state.minted = self.state.minted.saturating_add(amount);
        if let Some(p) = self.state.canister_mut(cid) {
            p.balance = p.balance.saturating_add(amount);
        }
        unit()
    }

    /// `create_canister` from a canister: the attached cycles pay the creation fee and
    /// the rest funds the new canister.
    fn create_from_cycles(&mut self, sender: Principal, arg: &Value, cycles: Cycles) -> Result<Vec<u8>, UserError> {
        let fee = self.state.fees().canister_creation();
        let rest = cycles.checked_sub(fee).ok_or_else(|| insufficient_for_creation(cycles, fee))?;
        let settings = SettingsArg::decode(arg.opt_field("settings")).map_err(bad_payload)?;
        let cid = self.create(sender, &settings, None)?;
        self.state.burned = self.state.burned.saturating_add(fee);
        if let Some(p) = self.state.canister_mut(cid) {
            p.balance = p.balance.saturating_add(rest);
        }
        reply(canister_id_record(cid))
    }

    /// Creates an empty canister controlled by `settings.controllers` or else `sender`.
    pub(crate) fn create(&mut self, sender: Principal, settings: &SettingsArg, id: Option<CanisterId>) -> Result<CanisterId, UserError> {
        let controllers = normalize_controllers(settings.controllers.clone().unwrap_or_else(|| alloc::vec![sender]))?;
        let cid = match id {
            Some(id) => id,
            None => self.state.fresh_canister_id()?,
        };
        let key = self.state.fresh_memory_key();
        let mut p = Partition::new(cid, controllers.clone(), Memory { key, pages: self.exec.empty_memory() }, self.state.time);
        settings.apply_to(&mut p.settings);
        p.record_change(self.state.time, sender, ChangeDetails::Creation { controllers });
        self.state.canisters.insert(cid, Arc::new(p));
        self.state.touched.insert(cid);
        Ok(cid)
    }

    fn fork_from_call(&mut self, sender: Principal, source: Principal, arg: &Value, cycles: Cycles) -> Result<Vec<u8>, UserError> {
        let src = self.state.existing(&source)?;
        let p = self.state.canister(src).ok_or_else(|| not_found(src))?;
        if sender != source {
            p.check_controller(&sender)?;
        }
        let fee = self.state.fees().canister_creation();
        let rest = cycles.checked_sub(fee).ok_or_else(|| insufficient_for_creation(cycles, fee))?;
        let settings = SettingsArg::decode(arg.opt_field("settings")).map_err(bad_payload)?;
        let cid = self.state.fork(src, sender, &settings)?;
        self.state.burned = self.state.burned.saturating_add(fee);
        if let Some(p) = self.state.canister_mut(cid) {
            p.balance = p.balance.saturating_add(rest);
        }
        reply(canister_id_record(cid))
    }

    fn info(&self, target: &Principal, arg: &Value) -> Result<Vec<u8>, UserError> {
        let cid = self.state.existing(target)?;
        let p = self.state.canister(cid).ok_or_else(|| not_found(cid))?;
        let n = match arg.opt_field("num_requested_changes") {
            Some(v) => v.as_u64().map_err(bad_payload)?,
            None => 0,
        };
        let skip = p.history.len().saturating_sub(usize::try_from(n).unwrap_or(usize::MAX));
        reply(canister_info_result(p.total_changes, p.history.iter().skip(skip), cid, p.code.as_ref().map(|c| c.hash), &p.controllers))
    }

    fn update_settings(&mut self, sender: Principal, cid: CanisterId, arg: &Value) -> Result<Vec<u8>, UserError> {
        let s = SettingsArg::decode(Some(arg.req("settings").map_err(bad_payload)?)).map_err(bad_payload)?;
        let controllers = s.controllers.clone().map(normalize_controllers).transpose()?;
        let now = self.state.time;
        let p = self.state.canister_mut(cid).ok_or_else(|| not_found(cid))?;
        s.apply_to(&mut p.settings);
        if let Some(c) = controllers {
            p.controllers = c.clone();
            p.record_change(now, sender, ChangeDetails::ControllersChange { controllers: c });
        }
        p.version += 1;
        unit()
    }

    fn stop(&mut self, cid: CanisterId, origin: Origin, cycles: Cycles) -> Outcome {
        let Some(p) = self.state.canister_mut(cid) else { return Outcome::Done(Err(not_found(cid)), cycles) };
        let waiter = StopWaiter { origin, cycles };
        match &mut p.status {
            Status::Stopped => return Outcome::Done(unit(), cycles),
            Status::Stopping(w) => w.push(waiter),
            Status::Running => p.status = Status::Stopping(alloc::vec![waiter]),
        }
        Outcome::Deferred
    }

    fn start(&mut self, cid: CanisterId) {
        let Some(p) = self.state.canister_mut(cid) else { return };
        let old = core::mem::replace(&mut p.status, Status::Running);
        if let Status::Stopping(waiters) = old {
            let e = UserError::new(ErrorCode::CanisterStopping, "Canister was started before it stopped");
            for w in waiters {
                self.state.reject(&w.origin, &e, w.cycles);
            }
        }
    }

    fn delete(&mut self, cid: CanisterId) -> Result<Vec<u8>, UserError> {
        let p = self.state.canister(cid).ok_or_else(|| not_found(cid))?;
        if p.status != Status::Stopped {
            return Err(UserError::new(ErrorCode::CanisterNotStopped, alloc::format!("Canister {} must be stopped before it is deleted.", cid.get())));
        }
        // Stopped means no open call context, so no callback can still arrive.
        if let Some(p) = self.state.canisters.remove(&cid) {
            self.state.burned = self.state.burned.saturating_add(p.balance);
            for input in &p.input {
                match input {
                    crate::message::Input::Request(r) => {
                        let e = UserError::new(ErrorCode::CanisterNotFound, "Canister was deleted");
                        self.state.reject(&r.origin, &e, r.cycles);
                    }
                    crate::message::Input::Response(r) => self.state.burned = self.state.burned.saturating_add(r.refund),
                }
            }
        }
        self.state.touched.insert(cid);
        unit()
    }

    /// Drops code and memory, rejecting every open call context.
    fn uninstall(&mut self, sender: Principal, cid: CanisterId) {
        let key = self.state.fresh_memory_key();
        let now = self.state.time;
        let empty = self.exec.empty_memory();
        let Some(p) = self.state.canister_mut(cid) else { return };
        p.code = None;
        p.memory = Memory { key, pages: empty };
        p.certified_data.clear();
        p.global_timer = 0;
        p.version += 1;
        p.record_change(now, sender, ChangeDetails::CodeUninstall);
        let contexts = core::mem::take(&mut p.contexts);
        p.callbacks.clear();
        let e = UserError::new(ErrorCode::CanisterWasmModuleNotFound, "Canister has been uninstalled.");
        for c in contexts.into_values() {
            if c.responded {
                self.state.burned = self.state.burned.saturating_add(c.available);
            } else {
                self.state.reject(&c.origin, &e, c.available);
            }
        }
    }

    fn install_code(&mut self, sender: Principal, cid: CanisterId, arg: &Value) -> Result<Vec<u8>, UserError> {
        let mode = decode_mode(arg.req("mode").map_err(bad_payload)?).map_err(bad_payload)?;
        let wasm = arg.req("wasm_module").and_then(|v| v.as_blob()).map_err(bad_payload)?.to_vec();
        let init_arg = arg.req("arg").and_then(|v| v.as_blob()).map_err(bad_payload)?.to_vec();
        let hash = self.state.add_module(self.exec, wasm)?;
        let p = self.state.canister(cid).ok_or_else(|| not_found(cid))?;
        match (mode, &p.code) {
            (InstallMode::Install, Some(_)) => {
                return Err(UserError::new(ErrorCode::CanisterNonEmpty, alloc::format!("Canister {} is already installed.", cid.get())));
            }
            (InstallMode::Upgrade { .. }, None) => {
                return Err(UserError::new(ErrorCode::CanisterWasmModuleNotFound, alloc::format!("Canister {} is empty; cannot upgrade.", cid.get())));
            }
            _ => {}
        }
        let old_code = p.code.clone();
        let old_memory = p.memory.clone();
        // Work on a copy-on-write clone: on any trap the canister stays exactly as it was.
        let mut memory = match mode {
            InstallMode::Install | InstallMode::Reinstall => Memory { key: self.state.fresh_memory_key(), pages: self.exec.empty_memory() },
            InstallMode::Upgrade { .. } => old_memory.clone(),
        };
        let limit = self.state.config.install_instructions;
        if let (InstallMode::Upgrade { skip_pre_upgrade: false, .. }, Some(code)) = (mode, &old_code) {
            let module = self.state.modules.get(&code.hash).map(|m| m.module.clone()).ok_or_else(|| not_found(cid))?;
            let out = self.run_hook(cid, &module, &mut memory, &EntryPoint::PreUpgrade, sender, Vec::new(), limit)?;
            hook_result(cid, &out)?;
        }
        if let InstallMode::Upgrade { keep_heap: false, .. } = mode {
            // A fresh key: the old heap's pages must not survive on disk.
            memory.pages.clear_heap();
            memory.key = self.state.fresh_memory_key();
        }
        let module = self.state.modules.get(&hash).map(|m| m.module.clone()).ok_or_else(|| not_found(cid))?;
        // With `wasm_memory_persistence = keep` the heap (and globals) carry over as they
        // are: the new module is not re-instantiated over them (no data segments, no
        // `(start)`), which is what enhanced orthogonal persistence relies on.
        if !matches!(mode, InstallMode::Upgrade { keep_heap: true, .. }) {
            let env = self.hook_environment(cid)?;
            let out = self.exec.instantiate(&module, &mut memory.pages, &env);
            hook_result(cid, &out)?;
        }
        let hook = if matches!(mode, InstallMode::Upgrade { .. }) { EntryPoint::PostUpgrade } else { EntryPoint::Init };
        let out = self.run_hook(cid, &module, &mut memory, &hook, sender, init_arg, limit)?;
        hook_result(cid, &out)?;
        let now = self.state.time;
        let p = self.state.canister_mut(cid).ok_or_else(|| not_found(cid))?;
        p.code = Some(Code { hash });
        p.memory = memory;
        if !matches!(mode, InstallMode::Upgrade { .. }) {
            p.certified_data.clear();
            p.global_timer = 0;
        }
        if let Some(d) = out.certified_data {
            p.certified_data = d;
        }
        if let Some(t) = out.global_timer {
            p.global_timer = t;
        }
        p.version += 1;
        p.last_install = now;
        p.record_change(now, sender, ChangeDetails::CodeDeployment { mode, module_hash: hash });
        unit()
    }

    fn hook_environment(&self, cid: CanisterId) -> Result<ExecutionEnvironment, UserError> {
        let p = self.state.canister(cid).ok_or_else(|| not_found(cid))?;
        Ok(self.environment(p, true))
    }

    /// Runs an install hook on a working memory, charging the canister for it. A hook the
    /// module does not export succeeds trivially.
    #[allow(clippy::too_many_arguments)]
    fn run_hook(
        &mut self,
        cid: CanisterId,
        module: &E::Module,
        memory: &mut Memory<E::Memory>,
        entry: &EntryPoint,
        caller: Principal,
        arg: Vec<u8>,
        limit: u64,
    ) -> Result<ExecutionOutcome, UserError> {
        let fees = self.state.fees();
        let prepay = fees.update_message_base().saturating_add(fees.instructions(limit));
        self.state.charge_storage(cid);
        let p = self.state.canister_mut(cid).ok_or_else(|| not_found(cid))?;
        p.withdraw(prepay, &fees)?;
        let env = self.hook_environment(cid)?;
        let input = MessageInput { caller: sandbox_principal(&caller), arg, ..MessageInput::default() };
        let out = self.exec.execute(module, &mut memory.pages, entry, &input, &env);
        let used = out.instructions_used.get().min(limit);
        let charge = fees.update_message_base().saturating_add(fees.instructions(used));
        let p = self.state.canister_mut(cid).ok_or_else(|| not_found(cid))?;
        p.balance = p.balance.saturating_add(prepay.saturating_sub(charge));
        self.state.burned = self.state.burned.saturating_add(charge);
        self.budget.charge(used);
        Ok(out)
    }

    fn take_snapshot(&mut self, cid: CanisterId, arg: &Value) -> Result<Vec<u8>, UserError> {
        let replace = match arg.opt_field("replace_snapshot") {
            Some(v) => Some(parse_snapshot_id(cid, v.as_blob().map_err(bad_payload)?).ok_or_else(|| snapshot_not_found(cid))?),
            None => None,
        };
        let key = self.state.fresh_memory_key();
        let now = self.state.time;
        let p = self.state.canister_mut(cid).ok_or_else(|| not_found(cid))?;
        if let Some(r) = replace {
            p.snapshots.remove(&r).ok_or_else(|| snapshot_not_found(cid))?;
        }
        if p.snapshots.len() >= MAX_SNAPSHOTS {
            return Err(UserError::new(ErrorCode::CanisterContractViolation, "Canister has reached the maximum number of snapshots"));
        }
        let n = p.fresh_id();
        let memory = Memory { key, pages: p.memory.pages.clone() };
        let size = memory.pages.size_bytes();
        p.snapshots.insert(n, Snapshot { taken_at: now, code: p.code.clone(), memory, certified_data: p.certified_data.clone() });
        reply((snapshot_type(), snapshot_value(cid, n, now.0, size)))
    }

    fn load_snapshot(&mut self, sender: Principal, cid: CanisterId, arg: &Value) -> Result<Vec<u8>, UserError> {
        let n = snapshot_arg(cid, arg)?;
        let key = self.state.fresh_memory_key();
        let now = self.state.time;
        let p = self.state.canister_mut(cid).ok_or_else(|| not_found(cid))?;
        let s = p.snapshots.get(&n).ok_or_else(|| snapshot_not_found(cid))?.clone();
        p.code = s.code;
        p.memory = Memory { key, pages: s.memory.pages };
        p.certified_data = s.certified_data;
        p.version += 1;
        p.record_change(now, sender, ChangeDetails::LoadSnapshot { snapshot: n, taken_at: s.taken_at });
        unit()
    }
}

/// Install hooks a module does not export are no-ops, not failures.
fn hook_result(cid: CanisterId, out: &ExecutionOutcome) -> Result<(), UserError> {
    match &out.result {
        Ok(()) | Err(ExecutionError::MethodNotFound(_)) => Ok(()),
        Err(t) => Err(execution_error(t, cid)),
    }
}

fn snapshot_arg(cid: CanisterId, arg: &Value) -> Result<u64, UserError> {
    let id = arg.req("snapshot_id").and_then(|v| v.as_blob()).map_err(bad_payload)?;
    parse_snapshot_id(cid, id).ok_or_else(|| snapshot_not_found(cid))
}

fn not_found(cid: CanisterId) -> UserError {
    UserError::new(ErrorCode::CanisterNotFound, alloc::format!("Canister {} not found", cid.get()))
}

fn snapshot_not_found(cid: CanisterId) -> UserError {
    UserError::new(ErrorCode::CanisterSnapshotNotFound, alloc::format!("No such snapshot of canister {}", cid.get()))
}

fn insufficient_for_creation(have: Cycles, fee: Cycles) -> UserError {
    UserError::new(
        ErrorCode::CanisterOutOfCycles,
        alloc::format!("Creating a canister requires {} cycles, but {} were attached", fee.get(), have.get()),
    )
}

/// The `canister_status` result of `cid` (also served as a query).
pub(crate) fn status_of<E: Executor>(state: &ReplicatedState<E>, cid: CanisterId) -> Result<(Type, Value), UserError> {
    let p = state.canister(cid).ok_or_else(|| not_found(cid))?;
    let fees = state.fees();
    let wasm_size = p.code.as_ref().and_then(|c| state.modules.get(&c.hash)).map_or(0, |m| m.wasm.len() as u64);
    let snaps: u64 = p.snapshots.values().map(|s| s.memory.pages.size_bytes()).sum();
    Ok(canister_status_result(&StatusView {
        status: (p.status.code() - 1) as u8,
        version: p.version,
        settings: &p.settings,
        controllers: &p.controllers,
        module_hash: p.code.as_ref().map(|c| c.hash),
        heap_and_stable: p.memory.pages.size_bytes(),
        wasm_binary_size: wasm_size,
        snapshots_size: snaps,
        cycles: p.balance,
        idle_cycles_burned_per_day: fees.idle_cycles_burned_per_day(p.memory_bytes(), p.settings.compute_allocation),
    }))
}

impl<E: Executor> ReplicatedState<E> {
    /// Adds a module to the store (compiling it once per distinct Wasm); returns its hash.
    pub fn add_module(&mut self, exec: &E, wasm: Vec<u8>) -> Result<[u8; 32], UserError> {
        let hash = sha256(&[&wasm]);
        if !self.modules.contains_key(&hash) {
            let (module, info) = exec.compile(&wasm)?;
            let key = self.fresh_memory_key();
            self.modules.insert(hash, ModuleEntry { wasm: Arc::new(wasm), module, info: Arc::new(info), key });
        }
        Ok(hash)
    }

    /// `specified_id` must be a canister id not yet in use.
    fn existing_or_free(&self, p: &Principal) -> Result<CanisterId, UserError> {
        let cid = p.as_canister().ok_or_else(|| UserError::new(ErrorCode::InvalidManagementPayload, "specified_id is not a canister id"))?;
        if self.canisters.contains_key(&cid) {
            return Err(UserError::new(ErrorCode::CanisterAlreadyInstalled, alloc::format!("Canister {} already exists", cid.get())));
        }
        Ok(cid)
    }

    /// Forks `src` into a new canister (see the module docs); returns its id. The new
    /// canister's balance is zero: the caller funds it.
    pub fn fork(&mut self, src: CanisterId, sender: Principal, settings: &SettingsArg) -> Result<CanisterId, UserError> {
        let cid = self.fresh_canister_id()?;
        let key = self.fresh_memory_key();
        let now = self.time;
        let s = self.canister(src).ok_or_else(|| not_found(src))?;
        let controllers = normalize_controllers(settings.controllers.clone().unwrap_or_else(|| s.controllers.clone()))?;
        let mut p = Partition::new(cid, controllers.clone(), Memory { key, pages: s.memory.pages.clone() }, now);
        p.settings = s.settings.clone();
        settings.apply_to(&mut p.settings);
        p.code = s.code.clone();
        p.certified_data = s.certified_data.clone();
        p.global_timer = s.global_timer;
        p.record_change(now, sender, ChangeDetails::Creation { controllers });
        self.canisters.insert(cid, Arc::new(p));
        self.touched.insert(cid);
        Ok(cid)
    }
}
