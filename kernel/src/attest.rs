//! Attestation at boot: the node key, the loader's measurements, the TPM quote, and the
//! report that binds them (`keel_image::attestation::report` encoding).
//!
//! On the UEFI path the node configuration must be present and valid, or the kernel
//! refuses to run the node ([`Event::BootRefused`]). The report is printed as an
//! [`Event::Attestation`] line and kept for the HTTP interface, which is to serve
//! [`report`] at `GET /api/v2/keel/attestation` (`application/octet-stream`). PVH boots
//! have no loader and produce no report.

use crate::boot::BootData;
use crate::boot::uefi::{self, LoaderMeasurements};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use keel_abi::boot::BootSource;
use keel_abi::console::Event;
use keel_abi::exit::ExitCode;
use keel_crypto::ed25519::SigningKey;
use keel_drivers::tpm::{CRB_BASE, Crb, CrbError, Tpm, TpmError};
use keel_image::attestation::{Report, TpmEvidence, qualifying_data};
use keel_image::config::{NodeConfig, codec};
use keel_image::pcr::{KEEL_PCR, QUOTED_PCRS};

/// The report, once made: what the HTTP endpoint serves.
static REPORT: spin::Once<Vec<u8>> = spin::Once::new();
/// The validated node configuration of a UEFI boot.
static CONFIG: spin::Once<NodeConfig> = spin::Once::new();

/// The attestation report bytes, if this boot produced one.
#[allow(dead_code)] // Served by the HTTP interface once it routes /api/v2/keel/attestation.
pub fn report() -> Option<&'static [u8]> {
    REPORT.get().map(Vec::as_slice)
}

/// Where the node's Ed25519 key comes from. Today: fresh from RDRAND on every boot; with
/// the state partition wired, a source that loads the key stored there (and creates it on
/// first boot) replaces it without touching the report.
pub trait NodeKeySource {
    fn node_key(&mut self) -> Result<SigningKey, String>;
}

/// A fresh key from the CPU's hardware random number generator.
pub struct RdRandKey;

impl NodeKeySource for RdRandKey {
    fn node_key(&mut self) -> Result<SigningKey, String> {
        let rng = x86_64::instructions::random::RdRand::new()
            .ok_or_else(|| "the CPU has no RDRAND: no entropy for the node key".to_string())?;
        let mut seed = [0u8; 32];
        for chunk in seed.chunks_mut(8) {
            // RDRAND may transiently fail; Intel recommends ten retries.
            let word = (0..10).find_map(|_| rng.get_u64()).ok_or_else(|| "RDRAND kept failing".to_string())?;
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        Ok(SigningKey::from_seed(seed))
    }
}

/// The node configuration the loader measured, once `at_boot` has validated it (UEFI path).
pub fn config() -> Option<&'static NodeConfig> {
    CONFIG.get()
}

/// Checks the node configuration and produces the attestation report; on the UEFI path a
/// missing or bad configuration stops the boot here.
pub fn at_boot(boot: &BootData) {
    if boot.source != BootSource::Uefi {
        log::info!("attestation: PVH boot, no loader measurements, no report");
        return;
    }
    let Some(measured) = uefi::measurements() else {
        refuse("the UEFI loader handed over no measurements");
    };
    let config = CONFIG.call_once(|| node_config(measured));
    crate::println!(
        "  node config: data center {}, address {}/{}, {} peers, config sha256 {}",
        config.data_center,
        config.network.address,
        config.network.prefix_len,
        config.subnet.peers.len(),
        keel_image::hex::encode(&measured.config_sha256),
    );
    let key = RdRandKey.node_key().unwrap_or_else(|e| refuse(&e));
    let node_public_key = key.public_key();
    let tpm = if measured.measured_pcrs & (1 << KEEL_PCR) != 0 {
        match quote(&qualifying_data(&node_public_key)) {
            Ok(evidence) => Some(evidence),
            Err(e) => {
                log::error!("attestation: no TPM quote: {e}");
                None
            }
        }
    } else {
        log::warn!("attestation: the loader found no TPM; the report carries no quote");
        None
    };
    let mut report = Report {
        boot_source: BootSource::Uefi as u8,
        kernel_sha256: measured.kernel_sha256,
        config_sha256: measured.config_sha256,
        node_public_key,
        tpm,
        signature: [0; 64],
    };
    report.signature = key.sign(&report.signed_message());
    let bytes = REPORT.call_once(|| report.encode());
    crate::println!("{}", Event::Attestation { report_hex: &keel_image::hex::encode(bytes) });
}

/// The validated node configuration, or a refusal naming what is wrong.
fn node_config(measured: &LoaderMeasurements) -> NodeConfig {
    let bytes = measured.node_config();
    if bytes.is_empty() {
        refuse("node configuration is missing (no \\KEEL\\NODE.CFG on the EFI system partition)");
    }
    codec::decode(bytes).unwrap_or_else(|e| refuse(&alloc::format!("node configuration is unusable: {e}")))
}

/// Quotes the loader and Keel PCRs with the TPM at the standard CRB address.
fn quote(qualifying: &[u8; 32]) -> Result<TpmEvidence, TpmError> {
    // swtpm answers in milliseconds; a hardware TPM creating a primary key may take seconds.
    let deadline = crate::time::since_boot() + crate::time::Duration::from_secs(30);
    let expired = move || crate::time::since_boot() > deadline;
    // SAFETY: 0xFED40000 is below 4 GiB in the MMIO hole, which the kernel maps uncached;
    // without a TPM it reads as all-ones or zero, which `probe` refuses; nothing else in
    // the kernel touches this page.
    let crb = unsafe { Crb::probe(CRB_BASE, expired) }.map_err(TpmError::Transport)?;
    let q = Tpm::new(crb).quote_pcrs(&QUOTED_PCRS, qualifying)?;
    if q.quoted.is_empty() {
        return Err(TpmError::Transport(CrbError::Size { len: 0, max: 0 }));
    }
    let pcrs = QUOTED_PCRS.iter().zip(q.pcr_values).map(|(&i, v)| (i as u8, v)).collect();
    Ok(TpmEvidence { ak_public: q.ak_public, pcrs, quoted: q.quoted, signature: q.signature })
}

/// Prints why the node will not run and stops with failure.
fn refuse(reason: &str) -> ! {
    crate::println!("{}", Event::BootRefused { reason });
    crate::arch::qemu::exit(ExitCode::Failure)
}

#[cfg(feature = "ktest")]
mod ktests {
    use super::*;
    use crate::ktest;

    ktest! {
        fn rdrand_node_keys_are_fresh_each_time() {
            let a = RdRandKey.node_key().expect("a key");
            let b = RdRandKey.node_key().expect("another key");
            assert_ne!(a.public_key(), b.public_key());
            let message = b"keel";
            keel_crypto::ed25519::verify(&a.public_key(), message, &a.sign(message)).expect("signs");
        }
    }

    ktest! {
        fn pvh_boots_have_no_measurements_and_no_report() {
            assert!(uefi::measurements().is_none());
            assert!(report().is_none());
        }
    }

    ktest! {
        fn crb_probe_refuses_a_machine_without_a_tpm() {
            // The ktest machine has no TPM: the CRB page is unassigned MMIO.
            // SAFETY: the page is mapped uncached and nothing else touches it.
            let probe = unsafe { Crb::probe(CRB_BASE, || true) };
            assert!(matches!(probe, Err(CrbError::Absent)));
        }
    }
}
