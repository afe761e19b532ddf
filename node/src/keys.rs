//! The node's keys: its Ed25519 node key (signs queries and consensus artifacts) and its
//! share of the subnet's threshold BLS key, whose public key is the network's root key.
//!
//! * A one-node subnet deals itself the whole key (t = n = 1) from one 32-byte seed of boot
//!   entropy, so the seed is what persists (see [`crate::persistence`]).
//! * A member of a larger subnet gets its keys from a [`Membership`] record (a genesis
//!   dealing written onto its disk before first boot), which also names its peers.

use alloc::vec::Vec;
use keel_consensus::crypto::{GenesisDealing, KeyError, NodeSecrets, SubnetPublicKeys};
use keel_consensus::ic_crypto::IcCrypto;
use keel_consensus::NodeIndex;
use keel_crypto::bls::PublicKey;
use keel_crypto::Principal;
use keel_interface::certificate::root_subnet_id;
use keel_interface::query::NodeSigner;

use crate::membership::Membership;

/// The index of the only node of a one-node subnet.
pub const ME: NodeIndex = NodeIndex::new(0);

/// Where a node's keys come from (and so what persists).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyOrigin {
    /// A one-node subnet dealt from this seed.
    Seed([u8; 32]),
    /// A member of a subnet of several nodes.
    Member(Membership),
}

/// The node key and the subnet key share.
#[derive(Clone, Debug)]
pub struct NodeKeys {
    origin: KeyOrigin,
    public: SubnetPublicKeys,
    secrets: NodeSecrets,
}

impl PartialEq for NodeKeys {
    // The origin determines everything else.
    fn eq(&self, other: &Self) -> bool {
        self.origin == other.origin
    }
}

impl NodeKeys {
    /// Deals the keys of a one-node subnet from `seed` (secret entropy from the kernel).
    pub fn generate(seed: [u8; 32]) -> Result<NodeKeys, KeyError> {
        let GenesisDealing { public, mut secrets } = GenesisDealing::deal::<IcCrypto>(seed, 1, 1)?;
        let secrets = secrets.pop().ok_or(KeyError::NotAMember)?;
        Ok(NodeKeys { origin: KeyOrigin::Seed(seed), public, secrets })
    }

    /// The keys of a subnet member; checks that its secrets match the published keys.
    pub fn member(membership: Membership) -> Result<NodeKeys, KeyError> {
        use keel_consensus::crypto::Scheme;
        let (public, secrets) = (membership.public.clone(), membership.secrets.clone());
        IcCrypto::from_keys(&public, &secrets)?;
        Ok(NodeKeys { origin: KeyOrigin::Member(membership), public, secrets })
    }

    /// Where the keys come from (what persists).
    pub fn origin(&self) -> &KeyOrigin {
        &self.origin
    }

    /// The subnet membership, unless this is a one-node subnet.
    pub fn membership(&self) -> Option<&Membership> {
        match &self.origin {
            KeyOrigin::Member(m) => Some(m),
            KeyOrigin::Seed(_) => None,
        }
    }

    /// This node's index in its subnet.
    pub fn index(&self) -> NodeIndex {
        self.secrets.index
    }

    /// The subnet's public keys.
    pub fn public(&self) -> &SubnetPublicKeys {
        &self.public
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
