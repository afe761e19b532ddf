//! Keel image: what a node boots from, and how the network checks what it booted.
//!
//! * [`config`]: the typed, versioned node configuration, its `node.toml` form (host) and the
//!   canonical encoding the kernel decodes and validates at boot.
//! * [`pcr`]: SHA-256 and the PCR extend chain — the one implementation the UEFI loader,
//!   the manifest and the verifier share.
//! * [`elf`]: the loader's view of the kernel ELF (segments, UEFI entry note).
//! * [`manifest`]: hashes of loader, kernel and config and the PCR value a correct boot yields.
//! * [`attestation`]: the report a node prints and serves, and its `no_std` verification.
//! * `disk` (host): the GPT disk image with its ESP and state partition.
//!
//! Everything but `disk` and the TOML reader builds `no_std` (kernel, loader, canisters).
#![forbid(unsafe_code)]
#![cfg_attr(any(target_os = "none", target_os = "uefi"), no_std)]

extern crate alloc;

pub mod attestation;
pub mod config;
#[cfg(all(feature = "host", not(any(target_os = "none", target_os = "uefi"))))]
pub mod disk;
pub mod elf;
pub mod hex;
pub mod manifest;
pub mod paths;
pub mod pe;
pub mod pcr;

pub use manifest::Manifest;
