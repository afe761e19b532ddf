//! t-of-n threshold BLS for the subnet key.
//!
//! A dealer Shamir-splits a secret key `s` with a random degree-(t−1) polynomial
//! `f(x) = s + a₁x + … + a_{t−1}x^{t−1}`; node `i` (0-based [`NodeIndex`]) holds
//! `f(i + 1)` and publishes nothing secret. The public coefficients `A_j = a_j · g2` give
//! every node's public key share `f(i+1) · g2` and the subnet key `A₀ = s · g2`. A share
//! signature is an ordinary BLS signature with the share key; any t valid shares combine
//! by Lagrange interpolation at x = 0 into exactly the signature `s · H(m)`, so verifiers
//! (ic-agent) see a plain BLS signature under the subnet key.
//!
//! **Genesis dealing is trusted:** [`deal`] is deterministic from a secret 32-byte seed so
//! that a test network (or a node that set up the network) can re-derive the dealing; the
//! seed must be secret entropy. A production network would replace this with a
//! non-interactive DKG; the share and combination formats stay the same.

use super::{hash_to_scalar, BlsError, PublicKey, SecretKey, Signature};
use alloc::vec::Vec;
use ic_bls12_381::{G1Projective, G2Affine, G2Projective, Scalar};
use pairing::group::Curve;

/// A node's position in the subnet (0-based); its evaluation point is `index + 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeIndex(pub u32);

impl NodeIndex {
    fn x(self) -> Scalar {
        Scalar::from(u64::from(self.0) + 1)
    }
}

/// Why a threshold operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdError {
    /// Need `1 ≤ threshold ≤ nodes`.
    InvalidThreshold,
    /// Fewer distinct shares than the threshold.
    NotEnoughShares,
    /// Two shares claim the same node index.
    DuplicateIndex,
    /// A public coefficient did not decode.
    Encoding(BlsError),
}

impl core::fmt::Display for ThresholdError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ThresholdError::InvalidThreshold => f.write_str("threshold must be between 1 and the number of nodes"),
            ThresholdError::NotEnoughShares => f.write_str("not enough signature shares"),
            ThresholdError::DuplicateIndex => f.write_str("duplicate signature share index"),
            ThresholdError::Encoding(e) => write!(f, "public coefficients: {e}"),
        }
    }
}

/// The public commitment to the dealing polynomial: `A_j = a_j · g2`, `A₀` the subnet key.
/// Public; every node keeps it to check share signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicCoefficients(Vec<G2Affine>);

impl PublicCoefficients {
    /// The threshold t (number of coefficients).
    pub fn threshold(&self) -> usize {
        self.0.len()
    }

    /// The subnet public key `A₀`.
    pub fn public_key(&self) -> PublicKey {
        // `deal` never produces an empty list and `from_bytes` refuses one.
        PublicKey(self.0.first().copied().unwrap_or(G2Affine::generator()))
    }

    /// The public key share of `node`: `Σ A_j · x^j` with `x = index + 1` (Horner).
    pub fn public_key_share(&self, node: NodeIndex) -> PublicKey {
        let x = node.x();
        let acc = self.0.iter().rev().fold(G2Projective::identity(), |acc, a| acc * x + a);
        PublicKey(acc.to_affine())
    }

    /// The compressed coefficients, for persistence / the registry.
    pub fn to_bytes(&self) -> Vec<[u8; 96]> {
        self.0.iter().map(G2Affine::to_compressed).collect()
    }

    /// Parses [`Self::to_bytes`] output.
    pub fn from_bytes(coefficients: &[[u8; 96]]) -> Result<Self, ThresholdError> {
        if coefficients.is_empty() {
            return Err(ThresholdError::InvalidThreshold);
        }
        coefficients
            .iter()
            .map(|c| PublicKey::from_bytes(c).map(|k| k.0).map_err(ThresholdError::Encoding))
            .collect::<Result<Vec<_>, _>>()
            .map(PublicCoefficients)
    }
}

/// The output of a dealing: what to publish and what to hand each node.
#[derive(Clone, Debug)]
pub struct Dealing {
    /// Published to everyone.
    pub public_coefficients: PublicCoefficients,
    /// `secret_shares[i]` goes to node `NodeIndex(i)`, and only to it.
    pub secret_shares: Vec<SecretKey>,
}

/// Deals a `threshold`-of-`nodes` sharing of a key derived from `seed` (see module docs).
pub fn deal(seed: &[u8; 32], threshold: u32, nodes: u32) -> Result<Dealing, ThresholdError> {
    if threshold == 0 || threshold > nodes {
        return Err(ThresholdError::InvalidThreshold);
    }
    let secret = SecretKey::from_seed(seed).0;
    let coefficients: Vec<Scalar> = core::iter::once(secret)
        .chain((1..threshold).map(|j| hash_to_scalar(b"keel-bls-dealing-coefficient", seed, j)))
        .collect();
    let eval = |x: Scalar| coefficients.iter().rev().fold(Scalar::zero(), |acc, a| acc * x + a);
    let secret_shares = (0..nodes).map(|i| SecretKey(eval(NodeIndex(i).x()))).collect();
    let public_coefficients =
        PublicCoefficients(coefficients.iter().map(|a| (G2Affine::generator() * a).to_affine()).collect());
    Ok(Dealing { public_coefficients, secret_shares })
}

/// A node's signature share: a plain BLS signature with its secret share.
pub fn sign_share(share: &SecretKey, message: &[u8]) -> Signature {
    share.sign(message)
}

/// Checks `node`'s share signature against the public coefficients.
pub fn verify_share(
    coefficients: &PublicCoefficients,
    node: NodeIndex,
    message: &[u8],
    share: &Signature,
) -> Result<(), crate::SignatureError> {
    super::verify(&coefficients.public_key_share(node), message, share)
}

/// Combines `threshold` shares (the first `threshold` of `shares`, which must already be
/// verified) into the group signature by Lagrange interpolation at x = 0.
pub fn combine(shares: &[(NodeIndex, Signature)], threshold: usize) -> Result<Signature, ThresholdError> {
    if threshold == 0 {
        return Err(ThresholdError::InvalidThreshold);
    }
    let used = shares.get(..threshold).ok_or(ThresholdError::NotEnoughShares)?;
    let mut acc = G1Projective::identity();
    for (i, (node_i, sig)) in used.iter().enumerate() {
        // λ_i = Π_{j≠i} x_j / (x_j − x_i)
        let mut num = Scalar::one();
        let mut den = Scalar::one();
        for (j, (node_j, _)) in used.iter().enumerate() {
            if i != j {
                if node_i == node_j {
                    return Err(ThresholdError::DuplicateIndex);
                }
                num *= node_j.x();
                den *= node_j.x() - node_i.x();
            }
        }
        // den ≠ 0: indices are distinct and far below the group order.
        let inv: Option<Scalar> = den.invert().into();
        let lambda = num * inv.ok_or(ThresholdError::DuplicateIndex)?;
        acc += sig.0 * lambda;
    }
    Ok(Signature(acc.to_affine()))
}

/// Verifies shares one by one against `coefficients`, drops invalid and duplicate ones,
/// and combines the first `coefficients.threshold()` valid shares. For collecting shares
/// from possibly Byzantine nodes; each verification costs two pairings.
pub fn combine_valid(
    coefficients: &PublicCoefficients,
    message: &[u8],
    shares: &[(NodeIndex, Signature)],
) -> Result<Signature, ThresholdError> {
    let t = coefficients.threshold();
    let mut valid: Vec<(NodeIndex, Signature)> = Vec::with_capacity(t);
    for (node, share) in shares {
        if valid.len() == t {
            break;
        }
        if valid.iter().all(|(n, _)| n != node) && verify_share(coefficients, *node, message, share).is_ok() {
            valid.push((*node, *share));
        }
    }
    combine(&valid, t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bls::verify;

    #[test]
    fn any_t_shares_give_the_group_signature() {
        let dealing = deal(&[42; 32], 3, 5).unwrap();
        let pc = &dealing.public_coefficients;
        let group_key = pc.public_key();
        assert_eq!(group_key, SecretKey::from_seed(&[42; 32]).public_key());
        let msg = b"\x0Dic-state-root root hash";
        let shares: Vec<(NodeIndex, Signature)> = dealing
            .secret_shares
            .iter()
            .enumerate()
            .map(|(i, s)| (NodeIndex(i as u32), sign_share(s, msg)))
            .collect();
        for (node, share) in &shares {
            verify_share(pc, *node, msg, share).unwrap();
            assert_eq!(pc.public_key_share(*node), dealing.secret_shares[node.0 as usize].public_key());
        }
        // Wrong node index for a share fails.
        assert!(verify_share(pc, NodeIndex(1), msg, &shares[0].1).is_err());
        let expected = SecretKey::from_seed(&[42; 32]).sign(msg);
        for subset in [[0usize, 1, 2], [4, 2, 0], [1, 3, 4]] {
            let picked: Vec<_> = subset.iter().map(|&i| shares[i]).collect();
            let sig = combine(&picked, 3).unwrap();
            assert_eq!(sig, expected);
            verify(&group_key, msg, &sig).unwrap();
        }
        // Two shares are not enough to reach the group signature.
        assert_eq!(combine(&shares[..2], 3), Err(ThresholdError::NotEnoughShares));
        let two = combine(&shares[..2], 2).unwrap();
        assert!(verify(&group_key, msg, &two).is_err());
        assert_eq!(combine(&[shares[0], shares[0], shares[1]], 3), Err(ThresholdError::DuplicateIndex));
    }

    #[test]
    fn combine_valid_skips_bad_and_duplicate_shares() {
        let d = deal(&[5; 32], 2, 4).unwrap();
        let pc = &d.public_coefficients;
        let msg = b"m";
        let good = |i: u32| (NodeIndex(i), sign_share(&d.secret_shares[i as usize], msg));
        let forged = (NodeIndex(0), sign_share(&d.secret_shares[1], msg)); // node 1's share claimed by node 0
        let shares = [forged, good(1), good(1), good(3)];
        let sig = combine_valid(pc, msg, &shares).unwrap();
        assert_eq!(sig, SecretKey::from_seed(&[5; 32]).sign(msg));
        assert_eq!(combine_valid(pc, msg, &[forged, good(2)]), Err(ThresholdError::NotEnoughShares));
    }

    #[test]
    fn dealing_is_deterministic_and_round_trips() {
        let a = deal(&[7; 32], 2, 4).unwrap();
        let b = deal(&[7; 32], 2, 4).unwrap();
        assert_eq!(a.public_coefficients, b.public_coefficients);
        assert_eq!(a.secret_shares, b.secret_shares);
        let bytes = a.public_coefficients.to_bytes();
        assert_eq!(PublicCoefficients::from_bytes(&bytes).unwrap(), a.public_coefficients);
        assert_eq!(deal(&[7; 32], 0, 4).unwrap_err(), ThresholdError::InvalidThreshold);
        assert_eq!(deal(&[7; 32], 5, 4).unwrap_err(), ThresholdError::InvalidThreshold);
        assert_eq!(PublicCoefficients::from_bytes(&[]), Err(ThresholdError::InvalidThreshold));
    }

    #[test]
    fn one_of_one_is_the_plain_key() {
        let d = deal(&[9; 32], 1, 1).unwrap();
        let sig = combine(&[(NodeIndex(0), sign_share(&d.secret_shares[0], b"m"))], 1).unwrap();
        assert_eq!(sig, SecretKey::from_seed(&[9; 32]).sign(b"m"));
    }
}
