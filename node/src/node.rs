//! The replica: start-up (fresh or recovered; alone or as a subnet member), and the loop that
//! carries consensus output through the journal, execution and certification to the parked
//! requests and the peers.

use alloc::boxed::Box;
use alloc::vec::Vec;
use keel_crypto::Principal;
use keel_hypervisor::state_tree::SubnetKeys;
use keel_hypervisor::{BlockDevice, CheckpointError, MemBlockDevice, Store, SubnetConfig};
use keel_interface::read_state::CertifiedState;
use keel_interface::service::Config as InterfaceConfig;
use keel_interface::status::HealthStatus;

use crate::certification::Certifier;
use crate::config::NodeConfig;
use crate::consensus::{base_cup, protocol_config, Base, BlockMaker, Progress, Setup, Start};
use crate::crypto::SubnetCrypto;
use crate::error::NodeError;
use crate::execution::{to_block, Execution, Replica};
use crate::ingress_pool::IngressPool;
use crate::journal::Journal;
use crate::keys::NodeKeys;
use crate::persistence::{load_keys, store_keys, KeyStoreError, Region};
use crate::sync::StateSync;

/// Heights of a node's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainProgress {
    pub executed: u64,
    pub finalized: u64,
    pub certified: u64,
    pub cup: u64,
    /// States installed by state sync since start.
    pub state_syncs: u64,
}

/// A subnet replica. `D` is the state device (unused without storage).
#[derive(Debug)]
pub struct Node<D: BlockDevice = MemBlockDevice> {
    pub(crate) config: NodeConfig,
    pub(crate) interface: InterfaceConfig,
    pub(crate) keys: NodeKeys,
    pub(crate) maker: BlockMaker,
    pub(crate) execution: Execution<Region<D>>,
    pub(crate) certifier: Certifier,
    pub(crate) pool: IngressPool,
    /// The consensus journal of a member with storage.
    pub(crate) journal: Option<Journal>,
    /// Checkpoint transfer between members.
    pub(crate) sync: StateSync,
    /// Set when a block could not be executed durably: from then on the node serves reads
    /// of what it certified but executes nothing more.
    pub(crate) halted: Option<NodeError>,
}

impl<D: BlockDevice> Node<D> {
    /// Starts a node at `now_unix_nanos`. With `storage`, keys and state come from the
    /// device if it has them (`keys` is then ignored: a restarted node keeps its identity
    /// and root key), and are written to it otherwise. Without storage the node starts
    /// fresh and keeps nothing.
    pub fn new(config: NodeConfig, keys: NodeKeys, storage: Option<D>, now_unix_nanos: u64) -> Result<Node<D>, NodeError> {
        let (keys, mut execution) = match storage {
            None => {
                let execution = Execution::genesis(subnet_config(&config, &keys)?, subnet_keys(&keys)?, None, config.checkpoint_interval)?;
                (keys, execution)
            }
            Some(dev) => open_device(&config, keys, Region::new(dev)?)?,
        };
        let public = keys.public();
        let crypto = SubnetCrypto::new(keys.consensus_crypto()?, public.threshold);
        let tree = execution.tree();
        let base = Base { height: execution.height(), time: execution.replica().state().time.0, root: tree.digest() };
        let (certifier, start, journal) = if keys.membership().is_some() {
            // A member's own share is no certificate: the subnet certifies its base (again).
            let certifier = Certifier::awaiting(base.height, tree);
            let genesis = base_cup(base, &public.subnet_public_key);
            match execution.device_mut() {
                Some(dev) => {
                    let journal = Journal::open(dev.whole(), genesis)?;
                    (certifier, Start::Journal(Box::new(journal.persisted().clone())), Some(journal))
                }
                None => (certifier, Start::Journal(Box::new(keel_consensus::Persisted::genesis(genesis))), None),
            }
        } else {
            (Certifier::base(base.height, tree, &crypto)?, Start::Base(base), None)
        };
        let cfg = protocol_config(&config, public.size);
        let history = execution.ingress_history();
        let setup = Setup { cfg, me: keys.index(), crypto, idle: config.idle_block_interval };
        let (maker, progress) = BlockMaker::start(setup, &public.subnet_public_key, start, history, now_unix_nanos)?;
        let signer = keys.node_signer();
        let interface = InterfaceConfig {
            limits: config.http_limits,
            impl_version: config.impl_version.clone(),
            root_key_der: keys.root_key_der()?,
            subnet_id: keys.subnet_id()?,
            signer,
        };
        let mut node = Node {
            config,
            interface,
            keys,
            maker,
            execution,
            certifier,
            pool: IngressPool::default(),
            journal,
            sync: StateSync::default(),
            halted: None,
        };
        node.apply(progress, now_unix_nanos);
        if node.keys.membership().is_some() {
            // Share the certification of the state this member starts from, and fetch the
            // state of its catch-up package if a crash during state sync left it behind.
            let mut progress = node.maker.executed(now_unix_nanos, base.height, base.root);
            let (height, root) = node.maker.cup_state();
            progress.extend(node.start_sync(height, root, now_unix_nanos));
            node.apply(progress, now_unix_nanos);
        }
        Ok(node)
    }

    /// DER of the root key (the subnet's BLS key).
    pub fn root_key_der(&self) -> &[u8] {
        &self.interface.root_key_der
    }

    /// The node's keys.
    pub fn keys(&self) -> &NodeKeys {
        &self.keys
    }

    /// The latest certified state.
    pub fn certified(&self) -> Option<&CertifiedState> {
        self.certifier.latest()
    }

    /// The replicated state machine (read-only).
    pub fn replica(&self) -> &Replica {
        self.execution.replica()
    }

    /// Hash of the whole replicated state, memories included (determinism checks).
    pub fn state_hash(&mut self) -> [u8; 32] {
        self.execution.state_hash()
    }

    /// Where the node is: executed height and consensus' finalized, certified and
    /// catch-up package heights (monitoring).
    pub fn progress(&self) -> ChainProgress {
        let (finalized, certified, cup) = self.maker.heights();
        ChainProgress { executed: self.execution.height(), finalized: finalized.get(), certified: certified.get(), cup: cup.get(), state_syncs: self.sync.installed }
    }

    /// Consensus counters: messages over quota, rejected, over pool limits; misbehaving peers.
    pub fn consensus_stats(&self) -> (keel_consensus::node::Stats, u64, Option<(keel_consensus::NodeIndex, keel_consensus::node::Misbehavior)>) {
        let (count, last) = self.maker.misbehaved();
        (self.maker.stats(), count, last)
    }

    /// Consensus' pool and round, readable.
    pub fn consensus_dump(&self) -> alloc::string::String {
        self.maker.dump()
    }

    /// Why the node stopped executing, if it did.
    pub fn halted(&self) -> Option<&NodeError> {
        self.halted.as_ref()
    }

    /// What `/api/v2/status` reports.
    pub(crate) fn health(&self) -> HealthStatus {
        match (self.certifier.latest(), &self.halted) {
            (None, _) => HealthStatus::WaitingForCertifiedState,
            (Some(_), Some(_)) => HealthStatus::CertifiedStateBehind,
            (Some(_), None) => HealthStatus::Healthy,
        }
    }

    /// Fires consensus' timer if due and carries out what follows.
    pub(crate) fn advance(&mut self, now: u64) {
        if self.halted.is_none() {
            let mut progress = self.maker.on_time(now);
            progress.extend(self.retry_sync(now));
            self.apply(progress, now);
        }
    }

    /// Journals, executes finalized blocks and applies certifications until consensus has
    /// nothing more to say (executing a block yields its certification share; with n = 1
    /// the certification itself, at once).
    pub(crate) fn apply(&mut self, mut progress: Progress, now: u64) {
        while !progress.is_empty() {
            if self.halted.is_some() {
                return;
            }
            // Durable before anything that follows is sent: the outbox is drained only
            // after this returns.
            if let Err(e) = self.journal_records(&progress) {
                self.halted = Some(e);
                return;
            }
            let mut next = Progress::default();
            for fb in &progress.finalized {
                next.extend(self.execute(fb, now));
            }
            if !progress.finalized.is_empty() {
                self.pool.prune(now);
            }
            for c in &progress.certified {
                self.certify(c);
            }
            for event in progress.sync {
                next.extend(self.on_sync(event, now));
            }
            progress = next;
        }
    }

    fn journal_records(&mut self, progress: &Progress) -> Result<(), NodeError> {
        let (Some(journal), Some(dev)) = (self.journal.as_mut(), self.execution.device_mut()) else {
            return Ok(());
        };
        journal.append(dev.whole(), &progress.persist).map_err(NodeError::from)
    }

    /// Executes one finalized block (a replayed one at or below the executed height is
    /// already part of the state).
    fn execute(&mut self, fb: &keel_consensus::FinalizedBlock, now: u64) -> Progress {
        if self.halted.is_some() || fb.height.get() <= self.execution.height() || self.syncing(fb) {
            return Progress::default();
        }
        match self.execution.execute(&to_block(fb)) {
            Ok(executed) => {
                let root = executed.tree.digest();
                self.offer_checkpoint(executed.height, root);
                self.certifier.executed(executed.height, executed.tree);
                self.maker.executed(now, executed.height, root)
            }
            Err(e) => {
                self.halted = Some(e.into());
                Progress::default()
            }
        }
    }

    fn certify(&mut self, c: &keel_consensus::certification::Certification) {
        match self.certifier.certified(c) {
            Ok(Some(state)) => {
                self.pool.resolve(state);
                // Queries read their canister's certified data through
                // `ic0.data_certificate_copy`: a certificate of `/canister` and `/time`.
                let canisters = [alloc::vec![b"canister".to_vec()]];
                self.execution.set_data_certificate(state.certificate(&canisters).to_cbor());
            }
            Ok(None) => {}
            Err(e) => self.halted = Some(e.into()),
        }
    }
}

/// The hypervisor's parameters of this node's subnet.
fn subnet_config(config: &NodeConfig, keys: &NodeKeys) -> Result<SubnetConfig, NodeError> {
    let mut c = SubnetConfig::new(keys.subnet_id()?, config.subnet_type, keys.public().size.n());
    c.provisional_api = config.provisional_api;
    Ok(c)
}

/// The keys the state tree publishes under `/subnet/<id>`: the root key and every member's
/// node key (clients check query signatures against them).
pub(crate) fn subnet_keys(keys: &NodeKeys) -> Result<SubnetKeys, NodeError> {
    let mut nodes = Vec::new();
    for raw in &keys.public().node_public_keys {
        let raw: &[u8; 32] = raw.as_slice().try_into().map_err(|_| KeyStoreError::BadKeys)?;
        let der = keel_crypto::der::ed25519_der(raw);
        nodes.push((Principal::self_authenticating(&der).as_slice().to_vec(), der.to_vec()));
    }
    Ok(SubnetKeys { public_key: keys.root_key_der()?, nodes })
}

/// Keys and state from the device: both recovered, or both fresh (the offered keys are
/// written before anything is served, the store formatted with the genesis checkpoint).
fn open_device<D: BlockDevice>(
    config: &NodeConfig,
    offered: NodeKeys,
    mut region: Region<D>,
) -> Result<(NodeKeys, Execution<Region<D>>), NodeError> {
    let stored = load_keys(region.whole())?;
    let has_state = match Store::open(&mut region) {
        Ok(_) => true,
        // Never written (or the first boot crashed before its genesis checkpoint).
        Err(CheckpointError::NoValidCheckpoint) => false,
        Err(e) => return Err(e.into()),
    };
    let interval = config.checkpoint_interval;
    match (stored, has_state) {
        (Some(keys), true) => {
            let execution = Execution::recover(region, subnet_keys(&keys)?, interval)?;
            Ok((keys, execution))
        }
        (None, true) => Err(KeyStoreError::MissingKeys.into()),
        (stored, false) => {
            let keys = match stored {
                Some(keys) => keys,
                None => {
                    store_keys(region.whole(), &offered)?;
                    offered
                }
            };
            let store = Store::format(region)?;
            let execution = Execution::genesis(subnet_config(config, &keys)?, subnet_keys(&keys)?, Some(store), interval)?;
            Ok((keys, execution))
        }
    }
}
