//! Query responses (ic-reference §1, §5), signed by the node's Ed25519 key over
//! `\x0Bic-response · hash_of_map(M)` where M holds status, reply or reject fields
//! (`error_code` always), `timestamp` and `request_id`.

use crate::expiry::Time;
use crate::reject::Reject;
use crate::request_id::{hash_of_map, RequestId, Value};
use alloc::vec::Vec;
use keel_crypto::cbor::Writer;
use keel_crypto::ed25519::SigningKey;
use keel_crypto::hash::{domain, domain_separated};
use keel_crypto::Principal;

/// What executing a query produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryOutcome {
    /// The reply's Candid bytes.
    Replied(Vec<u8>),
    /// A rejection.
    Rejected(Reject),
}

/// The node's signing identity for query responses.
#[derive(Debug, Clone)]
pub struct NodeSigner {
    /// Ed25519 node key.
    pub key: SigningKey,
    /// The node id published under `/subnet/<SID>/node/<node_id>/public_key`.
    pub node_id: Principal,
}

impl NodeSigner {
    /// A signer whose node id is the self-authenticating principal of its key.
    pub fn from_seed(seed: [u8; 32]) -> NodeSigner {
        let key = SigningKey::from_seed(seed);
        let node_id = Principal::self_authenticating(&key.public_key_der());
        NodeSigner { key, node_id }
    }
}

/// The hash the node signs for `outcome`.
pub fn response_hash(outcome: &QueryOutcome, request_id: &RequestId, timestamp: Time) -> [u8; 32] {
    let mut fields: Vec<(&str, Value<'_>)> = Vec::with_capacity(6);
    match outcome {
        QueryOutcome::Replied(arg) => {
            fields.push(("status", Value::Text("replied")));
            fields.push(("reply", Value::Map(alloc::vec![("arg", Value::Blob(arg))])));
        }
        QueryOutcome::Rejected(r) => {
            fields.push(("status", Value::Text("rejected")));
            fields.push(("reject_code", Value::Nat(r.code as u64)));
            fields.push(("reject_message", Value::Text(&r.message)));
            fields.push(("error_code", Value::Text(&r.error_code)));
        }
    }
    fields.push(("timestamp", Value::Nat(timestamp.0)));
    fields.push(("request_id", Value::Blob(&request_id.0)));
    hash_of_map(&fields)
}

/// The 200 body of a query: the outcome plus one node signature.
pub fn query_response(outcome: &QueryOutcome, request_id: &RequestId, timestamp: Time, signer: &NodeSigner) -> Vec<u8> {
    let hash = response_hash(outcome, request_id, timestamp);
    let signature = signer.key.sign(&domain_separated(domain::RESPONSE, &hash));
    let mut w = Writer::self_describing();
    match outcome {
        QueryOutcome::Replied(arg) => {
            w.map(3).text("status").text("replied");
            w.text("reply").map(1).text("arg").bytes(arg);
        }
        QueryOutcome::Rejected(r) => {
            w.map(5).text("status").text("rejected");
            r.write_fields(&mut w);
        }
    }
    w.text("signatures").array(1).map(3);
    w.text("timestamp").nat(timestamp.0);
    w.text("signature").bytes(&signature);
    w.text("identity").bytes(signer.node_id.as_slice());
    w.into_bytes()
}
