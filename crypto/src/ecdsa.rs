//! ECDSA verification over P-256 and secp256k1 with SHA-256, as IC senders use them:
//! 64-byte `r·s` signatures, SEC1 uncompressed public keys.

use crate::SignatureError;

/// Verifies a P-256 `r·s` signature of SHA-256(`message`).
pub fn verify_p256(sec1_public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
    use p256::ecdsa::signature::Verifier;
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(sec1_public_key)
        .map_err(|_| SignatureError::MalformedPublicKey)?;
    let sig = p256::ecdsa::Signature::from_slice(signature).map_err(|_| SignatureError::MalformedSignature)?;
    // Accept high-s as well as low-s: the IC does not require normalised signatures
    // (WebAuthn authenticators produce either).
    let sig = sig.normalize_s().unwrap_or(sig);
    key.verify(message, &sig).map_err(|_| SignatureError::Invalid)
}

/// Verifies a secp256k1 `r·s` signature of SHA-256(`message`).
pub fn verify_secp256k1(sec1_public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
    use k256::ecdsa::signature::Verifier;
    let key = k256::ecdsa::VerifyingKey::from_sec1_bytes(sec1_public_key)
        .map_err(|_| SignatureError::MalformedPublicKey)?;
    let sig = k256::ecdsa::Signature::from_slice(signature).map_err(|_| SignatureError::MalformedSignature)?;
    // k256 rejects high-s outright; normalise first so that either form verifies.
    let sig = sig.normalize_s().unwrap_or(sig);
    key.verify(message, &sig).map_err(|_| SignatureError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p256_round_trip_and_tamper() {
        use p256::ecdsa::{signature::Signer, Signature, SigningKey};
        let sk = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let pk = sk.verifying_key().to_encoded_point(false);
        let sig: Signature = sk.sign(b"hello");
        verify_p256(pk.as_bytes(), b"hello", &sig.to_bytes()).unwrap();
        assert_eq!(verify_p256(pk.as_bytes(), b"hellO", &sig.to_bytes()), Err(SignatureError::Invalid));
        assert_eq!(verify_p256(&pk.as_bytes()[1..], b"hello", &sig.to_bytes()), Err(SignatureError::MalformedPublicKey));
        assert_eq!(verify_p256(pk.as_bytes(), b"hello", &[0u8; 64]), Err(SignatureError::MalformedSignature));
    }

    #[test]
    fn secp256k1_accepts_high_s() {
        use k256::ecdsa::{signature::Signer, Signature, SigningKey};
        let sk = SigningKey::from_slice(&[9u8; 32]).unwrap();
        let pk = sk.verifying_key().to_encoded_point(false);
        let sig: Signature = sk.sign(b"hello");
        verify_secp256k1(pk.as_bytes(), b"hello", &sig.to_bytes()).unwrap();
        // (r, n - s) is the same signature in its high-s form.
        let (r, s) = sig.split_scalars();
        let high = Signature::from_scalars(r, -*s).unwrap();
        assert_ne!(high.to_bytes(), sig.to_bytes());
        verify_secp256k1(pk.as_bytes(), b"hello", &high.to_bytes()).unwrap();
        assert_eq!(verify_secp256k1(pk.as_bytes(), b"x", &sig.to_bytes()), Err(SignatureError::Invalid));
    }
}
