//! The PVH entry: QEMU's `-kernel` loads this ELF, finds the `XEN_ELFNOTE_PHYS32_ENTRY` note and
//! jumps to [`pvh_start32`] in 32-bit protected mode with paging off and `ebx` pointing at
//! Xen's `hvm_start_info`. The trampoline zeroes `.bss`, identity-maps the first 4 GiB with
//! 2 MiB pages, enters long mode and calls [`pvh_main`], which converts the start info into
//! the boot-info block shared with the UEFI path.

use core::arch::global_asm;
use keel_abi::boot::{BootInfo, BootSource, PhysSlice};

/// `XEN_HVM_START_MAGIC_VALUE`.
const HVM_START_MAGIC: u32 = 0x336e_c578;

/// Xen's `struct hvm_start_info` (version 1, which adds the memory map).
#[repr(C)]
struct HvmStartInfo {
    magic: u32,
    version: u32,
    flags: u32,
    nr_modules: u32,
    modlist_paddr: u64,
    cmdline_paddr: u64,
    rsdp_paddr: u64,
    memmap_paddr: u64,
    memmap_entries: u32,
    reserved: u32,
}

// The ELF note (type 18 = XEN_ELFNOTE_PHYS32_ENTRY), the 32-bit trampoline, a minimal GDT
// for the far jump into 64-bit code, and the boot page tables and stack. The stack sits
// directly above a guard page that the kernel's own page tables leave unmapped.
global_asm!(
    r#"
    .section .note.Xen, "a", @note
    .balign 4
    .long 4
    .long 4
    .long 18
    .asciz "Xen"
    .balign 4
    .long pvh_start32
    .balign 4

    .section .text.boot, "ax"
    .code32
    .global pvh_start32
pvh_start32:
    cli
    cld
    /* No stack yet: park the entry TSC in ebp:esp until .bss is zeroed. */
    rdtsc
    mov %eax, %ebp
    mov %edx, %esp
    mov %ebx, %esi

    /* Zero .bss: Rust statics, page tables and stack start from zero. */
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    shr $2, %ecx
    xor %eax, %eax
    rep stosl
    mov %ebp, (BOOT_TSC)
    mov %esp, (BOOT_TSC + 4)

    /* PML4[0] -> PDPT, PDPT[0..4] -> four page directories of 2 MiB pages. */
    mov $boot_pdpt, %eax
    or $0x3, %eax
    mov %eax, (boot_pml4)
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $12, %eax
    add $boot_pd, %eax
    or $0x3, %eax
    mov %eax, boot_pdpt(,%ecx,8)
    inc %ecx
    cmp $4, %ecx
    jne 1b
    xor %ecx, %ecx
2:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax
    mov %eax, boot_pd(,%ecx,8)
    inc %ecx
    cmp $2048, %ecx
    jne 2b

    /* PAE, then long mode with NX, then paging with write protection. */
    mov %cr4, %eax
    or $(1 << 5), %eax
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx
    rdmsr
    or $((1 << 8) | (1 << 11)), %eax
    wrmsr
    mov %cr0, %eax
    or $((1 << 31) | (1 << 16) | 1), %eax
    mov %eax, %cr0

    lgdt (boot_gdt_ptr)
    ljmp $0x08, $pvh_start64

    .code64
pvh_start64:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    mov $__boot_stack_top, %rsp
    xor %ebp, %ebp
    mov %esi, %edi
    call pvh_main
    ud2

    .section .rodata
    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
boot_gdt_ptr:
    .word boot_gdt_ptr - boot_gdt - 1
    .long boot_gdt

    .section .bss.boot, "aw", @nobits
    .balign 4096
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4096 * 4
    .global __boot_stack_guard
__boot_stack_guard:
    .skip 4096
    .global __boot_stack_bottom
__boot_stack_bottom:
    .skip {stack_size}
    .global __boot_stack_top
__boot_stack_top:
    "#,
    stack_size = const crate::boot::BOOT_STACK_SIZE,
    options(att_syntax)
);

/// The TSC value at the first instruction of the kernel, written by the trampoline.
#[unsafe(no_mangle)]
static mut BOOT_TSC: u64 = 0;

/// TSC at kernel entry: the zero point of the kernel's own boot-phase timestamps.
pub fn boot_tsc() -> u64 {
    // SAFETY: written once by the trampoline before any Rust code runs, only read afterwards.
    unsafe { core::ptr::read_volatile(&raw const BOOT_TSC) }
}

/// The Rust side of the PVH entry, on the boot stack with the first 4 GiB identity-mapped.
#[unsafe(no_mangle)]
extern "C" fn pvh_main(start_info_paddr: u32) -> ! {
    // SAFETY: the PVH boot protocol passes the physical address of an `hvm_start_info` in
    // `ebx`; the trampoline forwarded it and the first 4 GiB are identity-mapped.
    let start = unsafe { &*(start_info_paddr as usize as *const HvmStartInfo) };
    let mut info = BootInfo::empty(BootSource::Pvh);
    if start.magic == HVM_START_MAGIC {
        if start.version >= 1 {
            info.memory_map = PhysSlice {
                addr: start.memmap_paddr,
                len: u64::from(start.memmap_entries),
            };
        }
        info.cmdline = PhysSlice { addr: start.cmdline_paddr, len: c_str_len(start.cmdline_paddr) };
        info.rsdp = start.rsdp_paddr;
    }
    crate::kernel_main(&info)
}

/// Length of the NUL-terminated string at `paddr` (bounded, so a missing NUL cannot run away).
fn c_str_len(paddr: u64) -> u64 {
    const MAX: u64 = 4096;
    if paddr == 0 {
        return 0;
    }
    (0..MAX)
        // SAFETY: PVH passes the command line as a NUL-terminated string in identity-mapped
        // low memory; we stop at the NUL or after MAX bytes.
        .find(|i| unsafe { core::ptr::read((paddr + i) as *const u8) } == 0)
        .unwrap_or(MAX)
}
