//! The ic-cdk fixture canisters through init, updates, queries, upgrades, traps and limits.

mod common;

use candid::Principal as CandidPrincipal;
use common::*;
use keel_fixtures::Canister;
use keel_sandbox::{CallbackKind, EntryPoint, ErrorCode, ExecutionError, MessageInput, RejectCode, Response};

#[test]
fn counter_init_update_query() {
    let mut h = Harness::new(&rust_fixture(Canister::Counter), candid::encode_one(41u64).unwrap());
    let (n,): (u64,) = h.update_candid("inc", ());
    assert_eq!(n, 42);
    let (n,): (u64,) = h.update_candid("inc", ());
    assert_eq!(n, 43);
    let (n,): (u64,) = h.query_candid("get", ());
    assert_eq!(n, 43);
}

#[test]
fn query_changes_are_discarded() {
    let mut h = Harness::new(&rust_fixture(Canister::Counter), candid::encode_one(0u64).unwrap());
    let before = h.state.clone();
    // A query that increments: it replies, but the increment must not stick.
    let (n,): (u64,) = h.query_candid("inc_in_query", ());
    assert_eq!(n, 1);
    assert!(h.state.heap.content_eq(&before.heap));
    let (n,): (u64,) = h.query_candid("get", ());
    assert_eq!(n, 0);
}

#[test]
fn unknown_method_is_method_not_found() {
    let mut h = Harness::new(&rust_fixture(Canister::Counter), candid::encode_one(0u64).unwrap());
    let outcome = h.update("nope", vec![]);
    let error = outcome.result.unwrap_err();
    assert_eq!(error.error_code(), ErrorCode::CanisterMethodNotFound);
    assert_eq!(error.error_code().to_string(), "IC0536");
}

#[test]
fn kv_store_keeps_data_across_upgrade() {
    let wasm = rust_fixture(Canister::KvStore);
    let mut h = Harness::new(&wasm, candid::encode_args(()).unwrap());
    for i in 0..20u32 {
        let (old,): (Option<String>,) = h.update_candid("put", (format!("key{i}"), format!("value{i}")));
        assert_eq!(old, None);
    }
    let (old,): (Option<String>,) = h.update_candid("put", ("key3".to_string(), "three".to_string()));
    assert_eq!(old.as_deref(), Some("value3"));
    assert!(h.state.stable.len_pages() > 0, "ic-stable-structures writes stable memory");
    h.upgrade(&wasm).unwrap();
    let (len,): (u64,) = h.query_candid("len", ());
    assert_eq!(len, 20);
    let (v,): (Option<String>,) = h.query_candid("get", ("key3".to_string(),));
    assert_eq!(v.as_deref(), Some("three"));
    let (v,): (Option<String>,) = h.query_candid("get", ("key19".to_string(),));
    assert_eq!(v.as_deref(), Some("value19"));
    // The heap counter went through pre_upgrade/post_upgrade via stable memory.
    let (writes, upgrades): (u64, u64) = h.query_candid("stats", ());
    assert_eq!((writes, upgrades), (21, 1));
}

#[test]
fn failed_upgrade_keeps_the_old_state() {
    let wasm = rust_fixture(Canister::KvStore);
    let mut h = Harness::new(&wasm, candid::encode_args(()).unwrap());
    let _: (Option<String>,) = h.update_candid("put", ("k".to_string(), "v".to_string()));
    let before = h.state.clone();
    // The new module's post_upgrade is missing an ic0 import: the upgrade must fail as a whole.
    let err = h.upgrade(b"not wasm").unwrap_err();
    assert!(err.contains("not valid"), "{err}");
    assert!(h.state.heap.content_eq(&before.heap) && h.state.stable.content_eq(&before.stable));
    let (v,): (Option<String>,) = h.query_candid("get", ("k".to_string(),));
    assert_eq!(v.as_deref(), Some("v"));
}

#[test]
fn trap_rolls_back_heap_stable_and_certified_data() {
    let mut h = Harness::new(&rust_fixture(Canister::TrapAfterWrite), candid::encode_args(()).unwrap());
    let _: () = h.update_candid("set", (5u64,));
    let before = h.state.clone();
    let outcome = h.update("set_then_trap", candid::encode_one(9u64).unwrap());
    let error = outcome.result.clone().unwrap_err();
    assert_eq!(error, ExecutionError::CalledTrap("trapped after write".into()));
    assert_eq!(error.error_code(), ErrorCode::CanisterCalledTrap);
    assert_eq!(error.reject_code(), RejectCode::CanisterError);
    assert_eq!(outcome.certified_data, None);
    assert!(outcome.instructions_used.get() > 0);
    assert!(h.state.heap.content_eq(&before.heap));
    assert!(h.state.stable.content_eq(&before.stable));
    assert_eq!(h.state.globals, before.globals);
    let (v,): (u64,) = h.query_candid("get", ());
    assert_eq!(v, 5);
    let (b,): (u8,) = h.query_candid("stable_byte", ());
    assert_eq!(b, 0);

    let outcome = h.update("set_then_unreachable", candid::encode_one(10u64).unwrap());
    assert_eq!(outcome.result.unwrap_err().error_code(), ErrorCode::CanisterTrapped);
    let (v,): (u64,) = h.query_candid("get", ());
    assert_eq!(v, 5);
}

#[test]
fn infinite_loop_hits_the_instruction_limit() {
    let mut h = Harness::new(&rust_fixture(Canister::InfiniteLoop), candid::encode_args(()).unwrap());
    let before = h.state.clone();
    let outcome = h.update("spin", candid::encode_args(()).unwrap());
    let error = outcome.result.clone().unwrap_err();
    assert!(matches!(error, ExecutionError::InstructionLimitExceeded(_)), "{error:?}");
    assert_eq!(error.error_code().to_string(), "IC0522");
    assert_eq!(error.reject_code(), RejectCode::CanisterError);
    assert_eq!(outcome.instructions_used, test_limits().update_instructions);
    assert!(h.state.heap.content_eq(&before.heap));
    let (spins,): (u64,) = h.query_candid("spins", ());
    assert_eq!(spins, 0);
}

#[test]
fn memory_bomb_is_stopped_by_the_heap_cap() {
    let mut h = Harness::new(&rust_fixture(Canister::MemoryBomb), candid::encode_args(()).unwrap());
    let (blocks,): (u64,) = h.update_candid("allocate", (4u64,));
    assert_eq!(blocks, 4);
    let heap_before = h.state.heap.len_bytes();
    let outcome = h.update("explode", candid::encode_args(()).unwrap());
    let error = outcome.result.unwrap_err();
    assert_eq!(error.error_code(), ErrorCode::CanisterOutOfMemory, "{error}");
    assert_eq!(h.state.heap.len_bytes(), heap_before, "the failed message's growth is rolled back");

    let outcome = h.update("explode_stable", candid::encode_args(()).unwrap());
    let error = outcome.result.unwrap_err();
    assert_eq!(error.error_code(), ErrorCode::CanisterOutOfMemory, "{error}");
    assert_eq!(h.state.stable.len_pages(), 0);
}

#[test]
fn inter_canister_call_is_recorded_and_its_callback_replies() {
    let mut h = Harness::new(&rust_fixture(Canister::InterCanister), candid::encode_args(()).unwrap());
    let callee = CandidPrincipal::from_slice(&[0, 0, 0, 0, 0, 0, 0, 9, 1, 1]);
    let outcome = h.update("forward", candid::encode_args((callee, "get".to_string(), 5u64)).unwrap());
    assert!(outcome.is_ok(), "{:?}", outcome.result);
    assert_eq!(outcome.response, None, "the reply waits for the callback");
    assert_eq!(outcome.calls.len(), 1);
    let call = &outcome.calls[0];
    assert_eq!(call.callee.as_slice(), callee.as_slice());
    assert_eq!(call.method, "get");
    assert_eq!(call.cycles.get(), 1_000);
    assert_eq!(outcome.cycles_sent.get(), 1_000);
    let (value,): (u64,) = candid::decode_args(&call.arg).unwrap();
    assert_eq!(value, 5);

    // The callee replies 77; the reply callback resumes the future, which replies.
    let reply = h.run(
        &EntryPoint::Callback { kind: CallbackKind::Reply, closure: call.on_reply, composite: false },
        MessageInput { arg: candid::encode_one(77u64).unwrap(), ..message(vec![]) },
    );
    let (result,): (Result<u64, String>,) = decode_reply("reply callback", &reply);
    assert_eq!(result, Ok(77));

    // Another call, answered by a reject.
    let outcome = h.update("forward", candid::encode_args((callee, "get".to_string(), 6u64)).unwrap());
    let call = &outcome.calls[0];
    let rejected = h.run(
        &EntryPoint::Callback { kind: CallbackKind::Reject, closure: call.on_reject, composite: false },
        MessageInput { reject: Some((RejectCode::CanisterReject, "no thanks".into())), ..message(vec![]) },
    );
    let (result,): (Result<u64, String>,) = decode_reply("reject callback", &rejected);
    assert!(result.unwrap_err().contains("no thanks"));
}

#[test]
fn fan_out_records_every_call() {
    let mut h = Harness::new(&rust_fixture(Canister::InterCanister), candid::encode_args(()).unwrap());
    let callee = CandidPrincipal::from_slice(&[0, 0, 0, 0, 0, 0, 0, 9, 1, 1]);
    let outcome = h.update("fan_out", candid::encode_one(callee).unwrap());
    assert!(outcome.is_ok(), "{:?}", outcome.result);
    // Futures are lazy in ic-cdk 0.20: the second call is made after the first completes.
    assert_eq!(outcome.calls.len(), 1);
    assert!(outcome.calls[0].timeout_seconds.is_none());
}

#[test]
fn cycles_accept_and_balance() {
    let mut h = Harness::new(&rust_fixture(Canister::InterCanister), candid::encode_args(()).unwrap());
    let outcome = h.run(
        &EntryPoint::Update("accept_all".into()),
        MessageInput { cycles_available: keel_sandbox::Cycles::new(5_000), ..message(candid::encode_args(()).unwrap()) },
    );
    let (accepted,): (u64,) = decode_reply("accept_all", &outcome);
    assert_eq!(accepted, 5_000);
    assert_eq!(outcome.cycles_accepted.get(), 5_000);
    let (balance,): (candid::Nat,) = h.query_candid("balance", ());
    assert_eq!(balance, candid::Nat::from(env().balance.get()));
}

#[test]
fn undecodable_argument_traps_in_the_canister() {
    let mut h = Harness::new(&rust_fixture(Canister::Counter), candid::encode_one(0u64).unwrap());
    let outcome = h.query("work", b"not candid".to_vec());
    // ic-cdk traps on undecodable arguments.
    assert!(matches!(outcome.result, Err(ExecutionError::CalledTrap(_))), "{:?} {:?}", outcome.result, outcome.response);
    assert!(!matches!(outcome.response, Some(Response::Reply(_))));
}

#[test]
fn execution_is_deterministic() {
    let run = || {
        let mut h = Harness::new(&rust_fixture(Canister::KvStore), candid::encode_args(()).unwrap());
        let mut instructions = Vec::new();
        for i in 0..10u32 {
            let outcome = h.update("put", candid::encode_args((format!("k{i}"), "v".repeat(i as usize))).unwrap());
            instructions.push(outcome.instructions_used);
        }
        (h.state, instructions)
    };
    let (a, ia) = run();
    let (b, ib) = run();
    assert_eq!(ia, ib);
    assert!(a.heap.content_eq(&b.heap));
    assert!(a.stable.content_eq(&b.stable));
    assert_eq!(a.globals, b.globals);
}
