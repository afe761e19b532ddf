//! SHA-2 helpers and the IC's domain separators.
//!
//! The IC prefixes every signed or hashed message with a separator whose first byte is its
//! own length; [`domain_separated`] builds those bytes so no caller hand-counts lengths.

use alloc::vec::Vec;
use sha2::Digest;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Hash {
    sha2::Sha256::digest(data).into()
}

/// SHA-224 of `data` (self-authenticating principals).
pub fn sha224(data: &[u8]) -> [u8; 28] {
    sha2::Sha224::digest(data).into()
}

/// An incremental SHA-256, for hashing concatenations without building them.
#[derive(Clone, Default)]
pub struct Sha256(sha2::Sha256);

impl Sha256 {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self(sha2::Sha256::new())
    }
    /// Appends `data`.
    pub fn update(&mut self, data: &[u8]) -> &mut Self {
        self.0.update(data);
        self
    }
    /// The digest of everything appended.
    pub fn finish(self) -> Hash {
        self.0.finalize().into()
    }
}

/// `len(domain) · domain · message`, the IC's domain-separated message. `domain` is at most
/// 255 bytes (all IC separators are short constants).
pub fn domain_separated(domain: &str, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + domain.len() + message.len());
    out.push(domain.len() as u8);
    out.extend_from_slice(domain.as_bytes());
    out.extend_from_slice(message);
    out
}

/// Separators of the messages the IC signs (ic-reference §4), without their length byte.
pub mod domain {
    /// Sender signature over a request id.
    pub const REQUEST: &str = "ic-request";
    /// Signature of a delegation.
    pub const REQUEST_AUTH_DELEGATION: &str = "ic-request-auth-delegation";
    /// Subnet signature over a state tree root.
    pub const STATE_ROOT: &str = "ic-state-root";
    /// Node signature over a query response.
    pub const RESPONSE: &str = "ic-response";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_answer() {
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut h = Sha256::new();
        h.update(b"a").update(b"bc");
        assert_eq!(h.finish(), sha256(b"abc"));
    }

    #[test]
    fn sha224_known_answer() {
        assert_eq!(
            hex::encode(sha224(b"abc")),
            "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"
        );
    }

    #[test]
    fn separators_carry_their_length() {
        assert_eq!(domain_separated(domain::REQUEST, b"x"), b"\x0Aic-requestx");
        assert_eq!(domain_separated(domain::RESPONSE, b""), b"\x0Bic-response");
        assert_eq!(domain_separated(domain::STATE_ROOT, b"").len(), 14);
        assert_eq!(domain_separated(domain::REQUEST_AUTH_DELEGATION, b"")[0], 0x1A);
    }
}
