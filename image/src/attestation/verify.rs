//! Checks an attestation report against the manifest of a blessed image.
//!
//! What a passing report proves: the holder of `node_public_key` signed it (so it cannot be
//! re-labelled with another key), its loader measured the manifest's kernel and
//! configuration, and — with TPM evidence — a TPM attestation key quoted PCR 4 (the
//! firmware's measurement of the loader) and PCR 9 (the loader's of kernel and config) at
//! exactly the values the manifest predicts, with the node key's hash as qualifying data.
//! What it does not prove yet: that the attestation key belongs to a genuine TPM (that needs
//! the TPM's endorsement certificate, checked by the registry when it onboards the machine).

use super::quote::{Quote, QuoteError};
use super::report::{Report, ReportError, qualifying_data};
use crate::manifest::Manifest;
use crate::pcr::{Digest256, QUOTED_PCRS, quote_digest};
use alloc::vec::Vec;

/// `keel_abi::boot::BootSource::Uefi`, the only boot with loader measurements (the registry
/// canister links this crate, not the kernel ABI).
const BOOT_SOURCE_UEFI: u8 = 2;

/// What the verifier demands beyond the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Refuse reports without a TPM quote (production); tests and TPM-less labs may allow it.
    pub require_tpm: bool,
}

/// What a passing report established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub node_public_key: [u8; 32],
    /// The attestation key that quoted the PCR, when the report had TPM evidence.
    pub ak_public: Option<[u8; 65]>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyError {
    Malformed(ReportError),
    /// The node was not started by the measuring loader (e.g. PVH).
    NotMeasuredBoot(u8),
    /// The node key's signature over the report is wrong.
    NodeSignature,
    TpmRequired,
    /// The TPM evidence does not hold together.
    QuoteMalformed(QuoteError),
    QuoteSignature,
    /// The quote was made for another key (or replayed).
    QualifyingData,
    /// The quote covers other PCRs than exactly the loader and Keel PCRs.
    PcrSelection,
    /// The manifest predicts no value for this quoted PCR.
    PcrNotInManifest(u8),
    /// The reported PCR value is not what the quote signed.
    PcrDigest,
    KernelMismatch { expected: Digest256, found: Digest256 },
    ConfigMismatch { expected: Digest256, found: Digest256 },
    PcrMismatch { pcr: u8, expected: Digest256, found: Digest256 },
}

impl core::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let hex = crate::hex::encode;
        match self {
            Self::Malformed(e) => write!(f, "malformed report: {e}"),
            Self::NotMeasuredBoot(s) => write!(f, "boot source {s} is not the measured UEFI boot"),
            Self::NodeSignature => write!(f, "the node key's signature over the report is invalid"),
            Self::TpmRequired => write!(f, "the report has no TPM quote and the policy requires one"),
            Self::QuoteMalformed(e) => write!(f, "TPM quote: {e}"),
            Self::QuoteSignature => write!(f, "TPM quote signature does not verify with the reported attestation key"),
            Self::QualifyingData => write!(f, "TPM quote's qualifying data is not the hash of the node key"),
            Self::PcrSelection => write!(f, "TPM quote does not cover exactly PCRs {QUOTED_PCRS:?} of the SHA-256 bank"),
            Self::PcrNotInManifest(pcr) => write!(f, "the manifest predicts no value for PCR {pcr}"),
            Self::PcrDigest => write!(f, "reported PCR value does not match the quote's PCR digest"),
            Self::KernelMismatch { expected, found } => {
                write!(f, "kernel measurement {} is not the manifest's {}", hex(found), hex(expected))
            }
            Self::ConfigMismatch { expected, found } => {
                write!(f, "config measurement {} is not the manifest's {}", hex(found), hex(expected))
            }
            Self::PcrMismatch { pcr, expected, found } => {
                write!(f, "PCR {pcr} is {}, the manifest expects {}", hex(found), hex(expected))
            }
        }
    }
}

/// Verifies report bytes against `manifest`.
pub fn verify(bytes: &[u8], manifest: &Manifest, policy: Policy) -> Result<Verified, VerifyError> {
    let report = Report::decode(bytes).map_err(VerifyError::Malformed)?;
    if report.boot_source != BOOT_SOURCE_UEFI {
        return Err(VerifyError::NotMeasuredBoot(report.boot_source));
    }
    keel_crypto::ed25519::verify(&report.node_public_key, &report.signed_message(), &report.signature)
        .map_err(|_| VerifyError::NodeSignature)?;
    let quoted_pcr = match &report.tpm {
        Some(tpm) => {
            keel_crypto::ecdsa::verify_p256(&tpm.ak_public, &tpm.quoted, &tpm.signature)
                .map_err(|_| VerifyError::QuoteSignature)?;
            let quote = Quote::parse(&tpm.quoted).map_err(VerifyError::QuoteMalformed)?;
            if quote.extra_data != qualifying_data(&report.node_public_key) {
                return Err(VerifyError::QualifyingData);
            }
            let indices: Vec<u32> = tpm.pcrs.iter().map(|(i, _)| u32::from(*i)).collect();
            if indices != QUOTED_PCRS || !quote.selects_exactly(&QUOTED_PCRS) {
                return Err(VerifyError::PcrSelection);
            }
            let values: Vec<Digest256> = tpm.pcrs.iter().map(|(_, v)| *v).collect();
            if quote.pcr_digest != quote_digest(&values) {
                return Err(VerifyError::PcrDigest);
            }
            Some(tpm.pcrs.clone())
        }
        None if policy.require_tpm => return Err(VerifyError::TpmRequired),
        None => None,
    };
    if report.kernel_sha256 != manifest.kernel_sha256 {
        return Err(VerifyError::KernelMismatch { expected: manifest.kernel_sha256, found: report.kernel_sha256 });
    }
    if report.config_sha256 != manifest.config_sha256 {
        return Err(VerifyError::ConfigMismatch { expected: manifest.config_sha256, found: report.config_sha256 });
    }
    for (pcr, found) in quoted_pcr.unwrap_or_default() {
        let expected = manifest.expected_pcr(u32::from(pcr)).ok_or(VerifyError::PcrNotInManifest(pcr))?;
        if found != expected {
            return Err(VerifyError::PcrMismatch { pcr, expected, found });
        }
    }
    Ok(Verified { node_public_key: report.node_public_key, ak_public: report.tpm.map(|t| t.ak_public) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attestation::quote;
    use crate::attestation::report::TpmEvidence;
    use crate::pcr::{KEEL_PCR, LOADER_PCR, expected_keel_pcr, expected_loader_pcr, sha256};
    use alloc::vec;
    use keel_crypto::ed25519::SigningKey;
    use p256::ecdsa::signature::Signer;

    const STRICT: Policy = Policy { require_tpm: true };

    fn loader_pcr() -> Digest256 {
        expected_loader_pcr(&sha256(b"loader image"))
    }

    fn manifest() -> Manifest {
        let mut m = Manifest::of(b"loader", b"kernel", b"config");
        m.loader_pcr = Some(loader_pcr());
        m
    }

    /// A report as a node that booted `kernel` would make, quoting `pcr` with a TPM.
    fn report(kernel: &[u8], pcr: Option<Digest256>, node_seed: u8) -> Report {
        let node = SigningKey::from_seed([node_seed; 32]);
        let node_public_key = node.public_key();
        let tpm = pcr.map(|pcr_value| {
            let ak = p256::ecdsa::SigningKey::from_slice(&[3; 32]).expect("ak");
            let quoted = quote::build(&qualifying_data(&node_public_key), &QUOTED_PCRS, &quote_digest(&[loader_pcr(), pcr_value]));
            let sig: p256::ecdsa::Signature = ak.sign(&quoted);
            let mut ak_public = [0u8; 65];
            ak_public.copy_from_slice(ak.verifying_key().to_encoded_point(false).as_bytes());
            let pcrs = vec![(LOADER_PCR as u8, loader_pcr()), (KEEL_PCR as u8, pcr_value)];
            TpmEvidence { ak_public, pcrs, quoted, signature: sig.to_bytes().into() }
        });
        let mut r = Report {
            boot_source: 2,
            kernel_sha256: sha256(kernel),
            config_sha256: sha256(b"config"),
            node_public_key,
            tpm,
            signature: [0; 64],
        };
        r.signature = node.sign(&r.signed_message());
        r
    }

    fn good_pcr() -> Digest256 {
        expected_keel_pcr(&sha256(b"kernel"), &sha256(b"config"))
    }

    #[test]
    fn a_correct_boot_verifies() {
        let r = report(b"kernel", Some(good_pcr()), 1);
        let v = verify(&r.encode(), &manifest(), STRICT).expect("verifies");
        assert_eq!(v.node_public_key, r.node_public_key);
        assert!(v.ak_public.is_some());
        assert_eq!(Report::decode(&r.encode()), Ok(r));
    }

    #[test]
    fn another_kernel_fails_by_hash_and_by_pcr() {
        let pcr = expected_keel_pcr(&sha256(b"kernel!"), &sha256(b"config"));
        let r = report(b"kernel!", Some(pcr), 1);
        assert!(matches!(verify(&r.encode(), &manifest(), STRICT), Err(VerifyError::KernelMismatch { .. })));
        // A kernel that lies about its own hash is still caught by the quoted PCR.
        let liar = report(b"kernel", Some(pcr), 1);
        assert!(matches!(verify(&liar.encode(), &manifest(), STRICT), Err(VerifyError::PcrMismatch { pcr: 9, .. })));
    }

    #[test]
    fn tampering_is_caught() {
        let r = report(b"kernel", Some(good_pcr()), 1);
        let mut bytes = r.encode();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(verify(&bytes, &manifest(), STRICT), Err(VerifyError::NodeSignature));
        // Somebody else's quote under this node's key: qualifying data differs.
        let mut stolen = report(b"kernel", Some(good_pcr()), 1);
        stolen.tpm = report(b"kernel", Some(good_pcr()), 2).tpm;
        let node = SigningKey::from_seed([1; 32]);
        stolen.signature = node.sign(&stolen.signed_message());
        assert_eq!(verify(&stolen.encode(), &manifest(), STRICT), Err(VerifyError::QualifyingData));
        // A PCR value edited after quoting.
        let mut edited = report(b"kernel", Some([9; 32]), 1);
        if let Some(t) = edited.tpm.as_mut() {
            t.pcrs[1].1 = good_pcr();
        }
        edited.signature = node.sign(&edited.signed_message());
        assert_eq!(verify(&edited.encode(), &manifest(), STRICT), Err(VerifyError::PcrDigest));
        // A quote signature by another key.
        let mut forged = report(b"kernel", Some(good_pcr()), 1);
        if let Some(t) = forged.tpm.as_mut() {
            t.signature[10] ^= 1;
        }
        forged.signature = node.sign(&forged.signed_message());
        assert_eq!(verify(&forged.encode(), &manifest(), STRICT), Err(VerifyError::QuoteSignature));
    }

    #[test]
    fn another_loader_fails_by_pcr_4_and_a_manifest_must_predict_it() {
        let r = report(b"kernel", Some(good_pcr()), 1);
        let mut other_loader = manifest();
        other_loader.loader_pcr = Some(expected_loader_pcr(&sha256(b"another loader")));
        assert!(matches!(verify(&r.encode(), &other_loader, STRICT), Err(VerifyError::PcrMismatch { pcr: 4, .. })));
        let mut unknown = manifest();
        unknown.loader_pcr = None;
        assert_eq!(verify(&r.encode(), &unknown, STRICT), Err(VerifyError::PcrNotInManifest(4)));
    }

    #[test]
    fn policy_decides_about_missing_tpm_and_pvh_is_refused() {
        let r = report(b"kernel", None, 1);
        assert_eq!(verify(&r.encode(), &manifest(), STRICT), Err(VerifyError::TpmRequired));
        assert!(verify(&r.encode(), &manifest(), Policy { require_tpm: false }).is_ok());
        let mut pvh = report(b"kernel", None, 1);
        pvh.boot_source = 1;
        assert_eq!(verify(&pvh.encode(), &manifest(), Policy { require_tpm: false }), Err(VerifyError::NotMeasuredBoot(1)));
        assert_eq!(verify(b"nonsense", &manifest(), STRICT), Err(VerifyError::Malformed(ReportError::NotAReport)));
    }
}
