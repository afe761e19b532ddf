//! A partition: the isolation domain of one canister — its code, memory, queues, call
//! contexts, cycles, controllers, settings and status. Memory is an opaque
//! [`CanisterMemory`]: nothing here knows whether it is sandbox page maps or a hardware
//! address space.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use crate::codec::{DecodeError, Reader, Writer};
use crate::cycles::{Cycles, CyclesConfig};
use crate::error::{ErrorCode, UserError};
use crate::execution::{CanisterMemory, Executor, WasmClosure};
use crate::ids::{CanisterId, MemoryKey, Principal, Time};
use crate::message::{CallContext, CallContextId, Callback, CallbackId, Input, Origin};

/// Most controllers a canister may have (ic-reference §8).
pub const MAX_CONTROLLERS: usize = 10;
/// Inputs a canister may have queued before senders see `CanisterQueueFull`.
pub const INPUT_QUEUE_CAPACITY: usize = 500;
/// Snapshots per canister (ic-reference §9).
pub const MAX_SNAPSHOTS: usize = 10;
/// Changes `canister_info` keeps.
pub const MAX_HISTORY: usize = 20;
/// Default freezing threshold: 30 days.
pub const DEFAULT_FREEZING_THRESHOLD: u64 = 2_592_000;

/// Canister settings (`definite_canister_settings`, the fields this node enforces).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Settings {
    pub compute_allocation: u8,
    pub memory_allocation: u64,
    pub freezing_threshold: u64,
    pub reserved_cycles_limit: u128,
    /// 0 = no limit.
    pub wasm_memory_limit: u64,
    pub wasm_memory_threshold: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            compute_allocation: 0,
            memory_allocation: 0,
            freezing_threshold: DEFAULT_FREEZING_THRESHOLD,
            reserved_cycles_limit: 5_000_000_000_000,
            wasm_memory_limit: 0,
            wasm_memory_threshold: 0,
        }
    }
}

/// Who is waiting for a `stop_canister` to complete.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StopWaiter {
    pub origin: Origin,
    pub cycles: Cycles,
}

/// Lifecycle of a canister. `Stopping` holds the callers of `stop_canister`, answered
/// when the last open call context closes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Status {
    Running,
    Stopping(Vec<StopWaiter>),
    Stopped,
}

impl Status {
    /// `ic0.canister_status` numbering.
    pub fn code(&self) -> u32 {
        match self {
            Status::Running => 1,
            Status::Stopping(_) => 2,
            Status::Stopped => 3,
        }
    }
}

/// Installed code: the module's hash names it in the subnet's module store.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Code {
    pub hash: [u8; 32],
}

/// A canister's memory and the key it is persisted under.
#[derive(Clone, Debug)]
pub struct Memory<M> {
    pub key: MemoryKey,
    pub pages: M,
}

/// What `canister_info` reports about a change.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ChangeDetails {
    Creation { controllers: Vec<Principal> },
    CodeUninstall,
    CodeDeployment { mode: InstallMode, module_hash: [u8; 32] },
    ControllersChange { controllers: Vec<Principal> },
    LoadSnapshot { snapshot: u64, taken_at: Time },
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Change {
    pub time: Time,
    pub version: u64,
    pub origin: Principal,
    pub details: ChangeDetails,
}

/// `install_code` modes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum InstallMode {
    Install,
    Reinstall,
    Upgrade { skip_pre_upgrade: bool, keep_heap: bool },
}

/// A saved copy of a canister (`take_canister_snapshot`), sharing pages copy-on-write.
#[derive(Clone, Debug)]
pub struct Snapshot<M> {
    pub taken_at: Time,
    pub code: Option<Code>,
    pub memory: Memory<M>,
    pub certified_data: Vec<u8>,
}

/// One canister's partition.
#[derive(Debug)]
pub struct Partition<E: Executor> {
    pub id: CanisterId,
    pub status: Status,
    /// Sorted, without duplicates.
    pub controllers: Vec<Principal>,
    pub settings: Settings,
    pub balance: Cycles,
    pub code: Option<Code>,
    pub memory: Memory<E::Memory>,
    pub input: VecDeque<Input>,
    pub contexts: BTreeMap<CallContextId, CallContext>,
    pub callbacks: BTreeMap<CallbackId, Callback>,
    pub next_id: u64,
    pub certified_data: Vec<u8>,
    pub global_timer: u64,
    pub version: u64,
    pub history: VecDeque<Change>,
    pub total_changes: u64,
    pub snapshots: BTreeMap<u64, Snapshot<E::Memory>>,
    pub created_at: Time,
    pub last_install: Time,
    /// Storage fees are charged up to this time.
    pub charged_until: Time,
}

impl<E: Executor> Clone for Partition<E> {
    fn clone(&self) -> Self {
        Partition {
            id: self.id,
            status: self.status.clone(),
            controllers: self.controllers.clone(),
            settings: self.settings.clone(),
            balance: self.balance,
            code: self.code.clone(),
            memory: self.memory.clone(),
            input: self.input.clone(),
            contexts: self.contexts.clone(),
            callbacks: self.callbacks.clone(),
            next_id: self.next_id,
            certified_data: self.certified_data.clone(),
            global_timer: self.global_timer,
            version: self.version,
            history: self.history.clone(),
            total_changes: self.total_changes,
            snapshots: self.snapshots.clone(),
            created_at: self.created_at,
            last_install: self.last_install,
            charged_until: self.charged_until,
        }
    }
}

/// Normalises a controller list: sorted, deduplicated, at most [`MAX_CONTROLLERS`].
pub fn normalize_controllers(mut c: Vec<Principal>) -> Result<Vec<Principal>, UserError> {
    c.sort();
    c.dedup();
    if c.len() > MAX_CONTROLLERS {
        return Err(UserError::new(ErrorCode::InvalidManagementPayload, "a canister has at most 10 controllers"));
    }
    Ok(c)
}

impl<E: Executor> Partition<E> {
    pub fn new(id: CanisterId, controllers: Vec<Principal>, memory: Memory<E::Memory>, now: Time) -> Partition<E> {
        Partition {
            id,
            status: Status::Running,
            controllers,
            settings: Settings::default(),
            balance: Cycles::ZERO,
            code: None,
            memory,
            input: VecDeque::new(),
            contexts: BTreeMap::new(),
            callbacks: BTreeMap::new(),
            next_id: 0,
            certified_data: Vec::new(),
            global_timer: 0,
            version: 0,
            history: VecDeque::new(),
            total_changes: 0,
            snapshots: BTreeMap::new(),
            created_at: now,
            last_install: now,
            charged_until: now,
        }
    }

    pub fn is_controller(&self, p: &Principal) -> bool {
        self.controllers.binary_search(p).is_ok()
    }

    /// Fails with `CanisterInvalidController` unless `p` controls this canister.
    pub fn check_controller(&self, p: &Principal) -> Result<(), UserError> {
        if self.is_controller(p) {
            Ok(())
        } else {
            Err(UserError::new(
                ErrorCode::CanisterInvalidController,
                alloc::format!("Only controllers of canister {} can call this method.", self.id.get()),
            ))
        }
    }

    /// Bytes counted for storage fees and the freezing threshold.
    pub fn memory_bytes(&self) -> u64 {
        let snaps: u64 = self.snapshots.values().map(|s| s.memory.pages.size_bytes()).sum();
        self.memory.pages.size_bytes().max(self.settings.memory_allocation).saturating_add(snaps)
    }

    pub fn freezing_threshold(&self, fees: &CyclesConfig) -> Cycles {
        fees.freezing_threshold(self.memory_bytes(), self.settings.compute_allocation, self.settings.freezing_threshold)
    }

    /// Cycles above the freezing threshold: what the canister may spend.
    pub fn liquid_balance(&self, fees: &CyclesConfig) -> Cycles {
        self.balance.saturating_sub(self.freezing_threshold(fees))
    }

    /// Takes `amount` out of the balance if that keeps the canister above its freezing
    /// threshold; otherwise the canister is (or would become) frozen.
    pub fn withdraw(&mut self, amount: Cycles, fees: &CyclesConfig) -> Result<(), UserError> {
        if self.liquid_balance(fees) < amount {
            return Err(UserError::new(
                ErrorCode::CanisterOutOfCycles,
                alloc::format!(
                    "Canister {} is out of cycles: needs {} above its freezing threshold, has balance {}",
                    self.id.get(),
                    amount.get(),
                    self.balance.get()
                ),
            ));
        }
        self.balance = self.balance.saturating_sub(amount);
        Ok(())
    }

    pub fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Open call contexts: a canister with any is not yet stopped.
    pub fn has_open_contexts(&self) -> bool {
        !self.contexts.is_empty()
    }

    pub fn record_change(&mut self, time: Time, origin: Principal, details: ChangeDetails) {
        self.total_changes += 1;
        self.history.push_back(Change { time, version: self.version, origin, details });
        while self.history.len() > MAX_HISTORY {
            self.history.pop_front();
        }
    }

    /// Enqueues an input, enforcing the queue quota.
    pub fn push_input(&mut self, input: Input) -> Result<(), UserError> {
        // Responses are always accepted: the caller reserved room for them by calling.
        if matches!(input, Input::Request(_)) && self.input.len() >= INPUT_QUEUE_CAPACITY {
            return Err(UserError::new(ErrorCode::CanisterQueueFull, alloc::format!("Canister {} input queue is full", self.id.get())));
        }
        self.input.push_back(input);
        Ok(())
    }
}

// ------------------------------------------------------------------ encoding

pub(crate) fn encode_principals(w: &mut Writer, ps: &[Principal]) {
    w.u32(ps.len() as u32);
    for p in ps {
        w.bytes(p.as_slice());
    }
}

pub(crate) fn decode_principals(r: &mut Reader) -> Result<Vec<Principal>, DecodeError> {
    let n = r.count()?;
    (0..n).map(|_| crate::message::principal(r)).collect()
}

pub(crate) fn encode_closure_opt(w: &mut Writer, c: &Option<WasmClosure>) {
    match c {
        Some(c) => {
            w.u8(1);
            crate::execution::encode_closure(c, w);
        }
        None => {
            w.u8(0);
        }
    }
}

pub(crate) fn decode_closure_opt(r: &mut Reader) -> Result<Option<WasmClosure>, DecodeError> {
    Ok(match r.u8()? {
        0 => None,
        1 => Some(crate::execution::decode_closure(r)?),
        _ => return Err(DecodeError),
    })
}

impl Settings {
    pub fn encode(&self, w: &mut Writer) {
        w.u8(self.compute_allocation).u64(self.memory_allocation).u64(self.freezing_threshold);
        w.u128(self.reserved_cycles_limit).u64(self.wasm_memory_limit).u64(self.wasm_memory_threshold);
    }
    pub fn decode(r: &mut Reader) -> Result<Settings, DecodeError> {
        Ok(Settings {
            compute_allocation: r.u8()?,
            memory_allocation: r.u64()?,
            freezing_threshold: r.u64()?,
            reserved_cycles_limit: r.u128()?,
            wasm_memory_limit: r.u64()?,
            wasm_memory_threshold: r.u64()?,
        })
    }
}

impl InstallMode {
    pub fn encode(&self, w: &mut Writer) {
        match self {
            InstallMode::Install => w.u8(0),
            InstallMode::Reinstall => w.u8(1),
            InstallMode::Upgrade { skip_pre_upgrade, keep_heap } => w.u8(2).bool(*skip_pre_upgrade).bool(*keep_heap),
        };
    }
    pub fn decode(r: &mut Reader) -> Result<InstallMode, DecodeError> {
        Ok(match r.u8()? {
            0 => InstallMode::Install,
            1 => InstallMode::Reinstall,
            2 => InstallMode::Upgrade { skip_pre_upgrade: r.bool()?, keep_heap: r.bool()? },
            _ => return Err(DecodeError),
        })
    }
}

impl Change {
    pub fn encode(&self, w: &mut Writer) {
        w.u64(self.time.0).u64(self.version).bytes(self.origin.as_slice());
        match &self.details {
            ChangeDetails::Creation { controllers } => {
                w.u8(0);
                encode_principals(w, controllers);
            }
            ChangeDetails::CodeUninstall => {
                w.u8(1);
            }
            ChangeDetails::CodeDeployment { mode, module_hash } => {
                w.u8(2);
                mode.encode(w);
                w.raw(module_hash);
            }
            ChangeDetails::ControllersChange { controllers } => {
                w.u8(3);
                encode_principals(w, controllers);
            }
            ChangeDetails::LoadSnapshot { snapshot, taken_at } => {
                w.u8(4).u64(*snapshot).u64(taken_at.0);
            }
        }
    }
    pub fn decode(r: &mut Reader) -> Result<Change, DecodeError> {
        let time = Time(r.u64()?);
        let version = r.u64()?;
        let origin = crate::message::principal(r)?;
        let details = match r.u8()? {
            0 => ChangeDetails::Creation { controllers: decode_principals(r)? },
            1 => ChangeDetails::CodeUninstall,
            2 => ChangeDetails::CodeDeployment { mode: InstallMode::decode(r)?, module_hash: r.array()? },
            3 => ChangeDetails::ControllersChange { controllers: decode_principals(r)? },
            4 => ChangeDetails::LoadSnapshot { snapshot: r.u64()?, taken_at: Time(r.u64()?) },
            _ => return Err(DecodeError),
        };
        Ok(Change { time, version, origin, details })
    }
}
