//! The local APIC (xAPIC, memory-mapped) and the legacy 8259 PICs, which are remapped out of
//! the way and masked: all interrupts come through the LAPIC.

use super::{PIC_BASE, SPURIOUS_VECTOR, TIMER_VECTOR};
use spin::Once;
use x86_64::instructions::port::Port;
use x86_64::registers::model_specific::Msr;

const IA32_APIC_BASE: u32 = 0x1b;
const APIC_ENABLE: u64 = 1 << 11;

const REG_ID: usize = 0x20;
const REG_EOI: usize = 0xb0;
const REG_SPURIOUS: usize = 0xf0;
const REG_LVT_TIMER: usize = 0x320;
const REG_TIMER_INITIAL: usize = 0x380;
const REG_TIMER_CURRENT: usize = 0x390;
const REG_TIMER_DIVIDE: usize = 0x3e0;

const LVT_MASKED: u32 = 1 << 16;
const DIVIDE_BY_16: u32 = 0x3;

static BASE: Once<usize> = Once::new();

fn read(reg: usize) -> u32 {
    let base = *BASE.get().unwrap_or(&0xfee0_0000);
    // SAFETY: `base` is the LAPIC's MMIO page (identity-mapped, uncached) and `reg` one of
    // its 32-bit registers.
    unsafe { core::ptr::read_volatile((base + reg) as *const u32) }
}

fn write(reg: usize, value: u32) {
    let base = *BASE.get().unwrap_or(&0xfee0_0000);
    // SAFETY: as in `read`.
    unsafe { core::ptr::write_volatile((base + reg) as *mut u32, value) }
}

/// Remaps and masks the PICs, then enables the LAPIC with its timer masked.
pub fn init() {
    disable_pics();
    let mut msr = Msr::new(IA32_APIC_BASE);
    // SAFETY: IA32_APIC_BASE exists on every x86_64 CPU; setting the enable bit keeps the
    // LAPIC at the address the firmware chose.
    let base = unsafe {
        let value = msr.read() | APIC_ENABLE;
        msr.write(value);
        value & 0x000f_ffff_ffff_f000
    };
    BASE.call_once(|| base as usize);
    write(REG_SPURIOUS, 0x100 | u32::from(SPURIOUS_VECTOR));
    write(REG_TIMER_DIVIDE, DIVIDE_BY_16);
    write(REG_LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
}

fn disable_pics() {
    let command = [Port::<u8>::new(0x20), Port::<u8>::new(0xa0)];
    let data = [Port::<u8>::new(0x21), Port::<u8>::new(0xa1)];
    let [mut cmd1, mut cmd2] = command;
    let [mut data1, mut data2] = data;
    // SAFETY: the standard 8259 initialisation sequence on the PICs' fixed ports; it remaps
    // them to PIC_BASE.. so a stray spurious interrupt cannot look like a CPU exception, and
    // masks every line.
    unsafe {
        cmd1.write(0x11);
        cmd2.write(0x11);
        data1.write(PIC_BASE);
        data2.write(PIC_BASE + 8);
        data1.write(4);
        data2.write(2);
        data1.write(0x01);
        data2.write(0x01);
        data1.write(0xff);
        data2.write(0xff);
    }
}

/// This CPU's APIC id.
pub fn id() -> u32 {
    read(REG_ID) >> 24
}

pub fn end_of_interrupt() {
    write(REG_EOI, 0);
}

/// Starts the timer counting down from `ticks` (bus clock / 16) and fires once at zero.
pub fn start_one_shot(ticks: u32) {
    write(REG_LVT_TIMER, u32::from(TIMER_VECTOR));
    write(REG_TIMER_INITIAL, ticks.max(1));
}

/// Starts the timer counting down from its maximum without an interrupt (calibration).
pub fn start_free_running() {
    write(REG_LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
    write(REG_TIMER_INITIAL, u32::MAX);
}

/// Ticks left on the timer.
pub fn current_count() -> u32 {
    read(REG_TIMER_CURRENT)
}
