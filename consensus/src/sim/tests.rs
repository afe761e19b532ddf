//! Simulator sweeps run by `cargo test -p keel-consensus`.

use super::*;

fn assert_sweep(preset: Preset, n: u32, seeds: Range<u64>) -> SweepReport {
    let cfg = SimConfig::preset(preset, n);
    let r = run_sweep(seeds, &cfg);
    for f in r.failures.iter().take(5) {
        std::eprintln!("seed {} failed: {}\n  replay: {}", f.seed, f.violation, f.replay);
    }
    std::eprintln!("{} n={n}: {}", preset.name(), r.summary());
    assert!(r.failures.is_empty(), "{} of {} seeds failed", r.failures.len(), r.runs);
    r
}

#[test]
fn calm_single_node() {
    assert_sweep(Preset::Calm, 1, 0..5);
}

#[test]
fn calm_four_nodes() {
    assert_sweep(Preset::Calm, 4, 0..5);
}
