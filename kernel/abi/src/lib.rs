//! The contracts the kernel shares with what starts it and what watches it.
//!
//! * [`boot`]: the boot-info block a loader hands to `kernel_main` (the PVH path builds the
//!   same block from Xen's `hvm_start_info`, the UEFI loader writes it in memory).
//! * [`exit`]: the codes the kernel writes to QEMU's `isa-debug-exit` port.
//! * [`net`]: the guest port of the IC HTTP interface.
//! * [`console`]: the serial lines the host harness recognises (ready, panic, fault, ktests).
//!
//! Both sides format and parse through this one crate, so they cannot drift apart.
#![forbid(unsafe_code)]
#![cfg_attr(any(target_os = "none", target_os = "uefi"), no_std)]

pub mod boot;
pub mod console;
pub mod exit;
pub mod net;
