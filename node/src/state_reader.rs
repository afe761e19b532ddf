//! What the interface reads of the replicated state: the latest certified state (for
//! read_state and call certificates) and the facts its access rules need, all from the
//! state the last certification covers.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use keel_hypervisor::ids::PrincipalExt;
use keel_hypervisor::MessageId;
use keel_interface::read_state::{CertifiedState, RequestOrigin, StateReader};
use keel_interface::request_id::RequestId;
use keel_interface::Principal;

use crate::execution::Replica;

/// A read-only view for one request.
#[derive(Debug)]
pub struct StateView<'a> {
    /// The latest certified state.
    pub certified: Option<&'a CertifiedState>,
    /// The executed state it certifies.
    pub replica: &'a Replica,
    /// Origins of the calls this node accepted (with their effective canister ids).
    pub origins: &'a BTreeMap<RequestId, RequestOrigin>,
}

impl StateReader for StateView<'_> {
    fn certified_state(&self) -> Option<&CertifiedState> {
        self.certified
    }

    fn request_origin(&self, request_id: &RequestId) -> Option<RequestOrigin> {
        if let Some(origin) = self.origins.get(request_id) {
            return Some(*origin);
        }
        // Accepted before a restart: the executed record still names sender and receiver.
        // A management call's effective id came from its argument, which execution does
        // not keep; such a record is then treated as unknown (its status stays readable).
        let record = self.replica.certified_state().ingress.get(&MessageId(request_id.0))?;
        if record.receiver.is_management() {
            return None;
        }
        Some(RequestOrigin { sender: record.sender, effective_canister_id: record.receiver })
    }

    fn controllers(&self, canister: &Principal) -> Option<Vec<Principal>> {
        let state = self.replica.certified_state();
        let id = state.existing(canister).ok()?;
        state.canister(id).map(|p| p.controllers.clone())
    }

    fn is_private_metadata(&self, canister: &Principal, name: &[u8]) -> bool {
        let state = self.replica.certified_state();
        let Some(code) = state.existing(canister).ok().and_then(|id| state.canister(id)).and_then(|p| p.code.as_ref())
        else {
            return false;
        };
        let Ok(name) = core::str::from_utf8(name) else { return false };
        state
            .modules
            .get(&code.hash)
            .and_then(|m| m.info.metadata.get(&String::from(name)))
            .is_some_and(|m| !m.public)
    }
}
