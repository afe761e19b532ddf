//! The serial-console lines the host harness acts on.
//!
//! The kernel prints [`Event`]s with `Display`; the harness reads each serial line back with
//! [`Event::parse`]. Anything else on the console is ordinary log output.

use core::fmt;

const READY: &str = "keel: ready in ";
const PHASE: &str = "keel: phase ";
const PANIC: &str = "keel: PANIC ";
const FAULT: &str = "keel: FAULT ";
const TEST_START: &str = "ktest: start ";
const TEST_PASS: &str = "ktest: pass ";
const TEST_FAIL: &str = "ktest: fail ";
const TESTS_DONE: &str = "ktest: done ";
const ATTESTATION: &str = "keel: attestation ";
const BOOT_REFUSED: &str = "keel: boot refused: ";

/// A line of the serial console that means something to the harness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// The kernel finished booting and serves; `micros` since the kernel's first instruction.
    Ready { micros: u64 },
    /// A boot phase ended `micros` after the kernel's first instruction.
    Phase { name: &'a str, micros: u64 },
    /// The kernel panicked; the rest of the line is the location and message.
    Panic { detail: &'a str },
    /// The CPU raised an exception the kernel does not handle; the report follows.
    Fault { detail: &'a str },
    /// A kernel test started.
    TestStart { name: &'a str },
    /// A kernel test returned.
    TestPass { name: &'a str, micros: u64 },
    /// A kernel test failed; the harness also turns a panic or fault during a test into this.
    TestFail { name: &'a str, reason: &'a str },
    /// All selected tests ran.
    TestsDone { passed: u32, failed: u32 },
    /// The node's attestation report (`keel_image::attestation` encoding), hex-encoded.
    Attestation { report_hex: &'a str },
    /// The kernel will not run the node (e.g. missing or corrupt node configuration); it
    /// stops with failure after this line.
    BootRefused { reason: &'a str },
}

impl<'a> Event<'a> {
    /// Recognises a harness event in one console line (without its line ending).
    pub fn parse(line: &'a str) -> Option<Self> {
        let line = line.trim_end_matches(['\r', '\n']);
        if let Some(rest) = line.strip_prefix(READY) {
            let micros = rest.strip_suffix(" us")?.parse().ok()?;
            return Some(Self::Ready { micros });
        }
        if let Some(rest) = line.strip_prefix(PHASE) {
            let (name, time) = rest.split_once(" at ")?;
            let micros = time.strip_suffix(" us")?.parse().ok()?;
            return Some(Self::Phase { name, micros });
        }
        if let Some(detail) = line.strip_prefix(PANIC) {
            return Some(Self::Panic { detail });
        }
        if let Some(detail) = line.strip_prefix(FAULT) {
            return Some(Self::Fault { detail });
        }
        if let Some(name) = line.strip_prefix(TEST_START) {
            return Some(Self::TestStart { name });
        }
        if let Some(rest) = line.strip_prefix(TEST_PASS) {
            let (name, time) = rest.rsplit_once(" (")?;
            let micros = time.strip_suffix(" us)")?.parse().ok()?;
            return Some(Self::TestPass { name, micros });
        }
        if let Some(rest) = line.strip_prefix(TEST_FAIL) {
            let (name, reason) = rest.split_once(": ")?;
            return Some(Self::TestFail { name, reason });
        }
        if let Some(report_hex) = line.strip_prefix(ATTESTATION) {
            return Some(Self::Attestation { report_hex });
        }
        if let Some(reason) = line.strip_prefix(BOOT_REFUSED) {
            return Some(Self::BootRefused { reason });
        }
        if let Some(rest) = line.strip_prefix(TESTS_DONE) {
            let (passed, rest) = rest.split_once(" passed, ")?;
            let failed = rest.strip_suffix(" failed")?;
            return Some(Self::TestsDone {
                passed: passed.parse().ok()?,
                failed: failed.parse().ok()?,
            });
        }
        None
    }
}

impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready { micros } => write!(f, "{READY}{micros} us"),
            Self::Phase { name, micros } => write!(f, "{PHASE}{name} at {micros} us"),
            Self::Panic { detail } => write!(f, "{PANIC}{detail}"),
            Self::Fault { detail } => write!(f, "{FAULT}{detail}"),
            Self::TestStart { name } => write!(f, "{TEST_START}{name}"),
            Self::TestPass { name, micros } => write!(f, "{TEST_PASS}{name} ({micros} us)"),
            Self::TestFail { name, reason } => write!(f, "{TEST_FAIL}{name}: {reason}"),
            Self::TestsDone { passed, failed } => {
                write!(f, "{TESTS_DONE}{passed} passed, {failed} failed")
            }
            Self::Attestation { report_hex } => write!(f, "{ATTESTATION}{report_hex}"),
            Self::BootRefused { reason } => write!(f, "{BOOT_REFUSED}{reason}"),
        }
    }
}

/// The prefix of a `Panic` line, for writers that stream the detail instead of borrowing it.
pub const PANIC_PREFIX: &str = PANIC;
/// The prefix of a `Fault` line, likewise.
pub const FAULT_PREFIX: &str = FAULT;
/// The prefix of a `TestFail` line, likewise (followed by `name: reason`).
pub const TEST_FAIL_PREFIX: &str = TEST_FAIL;

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    fn round_trip(event: Event<'_>) {
        let line = event.to_string();
        assert_eq!(Event::parse(&line), Some(event), "line {line:?}");
    }

    #[test]
    fn every_event_round_trips_through_its_line() {
        round_trip(Event::Ready { micros: 41_250 });
        round_trip(Event::Phase { name: "memory", micros: 8_523 });
        round_trip(Event::Panic { detail: "at kernel/src/main.rs:10:5: boom" });
        round_trip(Event::Fault { detail: "#PF rip=0x1000 err=0x2 cr2=0x0" });
        round_trip(Event::TestStart { name: "mm::frames::alloc_is_aligned" });
        round_trip(Event::TestPass { name: "time::clock_is_monotonic", micros: 12 });
        round_trip(Event::TestFail { name: "x::y", reason: "panicked: a: b" });
        round_trip(Event::TestsDone { passed: 17, failed: 1 });
        round_trip(Event::Attestation { report_hex: "4b45454c41545354" });
        round_trip(Event::BootRefused { reason: "node configuration is missing" });
    }

    #[test]
    fn ordinary_log_lines_are_not_events() {
        assert_eq!(Event::parse("[INFO ] mm: 510 MiB usable"), None);
        assert_eq!(Event::parse("keel: ready in soon"), None);
        assert_eq!(Event::parse("ktest: pass broken"), None);
    }

    #[test]
    fn carriage_returns_are_ignored() {
        assert_eq!(Event::parse("ktest: start a\r\n"), Some(Event::TestStart { name: "a" }));
    }
}
