//! The certified state tree (ic-reference §5): `/time`, `/request_status`, `/canister`
//! and `/subnet` as a labeled tree. The interface layer turns it into the IC hash tree
//! and signs its root;
//! the tree is `keel_crypto`'s [`LabeledTree`], whose `to_hash_tree` fixes the fork shape
//! every node must agree on.

use alloc::vec::Vec;

use keel_crypto::cbor;
pub use keel_crypto::hash_tree::{HashTree, LabeledTree};

use crate::execution::Executor;
use crate::ids::{CanisterIdExt, Principal};
use crate::message::IngressStatus;
use crate::state::ReplicatedState;

/// Sets child `label` of inner node `t`.
fn put(t: &mut LabeledTree, label: &[u8], child: LabeledTree) {
    if let LabeledTree::SubTree(m) = t {
        m.insert(label.to_vec(), child);
    }
}

fn leaf(t: &mut LabeledTree, label: &str, value: impl Into<Vec<u8>>) {
    put(t, label.as_bytes(), LabeledTree::Leaf(value.into()));
}

/// Unsigned LEB128, the encoding of `nat` leaves.
pub fn leb128(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

/// CBOR `#6.55799([* bytes])`: the encoding of `/canister/<id>/controllers`.
pub fn cbor_principals(ps: &[crate::ids::Principal]) -> Vec<u8> {
    let mut w = cbor::Writer::self_describing();
    w.array(ps.len());
    for p in ps {
        w.bytes(p.as_slice());
    }
    w.into_bytes()
}

/// CBOR `#6.55799([* [bytes, bytes]])`: canister id ranges.
fn cbor_ranges(ranges: &[(crate::ids::Principal, crate::ids::Principal)]) -> Vec<u8> {
    let mut w = cbor::Writer::self_describing();
    w.array(ranges.len());
    for (a, b) in ranges {
        w.array(2).bytes(a.as_slice()).bytes(b.as_slice());
    }
    w.into_bytes()
}

/// Subnet entries the hypervisor does not own (keys, node list) but publishes.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct SubnetKeys {
    /// DER BLS subnet public key.
    pub public_key: Vec<u8>,
    /// `(node id, DER Ed25519 key)` of each node.
    pub nodes: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Builds the certified tree of `state`.
pub fn state_tree<E: Executor>(state: &ReplicatedState<E>, keys: &SubnetKeys) -> LabeledTree {
    let mut root = LabeledTree::new();
    leaf(&mut root, "time", leb128(state.time.0));

    let mut statuses = LabeledTree::new();
    for (id, rec) in &state.ingress {
        let mut t = LabeledTree::new();
        match &rec.status {
            IngressStatus::Received => leaf(&mut t, "status", "received"),
            IngressStatus::Processing => leaf(&mut t, "status", "processing"),
            IngressStatus::Replied(b) => {
                leaf(&mut t, "status", "replied");
                leaf(&mut t, "reply", b.clone());
            }
            IngressStatus::Rejected(e) => {
                leaf(&mut t, "status", "rejected");
                leaf(&mut t, "reject_code", leb128(e.reject_code() as u64));
                leaf(&mut t, "reject_message", e.message.as_bytes());
                leaf(&mut t, "error_code", e.code.as_text().into_bytes());
            }
            IngressStatus::Done => leaf(&mut t, "status", "done"),
        }
        put(&mut statuses, &id.0, t);
    }
    put(&mut root, b"request_status", statuses);

    let mut canisters = LabeledTree::new();
    for (cid, p) in &state.canisters {
        let mut t = LabeledTree::new();
        if let Some(code) = &p.code {
            leaf(&mut t, "module_hash", code.hash.to_vec());
        }
        leaf(&mut t, "controllers", cbor_principals(&p.controllers));
        leaf(&mut t, "certified_data", p.certified_data.clone());
        leaf(&mut t, "canister_creation_timestamp", leb128(p.created_at.0));
        leaf(&mut t, "last_install_timestamp", leb128(p.last_install.0));
        put(&mut canisters, cid.to_principal().as_slice(), t);
    }
    put(&mut root, b"canister", canisters);

    let mut subnet = LabeledTree::new();
    if !keys.public_key.is_empty() {
        leaf(&mut subnet, "public_key", keys.public_key.clone());
    }
    leaf(&mut subnet, "type", state.config.subnet_type.label());
    let (lo, hi) = state.config.canister_range;
    let range = [Principal::from_canister_index(lo), Principal::from_canister_index(hi)];
    leaf(&mut subnet, "canister_ranges", cbor_ranges(&[(range[0], range[1])]));
    let mut nodes = LabeledTree::new();
    for (id, key) in &keys.nodes {
        let mut n = LabeledTree::new();
        leaf(&mut n, "public_key", key.clone());
        put(&mut nodes, id, n);
    }
    put(&mut subnet, b"node", nodes);
    let mut subnets = LabeledTree::new();
    put(&mut subnets, state.config.id.as_slice(), subnet);
    put(&mut root, b"subnet", subnets);

    // The sharded form ic-agent reads: one shard starting at the range's first id.
    let mut shards = LabeledTree::new();
    put(&mut shards, range[0].as_slice(), LabeledTree::Leaf(cbor_ranges(&[(range[0], range[1])])));
    let mut ranges = LabeledTree::new();
    put(&mut ranges, state.config.id.as_slice(), shards);
    put(&mut root, b"canister_ranges", ranges);
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_matches_reference_vectors() {
        assert_eq!(leb128(0), [0]);
        assert_eq!(leb128(624_485), [0xe5, 0x8e, 0x26]);
    }

    #[test]
    fn controllers_cbor() {
        let p = crate::ids::Principal::from_slice(&[1, 2]).unwrap();
        assert_eq!(cbor_principals(&[p]), [0xd9, 0xd9, 0xf7, 0x81, 0x42, 1, 2]);
    }
}
