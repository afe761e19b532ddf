//! Attestation: the report a node produces at boot ([`report`]), the TPM quote inside it
//! ([`quote`]) and the `no_std` check of a report against a blessed image's manifest
//! ([`verify`]) that `cargo xtask attest verify` and the NNS registry canister share.

pub mod quote;
pub mod report;
#[cfg(feature = "crypto")]
pub mod verify;

pub use report::{Report, ReportError, TpmEvidence, qualifying_data};
#[cfg(feature = "crypto")]
pub use verify::{Policy, Verified, VerifyError, verify};
