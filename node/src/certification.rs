//! Certified state: pairs each executed state tree with the subnet's signature on its root
//! once consensus certifies it. Signing happens once per height (in consensus); requests
//! only cut witnesses out of the cached tree.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use keel_consensus::certification::Certification;
use keel_consensus::crypto::ThresholdScheme;
use keel_consensus::{Height, StateHash};
use keel_crypto::hash_tree::{LookupResult, MerkleTree};
use keel_interface::read_state::CertifiedState;
use keel_interface::request_id::RequestId;


use crate::keys::ME;

/// Why a certification could not be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificationError {
    /// Certified root differs from the root this node executed (cannot happen with n = 1
    /// unless execution is nondeterministic).
    RootMismatch { height: u64 },
    /// Combining this node's own share failed.
    Signing,
}

/// Executed trees awaiting their signature, and the latest certified state.
#[derive(Debug, Default)]
pub struct Certifier {
    pending: BTreeMap<u64, MerkleTree>,
    latest: Option<CertifiedState>,
}

/// The terminal status of a request in a certified tree: `replied`, `rejected` or `done`
/// end the wait of a v3/v4 call; anything else (absent, `received`, `processing`) does not.
pub fn is_final(tree: &MerkleTree, request_id: &RequestId) -> bool {
    let path: [&[u8]; 3] = [b"request_status", &request_id.0, b"status"];
    let witness = tree.witness(&[path]);
    matches!(witness.lookup_path(&path), LookupResult::Found(s) if s == b"replied" || s == b"rejected" || s == b"done")
}

impl Certifier {
    /// Certifies a state this node starts from (genesis or recovered) directly with its
    /// key share: with n = 1 the share is the whole key, and the protocol only certifies
    /// states it executes itself.
    pub fn base(height: u64, tree: MerkleTree, crypto: &impl ThresholdScheme) -> Result<Certifier, CertificationError> {
        let root = StateHash(tree.digest());
        let msg = Certification::signing_bytes(Height::new(height), &root);
        let signature = crypto.combine(&msg, &[(ME, crypto.share_sign(&msg))]).map_err(|_| CertificationError::Signing)?;
        let latest = CertifiedState { tree, signature: signature.0.to_vec(), delegation: None, height };
        Ok(Certifier { pending: BTreeMap::new(), latest: Some(latest) })
    }

    /// A subnet member's start: its base state awaits the subnet's certification like any
    /// executed state (one member's share certifies nothing).
    pub fn awaiting(height: u64, tree: MerkleTree) -> Certifier {
        let mut certifier = Certifier::default();
        certifier.executed(height, tree);
        certifier
    }

    /// Remembers the tree of an executed height until its certification arrives.
    pub fn executed(&mut self, height: u64, tree: MerkleTree) {
        self.pending.insert(height, tree);
    }

    /// Applies a certification; returns the newly certified state.
    pub fn certified(&mut self, c: &Certification) -> Result<Option<&CertifiedState>, CertificationError> {
        let height = c.height.get();
        let Some(tree) = self.pending.remove(&height) else { return Ok(None) };
        // Certifications come in height order; anything older is superseded.
        self.pending.retain(|h, _| *h > height);
        if tree.digest() != c.state_hash.0 {
            return Err(CertificationError::RootMismatch { height });
        }
        let signature: Vec<u8> = c.signature.0.to_vec();
        self.latest = Some(CertifiedState { tree, signature, delegation: None, height });
        Ok(self.latest.as_ref())
    }

    /// The latest certified state.
    pub fn latest(&self) -> Option<&CertifiedState> {
        self.latest.as_ref()
    }
}
