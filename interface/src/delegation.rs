//! Sender delegations (ic-reference §2): a chain of keys, each signing the next one's
//! authority over `\x1Aic-request-auth-delegation · hash_of_map(delegation)`, optionally
//! narrowed to target canisters and to queries only.

use crate::expiry::Time;
use crate::request_id::{hash_of_map, Value};
use alloc::vec::Vec;
use keel_crypto::hash::{domain, domain_separated};
use keel_crypto::Principal;

/// What a delegation permits (spec 0.64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permissions {
    /// Only queries and read_state, never `/call`.
    Queries,
    /// Everything.
    All,
}

impl Permissions {
    fn as_str(self) -> &'static str {
        match self {
            Permissions::Queries => "queries",
            Permissions::All => "all",
        }
    }
}

/// One delegation: `pubkey` may act for the delegator until `expiration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    /// DER public key of the delegatee.
    pub pubkey: Vec<u8>,
    /// Nanoseconds since 1970 after which the delegation is void.
    pub expiration: Time,
    /// If present, the only canisters the delegatee may address.
    pub targets: Option<Vec<Principal>>,
    /// If present, what the delegatee may do.
    pub permissions: Option<Permissions>,
}

/// A delegation and the delegator's signature of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDelegation {
    /// The delegation.
    pub delegation: Delegation,
    /// Signature by the previous key of the chain.
    pub signature: Vec<u8>,
}

impl Delegation {
    /// The bytes the delegator signs.
    pub fn signable(&self) -> Vec<u8> {
        let mut fields = alloc::vec![
            ("pubkey", Value::Blob(&self.pubkey)),
            ("expiration", Value::Nat(self.expiration.0)),
        ];
        if let Some(targets) = &self.targets {
            fields.push(("targets", Value::Array(targets.iter().map(|t| Value::Blob(t.as_slice())).collect())));
        }
        if let Some(p) = self.permissions {
            fields.push(("permissions", Value::Text(p.as_str())));
        }
        domain_separated(domain::REQUEST_AUTH_DELEGATION, &hash_of_map(&fields))
    }

    /// Whether the delegation allows addressing `canister`.
    pub fn allows_target(&self, canister: &Principal) -> bool {
        self.targets.as_ref().is_none_or(|t| t.contains(canister))
    }

    /// Whether the delegation allows update calls.
    pub fn allows_calls(&self) -> bool {
        self.permissions != Some(Permissions::Queries)
    }
}
