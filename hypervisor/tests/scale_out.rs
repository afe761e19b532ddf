//! Multi-canister scenarios with the real `ic-cdk` fixtures: the `frontend` canister creates
//! `kv_store` bucket canisters itself (management canister `create_canister` with cycles,
//! then `install_code`) and spreads keys across them, and forks itself through Keel's
//! `keel_fork_canister` with its heap pages shared copy-on-write.

mod common;
#[path = "common/real_node.rs"]
mod real_node;

use common::*;
use keel_fixtures::Canister;
use keel_hypervisor::SubnetType;
use keel_hypervisor::candid::{self, Type, Value};
use keel_hypervisor::codec::sha256;
use keel_hypervisor::execution::Sandbox;
use keel_hypervisor::ids::{CanisterId, CanisterIdExt, Principal, PrincipalExt};
use keel_sandbox::PageMap;
use real_node::*;

/// What `frontend` attaches to each `create_canister` and `keel_fork_canister` call.
const FRONTEND_ATTACHED: u128 = 2 * T;

/// A front-end whose bucket module is `kv_store`.
fn frontend(n: &mut Node<Sandbox>, cycles: u128) -> CanisterId {
    let init = candid::encode(&[(Type::blob(), Value::Blob(wasm(Canister::KvStore)))]).unwrap();
    n.install_wasm(USER, wasm(Canister::Frontend), init, cycles)
}

/// `put` through the front-end; the bucket's previous value.
fn put(n: &mut Node<Sandbox>, front: CanisterId, key: &str, value: &str) -> Option<String> {
    let r = n.update(USER, front.to_principal(), "put", text2(key, value)).unwrap();
    opt_text(&result_of(&r).unwrap_or_else(|e| panic!("put {key}: {e}")))
}

/// `get` through the front-end (an update calling the key's bucket).
fn get(n: &mut Node<Sandbox>, front: CanisterId, key: &str) -> Option<String> {
    let r = n.update(USER, front.to_principal(), "get", text(key)).unwrap();
    opt_text(&result_of(&r).unwrap_or_else(|e| panic!("get {key}: {e}")))
}

fn buckets(n: &Node<Sandbox>, front: CanisterId) -> Vec<CanisterId> {
    let r = n.hv.query(USER, front.to_principal(), "buckets", no_args()).unwrap();
    let v = candid::decode(&r).unwrap().remove(0);
    v.as_vec().unwrap().iter().map(|p| p.as_principal().unwrap().as_canister().unwrap()).collect()
}

fn balance(n: &Node<Sandbox>, c: CanisterId) -> u128 {
    n.hv.state().canister(c).unwrap().balance.get()
}

/// Heap pages of `a` physically shared with `b` (the same allocation, not equal bytes):
/// what copy-on-write sharing leaves after a fork.
fn shared_heap_pages(n: &Node<Sandbox>, a: CanisterId, b: CanisterId) -> usize {
    let heap = |c: CanisterId| -> &PageMap { &n.hv.state().canister(c).unwrap().memory.pages.heap };
    let (ha, hb) = (heap(a), heap(b));
    ha.stored_pages().filter(|(i, bytes)| std::ptr::eq(*bytes, hb.get_page(*i))).count()
}

#[test]
fn front_end_creates_buckets_and_spreads_keys_across_them() {
    let mut n = node(SubnetType::Application);
    let front = frontend(&mut n, 100 * T);
    let before = balance(&n, front);
    let burned_before = n.hv.state().burned.get();
    const KEYS: usize = 60;
    for i in 0..KEYS {
        assert_eq!(put(&mut n, front, &format!("key-{i}"), &format!("value-{i}")), None, "key-{i} is new");
    }
    // Overwriting goes to the same bucket, which returns the old value.
    assert_eq!(put(&mut n, front, "key-7", "seven"), Some("value-7".into()));

    let bs = buckets(&n, front);
    assert!(bs.len() >= 3, "keys spread over {} buckets only", bs.len());
    let kv_hash = sha256(&[&wasm(Canister::KvStore)]);
    let mut total = 0;
    for b in &bs {
        let p = n.hv.state().canister(*b).unwrap();
        assert!(p.controllers.contains(&front.to_principal()), "the front-end controls bucket {b:?}: {:?}", p.controllers);
        assert!(!p.controllers.contains(&USER), "the user never created or controlled bucket {b:?}");
        assert_eq!(p.code.as_ref().map(|c| c.hash), Some(kv_hash), "bucket {b:?} runs the kv_store module");
        let len = reply_u64(&n.hv.query(USER, b.to_principal(), "len", no_args()).unwrap());
        assert!(len > 0, "bucket {b:?} holds no key");
        total += len;
        // Each bucket was funded with what the front-end attached, less the creation fee
        // and what its own messages cost since.
        let fee = n.hv.state().fees().canister_creation().get();
        assert!(p.balance.get() < FRONTEND_ATTACHED - fee && p.balance.get() > 0, "bucket balance {}", p.balance.get());
    }
    assert_eq!(total, KEYS as u64, "every key is stored exactly once");
    for i in 0..KEYS {
        let want = if i == 7 { "seven".to_string() } else { format!("value-{i}") };
        assert_eq!(get(&mut n, front, &format!("key-{i}")), Some(want), "key-{i} reads back");
    }
    assert_eq!(get(&mut n, front, "never-written"), None);

    // The front-end paid for the buckets it created and for its own executions.
    let spent = before - balance(&n, front);
    assert!(spent >= bs.len() as u128 * FRONTEND_ATTACHED, "front-end spent only {spent}");
    let fees = n.hv.state().fees().canister_creation().get() * bs.len() as u128;
    assert!(n.hv.state().burned.get() - burned_before > fees, "creation fees and execution were charged");
    n.assert_cycles_conserved();
}

#[test]
fn front_end_forks_itself_with_shared_pages() {
    const BALLAST_MIB: u64 = 16;
    const BALLAST_PAGES: usize = (BALLAST_MIB as usize) << 8;
    let mut n = node(SubnetType::Application);
    let front = frontend(&mut n, 100 * T);
    for i in 0..6 {
        put(&mut n, front, &format!("k{i}"), &format!("v{i}"));
    }
    let mib_fill = candid::encode(&[(Type::Nat64, Value::Nat(u128::from(BALLAST_MIB))), (Type::Nat8, Value::Nat(7))]).unwrap();
    assert_eq!(reply_u64(&n.update(USER, front.to_principal(), "ballast", mib_fill).unwrap()), BALLAST_MIB << 20);
    let before = balance(&n, front);

    let r = n.update(USER, front.to_principal(), "fork_self", no_args()).unwrap();
    let fork = result_of(&r).unwrap().as_principal().unwrap().as_canister().unwrap();
    assert_ne!(fork, front);
    let fee = n.hv.state().fees().canister_creation().get();
    assert_eq!(balance(&n, fork), FRONTEND_ATTACHED - fee, "the fork is funded by the cycles fork_self attached");
    assert!(before - balance(&n, front) >= FRONTEND_ATTACHED);
    {
        let (a, b) = (n.hv.state().canister(front).unwrap(), n.hv.state().canister(fork).unwrap());
        assert_eq!(a.code.as_ref().map(|c| c.hash), b.code.as_ref().map(|c| c.hash), "the fork runs the same module");
        assert_eq!(b.controllers, vec![USER], "the fork's controllers default to the source's");
    }

    // The fork answers with the same data: ballast, bucket list and the keys behind it.
    let digest = |n: &Node<Sandbox>, c: CanisterId| {
        let d = candid::decode(&n.hv.query(USER, c.to_principal(), "ballast_digest", no_args()).unwrap()).unwrap();
        (d[0].as_u64().unwrap(), d[1].as_u64().unwrap())
    };
    let ballast_digest = ((BALLAST_MIB << 20), 7 * (BALLAST_PAGES as u64));
    assert_eq!(digest(&n, fork), ballast_digest);
    assert_eq!(buckets(&n, fork), buckets(&n, front));
    assert_eq!(get(&mut n, fork, "k3"), Some("v3".into()));

    // Pages are shared, not copied: all the ballast's pages are the same allocations.
    let shared = shared_heap_pages(&n, front, fork);
    assert!(shared >= BALLAST_PAGES, "only {shared} heap pages shared, the ballast alone has {BALLAST_PAGES}");

    // A write to the fork changes the fork only, and unshares only the pages it touched.
    let offset = 5u64 << 20;
    let poke = candid::encode(&[(Type::Nat64, Value::Nat(u128::from(offset))), (Type::Nat8, Value::Nat(9))]).unwrap();
    let r = n.update(USER, fork.to_principal(), "poke", poke).unwrap();
    assert_eq!(candid::decode(&r).unwrap()[0], Value::Bool(true));
    let byte_at = |n: &Node<Sandbox>, c: CanisterId| {
        let r = n.hv.query(USER, c.to_principal(), "ballast_byte", candid::encode(&[(Type::Nat64, Value::Nat(u128::from(offset)))]).unwrap()).unwrap();
        candid::decode(&r).unwrap().remove(0)
    };
    assert_eq!(byte_at(&n, fork), Value::some(Value::Nat(9)));
    assert_eq!(byte_at(&n, front), Value::some(Value::Nat(7)), "the original is untouched");
    assert_eq!(digest(&n, front), ballast_digest);
    assert_eq!(digest(&n, fork), (ballast_digest.0, ballast_digest.1 + 2), "the poked byte starts a 4 KiB page");
    let after = shared_heap_pages(&n, front, fork);
    assert!(after < shared && after + 64 >= shared, "the write unshared {} pages", shared - after);

    // The fork is a canister of its own: only its own controllers (or itself) may fork it.
    let e = n.update(user(7), Principal::MANAGEMENT_CANISTER, "keel_fork_canister", canister_id_arg(fork)).unwrap_err();
    assert_eq!(e.code, keel_hypervisor::ErrorCode::CanisterInvalidController);
    n.assert_cycles_conserved();
}

/// The read path as a composite query (`lookup` calls the bucket's `get` query).
#[test]
fn composite_query_reads_through_the_front_end() {
    let mut n = node(SubnetType::Application);
    let front = frontend(&mut n, 100 * T);
    put(&mut n, front, "k", "v");
    // The callback must see the heap the query left before its await (ic-cdk keeps the
    // pending call there); nothing outlives the query, since `query` borrows the state immutably.
    let r = n.hv.query(USER, front.to_principal(), "lookup", text("k")).unwrap();
    assert_eq!(opt_text(&result_of(&r).unwrap()), Some("v".into()));
}
