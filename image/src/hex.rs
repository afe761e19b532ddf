//! Lower-case hexadecimal, for digests in manifests and reports on the console.

use alloc::string::String;
use alloc::vec::Vec;

/// `bytes` as lower-case hex.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// Why a hex string was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HexError {
    OddLength(usize),
    BadDigit { position: usize },
    /// A fixed-size value had the wrong number of bytes.
    WrongLength { expected: usize, found: usize },
}

impl core::fmt::Display for HexError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OddLength(n) => write!(f, "hex string has an odd length ({n})"),
            Self::BadDigit { position } => write!(f, "not a hex digit at position {position}"),
            Self::WrongLength { expected, found } => {
                write!(f, "expected {expected} bytes of hex, found {found}")
            }
        }
    }
}

/// Decodes hex (either case), ignoring surrounding whitespace.
pub fn decode(text: &str) -> Result<Vec<u8>, HexError> {
    let text = text.trim().as_bytes();
    if !text.len().is_multiple_of(2) {
        return Err(HexError::OddLength(text.len()));
    }
    let digit = |i: usize| -> Result<u8, HexError> {
        match text[i] {
            c @ b'0'..=b'9' => Ok(c - b'0'),
            c @ b'a'..=b'f' => Ok(c - b'a' + 10),
            c @ b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(HexError::BadDigit { position: i }),
        }
    };
    (0..text.len()).step_by(2).map(|i| Ok(digit(i)? << 4 | digit(i + 1)?)).collect()
}

/// Decodes exactly `N` bytes of hex (a digest, a key).
pub fn decode_array<const N: usize>(text: &str) -> Result<[u8; N], HexError> {
    let bytes = decode(text)?;
    bytes.as_slice().try_into().map_err(|_| HexError::WrongLength { expected: N, found: bytes.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_bad_input() {
        assert_eq!(encode(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(decode(" 00ABff\n"), Ok(alloc::vec![0x00, 0xab, 0xff]));
        assert_eq!(decode("abc"), Err(HexError::OddLength(3)));
        assert_eq!(decode("zz"), Err(HexError::BadDigit { position: 0 }));
        assert_eq!(decode_array::<2>("0011"), Ok([0, 0x11]));
        assert_eq!(decode_array::<2>("00"), Err(HexError::WrongLength { expected: 2, found: 1 }));
    }
}
