//! Cryptography of the node: hashes, node and sender signatures, the subnet's BLS12-381
//! threshold signatures and the IC's Merkle hash trees (filled in by the interface issue).
#![forbid(unsafe_code)]
#![cfg_attr(target_os = "none", no_std)]
