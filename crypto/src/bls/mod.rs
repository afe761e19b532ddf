//! BLS12-381 signatures as the IC uses them: the min-sig "basic" scheme, signatures in G1
//! (48 bytes compressed), public keys in G2 (96 bytes compressed), hash-to-G1 with
//! `BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_`. Byte-compatible with
//! `ic-verify-bls-signature` (what ic-agent uses to check certificates).
//!
//! [`threshold`] adds the subnet's t-of-n scheme on top.

pub mod threshold;

use crate::SignatureError;
use ic_bls12_381::hash_to_curve::{ExpandMsgXmd, HashToCurve};
use ic_bls12_381::{G1Affine, G1Projective, G2Affine, G2Prepared, Gt, Scalar};
use pairing::group::Curve;
use sha2::Digest;

/// The hash-to-curve domain separation tag of the IC's BLS signatures.
pub const DST: &[u8] = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";
/// Length of a compressed signature (G1).
pub const SIGNATURE_LEN: usize = 48;
/// Length of a compressed public key (G2).
pub const PUBLIC_KEY_LEN: usize = 96;

/// Why BLS key bytes were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlsError {
    /// Not a canonical scalar below the group order, or zero.
    InvalidSecretKey,
    /// Not a compressed point of the prime-order subgroup, or the identity.
    InvalidPoint,
}

impl core::fmt::Display for BlsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            BlsError::InvalidSecretKey => "invalid BLS secret key",
            BlsError::InvalidPoint => "invalid BLS12-381 point",
        })
    }
}

/// A BLS secret key (a non-zero scalar). Also used for threshold key shares.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(pub(crate) Scalar);

impl core::fmt::Debug for SecretKey {
    // Never print secret material.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// A scalar from 64 uniformly distributed bytes derived from `domain`, `seed` and `counter`.
/// SHA-512 output reduced mod r has negligible bias (the standard "wide reduction").
pub(crate) fn hash_to_scalar(domain: &[u8], seed: &[u8], counter: u32) -> Scalar {
    let mut h = sha2::Sha512::new();
    h.update([domain.len() as u8]);
    h.update(domain);
    h.update(seed);
    h.update(counter.to_be_bytes());
    let wide: [u8; 64] = h.finalize().into();
    Scalar::from_bytes_wide(&wide)
}

impl SecretKey {
    /// The key from its IC encoding: 32 bytes big-endian, canonical, non-zero.
    pub fn from_be_bytes(bytes: &[u8; 32]) -> Result<SecretKey, BlsError> {
        let mut le = *bytes;
        le.reverse(); // `Scalar::from_bytes` wants little-endian
        let s: Option<Scalar> = Scalar::from_bytes(&le).into();
        match s {
            Some(s) if s != Scalar::zero() => Ok(SecretKey(s)),
            _ => Err(BlsError::InvalidSecretKey),
        }
    }

    /// The 32-byte big-endian encoding (for persisting the key).
    pub fn to_be_bytes(&self) -> [u8; 32] {
        let mut b = self.0.to_bytes();
        b.reverse();
        b
    }

    /// A key derived deterministically from a secret 32-byte seed (e.g. boot entropy).
    pub fn from_seed(seed: &[u8; 32]) -> SecretKey {
        // Counter search skips the (probability 2^-255) zero scalar.
        (0u32..)
            .map(|counter| hash_to_scalar(b"keel-bls-secret-key", seed, counter))
            .find(|s| *s != Scalar::zero())
            .map(SecretKey)
            .unwrap_or(SecretKey(Scalar::one()))
    }

    /// The public key `sk · g2`.
    pub fn public_key(&self) -> PublicKey {
        PublicKey((G2Affine::generator() * self.0).to_affine())
    }

    /// Signs `message`: `sk · H(message)`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature((hash_to_g1(message) * self.0).to_affine())
    }
}

/// A BLS public key (a G2 point, never the identity).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PublicKey(pub(crate) G2Affine);

impl PublicKey {
    /// Parses a 96-byte compressed G2 point, checking subgroup membership.
    pub fn from_bytes(bytes: &[u8]) -> Result<PublicKey, BlsError> {
        let bytes: &[u8; PUBLIC_KEY_LEN] = bytes.try_into().map_err(|_| BlsError::InvalidPoint)?;
        let p: Option<G2Affine> = G2Affine::from_compressed(bytes).into();
        match p {
            Some(p) if !bool::from(p.is_identity()) => Ok(PublicKey(p)),
            _ => Err(BlsError::InvalidPoint),
        }
    }
    /// The 96-byte compressed encoding.
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.0.to_compressed()
    }
    /// The 133-byte DER encoding (`/api/v2/status` `root_key`, `/subnet/<id>/public_key`).
    pub fn to_der(&self) -> [u8; crate::der::BLS_DER_LEN] {
        crate::der::bls_der(&self.to_bytes())
    }
}

/// A BLS signature (a G1 point, never the identity).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Signature(pub(crate) G1Affine);

impl Signature {
    /// Parses a 48-byte compressed G1 point, checking subgroup membership.
    pub fn from_bytes(bytes: &[u8]) -> Result<Signature, BlsError> {
        let bytes: &[u8; SIGNATURE_LEN] = bytes.try_into().map_err(|_| BlsError::InvalidPoint)?;
        let p: Option<G1Affine> = G1Affine::from_compressed(bytes).into();
        match p {
            Some(p) if !bool::from(p.is_identity()) => Ok(Signature(p)),
            _ => Err(BlsError::InvalidPoint),
        }
    }
    /// The 48-byte compressed encoding.
    pub fn to_bytes(&self) -> [u8; SIGNATURE_LEN] {
        self.0.to_compressed()
    }
}

/// `H(message)` in G1 under the IC's DST.
fn hash_to_g1(message: &[u8]) -> G1Projective {
    <G1Projective as HashToCurve<ExpandMsgXmd<sha2::Sha256>>>::hash_to_curve(message, DST)
}

/// Checks `e(signature, g2) == e(H(message), public_key)` with one final exponentiation.
pub fn verify(public_key: &PublicKey, message: &[u8], signature: &Signature) -> Result<(), SignatureError> {
    let hm = hash_to_g1(message).to_affine();
    let neg_g2 = G2Prepared::from(-G2Affine::generator());
    let pk = G2Prepared::from(public_key.0);
    let gt = ic_bls12_381::multi_miller_loop(&[(&signature.0, &neg_g2), (&hm, &pk)]).final_exponentiation();
    if gt == Gt::identity() { Ok(()) } else { Err(SignatureError::Invalid) }
}

/// [`verify`] over encoded bytes: 96-byte key, 48-byte signature.
pub fn verify_bytes(public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
    let pk = PublicKey::from_bytes(public_key).map_err(|_| SignatureError::MalformedPublicKey)?;
    let sig = Signature::from_bytes(signature).map_err(|_| SignatureError::MalformedSignature)?;
    verify(&pk, message, &sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_round_trip() {
        let sk = SecretKey::from_seed(&[1; 32]);
        let pk = sk.public_key();
        let sig = sk.sign(b"message");
        verify(&pk, b"message", &sig).unwrap();
        assert_eq!(verify(&pk, b"massage", &sig), Err(SignatureError::Invalid));
        let other = SecretKey::from_seed(&[2; 32]).public_key();
        assert_eq!(verify(&other, b"message", &sig), Err(SignatureError::Invalid));
        verify_bytes(&pk.to_bytes(), b"message", &sig.to_bytes()).unwrap();
    }

    #[test]
    fn secret_key_encoding_is_big_endian() {
        let mut one = [0u8; 32];
        one[31] = 1;
        let sk = SecretKey::from_be_bytes(&one).unwrap();
        assert_eq!(sk.public_key().0, G2Affine::generator());
        assert_eq!(sk.to_be_bytes(), one);
        assert_eq!(SecretKey::from_be_bytes(&[0; 32]), Err(BlsError::InvalidSecretKey));
        assert_eq!(SecretKey::from_be_bytes(&[0xff; 32]), Err(BlsError::InvalidSecretKey));
    }

    #[test]
    fn rejects_bad_points() {
        assert_eq!(PublicKey::from_bytes(&[0u8; 96]), Err(BlsError::InvalidPoint));
        assert_eq!(Signature::from_bytes(&[0u8; 47]), Err(BlsError::InvalidPoint));
        // The compressed identity (0xc0 flag byte) is a valid encoding but never a key.
        let mut identity = [0u8; 48];
        identity[0] = 0xc0;
        assert_eq!(Signature::from_bytes(&identity), Err(BlsError::InvalidPoint));
        assert_eq!(verify_bytes(&[1u8; 96], b"m", &[0u8; 48]), Err(SignatureError::MalformedPublicKey));
    }

    /// A real mainnet certificate signature (from agent-rs' tests, via ic-verify-bls-signature):
    /// the mainnet root key over `\x0Dic-state-root · root`.
    #[test]
    fn verifies_real_mainnet_certificate_signature() {
        let sig = hex::decode("ace9fcdd9bc977e05d6328f889dc4e7c99114c737a494653cb27a1f55c06f4555e0f160980af5ead098acc195010b2f7").unwrap();
        let root = hex::decode("e6c01e909b4923345ce5970962bcfe3004bfd8474a21dae28f50692502f46d90").unwrap();
        let der = hex::decode(crate::der::tests::MAINNET_ROOT_KEY).unwrap();
        let key = crate::der::parse_bls_public_key(&der).unwrap();
        let root: [u8; 32] = root.try_into().unwrap();
        let msg = crate::hash_tree::certification_message(&root);
        verify_bytes(&key, &msg, &sig).unwrap();
        let mut other = root;
        other[0] ^= 1;
        let msg = crate::hash_tree::certification_message(&other);
        assert_eq!(verify_bytes(&key, &msg, &sig), Err(SignatureError::Invalid));
    }

    #[test]
    fn matches_ic_verify_bls_signature() {
        // The crate ic-agent uses for certificates must accept our signatures, and reject tampered ones.
        let sk = SecretKey::from_seed(&[3; 32]);
        let sig = sk.sign(b"\x0Dic-state-root0123456789abcdef0123456789abcdef");
        ic_verify_bls_signature::verify_bls_signature(
            &sig.to_bytes(),
            b"\x0Dic-state-root0123456789abcdef0123456789abcdef",
            &sk.public_key().to_bytes(),
        )
        .unwrap();
        assert!(ic_verify_bls_signature::verify_bls_signature(&sig.to_bytes(), b"other", &sk.public_key().to_bytes()).is_err());
    }
}
