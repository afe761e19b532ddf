//! Acceptance tests with the real `ic-cdk` fixture canisters of `canisters/`, executed by
//! the real engine (`keel_sandbox::Sandbox`) under the hypervisor.

mod common;
#[path = "common/real_node.rs"]
mod real_node;

use common::*;
use real_node::*;
use keel_fixtures::Canister;
use keel_hypervisor::candid::{self, Type, Value, field};
use keel_hypervisor::error::{ErrorCode, RejectCode};
use keel_hypervisor::ids::{CanisterId, CanisterIdExt, Principal};
use keel_hypervisor::message::IngressStatus;
use keel_hypervisor::execution::Sandbox;
use keel_hypervisor::{Cycles, SubnetType};

fn nat64(n: u64) -> Vec<u8> {
    candid::encode(&[(Type::Nat64, Value::Nat(u128::from(n)))]).unwrap()
}

fn forward_arg(callee: CanisterId, method: &str, value: u64) -> Vec<u8> {
    candid::encode(&[
        (Type::Principal, Value::Principal(callee.to_principal())),
        (Type::Text, Value::Text(method.into())),
        (Type::Nat64, Value::Nat(u128::from(value))),
    ])
    .unwrap()
}

/// `Result<u64, String>` from `forward`.
fn forward_result(b: &[u8]) -> Result<u64, String> {
    let v = candid::decode(b).unwrap().remove(0);
    let (tag, payload) = v.as_variant().unwrap();
    if tag == field("Ok") { Ok(payload.as_u64().unwrap()) } else { Err(payload.as_text().unwrap().to_string()) }
}

#[test]
fn counter_init_update_query() {
    let mut n = node(SubnetType::Application);
    let c = n.install_wasm(USER, wasm(Canister::Counter), nat64(41), 10 * T);
    assert_eq!(reply_u64(&n.update(USER, c.to_principal(), "inc", no_args()).unwrap()), 42);
    assert_eq!(reply_u64(&n.hv.query(USER, c.to_principal(), "get", no_args()).unwrap()), 42);
    let e = n.update(USER, c.to_principal(), "missing", no_args()).unwrap_err();
    assert_eq!(e.code, ErrorCode::CanisterMethodNotFound);
    n.assert_cycles_conserved();
}

/// A real canister without liquid cycles is refused (IC0207, transient) until topped up.
#[test]
fn a_frozen_canister_is_refused_until_topped_up() {
    let mut n = node(SubnetType::Application);
    let c = n.install_wasm(USER, wasm(Canister::Counter), nat64(0), 10 * T);
    n.freeze_then_thaw(c, "inc", no_args());
    assert_eq!(reply_u64(&n.update(USER, c.to_principal(), "inc", no_args()).unwrap()), 1);
    n.assert_cycles_conserved();
}

#[test]
fn trap_rolls_back_heap_and_stable_memory() {
    let mut n = node(SubnetType::Application);
    let c = n.install_wasm(USER, wasm(Canister::TrapAfterWrite), no_args(), 10 * T);
    n.update(USER, c.to_principal(), "set", nat64(5)).unwrap();
    let e = n.update(USER, c.to_principal(), "set_then_trap", nat64(9)).unwrap_err();
    assert_eq!((e.code, e.reject_code()), (ErrorCode::CanisterCalledTrap, RejectCode::CanisterError));
    let e = n.update(USER, c.to_principal(), "set_then_unreachable", nat64(9)).unwrap_err();
    assert_eq!(e.code, ErrorCode::CanisterTrapped);
    assert_eq!(reply_u64(&n.hv.query(USER, c.to_principal(), "get", no_args()).unwrap()), 5);
    n.assert_cycles_conserved();
}

#[test]
fn endless_loop_hits_the_instruction_limit() {
    let mut n = node(SubnetType::Application);
    let c = n.install_wasm(USER, wasm(Canister::InfiniteLoop), no_args(), 100 * T);
    let e = n.update(USER, c.to_principal(), "spin", no_args()).unwrap_err();
    assert_eq!(e.code, ErrorCode::CanisterInstructionLimitExceeded);
    n.assert_cycles_conserved();
}

#[test]
fn upgrade_keeps_stable_structures_and_runs_hooks() {
    let mut n = node(SubnetType::Application);
    let kv = n.install_wasm(USER, wasm(Canister::KvStore), no_args(), 10 * T);
    let put = |k: &str, v: &str| {
        candid::encode(&[(Type::Text, Value::Text(k.into())), (Type::Text, Value::Text(v.into()))]).unwrap()
    };
    for i in 0..5 {
        n.update(USER, kv.to_principal(), "put", put(&format!("k{i}"), &format!("v{i}"))).unwrap();
    }
    let up = install_wasm_arg(kv, wasm(Canister::KvStore), "upgrade", no_args());
    n.update(USER, Principal::MANAGEMENT_CANISTER, "install_code", up).unwrap();
    let stats = candid::decode(&n.hv.query(USER, kv.to_principal(), "stats", no_args()).unwrap()).unwrap();
    assert_eq!((stats[0].as_u64().unwrap(), stats[1].as_u64().unwrap()), (5, 1), "(writes, upgrades) after upgrade");
    let got = n.hv.query(USER, kv.to_principal(), "get", candid::encode(&[(Type::Text, Value::Text("k3".into()))]).unwrap()).unwrap();
    let v = candid::decode(&got).unwrap().remove(0);
    assert_eq!(v, Value::some(Value::Text("v3".into())));
    // Reinstall wipes everything.
    let re = install_wasm_arg(kv, wasm(Canister::KvStore), "reinstall", no_args());
    n.update(USER, Principal::MANAGEMENT_CANISTER, "install_code", re).unwrap();
    assert_eq!(reply_u64(&n.hv.query(USER, kv.to_principal(), "len", no_args()).unwrap()), 0);
    n.assert_cycles_conserved();
}

#[test]
fn inter_canister_call_with_cycles_interleaves_across_the_await() {
    let mut n = node(SubnetType::Application);
    let fwd = n.install_wasm(USER, wasm(Canister::InterCanister), no_args(), 10 * T);
    let ctr = n.install_wasm(USER, wasm(Canister::Counter), nat64(0), 10 * T);
    // One message per round: the forward's await spans rounds, and other messages of the
    // forwarding canister run in between.
    n.hv.state_mut().config.round_instructions = 1;
    let call = n.ingress(USER, fwd.to_principal(), "forward", forward_arg(ctr, "inc", 7));
    let other = n.ingress(USER, fwd.to_principal(), "accept_all", no_args());
    let (call_id, other_id) = (call.id, other.id);
    n.round(vec![call, other]);
    let mut other_done_while_awaiting = false;
    for _ in 0..20 {
        n.round(vec![]);
        let call_done = matches!(n.status(&call_id), IngressStatus::Replied(_));
        if !call_done && matches!(n.status(&other_id), IngressStatus::Replied(_)) {
            other_done_while_awaiting = true;
        }
    }
    assert!(other_done_while_awaiting, "accept_all ran while forward awaited");
    let IngressStatus::Replied(r) = n.status(&call_id) else { panic!("{:?}", n.status(&call_id)) };
    assert_eq!(forward_result(&r), Ok(1));
    // The counter did not accept the 1,000 attached cycles: they came back.
    n.assert_cycles_conserved();
}

#[test]
fn reject_codes_reach_the_awaiting_canister() {
    let mut n = node(SubnetType::Application);
    let fwd = n.install_wasm(USER, wasm(Canister::InterCanister), no_args(), 10 * T);
    let ctr = n.install_wasm(USER, wasm(Canister::Counter), nat64(0), 10 * T);
    let r = forward_result(&n.update(USER, fwd.to_principal(), "forward", forward_arg(ctr, "nope", 1)).unwrap());
    // ic-cdk renders a reject as "call rejected: <code> - <message>".
    assert!(r.clone().unwrap_err().contains("call rejected: 5 - "), "method not found is CANISTER_ERROR: {r:?}");
    let r = forward_result(&n.update(USER, fwd.to_principal(), "forward", forward_arg(CanisterId::from_u64(4242), "inc", 1)).unwrap());
    assert!(r.clone().unwrap_err().contains("call rejected: 3 - "), "unknown canister is DESTINATION_INVALID: {r:?}");
    n.assert_cycles_conserved();
}

#[test]
fn data_only_subnet_rejects_an_outgoing_call() {
    let mut n = node(SubnetType::DataOnly);
    let fwd = n.install_wasm(USER, wasm(Canister::InterCanister), no_args(), 10 * T);
    let ctr = n.install_wasm(USER, wasm(Canister::Counter), nat64(0), 10 * T);
    let r = forward_result(&n.update(USER, fwd.to_principal(), "forward", forward_arg(ctr, "inc", 1)).unwrap());
    assert!(r.clone().unwrap_err().contains("call rejected: 5 - "), "the call must be rejected on a data-only subnet: {r:?}");
    assert_eq!(reply_u64(&n.hv.query(USER, ctr.to_principal(), "get", no_args()).unwrap()), 0);
    n.assert_cycles_conserved();
}

#[test]
fn stop_and_delete_with_a_call_in_flight() {
    let mut n = node(SubnetType::Application);
    let fwd = n.install_wasm(USER, wasm(Canister::InterCanister), no_args(), 10 * T);
    let ctr = n.install_wasm(USER, wasm(Canister::Counter), nat64(0), 10 * T);
    n.hv.state_mut().config.round_instructions = 1;
    let call = n.ingress(USER, fwd.to_principal(), "forward", forward_arg(ctr, "inc", 1));
    let call_id = call.id;
    n.round(vec![call]);
    let stop = n.ingress(USER, Principal::MANAGEMENT_CANISTER, "stop_canister", canister_id_arg(fwd));
    let stop_id = stop.id;
    n.round(vec![stop]);
    assert!(matches!(n.status(&stop_id), IngressStatus::Processing), "stop must wait for the outstanding call");
    let e = n.update(USER, Principal::MANAGEMENT_CANISTER, "delete_canister", canister_id_arg(fwd)).unwrap_err();
    assert_eq!(e.code, ErrorCode::CanisterNotStopped);
    for _ in 0..10 {
        n.round(vec![]);
    }
    let IngressStatus::Replied(r) = n.status(&call_id) else { panic!() };
    assert_eq!(forward_result(&r), Ok(1));
    assert!(matches!(n.status(&stop_id), IngressStatus::Replied(_)));
    n.update(USER, Principal::MANAGEMENT_CANISTER, "delete_canister", canister_id_arg(fwd)).unwrap();
    assert!(n.hv.state().canister(fwd).is_none());
    n.assert_cycles_conserved();
}

#[test]
fn fork_shares_pages_and_diverges_on_write() {
    let mut n = node(SubnetType::Application);
    let c = n.install_wasm(USER, wasm(Canister::KvStore), no_args(), 10 * T);
    for i in 0..20 {
        let arg = candid::encode(&[(Type::Text, Value::Text(format!("k{i}"))), (Type::Text, Value::Text("v".repeat(500)))]).unwrap();
        n.update(USER, c.to_principal(), "put", arg).unwrap();
    }
    let fork = n.hv.fork_canister(c, Cycles::new(10 * T)).unwrap();
    n.round(vec![]);
    let len = |n: &Node<Sandbox>, id: CanisterId| reply_u64(&n.hv.query(USER, id.to_principal(), "len", no_args()).unwrap());
    assert_eq!(len(&n, fork), 20);
    {
        let (a, b) = (n.hv.state().canister(c).unwrap(), n.hv.state().canister(fork).unwrap());
        assert!(a.memory.pages.heap.content_eq(&b.memory.pages.heap) && a.memory.pages.stable.content_eq(&b.memory.pages.stable));
        assert_eq!(a.code, b.code, "the fork runs the same module");
    }
    let arg = candid::encode(&[(Type::Text, Value::Text("only-in-fork".into())), (Type::Text, Value::Text("x".into()))]).unwrap();
    n.update(USER, fork.to_principal(), "put", arg).unwrap();
    assert_eq!((len(&n, c), len(&n, fork)), (20, 21));
    n.assert_cycles_conserved();
}

#[test]
fn same_blocks_twice_give_the_same_state_hash_with_wasm() {
    let run = || {
        let mut n = node(SubnetType::Application);
        let fwd = n.install_wasm(USER, wasm(Canister::InterCanister), no_args(), 10 * T);
        let ctr = n.install_wasm(USER, wasm(Canister::Counter), nat64(3), 10 * T);
        let msgs = vec![
            n.ingress(USER, fwd.to_principal(), "forward", forward_arg(ctr, "inc", 1)),
            n.ingress(USER, ctr.to_principal(), "inc", no_args()),
        ];
        let mut hashes = vec![n.round(msgs)];
        hashes.push(n.round(vec![]));
        hashes
    };
    assert_eq!(run(), run());
}

#[test]
fn wasm_memory_limit_is_enforced_per_canister_with_rollback() {
    let mut n = node(SubnetType::Application);
    let bomb = n.install_wasm(USER, wasm(Canister::MemoryBomb), no_args(), 100 * T);
    let settings = candid::encode(&[(
        Type::record(&[("canister_id", Type::Principal), ("settings", Type::record(&[("wasm_memory_limit", Type::opt(Type::Nat))]))]),
        Value::record(&[
            ("canister_id", Value::Principal(bomb.to_principal())),
            ("settings", Value::record(&[("wasm_memory_limit", Value::some(Value::Nat(16 << 20)))])),
        ]),
    )])
    .unwrap();
    n.update(USER, Principal::MANAGEMENT_CANISTER, "update_settings", settings).unwrap();
    assert_eq!(reply_u64(&n.update(USER, bomb.to_principal(), "allocate", nat64(2)).unwrap()), 2);
    let e = n.update(USER, bomb.to_principal(), "allocate", nat64(32)).unwrap_err();
    assert_eq!((e.code, e.reject_code()), (ErrorCode::CanisterOutOfMemory, RejectCode::CanisterError));
    assert!(n.hv.state().canister(bomb).unwrap().memory.pages.heap.len_bytes() <= 16 << 20);
    // The failed message left no trace: the hoard still holds 2 blocks.
    assert_eq!(reply_u64(&n.update(USER, bomb.to_principal(), "allocate", nat64(1)).unwrap()), 3);
    n.assert_cycles_conserved();
}

/// Recovery with real Wasm state (heap, stable memory, globals, modules persisted as
/// pages): log every block, checkpoint every 2 blocks, lose power at a sweep of write
/// indices, recover and compare the state hash with the uncrashed node's.
#[test]
fn recovery_of_wasm_canisters_reaches_the_uncrashed_state_hash() {
    use keel_hypervisor::block_device::{BlockDevice, CrashAfter, CrashMode, MemBlockDevice};
    use keel_hypervisor::checkpoint::{CheckpointError, Store};
    use keel_hypervisor::state_tree::SubnetKeys;
    use keel_hypervisor::Hypervisor;
    use std::collections::BTreeMap;

    // The workload, recorded as blocks.
    let mut n = node(SubnetType::Application);
    let kv = n.install_wasm(USER, wasm(Canister::KvStore), no_args(), 10 * T);
    let ctr = n.install_wasm(USER, wasm(Canister::Counter), nat64(5), 10 * T);
    for i in 0..4 {
        let put = candid::encode(&[(Type::Text, Value::Text(format!("k{i}"))), (Type::Text, Value::Text("v".repeat(3000)))]).unwrap();
        let msgs = vec![n.ingress(USER, kv.to_principal(), "put", put), n.ingress(USER, ctr.to_principal(), "inc", no_args())];
        n.round(msgs);
    }
    let up = install_wasm_arg(kv, wasm(Canister::KvStore), "upgrade", no_args());
    let up = n.ingress(USER, Principal::MANAGEMENT_CANISTER, "install_code", up);
    n.round(vec![up]);
    let blocks = n.blocks.clone();
    let config = n.hv.state().config.clone();
    let fresh = || Hypervisor::new(engine(), config.clone());
    let mut hashes = BTreeMap::new();
    let mut replay = fresh();
    hashes.insert(0u64, replay.state_hash());
    for b in &blocks {
        hashes.insert(b.height.0, replay.execute_round(b).unwrap());
    }

    let run = |dev: &mut dyn BlockDevice, logged: &mut u64| -> Result<(), CheckpointError> {
        let mut store = Store::format(dev)?;
        let mut hv = fresh();
        hv.checkpoint(&mut store)?;
        for b in &blocks {
            store.append_log(b.height, &b.encode())?;
            *logged = b.height.0;
            hv.execute_round(b).unwrap();
            if b.height.0 % 2 == 0 {
                hv.checkpoint(&mut store)?;
            }
        }
        Ok(())
    };
    let mut dev = MemBlockDevice::new(1 << 16);
    let mut logged = 0;
    run(&mut dev, &mut logged).unwrap();
    let total = dev.writes();
    let (mut hv, _) = Hypervisor::recover(engine(), dev, SubnetKeys::default()).unwrap();
    let last = blocks.last().unwrap().height.0;
    assert_eq!((hv.height().0, hv.state_hash()), (last, hashes[&last]));
    // The recovered kv store still serves its data.
    let got = hv.query(USER, kv.to_principal(), "len", no_args()).unwrap();
    assert_eq!(reply_u64(&got), 4);

    // A sweep of crash points (every write would take minutes with real Wasm recompiles);
    // the stride is prime so the sweep hits pages, manifests, superblocks and log records.
    let mut k = 0;
    while k < total {
        let mut crash = CrashAfter::new(MemBlockDevice::new(1 << 16), k, CrashMode::Torn);
        let mut logged = 0;
        assert!(run(&mut crash, &mut logged).is_err());
        if let Ok((mut hv, _)) = Hypervisor::recover(engine(), crash.into_inner(), SubnetKeys::default()) {
            let h = hv.height().0;
            assert!(h == logged || h == logged + 1, "k={k}: recovered {h}, logged {logged}");
            assert_eq!(hv.state_hash(), hashes[&h], "k={k}: state differs at height {h}");
        } else {
            assert!(k < 4, "k={k}: nothing recoverable after the genesis checkpoint");
        }
        k += 37;
    }
}

/// The scale-out pattern with real canisters: a front-end (`inter_canister.forward`)
/// spreads keys over bucket canisters in one block; every call carries cycles the buckets
/// refuse, so they come back. (The buckets are created by the user here; in
/// `scale_out.rs` the `frontend` fixture creates and installs its buckets itself.)
#[test]
fn front_end_spreads_keys_over_bucket_canisters() {
    let mut n = node(SubnetType::Application);
    let front = n.install_wasm(USER, wasm(Canister::InterCanister), no_args(), 10 * T);
    let buckets: Vec<CanisterId> = (0..4).map(|_| n.install_wasm(USER, wasm(Canister::Counter), nat64(0), 10 * T)).collect();
    let msgs: Vec<_> = (0..20u64).map(|k| n.ingress(USER, front.to_principal(), "forward", forward_arg(buckets[(k % 4) as usize], "inc", k))).collect();
    let ids: Vec<_> = msgs.iter().map(|m| m.id).collect();
    n.round(msgs);
    for _ in 0..5 {
        n.round(vec![]);
    }
    for id in &ids {
        let IngressStatus::Replied(r) = n.status(id) else { panic!("{:?}", n.status(id)) };
        assert!(forward_result(&r).is_ok());
    }
    for b in &buckets {
        assert_eq!(reply_u64(&n.hv.query(USER, b.to_principal(), "get", no_args()).unwrap()), 5);
    }
    n.assert_cycles_conserved();
}
