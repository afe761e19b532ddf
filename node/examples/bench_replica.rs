//! Host numbers for the node behind `Service` (release build):
//! `cargo run -p keel-node --release --example bench_replica`. Sequential v4 update latency,
//! a batch of parked updates, signed query latency, the consensus BLS operations a block
//! costs, and an idle `tick`. Printed only; nothing here is a pass/fail threshold.

#[path = "../tests/common/mod.rs"]
mod common;

use candid::Encode;
use common::*;
use ic_management_canister_types::CanisterInstallMode;
use keel_consensus::crypto::{GenesisDealing, ThresholdScheme};
use keel_consensus::ic_crypto::IcCrypto;
use keel_consensus::NodeIndex;
use keel_hypervisor::MemBlockDevice;
use keel_node::{Reply, Service};
use std::time::Instant;

fn submit(h: &mut Harness<MemBlockDevice>, cid: candid::Principal, s: &Signed) -> u64 {
    match h.request(&post(&format!("/api/v4/canister/{cid}/call"), s.body.clone())) {
        Reply::Later(t) => t,
        Reply::Now(r) => panic!("answered at once: {} {}", r.status, text(&r)),
    }
}

fn main() {
    let alice = user(1);
    let mut h = Harness::<MemBlockDevice>::start(1, None);
    let cid = h.create(&alice);
    h.install(&alice, cid, CanisterInstallMode::Install, counter_wasm(), Encode!(&0u64).unwrap());
    let calls: Vec<Signed> = (0..220).map(|_| sign_call(&alice, cid, "inc", Encode!(&()).unwrap(), cid)).collect();

    let start_height = h.node.replica().height().0;
    let t = Instant::now();
    for s in &calls[..20] {
        let ticket = submit(&mut h, cid, s);
        assert_eq!(h.wait(ticket).0.status, 200);
    }
    let blocks = h.node.replica().height().0 - start_height;
    println!("update, sequential: {:?} each ({blocks} blocks for 20 updates)", t.elapsed() / 20);

    let t = Instant::now();
    let tickets: Vec<u64> = calls[20..].iter().map(|s| submit(&mut h, cid, s)).collect();
    for ticket in tickets {
        assert_eq!(h.wait(ticket).0.status, 200);
    }
    println!("update, batch of 200: {:?} total", t.elapsed());

    let q = alice.query(&cid, "get").with_arg(Encode!(&()).unwrap()).sign().unwrap().signed_query;
    let req = post(&format!("/api/v3/canister/{cid}/query"), q);
    let t = Instant::now();
    for _ in 0..200 {
        assert_eq!(h.now(&req).status, 200);
    }
    println!("query: {:?} each", t.elapsed() / 200);

    let dealing = GenesisDealing::deal::<IcCrypto>([1; 32], 1, 1).unwrap();
    let crypto: IcCrypto = dealing.node(NodeIndex::new(0)).unwrap();
    let t = Instant::now();
    let shares: Vec<_> = (0..20u8).map(|i| crypto.share_sign(&[i])).collect();
    println!("BLS share sign: {:?}", t.elapsed() / 20);
    let t = Instant::now();
    for (i, share) in shares.iter().enumerate() {
        crypto.combine(&[i as u8], &[(NodeIndex::new(0), *share)]).unwrap();
    }
    println!("BLS combine of 1 share (Lagrange; the node skips it for t = 1): {:?}", t.elapsed() / 20);

    // What every block pays to certify: the whole state tree, rebuilt and hashed.
    let records = h.node.replica().certified_state().ingress.len();
    let t = Instant::now();
    for _ in 0..20 {
        let tree = h.node.replica().state_tree().to_hash_tree();
        keel_crypto::hash_tree::MerkleTree::new(&tree);
    }
    println!("state tree per block ({records} ingress records): {:?}", t.elapsed() / 20);

    let t = Instant::now();
    for _ in 0..10_000 {
        h.node.tick(h.clock);
    }
    println!("idle tick: {:?}", t.elapsed() / 10_000);
}
