//! Boot: the entry paths into the kernel and what they hand over.
//!
//! Both the PVH path ([`pvh`]) and the UEFI loader produce a [`BootInfo`] block. Its memory
//! map and command line live in loader memory the frame allocator is about to reuse, so
//! [`BootData::capture`] copies them into the kernel first.

pub mod pvh;
pub mod uefi;

use keel_abi::boot::{BootInfo, BootSource, MemoryRegion};

/// Size of the boot stack the trampoline sets up (wasmi needs deep stacks).
pub const BOOT_STACK_SIZE: usize = 2 * 1024 * 1024;

const MAX_REGIONS: usize = 128;
const MAX_CMDLINE: usize = 1024;

/// The parts of the boot-info block the kernel keeps after boot.
pub struct BootData {
    pub source: BootSource,
    regions: [MemoryRegion; MAX_REGIONS],
    region_count: usize,
    cmdline: [u8; MAX_CMDLINE],
    cmdline_len: usize,
    pub rsdp: u64,
}

impl BootData {
    /// Copies the memory map and command line out of loader memory.
    ///
    /// # Safety
    /// The block's slices must point at readable, identity-mapped memory of the stated size.
    pub unsafe fn capture(info: &BootInfo) -> Result<Self, keel_abi::boot::BootInfoError> {
        let source = info.validate()?;
        let mut data = Self {
            source,
            regions: [MemoryRegion::new(0, 0, keel_abi::boot::MemoryKind::Reserved); MAX_REGIONS],
            region_count: 0,
            cmdline: [0; MAX_CMDLINE],
            cmdline_len: 0,
            rsdp: info.rsdp,
        };
        let count = (info.memory_map.len as usize).min(MAX_REGIONS);
        if count > 0 {
            // SAFETY: the caller guarantees `memory_map` points at `len` regions.
            let map = unsafe {
                core::slice::from_raw_parts(info.memory_map.addr as *const MemoryRegion, count)
            };
            data.regions[..count].copy_from_slice(map);
            data.region_count = count;
        }
        let len = (info.cmdline.len as usize).min(MAX_CMDLINE);
        if len > 0 {
            // SAFETY: the caller guarantees `cmdline` points at `len` readable bytes.
            let bytes =
                unsafe { core::slice::from_raw_parts(info.cmdline.addr as *const u8, len) };
            data.cmdline[..len].copy_from_slice(bytes);
            data.cmdline_len = len;
        }
        Ok(data)
    }

    pub fn memory_map(&self) -> &[MemoryRegion] {
        &self.regions[..self.region_count]
    }

    /// The command line; invalid UTF-8 is treated as empty.
    pub fn cmdline(&self) -> Cmdline<'_> {
        Cmdline(core::str::from_utf8(&self.cmdline[..self.cmdline_len]).unwrap_or(""))
    }
}

/// The kernel command line: whitespace-separated `key=value` (or bare `key`) options.
#[derive(Clone, Copy)]
pub struct Cmdline<'a>(pub &'a str);

impl<'a> Cmdline<'a> {
    /// The value of `key`, `Some("")` for a bare flag.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.0.split_ascii_whitespace().find_map(|opt| match opt.split_once('=') {
            Some((k, v)) if k == key => Some(v),
            None if opt == key => Some(""),
            _ => None,
        })
    }
}

#[cfg(feature = "ktest")]
mod ktests {
    use super::Cmdline;
    use crate::ktest;

    ktest! {
        fn cmdline_finds_values_and_flags() {
            let c = Cmdline("log=debug  ktest=mm quiet");
            assert_eq!(c.get("log"), Some("debug"));
            assert_eq!(c.get("ktest"), Some("mm"));
            assert_eq!(c.get("quiet"), Some(""));
            assert_eq!(c.get("missing"), None);
        }
    }
}
