//! The IC state-tree layout clients read (ic-reference §5), as helpers for the state layer
//! that builds the certified tree: exact labels and leaf encodings in one place, so what
//! the hypervisor certifies is what ic-agent and agent-js look up.

use crate::reject::Reject;
use crate::request_id::{uleb128, RequestId};
use alloc::vec::Vec;
use keel_crypto::cbor::Writer;
use keel_crypto::hash_tree::{LabeledTree, LabeledTreeError};
use keel_crypto::Principal;

/// `/time`: nanoseconds as ULEB128.
pub fn insert_time(tree: &mut LabeledTree, time: crate::expiry::Time) -> Result<(), LabeledTreeError> {
    tree.insert(&[&b"time"[..]], LabeledTree::Leaf(uleb128(time.0)))
}

/// `#6.55799([* [bytes, bytes]])`: closed canister-id ranges, sorted.
pub fn canister_ranges_leaf(ranges: &[(Principal, Principal)]) -> Vec<u8> {
    let mut w = Writer::self_describing();
    w.array(ranges.len());
    for (lo, hi) in ranges {
        w.array(2).bytes(lo.as_slice()).bytes(hi.as_slice());
    }
    w.into_bytes()
}

/// `#6.55799([* bytes])`: a canister's controllers.
pub fn controllers_leaf(controllers: &[Principal]) -> Vec<u8> {
    let mut w = Writer::self_describing();
    w.array(controllers.len());
    for c in controllers {
        w.bytes(c.as_slice());
    }
    w.into_bytes()
}

/// What a subnet publishes about itself.
#[derive(Debug, Clone)]
pub struct SubnetInfo<'a> {
    /// The subnet id (a single-subnet node: `certificate::root_subnet_id`).
    pub subnet_id: Principal,
    /// DER BLS public key of the subnet.
    pub public_key_der: &'a [u8],
    /// `application`, `system`, `verified_application` or `cloud_engine`.
    pub subnet_type: &'a str,
    /// Canister-id ranges served by the subnet.
    pub canister_ranges: &'a [(Principal, Principal)],
    /// Node ids with their DER Ed25519 keys (query response signers).
    pub nodes: &'a [(Principal, Vec<u8>)],
}

/// `/subnet/<SID>/{public_key,type,canister_ranges,node/<nid>/public_key}` and the
/// sharded `/canister_ranges/<SID>/<first id>` that ic-agent reads (one shard).
pub fn insert_subnet(tree: &mut LabeledTree, info: &SubnetInfo<'_>) -> Result<(), LabeledTreeError> {
    let sid = info.subnet_id;
    let sid = sid.as_slice();
    let ranges = canister_ranges_leaf(info.canister_ranges);
    tree.insert(&[&b"subnet"[..], sid, b"public_key"], LabeledTree::Leaf(info.public_key_der.to_vec()))?;
    tree.insert(&[&b"subnet"[..], sid, b"type"], LabeledTree::Leaf(info.subnet_type.as_bytes().to_vec()))?;
    tree.insert(&[&b"subnet"[..], sid, b"canister_ranges"], LabeledTree::Leaf(ranges.clone()))?;
    for (node_id, key) in info.nodes {
        tree.insert(&[&b"subnet"[..], sid, b"node", node_id.as_slice(), b"public_key"], LabeledTree::Leaf(key.clone()))?;
    }
    if let Some((first, _)) = info.canister_ranges.first() {
        tree.insert(&[&b"canister_ranges"[..], sid, first.as_slice()], LabeledTree::Leaf(ranges))?;
    }
    Ok(())
}

/// The certified status of an ingress message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestStatus {
    /// In the ingress pool / a block, not yet executed.
    Received,
    /// Being executed (e.g. waiting on inter-canister calls).
    Processing,
    /// Replied with these bytes.
    Replied(Vec<u8>),
    /// Rejected.
    Rejected(Reject),
    /// Replied or rejected, payload dropped.
    Done,
}

/// `/request_status/<rid>/{status,reply,reject_code,reject_message,error_code}`.
pub fn insert_request_status(tree: &mut LabeledTree, id: &RequestId, status: &RequestStatus) -> Result<(), LabeledTreeError> {
    let mut leaf = |field: &str, value: Vec<u8>| {
        tree.insert(&[&b"request_status"[..], &id.0[..], field.as_bytes()], LabeledTree::Leaf(value))
    };
    let name: &str = match status {
        RequestStatus::Received => "received",
        RequestStatus::Processing => "processing",
        RequestStatus::Done => "done",
        RequestStatus::Replied(reply) => {
            leaf("reply", reply.clone())?;
            "replied"
        }
        RequestStatus::Rejected(r) => {
            leaf("reject_code", uleb128(r.code as u64))?;
            leaf("reject_message", r.message.as_bytes().to_vec())?;
            leaf("error_code", r.error_code.as_bytes().to_vec())?;
            "rejected"
        }
    };
    leaf("status", name.as_bytes().to_vec())
}
