//! Measurements: the one SHA-256 and PCR-extend code that the UEFI loader, the manifest
//! builder and the attestation verifier share, so the value a correct boot yields is
//! computed by exactly the code that defines it.
//!
//! The loader measures the kernel ELF and then the node configuration file into
//! [`KEEL_PCR`] through the firmware's TCG2 `HashLogExtendEvent`: the firmware hashes each
//! buffer with SHA-256 and extends, `PCR ← SHA-256(PCR ‖ SHA-256(buffer))`. PCRs 8–15 start
//! at zero after a platform reset and the firmware measures nothing into PCR 9 itself, so
//! the expected value is a pure function of the two files.

use sha2::Digest;

/// A SHA-256 digest.
pub type Digest256 = [u8; 32];

/// The PCR the loader extends (PCR 9: "OS loader" measurements of the boot chain's data).
pub const KEEL_PCR: u32 = 9;
/// The PCR the firmware extends with the boot path, the loader's PE image hash last.
pub const LOADER_PCR: u32 = 4;
/// The PCRs a node's TPM quote covers, in the order their values are digested.
pub const QUOTED_PCRS: [u32; 2] = [LOADER_PCR, KEEL_PCR];

/// The TCG event type of the loader's measurements (`EV_IPL`: data measured by an IPL).
pub const EVENT_TYPE_IPL: u32 = 0x0000_000D;

/// Event-log descriptions, so `tpm2_eventlog` shows what each extend was.
pub const KERNEL_EVENT: &[u8] = b"keel kernel";
pub const CONFIG_EVENT: &[u8] = b"keel node config";

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Digest256 {
    sha2::Sha256::digest(data).into()
}

/// One PCR extend in the SHA-256 bank: `SHA-256(pcr ‖ measurement)`.
pub fn extend(pcr: &Digest256, measurement: &Digest256) -> Digest256 {
    let mut h = sha2::Sha256::new();
    h.update(pcr);
    h.update(measurement);
    h.finalize().into()
}

/// The value of [`KEEL_PCR`] after the loader measured this kernel and this configuration.
pub fn expected_keel_pcr(kernel_sha256: &Digest256, config_sha256: &Digest256) -> Digest256 {
    [kernel_sha256, config_sha256].into_iter().fold([0; 32], |pcr, m| extend(&pcr, m))
}

/// The value of [`LOADER_PCR`] after UEFI firmware (EDK II / OVMF, booting the disk's first
/// boot option) started the loader whose Authenticode SHA-256 is `loader_authenticode`: at
/// ReadyToBoot it measures the `EV_EFI_ACTION` "Calling EFI Application from Boot Option" and
/// the `EV_SEPARATOR` (four zero bytes), then the application image
/// (`EV_EFI_BOOT_SERVICES_APPLICATION`). Checked against swtpm under QEMU's OVMF.
pub fn expected_loader_pcr(loader_authenticode: &Digest256) -> Digest256 {
    let action = sha256(b"Calling EFI Application from Boot Option");
    let separator = sha256(&[0; 4]);
    [&action, &separator, loader_authenticode].into_iter().fold([0; 32], |pcr, m| extend(&pcr, m))
}

/// The `pcrDigest` of a TPM2 quote: SHA-256 over the selected PCR values, in selection order.
pub fn quote_digest(values: &[Digest256]) -> Digest256 {
    let mut h = sha2::Sha256::new();
    for v in values {
        h.update(v);
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex;

    #[test]
    fn sha256_matches_the_fips_vector() {
        assert_eq!(
            hex::encode(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn extend_chain_starts_from_zero_and_depends_on_order() {
        let (k, c) = (sha256(b"kernel"), sha256(b"config"));
        let step = extend(&extend(&[0; 32], &k), &c);
        assert_eq!(expected_keel_pcr(&k, &c), step);
        assert_ne!(expected_keel_pcr(&c, &k), step);
        // tpm2_pcrextend of sha256("abc") onto a zero PCR gives this value.
        assert_eq!(
            hex::encode(&extend(&[0; 32], &sha256(b"abc"))),
            hex::encode(&sha256(&[&[0u8; 32][..], &sha256(b"abc")[..]].concat()))
        );
    }
}
