//! read_state (ic-reference §1, §5): which paths a sender may read, and the certificate
//! that answers them. The answer reveals every requested subtree plus `/time`.

use crate::certificate::{Certificate, CertificateDelegation};
use crate::envelope::Path;
use crate::http::HttpResponse;
use crate::request_id::RequestId;
use crate::route::EffectiveId;
use alloc::vec::Vec;
use keel_crypto::cbor::Writer;
use keel_crypto::hash_tree::MerkleTree;
use keel_crypto::Principal;

/// The latest certified state, as the state layer hands it over.
#[derive(Debug, Clone)]
pub struct CertifiedState {
    /// The full certified state tree, digests memoized (hash it once per certification;
    /// every read_state and v3/v4 call answer cuts a witness from it).
    pub tree: MerkleTree,
    /// The subnet's BLS signature (48 bytes) over `\x0Dic-state-root · tree.digest()`.
    pub signature: Vec<u8>,
    /// Root-subnet delegation (`None` on the root subnet, e.g. a single-node network).
    pub delegation: Option<CertificateDelegation>,
    /// Height of the certified state.
    pub height: u64,
}

impl CertifiedState {
    /// The certificate revealing `paths` and `/time`.
    pub fn certificate(&self, paths: &[Path]) -> Certificate {
        let mut wanted: Vec<&[Vec<u8>]> = paths.iter().map(Vec::as_slice).collect();
        let time = [b"time".to_vec()];
        wanted.push(&time);
        Certificate { tree: self.tree.witness(&wanted), signature: self.signature.clone(), delegation: self.delegation.clone() }
    }

    /// The certificate of a v3/v4 call: `/time` and `/request_status/<rid>`.
    pub fn call_certificate(&self, request_id: &RequestId) -> Certificate {
        self.certificate(&[alloc::vec![b"request_status".to_vec(), request_id.0.to_vec()]])
    }
}

/// Who sent an ingress message and to which effective canister id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestOrigin {
    /// The sender.
    pub sender: Principal,
    /// The effective canister id it was sent to.
    pub effective_canister_id: Principal,
}

/// What the interface needs to know about the replicated state. Implemented by the
/// hypervisor's state layer; the interface never mutates state.
pub trait StateReader {
    /// The latest certified state, `None` before the first certification (503).
    fn certified_state(&self) -> Option<&CertifiedState>;
    /// Origin of a known ingress message, `None` if the node has no record of it.
    fn request_origin(&self, request_id: &RequestId) -> Option<RequestOrigin>;
    /// Controllers of a canister, `None` if there is no such canister.
    fn controllers(&self, canister: &Principal) -> Option<Vec<Principal>>;
    /// Whether `canister`'s metadata section `name` is `icp:private`.
    fn is_private_metadata(&self, canister: &Principal, name: &[u8]) -> bool;
}

/// Why read_state paths were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadStateError {
    /// A `request_status` label that is not 32 bytes (400).
    BadRequestId,
    /// Two different request ids in one request (400).
    MultipleRequestIds,
    /// A `/canister/<id>` path for another canister than the URL's (400).
    CanisterMismatch,
    /// The request id belongs to another sender or canister (403).
    ForeignRequest,
    /// Private metadata read by a non-controller (403).
    PrivateMetadata,
    /// A path that may not be read (404).
    PathNotAllowed,
}

impl ReadStateError {
    /// The status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            ReadStateError::BadRequestId | ReadStateError::MultipleRequestIds | ReadStateError::CanisterMismatch => 400,
            ReadStateError::ForeignRequest | ReadStateError::PrivateMetadata => 403,
            ReadStateError::PathNotAllowed => 404,
        }
    }
}

impl core::fmt::Display for ReadStateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ReadStateError::BadRequestId => "Invalid request id in path: must be 32 bytes",
            ReadStateError::MultipleRequestIds => "Can only request a single request id in request_status",
            ReadStateError::CanisterMismatch => "Effective canister id in URL does not match the canister id in the path",
            ReadStateError::ForeignRequest => "Request id was not sent by this sender to this canister",
            ReadStateError::PrivateMetadata => "Only controllers can read private metadata",
            ReadStateError::PathNotAllowed => "Invalid path requested",
        })
    }
}

/// Checks every path against the access rules of `target`'s endpoint.
pub fn authorize(
    paths: &[Path],
    sender: &Principal,
    target: &EffectiveId,
    state: &impl StateReader,
) -> Result<(), ReadStateError> {
    let mut request_id: Option<&[u8]> = None;
    for path in paths {
        let labels: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
        match (target, labels.as_slice()) {
            (_, [b"time"]) => {}
            (_, [b"subnet", _, b"metrics", ..]) if matches!(target, EffectiveId::Canister(_)) => {
                return Err(ReadStateError::PathNotAllowed);
            }
            (_, [b"subnet", ..]) | (_, [b"canister_ranges", ..]) => {}
            (EffectiveId::Canister(_), [b"api_boundary_nodes", ..]) => {}
            (EffectiveId::Canister(ecid), [b"canister", cid, rest @ ..]) => {
                if *cid != ecid.as_slice() {
                    return Err(ReadStateError::CanisterMismatch);
                }
                match rest {
                    [b"module_hash"]
                    | [b"controllers"]
                    | [b"canister_creation_timestamp"]
                    | [b"last_install_timestamp"] => {}
                    [b"metadata", name] => {
                        if state.is_private_metadata(ecid, name) {
                            let controllers = state.controllers(ecid).unwrap_or_default();
                            if !controllers.contains(sender) {
                                return Err(ReadStateError::PrivateMetadata);
                            }
                        }
                    }
                    _ => return Err(ReadStateError::PathNotAllowed),
                }
            }
            (EffectiveId::Canister(ecid), [b"request_status", rid, rest @ ..]) if rest.len() <= 1 => {
                let id = RequestId::from_slice(rid).ok_or(ReadStateError::BadRequestId)?;
                if request_id.is_some_and(|seen| seen != *rid) {
                    return Err(ReadStateError::MultipleRequestIds);
                }
                request_id = Some(rid);
                // An unknown request reveals nothing but its absence.
                if let Some(origin) = state.request_origin(&id)
                    && (origin.sender != *sender || origin.effective_canister_id != *ecid) {
                        return Err(ReadStateError::ForeignRequest);
                    }
            }
            _ => return Err(ReadStateError::PathNotAllowed),
        }
    }
    Ok(())
}

/// The 200 body `{certificate: bytes}`.
pub fn response(certificate: &Certificate) -> HttpResponse {
    let mut w = Writer::self_describing();
    w.map(1).text("certificate").bytes(&certificate.to_cbor());
    HttpResponse::cbor(200, w.into_bytes())
}
