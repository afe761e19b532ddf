//! Runs simulator seeds from the command line; failing seeds print a replay command.
//!
//! `cargo run -p keel-consensus --features sim --example sim -- --preset adversarial --nodes 4 --seeds 0..100`
//! `cargo run -p keel-consensus --features sim --example sim -- --preset adversarial --nodes 4 --seed 17`
//! `cargo run -p keel-consensus --features sim --example sim -- --nodes 4 --bench 100` (finalization rate)
//! Add `--crypto bls` to use real Ed25519 + threshold BLS instead of the fast keyed-hash scheme.

use std::time::Instant;

use keel_consensus::ic_crypto::IcCrypto;
use keel_consensus::sim::{
    Preset, SimConfig, finalization_benchmark, run_seed, run_seed_with, run_sweep, run_sweep_with,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let preset = get("--preset").map_or(Some(Preset::Adversarial), |p| Preset::parse(&p));
    let Some(preset) = preset else {
        eprintln!("unknown preset; use calm, adversarial or broken-finality");
        std::process::exit(2);
    };
    let nodes: u32 = get("--nodes").and_then(|n| n.parse().ok()).unwrap_or(4);
    if let Some(heights) = get("--bench").and_then(|h| h.parse::<u64>().ok()) {
        let start = Instant::now();
        let r = finalization_benchmark(nodes, heights, 0..10);
        println!(
            "bench n={nodes}: {:.2} finalized heights per simulated second ({} heights, {:.0} messages per height), wall {:.2} s",
            r.finalization_rate(),
            r.heights,
            r.messages as f64 / r.heights.max(1) as f64,
            start.elapsed().as_secs_f64()
        );
        return;
    }
    let mut cfg = SimConfig::preset(preset, nodes);
    // Overrides for stress runs: `--target H`, `--chaos-secs S`, `--drop PERMILLE`, `--cup K`.
    if let Some(t) = get("--target").and_then(|t| t.parse().ok()) {
        cfg.target_height = t;
    }
    if let Some(k) = get("--cup").and_then(|k| k.parse().ok()) {
        cfg.cup_interval = k;
    }
    if let Some(c) = cfg.chaos.as_mut() {
        if let Some(s) = get("--chaos-secs").and_then(|s| s.parse().ok()) {
            c.duration = std::time::Duration::from_secs(s);
        }
        if let Some(d) = get("--drop").and_then(|d| d.parse().ok()) {
            c.drop_permille = d;
        }
    }
    // `--crypto bls` runs real Ed25519 + threshold BLS instead of the fast keyed-hash scheme.
    let bls = get("--crypto").is_some_and(|c| c == "bls");
    if let Some(seed) = get("--seed").and_then(|s| s.parse::<u64>().ok()) {
        let o = if bls {
            run_seed_with::<IcCrypto>(seed, &cfg)
        } else {
            run_seed(seed, &cfg)
        };
        println!(
            "seed {seed}: byzantine {:?}, {} heights, min finalized {}, {:?} simulated, {} messages, {} steps",
            o.byzantine, o.heights, o.min_finalized, o.sim_time, o.messages, o.steps
        );
        match o.violation {
            Some((t, v)) => {
                println!("VIOLATION at {t:?}: {v}");
                std::process::exit(1);
            }
            None => println!("ok"),
        }
        return;
    }
    let range = get("--seeds").unwrap_or_else(|| "0..100".into());
    let (a, b) = range.split_once("..").unwrap_or(("0", "100"));
    let (a, b): (u64, u64) = (a.parse().unwrap_or(0), b.parse().unwrap_or(100));
    let start = Instant::now();
    let r = if bls {
        run_sweep_with::<IcCrypto>(a..b, &cfg)
    } else {
        run_sweep(a..b, &cfg)
    };
    let wall = start.elapsed();
    for f in &r.failures {
        println!(
            "seed {} FAILED: {}\n  replay: {}",
            f.seed, f.violation, f.replay
        );
    }
    println!(
        "{} n={nodes} seeds {a}..{b}: {}",
        preset.name(),
        r.summary()
    );
    println!("coverage: {:?}", r.coverage);
    println!(
        "wall time {:.2} s ({:.1} ms/seed)",
        wall.as_secs_f64(),
        wall.as_secs_f64() * 1000.0 / r.runs.max(1) as f64
    );
    if !r.failures.is_empty() {
        std::process::exit(1);
    }
}
