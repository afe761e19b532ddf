//! The `TPMS_ATTEST` structure of a TPM2 quote (TPM 2.0 Part 2, §10.12), big-endian.

use crate::pcr::Digest256;
use alloc::vec::Vec;

/// `TPM_GENERATED_VALUE`: only the TPM itself signs structures starting with this.
pub const TPM_GENERATED: u32 = 0xff54_4347;
/// `TPM_ST_ATTEST_QUOTE`.
pub const ST_ATTEST_QUOTE: u16 = 0x8018;
/// `TPM_ALG_SHA256`.
pub const ALG_SHA256: u16 = 0x000b;

/// The parts of a quote the verifier checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    /// The caller's qualifying data (`extraData`).
    pub extra_data: Vec<u8>,
    /// The quoted PCRs: (hash algorithm, bitmap of selected PCRs).
    pub selection: Vec<(u16, Vec<u8>)>,
    /// Hash of the selected PCR values.
    pub pcr_digest: Vec<u8>,
}

/// Why the quoted bytes are not a quote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuoteError {
    NotTpmGenerated,
    NotAQuote(u16),
    Truncated,
    TrailingBytes,
}

impl core::fmt::Display for QuoteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotTpmGenerated => write!(f, "quoted structure lacks TPM_GENERATED_VALUE"),
            Self::NotAQuote(t) => write!(f, "quoted structure has type {t:#06x}, not TPM_ST_ATTEST_QUOTE"),
            Self::Truncated => write!(f, "quoted structure is truncated"),
            Self::TrailingBytes => write!(f, "quoted structure has trailing bytes"),
        }
    }
}

impl Quote {
    pub fn parse(bytes: &[u8]) -> Result<Self, QuoteError> {
        let mut r = Be(bytes);
        if r.u32()? != TPM_GENERATED {
            return Err(QuoteError::NotTpmGenerated);
        }
        let kind = r.u16()?;
        if kind != ST_ATTEST_QUOTE {
            return Err(QuoteError::NotAQuote(kind));
        }
        r.sized()?; // qualifiedSigner
        let extra_data = r.sized()?.to_vec();
        r.take(8 + 4 + 4 + 1)?; // clockInfo
        r.take(8)?; // firmwareVersion
        let count = r.u32()?;
        let selection = (0..count)
            .map(|_| {
                let alg = r.u16()?;
                let size = usize::from(r.take(1)?[0]);
                Ok((alg, r.take(size)?.to_vec()))
            })
            .collect::<Result<Vec<_>, QuoteError>>()?;
        let pcr_digest = r.sized()?.to_vec();
        if !r.0.is_empty() {
            return Err(QuoteError::TrailingBytes);
        }
        Ok(Self { extra_data, selection, pcr_digest })
    }

    /// Whether exactly `pcrs` of the SHA-256 bank were quoted (one bank, no other PCR).
    pub fn selects_exactly(&self, pcrs: &[u32]) -> bool {
        let [(alg, bitmap)] = self.selection.as_slice() else { return false };
        *alg == ALG_SHA256 && bitmap.as_slice() == selection_bitmap(pcrs)
    }
}

/// The 3-byte `pcrSelect` bitmap of PCRs 0..24.
pub fn selection_bitmap(pcrs: &[u32]) -> [u8; 3] {
    let mut bitmap = [0u8; 3];
    for &pcr in pcrs {
        if let Some(byte) = bitmap.get_mut((pcr / 8) as usize) {
            *byte |= 1 << (pcr % 8);
        }
    }
    bitmap
}

/// Builds a quote structure (tests, and the host-side simulation of a TPM).
pub fn build(extra_data: &[u8], pcrs: &[u32], pcr_digest: &Digest256) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&TPM_GENERATED.to_be_bytes());
    out.extend_from_slice(&ST_ATTEST_QUOTE.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes()); // qualifiedSigner: empty name
    out.extend_from_slice(&(extra_data.len() as u16).to_be_bytes());
    out.extend_from_slice(extra_data);
    out.extend_from_slice(&[0; 17]); // clockInfo
    out.extend_from_slice(&[0; 8]); // firmwareVersion
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(&ALG_SHA256.to_be_bytes());
    out.push(3);
    out.extend_from_slice(&selection_bitmap(pcrs));
    out.extend_from_slice(&32u16.to_be_bytes());
    out.extend_from_slice(pcr_digest);
    out
}

struct Be<'a>(&'a [u8]);

impl<'a> Be<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], QuoteError> {
        if self.0.len() < n {
            return Err(QuoteError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u16(&mut self) -> Result<u16, QuoteError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, QuoteError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A `TPM2B_*`: u16 size, then that many bytes.
    fn sized(&mut self) -> Result<&'a [u8], QuoteError> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_builds_and_checks_the_selection() {
        let q = Quote::parse(&build(b"nonce", &[4, 9], &[7; 32])).expect("quote");
        assert_eq!(q.extra_data, b"nonce");
        assert_eq!(q.pcr_digest, [7; 32]);
        assert_eq!(selection_bitmap(&[4, 9]), [0x10, 0x02, 0]);
        assert!(q.selects_exactly(&[4, 9]));
        assert!(!q.selects_exactly(&[9]));
        assert!(!q.selects_exactly(&[4, 9, 10]));
    }

    #[test]
    fn refuses_other_structures() {
        let mut b = build(b"", &[9], &[0; 32]);
        b[0] = 0;
        assert_eq!(Quote::parse(&b), Err(QuoteError::NotTpmGenerated));
        let mut b = build(b"", &[9], &[0; 32]);
        b[5] = 0x17; // TPM_ST_ATTEST_CERTIFY
        assert_eq!(Quote::parse(&b), Err(QuoteError::NotAQuote(0x8017)));
        let b = build(b"", &[9], &[0; 32]);
        assert_eq!(Quote::parse(&b[..b.len() - 1]), Err(QuoteError::Truncated));
    }
}
