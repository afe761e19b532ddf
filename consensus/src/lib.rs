//! Consensus: sans-IO Internet Computer Consensus and the P2P artifact protocol (filled in by the consensus issue).
#![forbid(unsafe_code)]
#![cfg_attr(target_os = "none", no_std)]
