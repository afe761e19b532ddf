//! Interrupt entry stubs, in assembly because `extern "x86-interrupt"` is not stable.
//!
//! Each of the 256 vectors gets a 16-byte stub at `isr_stubs + 16 * vector` that pushes a
//! uniform frame (a dummy error code where the CPU pushes none, then the vector number) and
//! jumps to `isr_common`. That saves the general registers and calls
//! [`super::trap_dispatch`] with a pointer to the [`super::TrapFrame`]. Vectors 8, 10–14,
//! 17, 21, 29 and 30 are the ones where the CPU pushes an error code itself.

use core::arch::global_asm;

/// Bytes between consecutive stubs.
pub const STUB_SIZE: u64 = 16;

unsafe extern "C" {
    /// The first stub; stub `v` is at `isr_stubs + STUB_SIZE * v`.
    static isr_stubs: u8;
}

/// The entry address of the stub for `vector`.
pub fn stub_address(vector: u8) -> u64 {
    (&raw const isr_stubs) as u64 + STUB_SIZE * u64::from(vector)
}

global_asm!(
    r#"
    .section .text
    .balign 16
    .global isr_stubs
isr_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    push $vec
    .else
    push $0
    push $vec
    .endif
    jmp isr_common
    .set vec, vec + 1
    .endr

    .balign 16
isr_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    cld
    mov %rsp, %rdi
    mov %rsp, %rbx
    and $-16, %rsp
    call trap_dispatch
    mov %rbx, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp
    iretq
    "#,
    options(att_syntax)
);
