//! Effective canister ids (ic-reference §8): which canister a call is *about*, which must
//! be the id in the URL. For ordinary canisters that is `canister_id`; for the management
//! canister `aaaaa-aa` it is taken from the Candid argument.

use crate::candid::{principal_field, CandidError};
use crate::envelope::CallContent;
use crate::route::EffectiveId;
use keel_crypto::Principal;

/// Why the URL's effective id does not fit the request (400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EffectiveIdError {
    /// A call to an ordinary canister whose `canister_id` is not the URL's id.
    CanisterIdMismatch { url: Principal, canister_id: Principal },
    /// A management call whose argument names another canister than the URL.
    ArgumentMismatch { url: Principal, argument: Principal },
    /// A management call whose argument has no principal to route by.
    Argument(CandidError),
    /// Subnet endpoints only serve the management canister.
    SubnetRequiresManagementCanister,
}

impl core::fmt::Display for EffectiveIdError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EffectiveIdError::CanisterIdMismatch { url, canister_id } => write!(
                f,
                "Specified CanisterId {canister_id} does not match effective canister id in URL {url}"
            ),
            EffectiveIdError::ArgumentMismatch { url, argument } => write!(
                f,
                "Effective canister id in URL {url} does not match the canister id {argument} in the management call"
            ),
            EffectiveIdError::Argument(e) => {
                write!(f, "Could not determine the effective canister id of the management call: {e:?}")
            }
            EffectiveIdError::SubnetRequiresManagementCanister => {
                f.write_str("Subnet endpoints only accept requests to the management canister")
            }
        }
    }
}

/// The canister a management method acts on, or `None` for creation methods, which may be
/// sent to any effective canister id (ic-utils sends them to `aaaaa-aa` or `specified_id`).
pub fn management_effective_canister_id(method: &str, arg: &[u8]) -> Result<Option<Principal>, CandidError> {
    match method {
        "create_canister" | "provisional_create_canister_with_cycles" => Ok(None),
        "install_chunked_code" => principal_field(arg, "target_canister").map(Some),
        _ => principal_field(arg, "canister_id").map(Some),
    }
}

/// Checks that a call or query may be sent to `target`.
pub fn check_effective_id(content: &CallContent, target: &EffectiveId) -> Result<(), EffectiveIdError> {
    match target {
        EffectiveId::Subnet(_) if content.canister_id.is_management_canister() => Ok(()),
        EffectiveId::Subnet(_) => Err(EffectiveIdError::SubnetRequiresManagementCanister),
        EffectiveId::Canister(url) if content.canister_id.is_management_canister() => {
            match management_effective_canister_id(&content.method_name, &content.arg) {
                Ok(None) => Ok(()),
                Ok(Some(argument)) if argument == *url => Ok(()),
                Ok(Some(argument)) => Err(EffectiveIdError::ArgumentMismatch { url: *url, argument }),
                Err(e) => Err(EffectiveIdError::Argument(e)),
            }
        }
        EffectiveId::Canister(url) if content.canister_id == *url => Ok(()),
        EffectiveId::Canister(url) => {
            Err(EffectiveIdError::CanisterIdMismatch { url: *url, canister_id: content.canister_id })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expiry::{Expiry, Time};
    use candid::{CandidType, Encode};

    #[derive(CandidType)]
    struct CanisterIdRecord {
        canister_id: candid::Principal,
    }

    fn call(canister_id: Principal, method: &str, arg: alloc::vec::Vec<u8>) -> CallContent {
        CallContent {
            canister_id,
            method_name: method.into(),
            arg,
            sender: Principal::anonymous(),
            ingress_expiry: Expiry(Time(0)),
            nonce: None,
        }
    }

    #[test]
    fn rules() {
        let a = Principal::from_canister_index(5);
        let b = Principal::from_canister_index(6);
        let mgmt = Principal::MANAGEMENT_CANISTER;
        let rec = |p: Principal| Encode!(&CanisterIdRecord { canister_id: candid::Principal::from_slice(p.as_slice()) }).unwrap();
        assert_eq!(check_effective_id(&call(a, "m", alloc::vec![]), &EffectiveId::Canister(a)), Ok(()));
        assert!(matches!(
            check_effective_id(&call(a, "m", alloc::vec![]), &EffectiveId::Canister(b)),
            Err(EffectiveIdError::CanisterIdMismatch { .. })
        ));
        assert_eq!(check_effective_id(&call(mgmt, "install_code", rec(a)), &EffectiveId::Canister(a)), Ok(()));
        assert!(matches!(
            check_effective_id(&call(mgmt, "start_canister", rec(a)), &EffectiveId::Canister(b)),
            Err(EffectiveIdError::ArgumentMismatch { .. })
        ));
        // Creation may go anywhere, including aaaaa-aa itself.
        let create = Encode!(&()).unwrap();
        assert_eq!(check_effective_id(&call(mgmt, "provisional_create_canister_with_cycles", create.clone()), &EffectiveId::Canister(mgmt)), Ok(()));
        assert!(matches!(
            check_effective_id(&call(mgmt, "raw_rand", create), &EffectiveId::Canister(a)),
            Err(EffectiveIdError::Argument(CandidError::FieldMissing))
        ));
        assert_eq!(check_effective_id(&call(mgmt, "list_canisters", alloc::vec![]), &EffectiveId::Subnet(b)), Ok(()));
        assert_eq!(
            check_effective_id(&call(a, "m", alloc::vec![]), &EffectiveId::Subnet(b)),
            Err(EffectiveIdError::SubnetRequiresManagementCanister)
        );
    }
}
