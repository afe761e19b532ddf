//! Cycles conservation under random workloads: canisters send cycles to each other
//! (partly accepted, the rest refunded), burn them, create and fund canisters, deposit
//! them, while users stop, start, uninstall and delete canisters and top them up. After
//! every round, Σ balances + cycles in flight + burned must equal minted: cycles are only
//! created by provisional minting and only destroyed by fees and burning.

mod common;

use common::*;
use keel_hypervisor::candid::{self, Type, Value};
use keel_hypervisor::execution::{CallbackKind, EntryPoint, ExecutionError};
use keel_hypervisor::ids::{CanisterId, CanisterIdExt, Principal};
use keel_hypervisor::{Cycles, SubnetType};

fn bank(env: &mut Env<'_>) -> Result<(), ExecutionError> {
    let arg = env.input.arg.clone();
    let target = || Principal::from_slice(&arg[..10]).unwrap();
    let amount = || u64::from_le_bytes(arg[10..18].try_into().unwrap()) as u128;
    match env.entry {
        EntryPoint::Update(m) if m == "send" => env.call(target(), "take", Vec::new(), amount(), 1, 0),
        EntryPoint::Update(m) if m == "take" => {
            env.out.cycles_accepted = Cycles::new(env.input.cycles_available.get() / 2);
            env.reply(vec![]);
        }
        EntryPoint::Update(m) if m == "burn" => {
            env.out.cycles_burned = Cycles::new(amount());
            env.reply(vec![]);
        }
        EntryPoint::Update(m) if m == "create" => {
            let a = candid::encode(&[(Type::record(&[]), Value::record(&[]))]).unwrap();
            env.call(Principal::MANAGEMENT_CANISTER, "create_canister", a, amount(), 1, 0);
        }
        EntryPoint::Update(m) if m == "deposit" => {
            let a = candid::encode(&[(Type::record(&[("canister_id", Type::Principal)]), Value::record(&[("canister_id", Value::Principal(target()))]))]).unwrap();
            env.call(Principal::MANAGEMENT_CANISTER, "deposit_cycles", a, amount(), 1, 0);
        }
        EntryPoint::Update(m) if m == "trap_after_send" => {
            env.call(target(), "take", Vec::new(), amount(), 1, 0);
            return Err(ExecutionError::CalledTrap("undo".into()));
        }
        EntryPoint::Callback { kind: CallbackKind::Reply | CallbackKind::Reject, .. } => {
            // Accept half of any refund-bearing context's remaining cycles too.
            env.out.cycles_accepted = Cycles::new(env.input.cycles_available.get() / 2);
            env.reply(vec![]);
        }
        EntryPoint::Init | EntryPoint::Callback { .. } => {}
        _ => return Err(ExecutionError::MethodNotFound(String::new())),
    }
    Ok(())
}

/// A tiny deterministic generator (the test must be reproducible from its seed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

const T: u128 = 1_000_000_000_000;

#[test]
fn cycles_are_conserved_under_random_workloads() {
    for seed in 0..12u64 {
        let exec = TestExecutor::default().with("bank", bank, &["send", "take", "burn", "create", "deposit", "trap_after_send"], &[]);
        let mut n = Node::new(exec, SubnetType::Application);
        n.hv.state_mut().config.round_instructions = 4 * BASE_INSTRUCTIONS;
        let mut ids: Vec<CanisterId> = (0..4).map(|_| n.install(USER, "bank", 100 * T)).collect();
        let mut rng = Lcg(seed);
        for _round in 0..40 {
            let mut msgs = Vec::new();
            for _ in 0..1 + rng.next(4) {
                let from = ids[rng.next(ids.len() as u64) as usize];
                let to = ids[rng.next(ids.len() as u64) as usize];
                let mut arg = to.to_principal().as_slice().to_vec();
                let amount = match rng.next(3) {
                    0 => 1_000_000,
                    1 => 50_000_000_000,
                    _ => 2 * T as u64,
                };
                arg.extend_from_slice(&amount.to_le_bytes());
                let mgmt = |m: &str| (Principal::MANAGEMENT_CANISTER, m.to_string(), canister_id_arg(to));
                let (receiver, method, arg) = match rng.next(10) {
                    0..=2 => (from.to_principal(), "send".to_string(), arg),
                    3 => (from.to_principal(), "burn".to_string(), arg),
                    4 => (from.to_principal(), "create".to_string(), arg),
                    5 => (from.to_principal(), "deposit".to_string(), arg),
                    6 => (from.to_principal(), "trap_after_send".to_string(), arg),
                    7 => mgmt(["stop_canister", "start_canister"][rng.next(2) as usize]),
                    8 => mgmt(["delete_canister", "uninstall_code"][rng.next(2) as usize]),
                    _ => {
                        let top = candid::encode(&[(
                            Type::record(&[("canister_id", Type::Principal), ("amount", Type::Nat)]),
                            Value::record(&[("canister_id", Value::Principal(to.to_principal())), ("amount", Value::Nat(T))]),
                        )])
                        .unwrap();
                        (Principal::MANAGEMENT_CANISTER, "provisional_top_up_canister".to_string(), top)
                    }
                };
                msgs.push(n.ingress(USER, receiver, &method, arg));
            }
            n.round(msgs);
            n.assert_cycles_conserved();
            // Canisters created by `create` join the pool.
            ids = n.hv.state().canisters.keys().copied().collect();
            if ids.is_empty() {
                break;
            }
        }
        let s = n.hv.state();
        assert!(s.burned.get() > 0 && s.minted.get() > 0, "seed {seed}: the workload moved no cycles");
    }
}
