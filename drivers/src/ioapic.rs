//! The I/O APIC: routes legacy and PCI INTx lines (GSIs) to LAPIC vectors.
//!
//! PCI INTx is level-triggered: the line stays asserted until the driver acknowledges the
//! device. Drivers acknowledge from tasks, not from the interrupt handler, so the handler
//! masks the line and the task unmasks it after acknowledging.

use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// Where QEMU and nearly all PCs put the first I/O APIC.
pub const DEFAULT_BASE: u64 = 0xfec0_0000;

const REG_VERSION: u32 = 0x01;
const REDIRECTION_BASE: u32 = 0x10;
const MASKED: u32 = 1 << 16;
const LEVEL: u32 = 1 << 15;
const ACTIVE_LOW: u32 = 1 << 13;

/// The register window; select-then-access pairs must not interleave, hence the lock, always
/// taken with interrupts off because interrupt handlers mask lines too.
static WINDOW: Mutex<u64> = Mutex::new(DEFAULT_BASE);

fn read(base: u64, reg: u32) -> u32 {
    // SAFETY: `base` is the I/O APIC's MMIO page (identity-mapped uncached below 4 GiB);
    // IOREGSEL is at +0 and IOWIN at +0x10.
    unsafe {
        core::ptr::write_volatile(base as *mut u32, reg);
        core::ptr::read_volatile((base + 0x10) as *const u32)
    }
}

fn write(base: u64, reg: u32, value: u32) {
    // SAFETY: as in `read`.
    unsafe {
        core::ptr::write_volatile(base as *mut u32, reg);
        core::ptr::write_volatile((base + 0x10) as *mut u32, value);
    }
}

/// Number of redirection entries (GSIs) this I/O APIC serves.
pub fn entries() -> u32 {
    without_interrupts(|| {
        let base = *WINDOW.lock();
        ((read(base, REG_VERSION) >> 16) & 0xff) + 1
    })
}

/// Trigger mode and polarity of a line.
#[derive(Clone, Copy, Debug)]
pub struct Trigger {
    pub level: bool,
    pub active_low: bool,
}

/// Routes `gsi` to `vector` on the APIC with id `apic_id`, initially masked.
pub fn route(gsi: u8, vector: u8, trigger: Trigger, apic_id: u8) {
    let low = u32::from(vector)
        | MASKED
        | if trigger.level { LEVEL } else { 0 }
        | if trigger.active_low { ACTIVE_LOW } else { 0 };
    without_interrupts(|| {
        let base = *WINDOW.lock();
        let reg = REDIRECTION_BASE + 2 * u32::from(gsi);
        write(base, reg + 1, u32::from(apic_id) << 24);
        write(base, reg, low);
    });
}

fn set_masked(gsi: u8, masked: bool) {
    without_interrupts(|| {
        let base = *WINDOW.lock();
        let reg = REDIRECTION_BASE + 2 * u32::from(gsi);
        let low = read(base, reg);
        write(base, reg, if masked { low | MASKED } else { low & !MASKED });
    });
}

/// Stops `gsi` from interrupting (from the interrupt handler).
pub fn mask(gsi: u8) {
    set_masked(gsi, true);
}

/// Lets `gsi` interrupt again (after the device was acknowledged).
pub fn unmask(gsi: u8) {
    set_masked(gsi, false);
}
