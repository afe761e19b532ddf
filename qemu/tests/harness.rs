//! The harness must fail when the kernel fails. Each test boots the real test kernel with one
//! deliberately failing selftest and checks the harness reports exactly that failure.

use keel_abi::exit::ExitCode;
use keel_qemu::build::{self, Flavor};
use keel_qemu::{Echo, Machine, Outcome, Qemu, TestReport};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

fn ktest_kernel() -> PathBuf {
    static KERNEL: OnceLock<PathBuf> = OnceLock::new();
    KERNEL
        .get_or_init(|| build::kernel(Flavor::Ktest, true).unwrap_or_else(|e| panic!("{e}")))
        .clone()
}

fn run_selftest(name: &str, timeout: Duration) -> TestReport {
    let machine = Machine::pvh(ktest_kernel(), format!("ktest=selftest::{name}"));
    let qemu = Qemu::start(&machine, Echo::Silent, false).unwrap_or_else(|e| panic!("{e}"));
    TestReport::collect(qemu, timeout, Duration::from_secs(120))
}

fn assert_single_failure(report: &TestReport, name: &str, reason_contains: &str) {
    assert!(!report.success(), "a failing kernel must not count as success:\n{}", report.log);
    assert_eq!(report.results.len(), 1, "{:?}\n{}", report.results, report.log);
    let result = &report.results[0];
    assert_eq!(result.name, format!("ktest::selftest::{name}"));
    let failure = result.failure.as_deref().unwrap_or_default();
    assert!(failure.contains(reason_contains), "failure {failure:?} lacks {reason_contains:?}");
}

#[test]
fn a_panicking_test_fails_with_its_message() {
    let report = run_selftest("panics", Duration::from_secs(60));
    assert_single_failure(&report, "panics", "deliberate failure");
    assert_eq!(report.outcome, Outcome::Kernel(ExitCode::Failure));
}

#[test]
fn a_page_fault_fails_with_a_fault_report() {
    let report = run_selftest("page_faults", Duration::from_secs(60));
    assert_single_failure(&report, "page_faults", "#PF page fault");
    let log = report.log.to_string();
    assert!(log.contains("cause: null pointer dereference"), "{log}");
    assert!(log.contains("stack trace"), "{log}");
}

#[test]
fn a_stack_overflow_hits_the_guard_page() {
    let report = run_selftest("overflows_stack", Duration::from_secs(60));
    assert_single_failure(&report, "overflows_stack", "#PF page fault");
    assert!(report.log.to_string().contains("kernel stack overflow"), "{}", report.log);
}

#[test]
fn a_hanging_test_times_out_and_is_named() {
    let report = run_selftest("hangs", Duration::from_secs(5));
    assert_single_failure(&report, "hangs", "timed out");
    assert_eq!(report.outcome, Outcome::TimedOut);
}

#[test]
fn the_node_kernel_boots_to_ready() {
    let kernel = build::kernel(Flavor::Node, true).unwrap_or_else(|e| panic!("{e}"));
    let mut qemu = Qemu::start(&Machine::pvh(kernel, ""), Echo::Silent, false).unwrap_or_else(|e| panic!("{e}"));
    let ready = qemu.wait_ready(Duration::from_secs(60)).unwrap_or_else(|e| panic!("{e}"));
    assert!(ready.kernel_micros > 0);
    let phases: Vec<&str> = ready.phases.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(phases, ["console", "memory", "interrupts", "clock", "devices", "replica", "certified"]);
    assert!(qemu.log().to_string().contains("booted via Pvh"));
}
