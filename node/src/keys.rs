//! The node's keys: its Ed25519 node key (signs queries and consensus artifacts) and, for a
//! one-node subnet, the whole threshold BLS subnet key (a t = n = 1 genesis dealing), whose
//! public key is the network's root key. Everything derives from one 32-byte seed of boot
//! entropy, so the seed is what persists (see [`crate::persistence`]).

use alloc::vec::Vec;
use keel_consensus::crypto::{GenesisDealing, KeyError, NodeSecrets, SubnetPublicKeys};
use keel_consensus::ic_crypto::IcCrypto;
use keel_consensus::NodeIndex;
use keel_crypto::bls::PublicKey;
use keel_crypto::Principal;
use keel_interface::certificate::root_subnet_id;
use keel_interface::query::NodeSigner;


/// This node's index in its (one-node) subnet.
pub const ME: NodeIndex = NodeIndex::new(0);

/// The node key and the subnet key of a one-node subnet.
#[derive(Clone, Debug)]
pub struct NodeKeys {
    seed: [u8; 32],
    public: SubnetPublicKeys,
    secrets: NodeSecrets,
}

impl PartialEq for NodeKeys {
    // The seed determines everything else.
    fn eq(&self, other: &Self) -> bool {
        self.seed == other.seed
    }
}

impl NodeKeys {
    /// Deals the keys of a one-node subnet from `seed` (secret entropy from the kernel).
    pub fn generate(seed: [u8; 32]) -> Result<NodeKeys, KeyError> {
        let GenesisDealing { public, mut secrets } = GenesisDealing::deal::<IcCrypto>(seed, 1, 1)?;
        let secrets = secrets.pop().ok_or(KeyError::NotAMember)?;
        Ok(NodeKeys { seed, public, secrets })
    }

    /// The seed the keys were dealt from (what persists).
    pub(crate) fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// The consensus crypto handle of this node.
    pub fn consensus_crypto(&self) -> Result<IcCrypto, KeyError> {
        use keel_consensus::crypto::Scheme;
        IcCrypto::from_keys(&self.public, &self.secrets)
    }

    /// The subnet public key as raw bytes (what consensus' genesis beacon is derived from).
    pub fn subnet_public_key(&self) -> &[u8] {
        &self.public.subnet_public_key
    }

    /// DER of the subnet (root) public key: `/api/v2/status` `root_key`, 133 bytes.
    pub fn root_key_der(&self) -> Result<Vec<u8>, KeyError> {
        let key = PublicKey::from_bytes(&self.public.subnet_public_key).map_err(|_| KeyError::Malformed)?;
        Ok(key.to_der().to_vec())
    }

    /// The subnet id clients derive from the root key.
    pub fn subnet_id(&self) -> Result<Principal, KeyError> {
        Ok(root_subnet_id(&self.root_key_der()?))
    }

    /// The signer of query responses (the same Ed25519 key consensus signs with).
    pub fn node_signer(&self) -> NodeSigner {
        NodeSigner::from_seed(self.secrets.node_secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_consensus::crypto::NodeSigner as _;

    #[test]
    fn keys_are_a_function_of_the_seed() {
        let a = NodeKeys::generate([1; 32]).unwrap();
        let b = NodeKeys::generate([1; 32]).unwrap();
        let c = NodeKeys::generate([2; 32]).unwrap();
        assert_eq!(a.root_key_der().unwrap(), b.root_key_der().unwrap());
        assert_ne!(a.root_key_der().unwrap(), c.root_key_der().unwrap());
        assert_eq!(a.root_key_der().unwrap().len(), 133);
        assert_eq!(a.node_signer().node_id, b.node_signer().node_id);
        // The query signer and the consensus signer are one key.
        let crypto = a.consensus_crypto().unwrap();
        let sig = crypto.node_sign(b"m");
        keel_crypto::ed25519::verify(&a.node_signer().key.public_key(), b"m", &sig.0).unwrap();
    }
}
