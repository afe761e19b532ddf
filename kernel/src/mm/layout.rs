//! Where the linker put the kernel image, read from the symbols of `linker.ld`.

use core::ops::Range;

unsafe extern "C" {
    static __kernel_start: u8;
    static __kernel_end: u8;
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __boot_stack_guard: u8;
    static __boot_stack_bottom: u8;
    static __boot_stack_top: u8;
}

fn range(start: *const u8, end: *const u8) -> Range<u64> {
    start as u64..end as u64
}

/// The whole kernel image in memory, `.bss` included.
pub fn kernel() -> Range<u64> {
    range(&raw const __kernel_start, &raw const __kernel_end)
}

/// Executable code: mapped read-only and executable.
pub fn text() -> Range<u64> {
    range(&raw const __text_start, &raw const __text_end)
}

/// Constants and the ktest registry: mapped read-only, not executable.
pub fn rodata() -> Range<u64> {
    range(&raw const __rodata_start, &raw const __rodata_end)
}

/// The page below the boot stack, left unmapped so an overflow faults.
pub fn boot_stack_guard() -> Range<u64> {
    range(&raw const __boot_stack_guard, &raw const __boot_stack_bottom)
}

/// The boot stack the kernel runs on.
pub fn boot_stack() -> Range<u64> {
    range(&raw const __boot_stack_bottom, &raw const __boot_stack_top)
}
