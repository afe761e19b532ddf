//! Witnesses: a hash tree pruned down to the requested paths, with the same root hash.
//!
//! For every requested path the witness reveals the whole subtree under it. Where a label
//! on the path does not exist, it reveals the labeled neighbours on either side (their
//! contents pruned), which is exactly what `lookup` needs to answer `Absent` rather than
//! `Unknown` (the IC replica does the same). Everything else becomes `Pruned`.
//!
//! Cost: pruned subtrees are hashed, so a witness costs one pass over the tree.

use super::{fork_hash, HashTree, Label};
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

/// What to do with one labeled node of a level.
#[derive(Clone, Copy)]
enum Mark<'s> {
    Prune,
    /// Keep the label, prune the contents (absence proof).
    Neighbour,
    Descend(&'s Selection),
}

/// The labels of one level, in order (forks flattened).
fn level_labels(tree: &HashTree) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut stack = alloc::vec![tree];
    while let Some(t) = stack.pop() {
        match t {
            HashTree::Fork(lr) => {
                stack.push(&lr.1);
                stack.push(&lr.0);
            }
            HashTree::Labeled(l, _) => out.push(l.as_slice()),
            _ => {}
        }
    }
    out
}

fn prune(tree: &HashTree, selection: &Selection) -> HashTree {
    let children = match selection {
        Selection::All => return tree.clone(),
        Selection::Some(children) => children,
    };
    match tree {
        HashTree::Empty => HashTree::Empty,
        // A path that continues below a leaf: the leaf itself proves the absence.
        HashTree::Leaf(_) if !children.is_empty() => tree.clone(),
        HashTree::Leaf(_) | HashTree::Pruned(_) => HashTree::Pruned(tree.digest()),
        HashTree::Fork(_) | HashTree::Labeled(..) => {
            let labels = level_labels(tree);
            let mut marks = alloc::vec![Mark::Prune; labels.len()];
            for (label, sub) in children {
                match labels.binary_search(&label.as_slice()) {
                    Ok(i) => marks[i] = Mark::Descend(sub),
                    Err(p) => {
                        for i in [p.checked_sub(1), Some(p)].into_iter().flatten() {
                            if let Some(m @ Mark::Prune) = marks.get_mut(i) {
                                *m = Mark::Neighbour;
                            }
                        }
                    }
                }
            }
            rebuild(tree, &marks, &mut 0).0
        }
    }
}

/// Rebuilds one level, consuming `marks` in label order; returns whether anything in the
/// subtree was kept (so untouched forks collapse into one `Pruned`).
fn rebuild(tree: &HashTree, marks: &[Mark<'_>], next: &mut usize) -> (HashTree, bool) {
    match tree {
        HashTree::Fork(lr) => {
            let (l, keep_l) = rebuild(&lr.0, marks, next);
            let (r, keep_r) = rebuild(&lr.1, marks, next);
            if keep_l || keep_r {
                (HashTree::fork(l, r), true)
            } else {
                (HashTree::Pruned(fork_hash(&l.digest(), &r.digest())), false)
            }
        }
        HashTree::Labeled(label, child) => {
            let mark = marks.get(*next).copied().unwrap_or(Mark::Prune);
            *next += 1;
            match mark {
                Mark::Prune => (HashTree::Pruned(tree.digest()), false),
                Mark::Neighbour => (HashTree::labeled(label.clone(), HashTree::Pruned(child.digest())), true),
                Mark::Descend(sub) => (HashTree::labeled(label.clone(), prune(child, sub)), true),
            }
        }
        HashTree::Empty => (HashTree::Empty, false),
        HashTree::Leaf(_) | HashTree::Pruned(_) => (HashTree::Pruned(tree.digest()), false),
    }
}

impl HashTree {
    /// The witness of this tree for `paths` (see the module docs). Its digest equals
    /// `self.digest()`. No paths give a single `Pruned` root.
    pub fn witness<P: AsRef<[L]>, L: AsRef<[u8]>>(&self, paths: &[P]) -> HashTree {
        prune(self, &Selection::from_paths(paths))
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
}
