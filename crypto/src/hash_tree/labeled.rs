//! The plain labeled tree the state layer builds, and its conversion into a well-formed
//! hash tree: at each level, labeled nodes in strictly increasing label order, joined by a
//! balanced binary tree of forks. Every node of a subnet must build the same shape to
//! get the same root hash, so the shape is defined here once.

use super::{HashTree, Label};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// A labeled tree: leaves carry values, inner nodes map labels (bytewise order) to children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabeledTree {
    /// A value.
    Leaf(Vec<u8>),
    /// Labeled children; an empty map hashes as `Empty`.
    SubTree(BTreeMap<Label, LabeledTree>),
}

/// Why [`LabeledTree::insert`] refused a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabeledTreeError {
    /// A prefix of the path is already a leaf.
    PathThroughLeaf,
    /// The path is empty (the root cannot be a leaf of an inner tree).
    EmptyPath,
}

impl Default for LabeledTree {
    fn default() -> Self {
        LabeledTree::SubTree(BTreeMap::new())
    }
}

impl LabeledTree {
    /// An empty inner node.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the value at `path`, creating inner nodes on the way; replaces an existing
    /// value or subtree at that exact path.
    pub fn insert<L: AsRef<[u8]>>(&mut self, path: &[L], value: LabeledTree) -> Result<(), LabeledTreeError> {
        let (last, prefix) = path.split_last().ok_or(LabeledTreeError::EmptyPath)?;
        let mut node = self;
        for label in prefix {
            let LabeledTree::SubTree(children) = node else {
                return Err(LabeledTreeError::PathThroughLeaf);
            };
            node = children.entry(label.as_ref().to_vec()).or_default();
        }
        match node {
            LabeledTree::SubTree(children) => {
                children.insert(last.as_ref().to_vec(), value);
                Ok(())
            }
            LabeledTree::Leaf(_) => Err(LabeledTreeError::PathThroughLeaf),
        }
    }

    /// The well-formed hash tree of this tree (same shape on every node).
    pub fn to_hash_tree(&self) -> HashTree {
        match self {
            LabeledTree::Leaf(v) => HashTree::Leaf(v.clone()),
            LabeledTree::SubTree(children) => {
                let items: Vec<(&Label, &LabeledTree)> = children.iter().collect();
                balanced_forks(&items, &|(label, child)| HashTree::labeled((*label).clone(), child.to_hash_tree()))
            }
        }
    }
}

/// Joins `items` (already in label order) by a balanced binary tree of forks; no items
/// give `Empty`. The split point is `len / 2`.
pub(crate) fn balanced_forks<T>(items: &[T], node: &impl Fn(&T) -> HashTree) -> HashTree {
    match items {
        [] => HashTree::Empty,
        [one] => node(one),
        _ => {
            let (left, right) = items.split_at(items.len() / 2);
            HashTree::fork(balanced_forks(left, node), balanced_forks(right, node))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::LookupResult;
    use super::*;

    fn leaf(v: &str) -> LabeledTree {
        LabeledTree::Leaf(v.as_bytes().to_vec())
    }

    #[test]
    fn builds_lookupable_well_formed_trees() {
        let mut t = LabeledTree::new();
        for (i, name) in ["time", "subnet", "request_status", "canister", "api_boundary_nodes"].iter().enumerate() {
            t.insert(&[*name, "value"], leaf(&alloc::format!("{i}"))).unwrap();
        }
        t.insert(&["canister", "empty"], LabeledTree::new()).unwrap();
        let h = t.to_hash_tree();
        assert_eq!(h.lookup_path(&["time", "value"]), LookupResult::Found(b"0"));
        assert_eq!(h.lookup_path(&["api_boundary_nodes", "value"]), LookupResult::Found(b"4"));
        assert_eq!(h.lookup_path(&["canister", "empty"]), LookupResult::Absent); // an empty subtree
        assert_eq!(h.lookup_path(&["canister"]), LookupResult::Error);
        assert_eq!(h.lookup_path(&["canister", "empty", "x"]), LookupResult::Absent);
        assert_eq!(h.lookup_path(&["zzz"]), LookupResult::Absent);
        assert_eq!(LabeledTree::new().to_hash_tree(), HashTree::Empty);
    }

    #[test]
    fn matches_the_spec_example_shape_independently() {
        // Same content as the spec example; our balanced shape differs, the lookups agree.
        let mut t = LabeledTree::new();
        t.insert(&["a", "x"], leaf("hello")).unwrap();
        t.insert(&["a", "y"], leaf("world")).unwrap();
        t.insert(&["b"], leaf("good")).unwrap();
        t.insert(&["c"], LabeledTree::new()).unwrap();
        t.insert(&["d"], leaf("morning")).unwrap();
        let ours = t.to_hash_tree();
        let spec = super::super::tests::spec_example();
        for path in [&["a", "x"][..], &["a", "y"], &["b"], &["c"], &["d"], &["e"]] {
            assert_eq!(ours.lookup_path(path), spec.lookup_path(path));
        }
    }

    #[test]
    fn insert_errors() {
        let mut t = LabeledTree::new();
        t.insert(&["a"], leaf("1")).unwrap();
        assert_eq!(t.insert(&["a", "b"], leaf("2")), Err(LabeledTreeError::PathThroughLeaf));
        assert_eq!(t.insert::<&str>(&[], leaf("2")), Err(LabeledTreeError::EmptyPath));
    }
}
