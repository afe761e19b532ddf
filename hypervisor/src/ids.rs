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

pub use keel_sandbox::CanisterId;

/// The principal of a canister id, as `keel_crypto`'s inline (`Copy`) principal.
pub trait CanisterIdExt {
    fn to_principal(self) -> Principal;
}

impl CanisterIdExt for CanisterId {
    fn to_principal(self) -> Principal {
        Principal::from_canister_index(self.get())
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

/// Pages are the sandbox's: 4 KiB, the unit of copy-on-write, dirty tracking and
/// checkpoint writes (and the x86 page, for phase-2 hardware partitions).
pub use keel_sandbox::{PAGE_SIZE, PageIndex};

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
        let p = c.to_principal();
        assert_eq!(p.as_slice(), &[0, 0, 0, 0, 0, 0, 1, 2, 1, 1]);
        assert_eq!(p.as_canister(), Some(c));
        assert_eq!(Principal::anonymous().as_canister(), None);
        assert!(Principal::from_slice(&[0; 30]).is_err());
    }
}
