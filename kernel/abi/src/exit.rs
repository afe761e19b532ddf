//! Exit codes written to QEMU's `isa-debug-exit` device (`iobase=0xf4, iosize=0x04`).
//!
//! QEMU exits with `(code << 1) | 1`, so no code the kernel writes can be confused with
//! QEMU's own exit status 0 (which a triple fault under `-no-reboot` produces).

/// The I/O port of the `isa-debug-exit` device.
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// What the kernel reports when it stops on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    /// Every test passed, or an orderly shutdown was requested.
    Success = 0x10,
    /// A test failed, the kernel panicked or took an unexpected exception.
    Failure = 0x11,
}

impl ExitCode {
    /// The exit status the QEMU process ends with after the kernel writes this code.
    pub const fn qemu_status(self) -> i32 {
        ((self as i32) << 1) | 1
    }

    /// Maps a QEMU exit status back to the code the kernel wrote, if it wrote one.
    pub fn from_qemu_status(status: i32) -> Option<Self> {
        [Self::Success, Self::Failure]
            .into_iter()
            .find(|code| code.qemu_status() == status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_is_33_as_the_harness_expects() {
        assert_eq!(ExitCode::Success.qemu_status(), 33);
        assert_eq!(ExitCode::Failure.qemu_status(), 35);
    }

    #[test]
    fn qemu_statuses_round_trip_and_others_are_unknown() {
        assert_eq!(ExitCode::from_qemu_status(33), Some(ExitCode::Success));
        assert_eq!(ExitCode::from_qemu_status(35), Some(ExitCode::Failure));
        assert_eq!(ExitCode::from_qemu_status(0), None);
        assert_eq!(ExitCode::from_qemu_status(1), None);
    }
}
