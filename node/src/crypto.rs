//! Consensus cryptography of a node: consensus' own [`IcCrypto`] (Ed25519 node signatures,
//! threshold BLS for the subnet key), with one shortcut for threshold 1 (a one-node subnet).
//! With t = 1 the dealing polynomial is constant, so a single share *is* the subnet
//! signature (its Lagrange coefficient is 1); combining it would only multiply a G1 point by
//! one, which costs as much as signing and happens twice per block (beacon and certification).

use keel_consensus::crypto::{
    CryptoError, NodeSignature, NodeSigner, SigShare, ThresholdScheme, ThresholdSignature,
};
use keel_consensus::ic_crypto::IcCrypto;
use keel_consensus::NodeIndex;

/// [`IcCrypto`] of one member of a subnet.
#[derive(Clone, Debug)]
pub struct SubnetCrypto {
    inner: IcCrypto,
    /// Shares a threshold signature needs.
    threshold: usize,
}

impl SubnetCrypto {
    /// Wraps the handle of a member of a dealing with `threshold`.
    pub fn new(inner: IcCrypto, threshold: usize) -> SubnetCrypto {
        SubnetCrypto { inner, threshold }
    }
}

impl NodeSigner for SubnetCrypto {
    fn node_sign(&self, msg: &[u8]) -> NodeSignature {
        self.inner.node_sign(msg)
    }

    fn node_verify(&self, signer: NodeIndex, msg: &[u8], sig: &NodeSignature) -> bool {
        self.inner.node_verify(signer, msg, sig)
    }
}

impl ThresholdScheme for SubnetCrypto {
    fn share_sign(&self, msg: &[u8]) -> SigShare {
        self.inner.share_sign(msg)
    }

    fn share_verify(&self, signer: NodeIndex, msg: &[u8], share: &SigShare) -> bool {
        self.inner.share_verify(signer, msg, share)
    }

    fn combine(&self, msg: &[u8], shares: &[(NodeIndex, SigShare)]) -> Result<ThresholdSignature, CryptoError> {
        match shares {
            [(_, share)] if self.threshold == 1 => Ok(ThresholdSignature(share.0)),
            _ => self.inner.combine(msg, shares),
        }
    }

    fn threshold_verify(&self, msg: &[u8], sig: &ThresholdSignature) -> bool {
        self.inner.threshold_verify(msg, sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{NodeKeys, ME};

    #[test]
    fn the_single_share_is_the_subnet_signature() {
        let keys = NodeKeys::generate([5; 32]).unwrap();
        let full = keys.consensus_crypto().unwrap();
        let one = SubnetCrypto::new(full.clone(), 1);
        let msg = b"\x0Dic-state-root0123456789abcdef0123456789abcdef";
        let shares = [(ME, one.share_sign(msg))];
        let fast = one.combine(msg, &shares).unwrap();
        assert_eq!(fast, full.combine(msg, &shares).unwrap(), "same bytes as Lagrange combination");
        assert!(one.threshold_verify(msg, &fast));
        assert!(keel_crypto::bls::verify_bytes(keys.subnet_public_key(), msg, &fast.0).is_ok());
    }
}
