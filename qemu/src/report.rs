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
    /// Runs a started test kernel to its end (or `timeout`) and collects the results.
    pub fn collect(mut qemu: Qemu, timeout: Duration) -> Self {
        let deadline = Instant::now() + timeout;
        let mut results: Vec<TestResult> = Vec::new();
        let mut running: Option<String> = None;
        let mut done = None;
        let mut timed_out = false;
        loop {
            let line = match qemu.next_line(deadline) {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(QemuError::TimedOut { .. }) => {
                    timed_out = true;
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
        let outcome = if timed_out { Outcome::TimedOut } else { qemu.outcome().unwrap_or(Outcome::Signal) };
        if let Some(name) = running {
            let failure = match outcome {
                Outcome::TimedOut => format!("timed out after {timeout:?}"),
                other => format!("did not finish: {other}"),
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
