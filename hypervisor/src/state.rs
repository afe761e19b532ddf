//! The replicated state of a subnet: every partition, the module store, the ingress
//! history and the subnet-level counters. Everything that decides future execution is
//! here and nowhere else, so (state, block) → state is a pure function.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::codec::{DecodeError, Reader, Writer};
use crate::cycles::{Cycles, CyclesConfig, SubnetType};
use crate::error::{ErrorCode, UserError};
use crate::execution::{Executor, ModuleInfo};
use crate::ids::{CanisterId, Height, MemoryKey, MessageId, Principal, PrincipalExt, Time};
use crate::message::{IngressRecord, Request};
use crate::partition::Partition;

/// Subnet parameters fixed at genesis.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SubnetConfig {
    pub id: Principal,
    pub subnet_type: SubnetType,
    /// Nodes in the subnet (fees scale with it).
    pub size: u32,
    /// Canister ids this subnet allocates, inclusive.
    pub canister_range: (u64, u64),
    pub max_canisters: usize,
    /// Per-round instruction budget across all canisters.
    pub round_instructions: u64,
    /// Per-message limit of updates, callbacks, heartbeats and timers.
    pub message_instructions: u64,
    pub install_instructions: u64,
    pub query_instructions: u64,
    /// Whether `provisional_*` methods are open (development subnets only).
    pub provisional_api: bool,
    /// How long replied/rejected statuses stay readable before becoming `done`.
    pub ingress_retention_ns: u64,
}

impl SubnetConfig {
    /// ic-reference §9 limits for the given kind and size.
    pub fn new(id: Principal, subnet_type: SubnetType, size: u32) -> SubnetConfig {
        SubnetConfig {
            id,
            subnet_type,
            size,
            canister_range: (0, 0xFFFFF),
            max_canisters: 120_000,
            round_instructions: 7_000_000_000,
            message_instructions: 40_000_000_000,
            install_instructions: 300_000_000_000,
            query_instructions: 5_000_000_000,
            provisional_api: true,
            ingress_retention_ns: 5 * 60 * 1_000_000_000,
        }
    }

    pub fn fees(&self) -> CyclesConfig {
        CyclesConfig::new(self.subnet_type, self.size)
    }

    fn encode(&self, w: &mut Writer) {
        w.bytes(self.id.as_slice()).u8(self.subnet_type as u8).u32(self.size);
        w.u64(self.canister_range.0).u64(self.canister_range.1).u64(self.max_canisters as u64);
        w.u64(self.round_instructions).u64(self.message_instructions).u64(self.install_instructions);
        w.u64(self.query_instructions).bool(self.provisional_api).u64(self.ingress_retention_ns);
    }

    fn decode(r: &mut Reader) -> Result<SubnetConfig, DecodeError> {
        Ok(SubnetConfig {
            id: crate::message::principal(r)?,
            subnet_type: match r.u8()? {
                0 => SubnetType::Application,
                1 => SubnetType::System,
                2 => SubnetType::DataOnly,
                _ => return Err(DecodeError),
            },
            size: r.u32()?,
            canister_range: (r.u64()?, r.u64()?),
            max_canisters: usize::try_from(r.u64()?).map_err(|_| DecodeError)?,
            round_instructions: r.u64()?,
            message_instructions: r.u64()?,
            install_instructions: r.u64()?,
            query_instructions: r.u64()?,
            provisional_api: r.bool()?,
            ingress_retention_ns: r.u64()?,
        })
    }
}

/// A compiled module in the subnet's content-addressed module store; canisters (and
/// snapshots, forks) running the same Wasm share one entry.
#[derive(Debug)]
pub struct ModuleEntry<E: Executor> {
    pub wasm: Arc<Vec<u8>>,
    pub module: E::Module,
    pub info: Arc<ModuleInfo>,
    /// Where the Wasm bytes persist (as pages).
    pub key: MemoryKey,
}

impl<E: Executor> Clone for ModuleEntry<E> {
    fn clone(&self) -> Self {
        ModuleEntry { wasm: self.wasm.clone(), module: self.module.clone(), info: self.info.clone(), key: self.key }
    }
}

/// The replicated state.
#[derive(Debug)]
pub struct ReplicatedState<E: Executor> {
    pub config: SubnetConfig,
    pub height: Height,
    pub time: Time,
    /// The block's random beacon output (seeds `raw_rand`).
    pub randomness: [u8; 32],
    /// Partitions behind `Arc` so a snapshot of the state (queries, certification) is a
    /// cheap copy and only canisters touched afterwards are duplicated.
    pub canisters: BTreeMap<CanisterId, Arc<Partition<E>>>,
    pub modules: BTreeMap<[u8; 32], ModuleEntry<E>>,
    pub ingress: BTreeMap<MessageId, IngressRecord>,
    /// Requests to `aaaaa-aa` not yet handled.
    pub management_queue: VecDeque<Request>,
    pub next_canister: u64,
    pub next_memory_key: u64,
    /// Counter of `raw_rand` calls in the current round (domain-separates their outputs).
    pub rand_counter: u64,
    /// All cycles ever minted (provisional creation/top-up) and burned (fees, deletion).
    /// Conservation: Σ balances + cycles in flight + burned = minted.
    pub minted: Cycles,
    pub burned: Cycles,
    /// Canisters changed since the state hash was last computed (not replicated data:
    /// a cache key for hashing).
    pub(crate) touched: BTreeSet<CanisterId>,
}

impl<E: Executor> Clone for ReplicatedState<E> {
    fn clone(&self) -> Self {
        ReplicatedState {
            config: self.config.clone(),
            height: self.height,
            time: self.time,
            randomness: self.randomness,
            canisters: self.canisters.clone(),
            modules: self.modules.clone(),
            ingress: self.ingress.clone(),
            management_queue: self.management_queue.clone(),
            next_canister: self.next_canister,
            next_memory_key: self.next_memory_key,
            rand_counter: self.rand_counter,
            minted: self.minted,
            burned: self.burned,
            touched: self.touched.clone(),
        }
    }
}

impl<E: Executor> ReplicatedState<E> {
    pub fn new(config: SubnetConfig) -> ReplicatedState<E> {
        let next_canister = config.canister_range.0;
        ReplicatedState {
            config,
            height: Height(0),
            time: Time(0),
            randomness: [0; 32],
            canisters: BTreeMap::new(),
            modules: BTreeMap::new(),
            ingress: BTreeMap::new(),
            management_queue: VecDeque::new(),
            next_canister,
            next_memory_key: 1,
            rand_counter: 0,
            minted: Cycles::ZERO,
            burned: Cycles::ZERO,
            touched: BTreeSet::new(),
        }
    }

    pub fn fees(&self) -> CyclesConfig {
        self.config.fees()
    }

    pub fn canister(&self, id: CanisterId) -> Option<&Partition<E>> {
        self.canisters.get(&id).map(|p| &**p)
    }

    /// Mutable access, copying the partition first if a snapshot still shares it.
    pub fn canister_mut(&mut self, id: CanisterId) -> Option<&mut Partition<E>> {
        let p = self.canisters.get_mut(&id)?;
        self.touched.insert(id);
        Some(Arc::make_mut(p))
    }

    /// The canister a principal names, or `CanisterNotFound`.
    pub fn existing(&self, p: &Principal) -> Result<CanisterId, UserError> {
        p.as_canister().filter(|c| self.canisters.contains_key(c)).ok_or_else(|| {
            UserError::new(ErrorCode::CanisterNotFound, alloc::format!("Canister {:?} not found", p))
        })
    }

    pub fn fresh_memory_key(&mut self) -> MemoryKey {
        let k = MemoryKey(self.next_memory_key);
        self.next_memory_key += 1;
        k
    }

    /// Allocates the next canister id of this subnet's range.
    pub fn fresh_canister_id(&mut self) -> Result<CanisterId, UserError> {
        if self.canisters.len() >= self.config.max_canisters {
            return Err(UserError::new(ErrorCode::SubnetOversubscribed, "the subnet holds its maximum number of canisters"));
        }
        while self.next_canister <= self.config.canister_range.1 {
            let id = CanisterId::from_u64(self.next_canister);
            self.next_canister += 1;
            if !self.canisters.contains_key(&id) {
                return Ok(id);
            }
        }
        Err(UserError::new(ErrorCode::SubnetOversubscribed, "the subnet's canister id range is exhausted"))
    }

    /// Σ canister balances + cycles travelling in messages and held by call contexts.
    /// With `burned`, must always equal `minted` (the conservation invariant).
    pub fn cycles_held(&self) -> Cycles {
        use crate::message::Input;
        let mut total = Cycles::ZERO;
        for p in self.canisters.values() {
            total = total.saturating_add(p.balance);
            for i in &p.input {
                total = total.saturating_add(match i {
                    Input::Request(r) => r.cycles,
                    Input::Response(r) => r.refund,
                });
            }
            for c in p.contexts.values() {
                total = total.saturating_add(c.available);
            }
            if let crate::partition::Status::Stopping(w) = &p.status {
                for s in w {
                    total = total.saturating_add(s.cycles);
                }
            }
        }
        for r in &self.management_queue {
            total = total.saturating_add(r.cycles);
        }
        total
    }

    /// The canonical encoding of everything except memory pages (checkpoint metadata).
    pub fn encode_meta(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.encode_global(&mut w);
        w.u32(self.canisters.len() as u32);
        for p in self.canisters.values() {
            crate::persistence::encode_partition(&mut w, p);
        }
        w.finish()
    }

    /// Everything but the partitions (subnet-level state), canonically encoded.
    pub(crate) fn encode_global(&self, w: &mut Writer) {
        self.config.encode(w);
        w.u64(self.height.0).u64(self.time.0).raw(&self.randomness);
        w.u64(self.next_canister).u64(self.next_memory_key).u64(self.rand_counter);
        w.u128(self.minted.get()).u128(self.burned.get());
        w.u32(self.modules.len() as u32);
        for (hash, m) in &self.modules {
            w.raw(hash).u64(m.key.0).u64(m.wasm.len() as u64);
        }
        w.u32(self.ingress.len() as u32);
        for (id, rec) in &self.ingress {
            w.raw(&id.0);
            rec.encode(w);
        }
        w.u32(self.management_queue.len() as u32);
        for r in &self.management_queue {
            r.encode(w);
        }
    }

    /// The parts of [`ReplicatedState::encode_meta`] before the module store.
    pub(crate) fn decode_header(r: &mut Reader) -> Result<ReplicatedState<E>, DecodeError> {
        let config = SubnetConfig::decode(r)?;
        let mut s = ReplicatedState::new(config);
        s.height = Height(r.u64()?);
        s.time = Time(r.u64()?);
        s.randomness = r.array()?;
        s.next_canister = r.u64()?;
        s.next_memory_key = r.u64()?;
        s.rand_counter = r.u64()?;
        s.minted = Cycles::new(r.u128()?);
        s.burned = Cycles::new(r.u128()?);
        Ok(s)
    }
}
