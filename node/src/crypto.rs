//! Consensus cryptography over `keel-crypto`: node signatures are Ed25519 and the subnet's
//! threshold signatures are BLS12-381 min-sig. Because the consensus certification signs
//! `\x0Dic-state-root · root`, the combined signature it outputs *is* the IC certificate
//! signature clients verify against the root key (for a one-node subnet, t = n = 1).

use alloc::vec::Vec;
use keel_consensus::crypto::{
    CryptoError, GenesisDealing, KeyError, NodeSecrets, NodeSignature, NodeSigner, Scheme, SigShare,
    SubnetPublicKeys, ThresholdScheme, ThresholdSignature,
};
use keel_consensus::{NodeIndex, SubnetSize};
use keel_crypto::bls::threshold;
use keel_crypto::bls::{self, PublicKey, Signature};
use keel_crypto::ed25519::{self, SigningKey};
use keel_crypto::hash::Sha256;

/// One member's handle on the subnet's real keys.
#[derive(Clone, Debug)]
pub struct KeelCrypto {
    node_key: SigningKey,
    share: bls::SecretKey,
    /// Ed25519 public keys (32 bytes raw), by node index.
    node_public_keys: Vec<Vec<u8>>,
    /// Threshold public key shares, by node index.
    share_public_keys: Vec<PublicKey>,
    subnet_public_key: PublicKey,
    threshold: usize,
}

/// A secret derived from the dealing seed for one purpose (and node), so that one seed of
/// boot entropy yields independent keys.
fn derive(domain: &[u8], seed: &[u8; 32], index: u32) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(&[domain.len() as u8]).update(domain).update(seed).update(&index.to_be_bytes());
    h.finish()
}

fn share_index(i: NodeIndex) -> threshold::NodeIndex {
    threshold::NodeIndex(i.get())
}

impl KeelCrypto {
    /// The subnet's public key (the root key of a single-subnet network).
    pub fn subnet_public_key(&self) -> &PublicKey {
        &self.subnet_public_key
    }
}

impl NodeSigner for KeelCrypto {
    fn node_sign(&self, msg: &[u8]) -> NodeSignature {
        NodeSignature(self.node_key.sign(msg))
    }

    fn node_verify(&self, signer: NodeIndex, msg: &[u8], sig: &NodeSignature) -> bool {
        self.node_public_keys.get(signer.as_usize()).is_some_and(|pk| ed25519::verify(pk, msg, &sig.0).is_ok())
    }
}

impl ThresholdScheme for KeelCrypto {
    fn share_sign(&self, msg: &[u8]) -> SigShare {
        SigShare(threshold::sign_share(&self.share, msg).to_bytes())
    }

    fn share_verify(&self, signer: NodeIndex, msg: &[u8], share: &SigShare) -> bool {
        let (Some(pk), Ok(sig)) = (self.share_public_keys.get(signer.as_usize()), Signature::from_bytes(&share.0)) else {
            return false;
        };
        bls::verify(pk, msg, &sig).is_ok()
    }

    fn combine(&self, _msg: &[u8], shares: &[(NodeIndex, SigShare)]) -> Result<ThresholdSignature, CryptoError> {
        let parsed = shares
            .iter()
            .map(|(i, s)| Signature::from_bytes(&s.0).map(|sig| (share_index(*i), sig)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| CryptoError::Malformed)?;
        threshold::combine(&parsed, self.threshold)
            .map(|s| ThresholdSignature(s.to_bytes()))
            .map_err(|_| CryptoError::NotEnoughShares)
    }

    fn threshold_verify(&self, msg: &[u8], sig: &ThresholdSignature) -> bool {
        Signature::from_bytes(&sig.0).is_ok_and(|s| bls::verify(&self.subnet_public_key, msg, &s).is_ok())
    }
}

impl Scheme for KeelCrypto {
    fn deal(seed: [u8; 32], size: SubnetSize, t: usize) -> Result<GenesisDealing, KeyError> {
        let t32 = u32::try_from(t).map_err(|_| KeyError::BadThreshold)?;
        let bls_seed = derive(b"keel-subnet-threshold-key", &seed, 0);
        let dealing = threshold::deal(&bls_seed, t32, size.n()).map_err(|_| KeyError::BadThreshold)?;
        let secrets: Vec<NodeSecrets> = size
            .nodes()
            .zip(&dealing.secret_shares)
            .map(|(i, share)| NodeSecrets {
                index: i,
                node_secret: derive(b"keel-node-signing-key", &seed, i.get()),
                threshold_share: share.to_be_bytes(),
            })
            .collect();
        let coefficients = &dealing.public_coefficients;
        let public = SubnetPublicKeys {
            size,
            threshold: t,
            node_public_keys: secrets.iter().map(|s| SigningKey::from_seed(s.node_secret).public_key().to_vec()).collect(),
            share_public_keys: size.nodes().map(|i| coefficients.public_key_share(share_index(i)).to_bytes().to_vec()).collect(),
            subnet_public_key: coefficients.public_key().to_bytes().to_vec(),
        };
        Ok(GenesisDealing { public, secrets })
    }

    fn from_keys(public: &SubnetPublicKeys, secrets: &NodeSecrets) -> Result<Self, KeyError> {
        if !public.size.contains(secrets.index) {
            return Err(KeyError::NotAMember);
        }
        let share_public_keys = public
            .share_public_keys
            .iter()
            .map(|k| PublicKey::from_bytes(k))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| KeyError::Malformed)?;
        Ok(KeelCrypto {
            node_key: SigningKey::from_seed(secrets.node_secret),
            share: bls::SecretKey::from_be_bytes(&secrets.threshold_share).map_err(|_| KeyError::Malformed)?,
            node_public_keys: public.node_public_keys.clone(),
            share_public_keys,
            subnet_public_key: PublicKey::from_bytes(&public.subnet_public_key).map_err(|_| KeyError::Malformed)?,
            threshold: public.threshold,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_consensus::certification::Certification;
    use keel_consensus::StateHash;
    use keel_crypto::hash_tree::certification_message;

    #[test]
    fn threshold_shares_combine_into_an_ic_certificate_signature() {
        let d = GenesisDealing::deal::<KeelCrypto>([3; 32], 4, 3).unwrap();
        let nodes: Vec<KeelCrypto> = (0..4).map(|i| d.node(NodeIndex::new(i)).unwrap()).collect();
        let root = [9u8; 32];
        let msg = Certification::signing_bytes(keel_consensus::Height::new(5), &StateHash(root));
        assert_eq!(msg, certification_message(&root), "consensus signs exactly the IC state-root message");
        let shares: Vec<_> = nodes.iter().enumerate().map(|(i, n)| (NodeIndex::new(i as u32), n.share_sign(&msg))).collect();
        assert!(nodes[0].share_verify(NodeIndex::new(1), &msg, &shares[1].1));
        assert!(!nodes[0].share_verify(NodeIndex::new(2), &msg, &shares[1].1));
        let a = nodes[0].combine(&msg, &shares[..3]).unwrap();
        let b = nodes[1].combine(&msg, &shares[1..]).unwrap();
        assert_eq!(a, b, "any t shares give the one subnet signature");
        assert!(nodes[2].threshold_verify(&msg, &a));
        let pk = nodes[0].subnet_public_key().to_bytes();
        bls::verify_bytes(&pk, &msg, &a.0).unwrap();
        let sig = nodes[3].node_sign(b"block");
        assert!(nodes[0].node_verify(NodeIndex::new(3), b"block", &sig));
        assert!(!nodes[0].node_verify(NodeIndex::new(2), b"block", &sig));
    }
}
