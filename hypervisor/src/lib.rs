//! Hypervisor: the replicated state machine of a subnet — partitions, rounds, management canister (filled in by the hypervisor issue).
#![forbid(unsafe_code)]
#![cfg_attr(target_os = "none", no_std)]
