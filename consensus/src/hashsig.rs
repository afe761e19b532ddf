//! A fast keyed-hash stand-in for Ed25519 and threshold BLS, for the simulator.
//!
//! It is *honest* in the sense the simulator needs: a signature verifies only for the signer
//! and message it was made for, so forged, corrupted or misattributed shares are rejected
//! exactly as with real cryptography, and the combined signature is unique per message as with
//! BLS. It is not *secure*: the verification keys are the signing keys, so anyone holding the
//! public material could forge. Simulated Byzantine nodes never read other nodes' keys.
//! Real nodes use the BLS/Ed25519 scheme; the simulator runs a few seeds with it too.

use alloc::sync::Arc;
use alloc::vec::Vec;

use sha2::{Digest as _, Sha512};

use crate::crypto::{
    CryptoError, GenesisDealing, KeyError, NodeSecrets, NodeSignature, NodeSigner, Scheme,
    SigShare, SubnetPublicKeys, ThresholdScheme, ThresholdSignature,
};
use crate::hash::hash;
use crate::types::{NodeIndex, SubnetSize};

/// One node's handle on the keyed-hash scheme.
#[derive(Clone, Debug)]
pub struct HashSig {
    me: NodeIndex,
    secrets: NodeSecrets,
    public: Arc<SubnetPublicKeys>,
}

fn keyed(key: &[u8], tag: u8, msg: &[u8]) -> [u8; 64] {
    let mut h = Sha512::new();
    h.update(key);
    h.update([tag]);
    h.update(msg);
    h.finalize().into()
}

fn truncate48(d: [u8; 64]) -> [u8; 48] {
    let mut out = [0u8; 48];
    out.copy_from_slice(&d[..48]);
    out
}

impl HashSig {
    fn key_of(list: &[Vec<u8>], i: NodeIndex) -> Option<&[u8]> {
        list.get(i.as_usize()).map(Vec::as_slice)
    }
}

impl NodeSigner for HashSig {
    fn node_sign(&self, msg: &[u8]) -> NodeSignature {
        NodeSignature(keyed(&self.secrets.node_secret, 0, msg))
    }

    fn node_verify(&self, signer: NodeIndex, msg: &[u8], sig: &NodeSignature) -> bool {
        Self::key_of(&self.public.node_public_keys, signer)
            .is_some_and(|k| keyed(k, 0, msg) == sig.0)
    }
}

impl ThresholdScheme for HashSig {
    fn share_sign(&self, msg: &[u8]) -> SigShare {
        SigShare(truncate48(keyed(&self.secrets.threshold_share, 1, msg)))
    }

    fn share_verify(&self, signer: NodeIndex, msg: &[u8], share: &SigShare) -> bool {
        Self::key_of(&self.public.share_public_keys, signer)
            .is_some_and(|k| truncate48(keyed(k, 1, msg)) == share.0)
    }

    fn combine(
        &self,
        msg: &[u8],
        shares: &[(NodeIndex, SigShare)],
    ) -> Result<ThresholdSignature, CryptoError> {
        // Like Lagrange interpolation, combining needs `threshold` distinct valid shares;
        // unlike it, the result is computed from the group key, which only this toy allows.
        let mut valid: Vec<NodeIndex> = shares
            .iter()
            .filter(|(i, s)| self.share_verify(*i, msg, s))
            .map(|(i, _)| *i)
            .collect();
        valid.sort_unstable();
        valid.dedup();
        if valid.len() < self.public.threshold {
            return Err(CryptoError::NotEnoughShares);
        }
        Ok(ThresholdSignature(truncate48(keyed(
            &self.public.subnet_public_key,
            2,
            msg,
        ))))
    }

    fn threshold_verify(&self, msg: &[u8], sig: &ThresholdSignature) -> bool {
        truncate48(keyed(&self.public.subnet_public_key, 2, msg)) == sig.0
    }
}

impl Scheme for HashSig {
    fn deal(
        seed: [u8; 32],
        size: SubnetSize,
        threshold: usize,
    ) -> Result<GenesisDealing, KeyError> {
        let mut secrets = Vec::new();
        for i in size.nodes() {
            let idx = i.get().to_be_bytes();
            secrets.push(NodeSecrets {
                index: i,
                node_secret: hash("keel-sim-node-key", &[&seed, &idx]),
                threshold_share: hash("keel-sim-share-key", &[&seed, &idx]),
            });
        }
        let public = SubnetPublicKeys {
            size,
            threshold,
            node_public_keys: secrets.iter().map(|s| s.node_secret.to_vec()).collect(),
            share_public_keys: secrets.iter().map(|s| s.threshold_share.to_vec()).collect(),
            subnet_public_key: hash("keel-sim-group-key", &[&seed]).to_vec(),
        };
        Ok(GenesisDealing { public, secrets })
    }

    fn from_keys(public: &SubnetPublicKeys, secrets: &NodeSecrets) -> Result<Self, KeyError> {
        if !public.size.contains(secrets.index) {
            return Err(KeyError::NotAMember);
        }
        Ok(HashSig {
            me: secrets.index,
            secrets: secrets.clone(),
            public: Arc::new(public.clone()),
        })
    }
}

impl HashSig {
    /// The member this handle signs for.
    pub fn index(&self) -> NodeIndex {
        self.me
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dealing() -> GenesisDealing {
        GenesisDealing::deal::<HashSig>([7; 32], 4, 3).unwrap()
    }

    #[test]
    fn signatures_bind_signer_and_message() {
        let d = dealing();
        let a: HashSig = d.node(NodeIndex::new(0)).unwrap();
        let b: HashSig = d.node(NodeIndex::new(1)).unwrap();
        let sig = a.node_sign(b"m");
        assert!(b.node_verify(NodeIndex::new(0), b"m", &sig));
        assert!(!b.node_verify(NodeIndex::new(1), b"m", &sig));
        assert!(!b.node_verify(NodeIndex::new(0), b"n", &sig));
        assert!(!b.node_verify(NodeIndex::new(9), b"m", &sig));
    }

    #[test]
    fn combining_needs_threshold_valid_shares_and_is_unique() {
        let d = dealing();
        let nodes: Vec<HashSig> = (0..4).map(|i| d.node(NodeIndex::new(i)).unwrap()).collect();
        let shares: Vec<_> = nodes
            .iter()
            .map(|n| (n.index(), n.share_sign(b"m")))
            .collect();
        let s1 = nodes[0].combine(b"m", &shares[..3]).unwrap();
        let s2 = nodes[1].combine(b"m", &shares[1..]).unwrap();
        assert_eq!(s1, s2);
        assert!(nodes[2].threshold_verify(b"m", &s1));
        assert!(!nodes[2].threshold_verify(b"x", &s1));
        // A duplicated share or a share on another message does not count.
        let dup = [shares[0], shares[0], shares[1]];
        assert_eq!(
            nodes[0].combine(b"m", &dup),
            Err(CryptoError::NotEnoughShares)
        );
        let wrong = [
            shares[0],
            shares[1],
            (NodeIndex::new(2), nodes[2].share_sign(b"x")),
        ];
        assert_eq!(
            nodes[0].combine(b"m", &wrong),
            Err(CryptoError::NotEnoughShares)
        );
        assert!(GenesisDealing::deal::<HashSig>([0; 32], 4, 5).is_err());
    }
}
