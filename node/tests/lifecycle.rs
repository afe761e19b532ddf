//! A one-node replica through its `Service` boundary, with envelopes signed by ic-agent and
//! the real ic-cdk fixtures: status, create, install, update (v4, certified), query,
//! read_state, upgrade keeping data, stop and delete, and restart from the state device.

mod common;

use candid::{Decode, Encode, Principal as P};
use common::*;
use ic_management_canister_types::CanisterInstallMode;
use keel_crypto::hash::sha256;
use keel_crypto::hash_tree::LookupResult;
use keel_hypervisor::{BlockDevice, FileBlockDevice, MemBlockDevice};
use keel_node::{Reply, Service};
use serde_cbor::Value;
use std::time::Duration;

fn leaf<'a>(cert: &'a keel_interface::certificate::Certificate, path: &[&[u8]]) -> &'a [u8] {
    match cert.tree.lookup_path(path) {
        LookupResult::Found(v) => v,
        other => panic!("{path:?}: {other:?}"),
    }
}

fn uleb(mut b: &[u8]) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    while let [x, rest @ ..] = b {
        v |= u64::from(x & 0x7f) << shift;
        shift += 7;
        b = rest;
    }
    v
}

#[test]
fn status_reports_the_root_key_and_health() {
    let mut h = Harness::<MemBlockDevice>::start(1, None);
    let r = h.now(&get("/api/v2/status"));
    assert_eq!(r.status, 200);
    let m = cbor_map(&r.body);
    assert_eq!(bytes(field(&m, "root_key")), h.node.root_key_der());
    assert_eq!(h.node.root_key_der().len(), 133);
    assert_eq!(field(&m, "replica_health_status"), &Value::Text("healthy".into()));
    assert_eq!(field(&m, "impl_version"), &Value::Text("keel-node-test".into()));
    // Another seed, another root key.
    let other = Harness::<MemBlockDevice>::start(2, None);
    assert_ne!(other.node.root_key_der(), h.node.root_key_der());

    // The subnet as clients derive it from the root key, read through the ledger's id
    // (agent-js syncs its clock with read_state(["time"]) there, canister or not).
    let sid = keel_interface::certificate::root_subnet_id(h.node.root_key_der()).as_slice().to_vec();
    let ledger = P::from_text("ryjl3-tyaaa-aaaaa-aaaba-cai").unwrap();
    let cert = h.read_state(ledger, vec![vec![b"subnet".to_vec(), sid.clone()], vec![b"time".to_vec()]]).unwrap();
    assert_eq!(leaf(&cert, &[b"subnet", &sid, b"public_key"]), h.node.root_key_der());
    assert_eq!(leaf(&cert, &[b"subnet", &sid, b"type"]), b"application");
    let signer = h.node.keys().node_signer();
    let node_key = leaf(&cert, &[b"subnet", &sid, b"node", signer.node_id.as_slice(), b"public_key"]);
    assert_eq!(node_key, signer.key.public_key_der());
    let ranges: Value = serde_cbor::from_slice(leaf(&cert, &[b"subnet", &sid, b"canister_ranges"])).unwrap();
    assert!(matches!(ranges, Value::Tag(55799, _) | Value::Array(_)), "{ranges:?}");
}

#[test]
fn counter_lifecycle_then_restart_from_the_device() {
    let mut dev = MemBlockDevice::new(keel_node::persistence::RESERVED_BLOCKS + (1 << 16));
    let alice = user(7);
    let bob = user(8);
    let (cid, root_key, inc_rid, clock) = {
        let mut h = Harness::start(1, Some(&mut dev));
        let cid = h.create(&alice);
        let installed = h.install(&alice, cid, CanisterInstallMode::Install, counter_wasm(), Encode!(&5u64).unwrap());
        assert!(matches!(installed, Outcome::Replied(_)), "{installed:?}");

        // Update via v4: parked, then answered with a certificate that verifies.
        let inc = sign_call(&alice, cid, "inc", Encode!(&()).unwrap(), cid);
        assert_eq!(Decode!(&h.reply(&inc), u64).unwrap(), 6);
        // The same request again (a client retry): answered from the certified state, not
        // executed twice.
        assert_eq!(Decode!(&h.reply(&inc), u64).unwrap(), 6);
        assert_eq!(Decode!(&h.query(&alice, cid, "get", Encode!(&()).unwrap()).unwrap(), u64).unwrap(), 6);
        // A query's writes are discarded.
        h.query(&alice, cid, "inc_in_query", Encode!(&()).unwrap()).unwrap();
        assert_eq!(Decode!(&h.query(&bob, cid, "get", Encode!(&()).unwrap()).unwrap(), u64).unwrap(), 6);

        // read_state: time, module hash, controllers.
        let cid_bytes = cid.as_slice().to_vec();
        let cert = h
            .read_state(
                cid,
                vec![
                    vec![b"time".to_vec()],
                    vec![b"canister".to_vec(), cid_bytes.clone(), b"module_hash".to_vec()],
                    vec![b"canister".to_vec(), cid_bytes.clone(), b"controllers".to_vec()],
                ],
            )
            .unwrap();
        let time = uleb(leaf(&cert, &[b"time"]));
        assert!(time <= h.clock && time + 5_000_000_000 > h.clock, "certified time {time} vs clock {}", h.clock);
        assert_eq!(leaf(&cert, &[b"canister", &cid_bytes, b"module_hash"]), sha256(&counter_wasm()));
        let controllers = leaf(&cert, &[b"canister", &cid_bytes, b"controllers"]);
        let alice_id = alice.get_principal().unwrap();
        assert!(controllers.windows(alice_id.as_slice().len()).any(|w| w == alice_id.as_slice()));

        // request_status: the sender reads it, a stranger may not.
        let cert = h.request_status(&alice, cid, inc.request_id).unwrap();
        assert_eq!(h.outcome(&cert, &inc.request_id), Outcome::Replied(Encode!(&6u64).unwrap()));
        assert_eq!(h.request_status(&bob, cid, inc.request_id).unwrap_err().status, 403);

        // Only controllers may install.
        let refused = h.install(&bob, cid, CanisterInstallMode::Reinstall, counter_wasm(), Encode!(&0u64).unwrap());
        assert!(matches!(refused, Outcome::Rejected { code: 5, .. }), "{refused:?}");
        (cid, h.node.root_key_der().to_vec(), inc.request_id, h.clock)
    };

    // Restart on the same device, offered other keys: the stored identity wins.
    let mut h = Harness::start_at(99, Some(&mut dev), clock + 1_000_000_000);
    assert_eq!(h.node.root_key_der(), root_key.as_slice());
    assert_eq!(Decode!(&h.query(&alice, cid, "get", Encode!(&()).unwrap()).unwrap(), u64).unwrap(), 6);
    let cert = h.request_status(&alice, cid, inc_rid).unwrap();
    assert_eq!(h.outcome(&cert, &inc_rid), Outcome::Replied(Encode!(&6u64).unwrap()));
    let inc = sign_call(&alice, cid, "inc", Encode!(&()).unwrap(), cid);
    assert_eq!(Decode!(&h.reply(&inc), u64).unwrap(), 7);

    // Stop, then delete; the canister is gone.
    let stop = sign_call(&alice, P::management_canister(), "stop_canister", id_arg(cid), cid);
    h.reply(&stop);
    assert_eq!(h.query(&alice, cid, "get", Encode!(&()).unwrap()).unwrap_err().0, 5, "stopped canisters refuse queries");
    let delete = sign_call(&alice, P::management_canister(), "delete_canister", id_arg(cid), cid);
    h.reply(&delete);
    assert_eq!(h.query(&alice, cid, "get", Encode!(&()).unwrap()).unwrap_err().0, 3);
}

#[test]
fn upgrade_keeps_stable_data_and_checkpoints_survive_restart() {
    let path = std::env::temp_dir().join(format!("keel-node-test-{}.img", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut cfg = config();
    cfg.checkpoint_interval = 3;
    let alice = user(9);
    let (cid, clock, hash) = {
        let dev = FileBlockDevice::open(&path, keel_node::persistence::RESERVED_BLOCKS + (1 << 16)).unwrap();
        let mut h = Harness::start_with(cfg.clone(), 3, Some(dev), real_now());
        let cid = h.create(&alice);
        assert!(matches!(h.install(&alice, cid, CanisterInstallMode::Install, kv_wasm(), Encode!().unwrap()), Outcome::Replied(_)));
        let put = sign_call(&alice, cid, "put", Encode!(&"k", &"v1").unwrap(), cid);
        h.reply(&put);
        let upgraded = h.install(&alice, cid, CanisterInstallMode::Upgrade(None), kv_wasm(), Encode!().unwrap());
        assert!(matches!(upgraded, Outcome::Replied(_)), "{upgraded:?}");
        let got = Decode!(&h.query(&alice, cid, "get", Encode!(&"k").unwrap()).unwrap(), Option<String>).unwrap();
        assert_eq!(got.as_deref(), Some("v1"));
        let stats = Decode!(&h.query(&alice, cid, "stats", Encode!().unwrap()).unwrap(), u64, u64).unwrap();
        assert_eq!(stats, (1, 1), "writes carried through the upgrade hooks; one upgrade");
        assert!(h.node.replica().height().0 > 3, "several checkpoints were taken");
        let hash = h.node.state_hash();
        (cid, h.clock, hash)
    };
    let dev = FileBlockDevice::open(&path, keel_node::persistence::RESERVED_BLOCKS + (1 << 16)).unwrap();
    let mut h = Harness::start_with(cfg, 4, Some(dev), clock + 1_000_000_000);
    assert_eq!(h.node.state_hash(), hash, "recovery rebuilds exactly the executed state");
    let got = Decode!(&h.query(&alice, cid, "get", Encode!(&"k").unwrap()).unwrap(), Option<String>).unwrap();
    assert_eq!(got.as_deref(), Some("v1"));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_device_with_state_but_no_key_record_is_refused() {
    let mut dev = MemBlockDevice::new(keel_node::persistence::RESERVED_BLOCKS + (1 << 12));
    drop(Harness::start(1, Some(&mut dev)));
    dev.write_block(0, &[0; keel_hypervisor::BLOCK_SIZE]).unwrap();
    let err = keel_node::Node::new(config(), keys(1), Some(&mut dev), real_now()).unwrap_err();
    assert_eq!(err, keel_node::NodeError::KeyStore(keel_node::persistence::KeyStoreError::MissingKeys));
}

#[test]
fn expired_and_forged_requests_are_rejected() {
    let alice = user(5);
    // The node's clock is ten minutes past the agent's: every expiry has passed.
    let mut h = Harness::<MemBlockDevice>::start_at(1, None, real_now() + 600_000_000_000);
    let s = sign_call(&alice, P::management_canister(), "provisional_create_canister_with_cycles", create_arg(), P::management_canister());
    let r = h.now(&post("/api/v4/canister/aaaaa-aa/call", s.body.clone()));
    assert_eq!(r.status, 400);
    assert!(text(&r).starts_with("Invalid request expiry"), "{}", text(&r));

    let mut h = Harness::<MemBlockDevice>::start(1, None);
    let mut env = cbor_map(&s.body);
    let Some(Value::Bytes(sig)) = env.get_mut(&Value::Text("sender_sig".into())) else { panic!("sig") };
    sig[0] ^= 1;
    let forged = serde_cbor::to_vec(&Value::Map(env)).unwrap();
    let r = h.now(&post("/api/v4/canister/aaaaa-aa/call", forged));
    assert_eq!(r.status, 400, "{}", text(&r));
    assert!(!h.node.has_pending());

    // A call to a canister that does not exist is refused before consensus.
    let ghost = P::from_slice(&[0, 0, 0, 0, 0, 0, 0x42, 0, 1, 1]);
    let s = sign_call(&alice, ghost, "inc", Encode!(&()).unwrap(), ghost);
    let r = h.now(&post(&format!("/api/v4/canister/{ghost}/call"), s.body));
    assert_eq!(r.status, 200, "{}", text(&r));
    let m = cbor_map(&r.body);
    assert_eq!(field(&m, "status"), &Value::Text("non_replicated_rejection".into()));
    assert_eq!(field(&m, "reject_code"), &Value::Integer(3));
    assert_eq!(field(&m, "error_code"), &Value::Text("IC0301".into()));
    // Nothing was executed.
    assert!(h.node.replica().certified_state().ingress.is_empty());
}

#[test]
fn v2_call_is_accepted_then_readable_by_polling() {
    let alice = user(6);
    let mut h = Harness::<MemBlockDevice>::start(1, None);
    let s = sign_call(&alice, P::management_canister(), "provisional_create_canister_with_cycles", create_arg(), P::management_canister());
    let r = h.now(&post("/api/v2/canister/aaaaa-aa/call", s.body.clone()));
    assert_eq!(r.status, 202);
    assert!(r.body.is_empty());
    h.run_for(Duration::from_millis(50));
    let cert = h.request_status(&alice, P::management_canister(), s.request_id).unwrap();
    assert!(matches!(h.outcome(&cert, &s.request_id), Outcome::Replied(_)));

    // The deprecated v3 endpoint (agent-js 3.x's default) waits like v4.
    let s = sign_call(&alice, P::management_canister(), "provisional_create_canister_with_cycles", create_arg(), P::management_canister());
    let Reply::Later(ticket) = h.request(&post("/api/v3/canister/aaaaa-aa/call", s.body.clone())) else { panic!("not parked") };
    let (r, _) = h.wait(ticket);
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(field(&cbor_map(&r.body), "status"), &Value::Text("replied".into()));
}

#[test]
fn idle_node_makes_few_blocks_and_unknown_tickets_do_not_hang() {
    let mut h = Harness::<MemBlockDevice>::start(1, None);
    let start = h.node.replica().height().0;
    h.run_for(Duration::from_secs(10));
    let made = h.node.replica().height().0 - start;
    assert!((5..=15).contains(&made), "{made} blocks in 10 idle seconds");
    // Step to the next idle block: right after it, the node asks to sleep, not to poll.
    let height = h.node.replica().height().0;
    let mut wait = h.advance(Duration::ZERO);
    while h.node.replica().height().0 == height {
        wait = h.advance(wait);
    }
    assert!(wait > Duration::from_millis(100), "idle: the next wake-up is far, not {wait:?}");
    assert_eq!(h.node.poll(12345, h.clock).map(|r| r.status), Some(202));
}

#[test]
fn same_inputs_give_the_same_state() {
    let alice = user(3);
    let clock = real_now();
    let create = sign_call(&alice, P::management_canister(), "provisional_create_canister_with_cycles", create_arg(), P::management_canister());
    // Learn the id the first canister gets, to sign its install once for both runs.
    let cid = {
        let mut h = Harness::<MemBlockDevice>::start_at(1, None, clock);
        Decode!(&h.reply(&create), ic_management_canister_types::CanisterIdRecord).unwrap().canister_id
    };
    let install_arg = install_arg(cid, CanisterInstallMode::Install, counter_wasm(), Encode!(&1u64).unwrap());
    let install = sign_call(&alice, P::management_canister(), "install_code", install_arg, cid);
    let inc = sign_call(&alice, cid, "inc", Encode!(&()).unwrap(), cid);
    let run = || {
        let mut h = Harness::<MemBlockDevice>::start_at(1, None, clock);
        h.reply(&create);
        h.reply(&install);
        assert_eq!(Decode!(&h.reply(&inc), u64).unwrap(), 2);
        (h.node.state_hash(), h.node.certified().unwrap().tree.digest(), h.node.replica().height())
    };
    let a = run();
    let b = run();
    assert_eq!(a, b);
}

#[test]
fn anyone_may_use_the_provisional_api_on_a_dev_node() {
    let anonymous = signer(ic_agent::identity::AnonymousIdentity);
    let mut h = Harness::<MemBlockDevice>::start(1, None);
    let cid = h.create(&anonymous);
    let top_up = Encode!(&ic_management_canister_types::ProvisionalTopUpCanisterArgs {
        canister_id: cid,
        amount: candid::Nat::from(1_000_000u64)
    })
    .unwrap();
    let s = sign_call(&anonymous, P::management_canister(), "provisional_top_up_canister", top_up, cid);
    assert_eq!(h.call(&s), Outcome::Replied(Encode!().unwrap()));
}
