//! DER SubjectPublicKeyInfo encodings of the keys the IC uses (ic-reference §4).
//!
//! The keys all have fixed sizes, so DER's canonical encoding makes each SPKI a fixed
//! prefix followed by the raw key: matching the exact prefix *is* strict DER parsing
//! (any other length form or parameter encoding is rejected), and it is how ic-agent and
//! agent-js treat these keys as well.

use alloc::vec::Vec;

/// `SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (32 B) }`.
const ED25519_PREFIX: [u8; 12] = hex_literal(b"302a300506032b6570032100");
/// `SEQUENCE { SEQUENCE { OID ecPublicKey, OID prime256v1 }, BIT STRING (65 B) }`.
const P256_PREFIX: [u8; 26] = hex_literal(b"3059301306072a8648ce3d020106082a8648ce3d030107034200");
/// `SEQUENCE { SEQUENCE { OID ecPublicKey, OID secp256k1 }, BIT STRING (65 B) }`.
const SECP256K1_PREFIX: [u8; 23] = hex_literal(b"3056301006072a8648ce3d020106052b8104000a034200");
/// `SEQUENCE { SEQUENCE { OID 1.3.6.1.4.1.44668.5.3.1.2.1, OID …5.3.2.1 }, BIT STRING (96 B) }`.
const BLS_PREFIX: [u8; 37] =
    hex_literal(b"308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100");
/// DER of OID 1.3.6.1.4.1.56387.1.1 (WebAuthn COSE keys).
const WEBAUTHN_OID: [u8; 12] = hex_literal(b"060a2b0601040183b8430101");
/// DER of OID 1.3.6.1.4.1.56387.1.2 (canister signatures).
const CANISTER_SIG_OID: [u8; 12] = hex_literal(b"060a2b0601040183b8430102");

/// Length of an Ed25519 SPKI.
pub const ED25519_DER_LEN: usize = ED25519_PREFIX.len() + 32;
/// Length of a BLS12-381 G2 public key SPKI (the root key in `/api/v2/status`).
pub const BLS_DER_LEN: usize = BLS_PREFIX.len() + 96;

/// Decodes an even-length ASCII hex literal at compile time.
const fn hex_literal<const N: usize>(hex: &[u8]) -> [u8; N] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lower-case hex digit"),
        }
    }
    assert!(hex.len() == 2 * N);
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]);
        i += 1;
    }
    out
}

/// A sender or node public key, recognised from its DER SPKI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// Raw 32-byte Ed25519 key.
    Ed25519([u8; 32]),
    /// SEC1 uncompressed P-256 point (65 bytes, `04·X·Y`).
    EcdsaP256(Vec<u8>),
    /// SEC1 uncompressed secp256k1 point (65 bytes, `04·X·Y`).
    EcdsaSecp256k1(Vec<u8>),
    /// Compressed BLS12-381 G2 point.
    Bls([u8; 96]),
}

/// Why DER key bytes were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DerError {
    /// Not one of the SPKI encodings above.
    Malformed,
    /// A WebAuthn key: well-known, but this node does not verify WebAuthn senders.
    UnsupportedWebAuthn,
    /// A canister-signature key: well-known, but not verified by this node.
    UnsupportedCanisterSignature,
}

impl core::fmt::Display for DerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            DerError::Malformed => "malformed or unknown DER public key",
            DerError::UnsupportedWebAuthn => "WebAuthn public keys are not supported",
            DerError::UnsupportedCanisterSignature => "canister signature public keys are not supported",
        })
    }
}

/// `prefix · key` if `der` has exactly that shape.
fn strip<'a>(der: &'a [u8], prefix: &[u8], key_len: usize) -> Option<&'a [u8]> {
    der.strip_prefix(prefix).filter(|key| key.len() == key_len)
}

/// Parses a DER SubjectPublicKeyInfo.
pub fn parse_public_key(der: &[u8]) -> Result<PublicKey, DerError> {
    if let Some(k) = strip(der, &ED25519_PREFIX, 32) {
        let mut key = [0u8; 32];
        key.copy_from_slice(k);
        return Ok(PublicKey::Ed25519(key));
    }
    if let Some(k) = strip(der, &P256_PREFIX, 65).filter(|k| k[0] == 4) {
        return Ok(PublicKey::EcdsaP256(k.to_vec()));
    }
    if let Some(k) = strip(der, &SECP256K1_PREFIX, 65).filter(|k| k[0] == 4) {
        return Ok(PublicKey::EcdsaSecp256k1(k.to_vec()));
    }
    if let Ok(key) = parse_bls_public_key(der) {
        return Ok(PublicKey::Bls(key));
    }
    // Both special OIDs sit right after the two SEQUENCE headers (at most 4+2 bytes in).
    let head = &der[..der.len().min(6 + WEBAUTHN_OID.len())];
    let contains = |oid: &[u8]| head.windows(oid.len()).any(|w| w == oid);
    if contains(&WEBAUTHN_OID) {
        Err(DerError::UnsupportedWebAuthn)
    } else if contains(&CANISTER_SIG_OID) {
        Err(DerError::UnsupportedCanisterSignature)
    } else {
        Err(DerError::Malformed)
    }
}

/// The 44-byte SPKI of a raw Ed25519 key.
pub fn ed25519_der(key: &[u8; 32]) -> [u8; ED25519_DER_LEN] {
    let mut out = [0u8; ED25519_DER_LEN];
    out[..ED25519_PREFIX.len()].copy_from_slice(&ED25519_PREFIX);
    out[ED25519_PREFIX.len()..].copy_from_slice(key);
    out
}

/// The 133-byte SPKI of a compressed BLS12-381 G2 public key (root / subnet key).
pub fn bls_der(key: &[u8; 96]) -> [u8; BLS_DER_LEN] {
    let mut out = [0u8; BLS_DER_LEN];
    out[..BLS_PREFIX.len()].copy_from_slice(&BLS_PREFIX);
    out[BLS_PREFIX.len()..].copy_from_slice(key);
    out
}

/// The compressed G2 key inside a 133-byte BLS SPKI.
pub fn parse_bls_public_key(der: &[u8]) -> Result<[u8; 96], DerError> {
    let k = strip(der, &BLS_PREFIX, 96).ok_or(DerError::Malformed)?;
    let mut key = [0u8; 96];
    key.copy_from_slice(k);
    Ok(key)
}

/// The SPKI of a SEC1 uncompressed P-256 point (test and tooling helper).
pub fn p256_der(sec1_uncompressed: &[u8; 65]) -> Vec<u8> {
    [&P256_PREFIX[..], &sec1_uncompressed[..]].concat()
}

/// The SPKI of a SEC1 uncompressed secp256k1 point (test and tooling helper).
pub fn secp256k1_der(sec1_uncompressed: &[u8; 65]) -> Vec<u8> {
    [&SECP256K1_PREFIX[..], &sec1_uncompressed[..]].concat()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The mainnet root key as shipped by ic-agent.
    pub(crate) const MAINNET_ROOT_KEY: &str = "308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100814c0e6ec71fab583b08bd81373c255c3c371b2e84863c98a4f1e08b74235d14fb5d9c0cd546d9685f913a0c0b2cc5341583bf4b4392e467db96d65b9bb4cb717112f8472e0d5a4d14505ffd7484b01291091c5f87b98883463f98091a0baaae";

    #[test]
    fn ed25519_round_trip() {
        let der = ed25519_der(&[5u8; 32]);
        assert_eq!(der.len(), 44);
        assert_eq!(parse_public_key(&der), Ok(PublicKey::Ed25519([5u8; 32])));
        assert_eq!(parse_public_key(&der[..43]), Err(DerError::Malformed));
    }

    #[test]
    fn bls_root_key() {
        let der = hex::decode(MAINNET_ROOT_KEY).unwrap();
        assert_eq!(der.len(), 133);
        let key = parse_bls_public_key(&der).unwrap();
        assert_eq!(bls_der(&key).as_slice(), der.as_slice());
        assert!(matches!(parse_public_key(&der), Ok(PublicKey::Bls(_))));
    }

    #[test]
    fn ecdsa_keys() {
        let mut point = [1u8; 65];
        point[0] = 4;
        assert_eq!(p256_der(&point).len(), 91);
        assert_eq!(secp256k1_der(&point).len(), 88);
        assert_eq!(parse_public_key(&p256_der(&point)), Ok(PublicKey::EcdsaP256(point.to_vec())));
        assert_eq!(parse_public_key(&secp256k1_der(&point)), Ok(PublicKey::EcdsaSecp256k1(point.to_vec())));
        point[0] = 2; // compressed-point tag with an uncompressed length
        assert_eq!(parse_public_key(&p256_der(&point)), Err(DerError::Malformed));
    }

    #[test]
    fn special_oids_are_recognised() {
        let webauthn = [&hex_literal::<4>(b"305e300c")[..], &WEBAUTHN_OID, &[0x03, 0x4e, 0x00]].concat();
        assert_eq!(parse_public_key(&webauthn), Err(DerError::UnsupportedWebAuthn));
        let canister = [&hex_literal::<4>(b"303c300c")[..], &CANISTER_SIG_OID, &[0x03, 0x2c, 0x00, 0x0a]].concat();
        assert_eq!(parse_public_key(&canister), Err(DerError::UnsupportedCanisterSignature));
        assert_eq!(parse_public_key(&[]), Err(DerError::Malformed));
    }
}
