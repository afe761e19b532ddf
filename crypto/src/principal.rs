//! Principals: the IC's identifiers of users, canisters, subnets and nodes (ic-reference §4).
//!
//! A principal is 0–29 opaque bytes; the last byte says which kind (self-authenticating
//! `02`, derived `03`, anonymous `04`, canister ids `01 01` after a big-endian u64). The
//! text form is base32(CRC32 · bytes) in lower case, dashes after every 5 characters.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

/// Maximum length of a principal in bytes.
pub const MAX_LEN: usize = 29;

/// A principal id. Invariant: at most [`MAX_LEN`] bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Principal {
    len: u8,
    bytes: [u8; MAX_LEN],
}

/// Why bytes or text are not a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalError {
    /// More than 29 bytes.
    TooLong,
    /// Not base32, or dashes in the wrong places.
    BadText,
    /// The CRC32 in the text form does not match the bytes.
    BadChecksum,
}

impl fmt::Display for PrincipalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PrincipalError::TooLong => "principal longer than 29 bytes",
            PrincipalError::BadText => "not a textual principal",
            PrincipalError::BadChecksum => "principal checksum mismatch",
        })
    }
}

/// Kind suffixes (last byte) of principals.
const SELF_AUTHENTICATING: u8 = 0x02;
const ANONYMOUS: u8 = 0x04;
/// The two bytes that follow the u64 of an IC canister id.
const CANISTER_SUFFIX: [u8; 2] = [0x01, 0x01];

/// Lower-case RFC 4648 base32 without padding.
fn base32() -> data_encoding::Encoding {
    let mut spec = data_encoding::Specification::new();
    spec.symbols.push_str("abcdefghijklmnopqrstuvwxyz234567");
    // Spec validity is fixed at compile time; a failure would be caught by every test.
    spec.encoding().unwrap_or_else(|_| data_encoding::BASE32_NOPAD.clone())
}

impl Principal {
    /// The management canister `aaaaa-aa` (empty bytes).
    pub const MANAGEMENT_CANISTER: Principal = Principal { len: 0, bytes: [0; MAX_LEN] };

    /// The anonymous principal `2vxsx-fae`.
    pub const fn anonymous() -> Principal {
        let mut bytes = [0; MAX_LEN];
        bytes[0] = ANONYMOUS;
        Principal { len: 1, bytes }
    }

    /// The principal with these bytes.
    pub fn from_slice(slice: &[u8]) -> Result<Principal, PrincipalError> {
        if slice.len() > MAX_LEN {
            return Err(PrincipalError::TooLong);
        }
        let mut bytes = [0; MAX_LEN];
        bytes[..slice.len()].copy_from_slice(slice);
        Ok(Principal { len: slice.len() as u8, bytes })
    }

    /// The self-authenticating principal of a DER-encoded public key: `SHA-224(der) · 02`.
    pub fn self_authenticating(der_public_key: &[u8]) -> Principal {
        let mut bytes = [0; MAX_LEN];
        bytes[..28].copy_from_slice(&crate::hash::sha224(der_public_key));
        bytes[28] = SELF_AUTHENTICATING;
        Principal { len: 29, bytes }
    }

    /// The IC canister id with index `index`: `u64 big-endian · 01 01`.
    pub fn from_canister_index(index: u64) -> Principal {
        let mut bytes = [0; MAX_LEN];
        bytes[..8].copy_from_slice(&index.to_be_bytes());
        bytes[8..10].copy_from_slice(&CANISTER_SUFFIX);
        Principal { len: 10, bytes }
    }

    /// The index if this is an IC canister id of the `u64 · 01 01` form.
    pub fn canister_index(&self) -> Option<u64> {
        let b = self.as_slice();
        if b.len() == 10 && b[8..] == CANISTER_SUFFIX {
            let mut index = [0u8; 8];
            index.copy_from_slice(&b[..8]);
            Some(u64::from_be_bytes(index))
        } else {
            None
        }
    }

    /// The raw bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// Whether this is the anonymous principal.
    pub fn is_anonymous(&self) -> bool {
        self.as_slice() == [ANONYMOUS]
    }

    /// Whether this is the management canister `aaaaa-aa`.
    pub fn is_management_canister(&self) -> bool {
        self.len == 0
    }

    /// Whether this is a self-authenticating principal.
    pub fn is_self_authenticating(&self) -> bool {
        self.len == 29 && self.bytes[28] == SELF_AUTHENTICATING
    }

    /// The textual form, e.g. `rwlgt-iiaaa-aaaaa-aaaaa-cai`.
    pub fn to_text(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.len as usize);
        raw.extend_from_slice(&crc32fast::hash(self.as_slice()).to_be_bytes());
        raw.extend_from_slice(self.as_slice());
        let plain = base32().encode(&raw);
        let mut text = String::with_capacity(plain.len() + plain.len() / 5);
        for (i, c) in plain.chars().enumerate() {
            if i > 0 && i % 5 == 0 {
                text.push('-');
            }
            text.push(c);
        }
        text
    }

    /// Parses the textual form, case-insensitively. Only the canonical grouping is
    /// accepted (re-encoding must give back the input), as the IC does.
    pub fn from_text(text: &str) -> Result<Principal, PrincipalError> {
        // 4 CRC bytes + 29 bytes = 33 bytes = 53 base32 chars + 10 dashes.
        if text.len() > 63 {
            return Err(PrincipalError::TooLong);
        }
        let lower = text.to_ascii_lowercase();
        let plain: String = lower.chars().filter(|c| *c != '-').collect();
        let raw = base32().decode(plain.as_bytes()).map_err(|_| PrincipalError::BadText)?;
        if raw.len() < 4 {
            return Err(PrincipalError::BadText);
        }
        let principal = Principal::from_slice(&raw[4..])?;
        if raw[..4] != crc32fast::hash(principal.as_slice()).to_be_bytes() {
            return Err(PrincipalError::BadChecksum);
        }
        if principal.to_text() != lower {
            return Err(PrincipalError::BadText);
        }
        Ok(principal)
    }
}

impl FromStr for Principal {
    type Err = PrincipalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Principal::from_text(s)
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Principal({})", self.to_text())
    }
}

impl AsRef<[u8]> for Principal {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_vectors() {
        let cases: [(&str, &str); 5] = [
            ("", "aaaaa-aa"),
            ("04", "2vxsx-fae"),
            ("abcd01", "em77e-bvlzu-aq"),
            ("00000000000000000101", "rwlgt-iiaaa-aaaaa-aaaaa-cai"),
            ("00000000000000010101", "rrkah-fqaaa-aaaaa-aaaaq-cai"),
        ];
        for (hex_bytes, text) in cases {
            let p = Principal::from_slice(&hex::decode(hex_bytes).unwrap()).unwrap();
            assert_eq!(p.to_text(), text);
            assert_eq!(Principal::from_text(text), Ok(p));
            assert_eq!(Principal::from_text(&text.to_ascii_uppercase()), Ok(p));
        }
        assert!(Principal::from_text("aaaaa-aa").unwrap().is_management_canister());
        assert!(Principal::from_text("2vxsx-fae").unwrap().is_anonymous());
        assert_eq!(Principal::anonymous().to_text(), "2vxsx-fae");
    }

    #[test]
    fn canister_ids() {
        let p = Principal::from_canister_index(1);
        assert_eq!(p.to_text(), "rrkah-fqaaa-aaaaa-aaaaq-cai");
        assert_eq!(p.canister_index(), Some(1));
        assert_eq!(Principal::anonymous().canister_index(), None);
        // The ICP ledger, which agent-js uses for time sync.
        assert_eq!(Principal::from_text("ryjl3-tyaaa-aaaaa-aaaba-cai").unwrap().canister_index(), Some(2));
    }

    #[test]
    fn rejects_bad_text() {
        assert_eq!(Principal::from_text("3vxsx-fae"), Err(PrincipalError::BadChecksum));
        assert_eq!(Principal::from_text("aaaaaaa"), Err(PrincipalError::BadText));
        assert_eq!(Principal::from_text("2vxsx-fae!"), Err(PrincipalError::BadText));
        assert_eq!(Principal::from_text(""), Err(PrincipalError::BadText));
        assert_eq!(Principal::from_slice(&[0u8; 30]), Err(PrincipalError::TooLong));
        assert_eq!(Principal::from_text(&"a".repeat(200)), Err(PrincipalError::TooLong));
    }

    #[test]
    fn mainnet_root_subnet_id() {
        let der = hex::decode(crate::der::tests::MAINNET_ROOT_KEY).unwrap();
        let sid = Principal::self_authenticating(&der);
        assert!(sid.is_self_authenticating());
        assert_eq!(sid.to_text(), "tdb26-jop6k-aogll-7ltgs-eruif-6kk7m-qpktf-gdiqx-mxtrf-vb5e6-eqe");
    }
}
