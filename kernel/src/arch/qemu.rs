//! Leaving the machine: QEMU's `isa-debug-exit` device, with a halt loop as the fallback on
//! hardware (where the port does nothing).

use keel_abi::exit::{DEBUG_EXIT_PORT, ExitCode};
use x86_64::instructions::port::Port;

/// Stops the machine and reports `code` to whoever started QEMU.
pub fn exit(code: ExitCode) -> ! {
    // SAFETY: writing the debug-exit port ends QEMU; on machines without the device the
    // write is ignored and we halt below.
    unsafe { Port::<u32>::new(DEBUG_EXIT_PORT).write(code as u32) };
    halt_forever()
}

/// Halts with interrupts off, forever.
pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}
