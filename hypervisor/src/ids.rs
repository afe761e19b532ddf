//! Identifier newtypes whose constructors enforce the IC's invariants, so the rest of
//! the hypervisor never handles a raw byte string or integer with an unchecked meaning.

use alloc::vec::Vec;
use core::fmt;

/// Longest principal the IC allows (interface spec: 0–29 bytes).
pub const MAX_PRINCIPAL_LEN: usize = 29;

/// A principal: 0–29 opaque bytes. Stored inline so it is `Copy` and costs no heap
/// allocation per canister (the 16 KiB-per-idle-canister budget matters).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Principal {
    len: u8,
    bytes: [u8; MAX_PRINCIPAL_LEN],
}

impl Principal {
    /// The management canister `aaaaa-aa` (the empty principal).
    pub const MANAGEMENT: Principal = Principal { len: 0, bytes: [0; MAX_PRINCIPAL_LEN] };
    /// The anonymous principal `2vxsx-fae`.
    pub const ANONYMOUS: Principal = {
        let mut bytes = [0; MAX_PRINCIPAL_LEN];
        bytes[0] = 4;
        Principal { len: 1, bytes }
    };

    /// Checks the length bound; any byte content is a valid principal.
    pub fn from_slice(b: &[u8]) -> Option<Principal> {
        if b.len() > MAX_PRINCIPAL_LEN {
            return None;
        }
        let mut bytes = [0; MAX_PRINCIPAL_LEN];
        bytes[..b.len()].copy_from_slice(b);
        Some(Principal { len: b.len() as u8, bytes })
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.as_slice().to_vec()
    }

    /// The canister this principal names, if it has the IC canister-id shape.
    pub fn as_canister(&self) -> Option<CanisterId> {
        CanisterId::from_principal(self)
    }

    pub fn is_management(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Principal(")?;
        for b in self.as_slice() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
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
        let b = p.as_slice();
        if b.len() != 10 || b[8] != 1 || b[9] != 1 {
            return None;
        }
        let mut n = [0u8; 8];
        n.copy_from_slice(&b[..8]);
        Some(CanisterId(u64::from_be_bytes(n)))
    }

    pub fn principal(self) -> Principal {
        let mut bytes = [0u8; MAX_PRINCIPAL_LEN];
        bytes[..8].copy_from_slice(&self.0.to_be_bytes());
        bytes[8] = 1;
        bytes[9] = 1;
        Principal { len: 10, bytes }
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
        assert_eq!(Principal::ANONYMOUS.as_canister(), None);
        assert!(Principal::from_slice(&[0; 30]).is_none());
    }
}
