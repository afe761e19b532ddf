//! The cryptography consensus needs, as two small traits: per-node signatures (Ed25519 on a
//! real node) and the subnet's threshold signatures (BLS12-381 min-sig). The protocol is
//! generic over them, so the simulator can run a fast keyed-hash scheme over thousands of
//! seeds and a real node plugs in `keel-crypto`.

use alloc::vec::Vec;

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer, array_codec};
use crate::types::{NodeIndex, SubnetSize};

/// A node's signature on an artifact (an Ed25519 signature on a real node).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodeSignature(pub [u8; 64]);

/// One node's share of a threshold signature (a compressed G1 point for BLS).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SigShare(pub [u8; 48]);

/// A combined threshold signature under the subnet key (a compressed G1 point for BLS). It
/// is unique for a message whichever shares were combined, which is what makes the random
/// beacon unpredictable yet agreed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ThresholdSignature(pub [u8; 48]);

array_codec!(NodeSignature, SigShare, ThresholdSignature);

/// Why combining shares failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CryptoError {
    /// Fewer distinct valid shares than the threshold.
    NotEnoughShares,
    /// A share or key did not parse.
    Malformed,
}

/// Signing with this node's key and verifying any member's signature.
pub trait NodeSigner {
    /// This node's signature on `msg`.
    fn node_sign(&self, msg: &[u8]) -> NodeSignature;
    /// Whether `sig` is `signer`'s signature on `msg`.
    fn node_verify(&self, signer: NodeIndex, msg: &[u8], sig: &NodeSignature) -> bool;
}

/// The subnet's threshold signature scheme, from the point of view of one member.
pub trait ThresholdScheme {
    /// This node's share of the signature on `msg`.
    fn share_sign(&self, msg: &[u8]) -> SigShare;
    /// Whether `share` is `signer`'s valid share on `msg`.
    fn share_verify(&self, signer: NodeIndex, msg: &[u8], share: &SigShare) -> bool;
    /// Combines already verified shares from distinct signers into the signature on `msg`.
    fn combine(
        &self,
        msg: &[u8],
        shares: &[(NodeIndex, SigShare)],
    ) -> Result<ThresholdSignature, CryptoError>;
    /// Whether `sig` is the subnet's signature on `msg`.
    fn threshold_verify(&self, msg: &[u8], sig: &ThresholdSignature) -> bool;
}

/// Everything a consensus node needs from cryptography.
pub trait Crypto: NodeSigner + ThresholdScheme {}
impl<T: NodeSigner + ThresholdScheme> Crypto for T {}

/// The public key material of a subnet: what a registry publishes, and what a genesis
/// dealing or (later) a non-interactive DKG produces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubnetPublicKeys {
    /// Membership size.
    pub size: SubnetSize,
    /// Shares needed to combine a threshold signature.
    pub threshold: usize,
    /// Node signing public keys, by node index.
    pub node_public_keys: Vec<Vec<u8>>,
    /// Threshold public key shares, by node index (verify individual shares).
    pub share_public_keys: Vec<Vec<u8>>,
    /// The subnet's threshold public key; for the root subnet this is the IC root key.
    pub subnet_public_key: Vec<u8>,
}

/// The secrets one node receives from a dealing.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeSecrets {
    /// Which member these belong to.
    pub index: NodeIndex,
    /// Seed of the node's signing key.
    pub node_secret: [u8; 32],
    /// The node's threshold secret key share (big-endian scalar for BLS).
    pub threshold_share: [u8; 32],
}

impl core::fmt::Debug for NodeSecrets {
    // Secrets never reach logs.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "NodeSecrets({})", self.index)
    }
}

/// Why a dealing or key set-up failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The threshold is 0 or above `n`.
    BadThreshold,
    /// The node index is not a member.
    NotAMember,
    /// Key bytes did not parse.
    Malformed,
}

/// A concrete scheme: how it deals genesis keys and how a node builds its handle from them.
/// A non-interactive DKG later replaces `deal` and leaves `from_keys` as it is.
pub trait Scheme: Crypto + Sized {
    /// A trusted dealing from `seed` for `size` members and `threshold`.
    fn deal(seed: [u8; 32], size: SubnetSize, threshold: usize)
    -> Result<GenesisDealing, KeyError>;
    /// The handle of the member that holds `secrets`.
    fn from_keys(public: &SubnetPublicKeys, secrets: &NodeSecrets) -> Result<Self, KeyError>;
}

/// The documented genesis dealing: a trusted dealer (`xtask testnet`) derives every key from
/// one seed, hands each node its secrets, and publishes [`SubnetPublicKeys`]; the subnet
/// public key becomes the root key clients verify certificates against. Whoever knows the
/// seed knows every key, so it is a bootstrap step only; a DKG produces the same two parts.
#[derive(Clone, Debug)]
pub struct GenesisDealing {
    /// Published keys.
    pub public: SubnetPublicKeys,
    /// Secrets, by node index.
    pub secrets: Vec<NodeSecrets>,
}

impl GenesisDealing {
    /// Deals keys of scheme `S` for `n` nodes with threshold `t`.
    pub fn deal<S: Scheme>(seed: [u8; 32], n: u32, t: usize) -> Result<Self, KeyError> {
        let size = SubnetSize::new(n).map_err(|_| KeyError::BadThreshold)?;
        if t == 0 || t > n as usize {
            return Err(KeyError::BadThreshold);
        }
        S::deal(seed, size, t)
    }

    /// The crypto handle of node `i`.
    pub fn node<S: Scheme>(&self, i: NodeIndex) -> Result<S, KeyError> {
        let secrets = self.secrets.get(i.as_usize()).ok_or(KeyError::NotAMember)?;
        S::from_keys(&self.public, secrets)
    }
}

/// Most members a key record may list on the wire.
const WIRE_MAX_MEMBERS: usize = 1024;
/// Most bytes of one public key on the wire.
const WIRE_MAX_KEY: usize = 1024;

/// Key records are stored in node configurations written by `xtask testnet`.
impl Encode for SubnetPublicKeys {
    fn encode_to(&self, w: &mut Writer) {
        w.u32(self.size.n());
        w.len(self.threshold);
        for list in [&self.node_public_keys, &self.share_public_keys] {
            w.len(list.len());
            for k in list {
                w.bytes(k);
            }
        }
        w.bytes(&self.subnet_public_key);
    }
}

impl Decode for SubnetPublicKeys {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let size = SubnetSize::new(r.u32()?).map_err(|_| DecodeError::Invalid)?;
        let threshold = r.len(WIRE_MAX_MEMBERS)?;
        let mut lists = [Vec::new(), Vec::new()];
        for list in &mut lists {
            for _ in 0..r.len(WIRE_MAX_MEMBERS)? {
                list.push(r.bytes(WIRE_MAX_KEY)?);
            }
            if list.len() != size.n() as usize {
                return Err(DecodeError::Invalid);
            }
        }
        if threshold == 0 || threshold > size.n() as usize {
            return Err(DecodeError::Invalid);
        }
        let [node_public_keys, share_public_keys] = lists;
        Ok(SubnetPublicKeys {
            size,
            threshold,
            node_public_keys,
            share_public_keys,
            subnet_public_key: r.bytes(WIRE_MAX_KEY)?,
        })
    }
}

impl Encode for NodeSecrets {
    fn encode_to(&self, w: &mut Writer) {
        self.index.encode_to(w);
        w.fixed(&self.node_secret);
        w.fixed(&self.threshold_share);
    }
}

impl Decode for NodeSecrets {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(NodeSecrets {
            index: NodeIndex::decode_from(r)?,
            node_secret: r.array()?,
            threshold_share: r.array()?,
        })
    }
}

/// Encodes a threshold signature list position; shared by messages that carry them.
pub(crate) fn encode_sig_list(w: &mut Writer, sigs: &[(NodeIndex, NodeSignature)]) {
    w.len(sigs.len());
    for (i, s) in sigs {
        i.encode_to(w);
        s.encode_to(w);
    }
}

/// Decodes what [`encode_sig_list`] wrote, at most `max` entries.
pub(crate) fn decode_sig_list(
    r: &mut Reader<'_>,
    max: usize,
) -> Result<Vec<(NodeIndex, NodeSignature)>, DecodeError> {
    let n = r.len(max)?;
    let mut v = Vec::new();
    for _ in 0..n {
        v.push((NodeIndex::decode_from(r)?, NodeSignature::decode_from(r)?));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hashsig::HashSig;

    #[test]
    fn key_records_roundtrip_and_reject_inconsistent_sizes() {
        let d = GenesisDealing::deal::<HashSig>([4; 32], 4, 3).unwrap();
        let bytes = d.public.to_bytes();
        assert_eq!(SubnetPublicKeys::from_bytes(&bytes), Ok(d.public.clone()));
        for s in &d.secrets {
            assert_eq!(NodeSecrets::from_bytes(&s.to_bytes()), Ok(s.clone()));
        }
        let mut short = d.public.clone();
        short.node_public_keys.pop();
        assert_eq!(
            SubnetPublicKeys::from_bytes(&short.to_bytes()),
            Err(DecodeError::Invalid)
        );
        let mut zero = d.public.clone();
        zero.threshold = 0;
        assert_eq!(
            SubnetPublicKeys::from_bytes(&zero.to_bytes()),
            Err(DecodeError::Invalid)
        );
    }
}
