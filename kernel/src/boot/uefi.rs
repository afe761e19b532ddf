//! The UEFI hand-off entry: `keel-uefi-loader` jumps to [`keel_uefi_start`] in 64-bit mode
//! after `ExitBootServices`, with `rdi` pointing at its boot-info block.
//!
//! The firmware's page tables live in boot-services memory, which the loader reports as
//! usable, so the entry first switches to page tables of its own in `.bss` (the first 4 GiB
//! identity-mapped with 2 MiB pages, as on the PVH path), sets NX and write protection as
//! the PVH trampoline does, moves to the kernel's boot stack and records the entry TSC.
//! The loader finds the entry through an ELF note named `Keel` in the same `PT_NOTE`
//! segment as the PVH note (`keel_image::elf`), so the linker script needs no change.

use core::arch::global_asm;
use keel_abi::boot::{BootInfo, BootSource};
use keel_image::elf::KEEL_NOTE_UEFI_ENTRY;

global_asm!(
    r#"
    .section .note.Xen, "a", @note
    .balign 4
    .long 5
    .long 8
    .long {note_type}
    .asciz "Keel"
    .balign 4
    .quad keel_uefi_start
    .balign 4

    .section .text.boot, "ax"
    .code64
    .global keel_uefi_start
keel_uefi_start:
    cli
    cld
    mov %rdi, %r12
    rdtsc
    shl $32, %rdx
    or %rdx, %rax
    mov %rax, BOOT_TSC(%rip)

    /* PML4[0] -> PDPT, PDPT[0..4] -> four page directories of 2 MiB pages. */
    lea uefi_pdpt(%rip), %rax
    or $0x3, %rax
    mov %rax, uefi_pml4(%rip)
    lea uefi_pdpt(%rip), %rsi
    lea uefi_pd(%rip), %rdx
    xor %ecx, %ecx
1:  mov %rcx, %rax
    shl $12, %rax
    add %rdx, %rax
    or $0x3, %rax
    mov %rax, (%rsi,%rcx,8)
    inc %ecx
    cmp $4, %ecx
    jne 1b
    xor %ecx, %ecx
2:  mov %rcx, %rax
    shl $21, %rax
    or $0x83, %rax
    mov %rax, (%rdx,%rcx,8)
    inc %ecx
    cmp $2048, %ecx
    jne 2b

    /* No global pages (so the CR3 switch flushes every firmware mapping), NX, WP. */
    mov %cr4, %rax
    and $~(1 << 7), %rax
    mov %rax, %cr4
    mov $0xC0000080, %ecx
    rdmsr
    or $(1 << 11), %eax
    wrmsr
    mov %cr0, %rax
    or $(1 << 16), %rax
    mov %rax, %cr0
    lea uefi_pml4(%rip), %rax
    mov %rax, %cr3

    lea __boot_stack_top(%rip), %rsp
    xor %ebp, %ebp
    mov %r12, %rdi
    call uefi_main
    ud2

    .section .bss.uefi_boot, "aw", @nobits
    .balign 4096
uefi_pml4:
    .skip 4096
uefi_pdpt:
    .skip 4096
uefi_pd:
    .skip 4096 * 4
    "#,
    note_type = const KEEL_NOTE_UEFI_ENTRY,
    options(att_syntax)
);

/// What the loader measured, kept for attestation.
#[derive(Clone, Copy, Debug)]
pub struct LoaderMeasurements {
    pub kernel_sha256: [u8; 32],
    pub config_sha256: [u8; 32],
    /// Bit `n`: the loader extended PCR `n`.
    pub measured_pcrs: u32,
    config_addr: u64,
    config_len: u64,
}

static MEASUREMENTS: spin::Once<LoaderMeasurements> = spin::Once::new();

/// The loader's measurements, on the UEFI path.
pub fn measurements() -> Option<&'static LoaderMeasurements> {
    MEASUREMENTS.get()
}

impl LoaderMeasurements {
    /// The node configuration file as the loader read it (empty if it was missing).
    pub fn node_config(&self) -> &'static [u8] {
        if self.config_addr == 0 || self.config_len == 0 {
            return &[];
        }
        // SAFETY: the loader placed the configuration in memory it reports as reserved (the
        // frame allocator never hands it out) below 4 GiB, identity-mapped by both the entry
        // tables and the kernel's own; it is never written after the hand-off.
        unsafe { core::slice::from_raw_parts(self.config_addr as *const u8, self.config_len as usize) }
    }
}

/// The Rust side of the UEFI entry, on the boot stack with the first 4 GiB identity-mapped.
#[unsafe(no_mangle)]
extern "C" fn uefi_main(info: *const BootInfo) -> ! {
    // SAFETY: the loader passes the address of its block, which it wrote in memory it
    // reports as reserved below 4 GiB, identity-mapped by the entry's tables.
    let info = unsafe { &*info };
    if info.validate() == Ok(BootSource::Uefi) {
        MEASUREMENTS.call_once(|| LoaderMeasurements {
            kernel_sha256: info.kernel_sha256,
            config_sha256: info.config_sha256,
            measured_pcrs: info.measured_pcrs,
            config_addr: info.node_config.addr,
            config_len: info.node_config.len,
        });
    }
    // An invalid block is refused by kernel_main with the reason.
    crate::kernel_main(info)
}
