//! Device drivers of the Keel kernel.
//!
//! Drivers own the `unsafe` that touches devices (port I/O, MMIO, DMA); the kernel owns the
//! platform `unsafe` (paging, interrupts) and lends drivers what they need through the
//! [`platform::Platform`] trait (DMA memory, device-memory mappings). Each driver exposes a
//! safe interface the rest of the node builds on. The crate also compiles on the host so its
//! pure logic is unit-tested there.
#![cfg_attr(target_os = "none", no_std)]
#![deny(clippy::undocumented_unsafe_blocks)]

extern crate alloc;

pub mod ioapic;
pub mod pci;
pub mod platform;
pub mod serial;
pub mod virtio;
pub mod tpm;
