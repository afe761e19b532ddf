//! x86_64 CPU set-up: segments, the task-state segment and its interrupt stacks, and the
//! exit port.

pub mod gdt;
pub mod qemu;
