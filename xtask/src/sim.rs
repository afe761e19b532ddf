//! `cargo xtask sim`: a bigger sweep of the deterministic consensus simulator than the one
//! `cargo xtask test` runs. A failing seed prints the command that replays it exactly.

#[derive(clap::Args)]
pub struct Args {
    /// Number of seeds (0..N).
    #[arg(long, default_value_t = 10_000)]
    seeds: u64,
    /// Subnet size.
    #[arg(long, default_value_t = 4)]
    nodes: u32,
    /// Network and fault preset: calm, adversarial or broken-finality.
    #[arg(long, default_value = "adversarial")]
    preset: String,
    /// Use real Ed25519 + threshold BLS instead of the fast keyed-hash scheme (slow).
    #[arg(long)]
    bls: bool,
}

pub fn run(args: Args) -> Result<(), String> {
    let mut sim_args = vec![
        "--seeds".to_owned(),
        format!("0..{}", args.seeds),
        "--nodes".to_owned(),
        args.nodes.to_string(),
        "--preset".to_owned(),
        args.preset,
    ];
    if args.bls {
        sim_args.extend(["--crypto".to_owned(), "bls".to_owned()]);
    }
    crate::example::run("keel-consensus", "sim", &["--features", "sim"], &sim_args)
}
