//! Edge cases of individual System API functions: bounds, call construction order, cycles,
//! timers, environment variables, principals.

mod common;

use common::*;
use keel_fixtures::wat_to_wasm;
use keel_sandbox::{Cycles, ErrorCode, ExecutionError};

/// A wasm32 module with one update per case; `$buf` at 0..64 is scratch.
fn module(imports: &str, funcs: &str) -> Vec<u8> {
    wat_to_wasm(
        "edges",
        &format!(
            r#"(module
              (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
              (import "ic0" "msg_reply" (func $reply))
              {imports}
              (memory 1)
              (data (i32.const 100) "MODE")
              (func $answer8 (call $append (i32.const 0) (i32.const 8)) (call $reply))
              {funcs})"#
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn trapped(outcome: &keel_sandbox::ExecutionOutcome) -> &ExecutionError {
    outcome.result.as_ref().err().unwrap_or_else(|| panic!("expected a failure, got {:?}", outcome.response))
}

#[test]
fn copy_functions_check_both_ranges() {
    let wasm = module(
        r#"(import "ic0" "msg_arg_data_copy" (func $copy (param i32 i32 i32)))"#,
        r#"(func (export "canister_update src_oob") (call $copy (i32.const 0) (i32.const 2) (i32.const 4)))
           (func (export "canister_update dst_oob") (call $copy (i32.const 65534) (i32.const 0) (i32.const 4)))
           (func (export "canister_update ok") (call $copy (i32.const 0) (i32.const 1) (i32.const 3)) (call $append (i32.const 0) (i32.const 3)) (call $reply))"#,
    );
    let mut h = Harness::new(&wasm, vec![]);
    let e = trapped(&h.update("src_oob", vec![1, 2, 3, 4])).clone();
    assert!(e.to_string().contains("msg_arg_data_copy: src data out of bounds"), "{e}");
    let e = trapped(&h.update("dst_oob", vec![1, 2, 3, 4])).clone();
    assert!(e.to_string().contains("heap out of bounds"), "{e}");
    assert_eq!(e.error_code(), ErrorCode::CanisterTrapped);
    assert_eq!(h.update("ok", vec![1, 2, 3, 4]).reply().unwrap(), [2, 3, 4]);
}

#[test]
fn call_functions_need_call_new_first() {
    let wasm = module(
        r#"(import "ic0" "call_new" (func $new (param i32 i32 i32 i32 i32 i32 i32 i32)))
           (import "ic0" "call_data_append" (func $data (param i32 i32)))
           (import "ic0" "call_cycles_add128" (func $cycles (param i64 i64)))
           (import "ic0" "call_on_cleanup" (func $cleanup (param i32 i32)))
           (import "ic0" "call_with_best_effort_response" (func $best_effort (param i32)))
           (import "ic0" "call_perform" (func $perform (result i32)))"#,
        r#"(func $new_call (call $new (i32.const 100) (i32.const 4) (i32.const 100) (i32.const 4) (i32.const 1) (i32.const 2) (i32.const 3) (i32.const 4)))
           (func (export "canister_update orphan_append") (call $data (i32.const 0) (i32.const 1)))
           (func (export "canister_update orphan_perform") (drop (call $perform)))
           (func (export "canister_update too_rich") (call $new_call) (call $cycles (i64.const 1) (i64.const 0)))
           (func (export "canister_update double_cleanup") (call $new_call) (call $cleanup (i32.const 5) (i32.const 6)) (call $cleanup (i32.const 5) (i32.const 6)))
           (func (export "canister_update full")
             (call $new_call)
             (call $data (i32.const 100) (i32.const 4))
             (call $cycles (i64.const 0) (i64.const 500))
             (call $cleanup (i32.const 5) (i32.const 6))
             (call $best_effort (i32.const 1000))
             (drop (call $perform))
             ;; an unfinished second call is dropped, its cycles returned
             (call $new_call)
             (call $cycles (i64.const 0) (i64.const 7)))
           (func (export "canister_update perform_then_trap")
             (call $new_call) (call $cycles (i64.const 0) (i64.const 500)) (drop (call $perform))
             (call $reply)
             unreachable)"#,
    );
    let mut h = Harness::new(&wasm, vec![]);
    for method in ["orphan_append", "orphan_perform"] {
        let e = trapped(&h.update(method, vec![])).clone();
        assert!(e.to_string().contains("no call is under construction"), "{e}");
    }
    let e = trapped(&h.update("too_rich", vec![])).clone();
    assert_eq!(e.error_code(), ErrorCode::CanisterOutOfCycles, "{e}");
    let e = trapped(&h.update("double_cleanup", vec![])).clone();
    assert!(e.to_string().contains("already set"), "{e}");

    let outcome = h.update("full", vec![]);
    assert!(outcome.is_ok(), "{:?}", outcome.result);
    assert_eq!(outcome.calls.len(), 1);
    let call = &outcome.calls[0];
    assert_eq!((call.method.as_str(), call.arg.as_slice()), ("MODE", &b"MODE"[..]));
    assert_eq!(call.callee.as_slice(), b"MODE");
    assert_eq!(call.cycles, Cycles::new(500));
    assert_eq!(call.timeout_seconds, Some(300), "timeouts are capped at 300 s");
    assert_eq!((call.on_reply.fun, call.on_reply.env, call.on_reject.fun, call.on_reject.env), (1, 2, 3, 4));
    assert_eq!(call.on_cleanup.map(|c| (c.fun, c.env)), Some((5, 6)));
    assert_eq!(outcome.cycles_sent, Cycles::new(500));

    // A trap voids every effect: the performed call, its cycles and the reply.
    let outcome = h.update("perform_then_trap", vec![]);
    assert_eq!(outcome.result, Err(ExecutionError::Trapped("unreachable".into())));
    assert!(outcome.calls.is_empty() && outcome.response.is_none());
    assert_eq!(outcome.cycles_sent, Cycles::ZERO);
}

#[test]
fn global_timer_returns_the_previous_deadline() {
    let wasm = module(
        r#"(import "ic0" "global_timer_set" (func $set (param i64) (result i64)))"#,
        r#"(func (export "canister_update twice")
             (drop (call $set (i64.const 5)))
             (i64.store (i32.const 0) (call $set (i64.const 9)))
             (call $answer8))"#,
    );
    let mut h = Harness::new(&wasm, vec![]);
    h.env.global_timer = 3;
    let outcome = h.update("twice", vec![]);
    assert_eq!(u64_le(outcome.reply().unwrap(), 0), 5);
    assert_eq!(outcome.global_timer, Some(9));
}

#[test]
fn environment_variables() {
    let wasm = module(
        r#"(import "ic0" "env_var_name_size" (func $name_size (param i32) (result i32)))
           (import "ic0" "env_var_name_copy" (func $name_copy (param i32 i32 i32 i32)))
           (import "ic0" "env_var_name_exists" (func $exists (param i32 i32) (result i32)))
           (import "ic0" "env_var_value_size" (func $value_size (param i32 i32) (result i32)))
           (import "ic0" "env_var_value_copy" (func $value_copy (param i32 i32 i32 i32 i32)))"#,
        r#"(func (export "canister_update read")
             (call $name_copy (i32.const 0) (i32.const 0) (i32.const 0) (call $name_size (i32.const 0)))
             (call $value_copy (i32.const 100) (i32.const 4) (i32.const 4) (i32.const 0) (call $value_size (i32.const 100) (i32.const 4)))
             (i32.store8 (i32.const 8) (call $exists (i32.const 100) (i32.const 4)))
             (i32.store8 (i32.const 9) (call $exists (i32.const 100) (i32.const 3)))
             (call $append (i32.const 0) (i32.const 10)) (call $reply))
           (func (export "canister_update bad_index") (drop (call $name_size (i32.const 1))))
           (func (export "canister_update missing") (drop (call $value_size (i32.const 100) (i32.const 3))))"#,
    );
    let mut h = Harness::new(&wasm, vec![]);
    assert_eq!(h.update("read", vec![]).reply().unwrap(), b"MODEtest\x01\x00");
    assert!(trapped(&h.update("bad_index", vec![])).to_string().contains("out of bounds"));
    assert!(trapped(&h.update("missing", vec![])).to_string().contains("no environment variable named \"MOD\""));
}

#[test]
fn principals_longer_than_29_bytes_are_refused() {
    let wasm = module(
        r#"(import "ic0" "is_controller" (func $is (param i32 i32) (result i32)))"#,
        r#"(func (export "canister_update long") (drop (call $is (i32.const 0) (i32.const 30))))"#,
    );
    let mut h = Harness::new(&wasm, vec![]);
    assert_eq!(trapped(&h.update("long", vec![])).error_code(), ErrorCode::CanisterContractViolation);
}

#[test]
fn stable_memory_bounds_and_limits() {
    let wasm = module(
        r#"(import "ic0" "stable64_grow" (func $grow (param i64) (result i64)))
           (import "ic0" "stable64_read" (func $read (param i64 i64 i64)))
           (import "ic0" "stable64_write" (func $write (param i64 i64 i64)))"#,
        r#"(func (export "canister_update grow_huge") (i64.store (i32.const 0) (call $grow (i64.const 1000000))) (call $answer8))
           (func (export "canister_update grow_one") (i64.store (i32.const 0) (call $grow (i64.const 1))) (call $answer8))
           (func (export "canister_update write_past_end") (call $write (i64.const 65535) (i64.const 0) (i64.const 2)))
           (func (export "canister_update read_past_end") (call $read (i64.const 0) (i64.const 65535) (i64.const 2)))"#,
    );
    let mut h = Harness::new(&wasm, vec![]);
    assert_eq!(u64_le(h.update("grow_huge", vec![]).reply().unwrap(), 0), u64::MAX, "-1: beyond the stable limit");
    assert_eq!(u64_le(h.update("grow_one", vec![]).reply().unwrap(), 0), 0);
    assert_eq!(u64_le(h.update("grow_one", vec![]).reply().unwrap(), 0), 1);
    h.update("grow_one", vec![]);
    assert_eq!(h.state.stable.len_bytes(), 3 * 65536);
    assert!(h.update("write_past_end", vec![]).is_ok(), "in bounds with 3 pages");
    let mut small = Harness::new(&wasm, vec![]);
    small.update("grow_one", vec![]);
    assert!(trapped(&small.update("write_past_end", vec![])).to_string().contains("stable memory out of bounds"));
    assert!(trapped(&small.update("read_past_end", vec![])).to_string().contains("stable memory out of bounds"));
}
