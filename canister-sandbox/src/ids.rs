//! Identifier and quantity newtypes of the System API.

use alloc::vec::Vec;
use core::fmt;

/// Longest principal the IC allows (bytes).
pub const MAX_PRINCIPAL_LEN: usize = 29;

/// A principal: 0 to 29 bytes (ic-reference §4).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Principal(Vec<u8>);

/// A principal longer than 29 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PrincipalTooLong(pub usize);

impl Principal {
    pub fn from_slice(bytes: &[u8]) -> Result<Principal, PrincipalTooLong> {
        if bytes.len() > MAX_PRINCIPAL_LEN {
            return Err(PrincipalTooLong(bytes.len()));
        }
        Ok(Principal(bytes.to_vec()))
    }

    /// The anonymous principal `2vxsx-fae`.
    pub fn anonymous() -> Principal {
        Principal(alloc::vec![4])
    }

    /// The management canister `aaaaa-aa` (empty).
    pub fn management() -> Principal {
        Principal(Vec::new())
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Principal(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// A canister id: the principal of an IC canister (`u64` big-endian · `01 01`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct CanisterId(u64);

impl CanisterId {
    pub const fn from_u64(n: u64) -> CanisterId {
        CanisterId(n)
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    pub fn principal(self) -> Principal {
        let mut bytes = self.0.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[1, 1]);
        Principal(bytes)
    }
}

/// A cycles amount (128-bit, as the System API passes it).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Cycles(u128);

impl Cycles {
    pub const ZERO: Cycles = Cycles(0);

    pub const fn new(n: u128) -> Cycles {
        Cycles(n)
    }

    pub const fn get(self) -> u128 {
        self.0
    }

    pub fn saturating_add(self, other: Cycles) -> Cycles {
        Cycles(self.0.saturating_add(other.0))
    }

    pub fn saturating_sub(self, other: Cycles) -> Cycles {
        Cycles(self.0.saturating_sub(other.0))
    }

    pub fn min(self, other: Cycles) -> Cycles {
        Cycles(self.0.min(other.0))
    }

    /// The System API's 16-byte little-endian form.
    pub fn to_le_bytes(self) -> [u8; 16] {
        self.0.to_le_bytes()
    }

    /// From the `(high, low)` i64 pair of the `*128` functions.
    pub fn from_parts(high: u64, low: u64) -> Cycles {
        Cycles((u128::from(high) << 64) | u128::from(low))
    }
}

/// A count of IC instructions (what the instruction limits and `performance_counter` count).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct NumInstructions(u64);

impl NumInstructions {
    pub const fn new(n: u64) -> NumInstructions {
        NumInstructions(n)
    }

    pub const fn get(self) -> u64 {
        self.0
    }
}
