//! gzip-compressed modules (RFC 1952): header parsing, then raw DEFLATE via `miniz_oxide`.

use alloc::format;
use alloc::vec::Vec;

use crate::error::ValidationError;

pub(crate) const MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const HEADER_LEN: usize = 10;
const TRAILER_LEN: usize = 8;

/// Decompresses a gzip member, refusing output beyond `limit` bytes.
pub(crate) fn gunzip(input: &[u8], limit: u64) -> Result<Vec<u8>, ValidationError> {
    let bad = |what: &str| ValidationError::Gzip(what.into());
    if input.len() < HEADER_LEN + TRAILER_LEN || input[..3] != MAGIC {
        return Err(bad("truncated gzip header"));
    }
    let flags = input[3];
    let mut at = HEADER_LEN;
    if flags & FEXTRA != 0 {
        let len = input.get(at..at + 2).ok_or_else(|| bad("truncated extra field"))?;
        at += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let rest = input.get(at..).ok_or_else(|| bad("truncated header string"))?;
            let nul = rest.iter().position(|b| *b == 0).ok_or_else(|| bad("unterminated header string"))?;
            at += nul + 1;
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    let end = input.len() - TRAILER_LEN;
    let deflated = input.get(at..end).ok_or_else(|| bad("header longer than the file"))?;
    let max = usize::try_from(limit).unwrap_or(usize::MAX);
    let out = miniz_oxide::inflate::decompress_to_vec_with_limit(deflated, max)
        .map_err(|e| ValidationError::Gzip(format!("{:?}", e.status)))?;
    let size = &input[end + 4..];
    let expected = u32::from_le_bytes([size[0], size[1], size[2], size[3]]);
    // ISIZE is the length modulo 2^32.
    if out.len() as u32 != expected {
        return Err(bad("decompressed size does not match the gzip trailer"));
    }
    Ok(out)
}
