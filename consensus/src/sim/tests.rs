//! Simulator sweeps run by `cargo test -p keel-consensus`: 2,000+ seeds in total, most of
//! them with `f` Byzantine nodes, message drops, a partition and crashes.

use super::*;
use crate::ic_crypto::IcCrypto;

fn sweep(cfg: &SimConfig, seeds: Range<u64>) -> SweepReport {
    let r = run_sweep(seeds, cfg);
    for f in r.failures.iter().take(5) {
        std::eprintln!(
            "seed {} failed: {}\n  replay: {}",
            f.seed,
            f.violation,
            f.replay
        );
    }
    std::eprintln!(
        "{} n={}: {} {:?}",
        cfg.preset.name(),
        cfg.nodes,
        r.summary(),
        r.coverage
    );
    r
}

fn assert_clean(preset: Preset, n: u32, seeds: Range<u64>) -> SweepReport {
    let r = sweep(&SimConfig::preset(preset, n), seeds);
    assert!(
        r.failures.is_empty(),
        "{} of {} seeds failed",
        r.failures.len(),
        r.runs
    );
    r
}

/// The adversarial sweeps must actually have gone through every kind of fault.
fn assert_exercised(r: &SweepReport) {
    let c = r.coverage;
    assert!(c.crashes > 0 && c.restarts >= c.crashes, "{c:?}");
    assert!(
        c.partitions > 0 && c.state_syncs_completed > 0 && c.cups > 0,
        "{c:?}"
    );
    assert!(c.rejected > 0 && c.ingress_finalized > 0, "{c:?}");
}

#[test]
fn one_node_subnet_runs_the_same_protocol() {
    let r = assert_clean(Preset::Calm, 1, 0..20);
    assert_eq!(r.heights, 20 * 8);
    assert_clean(Preset::Adversarial, 1, 0..20);
}

#[test]
fn calm_subnets_finalize_every_seed() {
    assert_clean(Preset::Calm, 4, 0..30);
    assert_clean(Preset::Calm, 7, 0..20);
}

#[test]
fn four_nodes_one_byzantine_seeds_0_to_600() {
    let r = assert_clean(Preset::Adversarial, 4, 0..600);
    assert_exercised(&r);
}

#[test]
fn four_nodes_one_byzantine_seeds_600_to_1200() {
    assert_clean(Preset::Adversarial, 4, 600..1200);
}

#[test]
fn seven_nodes_two_byzantine_seeds_0_to_300() {
    let r = assert_clean(Preset::Adversarial, 7, 0..300);
    assert_exercised(&r);
}

#[test]
fn seven_nodes_two_byzantine_seeds_300_to_600() {
    assert_clean(Preset::Adversarial, 7, 300..600);
}

#[test]
fn seven_nodes_two_byzantine_seeds_600_to_1000() {
    assert_clean(Preset::Adversarial, 7, 600..1000);
}

#[test]
fn every_byzantine_behaviour_is_survived_alone() {
    for b in Behaviour::BYZANTINE {
        for n in [4, 7] {
            let mut cfg = SimConfig::preset(Preset::Adversarial, n);
            cfg.behaviours = alloc::vec![b];
            let r = sweep(&cfg, 5000..5030);
            assert!(
                r.failures.is_empty(),
                "{b:?} n={n}: {:?}",
                r.failures.first()
            );
        }
    }
}

#[test]
fn broken_finalization_rule_is_caught_as_a_safety_violation() {
    let broken = SimConfig::preset(Preset::BrokenFinality, 4);
    let r = sweep(&broken, 0..30);
    let safety = r
        .failures
        .iter()
        .filter(|f| matches!(f.violation, Violation::Safety { .. }))
        .count();
    assert!(
        safety > 0,
        "the simulator missed the broken rule: {}",
        r.summary()
    );
    // The same scenario under the real rule is safe and live, so it is the rule that broke.
    let mut fixed = broken.clone();
    fixed.broken_rule = None;
    let r = sweep(&fixed, 0..30);
    assert!(r.failures.is_empty(), "{:?}", r.failures.first());
    // The report says how to replay the failing seed.
    let seven = sweep(&SimConfig::preset(Preset::BrokenFinality, 7), 0..10);
    let f = seven.failures.first().expect("n = 7 breaks too");
    assert!(
        f.replay
            .contains("--preset broken-finality --nodes 7 --seed"),
        "{}",
        f.replay
    );
}

#[test]
fn a_seed_replays_exactly() {
    let cfg = SimConfig::preset(Preset::Adversarial, 4);
    for seed in [3, 77] {
        let (a, b) = (run_seed(seed, &cfg), run_seed(seed, &cfg));
        assert_eq!(
            (a.heights, a.messages, a.steps, a.sim_time),
            (b.heights, b.messages, b.steps, b.sim_time)
        );
        assert_eq!(a.byzantine, b.byzantine);
        assert_eq!(a.coverage, b.coverage);
    }
    let broken = SimConfig::preset(Preset::BrokenFinality, 4);
    let first = (0..30).find_map(|s| run_seed(s, &broken).violation.map(|v| (s, v)));
    let (seed, v) = first.expect("a failing seed");
    assert_eq!(run_seed(seed, &broken).violation, Some(v));
}

#[test]
fn real_bls_and_ed25519_seeds() {
    let cfg = SimConfig::preset(Preset::Adversarial, 4);
    let r = run_sweep_with::<IcCrypto>(0..2, &cfg);
    assert!(r.failures.is_empty(), "{:?}", r.failures.first());
    assert!(r.heights >= 2 * cfg.target_height);
    let r = run_sweep_with::<IcCrypto>(0..1, &SimConfig::preset(Preset::Calm, 1));
    assert!(r.failures.is_empty(), "{:?}", r.failures.first());
}

#[test]
fn benchmark_reports_a_finalization_rate() {
    let r = finalization_benchmark(4, 30, 0..3);
    assert!(r.failures.is_empty());
    assert_eq!(r.heights, 90);
    // Rounds take a few network hops plus the 50 ms initial notary delay: well above one
    // block per second and below the 20 per second the delay allows.
    let rate = r.finalization_rate();
    assert!(rate > 1.0 && rate < 20.0, "{rate}");
}

#[test]
fn long_lossy_chaos_with_frequent_catch_up_packages() {
    for (n, seeds) in [(4, 0..120), (7, 0..40)] {
        let mut cfg = SimConfig::preset(Preset::Adversarial, n);
        cfg.target_height = 20;
        cfg.cup_interval = 3;
        cfg.chaos = Some(Chaos {
            duration: Duration::from_secs(12),
            drop_permille: 300,
            partitions: true,
            crashes: true,
        });
        let r = sweep(&cfg, seeds);
        assert!(r.failures.is_empty(), "{:?}", r.failures.first());
    }
}
