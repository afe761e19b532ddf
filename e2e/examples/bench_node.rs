//! `cargo xtask bench node`: a booted one-node Keel under load from the real `ic-agent`.
//!
//! Measures QEMU start → first `/api/v2/status` answer, update and query latency (p50/p99,
//! sequential), and throughput with concurrent clients. Prints a table and writes
//! `target/bench/node.json`. Measurements only: nothing here asserts on time.

use candid::{Decode, Encode, Principal};
use ic_agent::Agent;
use keel_e2e::TestNode;
use keel_fixtures::Canister;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

const SEQUENTIAL: usize = 100;
const LOAD_SECS: u64 = 10;
const CLIENTS: usize = 32;

fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    sorted_ms[((sorted_ms.len() as f64 - 1.0) * p).round() as usize]
}

/// Polls the status endpoint until it answers 200, from the moment QEMU was spawned.
fn boot_to_status() -> Result<f64, String> {
    let kernel = keel_qemu::build::kernel(keel_qemu::build::Flavor::Node, true)?;
    let port = keel_e2e::free_port().map_err(|e| e.to_string())?;
    let machine = keel_qemu::Machine::node(kernel, port, None);
    let qemu = keel_qemu::Qemu::start(&machine, keel_qemu::Echo::Silent, false).map_err(|e| e.to_string())?;
    let request = b"GET /api/v2/status HTTP/1.1\r\nHost: keel\r\nConnection: close\r\n\r\n";
    while qemu.started().elapsed() < Duration::from_secs(60) {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
            let mut head = [0u8; 12];
            if stream.write_all(request).is_ok() && stream.read_exact(&mut head).is_ok() && &head[9..12] == b"200" {
                return Ok(qemu.started().elapsed().as_secs_f64() * 1e3);
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Err("status never answered".into())
}

async fn install_counter(agent: &Agent) -> Principal {
    let arg = Encode!(&0u64).unwrap_or_default();
    keel_e2e::agent::install(agent, Canister::Counter, arg, 100_000_000_000_000).await.unwrap_or_else(|e| panic!("{e}"))
}

async fn update(agent: &Agent, id: &Principal) -> u64 {
    let reply = agent.update(id, "inc").with_arg(Encode!().unwrap_or_default()).call_and_wait().await;
    reply.ok().and_then(|r| Decode!(&r, u64).ok()).unwrap_or(0)
}

async fn query(agent: &Agent, id: &Principal) -> u64 {
    let reply = agent.query(id, "get").with_arg(Encode!().unwrap_or_default()).call().await;
    reply.ok().and_then(|r| Decode!(&r, u64).ok()).unwrap_or(0)
}

/// Sequential latencies of `op`, sorted, in milliseconds.
async fn latencies<F: std::future::Future<Output = u64>>(mut op: impl FnMut() -> F) -> Vec<f64> {
    let mut ms = Vec::with_capacity(SEQUENTIAL);
    for _ in 0..SEQUENTIAL {
        let start = Instant::now();
        op().await;
        ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    ms
}

/// Completed operations per second with `CLIENTS` concurrent clients for `LOAD_SECS`.
async fn throughput(agent: &Agent, id: Principal, updates: bool) -> f64 {
    let end = Instant::now() + Duration::from_secs(LOAD_SECS);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let agent = agent.clone();
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < end {
                    if updates { update(&agent, &id).await } else { query(&agent, &id).await };
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap_or(0);
    }
    total as f64 / LOAD_SECS as f64
}

#[tokio::main]
async fn main() {
    let boot_ms = boot_to_status().unwrap_or_else(|e| panic!("{e}"));
    let node = TestNode::start(None).unwrap_or_else(|e| panic!("{e}"));
    let agent = Agent::builder().with_url(&node.url).build().unwrap_or_else(|e| panic!("{e}"));
    agent.fetch_root_key().await.unwrap_or_else(|e| panic!("{e}"));
    let id = install_counter(&agent).await;
    let updates = latencies(|| update(&agent, &id)).await;
    let queries = latencies(|| query(&agent, &id)).await;
    let update_rate = throughput(&agent, id, true).await;
    let query_rate = throughput(&agent, id, false).await;

    println!("\nnode benchmark: 1 node, QEMU TCG, ic-agent 0.49 over QEMU user networking\n");
    println!("{:<44} {:>10} {:>10}", "what", "measured", "target");
    println!("{:<44} {:>7.1} ms {:>10}", "QEMU start → /api/v2/status answers", boot_ms, "≤ 400 ms");
    println!("{:<44} {:>7.1} ms {:>10}", "update call p50 (sequential)", percentile(&updates, 0.5), "≤ 20 ms");
    println!("{:<44} {:>7.1} ms {:>10}", "update call p99 (sequential)", percentile(&updates, 0.99), "");
    println!("{:<44} {:>7.2} ms {:>10}", "query call p50 (sequential)", percentile(&queries, 0.5), "≤ 2 ms");
    println!("{:<44} {:>7.2} ms {:>10}", "query call p99 (sequential)", percentile(&queries, 0.99), "");
    println!("{:<44} {:>7.0} /s {:>10}", format!("updates per second ({CLIENTS} clients)"), update_rate, "≥ 2,000");
    println!("{:<44} {:>7.0} /s {:>10}", format!("queries per second ({CLIENTS} clients)"), query_rate, "≥ 10,000");
    let json = serde_json::json!({
        "boot_to_status_ms": boot_ms,
        "update_ms": { "p50": percentile(&updates, 0.5), "p99": percentile(&updates, 0.99), "samples": SEQUENTIAL },
        "query_ms": { "p50": percentile(&queries, 0.5), "p99": percentile(&queries, 0.99), "samples": SEQUENTIAL },
        "updates_per_second": update_rate,
        "queries_per_second": query_rate,
        "clients": CLIENTS,
        "load_seconds": LOAD_SECS,
    });
    let dir = keel_qemu::build::target_dir().join("bench");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("node.json");
    match serde_json::to_string_pretty(&json).map(|text| std::fs::write(&path, text)) {
        Ok(Ok(())) => println!("\nwrote {}", path.display()),
        _ => eprintln!("could not write {}", path.display()),
    }
}
