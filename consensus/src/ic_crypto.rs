//! The production scheme, from `keel-crypto`: Ed25519 node signatures and threshold
//! BLS12-381 (min-sig) for the subnet key, whose combined signatures are the IC's
//! certificate signatures under the root key.

use alloc::sync::Arc;
use alloc::vec::Vec;

use keel_crypto::bls::threshold::{self, NodeIndex as BlsIndex};
use keel_crypto::bls::{self, PublicKey, SecretKey, Signature};
use keel_crypto::ed25519;

use crate::crypto::{
    CryptoError, GenesisDealing, KeyError, NodeSecrets, NodeSignature, NodeSigner, Scheme,
    SigShare, SubnetPublicKeys, ThresholdScheme, ThresholdSignature,
};
use crate::hash::hash;
use crate::types::{NodeIndex, SubnetSize};

/// Parsed public keys shared by all handles of a node.
#[derive(Debug)]
struct Public {
    node_keys: Vec<Vec<u8>>,
    share_keys: Vec<PublicKey>,
    subnet_key: PublicKey,
    threshold: usize,
}

/// One node's handle on Ed25519 + threshold BLS.
#[derive(Clone, Debug)]
pub struct IcCrypto {
    signing: ed25519::SigningKey,
    share: SecretKey,
    public: Arc<Public>,
}

impl IcCrypto {
    /// The subnet public key (the root key of a root subnet), 96 bytes compressed G2.
    pub fn subnet_public_key(&self) -> [u8; 96] {
        self.public.subnet_key.to_bytes()
    }
}

/// The subnet key of a dealing as the DER blob `/api/v2/status` returns as `root_key`.
pub fn root_key_der(
    public: &SubnetPublicKeys,
) -> Result<[u8; keel_crypto::der::BLS_DER_LEN], KeyError> {
    PublicKey::from_bytes(&public.subnet_public_key)
        .map(|k| k.to_der())
        .map_err(|_| KeyError::Malformed)
}

impl NodeSigner for IcCrypto {
    fn node_sign(&self, msg: &[u8]) -> NodeSignature {
        NodeSignature(self.signing.sign(msg))
    }

    fn node_verify(&self, signer: NodeIndex, msg: &[u8], sig: &NodeSignature) -> bool {
        self.public
            .node_keys
            .get(signer.as_usize())
            .is_some_and(|pk| ed25519::verify(pk, msg, &sig.0).is_ok())
    }
}

impl ThresholdScheme for IcCrypto {
    fn share_sign(&self, msg: &[u8]) -> SigShare {
        SigShare(threshold::sign_share(&self.share, msg).to_bytes())
    }

    fn share_verify(&self, signer: NodeIndex, msg: &[u8], share: &SigShare) -> bool {
        let (Some(pk), Ok(sig)) = (
            self.public.share_keys.get(signer.as_usize()),
            Signature::from_bytes(&share.0),
        ) else {
            return false;
        };
        bls::verify(pk, msg, &sig).is_ok()
    }

    fn combine(
        &self,
        _msg: &[u8],
        shares: &[(NodeIndex, SigShare)],
    ) -> Result<ThresholdSignature, CryptoError> {
        let mut parsed = Vec::with_capacity(shares.len());
        for (i, s) in shares {
            if parsed.iter().any(|(j, _)| *j == BlsIndex(i.get())) {
                continue;
            }
            parsed.push((
                BlsIndex(i.get()),
                Signature::from_bytes(&s.0).map_err(|_| CryptoError::Malformed)?,
            ));
        }
        threshold::combine(&parsed, self.public.threshold)
            .map(|sig| ThresholdSignature(sig.to_bytes()))
            .map_err(|_| CryptoError::NotEnoughShares)
    }

    fn threshold_verify(&self, msg: &[u8], sig: &ThresholdSignature) -> bool {
        Signature::from_bytes(&sig.0)
            .is_ok_and(|s| bls::verify(&self.public.subnet_key, msg, &s).is_ok())
    }
}

impl Scheme for IcCrypto {
    /// Node `i`'s Ed25519 seed is derived from `seed` and `i`; the BLS key is dealt by
    /// `keel_crypto::bls::threshold::deal` from a separately derived seed.
    fn deal(seed: [u8; 32], size: SubnetSize, t: usize) -> Result<GenesisDealing, KeyError> {
        let t32 = u32::try_from(t).map_err(|_| KeyError::BadThreshold)?;
        let dealing = threshold::deal(&hash("keel-genesis-subnet-key", &[&seed]), t32, size.n())
            .map_err(|_| KeyError::BadThreshold)?;
        let pc = &dealing.public_coefficients;
        let mut secrets = Vec::new();
        let mut node_public_keys = Vec::new();
        let mut share_public_keys = Vec::new();
        for (i, share) in size.nodes().zip(&dealing.secret_shares) {
            let node_secret = hash("keel-genesis-node-key", &[&seed, &i.get().to_be_bytes()]);
            node_public_keys.push(
                ed25519::SigningKey::from_seed(node_secret)
                    .public_key()
                    .to_vec(),
            );
            share_public_keys.push(pc.public_key_share(BlsIndex(i.get())).to_bytes().to_vec());
            secrets.push(NodeSecrets {
                index: i,
                node_secret,
                threshold_share: share.to_be_bytes(),
            });
        }
        let public = SubnetPublicKeys {
            size,
            threshold: t,
            node_public_keys,
            share_public_keys,
            subnet_public_key: pc.public_key().to_bytes().to_vec(),
        };
        Ok(GenesisDealing { public, secrets })
    }

    fn from_keys(public: &SubnetPublicKeys, secrets: &NodeSecrets) -> Result<Self, KeyError> {
        if !public.size.contains(secrets.index) {
            return Err(KeyError::NotAMember);
        }
        let share_keys = public
            .share_public_keys
            .iter()
            .map(|k| PublicKey::from_bytes(k).map_err(|_| KeyError::Malformed))
            .collect::<Result<Vec<_>, _>>()?;
        let p = Public {
            node_keys: public.node_public_keys.clone(),
            share_keys,
            subnet_key: PublicKey::from_bytes(&public.subnet_public_key)
                .map_err(|_| KeyError::Malformed)?,
            threshold: public.threshold,
        };
        Ok(IcCrypto {
            signing: ed25519::SigningKey::from_seed(secrets.node_secret),
            share: SecretKey::from_be_bytes(&secrets.threshold_share)
                .map_err(|_| KeyError::Malformed)?,
            public: Arc::new(p),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certification::Certification;
    use crate::types::{Height, StateHash};

    #[test]
    fn threshold_certificate_verifies_as_plain_bls_under_the_root_key() {
        let d = GenesisDealing::deal::<IcCrypto>([3; 32], 4, 3).unwrap();
        let nodes: Vec<IcCrypto> = (0..4).map(|i| d.node(NodeIndex::new(i)).unwrap()).collect();
        let root = StateHash([0xab; 32]);
        let msg = Certification::signing_bytes(Height::new(1), &root);
        let shares: Vec<_> = [3u32, 1, 0]
            .iter()
            .map(|i| (NodeIndex::new(*i), nodes[*i as usize].share_sign(&msg)))
            .collect();
        assert!(
            shares
                .iter()
                .all(|(i, s)| nodes[2].share_verify(*i, &msg, s))
        );
        assert!(!nodes[2].share_verify(NodeIndex::new(2), &msg, &shares[0].1));
        let sig = nodes[2].combine(&msg, &shares).unwrap();
        assert!(nodes[0].threshold_verify(&msg, &sig));
        // The certificate is an ordinary BLS signature over `\x0Dic-state-root · root`.
        assert!(bls::verify_bytes(&d.public.subnet_public_key, &msg, &sig.0).is_ok());
        assert_eq!(
            nodes[0].combine(&msg, &shares[..2]),
            Err(CryptoError::NotEnoughShares)
        );
        let der = root_key_der(&d.public).unwrap();
        assert_eq!(&der[der.len() - 96..], &d.public.subnet_public_key[..]);
        let ns = nodes[1].node_sign(b"x");
        assert!(nodes[0].node_verify(NodeIndex::new(1), b"x", &ns));
        assert!(!nodes[0].node_verify(NodeIndex::new(0), b"x", &ns));
    }
}
