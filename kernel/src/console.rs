//! The serial console: `print!`/`println!`, the `log` backend, and an emergency writer for
//! panic and fault reports.
//!
//! The console lock is taken with interrupts off, so an interrupt handler can never spin on a
//! lock its own CPU holds.

use core::fmt::{self, Write};
use keel_drivers::serial::{COM1, SerialPort};
use spin::Mutex;
use x86_64::instructions::interrupts;

// SAFETY: COM1 is the console UART and only this module drives it (the emergency writer
// below takes over only when the kernel is about to stop).
static CONSOLE: Mutex<SerialPort> = Mutex::new(unsafe { SerialPort::new(COM1) });

/// Programs the UART. Printing before this works on QEMU but may be garbled on hardware.
pub fn init() {
    interrupts::without_interrupts(|| CONSOLE.lock().init());
}

#[doc(hidden)]
pub fn print_fmt(args: fmt::Arguments<'_>) {
    interrupts::without_interrupts(|| {
        let _ = CONSOLE.lock().write_fmt(args);
    });
}

/// Reads one byte from the console if one is waiting.
pub fn try_read_byte() -> Option<u8> {
    interrupts::without_interrupts(|| CONSOLE.lock().try_receive())
}

/// A writer that bypasses the console lock, for the last words of a panic or fault: the lock
/// may be held by the very code that failed.
pub fn emergency() -> impl Write {
    // SAFETY: the kernel is stopping; interleaving with a holder of the console lock can at
    // worst garble output, and the UART registers are valid.
    unsafe { SerialPort::new(COM1) }
}

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::print_fmt(format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::console::print_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}

struct Logger;

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let micros = crate::time::since_boot().as_micros();
            crate::println!(
                "[{:>5}.{:06}] {:<5} {}: {}",
                micros / 1_000_000,
                micros % 1_000_000,
                record.level(),
                record.target().trim_start_matches("keel_kernel::"),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

static LOGGER: Logger = Logger;

/// Installs the `log` backend at the level named by `log=` on the command line (default info).
pub fn init_log(level: Option<&str>) {
    let filter = match level {
        Some("trace") => log::LevelFilter::Trace,
        Some("debug") => log::LevelFilter::Debug,
        Some("warn") => log::LevelFilter::Warn,
        Some("error") => log::LevelFilter::Error,
        Some("off") => log::LevelFilter::Off,
        _ => log::LevelFilter::Info,
    };
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(filter);
}
