//! `cargo xtask test`: every test of the project, with one verdict.
//!
//! 1. host tests of all crates (`cargo test`), 2. in-kernel tests under QEMU, each reported
//! by name, 3. end-to-end tests against booted kernels (as later issues add them). Ends with
//! `N passed, M failed` and fails if anything failed.

use crate::setup;
use keel_qemu::build::{self, Flavor};
use keel_qemu::{Echo, Machine, Qemu, TestReport};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// Run only the in-kernel tests whose name contains this. Selftests that fail on
    /// purpose run only when named: `--ktest selftest::panics` shows what a failure looks like.
    #[arg(long)]
    ktest: Option<String>,
    /// Run only one suite.
    #[arg(long, value_enum)]
    only: Option<Suite>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Suite {
    Host,
    Kernel,
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    failures: Vec<String>,
}

impl Tally {
    fn fail(&mut self, what: String) {
        self.failed += 1;
        self.failures.push(what);
    }
}

pub fn run(args: Args) -> Result<(), String> {
    setup::machine_with_testnet()?;
    let wants = |suite| args.only.is_none_or(|only| only == suite) && (args.ktest.is_none() || suite == Suite::Kernel);
    let mut tally = Tally::default();
    if wants(Suite::Host) {
        setup::step("host tests (cargo test, all crates but the kernel)");
        host_tests(&mut tally)?;
    }
    if wants(Suite::Kernel) {
        setup::step("in-kernel tests under QEMU");
        kernel_tests(args.ktest.as_deref(), &mut tally)?;
    }
    eprintln!();
    for failure in &tally.failures {
        eprintln!("FAILED: {failure}");
    }
    println!("{} passed, {} failed", tally.passed, tally.failed);
    if tally.failed == 0 { Ok(()) } else { Err(format!("{} test(s) failed", tally.failed)) }
}

/// Runs `cargo test` for the host crates, echoing its output and counting its results.
fn host_tests(tally: &mut Tally) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .current_dir(build::workspace_root())
        .args(["test", "--workspace", "--exclude", "keel-kernel", "--no-fail-fast"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo test: {e}"))?;
    let mut counted_failures = 0;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            if let Some((passed, failed)) = parse_result_line(&line) {
                tally.passed += passed;
                counted_failures += failed;
            }
            if let Some(name) = line.strip_prefix("test ").and_then(|l| l.strip_suffix(" ... FAILED")) {
                tally.failures.push(format!("host test {name}"));
            }
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    tally.failed += counted_failures;
    if !status.success() && counted_failures == 0 {
        tally.fail("cargo test failed before running its tests (see the build errors above)".into());
    }
    Ok(())
}

/// Reads `test result: ok. 12 passed; 0 failed; ...`.
fn parse_result_line(line: &str) -> Option<(usize, usize)> {
    let rest = line.strip_prefix("test result: ")?;
    let number_before = |word: &str| -> Option<usize> {
        let end = rest.find(word)?;
        rest[..end].trim_end().rsplit([' ', '.', ';']).next()?.parse().ok()
    };
    Some((number_before(" passed")?, number_before(" failed")?))
}

fn kernel_tests(filter: Option<&str>, tally: &mut Tally) -> Result<(), String> {
    let kernel = build::kernel(Flavor::Ktest, false)?;
    let cmdline = filter.map(|f| format!("ktest={f}")).unwrap_or_default();
    let qemu = Qemu::start(&Machine::pvh(kernel, cmdline), Echo::Silent, false).map_err(|e| e.to_string())?;
    // A test that prints nothing for a minute hangs; the whole run gets ten.
    let report = TestReport::collect(qemu, Duration::from_secs(60), Duration::from_secs(600));
    for result in &report.results {
        match (&result.failure, result.micros) {
            (None, micros) => {
                println!("ktest {} ... ok ({} us)", result.name, micros.unwrap_or(0));
                tally.passed += 1;
            }
            (Some(reason), _) => {
                println!("ktest {} ... FAILED: {reason}", result.name);
                tally.fail(format!("ktest {}: {reason}", result.name));
            }
        }
    }
    if !report.success() {
        if report.failed() == 0 {
            tally.fail(format!("kernel test run: {} before reporting all tests", report.outcome));
        }
        eprintln!("---- serial log of the kernel test run ----\n{}---- end of serial log ----", report.log);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_result_line;

    #[test]
    fn reads_cargo_result_lines() {
        let ok = "test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s";
        assert_eq!(parse_result_line(ok), Some((12, 0)));
        let bad = "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out";
        assert_eq!(parse_result_line(bad), Some((3, 2)));
        assert_eq!(parse_result_line("running 3 tests"), None);
    }
}
