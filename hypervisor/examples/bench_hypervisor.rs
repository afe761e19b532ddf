//! `cargo xtask bench hypervisor` (or `cargo run --release -p keel-hypervisor --example
//! bench`): hypervisor benchmarks with the real engine and fixture canisters. Prints a
//! table and writes `target/bench/hypervisor.json`. Measurements, never assertions.
//!
//! * create: an empty canister through the management code path (target ≤ 50 µs);
//! * fork: a canister with a 64 MiB heap built by real Wasm (target ≤ 1 ms);
//! * idle canisters: resident memory per empty canister over 10,000 (target ≤ 16 KiB);
//! * checkpoint: time vs dirty pages at two total sizes (linear in dirty, flat in total);
//! * rounds: throughput of small updates (counter `inc`) across 100 canisters.

use std::time::Instant;

use keel_fixtures::Canister;
use keel_hypervisor::block_device::MemBlockDevice;
use keel_hypervisor::candid::{self, Type, Value};
use keel_hypervisor::checkpoint::Store;
use keel_hypervisor::execution::Sandbox;
use keel_hypervisor::ids::{CanisterId, CanisterIdExt, MessageId, PAGE_SIZE, PageIndex, Principal, Time};
use keel_hypervisor::message::{Ingress, IngressStatus};
use keel_hypervisor::{Block, Cycles, Hypervisor, SubnetConfig, SubnetType};

const T: u128 = 1_000_000_000_000;

struct Row {
    name: String,
    value: f64,
    unit: &'static str,
    target: Option<f64>,
}

fn subnet() -> SubnetConfig {
    SubnetConfig::new(Principal::from_slice(&[7u8; 29]).unwrap_or(Principal::MANAGEMENT_CANISTER), SubnetType::Application, 1)
}

struct Chain {
    hv: Hypervisor<Sandbox>,
    nonce: u64,
}

impl Chain {
    fn new() -> Chain {
        Chain { hv: Hypervisor::new(Sandbox::default(), subnet()), nonce: 0 }
    }

    fn ingress(&mut self, receiver: Principal, method: &str, arg: Vec<u8>) -> Ingress {
        self.nonce += 1;
        let mut id = [0u8; 32];
        id[..8].copy_from_slice(&self.nonce.to_le_bytes());
        Ingress { id: MessageId(id), sender: Principal::anonymous(), receiver, method: method.into(), arg, expiry: Time(u64::MAX) }
    }

    fn round(&mut self, ingress: Vec<Ingress>) {
        let h = self.hv.height().next();
        let block = Block { height: h, time: Time(1_700_000_000_000_000_000 + h.0 * 1_000_000_000), randomness: [h.0 as u8; 32], ingress };
        self.hv.execute_round(&block).expect("blocks are produced in order");
    }

    fn update(&mut self, receiver: Principal, method: &str, arg: Vec<u8>) -> Vec<u8> {
        let ing = self.ingress(receiver, method, arg);
        let id = ing.id;
        self.round(vec![ing]);
        match &self.hv.state().ingress[&id].status {
            IngressStatus::Replied(b) => b.clone(),
            other => panic!("{method}: {other:?}"),
        }
    }

    fn install(&mut self, wasm: Vec<u8>, arg: Vec<u8>) -> CanisterId {
        let cid = self.hv.create_canister(Principal::anonymous(), Cycles::new(1000 * T)).expect("create");
        let install = candid::encode(&[(
            Type::record(&[
                ("mode", Type::variant(&[("install", Type::Null)])),
                ("canister_id", Type::Principal),
                ("wasm_module", Type::blob()),
                ("arg", Type::blob()),
            ]),
            Value::record(&[
                ("mode", Value::variant("install", Value::Null)),
                ("canister_id", Value::Principal(cid.to_principal())),
                ("wasm_module", Value::Blob(wasm)),
                ("arg", Value::Blob(arg)),
            ]),
        )])
        .expect("encode");
        self.update(Principal::MANAGEMENT_CANISTER, "install_code", install);
        cid
    }
}

fn nat64(n: u64) -> Vec<u8> {
    candid::encode(&[(Type::Nat64, Value::Nat(u128::from(n)))]).expect("encode")
}

/// Resident set size of this process in bytes (Linux).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()).unwrap_or(0) * 4096
}

fn bench_create(rows: &mut Vec<Row>) {
    let mut c = Chain::new();
    let n = 2_000;
    let t = Instant::now();
    for _ in 0..n {
        c.hv.create_canister(Principal::anonymous(), Cycles::new(T)).expect("create");
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    rows.push(Row { name: "create empty canister".into(), value: us, unit: "µs", target: Some(50.0) });
}

fn bench_idle(rows: &mut Vec<Row>) {
    let mut c = Chain::new();
    let n = 10_000u64;
    let before = rss();
    for _ in 0..n {
        c.hv.create_canister(Principal::anonymous(), Cycles::new(T)).expect("create");
    }
    c.round(Vec::new());
    let per = (rss().saturating_sub(before)) as f64 / n as f64 / 1024.0;
    rows.push(Row { name: "memory per idle canister (10,000, RSS delta)".into(), value: per, unit: "KiB", target: Some(16.0) });
    let inline = std::mem::size_of::<keel_hypervisor::partition::Partition<Sandbox>>() as f64 / 1024.0;
    rows.push(Row { name: "  of which the partition struct itself".into(), value: inline, unit: "KiB", target: None });
}

fn bench_fork(rows: &mut Vec<Row>) {
    let mut c = Chain::new();
    let bomb = c.install(Canister::MemoryBomb.wasm().expect("fixture"), candid::encode(&[]).expect("encode"));
    c.update(bomb.to_principal(), "allocate", nat64(64));
    let heap = c.hv.state().canister(bomb).map_or(0, |p| p.memory.pages.heap.len_bytes());
    let n = 200;
    let t = Instant::now();
    for _ in 0..n {
        c.hv.fork_canister(bomb, Cycles::new(T)).expect("fork");
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    rows.push(Row { name: format!("fork canister ({} MiB heap)", heap >> 20), value: us / 1000.0, unit: "ms", target: Some(1.0) });
}

/// Dirties `dirty` pages of a canister whose heap has `total` pages, then checkpoints.
fn bench_checkpoint(rows: &mut Vec<Row>) {
    for total in [4_096u64, 16_384] {
        for dirty in [64u64, 512, 4_096] {
            let mut c = Chain::new();
            let cid = c.hv.create_canister(Principal::anonymous(), Cycles::new(T)).expect("create");
            let page = [0xA5u8; PAGE_SIZE];
            if let Some(p) = c.hv.state_mut().canister_mut(cid) {
                p.memory.pages.heap.resize(total);
                for i in 0..total {
                    let _ = p.memory.pages.heap.set_page(PageIndex::new(i), &page);
                }
            }
            let mut store = Store::format(MemBlockDevice::new(4 * total + 10_000)).expect("format");
            c.hv.checkpoint(&mut store).expect("full checkpoint");
            let mut samples = Vec::new();
            for round in 0..9u8 {
                if let Some(p) = c.hv.state_mut().canister_mut(cid) {
                    let fresh = [round.wrapping_add(1); PAGE_SIZE];
                    for i in 0..dirty {
                        let _ = p.memory.pages.heap.set_page(PageIndex::new((i * 7 + u64::from(round)) % total), &fresh);
                    }
                }
                let t = Instant::now();
                c.hv.checkpoint(&mut store).expect("incremental checkpoint");
                samples.push(t.elapsed().as_secs_f64() * 1e3);
            }
            samples.sort_by(f64::total_cmp);
            rows.push(Row {
                name: format!("checkpoint {dirty} dirty of {total} pages ({} MiB)", total * 4 / 1024),
                value: samples[samples.len() / 2],
                unit: "ms",
                target: None,
            });
        }
    }
}

fn bench_rounds(rows: &mut Vec<Row>) {
    let mut c = Chain::new();
    let wasm = Canister::Counter.wasm().expect("fixture");
    let canisters: Vec<CanisterId> = (0..100).map(|_| c.install(wasm.clone(), nat64(0))).collect();
    let empty = candid::encode(&[]).expect("encode");
    let per_round = 1_000;
    let rounds = 5;
    let mut executed = 0u64;
    let t = Instant::now();
    for _ in 0..rounds {
        let msgs: Vec<Ingress> = (0..per_round).map(|i| c.ingress(canisters[i % canisters.len()].to_principal(), "inc", empty.clone())).collect();
        c.round(msgs);
        executed += per_round as u64;
    }
    let secs = t.elapsed().as_secs_f64();
    let replied = c.hv.state().ingress.values().filter(|r| matches!(r.status, IngressStatus::Replied(_))).count();
    rows.push(Row { name: format!("round throughput, small updates ({replied} replied)"), value: executed as f64 / secs, unit: "updates/s", target: Some(2_000.0) });
}

fn main() {
    let mut rows = Vec::new();
    // First, while the allocator has not yet cached freed memory, so RSS grows honestly.
    bench_idle(&mut rows);
    bench_create(&mut rows);
    bench_fork(&mut rows);
    bench_checkpoint(&mut rows);
    bench_rounds(&mut rows);

    println!("{:<58} {:>14} {:<10} {:>10}", "hypervisor benchmark", "value", "unit", "target");
    for r in &rows {
        let target = r.target.map_or(String::from("-"), |t| format!("{t}"));
        println!("{:<58} {:>14.3} {:<10} {:>10}", r.name, r.value, r.unit, target);
    }
    let json: Vec<String> = rows
        .iter()
        .map(|r| {
            let target = r.target.map_or(String::from("null"), |t| format!("{t}"));
            format!("  {{\"name\": {:?}, \"value\": {:.6}, \"unit\": {:?}, \"target\": {}}}", r.name, r.value, r.unit, target)
        })
        .collect();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join("hypervisor.json"), format!("[\n{}\n]\n", json.join(",\n"))));
    match written {
        Ok(()) => println!("wrote {}", dir.join("hypervisor.json").display()),
        Err(e) => eprintln!("could not write hypervisor.json: {e}"),
    }
}
