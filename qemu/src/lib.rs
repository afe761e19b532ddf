//! The QEMU harness: the one place that spells a QEMU command line.
//!
//! [`Machine`] describes a virtual machine (firmware or `-kernel`, memory, devices, port
//! forwards); [`Qemu`] runs it, captures the serial console line by line, recognises the
//! kernel's [`keel_abi::console`] events and exit codes, applies timeouts, and kills QEMU
//! when dropped. [`VdeSwitch`] is the virtual Ethernet switch of a testnet's subnet network.
//! [`build`] builds the kernel flavours, [`host`] finds or installs the host tools. `xtask`
//! and every end-to-end test go through this crate.
#![forbid(unsafe_code)]
#![cfg_attr(target_os = "none", no_std)]

pub mod build;
pub mod host;
mod machine;
mod process;
mod report;
mod swtpm;
mod vde;

pub use machine::{Boot, Device, Machine};
pub use process::{Echo, Next, Outcome, Qemu, QemuError, Ready, SerialLog};
pub use report::{TestReport, TestResult};
pub use swtpm::Swtpm;
pub use vde::VdeSwitch;
