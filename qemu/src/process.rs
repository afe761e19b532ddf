//! A running QEMU: serial capture, event recognition, timeouts, and cleanup on drop.

use crate::machine::Machine;
use keel_abi::console::Event;
use keel_abi::exit::ExitCode;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Every line the machine printed: the serial console, and QEMU's own stderr prefixed `qemu: `.
#[derive(Clone, Debug, Default)]
pub struct SerialLog(Arc<Mutex<Vec<String>>>);

impl SerialLog {
    fn push(&self, line: String) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(line);
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The last `n` lines, for failure messages.
    pub fn tail(&self, n: usize) -> String {
        let lines = self.lines();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl fmt::Display for SerialLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.lines().iter().try_for_each(|l| writeln!(f, "{l}"))
    }
}

/// How QEMU ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The kernel wrote an exit code to the debug-exit port.
    Kernel(ExitCode),
    /// QEMU exited by itself with another status (0 after a triple fault under -no-reboot).
    Qemu(i32),
    /// QEMU was killed by a signal (Ctrl-C, or our own kill).
    Signal,
    /// The harness gave up waiting and killed QEMU.
    TimedOut,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kernel(ExitCode::Success) => write!(f, "kernel exited with success"),
            Self::Kernel(ExitCode::Failure) => write!(f, "kernel exited with failure"),
            Self::Qemu(0) => write!(f, "QEMU exited with status 0 (triple fault or reset)"),
            Self::Qemu(s) => write!(f, "QEMU exited with status {s}"),
            Self::Signal => write!(f, "QEMU was killed by a signal"),
            Self::TimedOut => write!(f, "timed out"),
        }
    }
}

#[derive(Debug)]
pub enum QemuError {
    /// A host tool is missing; the message names the command that installs it.
    Missing(String),
    Spawn(std::io::Error),
    /// QEMU ended before the awaited event; the log tail says why.
    Ended { outcome: Outcome, log_tail: String },
    TimedOut { waited: Duration, log_tail: String },
}

impl fmt::Display for QemuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(hint) => write!(f, "{hint}"),
            Self::Spawn(e) => write!(f, "cannot start QEMU: {e}"),
            Self::Ended { outcome, log_tail } => write!(f, "{outcome}; serial log ends:\n{log_tail}"),
            Self::TimedOut { waited, log_tail } => {
                write!(f, "timed out after {waited:?}; serial log ends:\n{log_tail}")
            }
        }
    }
}

impl std::error::Error for QemuError {}

/// Where console lines go besides the log.
#[derive(Clone, Debug)]
pub enum Echo {
    Silent,
    /// Printed to stdout as they arrive, each with this prefix (empty for none).
    Stdout(String),
}

/// Ready line and boot phases, as seen from both sides.
#[derive(Clone, Debug)]
pub struct Ready {
    /// From spawning QEMU to reading the ready line.
    pub host: Duration,
    /// From the kernel's first instruction to its ready line, by the kernel's clock.
    pub kernel_micros: u64,
    /// Kernel boot phases (name, microseconds since the first instruction).
    pub phases: Vec<(String, u64)>,
}

/// What [`Qemu::poll_line`] saw.
#[derive(Debug)]
pub enum Next {
    Line(String),
    /// Nothing arrived in time; QEMU still runs.
    Quiet,
    /// QEMU has ended.
    Ended,
}

/// A running virtual machine. Dropping it kills QEMU.
pub struct Qemu {
    child: Child,
    lines: Receiver<String>,
    log: SerialLog,
    started: Instant,
    outcome: Option<Outcome>,
}

impl Qemu {
    /// Starts `machine`. With `interactive`, the terminal's input reaches the serial console.
    pub fn start(machine: &Machine, echo: Echo, interactive: bool) -> Result<Self, QemuError> {
        let qemu = crate::host::qemu_binary()?;
        let mut cmd = machine.command(&qemu);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.stdin(if interactive { Stdio::inherit() } else { Stdio::null() });
        let started = Instant::now();
        let mut child = cmd.spawn().map_err(QemuError::Spawn)?;
        let log = SerialLog::default();
        let (tx, lines) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            let (log, echo, tx) = (log.clone(), echo.clone(), tx.clone());
            thread::spawn(move || pump(stdout, "", &log, &echo, Some(&tx)));
        }
        if let Some(stderr) = child.stderr.take() {
            let log = log.clone();
            thread::spawn(move || pump(stderr, "qemu: ", &log, &echo, None));
        }
        Ok(Self { child, lines, log, started, outcome: None })
    }

    pub fn log(&self) -> &SerialLog {
        &self.log
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    /// Waits up to `wait` for the next serial line; never kills QEMU.
    pub fn poll_line(&mut self, wait: Duration) -> Next {
        match self.lines.recv_timeout(wait) {
            Ok(line) => Next::Line(line),
            Err(RecvTimeoutError::Timeout) => Next::Quiet,
            Err(RecvTimeoutError::Disconnected) => {
                self.reap();
                Next::Ended
            }
        }
    }

    /// The next serial line, or `None` once QEMU has ended (see [`Self::outcome`]).
    /// At `deadline` QEMU is killed and a timeout reported.
    pub fn next_line(&mut self, deadline: Instant) -> Result<Option<String>, QemuError> {
        match self.poll_line(deadline.saturating_duration_since(Instant::now())) {
            Next::Line(line) => Ok(Some(line)),
            Next::Ended => Ok(None),
            Next::Quiet => {
                self.kill();
                self.outcome = Some(Outcome::TimedOut);
                Err(QemuError::TimedOut { waited: self.started.elapsed(), log_tail: self.log.tail(40) })
            }
        }
    }

    /// Waits for the kernel's ready line, collecting its boot phases on the way.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<Ready, QemuError> {
        let deadline = Instant::now() + timeout;
        let mut phases = Vec::new();
        while let Some(line) = self.next_line(deadline)? {
            match Event::parse(&line) {
                Some(Event::Phase { name, micros }) => phases.push((name.to_owned(), micros)),
                Some(Event::Ready { micros }) => {
                    return Ok(Ready { host: self.started.elapsed(), kernel_micros: micros, phases });
                }
                _ => {}
            }
        }
        Err(self.ended())
    }

    /// Waits for QEMU to end by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Outcome {
        let deadline = Instant::now() + timeout;
        loop {
            match self.next_line(deadline) {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return self.outcome.unwrap_or(Outcome::Signal),
            }
        }
    }

    /// How QEMU ended, once it has.
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome
    }

    fn ended(&self) -> QemuError {
        QemuError::Ended { outcome: self.outcome.unwrap_or(Outcome::Signal), log_tail: self.log.tail(40) }
    }

    fn reap(&mut self) {
        if self.outcome.is_some() {
            return;
        }
        let status = self.child.wait().ok().and_then(|s| s.code());
        self.outcome = Some(match status {
            Some(code) => ExitCode::from_qemu_status(code).map_or(Outcome::Qemu(code), Outcome::Kernel),
            None => Outcome::Signal,
        });
    }

    /// Stops QEMU now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.outcome.get_or_insert(Outcome::Signal);
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        if self.outcome.is_none() {
            self.kill();
        }
    }
}

/// Splits a QEMU output stream into lines for the log, the echo and the event channel.
fn pump(stream: impl Read, prefix: &str, log: &SerialLog, echo: &Echo, tx: Option<&mpsc::Sender<String>>) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&buf);
        let line = format!("{prefix}{}", text.trim_end_matches(['\r', '\n']));
        if let Echo::Stdout(tag) = echo {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{tag}{line}");
            let _ = out.flush();
        }
        log.push(line.clone());
        if let Some(tx) = tx {
            let _ = tx.send(line);
        }
    }
}
