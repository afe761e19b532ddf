//! System API behaviour through the WAT fixtures: the wasm64 (i64) signatures, the values
//! the API reports, and every function refusing to run outside its contexts.

mod common;

use common::*;
use keel_fixtures::WatFixture;
use keel_sandbox::{CallbackKind, Cycles, EntryPoint, ErrorCode, ExecutionError, MessageInput, RejectCode};

fn probe() -> Harness {
    Harness::new(&wat_fixture(WatFixture::ApiProbe), vec![])
}

fn violation(outcome: &keel_sandbox::ExecutionOutcome) -> String {
    match &outcome.result {
        Err(ExecutionError::ContractViolation(m)) => {
            assert_eq!(outcome.result.as_ref().unwrap_err().error_code(), ErrorCode::CanisterContractViolation);
            m.clone()
        }
        other => panic!("expected a contract violation, got {other:?}"),
    }
}

#[test]
fn wasm64_counter_uses_i64_signatures_and_persists_heap_and_globals() {
    let wasm = wat_fixture(WatFixture::Wasm64Counter);
    let mut h = Harness::new(&wasm, vec![]);
    assert!(h.module.memory64());
    assert_eq!(h.state.heap.len_bytes(), 2 * 65536, "init grew the memory to 2 pages");
    for expected in 1..=3u64 {
        let outcome = h.update("inc", vec![]);
        assert_eq!(u64_le(outcome.reply().unwrap(), 0), expected);
    }
    assert_eq!(u64_le(h.query("get", vec![]).reply().unwrap(), 0), 3, "heap page above 64 KiB kept");
    assert_eq!(u64_le(h.query("global", vec![]).reply().unwrap(), 0), 3, "non-exported global kept");
    assert_eq!(h.query("whoami", vec![]).reply().unwrap(), controller().as_slice());
    assert_eq!(u128_le(h.query("balance", vec![]).reply().unwrap(), 0), env().balance.get());
    let echoed = h.update("stable_echo", b"through stable memory".to_vec());
    assert!(echoed.is_ok(), "{:?}", echoed.result);
    assert_eq!(echoed.reply().unwrap(), b"through stable memory");
    assert_eq!(h.state.stable.len_bytes(), 128 << 20);
    assert_eq!(h.state.stable.stored_pages().count(), 1, "128 MiB of stable memory stays sparse");

    // A trap after changing the global and the heap leaves both as they were.
    let trapped = h.update("trap", vec![]);
    assert_eq!(trapped.result, Err(ExecutionError::CalledTrap("trap requested".into())));
    assert_eq!(u64_le(h.query("global", vec![]).reply().unwrap(), 0), 3);

    h.upgrade(&wasm).unwrap();
    assert_eq!(u64_le(h.query("get", vec![]).reply().unwrap(), 0), 3, "post_upgrade restored from stable memory");
}

#[test]
fn wasm64_callbacks_take_i64_environments() {
    let mut h = Harness::new(&wat_fixture(WatFixture::Wasm64Counter), vec![]);
    let outcome = h.update("call", CANISTER.principal().as_slice().to_vec());
    assert!(outcome.is_ok(), "{:?}", outcome.result);
    let call = &outcome.calls[0];
    assert_eq!(call.method, "get");
    assert_eq!(call.arg, b"wasm64");
    assert_eq!((call.on_reply.env, call.on_reject.env), (77, 78));
    let reply = h.run(&EntryPoint::Callback { kind: CallbackKind::Reply, closure: call.on_reply, composite: false }, message(vec![]));
    assert_eq!(u64_le(reply.reply().unwrap(), 0), 77);
    let reject = h.run(
        &EntryPoint::Callback { kind: CallbackKind::Reject, closure: call.on_reject, composite: false },
        MessageInput { reject: Some((RejectCode::DestinationInvalid, "gone".into())), ..message(vec![]) },
    );
    assert_eq!(reject.response, Some(keel_sandbox::Response::Reject("trap requested".into())));
}

#[test]
fn probe_reports_the_environment() {
    let mut h = probe();
    let outcome = h.update("probe", vec![]);
    assert!(outcome.is_ok(), "{:?}", outcome.result);
    let r = outcome.reply().unwrap();
    let e = env();
    assert_eq!(u64_le(r, 0), e.time_nanos);
    assert_eq!(u64_le(r, 8), e.canister_version);
    assert_eq!(u64_le(r, 16), 1, "running");
    assert!(u64_le(r, 24) > 0, "performance counter counts this message");
    assert_eq!(u64_le(r, 32), 1, "the caller is a controller");
    assert_eq!(u64_le(r, 40), 1, "replicated");
    assert_eq!(u64_le(r, 48), 0, "no previous timer");
    assert_eq!(u64_le(r, 56), 1, "one env var");
    assert_eq!(u64_le(r, 64), 133);
    assert_eq!(u64_le(r, 72), 29);
    assert_eq!(u128_le(r, 80), 500_000_000_000, "create canister fee on 13 nodes");
    assert_eq!(u128_le(r, 96), 260_000 + 1_000 * 110, "call fee");
    assert_eq!(u128_le(r, 112), e.balance.get());
    assert_eq!(outcome.certified_data.as_deref(), Some(&b"hello"[..]));
    assert_eq!(outcome.global_timer, Some(123));
}

#[test]
fn cost_functions_scale_with_subnet_size() {
    let mut h = probe();
    h.env.subnet_size = 26;
    let r = h.update("probe", vec![]).reply().unwrap().to_vec();
    assert_eq!(u128_le(&r, 80), 1_000_000_000_000);
    assert_eq!(u128_le(&r, 96), (260_000 + 1_000 * 110) * 2);
}

#[test]
fn cycles_accept_and_burn() {
    let mut h = probe();
    let outcome = h.run(
        &EntryPoint::Update("take_cycles".into()),
        MessageInput { cycles_available: Cycles::new(600), ..message(vec![]) },
    );
    let r = outcome.reply().unwrap();
    assert_eq!(u128_le(r, 0), 600);
    assert_eq!(u128_le(r, 16), 10);
    assert_eq!((outcome.cycles_accepted.get(), outcome.cycles_burned.get()), (600, 10));
}

#[test]
fn deprecated_32_bit_stable_api() {
    let mut h = probe();
    assert_eq!(h.update("stable32", vec![]).reply().unwrap(), b"hello");
    assert_eq!(h.state.stable.len_bytes(), 65536);
}

#[test]
fn debug_print_is_logged() {
    let mut h = probe();
    let outcome = h.update("print_and_reply", vec![]);
    assert_eq!(outcome.logs, vec![b"hello".to_vec()]);
}

#[test]
fn reply_twice_is_a_violation() {
    let mut h = probe();
    assert!(violation(&h.update("reply_twice", vec![])).contains("already replied"));
    let mut h = probe();
    let already = h.run(
        &EntryPoint::Update("print_and_reply".into()),
        MessageInput { already_responded: true, ..message(vec![]) },
    );
    assert!(violation(&already).contains("msg_reply"));
}

#[test]
fn certified_data_is_limited_to_32_bytes() {
    let mut h = probe();
    assert!(violation(&h.update("certified_too_long", vec![])).contains("33 bytes"));
}

#[test]
fn functions_trap_outside_their_contexts() {
    let mut h = probe();
    let cases = [
        (EntryPoint::Query("certified_in_query".into()), "\"ic0.certified_data_set\" cannot be executed in replicated query mode"),
        (EntryPoint::Query("call_in_query".into()), "\"ic0.call_new\" cannot be executed in replicated query mode"),
        (EntryPoint::Update("reject_code_in_update".into()), "\"ic0.msg_reject_code\" cannot be executed in update mode"),
        (EntryPoint::Update("certificate_in_update".into()), "\"ic0.data_certificate_size\" cannot be executed in update mode"),
        (EntryPoint::Update("refunded_in_update".into()), "\"ic0.msg_cycles_refunded128\" cannot be executed in update mode"),
        (EntryPoint::PreUpgrade, "\"ic0.msg_arg_data_size\" cannot be executed in pre_upgrade mode"),
        (EntryPoint::InspectMessage, "\"ic0.msg_reply\" cannot be executed in inspect message mode"),
    ];
    for (entry, expected) in cases {
        let before = h.state.clone();
        let outcome = h.run(&entry, MessageInput { method_name: "other".into(), ..message(vec![]) });
        assert_eq!(violation(&outcome), expected, "{entry:?}");
        assert!(h.state.heap.content_eq(&before.heap));
    }
}

#[test]
fn init_may_not_reply() {
    let sandbox = keel_sandbox::Sandbox::new(test_limits());
    let module = sandbox.compile(&wat_fixture(WatFixture::ApiProbe)).unwrap();
    let mut state = keel_sandbox::CanisterState::new();
    assert!(sandbox.install(&module, &mut state, &env()).is_ok());
    let outcome = sandbox.execute(&module, &mut state, &EntryPoint::Init, &message(vec![1]), &env());
    assert_eq!(violation(&outcome), "\"ic0.msg_reply\" cannot be executed in init mode");
}

#[test]
fn certificate_only_in_non_replicated_queries() {
    let mut h = probe();
    h.env.replicated = false;
    h.env.data_certificate = Some(vec![9; 100]);
    let outcome = h.query("certificate_in_query", vec![]);
    assert_eq!(u64_le(outcome.reply().unwrap(), 0), 100);
    h.env.replicated = true;
    let outcome = h.query("certificate_in_query", vec![]);
    assert!(violation(&outcome).contains("replicated query mode"));
}

#[test]
fn inspect_message_accepts() {
    let mut h = probe();
    let outcome = h.run(&EntryPoint::InspectMessage, MessageInput { method_name: "accept_me".into(), ..message(vec![]) });
    assert!(outcome.is_ok(), "{:?}", outcome.result);
    assert!(outcome.message_accepted);
}

#[test]
fn every_function_has_one_entry_and_a_context() {
    let mut names = std::collections::BTreeSet::new();
    for function in keel_sandbox::api::API {
        assert!(names.insert(function.name), "duplicate {}", function.name);
    }
    assert!(names.len() >= 75, "{} functions", names.len());
}
