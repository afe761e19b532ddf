//! Engine-level guarantees: start runs once, imported memory, canonical NaNs, stack and
//! memory limits, dirty-page accounting, default limits.

mod common;

use common::*;
use keel_fixtures::wat_to_wasm;
use keel_sandbox::{EntryPoint, ErrorCode, ExecutionError, Limits, NumInstructions, Sandbox};

fn wat(source: &str) -> Vec<u8> {
    wat_to_wasm("engine", source).unwrap_or_else(|e| panic!("{e}"))
}

/// Replies with the 8 bytes at address 0 after running `$body` (a function in the module).
fn reply_module(extra: &str) -> Vec<u8> {
    wat(&format!(
        r#"(module
          (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
          (import "ic0" "msg_reply" (func $reply))
          (memory 1)
          (func $answer (call $append (i32.const 0) (i32.const 8)) (call $reply))
          {extra})"#
    ))
}

#[test]
fn start_runs_once_at_install() {
    let wasm = reply_module(
        r#"(global $starts (mut i64) (i64.const 0))
           (func $start (global.set $starts (i64.add (global.get $starts) (i64.const 1))))
           (start $start)
           (func (export "canister_update starts") (i64.store (i32.const 0) (global.get $starts)) (call $answer))"#,
    );
    let mut h = Harness::new(&wasm, vec![]);
    for _ in 0..3 {
        assert_eq!(u64_le(h.update("starts", vec![]).reply().unwrap(), 0), 1);
    }
}

#[test]
fn data_segments_apply_once() {
    let wasm = reply_module(
        r#"(data (i32.const 0) "\01\00\00\00\00\00\00\00")
           (func (export "canister_update bump")
             (i64.store (i32.const 0) (i64.add (i64.load (i32.const 0)) (i64.const 1))) (call $answer))"#,
    );
    let mut h = Harness::new(&wasm, vec![]);
    assert_eq!(u64_le(h.update("bump", vec![]).reply().unwrap(), 0), 2);
    assert_eq!(u64_le(h.update("bump", vec![]).reply().unwrap(), 0), 3);
}

#[test]
fn imported_env_memory_works_and_persists() {
    let wasm = wat(
        r#"(module
          (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
          (import "ic0" "msg_reply" (func $reply))
          (import "env" "memory" (memory 2))
          (func (export "canister_update bump")
            (i64.store (i32.const 70000) (i64.add (i64.load (i32.const 70000)) (i64.const 1)))
            (call $append (i32.const 70000) (i32.const 8)) (call $reply)))"#,
    );
    let mut h = Harness::new(&wasm, vec![]);
    assert_eq!(u64_le(h.update("bump", vec![]).reply().unwrap(), 0), 1);
    assert_eq!(u64_le(h.update("bump", vec![]).reply().unwrap(), 0), 2);
    assert_eq!(h.state.heap.len_bytes(), 2 * 65536);
}

#[test]
fn nans_are_canonical() {
    let wasm = reply_module(
        r#"(func (export "canister_query nan32")
             (i32.store (i32.const 0) (i32.reinterpret_f32 (f32.div (f32.const 0) (f32.const 0))))
             (i32.store (i32.const 4) (i32.reinterpret_f32 (f32.add (f32.const -nan:0x1234) (f32.const 1))))
             (call $answer))
           (func (export "canister_query nan64")
             (i64.store (i32.const 0) (i64.reinterpret_f64 (f64.sqrt (f64.const -1))))
             (call $answer))"#,
    );
    let mut h = Harness::new(&wasm, vec![]);
    let r = h.query("nan32", vec![]).reply().unwrap().to_vec();
    assert_eq!(u32::from_le_bytes(r[0..4].try_into().unwrap()), 0x7fc0_0000);
    assert_eq!(u32::from_le_bytes(r[4..8].try_into().unwrap()), 0x7fc0_0000);
    assert_eq!(u64_le(h.query("nan64", vec![]).reply().unwrap(), 0), 0x7ff8_0000_0000_0000);
}

#[test]
fn unbounded_recursion_is_a_stack_overflow_trap() {
    let wasm = reply_module(r#"(func $deep (call $deep)) (func (export "canister_update deep") (call $deep))"#);
    let mut h = Harness::new(&wasm, vec![]);
    let outcome = h.update("deep", vec![]);
    assert_eq!(outcome.result, Err(ExecutionError::Trapped("stack overflow".into())));
    assert_eq!(outcome.result.unwrap_err().error_code(), ErrorCode::CanisterTrapped);
}

#[test]
fn memory_grow_beyond_the_cap_returns_minus_one() {
    let wasm = reply_module(
        r#"(func (export "canister_update grow")
             (i64.store (i32.const 0) (i64.extend_i32_s (memory.grow (i32.const 2000)))) (call $answer))"#,
    );
    let limits = Limits { heap_cap_bytes: Some(100 * 65536), ..test_limits() };
    let mut h = Harness::with_limits(&wasm, vec![], limits);
    assert_eq!(u64_le(h.update("grow", vec![]).reply().unwrap(), 0) as i64, -1);
    assert_eq!(h.state.heap.len_bytes(), 65536);
}

#[test]
fn out_of_bounds_access_traps_and_rolls_back() {
    let wasm = reply_module(
        r#"(func (export "canister_update oob") (i32.store (i32.const 8) (i32.const 7)) (i32.store (i32.const 65536) (i32.const 1)))"#,
    );
    let mut h = Harness::new(&wasm, vec![]);
    let outcome = h.update("oob", vec![]);
    assert_eq!(outcome.result, Err(ExecutionError::Trapped("heap out of bounds".into())));
    assert_eq!(h.state.heap.stored_pages().count(), 0);
}

#[test]
fn dirty_pages_count_what_changed() {
    let wasm = reply_module(
        r#"(func (export "canister_update touch")
             (i32.store (i32.const 0) (i32.const 1))
             (i32.store (i32.const 40000) (i32.const 1)))"#,
    );
    let mut h = Harness::new(&wasm, vec![]);
    h.state.clear_dirty();
    let outcome = h.update("touch", vec![]);
    assert!(outcome.is_ok());
    assert_eq!(outcome.dirty_pages, 2);
    let dirty: Vec<u64> = h.state.heap.dirty_pages().map(|p| p.get()).collect();
    assert_eq!(dirty, [0, 9]);
    h.state.clear_dirty();
    assert_eq!(h.update("touch", vec![]).dirty_pages, 0, "rewriting equal bytes dirties nothing");
}

#[test]
fn instruction_limits_depend_on_the_message_kind() {
    let limits = Limits::default();
    assert_eq!(limits.update_instructions, NumInstructions::new(40_000_000_000));
    assert_eq!(limits.query_instructions, NumInstructions::new(5_000_000_000));
    assert_eq!(limits.install_instructions, NumInstructions::new(300_000_000_000));
    assert_eq!(limits.inspect_message_instructions, NumInstructions::new(200_000_000));
    assert_eq!(limits.heap_bytes(false), 4 << 30);
    assert_eq!(limits.heap_bytes(true), 6 << 30);
    assert_eq!(EntryPoint::Query("q".into()).instruction_limit(&limits), limits.query_instructions);
    assert_eq!(EntryPoint::PostUpgrade.instruction_limit(&limits), limits.install_instructions);
    assert_eq!(EntryPoint::InspectMessage.instruction_limit(&limits), limits.inspect_message_instructions);

    // A query loop stops at the (smaller) query limit.
    let wasm = reply_module(r#"(func (export "canister_query spin") (loop $l (br $l)))"#);
    let mut h = Harness::new(&wasm, vec![]);
    let outcome = h.query("spin", vec![]);
    assert_eq!(outcome.result, Err(ExecutionError::InstructionLimitExceeded(test_limits().query_instructions)));
    assert_eq!(outcome.instructions_used, test_limits().query_instructions);
}

#[test]
fn compiled_modules_are_reusable_across_canisters() {
    let sandbox = Sandbox::new(test_limits());
    let wasm = reply_module(
        r#"(func (export "canister_update bump")
             (i64.store (i32.const 0) (i64.add (i64.load (i32.const 0)) (i64.const 1))) (call $answer))"#,
    );
    let mut cache = keel_sandbox::ModuleCache::new(4);
    let module = cache.get_or_compile(&sandbox, [1; 32], &wasm).unwrap();
    let again = cache.get_or_compile(&sandbox, [1; 32], b"ignored on a hit").unwrap();
    assert_eq!(cache.len(), 1);
    let mut a = keel_sandbox::CanisterState::new();
    let mut b = keel_sandbox::CanisterState::new();
    for (m, state) in [(&module, &mut a), (&again, &mut b)] {
        assert!(sandbox.install(m, state, &env()).is_ok());
    }
    let bump = |state: &mut keel_sandbox::CanisterState| {
        u64_le(sandbox.execute(&module, state, &EntryPoint::Update("bump".into()), &message(vec![]), &env()).reply().unwrap(), 0)
    };
    assert_eq!(bump(&mut a), 1);
    assert_eq!(bump(&mut a), 2);
    assert_eq!(bump(&mut b), 1, "canisters sharing a module share no state");
    // A fork (clone) diverges without touching the original.
    let mut fork = a.clone();
    assert_eq!(bump(&mut fork), 3);
    assert_eq!(bump(&mut a), 3);
}

#[test]
fn simd_runs_and_v128_globals_persist() {
    let wasm = reply_module(
        r#"(global $acc (mut v128) (v128.const i32x4 0 0 0 0))
           (func (export "canister_update add")
             (global.set $acc (i32x4.add (global.get $acc) (v128.const i32x4 1 2 3 4)))
             (v128.store (i32.const 0) (global.get $acc))
             (call $append (i32.const 0) (i32.const 16)) (call $reply))"#,
    );
    let mut h = Harness::new(&wasm, vec![]);
    h.update("add", vec![]);
    let r = h.update("add", vec![]).reply().unwrap().to_vec();
    let lanes: Vec<u32> = r.chunks(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(lanes, [2, 4, 6, 8]);
}

#[test]
fn transform_context_may_read_arguments_and_reply_but_not_call() {
    let wasm = wat(
        r#"(module
          (import "ic0" "msg_arg_data_size" (func $size (result i32)))
          (import "ic0" "msg_reply" (func $reply))
          (import "ic0" "call_perform" (func $perform (result i32)))
          (func (export "canister_query t") (drop (call $size)) (call $reply))
          (func (export "canister_query c") (drop (call $perform))))"#,
    );
    let mut h = Harness::new(&wasm, vec![]);
    assert!(h.run(&EntryPoint::Transform("t".into()), message(vec![1])).reply().is_some());
    let outcome = h.run(&EntryPoint::Transform("c".into()), message(vec![]));
    assert_eq!(
        outcome.result,
        Err(ExecutionError::ContractViolation("\"ic0.call_perform\" cannot be executed in transform mode".into()))
    );
}

#[test]
fn a_state_that_does_not_fit_the_module_is_an_error_not_a_panic() {
    let wasm = reply_module(r#"(func (export "canister_update x") (call $answer))"#);
    let mut h = Harness::new(&wasm, vec![]);
    h.state.heap.resize(h.state.heap.len_pages() + 1);
    let error = h.update("x", vec![]).result.unwrap_err();
    assert_eq!(error.error_code(), ErrorCode::CanisterInvalidWasm);
    let mut h = Harness::new(&wasm, vec![]);
    h.state.globals.push(keel_sandbox::GlobalValue::I32(1));
    assert_eq!(h.update("x", vec![]).result.unwrap_err().error_code(), ErrorCode::CanisterInvalidWasm);
}

#[test]
fn sandbox_types_can_cross_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Sandbox>();
    assert_send_sync::<keel_sandbox::CompiledModule>();
    assert_send_sync::<keel_sandbox::CanisterState>();
    assert_send_sync::<keel_sandbox::ExecutionOutcome>();
}

#[test]
fn upgrade_keeping_the_heap() {
    // Version 1 keeps a counter at address 64; version 2 reads it and starts from a data
    // segment that must NOT overwrite the kept heap.
    let v1 = reply_module(
        r#"(global $g (mut i32) (i32.const 5))
           (func (export "canister_update bump")
             (global.set $g (i32.const 9))
             (i64.store (i32.const 64) (i64.add (i64.load (i32.const 64)) (i64.const 1))))"#,
    );
    let v2 = reply_module(
        r#"(global $g (mut i32) (i32.const 5))
           (data (i32.const 64) "\ff")
           (func (export "canister_query read")
             (i64.store (i32.const 0) (i64.add (i64.load (i32.const 64)) (i64.extend_i32_u (global.get $g))))
             (call $answer))"#,
    );
    let mut h = Harness::new(&v1, vec![]);
    h.update("bump", vec![]);
    h.update("bump", vec![]);
    let module = h.sandbox.compile(&v2).unwrap();
    let outcome = h.sandbox.install_keeping_heap(&module, &mut h.state, &h.env);
    assert!(outcome.is_ok(), "{:?}", outcome.result);
    h.module = module;
    // 2 from the kept heap + 5 from the new module's initial global (not v1's 9).
    assert_eq!(u64_le(h.query("read", vec![]).reply().unwrap(), 0), 7);
}
