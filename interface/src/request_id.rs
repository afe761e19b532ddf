//! Request ids: the representation-independent hash of a request's content (ic-reference §3).
//!
//! `hash_of_map(m) = H(concat(sort([H(key) · hv(value) for each present field])))`, with
//! blobs and texts hashed as bytes, nats as shortest ULEB128, ints as shortest SLEB128,
//! arrays as the hash of their elements' hashes concatenated, maps recursively. The same
//! function hashes delegations and query responses.

use alloc::vec::Vec;
use core::fmt;
use keel_crypto::hash::{sha256, Hash, Sha256};

/// A value as the representation-independent hash sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// Byte string.
    Blob(&'a [u8]),
    /// UTF-8 text.
    Text(&'a str),
    /// Natural number.
    Nat(u64),
    /// Signed integer.
    Int(i64),
    /// Array of values.
    Array(Vec<Value<'a>>),
    /// Map with text keys.
    Map(Vec<(&'a str, Value<'a>)>),
}

/// Shortest unsigned LEB128 of `n`.
pub fn uleb128(mut n: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(10);
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Shortest signed LEB128 of `n`.
pub fn sleb128(mut n: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(10);
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7; // arithmetic shift keeps the sign
        let done = (n == 0 && byte & 0x40 == 0) || (n == -1 && byte & 0x40 != 0);
        if done {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// `hv(value)`.
pub fn hash_value(value: &Value<'_>) -> Hash {
    match value {
        Value::Blob(b) => sha256(b),
        Value::Text(t) => sha256(t.as_bytes()),
        Value::Nat(n) => sha256(&uleb128(*n)),
        Value::Int(i) => sha256(&sleb128(*i)),
        Value::Array(items) => {
            let mut h = Sha256::new();
            for item in items {
                h.update(&hash_value(item));
            }
            h.finish()
        }
        Value::Map(fields) => hash_of_map(fields),
    }
}

/// `hash_of_map` of the present fields.
pub fn hash_of_map(fields: &[(&str, Value<'_>)]) -> Hash {
    let mut pairs: Vec<[u8; 64]> = fields
        .iter()
        .map(|(k, v)| {
            let mut pair = [0u8; 64];
            pair[..32].copy_from_slice(&sha256(k.as_bytes()));
            pair[32..].copy_from_slice(&hash_value(v));
            pair
        })
        .collect();
    pairs.sort_unstable();
    let mut h = Sha256::new();
    for p in &pairs {
        h.update(p);
    }
    h.finish()
}

/// The id of a request: `hash_of_map(content)`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub [u8; 32]);

impl RequestId {
    /// The request id with these bytes, if there are exactly 32.
    pub fn from_slice(bytes: &[u8]) -> Option<RequestId> {
        bytes.try_into().ok().map(RequestId)
    }
    /// The raw bytes (the label under `/request_status`).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    /// The bytes the sender signs: `\x0Aic-request · rid`.
    pub fn signable(&self) -> Vec<u8> {
        keel_crypto::hash::domain_separated(keel_crypto::hash::domain::REQUEST, &self.0)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_examples() {
        assert_eq!(uleb128(0), [0x00]);
        assert_eq!(uleb128(624485), [0xe5, 0x8e, 0x26]);
        assert_eq!(uleb128(1685570400000000000), hex::decode("8080a7bf92ab96b217").unwrap());
        assert_eq!(uleb128(u64::MAX).len(), 10);
        assert_eq!(sleb128(-123456), [0xc0, 0xbb, 0x78]);
        assert_eq!(sleb128(0), [0x00]);
        assert_eq!(sleb128(-1), [0x7f]);
        assert_eq!(sleb128(63), [0x3f]);
        assert_eq!(sleb128(64), [0xc0, 0x00]);
        assert_eq!(sleb128(-64), [0x40]);
        assert_eq!(sleb128(-65), [0xbf, 0x7f]);
    }

    /// The official request id vector of the spec (ic-reference §3).
    #[test]
    fn spec_request_id_vector() {
        let canister = [0, 0, 0, 0, 0, 0, 0x04, 0xD2];
        let fields = [
            ("request_type", Value::Text("call")),
            ("sender", Value::Blob(&[0x04])),
            ("ingress_expiry", Value::Nat(1685570400000000000)),
            ("canister_id", Value::Blob(&canister)),
            ("method_name", Value::Text("hello")),
            ("arg", Value::Blob(b"DIDL\x00\xFD*")),
        ];
        assert_eq!(
            RequestId(hash_of_map(&fields)).to_string(),
            "1d1091364d6bb8a6c16b203ee75467d59ead468f523eb058880ae8ec80e2b101"
        );
        // Field order does not matter.
        let mut reversed = fields.to_vec();
        reversed.reverse();
        assert_eq!(hash_of_map(&reversed), hash_of_map(&fields));
        assert!(hex::encode(sha256(&[0x04])).starts_with("e52d9c50"));
    }

    #[test]
    fn arrays_hash_their_element_hashes() {
        let paths = Value::Array(alloc::vec![Value::Array(alloc::vec![Value::Blob(b"time")])]);
        let inner = sha256(&sha256(b"time"));
        assert_eq!(hash_value(&paths), sha256(&inner));
        assert_eq!(hash_value(&Value::Array(alloc::vec![])), sha256(b""));
    }
}
