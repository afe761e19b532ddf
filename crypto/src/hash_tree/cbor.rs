//! CBOR encoding of hash trees (certificates.cddl): `[0]`, `[1, l, r]`, `[2, label, t]`,
//! `[3, value]`, `[4, hash]`. Decoding is depth-limited: trees come from the network.

use super::HashTree;
use crate::cbor::{CborError, Reader, Writer};

/// Deepest tree [`HashTree::from_cbor`] accepts. Witnesses of the IC's state tree are a
/// few dozen levels deep; the bound keeps recursion (and the stack) small.
pub const MAX_DEPTH: usize = 128;

impl HashTree {
    /// Appends the CBOR encoding (no self-describe tag: trees are embedded in certificates).
    pub fn encode(&self, w: &mut Writer) {
        match self {
            HashTree::Empty => {
                w.array(1).nat(0);
            }
            HashTree::Fork(lr) => {
                w.array(3).nat(1);
                lr.0.encode(w);
                lr.1.encode(w);
            }
            HashTree::Labeled(label, child) => {
                w.array(3).nat(2).bytes(label);
                child.encode(w);
            }
            HashTree::Leaf(value) => {
                w.array(2).nat(3).bytes(value);
            }
            HashTree::Pruned(hash) => {
                w.array(2).nat(4).bytes(hash);
            }
        }
    }

    /// The CBOR encoding as bytes.
    pub fn to_cbor(&self) -> alloc::vec::Vec<u8> {
        let mut w = Writer::new();
        self.encode(&mut w);
        w.into_bytes()
    }

    /// Decodes one tree from `r`.
    pub fn decode(r: &mut Reader<'_>) -> Result<HashTree, CborError> {
        decode_at(r, 0)
    }

    /// Decodes a tree that is the whole of `bytes` (self-describe tag optional).
    pub fn from_cbor(bytes: &[u8]) -> Result<HashTree, CborError> {
        let mut r = Reader::new(bytes);
        r.skip_self_describe()?;
        let t = decode_at(&mut r, 0)?;
        r.finish()?;
        Ok(t)
    }
}

fn decode_at(r: &mut Reader<'_>, depth: usize) -> Result<HashTree, CborError> {
    if depth > MAX_DEPTH {
        return Err(CborError::TooDeep);
    }
    let len = r.array()?;
    let tree = match (r.nat()?, len) {
        (0, 1) => HashTree::Empty,
        (1, 3) => {
            let l = decode_at(r, depth + 1)?;
            let rt = decode_at(r, depth + 1)?;
            HashTree::fork(l, rt)
        }
        (2, 3) => {
            let label = r.bytes()?.to_vec();
            HashTree::labeled(label, decode_at(r, depth + 1)?)
        }
        (3, 2) => HashTree::leaf(r.bytes()?),
        (4, 2) => {
            let hash = r.bytes()?.try_into().map_err(|_| CborError::InvalidValue("pruned hash must be 32 bytes"))?;
            HashTree::Pruned(hash)
        }
        _ => return Err(CborError::InvalidValue("hash tree node")),
    };
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::super::tests::spec_example;
    use super::*;

    /// certification.md's CBOR of the example tree.
    const SPEC_EXAMPLE_CBOR: &str = "8301830183024161830183018302417882034568656c6c6f810083024179820345776f726c6483024162820344676f6f648301830241638100830241648203476d6f726e696e67";

    #[test]
    fn spec_example_encoding() {
        let t = spec_example();
        assert_eq!(hex::encode(t.to_cbor()), SPEC_EXAMPLE_CBOR);
        assert_eq!(HashTree::from_cbor(&hex::decode(SPEC_EXAMPLE_CBOR).unwrap()), Ok(t));
    }

    #[test]
    fn rejects_bad_trees() {
        assert_eq!(HashTree::from_cbor(&[0x82, 0x04, 0x41, 0x00]), Err(CborError::InvalidValue("pruned hash must be 32 bytes")));
        assert_eq!(HashTree::from_cbor(&[0x81, 0x05]), Err(CborError::InvalidValue("hash tree node")));
        assert_eq!(HashTree::from_cbor(&[0x82, 0x00, 0x00]), Err(CborError::InvalidValue("hash tree node")));
        assert_eq!(HashTree::from_cbor(&[0x83, 0x01, 0x81]), Err(CborError::UnexpectedEnd));
        // A fork nested far too deep.
        let mut deep = alloc::vec::Vec::new();
        for _ in 0..10_000 {
            deep.extend_from_slice(&[0x83, 0x01]);
        }
        assert_eq!(HashTree::from_cbor(&deep), Err(CborError::TooDeep));
    }
}
