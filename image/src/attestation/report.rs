//! The attestation report: the node's public key bound to what it booted, signed by that
//! key, with a TPM quote over the measured PCR when the machine has a TPM.
//!
//! Byte encoding (all integers little-endian), served as-is by the node's HTTP interface at
//! `GET /api/v2/keel/attestation` and printed hex-encoded at boot:
//!
//! ```text
//! magic            "KEELATST"                     8
//! version          u16 (= REPORT_VERSION)         2
//! boot source      u8 (1 PVH, 2 UEFI)             1
//! kernel_sha256    as measured by the loader      32
//! config_sha256    as measured by the loader      32
//! node public key  Ed25519                        32
//! tpm              u8: 0 absent, 1 present        1
//!   ak public      SEC1 uncompressed P-256        65
//!   pcr count      u8, then per PCR: u8 index, 32-byte SHA-256 bank value as PCR_Read saw it
//!   quoted         u16 length, TPMS_ATTEST bytes
//!   quote sig      ECDSA r ‖ s                    64
//! signature        Ed25519 over domain-separated "keel-attestation" ‖ all bytes above   64
//! ```

use crate::pcr::{Digest256, sha256};
use alloc::vec::Vec;

pub const MAGIC: &[u8; 8] = b"KEELATST";
pub const REPORT_VERSION: u16 = 1;
/// The IC-style domain separator of the node's signature over a report.
pub const SIGNATURE_DOMAIN: &str = "keel-attestation";

/// TPM evidence: a quote by an attestation key (AK) over the loader and Keel PCRs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TpmEvidence {
    /// The AK's public point, SEC1 uncompressed (`04 ‖ x ‖ y`).
    pub ak_public: [u8; 65],
    /// The quoted PCRs (index, SHA-256 bank value the kernel read before quoting), in the
    /// order the quote digests them.
    pub pcrs: Vec<(u8, Digest256)>,
    /// The `TPMS_ATTEST` structure the TPM signed.
    pub quoted: Vec<u8>,
    /// The AK's ECDSA signature over SHA-256(`quoted`), `r ‖ s`.
    pub signature: [u8; 64],
}

/// A decoded report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub boot_source: u8,
    pub kernel_sha256: Digest256,
    pub config_sha256: Digest256,
    pub node_public_key: [u8; 32],
    pub tpm: Option<TpmEvidence>,
    /// The node key's signature over [`Report::signed_message`].
    pub signature: [u8; 64],
}

/// Why report bytes could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportError {
    NotAReport,
    UnsupportedVersion(u16),
    Truncated,
    TrailingBytes,
    BadTpmFlag(u8),
}

impl core::fmt::Display for ReportError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotAReport => write!(f, "not a Keel attestation report (bad magic)"),
            Self::UnsupportedVersion(v) => write!(f, "report version {v}, this verifier reads {REPORT_VERSION}"),
            Self::Truncated => write!(f, "report is truncated"),
            Self::TrailingBytes => write!(f, "report has bytes after its signature"),
            Self::BadTpmFlag(b) => write!(f, "report's TPM flag is {b}, not 0 or 1"),
        }
    }
}

/// The TPM quote's qualifying data: binds the quote to this node key (no replay of another
/// node's quote with a different key).
pub fn qualifying_data(node_public_key: &[u8; 32]) -> Digest256 {
    sha256(node_public_key)
}

impl Report {
    /// Everything but the signature, in encoding order.
    fn body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.tpm.as_ref().map_or(0, |t| t.quoted.len()));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&REPORT_VERSION.to_le_bytes());
        out.push(self.boot_source);
        out.extend_from_slice(&self.kernel_sha256);
        out.extend_from_slice(&self.config_sha256);
        out.extend_from_slice(&self.node_public_key);
        match &self.tpm {
            None => out.push(0),
            Some(t) => {
                out.push(1);
                out.extend_from_slice(&t.ak_public);
                out.push(t.pcrs.len().min(usize::from(u8::MAX)) as u8);
                for (index, value) in t.pcrs.iter().take(usize::from(u8::MAX)) {
                    out.push(*index);
                    out.extend_from_slice(value);
                }
                out.extend_from_slice(&(t.quoted.len().min(usize::from(u16::MAX)) as u16).to_le_bytes());
                out.extend_from_slice(&t.quoted[..t.quoted.len().min(usize::from(u16::MAX))]);
                out.extend_from_slice(&t.signature);
            }
        }
        out
    }

    /// The bytes the node key signs: `len(domain) ‖ domain ‖ body`.
    pub fn signed_message(&self) -> Vec<u8> {
        let body = self.body();
        let mut out = Vec::with_capacity(1 + SIGNATURE_DOMAIN.len() + body.len());
        out.push(SIGNATURE_DOMAIN.len() as u8);
        out.extend_from_slice(SIGNATURE_DOMAIN.as_bytes());
        out.extend_from_slice(&body);
        out
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.body();
        out.extend_from_slice(&self.signature);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, ReportError> {
        let mut r = Reader(bytes);
        if r.take(8).map_err(|_| ReportError::NotAReport)? != MAGIC {
            return Err(ReportError::NotAReport);
        }
        let version = u16::from_le_bytes(r.array()?);
        if version != REPORT_VERSION {
            return Err(ReportError::UnsupportedVersion(version));
        }
        let boot_source = r.array::<1>()?[0];
        let kernel_sha256 = r.array()?;
        let config_sha256 = r.array()?;
        let node_public_key = r.array()?;
        let tpm = match r.array::<1>()?[0] {
            0 => None,
            1 => {
                let ak_public = r.array()?;
                let count = r.array::<1>()?[0];
                let pcrs = (0..count).map(|_| Ok((r.array::<1>()?[0], r.array()?))).collect::<Result<Vec<_>, ReportError>>()?;
                let len = usize::from(u16::from_le_bytes(r.array()?));
                let quoted = r.take(len)?.to_vec();
                let signature = r.array()?;
                Some(TpmEvidence { ak_public, pcrs, quoted, signature })
            }
            other => return Err(ReportError::BadTpmFlag(other)),
        };
        let signature = r.array()?;
        if !r.0.is_empty() {
            return Err(ReportError::TrailingBytes);
        }
        Ok(Self { boot_source, kernel_sha256, config_sha256, node_public_key, tpm, signature })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ReportError> {
        if self.0.len() < n {
            return Err(ReportError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ReportError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
}
