//! Path lookup with the spec's semantics (certification.md "Lookup"): a witness can prove
//! that a path is present, that it is absent, or neither (pruned).

use super::HashTree;
use alloc::vec::Vec;

/// The outcome of looking up a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupResult<'a> {
    /// The path ends at this leaf value.
    Found(&'a [u8]),
    /// The tree proves that the path does not exist.
    Absent,
    /// The path may lie inside a pruned subtree.
    Unknown,
    /// The path ends at an inner node, not a value.
    Error,
}

/// The outcome of looking up a subtree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubtreeLookup<'a> {
    /// The subtree under the path.
    Found(&'a HashTree),
    /// The tree proves that the path does not exist.
    Absent,
    /// The path may lie inside a pruned subtree.
    Unknown,
}

/// One level of the tree with its forks flattened away (and `Empty` dropped).
fn flatten_forks(tree: &HashTree) -> Vec<&HashTree> {
    let mut out = Vec::new();
    let mut stack = alloc::vec![tree];
    while let Some(t) = stack.pop() {
        match t {
            HashTree::Empty => {}
            HashTree::Fork(lr) => {
                stack.push(&lr.1);
                stack.push(&lr.0);
            }
            other => out.push(other),
        }
    }
    out
}

fn label_of(t: &HashTree) -> Option<&[u8]> {
    match t {
        HashTree::Labeled(l, _) => Some(l),
        _ => None,
    }
}

/// `find_label` of the spec over one flattened level.
fn find_label<'a>(label: &[u8], level: &[&'a HashTree]) -> SubtreeLookup<'a> {
    for t in level {
        if let HashTree::Labeled(l, child) = t
            && l.as_slice() == label {
                return SubtreeLookup::Found(child);
            }
    }
    let proves_absent = match level {
        [] | [HashTree::Leaf(_)] => true,
        _ => {
            let first_above = level.first().and_then(|t| label_of(t)).is_some_and(|l| label < l);
            let last_below = level.last().and_then(|t| label_of(t)).is_some_and(|l| l < label);
            let between = level.windows(2).any(|w| match (label_of(w[0]), label_of(w[1])) {
                (Some(l1), Some(l2)) => l1 < label && label < l2,
                _ => false,
            });
            first_above || last_below || between
        }
    };
    if proves_absent { SubtreeLookup::Absent } else { SubtreeLookup::Unknown }
}

impl HashTree {
    /// The subtree at `path`.
    pub fn lookup_subtree<L: AsRef<[u8]>>(&self, path: &[L]) -> SubtreeLookup<'_> {
        let mut tree = self;
        for label in path {
            match find_label(label.as_ref(), &flatten_forks(tree)) {
                SubtreeLookup::Found(t) => tree = t,
                other => return other,
            }
        }
        SubtreeLookup::Found(tree)
    }

    /// The value at `path`.
    pub fn lookup_path<L: AsRef<[u8]>>(&self, path: &[L]) -> LookupResult<'_> {
        match self.lookup_subtree(path) {
            SubtreeLookup::Found(HashTree::Leaf(v)) => LookupResult::Found(v),
            SubtreeLookup::Found(HashTree::Empty) | SubtreeLookup::Absent => LookupResult::Absent,
            SubtreeLookup::Found(HashTree::Pruned(_)) | SubtreeLookup::Unknown => LookupResult::Unknown,
            SubtreeLookup::Found(_) => LookupResult::Error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::spec_example;
    use super::*;

    #[test]
    fn spec_example_lookups() {
        let t = spec_example();
        assert_eq!(t.lookup_path(&["a", "x"]), LookupResult::Found(b"hello"));
        assert_eq!(t.lookup_path(&["a", "y"]), LookupResult::Found(b"world"));
        assert_eq!(t.lookup_path(&["b"]), LookupResult::Found(b"good"));
        assert_eq!(t.lookup_path(&["d"]), LookupResult::Found(b"morning"));
        assert_eq!(t.lookup_path(&["c"]), LookupResult::Absent);
        assert_eq!(t.lookup_path(&["a", "z"]), LookupResult::Absent);
        assert_eq!(t.lookup_path(&["aa"]), LookupResult::Absent);
        assert_eq!(t.lookup_path(&["0"]), LookupResult::Absent);
        assert_eq!(t.lookup_path(&["e"]), LookupResult::Absent);
        assert_eq!(t.lookup_path(&["a"]), LookupResult::Error);
        assert_eq!(t.lookup_path::<&str>(&[]), LookupResult::Error);
    }

    #[test]
    fn pruned_subtrees_are_unknown() {
        let t = HashTree::fork(
            HashTree::labeled("a", HashTree::leaf("1")),
            HashTree::fork(HashTree::Pruned([0; 32]), HashTree::labeled("m", HashTree::leaf("2"))),
        );
        assert_eq!(t.lookup_path(&["b"]), LookupResult::Unknown);
        assert_eq!(t.lookup_path(&["z"]), LookupResult::Absent);
        assert_eq!(t.lookup_path(&["m"]), LookupResult::Found(b"2"));
        assert_eq!(HashTree::Pruned([0; 32]).lookup_path::<&str>(&[]), LookupResult::Unknown);
    }
}
