//! Interrupts and exceptions: the IDT, the common trap dispatcher, device interrupt
//! registration, and the local APIC.
//!
//! CPU exceptions are fatal in the kernel: they print a fault report ([`fault`]) and stop
//! the machine with a failure code. Device and timer interrupts run short handlers that
//! never allocate and never block; real work happens in executor tasks they wake.

pub mod apic;
pub mod line;
mod fault;
mod stubs;

use crate::arch::gdt::InterruptStack;
use spin::{Once, RwLock};
use x86_64::instructions::tables::lidt;
use x86_64::structures::DescriptorTablePointer;
use x86_64::VirtAddr;

/// The LAPIC timer's vector.
pub const TIMER_VECTOR: u8 = 0x20;
/// The first vector handed out to devices.
pub const FIRST_DEVICE_VECTOR: u8 = 0x30;
/// The legacy PICs are remapped here and masked; their spurious interrupts land on +7.
pub const PIC_BASE: u8 = 0xe0;
/// The LAPIC's spurious-interrupt vector.
pub const SPURIOUS_VECTOR: u8 = 0xff;

/// The register state saved by the entry stubs, lowest address first.
#[repr(C)]
#[derive(Debug)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// An IDT gate descriptor (64-bit interrupt gate).
#[repr(C)]
#[derive(Clone, Copy)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    attributes: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

impl Gate {
    /// Present, ring 0, interrupt gate (interrupts stay off in handlers).
    const INTERRUPT_GATE: u8 = 0x8e;

    fn new(handler: u64, selector: u16, ist: Option<InterruptStack>) -> Self {
        Self {
            offset_low: handler as u16,
            selector,
            ist: ist.map_or(0, |s| s as u8),
            attributes: Self::INTERRUPT_GATE,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

#[repr(C, align(16))]
struct Idt([Gate; 256]);

static IDT: Once<Idt> = Once::new();

/// A device interrupt handler, given its vector: runs with interrupts off, must not
/// allocate or block.
type Handler = fn(u8);

/// Device interrupt handlers by vector.
static HANDLERS: RwLock<[Option<Handler>; 256]> = RwLock::new([None; 256]);

/// The IST an exception runs on: the ones that may strike with a broken stack get their own.
fn interrupt_stack(vector: u8) -> Option<InterruptStack> {
    match vector {
        2 => Some(InterruptStack::Nmi),
        8 => Some(InterruptStack::DoubleFault),
        14 => Some(InterruptStack::PageFault),
        18 => Some(InterruptStack::MachineCheck),
        _ => None,
    }
}

/// Builds and loads the IDT. Interrupts stay disabled until [`enable`].
pub fn init() {
    use x86_64::instructions::segmentation::{CS, Segment};
    let selector = CS::get_reg().0;
    let idt = IDT.call_once(|| {
        Idt(core::array::from_fn(|v| {
            let v = v as u8;
            Gate::new(stubs::stub_address(v), selector, interrupt_stack(v))
        }))
    });
    let pointer = DescriptorTablePointer {
        limit: (core::mem::size_of::<Idt>() - 1) as u16,
        base: VirtAddr::from_ptr(idt),
    };
    // SAFETY: the IDT lives in a `static` forever and every gate points at a valid stub.
    unsafe { lidt(&pointer) };
}

/// Enables interrupts on this CPU.
pub fn enable() {
    x86_64::instructions::interrupts::enable();
}

/// Routes `vector` to `handler`. The handler runs with interrupts off and must not allocate.
pub fn register(vector: u8, handler: Handler) {
    x86_64::instructions::interrupts::without_interrupts(|| HANDLERS.write()[vector as usize] = Some(handler));
}

/// Called by `isr_common` for every interrupt and exception.
#[unsafe(no_mangle)]
extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    let vector = frame.vector as u8;
    match vector {
        0..=31 => fault::handle(frame),
        TIMER_VECTOR => {
            crate::time::on_timer_interrupt();
            apic::end_of_interrupt();
        }
        SPURIOUS_VECTOR => {}
        v if v == PIC_BASE + 7 || v == PIC_BASE + 15 => {}
        v => {
            if let Some(handler) = HANDLERS.read()[v as usize] {
                handler(v);
            }
            apic::end_of_interrupt();
        }
    }
}
