//! Why a node could not start, or stopped executing.

use keel_consensus::crypto::KeyError;
use keel_consensus::node::SetupError;
use keel_hypervisor::persistence::RecoverError;
use keel_hypervisor::CheckpointError;

use crate::certification::CertificationError;
use crate::execution::{ExecutionError, InstallError};
use crate::journal::JournalError;
use crate::persistence::KeyStoreError;

/// A node failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeError {
    /// The keys do not form a valid key set.
    Keys(KeyError),
    /// The key record on the state device.
    KeyStore(KeyStoreError),
    /// Formatting the state device or writing the genesis checkpoint.
    Checkpoint(CheckpointError),
    /// The state on the device could not be recovered.
    Recover(RecoverError),
    /// Consensus could not start.
    Consensus(SetupError),
    /// Certifying a state failed.
    Certification(CertificationError),
    /// A finalized block could not be executed durably; updates stop.
    Execution(ExecutionError),
    /// The consensus journal could not be read or written; the member stops rather than
    /// risk signing twice at one height after a restart.
    Journal(JournalError),
    /// A state fetched by state sync could not be installed.
    Install(InstallError),
}

macro_rules! from_error {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for NodeError {
            fn from(e: $t) -> Self { NodeError::$v(e) }
        }
    )*};
}
from_error!(KeyError => Keys, KeyStoreError => KeyStore, CheckpointError => Checkpoint, RecoverError => Recover,
    SetupError => Consensus, CertificationError => Certification, ExecutionError => Execution,
    JournalError => Journal, InstallError => Install);
