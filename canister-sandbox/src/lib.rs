//! Canister sandbox: validates IC Wasm modules and executes one canister message at a time under the `ic0` System API (filled in by the sandbox issue).
#![forbid(unsafe_code)]
#![cfg_attr(target_os = "none", no_std)]
