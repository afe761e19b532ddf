//! Identifier newtypes whose constructors enforce the IC's invariants, so the rest of
//! the hypervisor never handles a raw byte string or integer with an unchecked meaning.

use alloc::vec::Vec;

pub use keel_crypto::Principal;

/// What the hypervisor asks of a principal beyond `keel_crypto`'s type.
pub trait PrincipalExt {
    /// The canister this principal names, if it has the IC canister-id shape.
    fn as_canister(&self) -> Option<CanisterId>;
    /// Is this the management canister `aaaaa-aa`?
    fn is_management(&self) -> bool;
    fn to_vec(&self) -> Vec<u8>;
}

impl PrincipalExt for Principal {
    fn as_canister(&self) -> Option<CanisterId> {
        self.canister_index().map(CanisterId::from_u64)
    }
    fn is_management(&self) -> bool {
        self.is_management_canister()
    }
    fn to_vec(&self) -> Vec<u8> {
        self.as_slice().to_vec()
    }
}

/// A canister id: the IC's `u64 big-endian · 01 01` principal shape, kept as the u64 so
/// ids order numerically (the order canister ranges are published in).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct CanisterId(u64);

impl CanisterId {
    pub const fn from_u64(n: u64) -> CanisterId {
        CanisterId(n)
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    pub fn from_principal(p: &Principal) -> Option<CanisterId> {
        p.canister_index().map(CanisterId)
    }

    pub fn principal(self) -> Principal {
        Principal::from_canister_index(self.0)
    }
}

/// Height of a finalized block; the state after executing block `h` has height `h`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Height(pub u64);

impl Height {
    pub fn next(self) -> Height {
        Height(self.0.saturating_add(1))
    }
}

/// Size of a memory page: the Wasm page is 64 KiB, but persistence and copy-on-write work
/// on 4 KiB pages (the x86 page, so phase-2 hardware partitions can reuse the dirty bits).
pub const PAGE_SIZE: usize = 4096;

/// Index of a 4 KiB page within one memory.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct PageIndex(pub u64);

/// Names one persisted memory (a canister heap, stable memory, or a snapshot's copy).
/// Allocated from a counter in the replicated state and never reused, so a reinstall
/// (a fresh memory) cannot be confused on disk with the memory it replaced.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct MemoryKey(pub u64);

/// Id of an ingress message: the 32-byte representation-independent hash (request id).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct MessageId(pub [u8; 32]);

/// Nanoseconds since the Unix epoch, taken only from the finalized block.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Time(pub u64);

impl Time {
    pub fn seconds_since(self, earlier: Time) -> u64 {
        self.0.saturating_sub(earlier.0) / 1_000_000_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canister_principal_roundtrip() {
        let c = CanisterId::from_u64(0x0102);
        let p = c.principal();
        assert_eq!(p.as_slice(), &[0, 0, 0, 0, 0, 0, 1, 2, 1, 1]);
        assert_eq!(p.as_canister(), Some(c));
        assert_eq!(Principal::anonymous().as_canister(), None);
        assert!(Principal::from_slice(&[0; 30]).is_err());
    }
}
