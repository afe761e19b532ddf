//! `cargo xtask bench testnet`: a four-node Keel subnet under QEMU, loaded through the real
//! `ic-agent`.
//!
//! Measures sequential update latency through one node (p50/p99), throughput of concurrent
//! updates spread over all nodes, updates committed per second (the counter canister's
//! own count, so calls whose replies were lost still count) and how often the subnet
//! certifies a new state: the distinct certified times a client sees by polling `/time`
//! through read_state (every block certifies a later time; polling can miss blocks, so
//! this is a lower bound on blocks per second). Prints a table and writes
//! `target/bench/testnet.json`. Measurements only: nothing here asserts on time.

use candid::{Encode, Principal};
use ic_agent::Agent;
use ic_agent::hash_tree::LookupResult;
use keel_e2e::Testnet;
use keel_e2e::agent::{agent_for, counter_get, counter_inc, install};
use keel_fixtures::Canister;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const NODES: u32 = 4;
const SEQUENTIAL: usize = 50;
const LOAD_SECS: u64 = 20;
const IDLE_SECS: u64 = 5;
const CLIENTS_PER_NODE: usize = 8;
/// How often the certified time is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);

fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    sorted_ms.get(((sorted_ms.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN)
}

/// Distinct certified times seen through `agent` until `done`, per second.
async fn certified_heights_per_second(agent: Agent, id: Principal, done: Arc<AtomicBool>) -> f64 {
    let start = Instant::now();
    let mut seen = HashSet::new();
    while !done.load(Ordering::Relaxed) {
        if let Ok(certificate) = agent.read_state_raw(vec![vec!["time".into()]], id).await
            && let LookupResult::Found(time) = certificate.tree.lookup_path([b"time".as_ref()])
        {
            seen.insert(time.to_vec());
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    seen.len() as f64 / start.elapsed().as_secs_f64()
}

/// Certified heights per second while nothing else happens, for `IDLE_SECS`.
async fn idle_rate(agent: &Agent, id: Principal) -> f64 {
    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn(certified_heights_per_second(agent.clone(), id, done.clone()));
    tokio::time::sleep(Duration::from_secs(IDLE_SECS)).await;
    done.store(true, Ordering::Relaxed);
    sampler.await.unwrap_or(0.0)
}

struct Load {
    replied_per_second: f64,
    failed: u64,
    committed_per_second: f64,
    certified_heights_per_second: f64,
}

/// `CLIENTS_PER_NODE` clients per node call `inc` back to back for `LOAD_SECS`.
async fn load(net: &Testnet, agents: &[Agent], id: Principal) -> Load {
    let before = counter_get(&agents[0], &id).await.unwrap_or_else(|e| panic!("{e}\n{}", net.tails(20)));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn(certified_heights_per_second(agents[0].clone(), id, done.clone()));
    let start = Instant::now();
    let end = start + Duration::from_secs(LOAD_SECS);
    let tasks: Vec<_> = agents
        .iter()
        .flat_map(|agent| std::iter::repeat_n(agent.clone(), CLIENTS_PER_NODE))
        .map(|agent| {
            tokio::spawn(async move {
                let (mut replied, mut failed) = (0u64, 0u64);
                while Instant::now() < end {
                    match counter_inc(&agent, &id).await {
                        Ok(_) => replied += 1,
                        Err(_) => failed += 1,
                    }
                }
                (replied, failed)
            })
        })
        .collect();
    let (mut replied, mut failed) = (0, 0);
    for task in tasks {
        let (r, f) = task.await.unwrap_or((0, 1));
        replied += r;
        failed += f;
    }
    let elapsed = start.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let heights = sampler.await.unwrap_or(0.0);
    let after = counter_get(&agents[0], &id).await.unwrap_or_else(|e| panic!("{e}\n{}", net.tails(20)));
    Load {
        replied_per_second: replied as f64 / elapsed,
        failed,
        committed_per_second: after.saturating_sub(before) as f64 / elapsed,
        certified_heights_per_second: heights,
    }
}

#[tokio::main]
async fn main() {
    let booting = Instant::now();
    let net = Testnet::start(NODES).unwrap_or_else(|e| panic!("{e}"));
    let boot_s = booting.elapsed().as_secs_f64();
    let mut agents = Vec::new();
    for i in 0..net.len() {
        agents.push(agent_for(&net.url(i)).await.unwrap_or_else(|e| panic!("node {i}: {e}\n{}", net.tails(20))));
    }
    let arg = Encode!(&0u64).unwrap_or_default();
    let id = install(&agents[0], Canister::Counter, arg, 100_000_000_000_000)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", net.tails(20)));

    let idle = idle_rate(&agents[0], id).await;
    let mut latencies = Vec::with_capacity(SEQUENTIAL);
    for _ in 0..SEQUENTIAL {
        let start = Instant::now();
        counter_inc(&agents[0], &id).await.unwrap_or_else(|e| panic!("{e}\n{}", net.tails(20)));
        latencies.push(start.elapsed().as_secs_f64() * 1e3);
    }
    latencies.sort_by(f64::total_cmp);
    let load = load(&net, &agents, id).await;
    let clients = CLIENTS_PER_NODE * net.len();

    println!("\ntestnet benchmark: {NODES} nodes, QEMU TCG, subnet on vde_switch, ic-agent 0.49\n");
    println!("{:<52} {:>10}", "what", "measured");
    println!("{:<52} {:>8.1} s", "all nodes booted and ready (build included)", boot_s);
    println!("{:<52} {:>7.1} ms", "update call p50 (sequential, through node 0)", percentile(&latencies, 0.5));
    println!("{:<52} {:>7.1} ms", "update call p99 (sequential, through node 0)", percentile(&latencies, 0.99));
    println!("{:<52} {:>7.1} /s", format!("updates replied ({clients} clients over {NODES} nodes)"), load.replied_per_second);
    println!("{:<52} {:>7.1} /s", "updates committed (the canister's count)", load.committed_per_second);
    println!("{:<52} {:>9}", "update calls that failed under load", load.failed);
    println!("{:<52} {:>7.2} /s", "certified heights seen under load (lower bound)", load.certified_heights_per_second);
    println!("{:<52} {:>7.2} /s", "certified heights seen idle (lower bound)", idle);
    let json = serde_json::json!({
        "nodes": NODES,
        "boot_and_ready_s": boot_s,
        "update_ms": {
            "p50": percentile(&latencies, 0.5),
            "p99": percentile(&latencies, 0.99),
            "samples": SEQUENTIAL,
            "through_node": 0,
        },
        "updates_replied_per_second": load.replied_per_second,
        "updates_committed_per_second": load.committed_per_second,
        "updates_failed": load.failed,
        "certified_heights_per_second_under_load": load.certified_heights_per_second,
        "certified_heights_per_second_idle": idle,
        "clients": clients,
        "load_seconds": LOAD_SECS,
        "time_sample_ms": SAMPLE_EVERY.as_millis() as u64,
    });
    let dir = keel_qemu::build::target_dir().join("bench");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("testnet.json");
    match serde_json::to_string_pretty(&json).map(|text| std::fs::write(&path, text)) {
        Ok(Ok(())) => println!("\nwrote {}", path.display()),
        _ => eprintln!("could not write {}", path.display()),
    }
}
