//! Kernel test runs: per-test results assembled from console events and the exit outcome.

use crate::process::{Outcome, Qemu, QemuError, SerialLog};
use keel_abi::console::Event;
use keel_abi::exit::ExitCode;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestResult {
    pub name: String,
    /// `None` when it passed, else why it failed.
    pub failure: Option<String>,
    pub micros: Option<u64>,
}

/// What a test kernel reported.
#[derive(Debug)]
pub struct TestReport {
    pub results: Vec<TestResult>,
    pub outcome: Outcome,
    /// The kernel's own `done` line, if it got that far.
    pub done: Option<(u32, u32)>,
    pub log: SerialLog,
}

impl TestReport {
    /// Runs a started test kernel to its end and collects the results. A test that prints
    /// nothing for `per_test` fails as timed out, as does a run longer than `total`.
    pub fn collect(mut qemu: Qemu, per_test: Duration, total: Duration) -> Self {
        let end = Instant::now() + total;
        let mut results: Vec<TestResult> = Vec::new();
        let mut running: Option<String> = None;
        let mut done = None;
        // The limit that expired, if one did.
        let mut timed_out: Option<Duration> = None;
        loop {
            let quiet_deadline = Instant::now() + per_test;
            let (deadline, limit) = if end < quiet_deadline { (end, total) } else { (quiet_deadline, per_test) };
            let line = match qemu.next_line(deadline) {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(QemuError::TimedOut { .. }) => {
                    timed_out = Some(limit);
                    break;
                }
                Err(_) => break,
            };
            match Event::parse(&line) {
                Some(Event::TestStart { name }) => running = Some(name.to_owned()),
                Some(Event::TestPass { name, micros }) => {
                    running = None;
                    results.push(TestResult { name: name.to_owned(), failure: None, micros: Some(micros) });
                }
                Some(Event::TestFail { name, reason }) => {
                    running = None;
                    results.push(TestResult { name: name.to_owned(), failure: Some(reason.to_owned()), micros: None });
                }
                Some(Event::TestsDone { passed, failed }) => done = Some((passed, failed)),
                _ => {}
            }
        }
        let outcome = if timed_out.is_some() { Outcome::TimedOut } else { qemu.outcome().unwrap_or(Outcome::Signal) };
        if let Some(name) = running {
            let failure = match timed_out {
                Some(limit) => format!("timed out (no output for {limit:?})"),
                None => format!("did not finish: {outcome}"),
            };
            results.push(TestResult { name, failure: Some(failure), micros: None });
        }
        Self { results, outcome, done, log: qemu.log().clone() }
    }

    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.failure.is_none()).count()
    }

    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }

    /// All reported tests passed, the kernel said it was done, and exited with success.
    pub fn success(&self) -> bool {
        self.failed() == 0 && self.done.is_some() && self.outcome == Outcome::Kernel(ExitCode::Success)
    }
}
