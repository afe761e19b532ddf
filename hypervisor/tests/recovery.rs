//! Recovery of the real replicated state: a workload of canister creation, installs,
//! inter-canister calls and memory growth is executed with every block logged and a
//! checkpoint every few rounds; the device loses power at every write index in turn,
//! and `Hypervisor::recover` (newest valid checkpoint + replay) must reach exactly the
//! state hash the uncrashed node had at the recovered height.

mod common;

use std::collections::BTreeMap;

use common::*;
use keel_hypervisor::block_device::{BlockDevice, CrashAfter, CrashMode, MemBlockDevice};
use keel_hypervisor::checkpoint::{CheckpointError, Store};
use keel_hypervisor::execution::{CallbackKind, EntryPoint, ExecutionError};
use keel_hypervisor::ids::{CanisterIdExt, Principal, PrincipalExt};
use keel_hypervisor::state_tree::SubnetKeys;
use keel_hypervisor::{Block, Hypervisor, SubnetConfig, SubnetType};

fn store_prog(env: &mut Env<'_>) -> Result<(), ExecutionError> {
    match env.entry {
        EntryPoint::Update(m) if m == "put" => {
            // Writes one page per key, so checkpoints carry several dirty pages.
            let k = env.arg_u64();
            let v = env.heap(k * 4096) + 1;
            env.set_heap(k * 4096, v);
            env.reply_u64(v);
        }
        EntryPoint::Update(m) if m == "relay" => {
            let callee = Principal::from_slice(&env.input.arg[..10]).unwrap();
            let k = env.input.arg[10..18].to_vec();
            env.call(callee, "put", k, 0, 1, 0);
        }
        EntryPoint::Callback { kind: CallbackKind::Reply, closure: _, .. } | EntryPoint::Callback { kind: CallbackKind::Reject, closure: _, .. } => {
            let r = env.input.arg.clone();
            env.reply(r);
        }
        EntryPoint::Init | EntryPoint::Callback { kind: CallbackKind::Cleanup, .. } => {}
        _ => return Err(ExecutionError::MethodNotFound(String::new())),
    }
    Ok(())
}

fn exec() -> TestExecutor {
    TestExecutor::default().with("store", store_prog, &["put", "relay"], &[])
}

fn config() -> SubnetConfig {
    SubnetConfig::new(Principal::from_slice(&[0x5u8; 29]).unwrap(), SubnetType::Application, 1)
}

/// The workload's blocks and the state hash after each.
fn workload() -> (Vec<Block>, BTreeMap<u64, [u8; 32]>) {
    let mut n = Node::new(exec(), SubnetType::Application);
    let a = n.install(USER, "store", 10_000_000_000_000);
    let b = n.install(USER, "store", 10_000_000_000_000);
    for k in 0..6u64 {
        n.update(USER, a.to_principal(), "put", k.to_le_bytes().to_vec()).unwrap();
        // B relays a put of key k+10 to A: an inter-canister call across rounds.
        let mut relay = a.to_principal().to_vec();
        relay.extend_from_slice(&(k + 10).to_le_bytes());
        let ing = n.ingress(USER, b.to_principal(), "relay", relay);
        n.round(vec![ing]);
    }
    let blocks = n.blocks.clone();
    let mut replay = Hypervisor::new(exec(), config());
    let mut hashes = BTreeMap::new();
    hashes.insert(0, replay.state_hash());
    for blk in &blocks {
        hashes.insert(blk.height.0, replay.execute_round(blk).unwrap());
    }
    (blocks, hashes)
}

/// Runs the node on `dev`: genesis checkpoint, then each block logged before it is
/// executed, and a checkpoint every 3 blocks.
fn run<D: BlockDevice>(dev: D, blocks: &[Block], logged: &mut u64) -> Result<(), CheckpointError> {
    let mut store = Store::format(dev)?;
    let mut hv = Hypervisor::new(exec(), config());
    hv.checkpoint(&mut store)?;
    for blk in blocks {
        store.append_log(blk.height, &blk.encode())?;
        *logged = blk.height.0;
        hv.execute_round(blk).unwrap();
        if blk.height.0 % 3 == 0 {
            hv.checkpoint(&mut store)?;
        }
    }
    Ok(())
}

#[test]
fn recovery_after_crash_at_every_write_reaches_the_uncrashed_state_hash() {
    let (blocks, hashes) = workload();
    assert!(blocks.len() >= 12, "workload too short: {}", blocks.len());
    let mut total_dev = MemBlockDevice::new(4096);
    let mut logged = 0;
    run(&mut total_dev, &blocks, &mut logged).unwrap();
    let total = total_dev.writes();
    let (hv, _) = Hypervisor::recover(exec(), total_dev, SubnetKeys::default()).unwrap();
    let last = blocks.last().unwrap().height.0;
    assert_eq!(hv.height().0, last);
    assert_eq!(hv.clone_hash(), hashes[&last]);

    let mut recovered_heights = std::collections::BTreeSet::new();
    for mode in [CrashMode::Lost, CrashMode::Torn] {
        for k in 0..total {
            let mut crash = CrashAfter::new(MemBlockDevice::new(4096), k, mode);
            let mut logged = 0;
            assert!(run(&mut crash, &blocks, &mut logged).is_err());
            let dev = crash.into_inner();
            match Hypervisor::recover(exec(), dev, SubnetKeys::default()) {
                Ok((mut hv, mut store)) => {
                    let h = hv.height().0;
                    // Everything logged is recovered; one more block may be, when its
                    // record was complete but the crash made the flush report failure.
                    assert!(h == logged || h == logged + 1, "k={k}: recovered {h}, logged {logged}");
                    assert_eq!(hv.state_hash(), hashes[&h], "k={k} {mode:?}: recovered state differs at height {h}");
                    recovered_heights.insert(h);
                    // Recovered nodes carry on: execute the rest, checkpoint, recover again.
                    for blk in &blocks[h as usize..] {
                        store.append_log(blk.height, &blk.encode()).unwrap();
                        hv.execute_round(blk).unwrap();
                    }
                    hv.checkpoint(&mut store).unwrap();
                    let (mut again, _) = Hypervisor::recover(exec(), store.into_device(), SubnetKeys::default()).unwrap();
                    assert_eq!(again.state_hash(), hashes[&last], "k={k} {mode:?}: continuation diverged");
                }
                Err(_) => assert!(k < 4, "k={k}: no recoverable state although the genesis checkpoint was committed"),
            }
        }
    }
    assert!(recovered_heights.len() > 5, "crashes hit too few distinct heights: {recovered_heights:?}");
}

trait CloneHash {
    fn clone_hash(self) -> [u8; 32];
}

impl CloneHash for Hypervisor<TestExecutor> {
    fn clone_hash(mut self) -> [u8; 32] {
        self.state_hash()
    }
}
