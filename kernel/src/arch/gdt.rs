//! The kernel's GDT and TSS. The TSS holds interrupt stacks (IST) for the exceptions that
//! must work even when the current stack is gone: a stack overflow into the guard page raises
//! a page fault that cannot push its frame on the overflowed stack.

use spin::Once;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

/// IST slots (1-based in the IDT, 0-based in the TSS array).
#[derive(Clone, Copy)]
#[repr(u8)]
pub enum InterruptStack {
    DoubleFault = 1,
    PageFault = 2,
    Nmi = 3,
    MachineCheck = 4,
}

const IST_STACK_SIZE: usize = 64 * 1024;
const IST_COUNT: usize = 4;

#[repr(C, align(16))]
struct IstStacks([[u8; IST_STACK_SIZE]; IST_COUNT]);

static mut IST_STACKS: IstStacks = IstStacks([[0; IST_STACK_SIZE]; IST_COUNT]);

struct Selectors {
    code: SegmentSelector,
    data: SegmentSelector,
    tss: SegmentSelector,
}

static TSS: Once<TaskStateSegment> = Once::new();
static GDT: Once<(GlobalDescriptorTable, Selectors)> = Once::new();

/// Loads the GDT, reloads the segment registers and installs the TSS.
pub fn init() {
    let tss = TSS.call_once(|| {
        let mut tss = TaskStateSegment::new();
        let base = VirtAddr::from_ptr(&raw const IST_STACKS);
        // Stacks grow down: each IST entry is the top of its stack. (The TSS is packed, so
        // its array is written by value, never through a reference.)
        let mut table = tss.interrupt_stack_table;
        for (i, slot) in table.iter_mut().take(IST_COUNT).enumerate() {
            *slot = base + ((i + 1) * IST_STACK_SIZE) as u64;
        }
        tss.interrupt_stack_table = table;
        tss
    });
    let (gdt, sel) = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let code = gdt.append(Descriptor::kernel_code_segment());
        let data = gdt.append(Descriptor::kernel_data_segment());
        let tss = gdt.append(Descriptor::tss_segment(tss));
        (gdt, Selectors { code, data, tss })
    });
    gdt.load();
    // SAFETY: the selectors index descriptors of the GDT just loaded, which lives forever.
    unsafe {
        CS::set_reg(sel.code);
        DS::set_reg(sel.data);
        ES::set_reg(sel.data);
        SS::set_reg(sel.data);
        load_tss(sel.tss);
    }
}

/// The address ranges of the IST stacks, for the fault reporter's stack walk.
pub fn ist_stacks() -> core::ops::Range<u64> {
    let base = (&raw const IST_STACKS) as u64;
    base..base + (IST_COUNT * IST_STACK_SIZE) as u64
}
