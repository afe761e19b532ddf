//! The Authenticode SHA-256 of a PE/COFF image (Microsoft PE/COFF specification, "Calculating
//! the PE image hash"): what UEFI firmware extends into PCR 4 when it starts an EFI
//! application, so the manifest can predict the loader's PCR 4 measurement.

use crate::pcr::Digest256;
use alloc::vec::Vec;
use sha2::Digest;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeError {
    NotPe,
    Truncated,
}

impl core::fmt::Display for PeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::NotPe => "not a PE32+ image",
            Self::Truncated => "PE headers or sections point outside the file",
        })
    }
}

fn le(bytes: &[u8], at: usize, len: usize) -> Result<usize, PeError> {
    let field = bytes.get(at..at.checked_add(len).ok_or(PeError::Truncated)?).ok_or(PeError::Truncated)?;
    Ok(field.iter().rev().fold(0usize, |acc, &b| (acc << 8) | usize::from(b)))
}

/// The Authenticode SHA-256 of `image` (PE32+ only: the loader is x86-64).
pub fn authenticode_sha256(image: &[u8]) -> Result<Digest256, PeError> {
    if image.get(..2) != Some(b"MZ") {
        return Err(PeError::NotPe);
    }
    let pe = le(image, 0x3c, 4)?;
    if image.get(pe..pe + 4) != Some(b"PE\0\0") {
        return Err(PeError::NotPe);
    }
    let coff = pe + 4;
    let sections = le(image, coff + 2, 2)?;
    let optional_size = le(image, coff + 16, 2)?;
    let optional = coff + 20;
    if le(image, optional, 2)? != 0x20b {
        return Err(PeError::NotPe);
    }
    let checksum = optional + 64;
    let size_of_headers = le(image, optional + 60, 4)?;
    let directories = le(image, optional + 108, 4)?;
    // The certificate table is data directory 4 (8 bytes each, from offset 112).
    let cert_dir = optional + 112 + 4 * 8;
    // The certificate table (signatures) sits at the end of the file and is not hashed.
    let cert_len = if directories > 4 { le(image, cert_dir + 4, 4)? } else { 0 };
    let mut h = sha2::Sha256::new();
    let part = |from: usize, to: usize| image.get(from..to).ok_or(PeError::Truncated);
    h.update(part(0, checksum)?);
    if directories > 4 {
        h.update(part(checksum + 4, cert_dir)?);
        h.update(part(cert_dir + 8, size_of_headers)?);
    } else {
        h.update(part(checksum + 4, size_of_headers)?);
    }
    let table = optional + optional_size;
    let mut raw: Vec<(usize, usize)> = (0..sections)
        .map(|i| Ok((le(image, table + i * 40 + 20, 4)?, le(image, table + i * 40 + 16, 4)?)))
        .collect::<Result<_, PeError>>()?;
    raw.retain(|&(_, size)| size != 0);
    raw.sort_unstable();
    let mut hashed = size_of_headers;
    for (at, size) in raw {
        h.update(part(at, at + size)?);
        hashed += size;
    }
    // Data after the sections (but not the certificate table) is hashed too.
    let end = image.len().saturating_sub(cert_len);
    if end > hashed {
        h.update(part(hashed, end)?);
    }
    Ok(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pcr::sha256;

    /// A PE32+ with two sections whose raw data is stored out of order, and trailing data.
    fn tiny_pe() -> Vec<u8> {
        let mut f = alloc::vec![0u8; 0x410];
        f[..2].copy_from_slice(b"MZ");
        f[0x3c] = 0x40;
        f[0x40..0x44].copy_from_slice(b"PE\0\0");
        let coff = 0x44;
        f[coff..coff + 2].copy_from_slice(&0x8664u16.to_le_bytes());
        f[coff + 2] = 2;
        f[coff + 16] = 0xf0;
        let opt = coff + 20;
        f[opt..opt + 2].copy_from_slice(&0x20bu16.to_le_bytes());
        f[opt + 60..opt + 64].copy_from_slice(&0x200u32.to_le_bytes());
        f[opt + 108] = 16;
        let table = opt + 0xf0;
        for (i, raw_at) in [0x300u32, 0x200].into_iter().enumerate() {
            let s = table + i * 40;
            f[s + 16..s + 20].copy_from_slice(&0x100u32.to_le_bytes());
            f[s + 20..s + 24].copy_from_slice(&raw_at.to_le_bytes());
        }
        for (i, b) in f[0x200..].iter_mut().enumerate() {
            *b = i as u8;
        }
        f
    }

    #[test]
    fn hashes_headers_without_checksum_and_cert_entry_then_sections_in_file_order() {
        let f = tiny_pe();
        let (checksum, cert) = (0x58 + 64, 0x58 + 112 + 32);
        let expected = sha256(&[&f[..checksum], &f[checksum + 4..cert], &f[cert + 8..]].concat());
        assert_eq!(authenticode_sha256(&f), Ok(expected));
        let mut stamped = f.clone();
        stamped[checksum] = 0x55; // the checksum is not hashed
        stamped[cert + 3] = 0x66; // nor the certificate table entry
        assert_eq!(authenticode_sha256(&stamped), Ok(expected));
        let mut patched = f.clone();
        patched[0x280] ^= 1;
        assert_ne!(authenticode_sha256(&patched), Ok(expected));
    }

    #[test]
    fn refuses_what_is_not_pe32_plus() {
        assert_eq!(authenticode_sha256(b"\x7fELF"), Err(PeError::NotPe));
        let mut pe32 = tiny_pe();
        pe32[0x58] = 0x0b;
        pe32[0x59] = 0x01;
        assert_eq!(authenticode_sha256(&pe32), Err(PeError::NotPe));
        assert_eq!(authenticode_sha256(&tiny_pe()[..0x300]), Err(PeError::Truncated));
    }
}
