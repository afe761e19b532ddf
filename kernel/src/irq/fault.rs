//! Fault reports: what the CPU said, where, and how we got there. Every unexpected
//! exception stops the kernel with a failure exit code, so tests and operators see it.

use super::TrapFrame;
use crate::mm::layout;
use core::fmt::Write;
use keel_abi::console::{FAULT_PREFIX, TEST_FAIL_PREFIX};
use keel_abi::exit::ExitCode;
use x86_64::registers::control::Cr2;

const NAMES: [&str; 32] = [
    "#DE divide error",
    "#DB debug",
    "NMI",
    "#BP breakpoint",
    "#OF overflow",
    "#BR bound range exceeded",
    "#UD invalid opcode",
    "#NM device not available",
    "#DF double fault",
    "coprocessor segment overrun",
    "#TS invalid TSS",
    "#NP segment not present",
    "#SS stack-segment fault",
    "#GP general protection fault",
    "#PF page fault",
    "reserved 15",
    "#MF x87 floating-point error",
    "#AC alignment check",
    "#MC machine check",
    "#XM SIMD floating-point error",
    "#VE virtualization exception",
    "#CP control protection",
    "reserved 22",
    "reserved 23",
    "reserved 24",
    "reserved 25",
    "reserved 26",
    "reserved 27",
    "#HV hypervisor injection",
    "#VC VMM communication",
    "#SX security exception",
    "reserved 31",
];

const MAX_FRAMES: usize = 16;

pub(super) fn handle(frame: &TrapFrame) {
    if frame.vector == 3 {
        log::warn!("breakpoint at {:#x}", frame.rip);
        return;
    }
    report(frame);
    crate::arch::qemu::exit(ExitCode::Failure)
}

fn report(frame: &TrapFrame) {
    let name = NAMES[(frame.vector & 31) as usize];
    let mut out = crate::console::emergency();
    let _ = write!(out, "\n{FAULT_PREFIX}{name} at rip={:#x} error={:#x}", frame.rip, frame.error_code);
    let mut cause = None;
    if frame.vector == 14 {
        let cr2 = Cr2::read_raw();
        let _ = write!(out, " cr2={cr2:#x} ({})", page_fault_kind(frame.error_code));
        cause = explain_address(cr2);
    }
    let _ = writeln!(out);
    if let Some(cause) = cause {
        let _ = writeln!(out, "  cause: {cause}");
    }
    let _ = writeln!(
        out,
        "  rsp={:#x} rbp={:#x} rflags={:#x} cs={:#x}\n  rax={:#x} rbx={:#x} rcx={:#x} rdx={:#x} rsi={:#x} rdi={:#x}",
        frame.rsp, frame.rbp, frame.rflags, frame.cs, frame.rax, frame.rbx, frame.rcx, frame.rdx,
        frame.rsi, frame.rdi
    );
    let _ = writeln!(out, "  stack trace (innermost first):\n    #0 {:#x}", frame.rip);
    for (i, ret) in stack_trace(frame.rbp).enumerate() {
        let _ = writeln!(out, "    #{} {ret:#x}", i + 1);
    }
    if let Some(test) = crate::ktest::current() {
        let _ = writeln!(out, "{TEST_FAIL_PREFIX}{test}: {name} at rip={:#x}", frame.rip);
    }
}

fn page_fault_kind(error: u64) -> &'static str {
    match (error & 1 != 0, error & 2 != 0, error & 16 != 0) {
        (_, _, true) => "instruction fetch",
        (false, false, _) => "read of unmapped page",
        (false, true, _) => "write to unmapped page",
        (true, false, _) => "read protection violation",
        (true, true, _) => "write protection violation",
    }
}

fn explain_address(addr: u64) -> Option<&'static str> {
    if addr < 4096 {
        Some("null pointer dereference")
    } else if layout::boot_stack_guard().contains(&addr) {
        Some("kernel stack overflow (hit the guard page below the boot stack)")
    } else if layout::text().contains(&addr) || layout::rodata().contains(&addr) {
        Some("write to read-only kernel code or data")
    } else {
        None
    }
}

/// Return addresses found by following the frame-pointer chain (the kernel is built with
/// `force-frame-pointers`). Only frames inside known kernel stacks are followed, so a
/// corrupt `rbp` ends the walk instead of faulting again.
fn stack_trace(mut rbp: u64) -> impl Iterator<Item = u64> {
    core::iter::from_fn(move || {
        let on_stack = layout::boot_stack().contains(&rbp)
            || crate::arch::gdt::ist_stacks().contains(&rbp);
        if rbp == 0 || !rbp.is_multiple_of(8) || !on_stack {
            return None;
        }
        // SAFETY: `rbp` is 8-aligned and inside a mapped kernel stack, so this frame record
        // (saved rbp, return address) is readable.
        let (next, ret) = unsafe { (*(rbp as *const u64), *((rbp + 8) as *const u64)) };
        rbp = if next > rbp { next } else { 0 };
        (ret != 0).then_some(ret)
    })
    .take(MAX_FRAMES)
}
