//! Measuring the kernel and the node configuration.
//!
//! The loader always hashes both files itself (the hashes go to the kernel in the boot-info
//! block and into the attestation report). With a TPM, it also has the firmware extend PCR 9
//! with them through TCG2 `HashLogExtendEvent`, which hashes the same buffers with SHA-256, so
//! the PCR ends at `keel_image::pcr::expected_keel_pcr(kernel, config)` — the value the
//! manifest predicts with the same code — and the firmware's event log records both events.

use crate::LoaderError;
use keel_image::pcr::{CONFIG_EVENT, EVENT_TYPE_IPL, KEEL_PCR, KERNEL_EVENT, sha256};
use uefi::boot;
use uefi::proto::tcg::v2::{HashLogExtendEventFlags, PcrEventInputs, Tcg};
use uefi::proto::tcg::{EventType, PcrIndex};

/// What the loader measured.
pub struct Measured {
    pub kernel_sha256: [u8; 32],
    pub config_sha256: [u8; 32],
    /// Bit `n`: PCR `n` was extended (0 without a TPM).
    pub pcrs: u32,
}

pub fn kernel_and_config(kernel: &[u8], config: &[u8]) -> Result<Measured, LoaderError> {
    let mut measured = Measured { kernel_sha256: sha256(kernel), config_sha256: sha256(config), pcrs: 0 };
    let Ok(handle) = boot::get_handle_for_protocol::<Tcg>() else {
        return Ok(measured);
    };
    let mut tcg = boot::open_protocol_exclusive::<Tcg>(handle).map_err(|e| LoaderError::Tpm(e.status()))?;
    let present = tcg.get_capability().map(|c| c.tpm_present()).map_err(|e| LoaderError::Tpm(e.status()))?;
    if !present {
        return Ok(measured);
    }
    for (data, description) in [(kernel, KERNEL_EVENT), (config, CONFIG_EVENT)] {
        let mut buffer = [0u8; 128];
        let event = PcrEventInputs::new_in_buffer(&mut buffer, PcrIndex(KEEL_PCR), EventType(EVENT_TYPE_IPL), description)
            .map_err(|e| LoaderError::Tpm(e.status()))?;
        tcg.hash_log_extend_event(HashLogExtendEventFlags::empty(), data, event)
            .map_err(|e| LoaderError::Tpm(e.status()))?;
    }
    measured.pcrs = 1 << KEEL_PCR;
    Ok(measured)
}
