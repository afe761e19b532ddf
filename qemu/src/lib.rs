//! QEMU harness: the one place that spells a QEMU command line (filled in next).
#![forbid(unsafe_code)]
#![cfg_attr(target_os = "none", no_std)]
