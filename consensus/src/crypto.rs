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
