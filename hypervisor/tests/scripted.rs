//! Hypervisor semantics with the scripted engine (tests/common): actor model and
//! interleaving, reject codes, stop/delete with calls in flight, data-only subnets,
//! freezing, fork, upgrade, snapshots, queries, determinism and cycles conservation.

mod common;

use common::*;
use keel_hypervisor::candid::{self, Type, Value};
use keel_hypervisor::error::{ErrorCode, RejectCode};
use keel_hypervisor::execution::{CallbackKind, EntryPoint, ExecutionError, MemorySpace};
use keel_hypervisor::ids::{CanisterId, CanisterIdExt, Principal, PrincipalExt};
use keel_hypervisor::message::IngressStatus;
use keel_hypervisor::SubnetType;

// Heap layout of the scripted programs.
const COUNT: u64 = 0;
const STARTED: u64 = 8;
const CALLBACKS: u64 = 16;
const CLEANUPS: u64 = 24;

fn counter(env: &mut Env<'_>) -> Result<(), ExecutionError> {
    match env.entry {
        EntryPoint::Init => {
            let v = env.arg_u64();
            env.set_heap(COUNT, v);
        }
        EntryPoint::Update(m) if m == "inc" => {
            let v = env.heap(COUNT) + 1;
            env.set_heap(COUNT, v);
            env.reply_u64(v);
        }
        EntryPoint::Update(m) if m == "inc_then_trap" => {
            let v = env.heap(COUNT) + 1;
            env.set_heap(COUNT, v);
            return Err(ExecutionError::CalledTrap("boom".into()));
        }
        EntryPoint::Update(m) if m == "refuse" => env.reject("no thanks"),
        EntryPoint::Update(m) if m == "silent" => {}
        EntryPoint::Update(m) if m == "fill" => {
            let n = env.arg_u64();
            env.mem.fill_heap(1, n, 7);
            env.reply_u64(n);
        }
        EntryPoint::Update(m) if m == "stable_put" => {
            let v = env.arg_u64();
            env.mem.write_u64(MemorySpace::Stable, 0, v);
            env.reply_u64(v);
        }
        EntryPoint::PostUpgrade => {
            // Carries the stable value into the fresh heap, as upgrade hooks do.
            let v = env.mem.read_u64(MemorySpace::Stable, 0);
            env.set_heap(COUNT, v);
        }
        EntryPoint::Query(m) if m == "get" => {
            let v = env.heap(COUNT);
            env.reply_u64(v);
        }
        EntryPoint::Query(m) if m == "peek" => {
            let a = env.arg_u64();
            let v = env.heap(a);
            env.reply_u64(v);
        }
        EntryPoint::Query(m) if m == "cert" => {
            let c = env.env.data_certificate.clone().unwrap_or_default();
            env.reply(c);
        }
        _ => return Err(ExecutionError::MethodNotFound(String::new())),
    }
    Ok(())
}

/// `call`: arg = callee principal (10 bytes) · method; replies with the callee's reply
/// (prefixed by the caller's COUNT at callback time), or `[0xFF, reject code]`.
fn caller(env: &mut Env<'_>) -> Result<(), ExecutionError> {
    match env.entry {
        EntryPoint::Update(m) if m == "call" || m == "call_trap_callback" => {
            let callee = Principal::from_slice(&env.input.arg[..10]).unwrap();
            let method = String::from_utf8(env.input.arg[10..].to_vec()).unwrap();
            let started = env.heap(STARTED) + 1;
            env.set_heap(STARTED, started);
            let trap_in_callback = u64::from(m == "call_trap_callback");
            env.call(callee, &method, Vec::new(), 0, 1, trap_in_callback);
        }
        EntryPoint::Update(m) if m == "bump" => {
            let v = env.heap(COUNT) + 1;
            env.set_heap(COUNT, v);
            env.reply_u64(v);
        }
        EntryPoint::Update(m) if m == "fork_self" => {
            let arg = candid::encode(&[(
                Type::record(&[("canister_id", Type::Principal)]),
                Value::record(&[("canister_id", Value::Principal(env.env.canister_id.to_principal()))]),
            )])
            .unwrap();
            let cycles = env.arg_u64() as u128;
            env.call(Principal::MANAGEMENT_CANISTER, "keel_fork_canister", arg, cycles, 3, 0);
        }
        EntryPoint::Update(m) if m == "fill" => {
            let n = env.arg_u64();
            env.mem.fill_heap(1, n, 7);
            env.reply_u64(n);
        }
        EntryPoint::Callback { kind: CallbackKind::Reply, closure: c, .. } if c.fun == 1 => {
            let n = env.heap(CALLBACKS) + 1;
            env.set_heap(CALLBACKS, n);
            if c.env == 1 {
                return Err(ExecutionError::CalledTrap("callback trap".into()));
            }
            let mut r = env.heap(COUNT).to_le_bytes().to_vec();
            r.extend_from_slice(&env.input.arg);
            env.reply(r);
        }
        EntryPoint::Callback { kind: CallbackKind::Reject, closure: c, .. } if c.fun == 2 => {
            let code = env.input.reject.as_ref().map_or(0, |(c, _)| *c as u8);
            env.reply(vec![0xFF, code]);
        }
        EntryPoint::Callback { kind: CallbackKind::Reply, closure: c, .. } if c.fun == 3 => {
            let r = env.input.arg.clone();
            env.reply(r);
        }
        EntryPoint::Callback { kind: CallbackKind::Reject, closure: c, .. } if c.fun == 4 => {
            let msg = env.input.reject.as_ref().map(|(_, m)| m.clone()).unwrap_or_default();
            env.reject(&msg);
        }
        EntryPoint::Callback { kind: CallbackKind::Cleanup, .. } => {
            let n = env.heap(CLEANUPS) + 1;
            env.set_heap(CLEANUPS, n);
        }
        EntryPoint::Query(m) if m == "get" => {
            let v = env.heap(COUNT);
            env.reply_u64(v);
        }
        EntryPoint::Query(m) if m == "peek" => {
            let a = env.arg_u64();
            let v = env.heap(a);
            env.reply_u64(v);
        }
        EntryPoint::CompositeQuery(m) if m == "sum_of" => {
            // Queries `get` of the canister in the argument and adds its own COUNT.
            let callee = Principal::from_slice(&env.input.arg[..10]).unwrap();
            env.call(callee, "get", Vec::new(), 0, 5, 0);
        }
        EntryPoint::Callback { kind: CallbackKind::Reply, closure: c, .. } if c.fun == 5 => {
            let v = u64_of(&env.input.arg) + env.heap(COUNT);
            env.reply_u64(v);
        }
        EntryPoint::Init | EntryPoint::PostUpgrade | EntryPoint::PreUpgrade => {}
        _ => return Err(ExecutionError::MethodNotFound(String::new())),
    }
    Ok(())
}

fn executor() -> TestExecutor {
    TestExecutor::default()
        .with("counter", counter, &["inc", "inc_then_trap", "refuse", "silent", "fill", "stable_put"], &["get", "peek", "cert"])
        .with("caller", caller, &["call", "call_trap_callback", "bump", "fork_self", "fill"], &["get", "peek"])
        .with_composite("caller", &["sum_of"])
}

fn call_arg(callee: CanisterId, method: &str) -> Vec<u8> {
    let mut a = callee.to_principal().to_vec();
    a.extend_from_slice(method.as_bytes());
    a
}

const T: u128 = 1_000_000_000_000;

#[test]
fn update_query_and_reject_codes() {
    let mut n = Node::new(executor(), SubnetType::Application);
    let c = n.install(USER, "counter", 10 * T);
    assert_eq!(u64_of(&n.update(USER, c.to_principal(), "inc", vec![]).unwrap()), 1);
    assert_eq!(u64_of(&n.hv.query(USER, c.to_principal(), "get", vec![]).unwrap()), 1);
    let e = n.update(USER, c.to_principal(), "inc_then_trap", vec![]).unwrap_err();
    assert_eq!((e.code, e.reject_code()), (ErrorCode::CanisterCalledTrap, RejectCode::CanisterError));
    // The trap rolled back its write.
    assert_eq!(u64_of(&n.hv.query(USER, c.to_principal(), "get", vec![]).unwrap()), 1);
    let e = n.update(USER, c.to_principal(), "refuse", vec![]).unwrap_err();
    assert_eq!((e.code, e.reject_code()), (ErrorCode::CanisterRejectedMessage, RejectCode::CanisterReject));
    let e = n.update(USER, c.to_principal(), "silent", vec![]).unwrap_err();
    assert_eq!(e.code, ErrorCode::CanisterDidNotReply);
    let e = n.update(USER, c.to_principal(), "nope", vec![]).unwrap_err();
    assert_eq!(e.code, ErrorCode::CanisterMethodNotFound);
    let e = n.update(USER, CanisterId::from_u64(777).to_principal(), "inc", vec![]).unwrap_err();
    assert_eq!((e.code, e.reject_code()), (ErrorCode::CanisterNotFound, RejectCode::DestinationInvalid));
    let e = n.update(user(9), Principal::MANAGEMENT_CANISTER, "canister_status", canister_id_arg(c)).unwrap_err();
    assert_eq!(e.code, ErrorCode::CanisterInvalidController);
    assert!(n.update(USER, Principal::MANAGEMENT_CANISTER, "canister_status", canister_id_arg(c)).is_ok());
    let e = n.update(USER, Principal::MANAGEMENT_CANISTER, "raw_rand", candid::encode(&[]).unwrap()).unwrap_err();
    assert_eq!(e.code, ErrorCode::CanisterRejectedMessage);
    n.assert_cycles_conserved();
}

#[test]
fn interleaving_across_awaits_and_responses_reach_their_callbacks() {
    let mut n = Node::new(executor(), SubnetType::Application);
    let a = n.install(USER, "caller", 10 * T);
    let b = n.install(USER, "counter", 10 * T);
    // A small round budget: A's call and its callback land in different rounds, and
    // `bump` runs in between, while A awaits.
    n.hv.state_mut().config.round_instructions = 2 * BASE_INSTRUCTIONS;
    let call = n.ingress(USER, a.to_principal(), "call", call_arg(b, "inc"));
    let bump = n.ingress(USER, a.to_principal(), "bump", vec![]);
    let (call_id, bump_id) = (call.id, bump.id);
    n.round(vec![call, bump]);
    for _ in 0..10 {
        n.round(vec![]);
    }
    let IngressStatus::Replied(r) = n.status(&call_id) else { panic!("call not replied: {:?}", n.status(&call_id)) };
    // The callback saw `bump`'s write (COUNT = 1) and B's reply (1).
    assert_eq!((u64_of(&r[..8]), u64_of(&r[8..])), (1, 1));
    assert!(matches!(n.status(&bump_id), IngressStatus::Replied(_)));
    n.assert_cycles_conserved();
}

#[test]
fn callee_errors_map_to_reject_codes_in_the_callback() {
    let mut n = Node::new(executor(), SubnetType::Application);
    let a = n.install(USER, "caller", 10 * T);
    let b = n.install(USER, "counter", 10 * T);
    let code = |n: &mut Node, target: CanisterId, m: &str| n.update(USER, a.to_principal(), "call", call_arg(target, m)).unwrap();
    assert_eq!(code(&mut n, CanisterId::from_u64(999), "inc"), [0xFF, RejectCode::DestinationInvalid as u8]);
    assert_eq!(code(&mut n, b, "missing"), [0xFF, RejectCode::CanisterError as u8]);
    assert_eq!(code(&mut n, b, "refuse"), [0xFF, RejectCode::CanisterReject as u8]);
    assert_eq!(code(&mut n, b, "inc_then_trap"), [0xFF, RejectCode::CanisterError as u8]);
    n.assert_cycles_conserved();
}

#[test]
fn callback_trap_runs_cleanup_and_rejects_the_caller() {
    let mut n = Node::new(executor(), SubnetType::Application);
    let a = n.install(USER, "caller", 10 * T);
    let b = n.install(USER, "counter", 10 * T);
    let e = n.update(USER, a.to_principal(), "call_trap_callback", call_arg(b, "inc")).unwrap_err();
    assert_eq!(e.code, ErrorCode::CanisterCalledTrap);
    let peek = |n: &Node, addr: u64| u64_of(&n.hv.query(USER, a.to_principal(), "peek", addr.to_le_bytes().to_vec()).unwrap());
    assert_eq!(peek(&n, CLEANUPS), 1, "cleanup ran and its write persisted");
    assert_eq!(peek(&n, CALLBACKS), 0, "the trapped callback's write was rolled back");
    assert_eq!(peek(&n, STARTED), 1);
    // The callee's side effect stands.
    assert_eq!(u64_of(&n.hv.query(USER, b.to_principal(), "get", vec![]).unwrap()), 1);
    n.assert_cycles_conserved();
}

#[test]
fn stop_waits_for_outstanding_calls_and_delete_needs_stopped() {
    let mut n = Node::new(executor(), SubnetType::Application);
    let a = n.install(USER, "caller", 10 * T);
    let b = n.install(USER, "counter", 10 * T);
    n.hv.state_mut().config.round_instructions = BASE_INSTRUCTIONS;
    let call = n.ingress(USER, a.to_principal(), "call", call_arg(b, "inc"));
    let call_id = call.id;
    n.round(vec![call]);
    // A's call to B is in flight; stop A.
    let stop = n.ingress(USER, Principal::MANAGEMENT_CANISTER, "stop_canister", canister_id_arg(a));
    let stop_id = stop.id;
    let del = n.ingress(USER, Principal::MANAGEMENT_CANISTER, "delete_canister", canister_id_arg(a));
    let del_id = del.id;
    let late = n.ingress(USER, a.to_principal(), "bump", vec![]);
    let late_id = late.id;
    n.round(vec![stop, del, late]);
    assert!(matches!(n.status(&stop_id), IngressStatus::Processing), "stop answered while a call was out");
    let IngressStatus::Rejected(e) = n.status(&del_id) else { panic!() };
    assert_eq!(e.code, ErrorCode::CanisterNotStopped);
    let IngressStatus::Rejected(e) = n.status(&late_id) else { panic!("{:?}", n.status(&late_id)) };
    assert_eq!(e.code, ErrorCode::CanisterStopping);
    for _ in 0..10 {
        n.round(vec![]);
    }
    // The outstanding call completed normally, then the stop was answered.
    assert!(matches!(n.status(&call_id), IngressStatus::Replied(_)));
    assert!(matches!(n.status(&stop_id), IngressStatus::Replied(_)));
    let e = n.update(USER, a.to_principal(), "bump", vec![]).unwrap_err();
    assert_eq!(e.code, ErrorCode::CanisterStopped);
    n.update(USER, Principal::MANAGEMENT_CANISTER, "delete_canister", canister_id_arg(a)).unwrap();
    assert!(n.hv.state().canister(a).is_none());
    let e = n.update(USER, a.to_principal(), "bump", vec![]).unwrap_err();
    assert_eq!(e.code, ErrorCode::CanisterNotFound);
    n.assert_cycles_conserved();
}

#[test]
fn stopping_the_callee_rejects_queued_calls() {
    let mut n = Node::new(executor(), SubnetType::Application);
    let a = n.install(USER, "caller", 10 * T);
    let b = n.install(USER, "counter", 10 * T);
    n.hv.state_mut().config.round_instructions = BASE_INSTRUCTIONS;
    let call = n.ingress(USER, a.to_principal(), "call", call_arg(b, "inc"));
    let call_id = call.id;
    n.round(vec![call]);
    let stop = n.ingress(USER, Principal::MANAGEMENT_CANISTER, "stop_canister", canister_id_arg(b));
    n.round(vec![stop]);
    for _ in 0..10 {
        n.round(vec![]);
    }
    let IngressStatus::Replied(r) = n.status(&call_id) else { panic!() };
    assert_eq!(r, [0xFF, RejectCode::CanisterError as u8]);
    n.update(USER, Principal::MANAGEMENT_CANISTER, "delete_canister", canister_id_arg(b)).unwrap();
    n.assert_cycles_conserved();
}

#[test]
fn data_only_subnet_rejects_outgoing_calls() {
    let mut n = Node::new(executor(), SubnetType::DataOnly);
    let a = n.install(USER, "caller", 10 * T);
    let b = n.install(USER, "counter", 10 * T);
    let r = n.update(USER, a.to_principal(), "call", call_arg(b, "inc")).unwrap();
    assert_eq!(r, [0xFF, RejectCode::CanisterError as u8]);
    assert_eq!(u64_of(&n.hv.query(USER, b.to_principal(), "get", vec![]).unwrap()), 0, "the call never reached B");
    // Plain updates still work.
    assert_eq!(u64_of(&n.update(USER, b.to_principal(), "inc", vec![]).unwrap()), 1);
    n.assert_cycles_conserved();
}

#[test]
fn cycle_exhaustion_freezes_and_top_up_thaws() {
    let mut n = Node::new(executor(), SubnetType::Application);
    let c = n.install(USER, "counter", 400 * T);
    n.freeze_then_thaw(c, "inc", vec![]);
    assert_eq!(u64_of(&n.update(USER, c.to_principal(), "inc", vec![]).unwrap()), 1);
    n.assert_cycles_conserved();
}

#[test]
fn storage_fees_drain_an_idle_canister_until_it_is_frozen() {
    let mut n = Node::new(executor(), SubnetType::Application);
    let c = n.install(USER, "counter", 100 * T);
    n.update(USER, c.to_principal(), "fill", 256u64.to_le_bytes().to_vec()).unwrap();
    let before = n.hv.state().canister(c).unwrap().balance;
    // Two simulated years pass in one block (1 MiB at 127k cycles/GiB/s, 13/13 scaled to
    // 1 node) — then any message first pays the storage fee.
    let mut ing = n.ingress(USER, c.to_principal(), "inc", vec![]);
    ing.expiry = keel_hypervisor::ids::Time(u64::MAX);
    let h = n.hv.height().next();
    let block = keel_hypervisor::Block { height: h, time: keel_hypervisor::ids::Time(1_700_000_000_000_000_000 + 63_072_000_000_000_000), randomness: [0; 32], ingress: vec![ing] };
    n.hv.execute_round(&block).unwrap();
    let after = n.hv.state().canister(c).unwrap().balance;
    assert!(after < before, "storage was charged");
    n.assert_cycles_conserved();
}

#[test]
fn fork_shares_pages_copy_on_write() {
    let mut n = Node::new(executor(), SubnetType::Application);
    let a = n.install(USER, "caller", 1000 * T);
    n.update(USER, a.to_principal(), "fill", 512u64.to_le_bytes().to_vec()).unwrap();
    let fee = n.hv.state().fees().canister_creation().get();
    let r = n.update(USER, a.to_principal(), "fork_self", ((fee + 5 * T) as u64).to_le_bytes().to_vec()).unwrap();
    let fork = candid::decode_record(&r).unwrap().req("canister_id").unwrap().as_principal().unwrap().as_canister().unwrap();
    let (pa, pf) = (n.hv.state().canister(a).unwrap(), n.hv.state().canister(fork).unwrap());
    assert_eq!(pf.code, pa.code);
    assert!(pf.memory.pages.shared_pages(&pa.memory.pages) >= 512, "fork copied pages instead of sharing them");
    assert_eq!(pf.balance.get(), 5 * T);
    let peek = |n: &Node, c: CanisterId, page: u64| u64_of(&n.hv.query(USER, c.to_principal(), "peek", (page * 4096).to_le_bytes().to_vec()).unwrap());
    assert_eq!(peek(&n, fork, 100), 107);
    // Writing the fork breaks sharing for that page only; the original is untouched.
    n.update(USER, fork.to_principal(), "bump", vec![]).unwrap();
    assert_eq!(u64_of(&n.hv.query(USER, fork.to_principal(), "get", vec![]).unwrap()), 1);
    assert_eq!(u64_of(&n.hv.query(USER, a.to_principal(), "get", vec![]).unwrap()), 0);
    let (pa, pf) = (n.hv.state().canister(a).unwrap(), n.hv.state().canister(fork).unwrap());
    assert!(pf.memory.pages.shared_pages(&pa.memory.pages) >= 511);
    // Only controllers or the canister itself may fork it.
    let arg = canister_id_arg(a);
    let e = n.update(user(7), Principal::MANAGEMENT_CANISTER, "keel_fork_canister", arg).unwrap_err();
    assert_eq!(e.code, ErrorCode::CanisterInvalidController);
    n.assert_cycles_conserved();
}

#[test]
fn upgrade_keeps_stable_memory_and_snapshots_restore() {
    let mut n = Node::new(executor(), SubnetType::Application);
    let c = n.install(USER, "counter", 10 * T);
    n.update(USER, c.to_principal(), "inc", vec![]).unwrap();
    n.update(USER, c.to_principal(), "stable_put", 41u64.to_le_bytes().to_vec()).unwrap();
    let snap = candid::encode(&[(Type::record(&[("canister_id", Type::Principal)]), Value::record(&[("canister_id", Value::Principal(c.to_principal()))]))]).unwrap();
    let r = n.update(USER, Principal::MANAGEMENT_CANISTER, "take_canister_snapshot", snap).unwrap();
    let snap_id = candid::decode_record(&r).unwrap().req("id").unwrap().as_blob().unwrap().to_vec();
    n.update(USER, Principal::MANAGEMENT_CANISTER, "install_code", install_arg(c, "counter", "upgrade", vec![])).unwrap();
    // post_upgrade moved the stable value into the fresh heap.
    assert_eq!(u64_of(&n.hv.query(USER, c.to_principal(), "get", vec![]).unwrap()), 41);
    n.update(USER, c.to_principal(), "inc", vec![]).unwrap();
    let load = candid::encode(&[(
        Type::record(&[("canister_id", Type::Principal), ("snapshot_id", Type::blob())]),
        Value::record(&[("canister_id", Value::Principal(c.to_principal())), ("snapshot_id", Value::Blob(snap_id))]),
    )])
    .unwrap();
    n.update(USER, Principal::MANAGEMENT_CANISTER, "load_canister_snapshot", load).unwrap();
    assert_eq!(u64_of(&n.hv.query(USER, c.to_principal(), "get", vec![]).unwrap()), 1);
    let info = n.update(USER, Principal::MANAGEMENT_CANISTER, "canister_info", canister_id_arg(c)).unwrap();
    let v = candid::decode_record(&info).unwrap();
    assert_eq!(v.req("total_num_changes").unwrap().as_u64().unwrap(), 4); // create, install, upgrade, load
    n.assert_cycles_conserved();
}

#[test]
fn queries_see_the_certified_snapshot_and_composite_queries_call_across() {
    let mut n = Node::new(executor(), SubnetType::Application);
    let a = n.install(USER, "caller", 10 * T);
    let b = n.install(USER, "counter", 10 * T);
    n.update(USER, b.to_principal(), "inc", vec![]).unwrap();
    n.update(USER, a.to_principal(), "bump", vec![]).unwrap();
    let r = n.hv.query(USER, a.to_principal(), "sum_of", b.to_principal().to_vec()).unwrap();
    assert_eq!(u64_of(&r), 2);
    // A query's writes are discarded.
    let before = n.hv.state_hash();
    n.hv.query(USER, b.to_principal(), "get", vec![]).unwrap();
    assert_eq!(n.hv.state_hash(), before);
    // Updates never reach query-only methods of the snapshot, and vice versa.
    let e = n.hv.query(USER, b.to_principal(), "inc", vec![]).unwrap_err();
    assert_eq!(e.code, ErrorCode::CanisterMethodNotFound);
}

#[test]
fn raw_rand_comes_from_block_randomness() {
    fn randy(env: &mut Env<'_>) -> Result<(), ExecutionError> {
        match env.entry {
            EntryPoint::Update(_) => env.call(Principal::MANAGEMENT_CANISTER, "raw_rand", candid::encode(&[]).unwrap(), 0, 3, 0),
            EntryPoint::Callback { kind: CallbackKind::Reply, closure: _, .. } => {
                let r = env.input.arg.clone();
                env.reply(r);
            }
            EntryPoint::Init => {}
            _ => return Err(ExecutionError::MethodNotFound(String::new())),
        }
        Ok(())
    }
    let exec = || TestExecutor::default().with("randy", randy, &["rand"], &[]);
    let run = || {
        let mut n = Node::new(exec(), SubnetType::Application);
        let c = n.install(USER, "randy", 10 * T);
        let a = n.update(USER, c.to_principal(), "rand", vec![]).unwrap();
        let b = n.update(USER, c.to_principal(), "rand", vec![]).unwrap();
        (a, b)
    };
    let (a, b) = run();
    let blob = candid::decode(&a).unwrap();
    assert_eq!(blob[0].as_blob().unwrap().len(), 32);
    assert_ne!(a, b, "different blocks give different randomness");
    assert_eq!(run(), (a, b), "the same blocks give the same randomness");
}

/// The scale-out pattern: a front-end creates bucket canisters (create_canister with
/// cycles + install_code), then spreads keys over them.
fn frontend(env: &mut Env<'_>) -> Result<(), ExecutionError> {
    const BUCKETS: u64 = 0; // number created
    const WANT: u64 = 8;
    let list = |i: u64| 64 + 8 * i;
    match env.entry {
        EntryPoint::Update(m) if m == "init_buckets" => {
            let want = env.arg_u64();
            env.set_heap(WANT, want);
            for i in 0..want {
                let arg = candid::encode(&[(Type::record(&[]), Value::record(&[]))]).unwrap();
                env.call(Principal::MANAGEMENT_CANISTER, "create_canister", arg, 600_000_000_000, 10, i);
            }
        }
        EntryPoint::Callback { kind: CallbackKind::Reply, closure: c, .. } if c.fun == 10 => {
            let v = candid::decode_record(&env.input.arg).unwrap();
            let id = v.req("canister_id").unwrap().as_principal().unwrap().as_canister().unwrap();
            env.set_heap(list(c.env), id.get());
            let arg = install_arg(id, "counter", "install", Vec::new());
            env.call(Principal::MANAGEMENT_CANISTER, "install_code", arg, 0, 12, c.env);
        }
        EntryPoint::Callback { kind: CallbackKind::Reply, closure: c, .. } if c.fun == 12 => {
            let n = env.heap(BUCKETS) + 1;
            env.set_heap(BUCKETS, n);
            if n == env.heap(WANT) {
                env.reply_u64(n);
            }
        }
        EntryPoint::Update(m) if m == "put" => {
            let key = env.arg_u64();
            let n = env.heap(BUCKETS);
            let bucket = CanisterId::from_u64(env.heap(list(key % n)));
            env.call(bucket.to_principal(), "inc", Vec::new(), 0, 14, 0);
        }
        EntryPoint::Callback { kind: CallbackKind::Reply, closure: c, .. } if c.fun == 14 => {
            let r = env.input.arg.clone();
            env.reply(r);
        }
        EntryPoint::Callback { kind: CallbackKind::Reject, closure: c, .. } => {
            let msg = env.input.reject.as_ref().map(|(_, m)| m.clone()).unwrap_or_default();
            env.reject(&format!("step {} failed: {msg}", c.fun));
        }
        EntryPoint::Query(m) if m == "bucket" => {
            let i = env.arg_u64();
            let v = env.heap(list(i));
            env.reply_u64(v);
        }
        EntryPoint::Init => {}
        _ => return Err(ExecutionError::MethodNotFound(String::new())),
    }
    Ok(())
}

#[test]
fn multi_canister_scale_out_front_end_creates_buckets_and_spreads_keys() {
    let exec = executor().with("frontend", frontend, &["init_buckets", "put"], &["bucket"]);
    let mut n = Node::new(exec, SubnetType::Application);
    let f = n.install(USER, "frontend", 100 * T);
    assert_eq!(u64_of(&n.update(USER, f.to_principal(), "init_buckets", 4u64.to_le_bytes().to_vec()).unwrap()), 4);
    // The front-end controls the buckets it created.
    let buckets: Vec<CanisterId> = (0..4)
        .map(|i| CanisterId::from_u64(u64_of(&n.hv.query(USER, f.to_principal(), "bucket", (i as u64).to_le_bytes().to_vec()).unwrap())))
        .collect();
    for b in &buckets {
        assert!(n.hv.state().canister(*b).unwrap().is_controller(&f.to_principal()));
    }
    let keys: Vec<_> = (0..20u64).map(|k| n.ingress(USER, f.to_principal(), "put", k.to_le_bytes().to_vec())).collect();
    n.round(keys);
    for _ in 0..5 {
        n.round(vec![]);
    }
    for b in &buckets {
        assert_eq!(u64_of(&n.hv.query(USER, b.to_principal(), "get", vec![]).unwrap()), 5, "keys spread evenly");
    }
    n.assert_cycles_conserved();
}

#[test]
fn same_blocks_give_the_same_state_hash() {
    let scenario = || {
        let exec = executor().with("frontend", frontend, &["init_buckets", "put"], &["bucket"]);
        let mut n = Node::new(exec, SubnetType::Application);
        let f = n.install(USER, "frontend", 100 * T);
        n.update(USER, f.to_principal(), "init_buckets", 3u64.to_le_bytes().to_vec()).unwrap();
        let keys: Vec<_> = (0..9u64).map(|k| n.ingress(USER, f.to_principal(), "put", k.to_le_bytes().to_vec())).collect();
        let mut hashes = vec![n.round(keys)];
        hashes.push(n.round(vec![]));
        (n.blocks.clone(), hashes)
    };
    let (blocks, hashes) = scenario();
    assert_eq!(scenario().1, hashes);
    // A fresh node fed the recorded blocks reaches the same hashes.
    let exec = executor().with("frontend", frontend, &["init_buckets", "put"], &["bucket"]);
    let mut replay = Node::new(exec, SubnetType::Application);
    let mut last = [0; 32];
    for b in &blocks {
        last = replay.hv.execute_round(b).unwrap();
    }
    assert_eq!(last, *hashes.last().unwrap());
    // A different block changes the hash.
    let mut other = Node::new(executor(), SubnetType::Application);
    let mut diverged = blocks.clone();
    diverged[0].time.0 += 1;
    let h = other.hv.execute_round(&diverged[0]).unwrap();
    let mut same = Node::new(executor(), SubnetType::Application);
    assert_ne!(h, same.hv.execute_round(&blocks[0]).unwrap());
}

#[test]
fn state_tree_certifies_request_status_and_canister_entries() {
    use keel_hypervisor::state_tree::HashTree;
    let mut n = Node::new(executor(), SubnetType::Application);
    let c = n.install(USER, "counter", 10 * T);
    let ok = n.ingress(USER, c.to_principal(), "inc", vec![]);
    let bad = n.ingress(USER, c.to_principal(), "refuse", vec![]);
    let (ok_id, bad_id) = (ok.id, bad.id);
    n.round(vec![ok, bad]);
    let tree: HashTree = n.hv.state_tree().to_hash_tree();
    let leaf = |path: &[&[u8]]| match tree.lookup_path(path) {
        keel_crypto::hash_tree::LookupResult::Found(v) => v.to_vec(),
        other => panic!("{path:?}: {other:?}"),
    };
    assert_eq!(leaf(&[b"request_status", &ok_id.0, b"status"]), b"replied");
    assert_eq!(leaf(&[b"request_status", &ok_id.0, b"reply"]), 1u64.to_le_bytes());
    assert_eq!(leaf(&[b"request_status", &bad_id.0, b"status"]), b"rejected");
    assert_eq!(leaf(&[b"request_status", &bad_id.0, b"reject_code"]), [4]);
    assert_eq!(leaf(&[b"request_status", &bad_id.0, b"error_code"]), b"IC0406");
    let cid = c.to_principal();
    assert_eq!(leaf(&[b"canister", cid.as_slice(), b"module_hash"]), keel_hypervisor::codec::sha256(&[b"counter"]));
    assert_eq!(leaf(&[b"canister", cid.as_slice(), b"controllers"]), keel_hypervisor::state_tree::cbor_principals(&[USER]));
    assert_eq!(leaf(&[b"time"]), keel_hypervisor::state_tree::leb128(n.hv.state().time.0));
    assert_eq!(tree.digest(), n.hv.certified_root_hash());
}

/// Heartbeats every round; a global timer set for a later block time fires once, then
/// stays off; inspect_message gates ingress.
fn ticker(env: &mut Env<'_>) -> Result<(), ExecutionError> {
    const BEATS: u64 = 0;
    const FIRED: u64 = 8;
    match env.entry {
        EntryPoint::Heartbeat => {
            let v = env.heap(BEATS) + 1;
            env.set_heap(BEATS, v);
        }
        EntryPoint::GlobalTimer => {
            let v = env.heap(FIRED) + 1;
            env.set_heap(FIRED, v);
        }
        EntryPoint::Update(m) if m == "arm" => {
            // Fire two block-seconds from now.
            env.out.global_timer = Some(env.env.time_nanos + 2_000_000_000);
            env.reply(vec![]);
        }
        EntryPoint::InspectMessage => env.out.message_accepted = env.input.method_name == "arm",
        EntryPoint::Query(m) if m == "peek" => {
            let a = env.arg_u64();
            let v = env.heap(a);
            env.reply_u64(v);
        }
        EntryPoint::Init => {}
        _ => return Err(ExecutionError::MethodNotFound(String::new())),
    }
    Ok(())
}

#[test]
fn heartbeats_and_global_timer_run_from_block_time() {
    let exec = TestExecutor::default().with("ticker", ticker, &["arm", "other"], &["peek"]).with_hooks("ticker", true, true, true);
    let mut n = Node::new(exec, SubnetType::Application);
    let c = n.install(USER, "ticker", 10 * T);
    let peek = |n: &Node, a: u64| u64_of(&n.hv.query(USER, c.to_principal(), "peek", a.to_le_bytes().to_vec()).unwrap());
    let beats = peek(&n, 0);
    n.round(vec![]);
    n.round(vec![]);
    assert_eq!(peek(&n, 0), beats + 2, "one heartbeat per round");
    n.update(USER, c.to_principal(), "arm", vec![]).unwrap();
    assert_eq!(peek(&n, 8), 0);
    for _ in 0..5 {
        n.round(vec![]);
    }
    assert_eq!(peek(&n, 8), 1, "the timer fired exactly once");
    assert_eq!(n.hv.state().canister(c).unwrap().global_timer, 0);
    // inspect_message accepts `arm`, refuses `other`.
    assert!(n.hv.inspect_ingress(USER, c.to_principal(), "arm", vec![]).is_ok());
    let e = n.hv.inspect_ingress(USER, c.to_principal(), "other", vec![]).unwrap_err();
    assert_eq!(e.code, ErrorCode::CanisterRejectedMessage);
    n.assert_cycles_conserved();
}

#[test]
fn ingress_is_deduplicated_expires_and_is_pruned_after_retention() {
    let mut n = Node::new(executor(), SubnetType::Application);
    let c = n.install(USER, "counter", 10 * T);
    let ing = n.ingress(USER, c.to_principal(), "inc", vec![]);
    let id = ing.id;
    n.round(vec![ing.clone(), ing.clone()]);
    n.round(vec![ing.clone()]);
    assert_eq!(u64_of(&n.hv.query(USER, c.to_principal(), "get", vec![]).unwrap()), 1, "executed once");
    // Expired on arrival: never executed, never recorded.
    let mut late = n.ingress(USER, c.to_principal(), "inc", vec![]);
    late.expiry = keel_hypervisor::ids::Time(1);
    let late_id = late.id;
    n.round(vec![late]);
    assert!(!n.hv.state().ingress.contains_key(&late_id));
    // After the retention period the reply is dropped (`done`); the id stays until expiry.
    let h = n.hv.height().next();
    let later = n.hv.state().time.0 + n.hv.state().config.ingress_retention_ns + 1;
    n.hv.execute_round(&keel_hypervisor::Block { height: h, time: keel_hypervisor::ids::Time(later), randomness: [0; 32], ingress: vec![] }).unwrap();
    assert_eq!(n.status(&id), IngressStatus::Done);
    let h = n.hv.height().next();
    n.hv.execute_round(&keel_hypervisor::Block { height: h, time: keel_hypervisor::ids::Time(u64::MAX / 2 + 1), randomness: [0; 32], ingress: vec![] }).unwrap();
    assert!(!n.hv.state().ingress.contains_key(&id), "pruned after expiry");
}

#[test]
fn snapshots_are_listed_deleted_and_owned_by_their_canister() {
    let mut n = Node::new(executor(), SubnetType::Application);
    let c = n.install(USER, "counter", 10 * T);
    let other = n.install(USER, "counter", 10 * T);
    let take = candid::encode(&[(Type::record(&[("canister_id", Type::Principal)]), Value::record(&[("canister_id", Value::Principal(c.to_principal()))]))]).unwrap();
    let r = n.update(USER, Principal::MANAGEMENT_CANISTER, "take_canister_snapshot", take.clone()).unwrap();
    n.update(USER, Principal::MANAGEMENT_CANISTER, "take_canister_snapshot", take).unwrap();
    let id = candid::decode_record(&r).unwrap().req("id").unwrap().as_blob().unwrap().to_vec();
    let list = |n: &mut Node| {
        let r = n.update(USER, Principal::MANAGEMENT_CANISTER, "list_canister_snapshots", canister_id_arg(c)).unwrap();
        candid::decode(&r).unwrap()[0].as_vec().unwrap().len()
    };
    assert_eq!(list(&mut n), 2);
    let del = |cid: CanisterId, id: &[u8]| {
        candid::encode(&[(
            Type::record(&[("canister_id", Type::Principal), ("snapshot_id", Type::blob())]),
            Value::record(&[("canister_id", Value::Principal(cid.to_principal())), ("snapshot_id", Value::Blob(id.to_vec()))]),
        )])
        .unwrap()
    };
    // Another canister's id does not name this snapshot.
    let e = n.update(USER, Principal::MANAGEMENT_CANISTER, "delete_canister_snapshot", del(other, &id)).unwrap_err();
    assert_eq!(e.code, ErrorCode::CanisterSnapshotNotFound);
    n.update(USER, Principal::MANAGEMENT_CANISTER, "delete_canister_snapshot", del(c, &id)).unwrap();
    assert_eq!(list(&mut n), 1);
    n.assert_cycles_conserved();
}

#[test]
fn queries_see_the_certificate_of_the_state_they_run_on() {
    let mut n = Node::new(executor(), SubnetType::Application);
    let c = n.install(USER, "counter", 10 * T);
    assert!(n.hv.query(USER, c.to_principal(), "cert", vec![]).unwrap().is_empty(), "no certificate yet");
    n.hv.set_certificate(b"certificate-of-this-round".to_vec());
    assert_eq!(n.hv.query(USER, c.to_principal(), "cert", vec![]).unwrap(), b"certificate-of-this-round");
    // A new round's state is not covered by the old certificate.
    n.round(vec![]);
    assert!(n.hv.query(USER, c.to_principal(), "cert", vec![]).unwrap().is_empty());
}

#[test]
fn upgrade_with_keep_retains_the_heap() {
    let mut n = Node::new(executor(), SubnetType::Application);
    let c = n.install(USER, "counter", 10 * T);
    n.update(USER, c.to_principal(), "fill", 4u64.to_le_bytes().to_vec()).unwrap();
    let keep = candid::encode(&[(
        Type::record(&[
            ("mode", Type::variant(&[("upgrade", Type::opt(Type::record(&[("wasm_memory_persistence", Type::opt(Type::variant(&[("keep", Type::Null), ("replace", Type::Null)])))])))])),
            ("canister_id", Type::Principal),
            ("wasm_module", Type::blob()),
            ("arg", Type::blob()),
        ]),
        Value::record(&[
            ("mode", Value::variant("upgrade", Value::some(Value::record(&[("wasm_memory_persistence", Value::some(Value::variant("keep", Value::Null)))])))),
            ("canister_id", Value::Principal(c.to_principal())),
            ("wasm_module", Value::Blob(b"counter".to_vec())),
            ("arg", Value::Blob(vec![])),
        ]),
    )])
    .unwrap();
    n.update(USER, Principal::MANAGEMENT_CANISTER, "install_code", keep).unwrap();
    let peek = |n: &Node, page: u64| u64_of(&n.hv.query(USER, c.to_principal(), "peek", (page * 4096).to_le_bytes().to_vec()).unwrap());
    assert_eq!(peek(&n, 3), 10, "heap page 3 (7 + 3) survived the upgrade");
    // Without `keep` the heap is replaced.
    n.update(USER, Principal::MANAGEMENT_CANISTER, "install_code", install_arg(c, "counter", "upgrade", vec![])).unwrap();
    assert_eq!(peek(&n, 3), 0);
}
