//! `cargo xtask bench`: benchmarks as a printed table plus JSON under target/bench/.
//! Numbers are measured here and compared run to run; no test asserts on time.

use crate::setup;
use crate::stats::Summary;
use keel_qemu::build::{self, Flavor};
use keel_qemu::{Echo, Machine, Qemu};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// Which benchmark to run.
    #[arg(value_enum, default_value = "all")]
    suite: Suite,
    /// Boots to measure for the boot benchmark.
    #[arg(long, default_value_t = 10)]
    boots: usize,
    /// Boots of the UEFI disk image (OVMF + swtpm; seconds each under TCG).
    #[arg(long, default_value_t = 3)]
    uefi_boots: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Suite {
    All,
    /// QEMU start to kernel ready (PVH and the UEFI image), kernel boot phases, sizes.
    Boot,
    /// A booted node under ic-agent load: boot-to-status, update/query latency, throughput.
    Node,
    /// A four-node subnet under QEMU: update latency, throughput, certified heights per second.
    Testnet,
    /// Canister sandbox: per-message overhead, overhead over bare wasmi.
    Sandbox,
    /// Hypervisor: canister creation, fork, memory per canister, checkpoints, rounds.
    Hypervisor,
    /// Consensus simulator: finalized heights per simulated second.
    Consensus,
}

/// Benchmarks that live next to the code they measure, as release example binaries:
/// (package, example, cargo features, example arguments).
fn example(suite: Suite) -> Option<(&'static str, &'static str, &'static [&'static str], &'static [&'static str])> {
    match suite {
        Suite::Node => Some(("keel-e2e", "bench_node", &[], &[])),
        Suite::Testnet => Some(("keel-e2e", "bench_testnet", &[], &[])),
        Suite::Sandbox => Some(("keel-sandbox", "bench_sandbox", &[], &[])),
        Suite::Hypervisor => Some(("keel-hypervisor", "bench_hypervisor", &[], &[])),
        Suite::Consensus => Some(("keel-consensus", "sim", &["--features", "sim"], &["--nodes", "4", "--bench", "200"])),
        Suite::All | Suite::Boot => None,
    }
}

pub fn run(args: Args) -> Result<(), String> {
    setup::machine_with_testnet()?;
    let out_dir = build::target_dir().join("bench");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    if matches!(args.suite, Suite::All | Suite::Boot) {
        boot(args.boots.max(1), args.uefi_boots, &out_dir)?;
    }
    let suites = [Suite::Sandbox, Suite::Hypervisor, Suite::Consensus, Suite::Node, Suite::Testnet];
    for suite in suites.into_iter().filter(|s| args.suite == Suite::All || args.suite == *s) {
        if let Some((package, name, features, example_args)) = example(suite) {
            let example_args: Vec<String> = example_args.iter().map(|a| a.to_string()).collect();
            crate::example::run(package, name, features, &example_args)?;
        }
    }
    Ok(())
}

fn boot(boots: usize, uefi_boots: usize, out_dir: &Path) -> Result<(), String> {
    setup::step("building the release kernel");
    let kernel = build::kernel(Flavor::Node, false)?;
    setup::step(&format!("booting {boots} times (PVH, TCG)"));
    let mut host_ms = Vec::new();
    let mut kernel_ms = Vec::new();
    let mut phases: Vec<(String, Vec<f64>)> = Vec::new();
    for i in 0..boots {
        let mut qemu = Qemu::start(&Machine::pvh(&kernel, ""), Echo::Silent, false).map_err(|e| e.to_string())?;
        let ready = qemu.wait_ready(Duration::from_secs(60)).map_err(|e| e.to_string())?;
        qemu.kill();
        eprint!("\r  boot {}/{boots}: {:.1} ms", i + 1, ready.host.as_secs_f64() * 1e3);
        host_ms.push(ready.host.as_secs_f64() * 1e3);
        kernel_ms.push(ready.kernel_micros as f64 / 1e3);
        for (name, micros) in ready.phases {
            match phases.iter_mut().find(|(n, _)| *n == name) {
                Some((_, v)) => v.push(micros as f64 / 1e3),
                None => phases.push((name, vec![micros as f64 / 1e3])),
            }
        }
    }
    eprintln!();
    let elf = std::fs::read(&kernel).map_err(|e| e.to_string())?;
    let loaded = loaded_bytes(&elf);
    let mut rows = vec![
        ("QEMU start → kernel ready (host clock)".to_owned(), Summary::of(&host_ms)),
        ("kernel entry → ready (kernel clock)".to_owned(), Summary::of(&kernel_ms)),
    ];
    rows.extend(phases.iter().map(|(n, v)| (format!("  phase `{n}` done (kernel clock)"), Summary::of(v))));
    setup::step(&format!("booting the UEFI disk image {uefi_boots} times (OVMF + swtpm, TCG)"));
    let uefi = crate::image::bench_boots(&kernel, uefi_boots, out_dir)?;
    rows.push(("QEMU start → ready, UEFI image (host clock)".to_owned(), Summary::of(&uefi.ready_ms)));
    println!("\nboot benchmark: {boots} boots PVH, {uefi_boots} boots UEFI, QEMU TCG, 512 MiB\n");
    println!("{:<44} {:>9} {:>9} {:>9}", "what (ms)", "min", "median", "max");
    for (name, s) in rows.iter().filter_map(|(n, s)| s.map(|s| (n, s))) {
        println!("{name:<44} {:>9.2} {:>9.2} {:>9.2}", s.min, s.median, s.max);
    }
    println!("{:<44} {:>9} KiB ELF file, {} KiB loaded", "kernel size", elf.len() / 1024, loaded / 1024);
    println!(
        "{:<44} {:>9} KiB ({} KiB ESP, {} KiB state)",
        "UEFI disk image size",
        uefi.built.image_bytes / 1024,
        uefi.built.esp_bytes / 1024,
        uefi.built.state_bytes / 1024
    );
    let json = json!({
        "boots": boots,
        "qemu_start_to_ready_ms": Summary::of(&host_ms).map(|s| s.json()),
        "kernel_entry_to_ready_ms": Summary::of(&kernel_ms).map(|s| s.json()),
        "phases_ms": phases.iter().map(|(n, v)| (n.clone(), Summary::of(v).map_or(serde_json::Value::Null, |s| s.json()))).collect::<serde_json::Map<_, _>>(),
        "kernel_elf_bytes": elf.len(),
        "kernel_loaded_bytes": loaded,
        "uefi_boots": uefi_boots,
        "uefi_qemu_start_to_ready_ms": Summary::of(&uefi.ready_ms).map(|s| s.json()),
        "uefi_image_bytes": uefi.built.image_bytes,
        "uefi_esp_bytes": uefi.built.esp_bytes,
        "uefi_state_bytes": uefi.built.state_bytes,
    });
    let path = out_dir.join("boot.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    println!("\nwrote {}", path.display());
    Ok(())
}

/// Sum of the file-backed sizes of the ELF's loadable segments: what QEMU copies in.
fn loaded_bytes(elf: &[u8]) -> u64 {
    let read = |off: usize, len: usize| -> u64 {
        elf.get(off..off + len).map_or(0, |b| b.iter().rev().fold(0, |acc, &x| (acc << 8) | u64::from(x)))
    };
    let (phoff, phentsize, phnum) = (read(0x20, 8) as usize, read(0x36, 2) as usize, read(0x38, 2) as usize);
    (0..phnum)
        .map(|i| phoff + i * phentsize)
        .filter(|&ph| read(ph, 4) == 1) // PT_LOAD
        .map(|ph| read(ph + 0x20, 8)) // p_filesz
        .sum()
}
