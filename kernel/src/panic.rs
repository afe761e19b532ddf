//! The panic handler: print where and why, name the running test, stop with failure.

use core::fmt::Write;
use keel_abi::console::{PANIC_PREFIX, TEST_FAIL_PREFIX};
use keel_abi::exit::ExitCode;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    x86_64::instructions::interrupts::disable();
    let mut out = crate::console::emergency();
    let location = info.location();
    let (file, line, column) = location.map_or(("?", 0, 0), |l| (l.file(), l.line(), l.column()));
    let _ = writeln!(out, "\n{PANIC_PREFIX}at {file}:{line}:{column}: {}", info.message());
    if let Some(test) = crate::ktest::current() {
        let _ = writeln!(
            out,
            "{TEST_FAIL_PREFIX}{test}: panicked at {file}:{line}:{column}: {}",
            info.message()
        );
    }
    crate::arch::qemu::exit(ExitCode::Failure)
}
