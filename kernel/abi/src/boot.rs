//! The boot-info block: everything `kernel_main` learns about the machine it booted on.
//!
//! Two paths lead into the kernel. The PVH path (QEMU `-kernel`) converts Xen's
//! `hvm_start_info` into this block inside the kernel; the UEFI loader writes it in memory
//! before it exits boot services. Pointers are physical addresses, identity-mapped when the
//! kernel reads them. The layout is `repr(C)` and versioned so loader and kernel built from
//! different commits can detect a mismatch instead of misreading each other.

/// `b"KEELBOOT"` as a little-endian integer.
pub const BOOT_INFO_MAGIC: u64 = u64::from_le_bytes(*b"KEELBOOT");
/// Bumped whenever the layout of [`BootInfo`] changes.
pub const BOOT_INFO_VERSION: u32 = 2;

/// How the kernel was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum BootSource {
    /// Xen PVH entry, used by `qemu-system-x86_64 -kernel`.
    Pvh = 1,
    /// The Keel UEFI loader (`BOOTX64.EFI`) from the node's disk image.
    Uefi = 2,
}

/// A physical address range and a byte length, as the block stores slices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct PhysSlice {
    pub addr: u64,
    pub len: u64,
}

/// The boot-info block. Field order and sizes are the ABI; see [`BOOT_INFO_VERSION`].
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct BootInfo {
    pub magic: u64,
    pub version: u32,
    pub source: u32,
    /// `len` counts [`MemoryRegion`] entries.
    pub memory_map: PhysSlice,
    /// UTF-8 kernel command line, `len` in bytes.
    pub cmdline: PhysSlice,
    /// Physical address of the ACPI RSDP, or 0.
    pub rsdp: u64,
    /// The node configuration file the loader read from the ESP, or empty.
    pub node_config: PhysSlice,
    /// SHA-256 of the kernel image as measured by the loader, or zero.
    pub kernel_sha256: [u8; 32],
    /// SHA-256 of the node configuration as measured by the loader, or zero.
    pub config_sha256: [u8; 32],
    /// Bit `n` set: the loader extended PCR `n` of the TPM with its measurements (version 2).
    pub measured_pcrs: u32,
    pub reserved: u32,
}

impl BootInfo {
    /// A block with no memory map, command line or measurements.
    pub const fn empty(source: BootSource) -> Self {
        Self {
            magic: BOOT_INFO_MAGIC,
            version: BOOT_INFO_VERSION,
            source: source as u32,
            memory_map: PhysSlice { addr: 0, len: 0 },
            cmdline: PhysSlice { addr: 0, len: 0 },
            rsdp: 0,
            node_config: PhysSlice { addr: 0, len: 0 },
            kernel_sha256: [0; 32],
            config_sha256: [0; 32],
            measured_pcrs: 0,
            reserved: 0,
        }
    }

    /// Checks magic and version, so a stale loader is reported instead of misread.
    pub fn validate(&self) -> Result<BootSource, BootInfoError> {
        if self.magic != BOOT_INFO_MAGIC {
            return Err(BootInfoError::BadMagic(self.magic));
        }
        if self.version != BOOT_INFO_VERSION {
            return Err(BootInfoError::UnsupportedVersion(self.version));
        }
        match self.source {
            1 => Ok(BootSource::Pvh),
            2 => Ok(BootSource::Uefi),
            other => Err(BootInfoError::UnknownSource(other)),
        }
    }
}

/// Why a boot-info block was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootInfoError {
    BadMagic(u64),
    UnsupportedVersion(u32),
    UnknownSource(u32),
}

impl core::fmt::Display for BootInfoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadMagic(m) => write!(f, "boot info has magic {m:#x}, not KEELBOOT"),
            Self::UnsupportedVersion(v) => {
                write!(f, "boot info version {v}, this kernel reads version {BOOT_INFO_VERSION}")
            }
            Self::UnknownSource(s) => write!(f, "boot info names unknown boot source {s}"),
        }
    }
}

/// What a physical memory range may be used for. The values are the E820 types, so a PVH
/// memory map (`hvm_memmap_table_entry`) has exactly the layout of [`MemoryRegion`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryKind {
    Usable,
    Reserved,
    AcpiReclaimable,
    AcpiNvs,
    Unusable,
}

impl MemoryKind {
    /// Reads an E820 type; unknown types are treated as reserved, the safe choice.
    pub const fn from_e820(kind: u32) -> Self {
        match kind {
            1 => Self::Usable,
            3 => Self::AcpiReclaimable,
            4 => Self::AcpiNvs,
            5 => Self::Unusable,
            _ => Self::Reserved,
        }
    }

    pub const fn to_e820(self) -> u32 {
        match self {
            Self::Usable => 1,
            Self::Reserved => 2,
            Self::AcpiReclaimable => 3,
            Self::AcpiNvs => 4,
            Self::Unusable => 5,
        }
    }
}

/// One entry of the physical memory map (E820 layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct MemoryRegion {
    pub start: u64,
    pub len: u64,
    pub kind: u32,
    pub reserved: u32,
}

impl MemoryRegion {
    pub const fn new(start: u64, len: u64, kind: MemoryKind) -> Self {
        Self { start, len, kind: kind.to_e820(), reserved: 0 }
    }

    pub const fn kind(&self) -> MemoryKind {
        MemoryKind::from_e820(self.kind)
    }

    /// One past the last byte, saturating so a hostile map cannot wrap around.
    pub const fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }
}

/// Totals printed in the boot banner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemorySummary {
    pub regions: usize,
    pub usable_bytes: u64,
    pub reserved_bytes: u64,
    /// One past the highest usable byte.
    pub usable_end: u64,
}

/// Sums a memory map by kind.
pub fn summarize(map: &[MemoryRegion]) -> MemorySummary {
    map.iter().fold(MemorySummary { regions: map.len(), ..Default::default() }, |mut s, r| {
        if r.kind() == MemoryKind::Usable {
            s.usable_bytes += r.len;
            s.usable_end = s.usable_end.max(r.end());
        } else {
            s.reserved_bytes += r.len;
        }
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The map QEMU 7.2 hands a 512 MiB `pc` guest through PVH.
    const QEMU_512M: [MemoryRegion; 4] = [
        MemoryRegion::new(0, 0x9fc00, MemoryKind::Usable),
        MemoryRegion::new(0x9fc00, 0x400, MemoryKind::Reserved),
        MemoryRegion::new(0xf0000, 0x10000, MemoryKind::Reserved),
        MemoryRegion::new(0x100000, 0x1ff00000, MemoryKind::Usable),
    ];

    #[test]
    fn summary_counts_usable_memory_and_its_end() {
        let s = summarize(&QEMU_512M);
        assert_eq!(s.regions, 4);
        assert_eq!(s.usable_bytes, 0x9fc00 + 0x1ff00000);
        assert_eq!(s.usable_end, 0x2000_0000);
        assert_eq!(s.reserved_bytes, 0x400 + 0x10000);
    }

    #[test]
    fn unknown_e820_types_are_reserved() {
        assert_eq!(MemoryKind::from_e820(12), MemoryKind::Reserved);
        assert_eq!(MemoryKind::from_e820(0), MemoryKind::Reserved);
        let r = MemoryRegion { start: 0, len: 1, kind: 99, reserved: 0 };
        assert_eq!(summarize(&[r]).usable_bytes, 0);
    }

    #[test]
    fn wrapping_regions_saturate() {
        assert_eq!(MemoryRegion::new(u64::MAX - 1, 10, MemoryKind::Usable).end(), u64::MAX);
    }

    #[test]
    fn block_validation_names_the_problem() {
        let mut info = BootInfo::empty(BootSource::Uefi);
        assert_eq!(info.validate(), Ok(BootSource::Uefi));
        info.version = 9;
        assert_eq!(info.validate(), Err(BootInfoError::UnsupportedVersion(9)));
        info.magic = 1;
        assert_eq!(info.validate(), Err(BootInfoError::BadMagic(1)));
    }
}
