//! Execution: finalized blocks into the hypervisor, durably. Each block is appended to the
//! store's log (flushed) *before* it is executed, so every state a reply is derived from
//! can be rebuilt after a crash; every `checkpoint_interval` heights a checkpoint bounds
//! the replay.

use alloc::vec::Vec;
use keel_consensus::block::IngressMessage;
use keel_consensus::{FinalizedBlock, MessageId, Time as ConsensusTime};
use keel_crypto::hash_tree::MerkleTree;
use keel_hypervisor::codec::{DecodeError, Reader, Writer};
use keel_hypervisor::message::Ingress;
use keel_hypervisor::persistence::RecoverError;
use keel_hypervisor::state_tree::SubnetKeys;
use keel_hypervisor::{
    Block, BlockDevice, CheckpointError, Height, Hypervisor, MemBlockDevice, RoundError, Store, SubnetConfig, Time,
};
use keel_interface::service::IngressCall;
use keel_sandbox::Sandbox;

/// The hypervisor as this node runs it.
pub type Replica = Hypervisor<Sandbox>;

/// Why a block could not be executed durably. Either is fatal for update processing: the
/// node stops executing rather than reply from a state it could not persist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionError {
    /// The block log or a checkpoint could not be written.
    Persist(CheckpointError),
    /// The block does not follow the executed height.
    Round(RoundError),
}

/// Why a state from a peer could not be installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallError {
    /// The snapshot is not a readable checkpoint.
    Recover(RecoverError),
    /// The own store could not be rewritten.
    Persist(CheckpointError),
}

/// Blocks of the in-memory device an export is written to (sparse: only written blocks
/// take memory); 64 GiB.
const EXPORT_BLOCKS: u64 = 1 << 24;

/// The executed state after one block.
#[derive(Debug)]
pub struct Executed {
    /// Its height.
    pub height: u64,
    /// The certified state tree, as the IC hash tree.
    pub tree: MerkleTree,
}

/// The hypervisor and, with a state device, its store.
#[derive(Debug)]
pub struct Execution<D> {
    replica: Replica,
    store: Option<Store<D>>,
    checkpoint_interval: u64,
}

/// The hypervisor's encoding of an update call: the consensus payload is opaque bytes, and
/// this is what execution decodes from them.
pub fn ingress_message(call: &IngressCall) -> IngressMessage {
    let c = &call.content;
    let ingress = Ingress {
        id: keel_hypervisor::MessageId(call.request_id.0),
        sender: c.sender,
        receiver: c.canister_id,
        method: c.method_name.clone(),
        arg: c.arg.clone(),
        expiry: Time(c.ingress_expiry.0 .0),
    };
    let mut w = Writer::new();
    ingress.encode(&mut w);
    IngressMessage { id: MessageId(call.request_id.0), expiry: ConsensusTime::from_nanos(ingress.expiry.0), content: w.finish() }
}

fn decode_ingress(m: &IngressMessage) -> Result<Ingress, DecodeError> {
    let mut r = Reader::new(&m.content);
    let ingress = Ingress::decode(&mut r)?;
    r.end()?;
    // The id consensus deduplicated by must be the one execution records.
    if ingress.id.0 != m.id.0 {
        return Err(DecodeError);
    }
    Ok(ingress)
}

/// The hypervisor's block for a finalized consensus block. Only this node's own encoding
/// reaches a block, so undecodable content cannot occur; were it to, dropping it is the
/// same deterministic decision on every replay.
pub fn to_block(fb: &FinalizedBlock) -> Block {
    Block {
        height: Height(fb.height.get()),
        time: Time(fb.block.time.as_nanos()),
        randomness: fb.block.randomness.0,
        ingress: fb.block.payload.ingress.iter().filter_map(|m| decode_ingress(m).ok()).collect(),
    }
}

impl<D: BlockDevice> Execution<D> {
    /// A new subnet: the genesis state, checkpointed on `store` (formatted by the caller)
    /// so that the log can follow it.
    pub fn genesis(
        config: SubnetConfig,
        keys: SubnetKeys,
        mut store: Option<Store<D>>,
        checkpoint_interval: u64,
    ) -> Result<Execution<D>, CheckpointError> {
        let mut replica = Hypervisor::new(Sandbox::default(), config);
        replica.set_subnet_keys(keys);
        if let Some(store) = store.as_mut() {
            replica.checkpoint(store)?;
        }
        Ok(Execution { replica, store, checkpoint_interval })
    }

    /// The state on `dev`: its newest checkpoint with the logged blocks replayed.
    pub fn recover(dev: D, keys: SubnetKeys, checkpoint_interval: u64) -> Result<Execution<D>, RecoverError> {
        let (replica, store) = Hypervisor::recover(Sandbox::default(), dev, keys)?;
        Ok(Execution { replica, store: Some(store), checkpoint_interval })
    }

    /// The state device, if there is one.
    pub fn device_mut(&mut self) -> Option<&mut D> {
        self.store.as_mut().map(Store::device_mut)
    }

    /// The executed height.
    pub fn height(&self) -> u64 {
        self.replica.height().0
    }

    /// The replicated state machine.
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// The certificate queries hand to canisters as their data certificate.
    pub fn set_data_certificate(&mut self, cbor: Vec<u8>) {
        self.replica.set_certificate(cbor);
    }

    /// Hash of the whole replicated state (memories included).
    pub fn state_hash(&mut self) -> [u8; 32] {
        self.replica.state_hash()
    }

    /// The certified state tree of the executed height.
    /// Hashed once here; every certificate is then cut from the memoized digests.
    pub fn tree(&self) -> MerkleTree {
        MerkleTree::new(&self.replica.state_tree().to_hash_tree())
    }

    /// Logs, executes and (every `checkpoint_interval` heights) checkpoints `block`.
    pub fn execute(&mut self, block: &Block) -> Result<Executed, ExecutionError> {
        if let Some(store) = self.store.as_mut() {
            store.append_log(block.height, &block.encode()).map_err(ExecutionError::Persist)?;
        }
        self.replica.execute_round(block).map_err(ExecutionError::Round)?;
        let due = self.checkpoint_interval > 0 && block.height.0.is_multiple_of(self.checkpoint_interval);
        if let (true, Some(store)) = (due, self.store.as_mut()) {
            self.replica.checkpoint(store).map_err(ExecutionError::Persist)?;
        }
        Ok(Executed { height: block.height.0, tree: self.tree() })
    }

    /// Replaces the state with the checkpoint on `snapshot` if its certified root is
    /// `root` (state sync); the own store is formatted and gets a full checkpoint of it.
    /// `Ok(None)`: the snapshot is not that state.
    pub fn install(&mut self, snapshot: MemBlockDevice, keys: SubnetKeys, root: [u8; 32]) -> Result<Option<Executed>, InstallError> {
        let (mut replica, _) = Hypervisor::recover(Sandbox::default(), snapshot, keys).map_err(InstallError::Recover)?;
        let tree = MerkleTree::new(&replica.state_tree().to_hash_tree());
        if tree.digest() != root {
            return Ok(None);
        }
        if let Some(store) = self.store.take() {
            let mut store = Store::format(store.into_device()).map_err(InstallError::Persist)?;
            replica.checkpoint_full(&mut store).map_err(InstallError::Persist)?;
            self.store = Some(store);
        }
        self.replica = replica;
        Ok(Some(Executed { height: self.height(), tree }))
    }

    /// A self-contained checkpoint of the executed state on an in-memory device (what
    /// state sync serves).
    pub fn export(&self) -> Result<MemBlockDevice, CheckpointError> {
        let mut store = Store::format(MemBlockDevice::new(EXPORT_BLOCKS))?;
        self.replica.export(&mut store)?;
        Ok(store.into_device())
    }

    /// Executed ingress still inside its expiry window: (id, expiry).
    pub fn ingress_history(&self) -> Vec<([u8; 32], u64)> {
        self.replica.state().ingress.iter().map(|(id, r)| (id.0, r.expiry.0)).collect()
    }
}
