//! Device interrupt lines as something a task can await.
//!
//! A PCI INTx line is level-triggered and stays asserted until the driver acknowledges the
//! device, which drivers do from tasks. So the handler masks the line at the I/O APIC, records
//! that it fired and wakes the task; the task acknowledges the device and calls
//! [`IrqLine::wait`] again, which unmasks the line.

use super::FIRST_DEVICE_VECTOR;
use core::future::poll_fn;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Poll, Waker};
use keel_drivers::ioapic::{self, Trigger};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

const LINES: usize = 24;

static FIRED: [AtomicBool; LINES] = [const { AtomicBool::new(false) }; LINES];
static WAKERS: [Mutex<Option<Waker>>; LINES] = [const { Mutex::new(None) }; LINES];

/// A routed interrupt line (a GSI of the I/O APIC).
pub struct IrqLine {
    gsi: u8,
}

/// The I/O APIC has no input with this number.
#[derive(Debug)]
pub struct NoSuchLine(pub u8);

impl core::fmt::Display for NoSuchLine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "no I/O APIC input {}", self.0)
    }
}

impl IrqLine {
    /// Routes `gsi` to its own vector on this CPU. PCI INTx lines are level-triggered; QEMU's
    /// `pc` machine declares its PCI link interrupts active-high.
    pub fn route_pci(gsi: u8) -> Result<Self, NoSuchLine> {
        if usize::from(gsi) >= LINES || u32::from(gsi) >= ioapic::entries() {
            return Err(NoSuchLine(gsi));
        }
        let vector = FIRST_DEVICE_VECTOR + gsi;
        super::register(vector, on_interrupt);
        let apic = super::apic::id() as u8;
        ioapic::route(gsi, vector, Trigger { level: true, active_low: false }, apic);
        Ok(Self { gsi })
    }

    pub fn gsi(&self) -> u8 {
        self.gsi
    }

    /// Unmasks the line and waits until it fires (or returns at once if it fired already).
    pub async fn wait(&self) {
        let index = usize::from(self.gsi);
        poll_fn(|cx| {
            if FIRED[index].swap(false, Ordering::AcqRel) {
                return Poll::Ready(());
            }
            without_interrupts(|| *WAKERS[index].lock() = Some(cx.waker().clone()));
            ioapic::unmask(self.gsi);
            // It may have fired between the check and the unmask.
            if FIRED[index].swap(false, Ordering::AcqRel) { Poll::Ready(()) } else { Poll::Pending }
        })
        .await
    }
}

/// The shared handler of device vectors.
fn on_interrupt(vector: u8) {
    let gsi = vector.wrapping_sub(FIRST_DEVICE_VECTOR);
    let Some(fired) = FIRED.get(usize::from(gsi)) else { return };
    ioapic::mask(gsi);
    fired.store(true, Ordering::Release);
    // Task code takes this lock only with interrupts off, so it is free here.
    if let Some(waker) = WAKERS[usize::from(gsi)].lock().as_ref() {
        waker.wake_by_ref();
    }
}
