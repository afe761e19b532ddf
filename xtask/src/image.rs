//! `cargo xtask image --config node.toml -o keel.img`: builds the release kernel and the UEFI
//! loader, validates the node configuration, writes the flashable GPT disk image and its
//! measurement manifest (`<image>.manifest.json`), and prints sizes and measurements.

use crate::setup;
use keel_image::config::{codec, toml};
use keel_image::disk::{self, EspFiles, Layout};
use keel_image::{Manifest, hex};
use keel_qemu::build::{self, Flavor};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The node configuration (see image/examples/node.toml).
    #[arg(long)]
    config: PathBuf,
    /// Where to write the raw disk image.
    #[arg(short, long, default_value = "keel.img")]
    output: PathBuf,
    /// Where to write the manifest (default: the image path with `.manifest.json`).
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Size of the state partition in MiB.
    #[arg(long, default_value_t = 32)]
    state_mib: u64,
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

pub fn run(args: Args) -> Result<(), String> {
    setup::toolchain()?;
    let text = std::fs::read_to_string(&args.config).map_err(|e| format!("cannot read {}: {e}", args.config.display()))?;
    let config = toml::parse(&text).map_err(|e| format!("{}: {e}", args.config.display()))?;
    setup::step("building the release kernel and the UEFI loader");
    let kernel_path = build::kernel(Flavor::Node, false)?;
    let loader_path = build::uefi_loader(false)?;
    let files = EspFiles { loader: read(&loader_path)?, kernel: read(&kernel_path)?, config: Some(codec::encode(&config)) };
    setup::step(&format!("writing {}", args.output.display()));
    let built = disk::build(&args.output, &files, Layout { state_mib: args.state_mib }).map_err(|e| e.to_string())?;
    let manifest_path = args.manifest.unwrap_or_else(|| {
        let mut p = args.output.clone().into_os_string();
        p.push(".manifest.json");
        PathBuf::from(p)
    });
    let sizes = json!({
        "image_bytes": built.image_bytes,
        "esp_bytes": built.esp_bytes,
        "state_bytes": built.state_bytes,
        "loader_bytes": files.loader.len(),
        "kernel_bytes": files.kernel.len(),
        "config_bytes": files.config.as_ref().map_or(0, Vec::len),
    });
    std::fs::write(&manifest_path, built.manifest.to_json(sizes))
        .map_err(|e| format!("cannot write {}: {e}", manifest_path.display()))?;
    print_summary(&files, &built, &manifest_path);
    Ok(())
}

fn print_summary(files: &EspFiles, built: &disk::Built, manifest_path: &Path) {
    let kib = |n: usize| n.div_ceil(1024);
    let mib = |n: u64| n as f64 / (1 << 20) as f64;
    println!("\nimage: {:.1} MiB (ESP {:.1} MiB, state {:.1} MiB)", mib(built.image_bytes), mib(built.esp_bytes), mib(built.state_bytes));
    let config_len = files.config.as_ref().map_or(0, Vec::len);
    println!("  \\EFI\\BOOT\\BOOTX64.EFI  {:>6} KiB", kib(files.loader.len()));
    println!("  \\KEEL\\KERNEL.ELF       {:>6} KiB", kib(files.kernel.len()));
    println!("  \\KEEL\\NODE.CFG         {:>6} bytes", config_len);
    print_manifest(&built.manifest);
    println!("\nmanifest written to {}", manifest_path.display());
}

pub fn print_manifest(m: &Manifest) {
    println!("\nmeasurements (SHA-256):");
    println!("  loader   {}", hex::encode(&m.loader_sha256));
    println!("  kernel   {}", hex::encode(&m.kernel_sha256));
    println!("  config   {}", hex::encode(&m.config_sha256));
    if let Some(loader_pcr) = &m.loader_pcr {
        println!("  PCR 4    {}  (the firmware's measurement of the loader's PE image)", hex::encode(loader_pcr));
    }
    println!("  PCR {}    {}  (after the loader extends kernel, then config)", m.keel_pcr_index(), hex::encode(&m.keel_pcr));
}

/// UEFI boot measurements for `cargo xtask bench boot`.
pub struct UefiBench {
    /// QEMU start → kernel ready line, per boot, in ms (OVMF + swtpm).
    pub ready_ms: Vec<f64>,
    pub built: disk::Built,
}

/// Builds an image of `kernel` with the example configuration in `dir` and boots it `boots`
/// times with OVMF and a fresh swtpm each time.
pub fn bench_boots(kernel: &Path, boots: usize, dir: &Path) -> Result<UefiBench, String> {
    use keel_qemu::{Device, Echo, Machine, Qemu, Swtpm};
    let example = build::workspace_root().join("image/examples/node.toml");
    let text = std::fs::read_to_string(&example).map_err(|e| format!("cannot read {}: {e}", example.display()))?;
    let config = toml::parse(&text).map_err(|e| format!("{}: {e}", example.display()))?;
    let loader = build::uefi_loader(false)?;
    let files = EspFiles { loader: read(&loader)?, kernel: read(kernel)?, config: Some(codec::encode(&config)) };
    let image = dir.join("bench-uefi.img");
    let built = disk::build(&image, &files, Layout::default()).map_err(|e| e.to_string())?;
    let mut ready_ms = Vec::new();
    for i in 0..boots {
        let tpm = Swtpm::start(&dir.join("bench-uefi.tpm")).map_err(|e| e.to_string())?;
        let machine = Machine::uefi(&image, dir.join("bench-uefi.vars.fd"))?.with_device(Device::Tpm { socket: tpm.socket().to_owned() });
        let mut qemu = Qemu::start(&machine, Echo::Silent, false).map_err(|e| e.to_string())?;
        let ready = qemu.wait_ready(std::time::Duration::from_secs(180)).map_err(|e| e.to_string())?;
        qemu.kill();
        // A fresh TPM state for every boot, as on a freshly flashed machine.
        let _ = std::fs::remove_dir_all(dir.join("bench-uefi.tpm"));
        eprint!("\r  UEFI boot {}/{boots}: {:.0} ms", i + 1, ready.host.as_secs_f64() * 1e3);
        ready_ms.push(ready.host.as_secs_f64() * 1e3);
    }
    eprintln!();
    let _ = std::fs::remove_file(&image);
    Ok(UefiBench { ready_ms, built })
}
