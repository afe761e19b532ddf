//! Witnesses: a hash tree pruned down to the requested paths, with the same root hash.
//!
//! For every requested path the witness reveals the whole subtree under it. Where a label
//! on the path does not exist, it reveals the labeled neighbours on either side (their
//! contents pruned), which is exactly what `lookup` needs to answer `Absent` rather than
//! `Unknown` (the IC replica does the same). Everything else becomes `Pruned`.
//!
//! [`MerkleTree`] memoizes every node's digest and the label range under every fork, so a
//! certified state is hashed once and each witness then costs time proportional to what
//! it reveals times the depth, not to the size of the state (thousands of calls per
//! second each want a `/request_status` witness).

use super::{empty_hash, fork_hash, labeled_hash, leaf_hash, HashTree, Label};
use crate::hash::Hash;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// The requested paths as a trie.
#[derive(Debug)]
enum Selection {
    /// Reveal the whole subtree.
    All,
    /// Reveal only these children (and neighbours of missing ones).
    Some(BTreeMap<Label, Selection>),
}

impl Selection {
    fn from_paths<P: AsRef<[L]>, L: AsRef<[u8]>>(paths: &[P]) -> Selection {
        let mut root = Selection::Some(BTreeMap::new());
        for path in paths {
            let mut node = &mut root;
            for label in path.as_ref() {
                match node {
                    Selection::All => break,
                    Selection::Some(children) => {
                        node = children
                            .entry(label.as_ref().to_vec())
                            .or_insert_with(|| Selection::Some(BTreeMap::new()));
                    }
                }
            }
            *node = Selection::All;
        }
        root
    }
}

/// A node with its digest; forks also know the smallest and largest label beneath them
/// (within the same level).
#[derive(Debug, Clone)]
enum Node {
    Empty,
    Fork { digest: Hash, range: Option<(Label, Label)>, children: Box<(Node, Node)> },
    Labeled { digest: Hash, label: Label, child: Box<Node> },
    Leaf { digest: Hash, value: Vec<u8> },
    Pruned(Hash),
}

/// A hash tree with memoized digests, for cutting many witnesses out of one state.
#[derive(Debug, Clone)]
pub struct MerkleTree(Node);

impl Node {
    fn new(tree: &HashTree) -> Node {
        match tree {
            HashTree::Empty => Node::Empty,
            HashTree::Fork(lr) => {
                let (l, r) = (Node::new(&lr.0), Node::new(&lr.1));
                let range = match (l.range(), r.range()) {
                    (Some((lo, _)), Some((_, hi))) | (Some((lo, hi)), None) | (None, Some((lo, hi))) => {
                        Some((lo.clone(), hi.clone()))
                    }
                    (None, None) => None,
                };
                Node::Fork { digest: fork_hash(&l.digest(), &r.digest()), range, children: Box::new((l, r)) }
            }
            HashTree::Labeled(label, child) => {
                let child = Node::new(child);
                Node::Labeled { digest: labeled_hash(label, &child.digest()), label: label.clone(), child: Box::new(child) }
            }
            HashTree::Leaf(v) => Node::Leaf { digest: leaf_hash(v), value: v.clone() },
            HashTree::Pruned(h) => Node::Pruned(*h),
        }
    }

    fn digest(&self) -> Hash {
        match self {
            Node::Empty => empty_hash(),
            Node::Fork { digest, .. } | Node::Labeled { digest, .. } | Node::Leaf { digest, .. } => *digest,
            Node::Pruned(h) => *h,
        }
    }

    /// Smallest and largest label of this level under the node.
    fn range(&self) -> Option<(&Label, &Label)> {
        match self {
            Node::Fork { range, .. } => range.as_ref().map(|(lo, hi)| (lo, hi)),
            Node::Labeled { label, .. } => Some((label, label)),
            _ => None,
        }
    }

    fn to_hash_tree(&self) -> HashTree {
        match self {
            Node::Empty => HashTree::Empty,
            Node::Fork { children, .. } => HashTree::fork(children.0.to_hash_tree(), children.1.to_hash_tree()),
            Node::Labeled { label, child, .. } => HashTree::labeled(label.clone(), child.to_hash_tree()),
            Node::Leaf { value, .. } => HashTree::Leaf(value.clone()),
            Node::Pruned(h) => HashTree::Pruned(*h),
        }
    }

    /// Finds the labeled node `label` on this level.
    fn find(&self, label: &[u8]) -> Option<&Node> {
        match self {
            Node::Labeled { label: l, child, .. } if l.as_slice() == label => Some(child),
            Node::Fork { range: Some((lo, hi)), children, .. } if lo.as_slice() <= label && label <= hi.as_slice() => {
                children.0.find(label).or_else(|| children.1.find(label))
            }
            _ => None,
        }
    }

    /// The largest label below `x` on this level.
    fn predecessor(&self, x: &[u8]) -> Option<&Label> {
        match self {
            Node::Labeled { label, .. } => (label.as_slice() < x).then_some(label),
            Node::Fork { children, .. } => match children.1.range() {
                Some((lo, _)) if lo.as_slice() < x => children.1.predecessor(x),
                _ => children.0.predecessor(x),
            },
            _ => None,
        }
    }

    /// The smallest label above `x` on this level.
    fn successor(&self, x: &[u8]) -> Option<&Label> {
        match self {
            Node::Labeled { label, .. } => (label.as_slice() > x).then_some(label),
            Node::Fork { children, .. } => match children.0.range() {
                Some((_, hi)) if hi.as_slice() > x => children.0.successor(x),
                _ => children.1.successor(x),
            },
            _ => None,
        }
    }
}

/// What to reveal of one labeled node.
#[derive(Clone, Copy)]
enum Reveal<'s> {
    /// The label with its contents pruned (absence proof).
    Neighbour,
    /// The label and the selected part of its contents.
    Descend(&'s Selection),
}

fn prune(node: &Node, selection: &Selection) -> HashTree {
    let children = match selection {
        Selection::All => return node.to_hash_tree(),
        Selection::Some(children) => children,
    };
    match node {
        Node::Empty => HashTree::Empty,
        // A path that continues below a leaf: the leaf itself proves the absence.
        Node::Leaf { .. } if !children.is_empty() => node.to_hash_tree(),
        Node::Leaf { .. } | Node::Pruned(_) => HashTree::Pruned(node.digest()),
        Node::Fork { .. } | Node::Labeled { .. } => {
            let mut reveal: BTreeMap<&[u8], Reveal<'_>> = BTreeMap::new();
            for (label, sub) in children {
                if node.find(label).is_some() {
                    reveal.insert(label, Reveal::Descend(sub));
                } else {
                    for n in [node.predecessor(label), node.successor(label)].into_iter().flatten() {
                        reveal.entry(n).or_insert(Reveal::Neighbour);
                    }
                }
            }
            let targets: Vec<(&[u8], Reveal<'_>)> = reveal.into_iter().collect();
            rebuild(node, &targets)
        }
    }
}

/// Rebuilds one level keeping exactly `targets` (sorted labels present on this level);
/// subtrees without targets collapse into their memoized digest.
fn rebuild(node: &Node, targets: &[(&[u8], Reveal<'_>)]) -> HashTree {
    if targets.is_empty() {
        return match node {
            Node::Empty => HashTree::Empty,
            other => HashTree::Pruned(other.digest()),
        };
    }
    match node {
        Node::Fork { children, .. } => {
            let split = match children.0.range() {
                Some((_, hi)) => targets.partition_point(|(l, _)| *l <= hi.as_slice()),
                None => 0,
            };
            HashTree::fork(rebuild(&children.0, &targets[..split]), rebuild(&children.1, &targets[split..]))
        }
        Node::Labeled { label, child, .. } => match targets[0].1 {
            Reveal::Neighbour => HashTree::labeled(label.clone(), HashTree::Pruned(child.digest())),
            Reveal::Descend(sub) => HashTree::labeled(label.clone(), prune(child, sub)),
        },
        other => HashTree::Pruned(other.digest()),
    }
}

impl MerkleTree {
    /// Hashes `tree` once, keeping every digest.
    pub fn new(tree: &HashTree) -> MerkleTree {
        MerkleTree(Node::new(tree))
    }

    /// The root hash.
    pub fn digest(&self) -> Hash {
        self.0.digest()
    }

    /// The full tree.
    pub fn to_hash_tree(&self) -> HashTree {
        self.0.to_hash_tree()
    }

    /// The leaf value at `path`, found in O(depth) through the fork label ranges; `None` if
    /// the path does not end at a leaf (absent, pruned, or an inner node).
    pub fn lookup_value<L: AsRef<[u8]>>(&self, path: &[L]) -> Option<&[u8]> {
        let mut node = &self.0;
        for label in path {
            node = node.find(label.as_ref())?;
        }
        match node {
            Node::Leaf { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The witness for `paths` (see the module docs). Its digest equals the tree's; no
    /// paths give a single `Pruned` root.
    pub fn witness<P: AsRef<[L]>, L: AsRef<[u8]>>(&self, paths: &[P]) -> HashTree {
        prune(&self.0, &Selection::from_paths(paths))
    }
}

impl HashTree {
    /// The witness of this tree for `paths`. Hashes the whole tree; to cut several
    /// witnesses from one tree, build a [`MerkleTree`] once instead.
    pub fn witness<P: AsRef<[L]>, L: AsRef<[u8]>>(&self, paths: &[P]) -> HashTree {
        MerkleTree::new(self).witness(paths)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::spec_example;
    use super::super::{LabeledTree, LookupResult};
    use super::*;

    #[test]
    fn witness_reveals_requested_and_proves_absence() {
        let t = spec_example();
        let w = t.witness(&[&["a", "y"][..], &["bb"], &["c", "q"]]);
        assert_eq!(w.digest(), t.digest());
        assert_eq!(w.lookup_path(&["a", "y"]), LookupResult::Found(b"world"));
        assert_eq!(w.lookup_path(&["bb"]), LookupResult::Absent);
        assert_eq!(w.lookup_path(&["c", "q"]), LookupResult::Absent);
        // Not requested: hidden.
        assert_eq!(w.lookup_path(&["a", "x"]), LookupResult::Unknown);
        assert_eq!(w.lookup_path(&["d"]), LookupResult::Unknown);
        // The neighbour "b" is revealed as a label only.
        assert_eq!(w.lookup_path(&["b"]), LookupResult::Unknown);
    }

    #[test]
    fn prefix_reveals_whole_subtree_and_no_paths_prune_all() {
        let t = spec_example();
        let w = t.witness(&[&["a"][..]]);
        assert_eq!(w.lookup_path(&["a", "x"]), LookupResult::Found(b"hello"));
        assert_eq!(w.lookup_path(&["a", "y"]), LookupResult::Found(b"world"));
        assert_eq!(w.lookup_path(&["d"]), LookupResult::Unknown);
        let none: &[&[&str]] = &[];
        assert_eq!(t.witness(none), HashTree::Pruned(t.digest()));
    }

    #[test]
    fn absence_at_the_edges_of_a_large_level() {
        let mut lt = LabeledTree::new();
        for i in 10u8..60 {
            lt.insert(&[[i]], LabeledTree::Leaf(alloc::vec![i])).unwrap();
        }
        let t = lt.to_hash_tree();
        for probe in [0u8, 9, 60, 200, 33] {
            let w = t.witness(&[[[probe]]]);
            assert_eq!(w.digest(), t.digest());
            let expected = if (10..60).contains(&probe) {
                LookupResult::Found(core::slice::from_ref(&probe))
            } else {
                LookupResult::Absent
            };
            assert_eq!(w.lookup_path(&[[probe]]), expected, "probe {probe}");
            // Other labels stay hidden (or absent beyond the edges).
            assert_ne!(w.lookup_path(&[[35u8]]), LookupResult::Found(&[35]), "probe {probe}");
        }
        // A missing label between present ones.
        let mut lt = LabeledTree::new();
        for i in (0u8..100).step_by(2) {
            lt.insert(&[[i]], LabeledTree::Leaf(alloc::vec![i])).unwrap();
        }
        let t = lt.to_hash_tree();
        for probe in (1u8..100).step_by(2) {
            let w = t.witness(&[[[probe]]]);
            assert_eq!(w.lookup_path(&[[probe]]), LookupResult::Absent, "probe {probe}");
        }
    }

    #[test]
    fn accepted_by_ic_certification_lookups() {
        use ic_certification::LookupResult as Theirs;
        let mut lt = LabeledTree::new();
        lt.insert(&["time"], LabeledTree::Leaf(alloc::vec![1, 2])).unwrap();
        lt.insert(&["request_status", "r1", "status"], LabeledTree::Leaf(b"replied".to_vec())).unwrap();
        lt.insert(&["request_status", "r3", "status"], LabeledTree::Leaf(b"received".to_vec())).unwrap();
        let w = lt.to_hash_tree().witness(&[&["time"][..], &["request_status", "r2"], &["request_status", "r1"]]);
        let theirs: ic_certification::HashTree = serde_cbor_roundtrip(&w);
        assert_eq!(theirs.digest(), lt.to_hash_tree().digest());
        assert_eq!(theirs.lookup_path([b"time".as_slice()]), Theirs::Found(&[1, 2][..]));
        assert_eq!(theirs.lookup_path([&b"request_status"[..], b"r2", b"status"]), Theirs::Absent);
        assert_eq!(theirs.lookup_path([&b"request_status"[..], b"r1", b"status"]), Theirs::Found(&b"replied"[..]));
        assert_eq!(theirs.lookup_path([&b"request_status"[..], b"r3", b"status"]), Theirs::Unknown);
    }

    /// Our CBOR decoded by ic-certification's serde implementation.
    fn serde_cbor_roundtrip(tree: &HashTree) -> ic_certification::HashTree {
        serde_cbor::from_slice(&tree.to_cbor()).unwrap()
    }

    /// Random trees and random (present and absent) paths: the witness has the tree's
    /// root hash and answers every requested path exactly as the full tree does.
    #[test]
    fn random_witnesses_agree_with_the_full_tree() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for _ in 0..200 {
            let mut lt = LabeledTree::new();
            for _ in 0..next(40) {
                let path: Vec<Vec<u8>> = (0..1 + next(3)).map(|_| alloc::vec![next(12) as u8]).collect();
                let _ = lt.insert(&path, LabeledTree::Leaf(alloc::vec![next(256) as u8]));
            }
            let tree = lt.to_hash_tree();
            let merkle = MerkleTree::new(&tree);
            assert_eq!(merkle.to_hash_tree(), tree);
            let paths: Vec<Vec<Vec<u8>>> =
                (0..1 + next(4)).map(|_| (0..1 + next(3)).map(|_| alloc::vec![next(14) as u8]).collect()).collect();
            let w = merkle.witness(&paths);
            assert_eq!(w.digest(), tree.digest());
            for p in &paths {
                let found = match tree.lookup_path(p) {
                    LookupResult::Found(v) => Some(v),
                    _ => None,
                };
                assert_eq!(merkle.lookup_value(p), found, "path {p:?}");
                match tree.lookup_path(p) {
                    LookupResult::Error => {}
                    expected => assert_eq!(w.lookup_path(p), expected, "path {p:?}"),
                }
            }
        }
    }
}
