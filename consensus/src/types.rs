//! Newtypes that carry the protocol's basic invariants: heights, ranks, node indices, hashes,
//! and the subnet size with its fault bound.

use core::fmt;

/// A block height. Height 0 is the genesis block (or, after a restart, the block of the
/// catch-up package the node resumed from).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Height(u64);

impl Height {
    /// The genesis height.
    pub const ZERO: Height = Height(0);

    /// Wraps a raw height.
    pub const fn new(h: u64) -> Self {
        Height(h)
    }

    /// The raw height.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The next height; saturates so hostile input can never overflow it.
    pub const fn next(self) -> Self {
        Height(self.0.saturating_add(1))
    }

    /// The previous height, if any.
    pub const fn prev(self) -> Option<Self> {
        match self.0.checked_sub(1) {
            Some(h) => Some(Height(h)),
            None => None,
        }
    }

    /// `self + k`, saturating.
    pub const fn plus(self, k: u64) -> Self {
        Height(self.0.saturating_add(k))
    }
}

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Index of a node in the subnet's membership list (`0..n`). Only [`SubnetSize::node`] and
/// decoding checked against the subnet size create values used by the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeIndex(u32);

impl NodeIndex {
    /// Wraps a raw index; callers that take it from the network must check it with
    /// [`SubnetSize::contains`].
    pub const fn new(i: u32) -> Self {
        NodeIndex(i)
    }

    /// The raw index.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The index as a `usize` for table look-ups.
    pub const fn as_usize(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node{}", self.0)
    }
}

/// The rank of a block maker in a round: 0 is the leader, higher ranks are fall-backs whose
/// blocks are made and notarized only after longer delays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rank(u32);

impl Rank {
    /// Wraps a raw rank.
    pub const fn new(r: u32) -> Self {
        Rank(r)
    }

    /// The raw rank.
    pub const fn get(self) -> u32 {
        self.0
    }
}

/// Time in nanoseconds since the Unix epoch. It only ever enters the state machine as an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(u64);

impl Time {
    /// Wraps nanoseconds since the epoch.
    pub const fn from_nanos(ns: u64) -> Self {
        Time(ns)
    }

    /// Milliseconds since the epoch, as a time.
    pub const fn from_millis(ms: u64) -> Self {
        Time(ms.saturating_mul(1_000_000))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating.
    pub const fn plus(self, d: core::time::Duration) -> Self {
        let ns = d.as_nanos();
        let ns = if ns > u64::MAX as u128 {
            u64::MAX
        } else {
            ns as u64
        };
        Time(self.0.saturating_add(ns))
    }

    /// `self - earlier`, zero if `earlier` is later.
    pub const fn since(self, earlier: Time) -> core::time::Duration {
        core::time::Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

/// Defines a 32-byte hash newtype with hex display; one macro so the types stay distinct
/// without repeating their boilerplate.
macro_rules! hash_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(", stringify!($name))?;
                for b in &self.0[..6] {
                    write!(f, "{b:02x}")?;
                }
                write!(f, "..)")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for b in &self.0 {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    };
}

hash_newtype!(
    /// Hash of a [`crate::block::Block`] (domain-separated SHA-256 of its encoding).
    BlockHash
);
hash_newtype!(
    /// Root hash of the replicated state after executing a height, as reported by the driver.
    StateHash
);
hash_newtype!(
    /// Id of an ingress message (the IC request id), opaque to consensus.
    MessageId
);
hash_newtype!(
    /// A generic 32-byte digest (subjects of shares, content hashes).
    Digest
);

/// The subnet size `n` and the number of faults `f = ⌊(n − 1) / 3⌋` it tolerates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubnetSize {
    n: u32,
}

/// A subnet needs at least one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmptySubnet;

impl SubnetSize {
    /// A subnet of `n ≥ 1` nodes.
    pub const fn new(n: u32) -> Result<Self, EmptySubnet> {
        if n == 0 {
            Err(EmptySubnet)
        } else {
            Ok(SubnetSize { n })
        }
    }

    /// Number of nodes.
    pub const fn n(self) -> u32 {
        self.n
    }

    /// Number of Byzantine nodes tolerated (`n ≥ 3f + 1`).
    pub const fn f(self) -> u32 {
        (self.n - 1) / 3
    }

    /// Signatures needed for a notarization or finalization, and shares needed to combine a
    /// threshold signature: `n − f`, i.e. at least `2f + 1`, so two quorums always share an
    /// honest node.
    pub const fn quorum(self) -> usize {
        (self.n - self.f()) as usize
    }

    /// Whether `i` names a member.
    pub const fn contains(self, i: NodeIndex) -> bool {
        i.0 < self.n
    }

    /// All members in index order.
    pub fn nodes(self) -> impl Iterator<Item = NodeIndex> {
        (0..self.n).map(NodeIndex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_tolerates_f() {
        for (n, f, q) in [(1, 0, 1), (4, 1, 3), (7, 2, 5), (13, 4, 9)] {
            let s = SubnetSize::new(n).unwrap();
            assert_eq!((s.f(), s.quorum()), (f, q));
        }
        assert_eq!(SubnetSize::new(0), Err(EmptySubnet));
    }

    #[test]
    fn height_arithmetic_saturates() {
        assert_eq!(Height::new(u64::MAX).next(), Height::new(u64::MAX));
        assert_eq!(Height::ZERO.prev(), None);
        assert_eq!(Height::new(5).prev(), Some(Height::new(4)));
    }
}
