//! Consensus cryptography of a one-node subnet: consensus' own [`IcCrypto`] (Ed25519 node
//! signatures, threshold BLS for the subnet key), with one shortcut. With t = n = 1 the
//! dealing polynomial is constant, so the single share *is* the subnet signature (its
//! Lagrange coefficient is 1); combining it would only multiply a G1 point by one, which
//! costs as much as signing and happens twice per block (beacon and certification).

use keel_consensus::crypto::{
    CryptoError, NodeSignature, NodeSigner, SigShare, ThresholdScheme, ThresholdSignature,
};
use keel_consensus::ic_crypto::IcCrypto;
use keel_consensus::NodeIndex;

use crate::keys::ME;

/// [`IcCrypto`] of the only member of a subnet.
#[derive(Clone, Debug)]
pub struct OneNodeCrypto(IcCrypto);

impl OneNodeCrypto {
    /// Wraps the handle of member 0 of a 1-of-1 dealing.
    pub fn new(crypto: IcCrypto) -> OneNodeCrypto {
        OneNodeCrypto(crypto)
    }
}

impl NodeSigner for OneNodeCrypto {
    fn node_sign(&self, msg: &[u8]) -> NodeSignature {
        self.0.node_sign(msg)
    }

    fn node_verify(&self, signer: NodeIndex, msg: &[u8], sig: &NodeSignature) -> bool {
        self.0.node_verify(signer, msg, sig)
    }
}

impl ThresholdScheme for OneNodeCrypto {
    fn share_sign(&self, msg: &[u8]) -> SigShare {
        self.0.share_sign(msg)
    }

    fn share_verify(&self, signer: NodeIndex, msg: &[u8], share: &SigShare) -> bool {
        self.0.share_verify(signer, msg, share)
    }

    fn combine(&self, msg: &[u8], shares: &[(NodeIndex, SigShare)]) -> Result<ThresholdSignature, CryptoError> {
        match shares {
            [(ME, share)] => Ok(ThresholdSignature(share.0)),
            _ => self.0.combine(msg, shares),
        }
    }

    fn threshold_verify(&self, msg: &[u8], sig: &ThresholdSignature) -> bool {
        self.0.threshold_verify(msg, sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::NodeKeys;

    #[test]
    fn the_single_share_is_the_subnet_signature() {
        let keys = NodeKeys::generate([5; 32]).unwrap();
        let full = keys.consensus_crypto().unwrap();
        let one = OneNodeCrypto::new(full.clone());
        let msg = b"\x0Dic-state-root0123456789abcdef0123456789abcdef";
        let shares = [(ME, one.share_sign(msg))];
        let fast = one.combine(msg, &shares).unwrap();
        assert_eq!(fast, full.combine(msg, &shares).unwrap(), "same bytes as Lagrange combination");
        assert!(one.threshold_verify(msg, &fast));
        assert!(keel_crypto::bls::verify_bytes(keys.subnet_public_key(), msg, &fast.0).is_ok());
    }
}
