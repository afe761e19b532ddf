//! The IC's Merkle hash trees (ic-reference §5): the certified state tree, its witnesses
//! and their CBOR encoding.
//!
//! * [`HashTree`]: the five node kinds and their domain-separated root hash
//!   ([`HashTree::digest`]).
//! * [`LabeledTree`]: the plain labeled tree the state layer builds; [`LabeledTree::to_hash_tree`]
//!   turns it into a well-formed hash tree (sorted labels, balanced forks).
//! * [`HashTree::witness`]: a pruned tree that still has the same root hash and reveals
//!   only the requested paths (with absence proofs for missing labels).
//! * [`HashTree::lookup_path`]: the spec's lookup (Found / Absent / Unknown / Error).

mod cbor;
mod labeled;
mod lookup;
mod witness;

pub use labeled::{LabeledTree, LabeledTreeError};
pub use witness::MerkleTree;
pub use lookup::{LookupResult, SubtreeLookup};

use crate::hash::{Hash, Sha256};
use alloc::boxed::Box;
use alloc::vec::Vec;

/// A label of a labeled node: opaque bytes, ordered bytewise.
pub type Label = Vec<u8>;

/// A node of an IC hash tree.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum HashTree {
    /// No children; part of absence proofs.
    Empty,
    /// Two subtrees; labels in the left are all smaller than those in the right.
    Fork(Box<(HashTree, HashTree)>),
    /// A labeled subtree.
    Labeled(Label, Box<HashTree>),
    /// A value.
    Leaf(Vec<u8>),
    /// A subtree replaced by its hash.
    Pruned(Hash),
}

/// `SHA-256(len(domain) · domain · parts…)`, the hash of every node kind.
fn domain_hash(domain: &str, parts: &[&[u8]]) -> Hash {
    let mut h = Sha256::new();
    h.update(&[domain.len() as u8]).update(domain.as_bytes());
    for p in parts {
        h.update(p);
    }
    h.finish()
}

/// Hash of a fork from its children's hashes.
pub(crate) fn fork_hash(left: &Hash, right: &Hash) -> Hash {
    domain_hash("ic-hashtree-fork", &[left, right])
}

/// Hash of a labeled node from its label and its child's hash.
pub(crate) fn labeled_hash(label: &[u8], child: &Hash) -> Hash {
    domain_hash("ic-hashtree-labeled", &[label, child])
}

/// Hash of a leaf.
pub(crate) fn leaf_hash(value: &[u8]) -> Hash {
    domain_hash("ic-hashtree-leaf", &[value])
}

/// Hash of the empty tree.
pub(crate) fn empty_hash() -> Hash {
    domain_hash("ic-hashtree-empty", &[])
}

impl HashTree {
    /// A fork of two subtrees.
    pub fn fork(left: HashTree, right: HashTree) -> HashTree {
        HashTree::Fork(Box::new((left, right)))
    }

    /// A labeled subtree.
    pub fn labeled(label: impl Into<Label>, child: HashTree) -> HashTree {
        HashTree::Labeled(label.into(), Box::new(child))
    }

    /// A leaf.
    pub fn leaf(value: impl Into<Vec<u8>>) -> HashTree {
        HashTree::Leaf(value.into())
    }

    /// The root hash (`reconstruct` in the spec).
    pub fn digest(&self) -> Hash {
        match self {
            HashTree::Empty => empty_hash(),
            HashTree::Fork(lr) => fork_hash(&lr.0.digest(), &lr.1.digest()),
            HashTree::Labeled(label, child) => labeled_hash(label, &child.digest()),
            HashTree::Leaf(value) => leaf_hash(value),
            HashTree::Pruned(hash) => *hash,
        }
    }
}

/// The message a subnet signs to certify a tree with root hash `root`:
/// `\x0Dic-state-root · root`.
pub fn certification_message(root: &Hash) -> Vec<u8> {
    crate::hash::domain_separated(crate::hash::domain::STATE_ROOT, root)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The spec's example tree (certification.md, "Example"):
    /// ```text
    /// ─┬─┬╴"a" ─┬─┬╴"x" ─╴"hello"
    ///  │ │      │ └╴Empty
    ///  │ │      └╴  "y" ─╴"world"
    ///  │ └╴"b" ──╴"good"
    ///  └─┬╴"c" ──╴Empty
    ///    └╴"d" ──╴"morning"
    /// ```
    pub(crate) fn spec_example() -> HashTree {
        use HashTree as T;
        T::fork(
            T::fork(
                T::labeled(
                    b"a".to_vec(),
                    T::fork(
                        T::fork(T::labeled("x", T::leaf("hello")), T::Empty),
                        T::labeled("y", T::leaf("world")),
                    ),
                ),
                T::labeled("b", T::leaf("good")),
            ),
            T::fork(T::labeled("c", T::Empty), T::labeled("d", T::leaf("morning"))),
        )
    }

    pub(crate) const SPEC_EXAMPLE_ROOT: &str = "eb5c5b2195e62d996b84c9bcc8259d19a83786a2f59e0878cec84c811f669aa0";

    #[test]
    fn spec_example_root_hash() {
        assert_eq!(hex::encode(spec_example().digest()), SPEC_EXAMPLE_ROOT);
    }

    #[test]
    fn empty_tree_hash() {
        assert_eq!(
            hex::encode(HashTree::Empty.digest()),
            "4e3ed35c4e2d1ee89996483fb6260a64cffb6c47dbab216e7930e82f8190d120"
        );
    }

    #[test]
    fn pruning_keeps_the_hash() {
        let t = spec_example();
        let HashTree::Fork(lr) = &t else { panic!("fork expected") };
        let pruned = HashTree::fork(HashTree::Pruned(lr.0.digest()), lr.1.clone());
        assert_eq!(pruned.digest(), t.digest());
        let changed = HashTree::fork(lr.0.clone(), HashTree::labeled("c", HashTree::Empty));
        assert_ne!(changed.digest(), t.digest());
    }

    #[test]
    fn matches_ic_certification() {
        use ic_certification::hash_tree as ic;
        let theirs: ic::HashTree<Vec<u8>> = ic::fork(
            ic::fork(
                ic::label(
                    b"a".to_vec(),
                    ic::fork(
                        ic::fork(ic::label(b"x".to_vec(), ic::leaf(b"hello".to_vec())), ic::empty()),
                        ic::label(b"y".to_vec(), ic::leaf(b"world".to_vec())),
                    ),
                ),
                ic::label(b"b".to_vec(), ic::leaf(b"good".to_vec())),
            ),
            ic::fork(ic::label(b"c".to_vec(), ic::empty()), ic::label(b"d".to_vec(), ic::leaf(b"morning".to_vec()))),
        );
        assert_eq!(theirs.digest(), spec_example().digest());
    }
}
