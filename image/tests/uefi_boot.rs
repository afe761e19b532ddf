//! Acceptance test of the UEFI path: the real disk image booted by OVMF under QEMU.
//!
//! 1. A correct image with a TPM (swtpm) boots to the ready line, and its attestation report
//!    verifies against the image's manifest, TPM quote of PCR 4 (loader, measured by OVMF)
//!    and PCR 9 (kernel and config, measured by the loader) included.
//! 2. The same image with one byte of the kernel changed also boots, but its report fails
//!    verification, and the TPM's PCR shows the changed kernel.
//! 3. A corrupt and a missing node configuration stop the boot with a clear message.
//!
//! Builds the release kernel and the loader itself (nested cargo, like the harness tests).

use keel_abi::console::Event;
use keel_abi::exit::ExitCode;
use keel_image::attestation::{Policy, Report, VerifyError, verify};
use keel_image::config::{codec, toml};
use keel_image::disk::{self, EspFiles, Layout};
use keel_image::pcr::{expected_keel_pcr, sha256};
use keel_image::{Manifest, hex};
use keel_qemu::build::{self, Flavor};
use keel_qemu::host::{self, Tool};
use keel_qemu::{Device, Echo, Machine, Outcome, Qemu, Swtpm};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// OVMF alone takes ~5 s under TCG; the machine is shared, so allow a lot more.
const BOOT_TIMEOUT: Duration = Duration::from_secs(180);

struct Fixture {
    dir: PathBuf,
    loader: Vec<u8>,
    kernel: Vec<u8>,
    config: Vec<u8>,
}

impl Fixture {
    fn new() -> Self {
        host::ensure(&[Tool::Qemu, Tool::Ovmf, Tool::Swtpm]).unwrap_or_else(|e| panic!("{e}"));
        let kernel = build::kernel(Flavor::Node, true).unwrap_or_else(|e| panic!("{e}"));
        let loader = build::uefi_loader(true).unwrap_or_else(|e| panic!("{e}"));
        let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/node.toml")).expect("example config");
        let config = codec::encode(&toml::parse(&example).expect("the example config is valid"));
        let dir = build::target_dir().join("tmp").join(format!("uefi-boot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self { dir, loader: std::fs::read(loader).expect("loader"), kernel: std::fs::read(kernel).expect("kernel"), config }
    }

    fn image(&self, name: &str, kernel: &[u8], config: Option<Vec<u8>>) -> (PathBuf, Manifest) {
        let path = self.dir.join(format!("{name}.img"));
        let files = EspFiles { loader: self.loader.clone(), kernel: kernel.to_vec(), config };
        let built = disk::build(&path, &files, Layout { state_mib: 4 }).unwrap_or_else(|e| panic!("{name}: {e}"));
        (path, built.manifest)
    }

    /// Boots `image` (with a fresh swtpm if `tpm`) and returns the running QEMU.
    fn boot(&self, name: &str, image: &Path, tpm: Option<&Swtpm>) -> Qemu {
        let mut machine = Machine::uefi(image, self.dir.join(format!("{name}.vars.fd"))).unwrap_or_else(|e| panic!("{e}"));
        if let Some(tpm) = tpm {
            machine = machine.with_device(Device::Tpm { socket: tpm.socket().to_owned() });
        }
        Qemu::start(&machine, Echo::Silent, false).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// Boots to the ready line and returns the attestation report the kernel printed.
    fn report(&self, name: &str, image: &Path) -> Vec<u8> {
        let tpm = Swtpm::start(&self.dir.join(format!("{name}.tpm"))).unwrap_or_else(|e| panic!("{e}"));
        let mut qemu = self.boot(name, image, Some(&tpm));
        let ready = qemu.wait_ready(BOOT_TIMEOUT).unwrap_or_else(|e| panic!("{name} did not boot: {e}"));
        eprintln!("{name}: ready {:.2} s after QEMU started", ready.host.as_secs_f64());
        let lines = qemu.log().lines();
        qemu.kill();
        let hex_report = lines.iter().find_map(|l| match Event::parse(l) {
            Some(Event::Attestation { report_hex }) => Some(report_hex.to_owned()),
            _ => None,
        });
        let hex_report = hex_report.unwrap_or_else(|| panic!("{name}: no attestation line; log:\n{}", lines.join("\n")));
        hex::decode(&hex_report).expect("report hex")
    }

    /// Boots an image the kernel must refuse; returns the refusal reason.
    fn refusal(&self, name: &str, image: &Path) -> String {
        let mut qemu = self.boot(name, image, None);
        let deadline = Instant::now() + BOOT_TIMEOUT;
        let mut reason = None;
        while let Some(line) = qemu.next_line(deadline).unwrap_or_else(|e| panic!("{name}: {e}")) {
            match Event::parse(&line) {
                Some(Event::BootRefused { reason: r }) => reason = Some(r.to_owned()),
                Some(Event::Ready { .. }) => panic!("{name}: the node started despite its configuration"),
                _ => {}
            }
        }
        assert_eq!(qemu.outcome(), Some(Outcome::Kernel(ExitCode::Failure)), "{name}: {}", qemu.log().tail(20));
        reason.unwrap_or_else(|| panic!("{name}: stopped without saying why:\n{}", qemu.log().tail(20)))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The kernel with one byte of its console text changed: it still boots, measures differently.
fn tampered(kernel: &[u8]) -> Vec<u8> {
    let needle = b"type `help` on this console";
    let at = kernel.windows(needle.len()).position(|w| w == needle).expect("the kernel prints its console hint");
    let mut copy = kernel.to_vec();
    copy[at] = b'T';
    copy
}

#[test]
fn uefi_image_boots_attests_and_refuses_bad_configs() {
    let f = Fixture::new();
    let strict = Policy { require_tpm: true };

    // 1. The blessed image.
    let (good, manifest) = f.image("good", &f.kernel, Some(f.config.clone()));
    assert!(manifest.loader_pcr.is_some(), "the manifest predicts the firmware's PCR 4");
    let report = f.report("good", &good);
    let verified = verify(&report, &manifest, strict).unwrap_or_else(|e| panic!("the blessed image's report must verify: {e}"));
    assert!(verified.ak_public.is_some(), "the report must carry a TPM quote");

    // 2. One byte of the kernel changed: a different kernel, refused by hash and by TPM.
    let evil_kernel = tampered(&f.kernel);
    let (evil, _) = f.image("evil", &evil_kernel, Some(f.config.clone()));
    let report = f.report("evil", &evil);
    match verify(&report, &manifest, strict) {
        Err(VerifyError::KernelMismatch { found, .. }) => assert_eq!(found, sha256(&evil_kernel)),
        other => panic!("a changed kernel must fail verification, got {other:?}"),
    }
    let tpm = Report::decode(&report).expect("report").tpm.expect("TPM evidence");
    let pcr = |index: u8| tpm.pcrs.iter().find(|(i, _)| *i == index).map(|(_, v)| *v).expect("quoted PCR");
    assert_eq!(pcr(9), expected_keel_pcr(&sha256(&evil_kernel), &sha256(&f.config)));
    assert_ne!(pcr(9), manifest.keel_pcr);
    assert_eq!(Some(pcr(4)), manifest.loader_pcr, "same loader, same PCR 4");

    // 3. A corrupt and a missing configuration.
    let mut corrupt = f.config.clone();
    corrupt[20] ^= 0x40;
    let (bad, _) = f.image("corrupt", &f.kernel, Some(corrupt));
    let reason = f.refusal("corrupt", &bad);
    assert!(reason.contains("node configuration is unusable") && reason.contains("checksum mismatch"), "{reason}");
    let (none, _) = f.image("missing", &f.kernel, None);
    let reason = f.refusal("missing", &none);
    assert!(reason.contains("node configuration is missing"), "{reason}");
}
