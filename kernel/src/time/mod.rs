//! Time: a calibrated monotonic clock (TSC), wall-clock time (RTC at boot, carried forward by
//! the TSC), and one-shot alarms on the LAPIC timer that wake sleeping tasks.
//!
//! Before [`init`] the clock reads zero; boot phases record raw TSC values and are converted
//! once the TSC frequency is known.

mod pit;
mod rtc;
pub mod timer;
pub mod tsc;

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
pub use core::time::Duration;

/// Nanoseconds per TSC tick as a 32.32 fixed-point number.
static NS_PER_TICK_Q32: AtomicU64 = AtomicU64::new(0);
static TSC_HZ: AtomicU64 = AtomicU64::new(0);
/// LAPIC timer ticks (bus clock / 16) per millisecond.
static LAPIC_TICKS_PER_MS: AtomicU64 = AtomicU64::new(0);
/// Unix time in nanoseconds at the kernel's first instruction.
static UNIX_NS_AT_BOOT: AtomicU64 = AtomicU64::new(0);
/// Set by the timer interrupt; the executor clears it when it looks at its timers.
static ALARM_FIRED: AtomicBool = AtomicBool::new(false);

/// A point on the monotonic clock, in nanoseconds since the kernel started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    pub fn duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    pub fn elapsed(self) -> Duration {
        now().duration_since(self)
    }
}

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.as_nanos().min(u128::from(u64::MAX)) as u64))
    }
}

/// What calibration measured, for the boot banner.
#[derive(Clone, Copy, Debug)]
pub struct Calibration {
    pub tsc_hz: u64,
    pub lapic_hz: u64,
}

/// Calibrates TSC and LAPIC timer against the PIT and reads the RTC.
pub fn init() -> Calibration {
    let w = pit::measure_shortest();
    let tsc_hz = w.tsc_ticks * 1_000_000_000 / w.nanos.max(1);
    TSC_HZ.store(tsc_hz, Relaxed);
    NS_PER_TICK_Q32.store(((1_000_000_000u128 << 32) / u128::from(tsc_hz.max(1))) as u64, Relaxed);
    LAPIC_TICKS_PER_MS.store((w.lapic_ticks * 1_000_000 / w.nanos.max(1)).max(1), Relaxed);
    let unix_now = rtc::unix_seconds() * 1_000_000_000;
    UNIX_NS_AT_BOOT.store(unix_now.saturating_sub(since_boot().as_nanos() as u64), Relaxed);
    Calibration { tsc_hz, lapic_hz: LAPIC_TICKS_PER_MS.load(Relaxed) * 1000 }
}

/// Converts TSC ticks to a duration (zero before calibration).
pub fn ticks_to_duration(ticks: u64) -> Duration {
    let q32 = u128::from(NS_PER_TICK_Q32.load(Relaxed));
    Duration::from_nanos(((u128::from(ticks) * q32) >> 32) as u64)
}

/// The monotonic clock.
pub fn now() -> Instant {
    Instant(since_boot().as_nanos() as u64)
}

/// Time since the kernel's first instruction.
pub fn since_boot() -> Duration {
    ticks_to_duration(tsc::read().saturating_sub(crate::boot::pvh::boot_tsc()))
}

/// Wall-clock time in nanoseconds since the Unix epoch.
pub fn unix_time_nanos() -> u64 {
    UNIX_NS_AT_BOOT.load(Relaxed) + since_boot().as_nanos() as u64
}

/// Programs the LAPIC timer to interrupt at `deadline` (or within `max_wait`, whichever is
/// sooner), so a halted CPU wakes for the next timer.
pub fn arm_alarm(deadline: Instant, max_wait: Duration) {
    let wait = deadline.duration_since(now()).min(max_wait);
    let per_ms = LAPIC_TICKS_PER_MS.load(Relaxed);
    let ticks = (wait.as_micros() as u64 * per_ms / 1000).clamp(1, u64::from(u32::MAX));
    crate::irq::apic::start_one_shot(ticks as u32);
}

/// Called by the timer interrupt handler: only records that the alarm fired.
pub(crate) fn on_timer_interrupt() {
    ALARM_FIRED.store(true, Relaxed);
}

/// Whether the alarm fired since the last call.
pub fn take_alarm() -> bool {
    ALARM_FIRED.swap(false, Relaxed)
}

#[cfg(feature = "ktest")]
mod ktests {
    use super::*;
    use crate::ktest;

    ktest! {
        fn clock_is_monotonic_and_calibrated() {
            assert!(TSC_HZ.load(Relaxed) > 10_000_000, "TSC at {} Hz", TSC_HZ.load(Relaxed));
            let mut last = now();
            for _ in 0..1000 {
                let next = now();
                assert!(next >= last);
                last = next;
            }
        }
    }

    ktest! {
        fn alarm_interrupt_wakes_a_halted_cpu() {
            let start = now();
            let deadline = start + Duration::from_millis(3);
            while now() < deadline {
                x86_64::instructions::interrupts::disable();
                arm_alarm(deadline, Duration::from_millis(50));
                x86_64::instructions::interrupts::enable_and_hlt();
            }
            let waited = start.elapsed();
            // hlt returned through the timer interrupt: the deadline passed, and not by
            // the 50 ms fallback (TCG is slow, but not that slow).
            assert!(waited >= Duration::from_millis(3), "woke after {waited:?}");
        }
    }

    ktest! {
        fn unix_time_tracks_the_rtc() {
            let secs = unix_time_nanos() / 1_000_000_000;
            assert!(secs > 1_704_067_200, "unix time {secs}");
        }
    }
}
