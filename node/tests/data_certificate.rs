//! Canisters that certify data can prove it in queries: `ic0.data_certificate_*` hands them
//! a certificate of the certified state (its `/canister` subtree and `/time`).

mod common;

use common::*;
use ic_management_canister_types::CanisterInstallMode;
use keel_hypervisor::MemBlockDevice;
use std::time::Duration;

#[test]
fn queries_get_a_data_certificate() {
    let mut h = Harness::<MemBlockDevice>::start(1, None);
    let alice = user(7);
    let cid = h.create(&alice);
    let wasm = keel_fixtures::WatFixture::ApiProbe.wasm().unwrap();
    assert!(matches!(h.install(&alice, cid, CanisterInstallMode::Install, wasm, vec![]), Outcome::Replied(_)));
    h.run_for(Duration::from_secs(2));
    let size = h.query(&alice, cid, "certificate_in_query", vec![]).unwrap();
    let size = u64::from_le_bytes(size[..8].try_into().unwrap());
    // A CBOR certificate: at least a tree with the canister's entries, /time and a 48-byte
    // BLS signature.
    assert!(size > 100, "queries see no data certificate ({size} bytes)");
}
