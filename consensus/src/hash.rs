//! Domain-separated SHA-256: every hash the protocol computes names what it is a hash of, so a
//! value of one kind can never be replayed as another.

use sha2::{Digest as _, Sha256};

/// SHA-256 over a length-prefixed domain tag followed by `parts`.
pub fn hash(domain: &str, parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    // The domain tag is length-prefixed like the IC's domain separators, so no tag is a
    // prefix of another.
    h.update([domain.len() as u8]);
    h.update(domain.as_bytes());
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Plain SHA-256 (no domain), for values whose format is fixed by someone else.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_separate() {
        assert_ne!(hash("a", &[b"bc"]), hash("ab", &[b"c"]));
        assert_eq!(hash("x", &[b"1", b"2"]), hash("x", &[b"12"]));
        // Known answer: SHA-256("abc").
        assert_eq!(sha256(b"abc")[..4], [0xba, 0x78, 0x16, 0xbf]);
    }
}
