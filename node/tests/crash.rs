//! No data loss: the state device loses power at every write of a run of update calls
//! (the write lost, or torn). Whatever reply the node released before the crash is still
//! there after a restart on what the crash left of the device.

mod common;

use candid::{Decode, Encode};
use common::*;
use ic_management_canister_types::CanisterInstallMode;
use keel_hypervisor::block_device::{CrashAfter, CrashMode};
use keel_hypervisor::MemBlockDevice;
use keel_node::Reply;
use serde_cbor::Value;

const CALLS: usize = 3;

/// Runs `CALLS` increments on `dev`; returns which were answered as replied (with a
/// verified certificate) and the clock at the end.
fn run_calls<D: keel_hypervisor::BlockDevice>(h: &mut Harness<D>, calls: &[Signed]) -> Vec<Option<u64>> {
    let mut answered = Vec::new();
    for s in calls {
        let path = format!("/api/v4/canister/{}/call", s.ecid);
        let resp = match h.request(&post(&path, s.body.clone())) {
            Reply::Now(r) => r,
            Reply::Later(t) => h.wait(t).0,
        };
        if resp.status != 200 {
            answered.push(None);
            continue;
        }
        let m = cbor_map(&resp.body);
        assert_eq!(field(&m, "status"), &Value::Text("replied".into()));
        let cert = keel_interface::certificate::Certificate::from_cbor(bytes(field(&m, "certificate"))).unwrap();
        cert.verify(&h.root_key()).unwrap();
        match h.outcome(&cert, &s.request_id) {
            Outcome::Replied(b) => answered.push(Some(Decode!(&b, u64).unwrap())),
            other => panic!("{other:?}"),
        }
    }
    answered
}

#[test]
fn replies_released_before_a_crash_survive_it() {
    let mut cfg = config();
    cfg.checkpoint_interval = 2; // crash points inside checkpoints too
    let alice = user(11);
    let mut base = MemBlockDevice::new(keel_node::persistence::RESERVED_BLOCKS + (1 << 14));
    let (cid, clock) = {
        let mut h = Harness::start_with(cfg.clone(), 1, Some(&mut base), real_now());
        let cid = h.create(&alice);
        assert!(matches!(h.install(&alice, cid, CanisterInstallMode::Install, counter_wasm(), Encode!(&0u64).unwrap()), Outcome::Replied(_)));
        (cid, h.clock)
    };
    let calls: Vec<Signed> = (0..CALLS).map(|_| sign_call(&alice, cid, "inc", Encode!(&()).unwrap(), cid)).collect();

    // How many writes the run issues without a crash.
    let writes = {
        let mut dev = base.clone();
        let before = dev.writes();
        let mut h = Harness::start_with(cfg.clone(), 1, Some(&mut dev), clock);
        assert_eq!(run_calls(&mut h, &calls), vec![Some(1), Some(2), Some(3)]);
        drop(h);
        dev.writes() - before
    };
    assert!(writes >= CALLS as u64, "every executed block is logged: {writes} writes");

    let mut partial = 0;
    for limit in 0..=writes {
        for mode in [CrashMode::Lost, CrashMode::Torn] {
            let mut crashing = CrashAfter::new(base.clone(), limit, mode);
            let answered = {
                let mut h = Harness::start_with(cfg.clone(), 1, Some(&mut crashing), clock);
                let answered = run_calls(&mut h, &calls);
                if h.node.halted().is_some() {
                    // A node that cannot persist stops taking requests (503), and says so.
                    let status = cbor_map(&h.now(&get("/api/v2/status")).body);
                    assert_eq!(field(&status, "replica_health_status"), &Value::Text("certified_state_behind".into()));
                    let again = h.now(&post(&format!("/api/v4/canister/{cid}/call"), calls[0].body.clone()));
                    assert_eq!(again.status, 503);
                }
                answered
            };
            let crashed = crashing.crashed();
            let mut dev = crashing.into_inner();
            let mut h = Harness::start_with(cfg.clone(), 2, Some(&mut dev), clock + 60_000_000_000);
            let count = Decode!(&h.query(&alice, cid, "get", Encode!(&()).unwrap()).unwrap(), u64).unwrap();
            let replied: Vec<u64> = answered.iter().flatten().copied().collect();
            assert!(replied.len() as u64 <= count, "limit {limit} {mode:?}: replied {replied:?} but the counter is {count}");
            for (s, a) in calls.iter().zip(&answered) {
                if let Some(v) = a {
                    let cert = h.request_status(&alice, cid, s.request_id).unwrap();
                    assert_eq!(h.outcome(&cert, &s.request_id), Outcome::Replied(Encode!(v).unwrap()), "limit {limit} {mode:?}");
                }
            }
            if !crashed {
                assert_eq!(answered, vec![Some(1), Some(2), Some(3)]);
            }
            assert_eq!(crashed, answered.contains(&None), "limit {limit} {mode:?}: a crash, and only a crash, withholds replies");
            if crashed && !replied.is_empty() && replied.len() < CALLS {
                partial += 1;
            }
        }
    }
    assert!(partial > 0, "some crash points fall between released replies");
}
