//! The time-stamp counter: the kernel's monotonic clock source once calibrated.

/// Reads the TSC.
pub fn read() -> u64 {
    // SAFETY: RDTSC is available on every x86_64 CPU and has no side effects.
    unsafe { core::arch::x86_64::_rdtsc() }
}
