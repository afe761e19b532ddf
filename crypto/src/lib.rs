//! Keel cryptography: the hashes, node and sender signatures, BLS12-381 (threshold)
//! signatures of the subnet, principals and the IC's Merkle hash trees.
//!
//! Everything here is pure computation (`no_std` + `alloc`), shared by the HTTP interface,
//! consensus (threshold signing of state roots) and the hypervisor (state tree hashing).
#![forbid(unsafe_code)]
#![cfg_attr(target_os = "none", no_std)]
extern crate alloc;

pub mod bls;
pub mod cbor;
pub mod der;
pub mod ecdsa;
pub mod ed25519;
pub mod hash;
pub mod hash_tree;
pub mod principal;

pub use principal::{Principal, PrincipalError};

/// Why a signature did not verify. Deliberately coarse: callers turn it into a 4xx and
/// must not leak which internal step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// The public key bytes are not a valid point / key of the scheme.
    MalformedPublicKey,
    /// The signature bytes have the wrong length or are not a valid encoding.
    MalformedSignature,
    /// Well-formed, but does not verify.
    Invalid,
}

impl core::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SignatureError::MalformedPublicKey => "malformed public key",
            SignatureError::MalformedSignature => "malformed signature",
            SignatureError::Invalid => "signature verification failed",
        })
    }
}
