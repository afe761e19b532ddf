//! Deterministic simulator: `n` consensus nodes in one process over a simulated network whose
//! delays, drops, reordering and healing partitions, node crashes and restarts, and Byzantine
//! nodes all come from one seeded generator. After every step it checks safety (no two
//! finalized blocks at a height), agreement (equal state hashes per height, certified roots
//! equal to executed ones) and, once the network has healed, liveness within a bound. A seed
//! replays exactly: [`replay_command`] prints how.

mod byzantine;
mod invariants;
mod rng;
mod state_sync;
mod world;

#[cfg(test)]
mod tests;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;
use core::time::Duration;

pub use byzantine::Behaviour;
pub use invariants::Violation;
pub use rng::Rng;

use crate::config::BrokenRule;
use crate::crypto::Scheme;
use crate::hashsig::HashSig;

/// Network faults before the heal time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chaos {
    /// How long faults last; then the network heals and crashed nodes restart.
    pub duration: Duration,
    /// Probability of dropping a message, in ‰.
    pub drop_permille: u32,
    /// Whether a partition splits the subnet for a while.
    pub partitions: bool,
    /// Whether honest nodes crash (losing volatile state) and restart.
    pub crashes: bool,
}

/// Named configurations, so a replay command can name one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// Reliable network, all honest.
    Calm,
    /// `f` Byzantine nodes with behaviours drawn per seed, drops, a partition, crashes.
    Adversarial,
    /// An equivocating block maker and every node running the broken finalization rule.
    BrokenFinality,
}

impl Preset {
    /// Name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Calm => "calm",
            Preset::Adversarial => "adversarial",
            Preset::BrokenFinality => "broken-finality",
        }
    }

    /// Parses [`Preset::name`].
    pub fn parse(s: &str) -> Option<Self> {
        [Preset::Calm, Preset::Adversarial, Preset::BrokenFinality]
            .into_iter()
            .find(|p| p.name() == s)
    }
}

/// A simulation's parameters.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The preset it came from (for replay commands).
    pub preset: Preset,
    /// Subnet size.
    pub nodes: u32,
    /// How many nodes are Byzantine (at most `f` for the guarantees to hold).
    pub byzantine: u32,
    /// Behaviours Byzantine nodes draw from.
    pub behaviours: Vec<Behaviour>,
    /// Every honest node must finalize and certify this height.
    pub target_height: u64,
    /// Faults, if any.
    pub chaos: Option<Chaos>,
    /// One-way message delay range, in ms (random delays reorder messages).
    pub delay_ms: (u64, u64),
    /// After the heal, honest nodes must finalize `liveness_heights` more heights within this.
    pub liveness_bound: Duration,
    /// Heights that must be finalized after the heal.
    pub liveness_heights: u64,
    /// Catch-up package interval.
    pub cup_interval: u64,
    /// Ingress messages submitted per simulated second.
    pub ingress_per_second: u64,
    /// Protocol breakage under test.
    pub broken_rule: Option<BrokenRule>,
}

impl SimConfig {
    /// The configuration of a preset for `nodes` nodes.
    pub fn preset(preset: Preset, nodes: u32) -> Self {
        let f = nodes.saturating_sub(1) / 3;
        let base = SimConfig {
            preset,
            nodes,
            byzantine: 0,
            behaviours: Vec::new(),
            target_height: 8,
            chaos: None,
            delay_ms: (2, 40),
            liveness_bound: Duration::from_secs(40),
            liveness_heights: 3,
            cup_interval: 4,
            ingress_per_second: 10,
            broken_rule: None,
        };
        match preset {
            Preset::Calm => base,
            Preset::Adversarial => SimConfig {
                byzantine: f,
                behaviours: Behaviour::BYZANTINE.to_vec(),
                chaos: Some(Chaos {
                    duration: Duration::from_secs(4),
                    drop_permille: 100,
                    partitions: true,
                    crashes: true,
                }),
                ..base
            },
            Preset::BrokenFinality => SimConfig {
                byzantine: f.max(1).min(nodes.saturating_sub(1)),
                behaviours: alloc::vec![Behaviour::Equivocate],
                target_height: 12,
                delay_ms: (1, 120),
                broken_rule: Some(BrokenRule::FinalizeWithoutNotarization),
                ..base
            },
        }
    }
}

/// Fault and recovery events a run went through, so tests can check a sweep exercised them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Honest nodes crashed.
    pub crashes: u64,
    /// Nodes restarted from their persisted state.
    pub restarts: u64,
    /// Partitions that split the subnet.
    pub partitions: u64,
    /// Jumps to a catch-up package followed by state sync.
    pub state_syncs: u64,
    /// State syncs completed through `ChunkRequest`/`Chunk` messages.
    pub state_syncs_completed: u64,
    /// Catch-up packages made or adopted by honest nodes.
    pub cups: u64,
    /// Messages of Byzantine nodes rejected by honest nodes.
    pub rejected: u64,
    /// Ingress messages finalized (summed over heights, first execution only).
    pub ingress_finalized: u64,
}

impl Coverage {
    fn add(&mut self, o: &Coverage) {
        self.crashes += o.crashes;
        self.restarts += o.restarts;
        self.partitions += o.partitions;
        self.state_syncs += o.state_syncs;
        self.state_syncs_completed += o.state_syncs_completed;
        self.cups += o.cups;
        self.rejected += o.rejected;
        self.ingress_finalized += o.ingress_finalized;
    }
}

/// What one seed did.
#[derive(Clone, Debug)]
pub struct SimOutcome {
    /// The seed.
    pub seed: u64,
    /// The first broken invariant, with the simulated time it broke.
    pub violation: Option<(crate::types::Time, Violation)>,
    /// Lowest finalized height among honest nodes at the end.
    pub min_finalized: u64,
    /// Heights finalized by some honest node.
    pub heights: u64,
    /// Simulated time at the end.
    pub sim_time: Duration,
    /// Messages delivered.
    pub messages: u64,
    /// Steps (events) processed.
    pub steps: u64,
    /// Byzantine node assignments.
    pub byzantine: Vec<(u32, Behaviour)>,
    /// Faults and recoveries that happened.
    pub coverage: Coverage,
}

/// A failing seed.
#[derive(Clone, Debug)]
pub struct SeedFailure {
    /// The seed.
    pub seed: u64,
    /// What broke.
    pub violation: Violation,
    /// How to replay it.
    pub replay: String,
}

/// The result of a sweep over seeds.
#[derive(Clone, Debug, Default)]
pub struct SweepReport {
    /// Seeds run.
    pub runs: u64,
    /// Seeds that broke an invariant.
    pub failures: Vec<SeedFailure>,
    /// Heights finalized, summed over seeds.
    pub heights: u64,
    /// Simulated time, summed over seeds.
    pub sim_time: Duration,
    /// Messages delivered, summed over seeds.
    pub messages: u64,
    /// Steps, summed over seeds.
    pub steps: u64,
    /// Faults and recoveries, summed over seeds.
    pub coverage: Coverage,
}

impl SweepReport {
    /// Finalized heights per simulated second: the simulated finalization rate.
    pub fn finalization_rate(&self) -> f64 {
        let s = self.sim_time.as_secs_f64();
        if s > 0.0 {
            self.heights as f64 / s
        } else {
            0.0
        }
    }

    /// Seeds that passed.
    pub fn passed(&self) -> u64 {
        self.runs - self.failures.len() as u64
    }

    /// One-line summary.
    pub fn summary(&self) -> String {
        format!(
            "{} passed, {} failed; {} heights finalized in {:.1} simulated s ({:.2} heights/s), {} messages, {} steps",
            self.passed(),
            self.failures.len(),
            self.heights,
            self.sim_time.as_secs_f64(),
            self.finalization_rate(),
            self.messages,
            self.steps
        )
    }
}

/// The command that replays one seed of a configuration.
pub fn replay_command(cfg: &SimConfig, seed: u64) -> String {
    format!(
        "cargo run -p keel-consensus --features sim --example sim -- --preset {} --nodes {} --seed {}",
        cfg.preset.name(),
        cfg.nodes,
        seed
    )
}

/// Runs one seed with the fast keyed-hash crypto.
pub fn run_seed(seed: u64, cfg: &SimConfig) -> SimOutcome {
    run_seed_with::<HashSig>(seed, cfg)
}

/// Runs one seed with the crypto scheme `S`.
pub fn run_seed_with<S: Scheme + Clone>(seed: u64, cfg: &SimConfig) -> SimOutcome {
    world::World::<S>::new(seed, cfg).run()
}

/// Benchmark: the steady-state finalization rate of a calm `nodes`-node subnet over
/// `heights` heights per seed (see [`SweepReport::finalization_rate`]; simulated time, so the
/// number reflects protocol delays and network latency, not CPU speed).
pub fn finalization_benchmark(nodes: u32, heights: u64, seeds: Range<u64>) -> SweepReport {
    let mut cfg = SimConfig::preset(Preset::Calm, nodes);
    cfg.target_height = heights;
    cfg.liveness_bound = Duration::from_secs(heights.saturating_mul(2).max(40));
    run_sweep(seeds, &cfg)
}

/// Runs seeds with the fast crypto and collects failures.
pub fn run_sweep(seeds: Range<u64>, cfg: &SimConfig) -> SweepReport {
    run_sweep_with::<HashSig>(seeds, cfg)
}

/// Runs seeds with the crypto scheme `S`.
pub fn run_sweep_with<S: Scheme + Clone>(seeds: Range<u64>, cfg: &SimConfig) -> SweepReport {
    let mut r = SweepReport::default();
    for seed in seeds {
        let o = run_seed_with::<S>(seed, cfg);
        r.runs += 1;
        r.heights += o.heights;
        r.sim_time += o.sim_time;
        r.messages += o.messages;
        r.steps += o.steps;
        r.coverage.add(&o.coverage);
        if let Some((_, violation)) = o.violation {
            r.failures.push(SeedFailure {
                seed,
                violation,
                replay: replay_command(cfg, seed),
            });
        }
    }
    r
}
