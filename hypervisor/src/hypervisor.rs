//! The hypervisor as the kernel and consensus drive it: execute finalized blocks, hash
//! and certify the resulting state, serve queries from the latest certified snapshot,
//! and checkpoint to / recover from a block device.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use crate::block::Block;
use crate::block_device::BlockDevice;
use crate::checkpoint::{CheckpointError, Store};
use crate::codec::{Writer, sha256};
use crate::cycles::Cycles;
use crate::error::UserError;
use crate::execution::{CanisterMemory, Executor, MemorySpace};
use crate::ids::{CanisterId, Height, MemoryKey, PageIndex, Principal};
use crate::management_types::SettingsArg;
use crate::persistence::{self, RecoverError};
use crate::round::{Round, execute_round};
use crate::scheduler::Budget;
use crate::state::{ReplicatedState, SubnetConfig};
use crate::state_tree::{LabeledTree, SubnetKeys, state_tree};

/// Page hashes of one memory, refreshed from its dirty pages (derived data, so the
/// state hash costs time proportional to what changed, not to total memory).
#[derive(Clone, Debug, Default)]
struct MemoryDigest {
    pages: BTreeMap<(MemorySpace, PageIndex), [u8; 32]>,
}

/// The replicated state machine of one subnet on this node.
#[derive(Debug)]
pub struct Hypervisor<E: Executor> {
    exec: E,
    state: ReplicatedState<E>,
    certified: ReplicatedState<E>,
    /// The subnet's certificate of `certified`, once consensus produced it.
    certificate: Option<Vec<u8>>,
    digests: BTreeMap<MemoryKey, MemoryDigest>,
    canister_hashes: BTreeMap<CanisterId, [u8; 32]>,
    persisted: BTreeSet<MemoryKey>,
    keys: SubnetKeys,
}

impl<E: Executor> Hypervisor<E> {
    /// A subnet at genesis (height 0, no canisters).
    pub fn new(exec: E, config: SubnetConfig) -> Hypervisor<E> {
        let state = ReplicatedState::new(config);
        Hypervisor {
            exec,
            certified: state.clone(),
            certificate: None,
            state,
            digests: BTreeMap::new(),
            canister_hashes: BTreeMap::new(),
            persisted: BTreeSet::new(),
            keys: SubnetKeys::default(),
        }
    }

    /// Sets the subnet and node keys the state tree publishes.
    pub fn set_subnet_keys(&mut self, keys: SubnetKeys) {
        self.keys = keys;
    }

    pub fn executor(&self) -> &E {
        &self.exec
    }

    /// The current (latest executed) state.
    pub fn state(&self) -> &ReplicatedState<E> {
        &self.state
    }

    /// The state queries run on: the state as of the last [`Hypervisor::execute_round`].
    pub fn certified_state(&self) -> &ReplicatedState<E> {
        &self.certified
    }

    pub fn height(&self) -> Height {
        self.state.height
    }

    /// Executes the next finalized block; returns the new state's hash. Blocks must come
    /// in height order (the consensus layer guarantees it; a gap is a caller bug and
    /// is refused rather than executed out of order).
    pub fn execute_round(&mut self, block: &Block) -> Result<[u8; 32], RoundError> {
        let expected = self.state.height.next();
        if block.height != expected {
            return Err(RoundError::HeightOutOfOrder { expected, got: block.height });
        }
        execute_round(&self.exec, &mut self.state, block);
        let hash = self.state_hash();
        self.certified = self.state.clone();
        self.certificate = None;
        Ok(hash)
    }

    /// Hash of the whole replicated state, memory pages included.
    pub fn state_hash(&mut self) -> [u8; 32] {
        let touched = core::mem::take(&mut self.state.touched);
        for id in touched {
            match self.state.canister(id) {
                Some(p) => {
                    let mut w = Writer::new();
                    persistence::encode_partition(&mut w, p);
                    let meta = w.finish();
                    let mut parts: Vec<[u8; 32]> = alloc::vec![sha256(&[&meta])];
                    parts.push(digest_of(&mut self.digests, p.memory.key, &p.memory.pages));
                    for s in p.snapshots.values() {
                        parts.push(digest_of(&mut self.digests, s.memory.key, &s.memory.pages));
                    }
                    let refs: Vec<&[u8]> = parts.iter().map(|h| &h[..]).collect();
                    self.canister_hashes.insert(id, sha256(&refs));
                }
                None => {
                    self.canister_hashes.remove(&id);
                }
            }
        }
        // Digests of memories that no longer exist are dropped with them.
        let live: BTreeSet<MemoryKey> = self
            .state
            .canisters
            .values()
            .flat_map(|p| core::iter::once(p.memory.key).chain(p.snapshots.values().map(|s| s.memory.key)))
            .collect();
        self.digests.retain(|k, _| live.contains(k));
        let mut w = Writer::new();
        self.state.encode_global(&mut w);
        for (id, h) in &self.canister_hashes {
            w.u64(id.get()).raw(h);
        }
        sha256(&[&w.finish()])
    }

    /// The certified state tree of the latest executed round.
    pub fn state_tree(&self) -> LabeledTree {
        state_tree(&self.certified, &self.keys)
    }

    /// The root hash the subnet signs (`\x0Dic-state-root` · root) for this round.
    pub fn certified_root_hash(&self) -> [u8; 32] {
        self.state_tree().to_hash_tree().digest()
    }

    /// Records the subnet's certificate (CBOR) of the latest round's state tree, which
    /// queries then expose through `ic0.data_certificate_*`.
    pub fn set_certificate(&mut self, certificate: Vec<u8>) {
        self.certificate = Some(certificate);
    }

    /// Runs a query on the latest certified state.
    pub fn query(&self, sender: Principal, receiver: Principal, method: &str, arg: Vec<u8>) -> Result<Vec<u8>, UserError> {
        crate::query::query(&self.exec, &self.certified, self.certificate.as_deref(), sender, receiver, method, arg)
    }

    /// Runs `canister_inspect_message` for an ingress update on the certified state; the
    /// interface calls it before admitting the message to the ingress pool.
    pub fn inspect_ingress(&self, sender: Principal, receiver: Principal, method: &str, arg: Vec<u8>) -> Result<(), UserError> {
        crate::query::inspect_message(&self.exec, &self.certified, sender, receiver, method, arg)
    }

    /// Creates an empty canister with `cycles` minted into it, outside of a block (genesis
    /// set-up, benchmarks). Same code path as `provisional_create_canister_with_cycles`.
    pub fn create_canister(&mut self, controller: Principal, cycles: Cycles) -> Result<CanisterId, UserError> {
        let budget = Budget::new(self.state.config.round_instructions);
        let mut round = Round { exec: &self.exec, state: &mut self.state, budget };
        let cid = round.create(controller, &SettingsArg::default(), None)?;
        self.state.minted = self.state.minted.saturating_add(cycles);
        if let Some(p) = self.state.canister_mut(cid) {
            p.balance = p.balance.saturating_add(cycles);
        }
        Ok(cid)
    }

    /// Forks `src` outside of a block (same code path as `keel_fork_canister`), minting
    /// `cycles` into the fork.
    pub fn fork_canister(&mut self, src: CanisterId, cycles: Cycles) -> Result<CanisterId, UserError> {
        let controller = self.state.canister(src).and_then(|p| p.controllers.first().copied()).unwrap_or(Principal::anonymous());
        let cid = self.state.fork(src, controller, &SettingsArg::default())?;
        self.state.minted = self.state.minted.saturating_add(cycles);
        if let Some(p) = self.state.canister_mut(cid) {
            p.balance = p.balance.saturating_add(cycles);
        }
        Ok(cid)
    }

    /// Mutable access for genesis set-up and tests (not used during execution).
    pub fn state_mut(&mut self) -> &mut ReplicatedState<E> {
        &mut self.state
    }

    /// Writes an incremental checkpoint of the current state.
    pub fn checkpoint<D: BlockDevice>(&mut self, store: &mut Store<D>) -> Result<(), CheckpointError> {
        persistence::checkpoint(&mut self.state, store, &mut self.persisted)
    }

    /// Checkpoints every page to `store`, a store this state was never written to (after
    /// state sync installed it from elsewhere, say).
    pub fn checkpoint_full<D: BlockDevice>(&mut self, store: &mut Store<D>) -> Result<(), CheckpointError> {
        self.persisted.clear();
        self.checkpoint(store)
    }

    /// Writes the executed state as a self-contained checkpoint to a fresh `store`, leaving
    /// this node's own checkpointing as it was: what state sync serves to peers.
    pub fn export<D: BlockDevice>(&self, store: &mut Store<D>) -> Result<(), CheckpointError> {
        persistence::export(&self.state, store)
    }

    /// Recovers from a device: the newest valid checkpoint, then every logged block
    /// replayed. The result has exactly the state (hash) the node had when it logged the
    /// last block.
    pub fn recover<D: BlockDevice>(exec: E, dev: D, keys: SubnetKeys) -> Result<(Hypervisor<E>, Store<D>), RecoverError> {
        let (store, recovered) = Store::open(dev)?;
        let (state, persisted, log) = persistence::restore(&exec, recovered)?;
        let mut hv = Hypervisor {
            exec,
            certified: state.clone(),
            certificate: None,
            state,
            digests: BTreeMap::new(),
            canister_hashes: BTreeMap::new(),
            persisted,
            keys,
        };
        hv.state_hash();
        for (h, bytes) in log {
            let block = crate::block::Block::decode(&bytes).map_err(|_| RecoverError::Log(h))?;
            hv.execute_round(&block).map_err(|_| RecoverError::Log(h))?;
        }
        Ok((hv, store))
    }
}

/// A block that cannot be executed now.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RoundError {
    HeightOutOfOrder { expected: Height, got: Height },
}

fn digest_of<M: CanisterMemory>(digests: &mut BTreeMap<MemoryKey, MemoryDigest>, key: MemoryKey, mem: &M) -> [u8; 32] {
    let d = digests.entry(key).or_insert_with(|| {
        // First sight of this memory (new, forked, recovered): hash every page once.
        let mut d = MemoryDigest::default();
        for (s, i) in mem.nonzero_pages() {
            let page = mem.page(s, i);
            if page.iter().any(|&b| b != 0) {
                d.pages.insert((s, i), sha256(&[&page]));
            }
        }
        d
    });
    // Zero pages are left out, so the digest does not depend on whether a memory
    // stores an all-zero page or omits it (a recovered memory omits it).
    for (s, i) in mem.dirty_pages() {
        let page = mem.page(s, i);
        if page.iter().all(|&b| b == 0) {
            d.pages.remove(&(s, i));
        } else {
            d.pages.insert((s, i), sha256(&[&page]));
        }
    }
    let mut w = Writer::new();
    w.u64(mem.size_bytes());
    mem.encode_meta(&mut w);
    for ((s, i), h) in &d.pages {
        w.u8(*s as u8).u64(i.get()).raw(h);
    }
    sha256(&[&w.finish()])
}
