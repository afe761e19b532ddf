//! Ed25519: node keys (query response signatures) and sender keys.

use crate::SignatureError;

/// Length of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// A node's Ed25519 signing key. Derived from a 32-byte seed so that the key can be
/// persisted as the seed alone.
#[derive(Clone)]
pub struct SigningKey(ed25519_compact::KeyPair);

impl core::fmt::Debug for SigningKey {
    // Never print secret material.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SigningKey").field("public_key", &self.public_key()).finish()
    }
}

impl SigningKey {
    /// The key whose RFC 8032 seed is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(seed)))
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> [u8; PUBLIC_KEY_LEN] {
        *self.0.pk
    }

    /// The public key as DER SubjectPublicKeyInfo (44 bytes), as published in the state tree.
    pub fn public_key_der(&self) -> [u8; crate::der::ED25519_DER_LEN] {
        crate::der::ed25519_der(&self.public_key())
    }

    /// Deterministic (RFC 8032) signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        *self.0.sk.sign(message, None)
    }
}

/// Verifies an Ed25519 `signature` of `message` by the raw 32-byte `public_key`.
pub fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
    let pk = ed25519_compact::PublicKey::from_slice(public_key)
        .map_err(|_| SignatureError::MalformedPublicKey)?;
    let sig = ed25519_compact::Signature::from_slice(signature)
        .map_err(|_| SignatureError::MalformedSignature)?;
    pk.verify(message, &sig).map_err(|_| SignatureError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8032 §7.1, test 1 (empty message).
    const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const PK: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const SIG: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

    fn seed() -> [u8; 32] {
        hex::decode(SEED).unwrap().try_into().unwrap()
    }

    #[test]
    fn rfc8032_vector() {
        let key = SigningKey::from_seed(seed());
        assert_eq!(hex::encode(key.public_key()), PK);
        assert_eq!(hex::encode(key.sign(b"")), SIG);
        verify(&key.public_key(), b"", &key.sign(b"")).unwrap();
    }

    #[test]
    fn rejects_tampering() {
        let key = SigningKey::from_seed(seed());
        let sig = key.sign(b"message");
        assert_eq!(verify(&key.public_key(), b"massage", &sig), Err(SignatureError::Invalid));
        assert_eq!(verify(&key.public_key()[..31], b"message", &sig), Err(SignatureError::MalformedPublicKey));
        assert_eq!(verify(&key.public_key(), b"message", &sig[..63]), Err(SignatureError::MalformedSignature));
    }
}
