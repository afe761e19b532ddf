//! The one-node replica: start-up (fresh or recovered), and the loop that carries
//! consensus output through execution and certification to the parked requests.

use alloc::vec;
use keel_hypervisor::state_tree::SubnetKeys;
use keel_hypervisor::{BlockDevice, CheckpointError, MemBlockDevice, Store, SubnetConfig};
use keel_interface::read_state::CertifiedState;
use keel_interface::service::Config as InterfaceConfig;
use keel_interface::status::HealthStatus;

use crate::certification::Certifier;
use crate::config::NodeConfig;
use crate::consensus::{Base, BlockMaker, Progress};
use crate::crypto::OneNodeCrypto;
use crate::error::NodeError;
use crate::execution::{to_block, Execution, Replica};
use crate::ingress_pool::IngressPool;
use crate::keys::NodeKeys;
use crate::persistence::{load_keys, store_keys, KeyStoreError, Region};

/// A one-node subnet replica. `D` is the state device (unused without storage).
#[derive(Debug)]
pub struct Node<D: BlockDevice = MemBlockDevice> {
    pub(crate) config: NodeConfig,
    pub(crate) interface: InterfaceConfig,
    pub(crate) keys: NodeKeys,
    pub(crate) maker: BlockMaker,
    pub(crate) execution: Execution<Region<D>>,
    pub(crate) certifier: Certifier,
    pub(crate) pool: IngressPool,
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
        let (keys, execution) = match storage {
            None => {
                let execution = Execution::genesis(subnet_config(&config, &keys)?, subnet_keys(&keys)?, None, config.checkpoint_interval)?;
                (keys, execution)
            }
            Some(dev) => open_device(&config, keys, Region::new(dev)?)?,
        };
        let crypto = OneNodeCrypto::new(keys.consensus_crypto()?);
        let tree = execution.tree();
        let state = execution.replica().certified_state();
        let base = Base { height: state.height.0, time: state.time.0, root: tree.digest() };
        let certifier = Certifier::base(base.height, tree, &crypto)?;
        let (maker, progress) =
            BlockMaker::start(&config, crypto, keys.subnet_public_key(), base, execution.ingress_history(), now_unix_nanos)?;
        let signer = keys.node_signer();
        let interface = InterfaceConfig {
            limits: config.http_limits,
            impl_version: config.impl_version.clone(),
            root_key_der: keys.root_key_der()?,
            subnet_id: keys.subnet_id()?,
            signer,
        };
        let mut node =
            Node { config, interface, keys, maker, execution, certifier, pool: IngressPool::default(), halted: None };
        node.apply(progress, now_unix_nanos);
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
            let progress = self.maker.on_time(now);
            self.apply(progress, now);
        }
    }

    /// Executes finalized blocks and applies certifications until consensus has nothing
    /// more to say (executing a block yields its certification, with n = 1 at once).
    pub(crate) fn apply(&mut self, mut progress: Progress, now: u64) {
        loop {
            let mut next = Progress::default();
            for fb in &progress.finalized {
                if self.halted.is_some() {
                    return;
                }
                match self.execution.execute(&to_block(fb)) {
                    Ok(executed) => {
                        let root = executed.tree.digest();
                        self.certifier.executed(executed.height, executed.tree);
                        let p = self.maker.executed(now, executed.height, root);
                        next.finalized.extend(p.finalized);
                        next.certified.extend(p.certified);
                    }
                    Err(e) => self.halted = Some(e.into()),
                }
            }
            if !progress.finalized.is_empty() {
                self.pool.prune(now);
            }
            for c in &progress.certified {
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
            if next.finalized.is_empty() && next.certified.is_empty() {
                return;
            }
            progress = next;
        }
    }
}

/// The hypervisor's parameters of this node's subnet.
fn subnet_config(config: &NodeConfig, keys: &NodeKeys) -> Result<SubnetConfig, NodeError> {
    let mut c = SubnetConfig::new(keys.subnet_id()?, config.subnet_type, 1);
    c.provisional_api = config.provisional_api;
    Ok(c)
}

/// The keys the state tree publishes under `/subnet/<id>`.
fn subnet_keys(keys: &NodeKeys) -> Result<SubnetKeys, NodeError> {
    let signer = keys.node_signer();
    let node = (signer.node_id.as_slice().to_vec(), signer.key.public_key_der().to_vec());
    Ok(SubnetKeys { public_key: keys.root_key_der()?, nodes: vec![node] })
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
