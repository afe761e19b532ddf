//! The certified state tree (ic-reference §5): `/time`, `/request_status`, `/canister`
//! and `/subnet` as a labeled tree. The interface layer turns it into the IC hash tree
//! (`Labeled` nodes over `Fork`s of sorted children, `Leaf` values) and signs its root;
//! each [`LabeledTree::SubTree`] maps one-to-one onto a fork of labeled nodes and each
//! [`LabeledTree::Leaf`] onto a leaf.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::execution::Executor;
use crate::message::IngressStatus;
use crate::state::ReplicatedState;

/// A tree whose edges are byte-string labels (sorted bytewise, as the IC requires).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum LabeledTree {
    Leaf(Vec<u8>),
    SubTree(BTreeMap<Vec<u8>, LabeledTree>),
}

impl LabeledTree {
    pub fn empty() -> LabeledTree {
        LabeledTree::SubTree(BTreeMap::new())
    }

    fn insert(&mut self, label: &[u8], child: LabeledTree) {
        if let LabeledTree::SubTree(m) = self {
            m.insert(label.to_vec(), child);
        }
    }

    fn leaf(&mut self, label: &str, value: impl Into<Vec<u8>>) {
        self.insert(label.as_bytes(), LabeledTree::Leaf(value.into()));
    }

    /// The node at `path`, if present.
    pub fn lookup(&self, path: &[&[u8]]) -> Option<&LabeledTree> {
        let mut t = self;
        for label in path {
            match t {
                LabeledTree::SubTree(m) => t = m.get(*label)?,
                LabeledTree::Leaf(_) => return None,
            }
        }
        Some(t)
    }

    /// The bytes of the leaf at `path`.
    pub fn leaf_at(&self, path: &[&[u8]]) -> Option<&[u8]> {
        match self.lookup(path)? {
            LabeledTree::Leaf(v) => Some(v),
            LabeledTree::SubTree(_) => None,
        }
    }
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
    let mut out = alloc::vec![0xd9, 0xd9, 0xf7];
    cbor_head(&mut out, 4, ps.len() as u64);
    for p in ps {
        cbor_head(&mut out, 2, p.as_slice().len() as u64);
        out.extend_from_slice(p.as_slice());
    }
    out
}

fn cbor_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
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
    let mut root = LabeledTree::empty();
    root.leaf("time", leb128(state.time.0));

    let mut statuses = LabeledTree::empty();
    for (id, rec) in &state.ingress {
        let mut t = LabeledTree::empty();
        match &rec.status {
            IngressStatus::Received => t.leaf("status", "received"),
            IngressStatus::Processing => t.leaf("status", "processing"),
            IngressStatus::Replied(b) => {
                t.leaf("status", "replied");
                t.leaf("reply", b.clone());
            }
            IngressStatus::Rejected(e) => {
                t.leaf("status", "rejected");
                t.leaf("reject_code", leb128(e.reject_code() as u64));
                t.leaf("reject_message", e.message.as_bytes());
                t.leaf("error_code", e.code.as_text().into_bytes());
            }
            IngressStatus::Done => t.leaf("status", "done"),
        }
        statuses.insert(&id.0, t);
    }
    root.insert(b"request_status", statuses);

    let mut canisters = LabeledTree::empty();
    for (cid, p) in &state.canisters {
        let mut t = LabeledTree::empty();
        if let Some(code) = &p.code {
            t.leaf("module_hash", code.hash.to_vec());
        }
        t.leaf("controllers", cbor_principals(&p.controllers));
        t.leaf("certified_data", p.certified_data.clone());
        t.leaf("canister_creation_timestamp", leb128(p.created_at.0));
        t.leaf("last_install_timestamp", leb128(p.last_install.0));
        canisters.insert(cid.principal().as_slice(), t);
    }
    root.insert(b"canister", canisters);

    let mut subnet = LabeledTree::empty();
    if !keys.public_key.is_empty() {
        subnet.leaf("public_key", keys.public_key.clone());
    }
    subnet.leaf("type", state.config.subnet_type.label());
    let (lo, hi) = state.config.canister_range;
    let range = [crate::ids::CanisterId::from_u64(lo).principal(), crate::ids::CanisterId::from_u64(hi).principal()];
    subnet.leaf("canister_ranges", cbor_ranges(&[(range[0], range[1])]));
    let mut nodes = LabeledTree::empty();
    for (id, key) in &keys.nodes {
        let mut n = LabeledTree::empty();
        n.leaf("public_key", key.clone());
        nodes.insert(id, n);
    }
    subnet.insert(b"node", nodes);
    let mut subnets = LabeledTree::empty();
    subnets.insert(state.config.id.as_slice(), subnet);
    root.insert(b"subnet", subnets);

    // The sharded form ic-agent reads: one shard starting at the range's first id.
    let mut shards = LabeledTree::empty();
    shards.insert(range[0].as_slice(), LabeledTree::Leaf(cbor_ranges(&[(range[0], range[1])])));
    let mut ranges = LabeledTree::empty();
    ranges.insert(state.config.id.as_slice(), shards);
    root.insert(b"canister_ranges", ranges);
    root
}

/// CBOR `#6.55799([* [bytes, bytes]])`.
fn cbor_ranges(ranges: &[(crate::ids::Principal, crate::ids::Principal)]) -> Vec<u8> {
    let mut out = alloc::vec![0xd9, 0xd9, 0xf7];
    cbor_head(&mut out, 4, ranges.len() as u64);
    for (a, b) in ranges {
        cbor_head(&mut out, 4, 2);
        for p in [a, b] {
            cbor_head(&mut out, 2, p.as_slice().len() as u64);
            out.extend_from_slice(p.as_slice());
        }
    }
    out
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
